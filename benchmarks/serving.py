"""Serving latency: ``predict_proba`` on 1, 10 and 100 raw rows, as the vocabulary grows.

What is measured
----------------
Criteo-shaped data from ``make_ctr_classification``: 26 categorical columns of strings whose
values follow a Zipf law (cardinalities spread geometrically over 10 to 10M per column, so the
number of distinct values seen keeps growing with the rows) and 13 float columns with 20 %
NaN. For each training size (10k, 100k and 1M rows by default) a ``DeepFMClassifier`` (the
defaults: embed 10, MLP 400-400-400; one epoch, as the weights do not change the latency) is
fitted on the raw frame, and a ``lightgbm.LGBMClassifier`` (50 trees) on the same rows with the
26 columns as pandas ``category`` columns, as a reference. The DeepFM is also exported as the
torch-free serving artifact (``sk_ctr.export.export_serving``: the ONNX graph and the fitted
encoding) and loaded with ``sk_ctr.serving.load(path, threads=--threads)``; its
``predict_proba`` on the same raw frames is the "artifact" column (timed in this process, where
torch is imported too; a serving process without torch runs the same code).

Requests are the first 1, 10 or 100 rows of a frame drawn by the same generator with another
seed (so some values were never seen in fit), given as

* ``object``: the columns as Python strings (what ``load_criteo`` returns);
* ``str``: pandas' string dtype (what ``read_csv`` gives under pandas 3, Arrow-backed);
* ``category``: a ``category`` dtype whose categories are those of the training data (what a
  service that fixes its dtypes sends, and what LightGBM requires).

Each contender is called 5 times to warm up, then all contenders are called in turn, 4 calls
each per round (the order rotating every round), for ``--repeat`` rounds; the table gives the
median milliseconds of the last 3 calls of every burst (see ``median_ms`` for why the first is
left out) as wall-clock / CPU time of the calling thread: on a shared machine the CPU time is
the figure to compare (see ``median_ms``). Torch runs with ``--threads`` threads (default 1,
one thread per serving worker); LightGBM too.

Target (issue 16): sk_ctr at most 2 ms (median) for a request of 1, 10 or 100 rows, and a
model fitted on 10x more rows at most 1.5x slower, for every input dtype.

How to run
----------
::

    python benchmarks/serving.py                      # 10k, 100k, 1M rows: ~3 minutes
    python benchmarks/serving.py --train-rows 10000 100000 --repeat 50   # smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from functools import partial
from pathlib import Path

import lightgbm
import numpy as np
import pandas as pd
import torch

from sk_ctr import DeepFMClassifier, serving
from sk_ctr.datasets import make_ctr_classification
from sk_ctr.export import export_serving

N_CATEGORICAL, N_NUMERIC = 26, 13
REQUEST_ROWS = (1, 10, 100)
INPUTS = ("object", "str", "category")


def make_frame(n_rows, seed):
    """Raw Criteo-like frame: ``I1..I13`` float64 with NaN, ``C1..C26`` object strings."""
    cardinality = np.geomspace(10, 10_000_000, N_CATEGORICAL).round().astype(int).tolist()
    return make_ctr_classification(
        n_rows,
        n_fields=N_CATEGORICAL,
        n_numeric=N_NUMERIC,
        cardinality=cardinality,
        interaction_order=1,
        numeric_missing_rate=0.2,
        random_state=seed,
    )


def categorical_columns():
    return [f"C{i + 1}" for i in range(N_CATEGORICAL)]


def as_input(frame, kind, categories):
    """``frame`` with its categorical columns as ``kind`` (see the module docstring)."""
    frame = frame.copy()
    for name in categorical_columns():
        if kind == "category":
            # Values unseen in fit become NaN, as in any frame cast to the training dtype.
            known = frame[name].where(frame[name].isin(categories[name]))
            frame[name] = pd.Categorical(known, categories=categories[name])
        else:
            frame[name] = frame[name].astype(kind)
    return frame


def fit_models(n_rows, seed, threads, directory):
    """The fitted DeepFM, its serving artifact (written in ``directory``) loaded, the fitted
    LightGBM model, the training categories and vocabulary size."""
    X, y = make_frame(n_rows, seed)
    estimator = DeepFMClassifier(max_epochs=1, batch_size=4096, random_state=seed)
    estimator.fit(X, y)
    path = export_serving(estimator, Path(directory) / f"deepfm-{n_rows}.skctr", X=X.iloc[:100])
    start = time.perf_counter()
    artifact = serving.load(path, threads=threads)
    print(
        f"  (serving artifact: {os.path.getsize(path) / 1e6:.1f} MB, loaded in "
        f"{time.perf_counter() - start:.2f} s)",
        flush=True,
    )
    vocabulary = sum(len(v) for v in estimator.preprocessor_.vocabularies_.values())
    categories = {name: pd.Index(X[name].dropna().unique()) for name in categorical_columns()}
    booster = lightgbm.LGBMClassifier(n_estimators=50, n_jobs=threads, verbose=-1)
    booster.fit(as_input(X, "category", categories), y)
    return estimator, artifact, booster, categories, vocabulary


def median_ms(contenders, repeat, burst=4, warmup=5):
    """Median wall-clock and CPU milliseconds per call of each ``(label, call)``.

    Every round calls each contender ``burst`` times in a row (the order of the contenders
    rotating every round) and keeps the times of all calls but the first: the first call after
    another contender runs on caches and memory that contender left (LightGBM's predictions on
    frames of a million categories allocate and free hundreds of MB per call, which slowed the
    next sk_ctr call 3-4x), unlike a server that serves one model.

    The CPU time is the calling thread's (every contender runs on one thread): on a machine
    with more runnable processes than cores, a call of a few ms is often descheduled for a
    time slice (10-14 ms), which the wall clock counts and the thread's CPU time does not.
    """
    for _, call in contenders:
        for _ in range(warmup):
            call()
    wall = {label: [] for label, _ in contenders}
    cpu = {label: [] for label, _ in contenders}
    for round_index in range(repeat):
        shift = round_index % len(contenders)
        for label, call in contenders[shift:] + contenders[:shift]:
            for call_index in range(burst):
                start, start_cpu = time.perf_counter(), time.thread_time()
                call()
                if call_index:
                    wall[label].append(time.perf_counter() - start)
                    cpu[label].append(time.thread_time() - start_cpu)
    return {
        label: (1e3 * statistics.median(wall[label]), 1e3 * statistics.median(cpu[label]))
        for label in wall
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=50, help="rounds per request size")
    parser.add_argument("--threads", type=int, default=1, help="torch and LightGBM threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(
        f"pandas {pd.__version__}, torch {torch.__version__}, lightgbm {lightgbm.__version__}; "
        f"{args.threads} thread(s); load average at start {os.getloadavg()[0]:.2f} on "
        f"{os.cpu_count()} CPUs; median ms per call (wall / CPU) of {args.repeat} interleaved "
        "rounds"
    )
    requests, _ = make_frame(max(REQUEST_ROWS), args.seed + 1)
    header = ["train rows", "vocabulary", "rows"]
    header += [f"sk_ctr {kind}" for kind in INPUTS] + [f"artifact {kind}" for kind in INPUTS]
    header += ["LightGBM category"]
    print("| " + " | ".join(header) + " |\n|" + "---:|" * len(header), flush=True)
    results = {}
    directory = tempfile.TemporaryDirectory(prefix="sk_ctr-serving-")  # the artifacts
    for n_rows in args.train_rows:
        start = time.perf_counter()
        estimator, artifact, booster, categories, vocabulary = fit_models(
            n_rows, args.seed, args.threads, directory.name
        )
        fitted_in = time.perf_counter() - start
        for n_request in REQUEST_ROWS:
            frames = {
                kind: as_input(requests.iloc[:n_request], kind, categories) for kind in INPUTS
            }
            contenders = [
                (f"sk_ctr {kind}", partial(estimator.predict_proba, frames[kind]))
                for kind in INPUTS
            ]
            contenders += [
                (f"artifact {kind}", partial(artifact.predict_proba, frames[kind]))
                for kind in INPUTS
            ]
            contenders.append(
                ("LightGBM category", partial(booster.predict_proba, frames["category"]))
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # unseen values are the point
                ms = median_ms(contenders, args.repeat)
            results[n_rows, n_request] = ms
            cells = [f"{n_rows:,}", f"{vocabulary:,}", str(n_request)]
            cells += [f"{ms[label][0]:.2f} / {ms[label][1]:.2f}" for label, _ in contenders]
            print("| " + " | ".join(cells) + " |", flush=True)
        print(f"  (models fitted and exported in {fitted_in:.0f} s, not timed)", flush=True)
    directory.cleanup()
    smallest, largest = min(args.train_rows), max(args.train_rows)
    if largest > smallest:
        print(f"\nCPU time ratio, models fitted on {largest:,} vs {smallest:,} rows:")
        for n_request in REQUEST_ROWS:
            ratios = [
                results[largest, n_request][label][1] / results[smallest, n_request][label][1]
                for label in results[largest, n_request]
            ]
            print(
                f"  {n_request:>3} rows: "
                + ", ".join(
                    f"{label} {ratio:.2f}x"
                    for label, ratio in zip(results[largest, n_request], ratios, strict=True)
                )
            )
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
