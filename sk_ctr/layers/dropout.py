"""Inverted dropout whose CPU keep mask is drawn as 16-bit integers."""

import torch
from torch import nn


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
