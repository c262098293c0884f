"""Data-parallel training on CPU: one process against DDP over gloo, same global batch.

What is measured
----------------
The synthetic Criteo-shaped rows of ``throughput.py`` (39 fields, embed 10, MLP 400-400-400,
dropout 0.5, Adam lr 1e-3, global batch 2000) train ``DeepFMClassifier`` for one epoch in
three ways:

* **1 process, 1 thread**: the baseline a core gives;
* **1 process, N threads**: torch's intra-op parallelism over the cores (``n_threads=N``);
* **DDP, N processes**: ``devices=N, strategy="ddp"``, ``batch_size=2000 // N`` per rank,
  one thread each (what ``fit`` gives a worker on N cores), gradients all-reduced over gloo,
  ``lr_scaling=None`` so that the optimisation is the one-process one.

Reported: samples/s of the training epoch (the history's ``dur``, rank 0's for DDP), the wall
time of the whole ``fit`` (for DDP it includes spawning the workers, sending them the data in
shared memory and collecting rank 0's result) and the epoch's train loss, which must agree.
GPUs are the point of data parallelism; on CPU this shows what the gloo path costs against
threads, which share one copy of the weights and need no all-reduce.

How to run
----------
::

    GOMP_SPINCOUNT=1000 python benchmarks/ddp_scaling.py               # 200k rows, 2 rounds
    python benchmarks/ddp_scaling.py --rows 20000 --rounds 1            # smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch
from throughput import LR, NETWORK, make_encoded, print_table

from sk_ctr import DeepFMClassifier

GLOBAL_BATCH = 2000


def fit_once(data, y, setting, world_size, seed):
    """(epoch seconds, fit wall seconds, train loss) of one fit in ``setting``."""
    params = {**NETWORK, "optimizer": "adam", "lr": LR, "max_epochs": 1, "random_state": seed}
    if setting == "ddp":
        est = DeepFMClassifier(
            **params,
            batch_size=GLOBAL_BATCH // world_size,
            devices=world_size,
            strategy="ddp",
            lr_scaling=None,
        )
    else:
        est = DeepFMClassifier(**params, batch_size=GLOBAL_BATCH, n_threads=setting)
    start = time.perf_counter()
    est.fit(data, y)
    wall = time.perf_counter() - start
    return est.history_[-1, "dur"], wall, est.history_[-1, "train_loss"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    print(
        f"torch {torch.__version__}, {cores} CPUs, {args.rows:,} rows, global batch "
        f"{GLOBAL_BATCH}; GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT')}; load average "
        f"{os.getloadavg()[0]:.2f}"
    )
    data, y = make_encoded(args.rows, args.seed)
    settings = [
        ("1 process, 1 thread", 1, 1),
        (f"1 process, {cores} threads", cores, 1),
        (f"DDP, {cores} processes x 1 thread", "ddp", cores),
    ]
    warm = np.arange(GLOBAL_BATCH * 4)
    fit_once(data[warm], y[warm], cores, 1, args.seed)  # warm-up
    results = {name: [] for name, _, _ in settings}
    for round_ in range(args.rounds):
        order = settings if round_ % 2 == 0 else settings[::-1]
        for name, setting, world_size in order:
            results[name].append(fit_once(data, y, setting, world_size, args.seed))
    base = statistics.median(r[0] for r in results[settings[0][0]])
    rows = []
    for name, _, _ in settings:
        epoch = statistics.median(r[0] for r in results[name])
        wall = statistics.median(r[1] for r in results[name])
        rows.append(
            (
                name,
                f"{args.rows / epoch:,.0f}",
                f"{base / epoch:.2f}",
                f"{args.rows / wall:,.0f}",
                f"{results[name][0][2]:.4f}",
            )
        )
    print_table(
        f"Training one epoch, medians of {args.rounds} rounds, samples/s",
        ("", "epoch", "speed-up", "fit wall", "train loss"),
        rows,
    )
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
