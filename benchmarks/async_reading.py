"""Asynchronous against synchronous data reading, as in the DeepFM journal's Table I.

What is measured
----------------
The journal (section III-B-2) reads mini-batches in a thread while the model updates and
reports the speed-up over reading them in turn: 1.12x and 1.19x for DeepFM-D (Table I), a
speed-up being the synchronous time over the asynchronous one (its footnote 5). Here the same
``DeepFMClassifier`` (embed 10, MLP 400-400-400, dropout 0.5, Adam, batch 2000) trains one
epoch on the same synthetic Criteo-shaped tensors as ``benchmarks/throughput.py``, with

* **sync**: ``iterator_train=SliceLoader`` (gather a batch's rows, then train on them), and
* **async**: ``iterator_train=PrefetchLoader`` (a thread gathers the next two batches while the
  current one trains),

at each ``--threads`` setting (``n_threads``), the rounds interleaved and their order flipping
every round. Both fits use the same ``random_state``: their losses must be identical (checked).
Prediction is compared the same way through ``iterator_valid``.

What reading can save is bounded by its share of the epoch: the script also times
``SliceLoader`` alone producing one epoch of batches, and prints that share and the speed-up
bound it implies (Amdahl: 1 / (1 - share)). The data are in memory, so reading is one gather per
array per batch; the journal's reading also parsed records from disk.

How to run
----------
::

    python benchmarks/async_reading.py                    # 200k rows, threads 1 and 2
    python benchmarks/async_reading.py --rows 20000 --rounds 1    # smoke run

On 2 cores, the producer thread competes with torch's threads for them: with 2 torch threads
there is no idle core left for it. Run it alone on the machine; the load average is printed.

On a machine shared with other processes, set ``GOMP_SPINCOUNT=1000`` (or
``OMP_WAIT_POLICY=PASSIVE``) in the environment. Otherwise the comparison at 2 threads measures
libgomp, not reading: its idle OpenMP threads spin for a long time while the process has no more
threads than CPUs, and stop spinning early once it has more, which the producer thread and its
own OpenMP team bring about. Measured here under a load average of 3-4 (30k rows, 2 threads):
sync 780-1660 ms per batch and 6.7-10.6 CPU s per fit against async 200-290 ms and 2.2-3.4 CPU
s; with ``GOMP_SPINCOUNT=1000`` both 250 ms and 1.9 CPU s.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

import numpy as np
import torch
from skorch.dataset import Dataset
from throughput import LR, NETWORK, BatchClock, make_encoded, median_gap, print_table, rate

from sk_ctr import DeepFMClassifier
from sk_ctr.training.loader import SliceLoader
from sk_ctr.training.prefetch import PrefetchLoader

LOADERS = {"sync": SliceLoader, "async": PrefetchLoader}


def make_estimator(loader, batch_size, n_threads, seed):
    return DeepFMClassifier(
        **NETWORK,
        lr=LR,
        batch_size=batch_size,
        max_epochs=1,
        n_threads=n_threads,
        random_state=seed,
        iterator_train=loader,
        iterator_valid=loader,
        callbacks=[("batch_clock", BatchClock())],
    )


def cpu_seconds():
    """CPU time of every thread of this process so far (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def train(loader, data, y, batch_size, n_threads, seed):
    """One epoch: ((epoch seconds, median seconds per batch, CPU seconds of the fit), train
    loss, fitted estimator)."""
    start = cpu_seconds()
    est = make_estimator(loader, batch_size, n_threads, seed).fit(data, y)
    cpu = cpu_seconds() - start
    batch = median_gap(dict(est.callbacks_)["batch_clock"].stamps)
    return (est.history_[-1, "dur"], batch, cpu), est.history_[-1, "train_loss"], est


def predict_seconds(est, loader, data):
    est.iterator_valid = loader  # skorch 1.4 set_params refuses it on an initialized net
    start = time.perf_counter()
    proba = est.predict_proba(data)
    return time.perf_counter() - start, proba


def reading_seconds(data, y, batch_size, n_threads, repeats=3):
    """Best time of ``SliceLoader`` producing one shuffled epoch of batches, nothing else."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        loader = SliceLoader(Dataset(data, y), batch_size=batch_size, shuffle=True)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _batch in loader:
                pass
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    return min(times)


def measure(data, y, args, n_threads):
    """Every measurement at one thread count, as a dict of medians."""
    names = list(LOADERS)
    timings = {name: [] for name in names}
    losses = {name: [] for name in names}
    fitted = {}
    for round_ in range(args.rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:
            timing, loss, fitted[name] = train(
                LOADERS[name], data, y, args.batch_size, n_threads, args.seed
            )
            timings[name].append(timing)
            losses[name].append(loss)
    # Prediction: the same fitted network through both loaders, in alternating order.
    est = fitted["sync"]
    predictions = {name: [] for name in names}
    for round_ in range(args.predict_rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:
            seconds, proba = predict_seconds(est, LOADERS[name], data)
            predictions[name].append(seconds)
            fitted[f"{name} proba"] = proba
    reading = reading_seconds(data, y, args.batch_size, n_threads)
    # Each round's two fits ran back to back, under much the same outside load: the median of
    # the per-round ratios resists a load that comes and goes better than a ratio of medians.
    paired = statistics.median(
        s[1] / a[1] for s, a in zip(timings["sync"], timings["async"], strict=True)
    )
    return {
        "paired": paired,
        "cpu": {n: statistics.median(t[2] for t in timings[n]) for n in names},
        "epoch": {n: statistics.median(t[0] for t in timings[n]) for n in names},
        "batch": {n: statistics.median(t[1] for t in timings[n]) for n in names},
        "predict": {n: statistics.median(predictions[n]) for n in names},
        "reading": reading,
        "same_losses": losses["sync"] == losses["async"],
        "same_proba": np.array_equal(fitted["sync proba"], fitted["async proba"]),
        "losses": losses,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="training rounds per loader")
    parser.add_argument("--predict-rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    n_rows = args.rows

    spin = {k: os.environ[k] for k in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY") if k in os.environ}
    print(
        f"torch {torch.__version__}, {n_rows:,} rows, batch {args.batch_size}, "
        f"{args.rounds} training rounds per loader; OpenMP spin settings {spin or 'default'}; "
        f"load average at start {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    data, y = make_encoded(n_rows, args.seed)
    # Untimed warm-up of both paths (kernel selection, allocator growth, thread start-up).
    warm = min(20_000, n_rows)
    for loader in LOADERS.values():
        make_estimator(loader, args.batch_size, args.threads[0], args.seed).fit(
            data[:warm], y[:warm]
        )

    rows = []
    for n_threads in args.threads:
        start_load = os.getloadavg()[0]
        result = measure(data, y, args, n_threads)
        epoch, batch, predict = result["epoch"], result["batch"], result["predict"]
        share = result["reading"] / epoch["sync"]
        rows.append(
            (
                n_threads,
                f"{rate(n_rows, epoch['sync']):,.0f}",
                f"{rate(n_rows, epoch['async']):,.0f}",
                f"{epoch['sync'] / epoch['async']:.3f}",
                f"{rate(args.batch_size, batch['sync']):,.0f}",
                f"{rate(args.batch_size, batch['async']):,.0f}",
                f"{batch['sync'] / batch['async']:.3f}",
                f"{result['paired']:.3f}",
                f"{result['cpu']['sync']:.1f} / {result['cpu']['async']:.1f}",
                f"{rate(n_rows, predict['sync']):,.0f}",
                f"{rate(n_rows, predict['async']):,.0f}",
                f"{predict['sync'] / predict['async']:.3f}",
                f"{share:.1%}",
                f"{1 / (1 - share):.3f}",
                f"{start_load:.1f}-{os.getloadavg()[0]:.1f}",
            )
        )
        if not (result["same_losses"] and result["same_proba"]):
            print(
                f"WARNING ({n_threads} threads): sync and async fits differ: "
                f"losses {result['losses']}, identical probabilities: {result['same_proba']}"
            )
    print_table(
        "Samples/s, medians; speed-up = sync time / async time (DeepFM journal, Table I: "
        "1.12x-1.19x).\nepoch: skorch's epoch 'dur'; batch: from the median time per batch; "
        "paired: median over rounds of the ratio of the round's two batch times;\n"
        "CPU s: CPU seconds of the process per fit (spin-waiting OpenMP threads show here); "
        "reading: SliceLoader alone over the sync epoch, and the speed-up it bounds",
        (
            "threads",
            "sync epoch",
            "async epoch",
            "speed-up",
            "sync batch",
            "async batch",
            "speed-up",
            "paired",
            "CPU s sync / async",
            "sync predict",
            "async predict",
            "speed-up",
            "reading",
            "bound",
            "load",
        ),
        rows,
    )
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
