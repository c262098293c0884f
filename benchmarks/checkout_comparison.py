"""Prediction speed of two checkouts of sk_ctr in one process, interleaved: before and after.

On a shared machine, two runs of a benchmark minutes apart measure the load as much as the
code. This script imports the ``sk_ctr`` of two directories (``--before`` and ``--after``,
each holding an ``sk_ctr`` package: a checkout, or ``git archive <commit> sk_ctr | tar -x``)
into one process and times them in turn, round by round (the order rotating), after a
warm-up:

* ``transform``: ``CTRTransformer.transform`` of ``benchmarks/encoder.py``'s Criteo-shaped frame
  (``--transform-rows``, 1M by default; 26 object string columns with 5 % missing, 13 float
  columns with 20 % NaN), on all 39 columns and on the 26 categorical ones; rows/s from the
  CPU time of the calling thread (the transform runs on it) and from the wall clock;
* ``raw``: ``DeepFMClassifier.predict_proba`` on ``benchmarks/throughput.py``'s 120k-row raw
  frame (``--raw-rows``), each checkout's estimator fitted the same way (one epoch, same seed),
  against DeepCTR-Torch's documented pipeline on the same frame (that script's
  ``deepctr_raw_pipeline``); samples/s from the wall clock and the process's CPU time (torch's
  threads included); the probabilities of the two checkouts are compared;
* ``latency``: ``predict_proba`` on 1, 10 and 100 raw rows as ``benchmarks/serving.py`` sends
  them (object, ``str`` and ``category`` columns, values unseen in fit included) to a DeepFM
  fitted on ``--latency-train-rows`` rows by each checkout; median CPU ms of the calling thread
  (bursts of 4 calls, the first left out, as there).

How to run
----------
::

    git archive main sk_ctr | tar -x -C /tmp/before
    OMP_NUM_THREADS=1 GOMP_SPINCOUNT=1000 python benchmarks/checkout_comparison.py \\
        --before /tmp/before --after .               # ~5 minutes
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import statistics
import sys
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import torch

BENCHMARKS = Path(__file__).resolve().parent


def import_checkout(root):
    """``(DeepFMClassifier, CTRTransformer)`` of the ``sk_ctr`` package in ``root``.

    The package's modules are removed from ``sys.modules`` afterwards, so that the other
    checkout imports its own; the classes keep theirs (prediction imports nothing at call time).
    """
    _forget_sk_ctr()
    sys.path.insert(0, str(root))
    try:
        sk_ctr = importlib.import_module("sk_ctr")
        classes = sk_ctr.DeepFMClassifier, sk_ctr.CTRTransformer
        importlib.import_module("sk_ctr.estimators.prediction")
        for cls in classes:
            where = Path(inspect.getfile(cls)).resolve()
            if not where.is_relative_to(Path(root).resolve()):
                raise RuntimeError(f"{cls.__name__} came from {where}, not from {root}")
    finally:
        sys.path.remove(str(root))
    return classes


def _forget_sk_ctr():
    for name in [n for n in sys.modules if n == "sk_ctr" or n.startswith("sk_ctr.")]:
        del sys.modules[name]


def interleaved(calls, rounds, clock):
    """``{label: [seconds per round]}`` of each ``(label, call)``, in an order rotating every
    round, after one untimed call each; ``clock`` is ``time.thread_time``,
    ``time.process_time`` or ``time.perf_counter``: one list per clock."""
    for _, call in calls:
        call()
    times = {label: {c.__name__: [] for c in clock} for label, _ in calls}
    for round_ in range(rounds):
        shift = round_ % len(calls)
        for label, call in calls[shift:] + calls[:shift]:
            starts = [c() for c in clock]
            call()
            for c, start in zip(clock, starts, strict=True):
                times[label][c.__name__].append(c() - start)
    return times


def transform_contest(checkouts, n_rows, rounds):
    import encoder

    X = encoder.make_frame(n_rows, "object", 0)
    calls = []
    for name, (_, transformer) in checkouts.items():
        for label, columns in (("39 cols", None), ("26 cat", encoder.categorical_columns())):
            frame = X if columns is None else X[columns]
            fitted = transformer().fit(frame)
            calls.append((f"{name} {label}", partial(fitted.transform, frame)))
    times = interleaved(calls, rounds, (time.thread_time, time.perf_counter))
    print(f"\ntransform of {n_rows:,} rows, rows/s: CPU median / best, wall median")
    for label, clocks in times.items():
        cpu, wall = clocks["thread_time"], clocks["perf_counter"]
        print(
            f"  {label:>16}: {n_rows / statistics.median(cpu):>11,.0f} / "
            f"{n_rows / min(cpu):>11,.0f}   wall {n_rows / statistics.median(wall):>11,.0f}"
        )


def raw_contest(checkouts, n_rows, rounds):
    import throughput

    X, y = throughput.make_raw(n_rows, 0)
    calls, probabilities = [], {}
    for name, (deepfm, _) in checkouts.items():
        # throughput.raw_estimator's settings
        est = deepfm(
            **throughput.NETWORK,
            optimizer="adam",
            lr=throughput.LR,
            batch_size=2000,
            max_epochs=1,
            random_state=0,
        ).fit(X, y)
        probabilities[name] = est.predict_proba(X)
        calls.append((name, partial(est.predict_proba, X)))
    deepctr, why = throughput.load_deepctr()
    if deepctr is not None:
        pipeline = throughput.deepctr_raw_pipeline(deepctr, X, 0)
        calls.append(("deepctr", partial(throughput.predict_raw_deepctr, pipeline, X, 2000)))
    else:
        print(f"  (DeepCTR-Torch left out: {why})")
    before, after = probabilities.values()
    print(
        f"\nraw-frame predict_proba, {n_rows:,} rows, {torch.get_num_threads()} torch threads: "
        f"probabilities of the two checkouts identical: {np.array_equal(before, after)}, "
        f"max difference {np.abs(before - after).max():.2e}"
    )
    times = interleaved(calls, rounds, (time.perf_counter, time.process_time))
    for label, clocks in times.items():
        wall, cpu = clocks["perf_counter"], clocks["process_time"]
        print(
            f"  {label:>8}: wall {n_rows / statistics.median(wall):>9,.0f} samples/s "
            f"(best {n_rows / min(wall):,.0f}), CPU {n_rows / statistics.median(cpu):>9,.0f}"
        )
    if deepctr is not None:
        for name in checkouts:
            for clock in ("perf_counter", "process_time"):
                ratios = [
                    d / e for e, d in zip(times[name][clock], times["deepctr"][clock], strict=True)
                ]
                print(
                    f"  {name} / deepctr ({'wall' if clock == 'perf_counter' else 'CPU'}): "
                    f"median {statistics.median(ratios):.2f} "
                    f"(per round {min(ratios):.2f}-{max(ratios):.2f})"
                )


def latency_contest(checkouts, train_rows, rounds):
    import serving

    X, y = serving.make_frame(train_rows, 0)
    requests, _ = serving.make_frame(max(serving.REQUEST_ROWS), 1)
    estimators = {
        name: deepfm(max_epochs=1, batch_size=4096, random_state=0).fit(X, y)
        for name, (deepfm, _) in checkouts.items()
    }
    categories = {name: X[name].dropna().unique() for name in serving.categorical_columns()}
    print(
        f"\npredict_proba on raw rows, DeepFM fitted on {train_rows:,} rows, 1 thread: median "
        "CPU ms of the calling thread (wall ms)"
    )
    for n_request in serving.REQUEST_ROWS:
        frames = {
            kind: serving.as_input(requests.iloc[:n_request], kind, categories)
            for kind in serving.INPUTS
        }
        calls = [
            (f"{name} {kind}", partial(est.predict_proba, frames[kind]))
            for kind in serving.INPUTS
            for name, est in estimators.items()
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # unseen values are the point
            before, after = (
                [e.predict_proba(f) for f in frames.values()] for e in estimators.values()
            )
            same = all(np.array_equal(b, a) for b, a in zip(before, after, strict=True))
            ms = serving.median_ms(calls, rounds)
        cells = ", ".join(f"{label} {cpu:.2f} ({wall:.2f})" for label, (wall, cpu) in ms.items())
        print(f"  {n_request:>3} rows (probabilities identical: {same}): {cells}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="directory holding the old sk_ctr")
    parser.add_argument("--after", required=True, help="directory holding the new sk_ctr")
    parser.add_argument("--transform-rows", type=int, default=1_000_000)
    parser.add_argument("--raw-rows", type=int, default=120_000)
    parser.add_argument("--latency-train-rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=6, help="rounds of the batch contests")
    parser.add_argument("--latency-rounds", type=int, default=30)
    parser.add_argument("--only", nargs="+", choices=("transform", "raw", "latency"), default=None)
    args = parser.parse_args(argv)
    checkouts = {
        "before": import_checkout(args.before),
        "after": import_checkout(args.after),
    }  # the after checkout stays imported: the benchmark modules import sk_ctr
    sys.path.insert(0, str(Path(args.after).resolve()))
    sys.path.insert(0, str(BENCHMARKS))
    print(
        f"load average at start {os.getloadavg()[0]:.2f}; torch threads "
        f"{torch.get_num_threads()}; GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT')}"
    )
    only = args.only or ("transform", "raw", "latency")
    if "transform" in only:
        transform_contest(checkouts, args.transform_rows, args.rounds)
        print(f"  load average {os.getloadavg()[0]:.2f}")
    if "raw" in only:
        raw_contest(checkouts, args.raw_rows, args.rounds)
        print(f"  load average {os.getloadavg()[0]:.2f}")
    if "latency" in only:
        torch.set_num_threads(1)
        latency_contest(checkouts, args.latency_train_rows, args.latency_rounds)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
