"""``torch.compile`` (inductor, CPU) on DeepFM's training step, against eager.

What is measured
----------------
The network, data and optimiser of ``benchmarks/throughput.py`` (``DeepFMNet`` with embeddings
of 10, MLP 400-400-400, dropout 0.5, Adam lr 1e-3 fused, batches of ``--batch-size`` rows of
the Criteo-shaped encoded data), one training step being forward, BCE loss, backward and
``optimizer.step()``:

* **compile time**: wall seconds of the first compiled step in a fresh process (tracing,
  inductor's code generation and C++ compilation, cold cache directory), and of the first
  step of a second compiled network (with dropout) in the same process minus an eager step;
* **steady state**: samples per CPU second of blocks of ``--steps`` steps, eager and compiled
  blocks alternating for ``--rounds`` rounds after a warm-up; medians, and the median of the
  per-round ratios;
* **identical results?**: with dropout 0 (inductor draws its own random numbers otherwise),
  both start from the same weights and train ``--steps`` steps on the same batches; the largest
  difference of the losses and of the final parameters is printed.

How to run
----------
::

    PYTHONPATH=. python benchmarks/compile_training.py
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from throughput import LR, NETWORK, make_encoded  # noqa: E402

from sk_ctr.models import DeepFMNet  # noqa: E402


def batches(data, y, batch_size, n_batches, seed):
    generator = torch.Generator().manual_seed(seed)
    ids, values = torch.from_numpy(data["ids"]), torch.from_numpy(data["values"])
    target = torch.from_numpy(y.astype("float32"))
    out = []
    for _ in range(n_batches):
        rows = torch.randint(0, len(target), (batch_size,), generator=generator)
        out.append((ids[rows], values[rows], target[rows]))
    return out


def trainer(module):
    optimizer = torch.optim.Adam(module.parameters(), lr=LR, fused=True)
    criterion = torch.nn.BCEWithLogitsLoss()

    def step(ids, values, target, network):
        loss = criterion(network(ids, values), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def block(step, network, data):
    start = time.process_time()
    for ids, values, target in data:
        step(ids, values, target, network)
    return time.process_time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, load {os.getloadavg()}")
    data, y = make_encoded(args.rows, seed=0)
    steps = batches(data, y, args.batch_size, args.steps, seed=0)

    # identical results? dropout 0, same weights, same batches
    torch.manual_seed(0)
    plain = DeepFMNet(data.schema, **{**NETWORK, "dropout": 0.0})
    twin = copy.deepcopy(plain)
    eager_step, compiled_step = trainer(plain), trainer(twin)
    with tempfile.TemporaryDirectory() as cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache  # a cold cache: the compile time is real
        compiled_twin = torch.compile(twin)
        eager_losses = [eager_step(*batch, plain) for batch in steps]
        start = time.perf_counter()
        compiled_losses = [compiled_step(*steps[0], compiled_twin)]
        cold = time.perf_counter() - start
        compiled_losses += [compiled_step(*batch, compiled_twin) for batch in steps[1:]]
        loss_diff = max(abs(a - b) for a, b in zip(eager_losses, compiled_losses, strict=True))
        weight_diff = max(
            (a - b).abs().max().item()
            for a, b in zip(plain.parameters(), twin.parameters(), strict=True)
            if a.numel()
        )
        print(f"first compiled step in a fresh process (dropout 0): {cold:.1f} s")
        print(
            f"dropout 0, {args.steps} steps: largest loss difference {loss_diff:.2e}, "
            f"largest parameter difference {weight_diff:.2e}"
        )

        # compile time and steady state with the benchmark's dropout
        torch.manual_seed(0)
        eager = DeepFMNet(data.schema, **NETWORK)
        module = copy.deepcopy(eager)
        eager_step, compiled_step = trainer(eager), trainer(module)
        compiled = torch.compile(module)
        block(eager_step, eager, steps[:1])
        start = time.perf_counter()
        compiled_step(*steps[0], compiled)
        first = time.perf_counter() - start
        start = time.perf_counter()
        eager_step(*steps[0], eager)
        compile_seconds = first - (time.perf_counter() - start)
        print(f"compile time (first compiled step minus an eager one): {compile_seconds:.1f} s")
        block(compiled_step, compiled, steps)  # warm-up
        block(eager_step, eager, steps)
        times = {"eager": [], "compiled": []}
        for round_ in range(args.rounds):
            order = ("eager", "compiled") if round_ % 2 == 0 else ("compiled", "eager")
            for name in order:
                if name == "eager":
                    times[name].append(block(eager_step, eager, steps))
                else:
                    times[name].append(block(compiled_step, compiled, steps))
        samples = args.steps * args.batch_size
        rates = {name: samples / statistics.median(v) for name, v in times.items()}
        ratios = [e / c for e, c in zip(times["eager"], times["compiled"], strict=True)]
        print(
            f"steady state, batch {args.batch_size}, {args.rounds} rounds of {args.steps} steps: "
            f"eager {rates['eager']:,.0f}, compiled {rates['compiled']:,.0f} samples/CPU-s; "
            f"compiled / eager {statistics.median(ratios):.2f}x "
            f"({min(ratios):.2f}-{max(ratios):.2f})"
        )
    print(f"load at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
