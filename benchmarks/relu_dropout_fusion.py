"""Fusing the MLP's ReLU and dropout into one autograd function, against the two modules.

What is measured
----------------
DeepFM's MLP (journal: 400-400-400, ReLU, dropout 0.5) on a batch of ``--batch-size`` rows of
390 inputs (39 fields x 10), one thread: forward and backward of the three hidden layers and
the output unit, in blocks of ``--steps`` steps, the two variants alternating for ``--rounds``
rounds after a warm-up; CPU time of the calling thread, medians.

* **chain** (what :class:`~sk_ctr.layers.MLP` does): ``Linear -> ReLU -> Dropout``; autograd
  keeps the ReLU's output and the dropout's keep mask, and the backward runs two elementwise
  passes per layer.
* **fused**: one function zeroes the keep mask where the input is not positive, keeps only that
  mask and multiplies by it both ways (one pass backward instead of two, one tensor fewer).

Both draw the same mask from the same generator (:class:`~sk_ctr.layers.dropout.Dropout`'s
16-bit draw), so outputs and gradients are compared for equality first.

How to run
----------
::

    PYTHONPATH=. OMP_NUM_THREADS=1 GOMP_SPINCOUNT=1000 python benchmarks/relu_dropout_fusion.py
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from sk_ctr.layers.dropout import Dropout


class _ReLUDropoutFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inputs, keep):
        keep = keep.masked_fill_(inputs <= 0, 0)  # ReLU's zeros folded into the keep mask
        ctx.save_for_backward(keep)
        return inputs * keep

    @staticmethod
    def backward(ctx, grad):
        (keep,) = ctx.saved_tensors
        return grad * keep, None


class ReLUDropout(Dropout):
    """ReLU then inverted dropout as one autograd function (training only)."""

    def forward(self, inputs):
        return _ReLUDropoutFunction.apply(inputs, self.keep_mask(inputs))


def mlp(fused, input_dim=390, width=400, depth=3, p=0.5):
    layers, previous = [], input_dim
    for _ in range(depth):
        layers.append(nn.Linear(previous, width))
        layers += [ReLUDropout(p)] if fused else [nn.ReLU(), Dropout(p)]
        previous = width
    return nn.Sequential(*layers, nn.Linear(previous, 1))


def train_step(network, batch):
    network.zero_grad(set_to_none=True)
    network(batch).sum().backward()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    networks = {"chain": mlp(fused=False), "fused": mlp(fused=True)}
    with torch.no_grad():
        for target, source in zip(*(n.parameters() for n in networks.values()), strict=True):
            source.copy_(target)
    batch = torch.randn(args.batch_size, 390)
    results = {}
    for name, network in networks.items():  # the same draws: equal results
        torch.manual_seed(1)
        output = network(batch)
        output.sum().backward()
        results[name] = [output, *(p.grad for p in network.parameters())]
    gap = max((a - b).abs().max().item() for a, b in zip(*results.values(), strict=True))
    print(f"largest difference of outputs and gradients, chain vs fused: {gap:.3g}")
    milliseconds = {name: [] for name in networks}
    for round_ in range(args.rounds + 1):
        for name, network in networks.items():
            start = time.thread_time()
            for _ in range(args.steps):
                train_step(network, batch)
            if round_:  # round 0 warms up
                milliseconds[name].append((time.thread_time() - start) / args.steps * 1e3)
    for name, times in milliseconds.items():
        print(f"{name}: {statistics.median(times):.2f} ms CPU per step (median of {args.rounds})")
    ratios = [c / f for c, f in zip(milliseconds["chain"], milliseconds["fused"], strict=True)]
    print(f"fused speed / chain speed, median of the rounds: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
