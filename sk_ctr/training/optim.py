"""Optimizers that torch does not ship."""

import torch


class GRDA(torch.optim.Optimizer):
    """Generalized regularized dual averaging (Chao & Cheng 2019), the optimizer AutoFIS uses for
    its architecture parameters alpha (AutoFIS eq. 13).

    Eq. 13 has a closed form: with the accumulator a_t = alpha_0 - gamma sum_(i<=t) grad_i,

        alpha_t = sign(a_t) max(|a_t| - g(t, gamma), 0),  g(t, gamma) = c gamma^(1/2) (t gamma)^mu

    i.e. the L1 soft-threshold of the accumulated gradient. Coordinates whose accumulated
    gradient stays below the threshold are *exactly* zero, and since the threshold grows like
    t^mu with mu > 1/2 while gradient noise only grows like t^(1/2), only coordinates with a
    consistent gradient survive: AutoFIS's closed gates. With a step size that changes between
    steps, g accumulates c gamma_t^(1/2 + mu) (t^mu - (t-1)^mu) per step, which equals the
    formula above for a constant gamma.

    The state of each parameter also keeps ``squared_gradient_sum``, sum_(i<=t) grad_i^2: a
    coordinate whose gradients are pure noise has an accumulator that random-walks around
    alpha_0 with a spread of about gamma (sum grad_i^2)^(1/2) (:meth:`random_walk_scale`), which
    is what a threshold must exceed to tell a consistent gradient from noise.

    Parameters
    ----------
    params : iterable of torch.Tensor or dict
    lr : float, default=0.01
        Step size gamma.
    c : float, default=0.005
        Strength of the sparsity threshold (the AutoFIS paper's Table 9: 0.0005 for AutoDeepFM,
        0.005 for AutoFM on Avazu).
    mu : float, default=0.7
        Growth exponent of the threshold, in (0.5, 1) (Table 9: 0.8, or 0.6).

    Examples
    --------
    >>> import torch
    >>> alpha = torch.nn.Parameter(torch.tensor([0.6, 0.6]))
    >>> optimizer = GRDA([alpha], lr=1.0, c=0.1, mu=0.8)
    >>> alpha.grad = torch.tensor([-0.5, 0.55])
    >>> optimizer.step()
    >>> alpha.data  # accumulators 1.1 and 0.05, threshold 0.1
    tensor([1., 0.])
    """

    def __init__(self, params, lr=0.01, c=0.005, mu=0.7):
        if not lr > 0:
            raise ValueError(f"GRDA needs lr > 0; got {lr!r}.")
        if not c >= 0:
            raise ValueError(f"GRDA needs c >= 0; got {c!r}.")
        if not 0 < mu < 1:
            raise ValueError(f"GRDA needs 0 < mu < 1; got {mu!r}.")
        super().__init__(params, {"lr": lr, "c": c, "mu": mu})

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient.

        Parameters
        ----------
        closure : callable, default=None
            Re-evaluates the model and returns the loss.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, c, mu = group["lr"], group["c"], group["mu"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                if param.grad.is_sparse:
                    raise RuntimeError("GRDA does not support sparse gradients.")
                state = self.state[param]
                if not state:  # the accumulator starts at alpha_0 (the -alpha_0 term of eq. 13)
                    state["step"] = 0
                    state["accumulator"] = param.detach().clone()
                    state["threshold"] = 0.0
                    state["squared_gradient_sum"] = torch.zeros_like(param)
                state["step"] += 1
                t = state["step"]
                state["threshold"] += c * lr ** (0.5 + mu) * (t**mu - (t - 1) ** mu)
                accumulator = state["accumulator"]
                accumulator.add_(param.grad, alpha=-lr)
                state["squared_gradient_sum"].addcmul_(param.grad, param.grad)
                shrunk = (accumulator.abs() - state["threshold"]).clamp_(min=0)
                param.copy_(accumulator.sign() * shrunk)
        return loss

    def random_walk_scale(self, param):
        """gamma (sum_t grad_t^2)^(1/2) per coordinate of ``param``: the spread its accumulator
        would have after the steps taken so far if its gradients were zero-mean noise.

        Parameters
        ----------
        param : torch.Tensor
            A parameter of this optimizer that has taken at least one step.

        Returns
        -------
        torch.Tensor of the shape of ``param``
        """
        state = self.state.get(param)
        if not state:
            raise ValueError("GRDA.random_walk_scale needs a parameter that has taken a step.")
        lr = next(
            group["lr"] for group in self.param_groups if any(p is param for p in group["params"])
        )
        return lr * state["squared_gradient_sum"].sqrt()
