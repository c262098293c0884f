"""Multi-layer perceptron, the data-dependent activation Dice, and activations by name."""

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
        if self.training and flat.shape[0] > 0:
            mean = flat.mean(dim=0)
            var = flat.var(dim=0, unbiased=False)
            with torch.no_grad():
                self.running_mean.mul_(self.momentum).add_((1 - self.momentum) * mean)
                self.running_var.mul_(self.momentum).add_((1 - self.momentum) * var)
        else:
            mean, var = self.running_mean, self.running_var
        p = torch.sigmoid((inputs - mean) / torch.sqrt(var + self.eps))
        return p * inputs + (1 - p) * self.alpha * inputs

    def extra_repr(self):
        return f"{self.alpha.numel()}, momentum={self.momentum}, eps={self.eps}"


#: Activations by name. Dice needs the layer width (per-unit statistics and alpha).
ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "prelu": nn.PReLU,
    "dice": Dice,
}
_NEEDS_WIDTH = {"dice"}


class Dropout(nn.Module):
    """Inverted dropout: each element is kept with probability ``1 - p`` and scaled by the
    inverse of that probability, only in training (the distribution of :class:`torch.nn.Dropout`).

    On CPU the keep mask is drawn as 16-bit integers, four per 64-bit word of torch's generator
    (``random_`` over the full int64 range, so ``torch.manual_seed`` reproduces it), and kept as
    one float tensor that the forward and backward both multiply by. ``nn.Dropout``'s
    ``bernoulli_`` (one generator call per element) took 20 % of a DeepFM training step on 2
    cores, and a ``torch.rand`` mask multiplied as booleans still a quarter of it (three
    2000 x 400 layers, ``benchmarks/throughput.py``); drawing this mask takes 0.7 ms against
    2.4-3.9 ms for ``torch.rand``. The drop probability is therefore a multiple of 2^-16
    (``p`` rounded, at most 7.6e-6 away), and the scale is the inverse of the keep probability
    actually used, so the expectation is exactly preserved. Other devices use
    :func:`torch.nn.functional.dropout`, whose kernel is fused there.

    Parameters
    ----------
    p : float
        Probability of dropping an element, in [0, 1).
    """

    #: Levels of the 16-bit draw; the drop probability is a multiple of 1 / LEVELS.
    LEVELS = 1 << 16

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout must be in [0, 1); got {p!r}.")
        self.p = float(p)

    def forward(self, inputs):
        if not self.training or self.p == 0:
            return inputs
        if inputs.device.type != "cpu":
            return nn.functional.dropout(inputs, self.p, training=True)
        return inputs * self.keep_mask(inputs)

    def keep_mask(self, inputs):
        """``scale`` where an element is kept and 0 where it is dropped, shaped like ``inputs``."""
        dropped_levels = min(round(self.p * self.LEVELS), self.LEVELS - 1)
        n = inputs.numel()
        # The full int64 range (to=None) makes every bit of a word uniform, so each of its four
        # int16 views is uniform over [-2^15, 2^15).
        words = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-(1 << 63), None)
        draws = words.view(torch.int16)[:n].view(inputs.shape)
        keep = draws >= dropped_levels - self.LEVELS // 2
        scale = self.LEVELS / (self.LEVELS - dropped_levels)
        return keep.to(inputs.dtype).mul_(scale)

    def extra_repr(self):
        return f"p={self.p}"


def make_activation(name, num_features=None):
    """Return a fresh activation module for ``name`` (one of :data:`ACTIVATIONS`).

    Parameters
    ----------
    name : str
    num_features : int, default=None
        Width of the layer the activation follows. Required by ``"dice"``; the others are
        element-wise with no per-unit state and ignore it (``"prelu"`` keeps one shared slope,
        as it always had).
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
    return activation()


class MLP(nn.Module):
    """Fully connected layers a^(l+1) = sigma(W^(l) a^(l) + b^(l)) (DeepFM journal eq. 7), then a
    linear output unit (eq. 8).

    Each hidden layer is Linear -> [BatchNorm1d] -> activation -> Dropout. Dropout is a module,
    so ``eval()`` switches it off.

    Parameters
    ----------
    input_dim : int
    hidden_units : sequence of int
        Width of each hidden layer; empty gives a linear model of the input.
    activation : str
        One of ``relu``, ``tanh``, ``sigmoid``, ``prelu``, ``dice`` (:class:`Dice`, DIN eq. 5).
    dropout : float
        Probability of *dropping* a unit (the journal's figures give the keep probability,
        1 - dropout).
    batch_norm : bool
    output_bias : bool
        False when the model's bias lives elsewhere (DeepFM: in the linear term), so the model
        has exactly one global bias.

    Shapes
    ------
    inputs : (batch_size, input_dim); returns (batch_size,)
    """

    def __init__(self, input_dim, hidden_units, activation="relu", dropout=0.0,
                 batch_norm=False, output_bias=True):
        super().__init__()
        make_activation(activation, 1)  # reject a misspelt name even without hidden layers
        layers, width = [], input_dim
        for units in hidden_units:
            layers.append(nn.Linear(width, units))
            if batch_norm:
                layers.append(nn.BatchNorm1d(units))
            layers += [make_activation(activation, units), Dropout(dropout)]
            width = units
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Linear(width, 1, bias=output_bias)

    def forward(self, inputs):
        return self.output(self.hidden(inputs)).squeeze(-1)
