"""Activations by name, and Dice, the data-dependent activation of DIN."""

import torch
from torch import nn


class Dice(nn.Module):
    """Dice, the data-dependent activation of DIN (eq. 5-8):
    f(s) = p(s) s + (1 - p(s)) alpha s with p(s) = sigmoid((s - E[s]) / sqrt(Var[s] + eps)).

    p(s) is a soft rectifier point: ``s`` is normalised without affine parameters (batch
    normalisation with neither scale nor shift), so the rectifier follows the data instead of
    sitting at 0 as in PReLU (eq. 4). ``alpha`` is learned per unit and starts at 0, as in the
    authors' released code.

    In training E[s] and Var[s] are the mean and the (biased) variance of each unit over the
    mini-batch (every dimension but the last), and the running estimates used in evaluation
    mode are updated as

        running_mean <- momentum * running_mean + (1 - momentum) * E[s]
        running_var  <- momentum * running_var  + (1 - momentum) * Var[s]

    Eq. 7-8 as printed, E'_{t+1} = E'_t + alpha E_{t+1}, accumulate without ever forgetting (the
    estimate grows with the number of steps); with the paper's "alpha like 0.99" the only
    reading that estimates a mean is the exponential moving average above, which is also what
    the authors' code does (TensorFlow's batch normalisation with momentum 0.99). A batch with
    no rows leaves the statistics unchanged; a batch of one row has Var[s] = 0 and p(s) = 1/2.

    Parameters
    ----------
    num_features : int
        Number of units (size of the last dimension).
    momentum : float, default=0.99
        Weight of the old running estimate (the paper's alpha in eq. 7-8).
    eps : float, default=1e-8
        The epsilon of eq. 6.

    Shapes
    ------
    inputs : (..., num_features); returns the same shape
    """

    def __init__(self, num_features, momentum=0.99, eps=1e-8):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.momentum, self.eps = momentum, eps

    def forward(self, inputs):
        flat = inputs.reshape(-1, inputs.shape[-1])
        batch_statistics = self.training and flat.shape[0] > 0
        if not batch_statistics:
            # Evaluation: the running statistics, in plain operators (which TorchScript and
            # ONNX export can save; the hand-written backward only pays off in training).
            z = (flat - self.running_mean) * torch.rsqrt(self.running_var + self.eps)
            return (flat * torch.addcmul(self.alpha, torch.sigmoid(z), 1 - self.alpha)).view(
                inputs.shape
            )
        outputs, mean, var = _DiceFunction.apply(
            flat, self.alpha, self.running_mean, self.running_var, self.eps, batch_statistics
        )
        with torch.no_grad():
            self.running_mean.mul_(self.momentum).add_((1 - self.momentum) * mean)
            self.running_var.mul_(self.momentum).add_((1 - self.momentum) * var)
        return outputs.view(inputs.shape)

    def extra_repr(self):
        return f"{self.alpha.numel()}, momentum={self.momentum}, eps={self.eps}"


class _DiceFunction(torch.autograd.Function):
    """Dice on (n, units) with its gradient written out.

    Forward: z = (s - E[s]) / sqrt(Var[s] + eps), p = sigmoid(z) and
    f = p s + (1 - p) alpha s = s (alpha + (1 - alpha) p). Backward, with g = dL/df and
    dL/dz = g s (1 - alpha) p (1 - p): dL/ds = g (alpha + (1 - alpha) p) + dL/dz / sqrt(Var + eps)
    with the running statistics; with batch statistics the second term becomes batch
    normalisation's, (dL/dz - mean(dL/dz) - z mean(dL/dz z)) / sqrt(Var + eps) (means over the
    rows). dL/dalpha = sum of g s (1 - p). Autograd's graph of the same formula made ~50
    element-wise passes per training step of DIN's activation unit, a third of its CPU time.

    Returns the outputs and the mean and (biased) variance used, not differentiable.
    """

    @staticmethod
    def forward(ctx, flat, alpha, running_mean, running_var, eps, batch_statistics):
        if batch_statistics:
            mean = flat.mean(dim=0)
            centered = flat - mean
            # the mean of squares of the centred values, not Tensor.var: its reduction over
            # the leading dimension is ~40x slower than a mean's on CPU
            var = centered.square().mean(dim=0)
        else:
            mean, var = running_mean, running_var
            centered = flat - mean
        rstd = torch.rsqrt(var + eps)
        z = centered.mul_(rstd)
        p = torch.sigmoid(z)
        ctx.save_for_backward(flat, alpha, z, p, rstd)
        ctx.batch_statistics = batch_statistics
        ctx.mark_non_differentiable(mean, var)
        return flat * torch.addcmul(alpha, p, 1 - alpha), mean, var

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad, _grad_mean, _grad_var):
        flat, alpha, z, p, rstd = ctx.saved_tensors
        grad_flat = grad_alpha = None
        # g s (1 - p): dL/dalpha summed over the rows, and dL/dz once multiplied by (1 - alpha) p
        signal = (grad * flat).mul_(1 - p)
        if ctx.needs_input_grad[1]:
            grad_alpha = signal.sum(dim=0)
        if ctx.needs_input_grad[0]:
            grad_z = signal.mul_(p).mul_(1 - alpha)
            if ctx.batch_statistics:
                centred = grad_z - grad_z.mean(dim=0)
                grad_z = centred.addcmul_(z, (grad_z * z).mean(dim=0), value=-1)
            grad_flat = (grad * torch.addcmul(alpha, p, 1 - alpha)).addcmul_(grad_z, rstd)
        return grad_flat, grad_alpha, None, None, None, None


#: Activations by name. Dice needs the layer width (per-unit statistics and alpha).
ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "prelu": nn.PReLU,
    "dice": Dice,
    "leaky_relu": nn.LeakyReLU,  # BST's MLP (Chen et al. 2019, section 2.4)
}
_NEEDS_WIDTH = {"dice"}
#: Activations whose torch module can overwrite its input (``inplace=True``).
_IN_PLACE = {"relu", "leaky_relu"}


def make_activation(name, num_features=None, in_place=False):
    """Return a fresh activation module for ``name`` (one of :data:`ACTIVATIONS`).

    Parameters
    ----------
    name : str
    num_features : int, default=None
        Width of the layer the activation follows. Required by ``"dice"``; the others are
        element-wise with no per-unit state and ignore it (``"prelu"`` keeps one shared slope,
        as it always had).
    in_place : bool, default=False
        Let ``"relu"`` and ``"leaky_relu"`` overwrite their input rather than write a new
        tensor (the others ignore it). Only for an input that nothing else reads afterwards and
        whose own backward does not need it, such as a linear or batch-normalisation layer's
        output. Why: the 400-400-400 MLP's forward on 2048 rows took 9 % less time with the
        three ReLUs in place (one 3.2 MB write and allocation less per layer), a 1-thread
        ``predict_proba`` of 120k raw rows 4.7 % (2 threads: within the noise), with the same
        result bit for bit (docs/benchmarks.md, Prediction from raw frames).
    """
    try:
        activation = ACTIVATIONS[name]
    except KeyError:
        choices = sorted(ACTIVATIONS)
        raise ValueError(f"Unknown activation {name!r}; choose from {choices}") from None
    if name in _NEEDS_WIDTH:
        if num_features is None:
            raise ValueError(f"activation={name!r} needs the layer width (num_features).")
        return activation(num_features)
    if in_place and name in _IN_PLACE:
        return activation(inplace=True)
    return activation()
