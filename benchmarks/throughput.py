"""DeepFM training and prediction throughput: ``DeepFMClassifier`` against a plain PyTorch loop.

What is measured
----------------
Synthetic Criteo-shaped rows (13 numeric columns bucketized by ``CTRTransformer`` + 26
long-tailed categorical columns = 39 fields) are encoded once. Both contenders then train the
same network class, ``sk_ctr.models.DeepFMNet`` (embed 10, MLP 400-400-400, dropout 0.5), with
Adam (lr 1e-3) and batches of 2000 rows, for one epoch over the same tensors:

* **estimator**: ``DeepFMClassifier(max_epochs=1).fit(field_data, y)``. The headline time is
  the epoch's ``dur`` from the skorch history (the training epoch only: batch slicing, forward,
  loss, backward, Adam step and skorch's per-batch bookkeeping). The wall time of the whole
  ``fit`` call (label encoding, parameter validation, network initialisation) is reported too.
* **plain**: ``randperm`` shuffle, index the tensors, forward, ``BCEWithLogitsLoss`` (mean),
  backward, Adam step. Nothing else.

Prediction compares ``est.predict_proba(field_data)`` with a ``torch.no_grad()`` batched
forward + sigmoid of the *same* fitted module (so the two outputs must agree, which is checked).

Rounds are interleaved after a warm-up on a slice of the rows, the order flipping every round
(estimator then plain, plain then estimator, ...), so drifting machine load and cache state hit
both alike; the tables give every round, the medians and the best times. Besides the whole
epoch, training is also rated from the *median time per batch* (time stamps after every
optimizer step: a skorch callback for the estimator, the loop itself for plain), which a burst
of load from another process barely moves. The transformer's fit is excluded from every
timing. Both contenders run with torch's default thread count (printed), which the estimator
leaves alone with ``n_threads=None``.

Target: estimator / plain >= 0.9 for training throughput.

How to run
----------
::

    python benchmarks/throughput.py                 # 500k rows, ~4 minutes on 2 idle cores
    python benchmarks/throughput.py --rows 20000    # smoke run
    python benchmarks/throughput.py --profile       # + cProfile of one estimator fit

Run it alone on the machine. With torch's 2 OpenMP threads on 2 cores, one other busy process
makes every step wait for a descheduled thread: throughput then drops 5-8x, for both
contenders, and the rounds scatter. The load average is printed at start and end to flag it.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import time

import numpy as np
import skorch
import torch
from skorch.callbacks import Callback

from sk_ctr import CTRTransformer, DeepFMClassifier
from sk_ctr.datasets import make_ctr_classification
from sk_ctr.models import DeepFMNet

# The DeepFM journal's Criteo setting (Table III): embed 10, 400-400-400, dropout 0.5.
NETWORK = {"embed_dim": 10, "hidden_units": (400, 400, 400), "dropout": 0.5}
LR = 1e-3


def make_encoded(n_rows, seed):
    """Criteo-shaped raw frame, encoded once by CTRTransformer (outside every timing).

    Cardinalities are spread geometrically over 1k-10k per field and values follow a Zipf law
    (``make_ctr_classification``'s default exponent 1.1), so a few ids dominate each field and
    most ids are rare, as in real click logs. 20 % of the numeric values are NaN (Criteo's
    count features are often empty); they get their own bucket.
    """
    cardinality = np.geomspace(1_000, 10_000, 26).round().astype(int).tolist()
    X, y = make_ctr_classification(
        n_rows,
        n_fields=26,
        n_numeric=13,
        cardinality=cardinality,
        numeric_missing_rate=0.2,
        random_state=seed,
    )
    data = CTRTransformer().fit_transform(X)
    return data, y


# ------------------------------------------------------------------------------- training
class BatchClock(Callback):
    """Time stamps at the start of the epoch and at the end of every training batch.

    The median gap between stamps is a per-batch cost that intermittent load from other jobs
    barely moves, unlike an epoch's total; one ``perf_counter`` call per batch costs nothing
    next to a 2000-row DeepFM step.
    """

    def on_epoch_begin(self, net, **kwargs):
        self.stamps = [time.perf_counter()]

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self.stamps.append(time.perf_counter())


def median_gap(stamps):
    return float(np.median(np.diff(stamps)))


def make_estimator(batch_size, seed):
    # n_threads=None: the estimator must not touch torch's thread count, so both contenders
    # run with the same (default) setting.
    return DeepFMClassifier(
        **NETWORK,
        optimizer="adam",
        lr=LR,
        batch_size=batch_size,
        max_epochs=1,
        n_threads=None,
        random_state=seed,
        callbacks=[("batch_clock", BatchClock())],
    )


def train_estimator(data, y, batch_size, seed):
    """One ``fit``: returns the timings (epoch seconds from the history, wall seconds of the
    whole fit, median seconds per batch), the train loss and the fitted estimator."""
    est = make_estimator(batch_size, seed)
    start = time.perf_counter()
    est.fit(data, y)
    wall = time.perf_counter() - start
    batch = median_gap(dict(est.callbacks_)["batch_clock"].stamps)
    return (est.history_[-1, "dur"], wall, batch), est.history_[-1, "train_loss"], est


def train_plain(data, y, batch_size, seed):
    """The same network trained by the shortest honest PyTorch loop.

    Returns ((epoch seconds, median seconds per batch), mean train loss). The module and
    optimizer are built outside the timed region, as skorch's ``initialize`` is outside its
    epoch ``dur``.
    """
    torch.manual_seed(seed)
    ids = torch.from_numpy(data["ids"])
    values = torch.from_numpy(data["values"])
    target = torch.from_numpy(y.astype(np.float32))
    module = DeepFMNet(data.schema, **NETWORK)
    optimizer = torch.optim.Adam(module.parameters(), lr=LR)
    criterion = torch.nn.BCEWithLogitsLoss()
    n_rows = len(target)

    module.train()
    start = time.perf_counter()
    stamps = [start]
    order = torch.randperm(n_rows)
    total_loss = 0.0
    for first in range(0, n_rows, batch_size):
        rows = order[first : first + batch_size]
        loss = criterion(module(ids[rows], values[rows]), target[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        # skorch reads every batch loss back with .item(); so does any real loop that logs.
        total_loss += loss.item() * len(rows)
        stamps.append(time.perf_counter())
    seconds = time.perf_counter() - start
    return (seconds, median_gap(stamps)), total_loss / n_rows


# ----------------------------------------------------------------------------- prediction
def predict_estimator(est, data):
    start = time.perf_counter()
    proba = est.predict_proba(data)
    return time.perf_counter() - start, proba[:, 1]


def predict_plain(module, data, batch_size):
    """Batched no-grad forward + sigmoid of a module; contiguous slices, no shuffling."""
    ids = torch.from_numpy(data["ids"])
    values = torch.from_numpy(data["values"])
    module.eval()
    start = time.perf_counter()
    with torch.no_grad():
        chunks = []
        for first in range(0, len(ids), batch_size):
            rows = slice(first, first + batch_size)
            chunks.append(torch.sigmoid(module(ids[rows], values[rows])))
        proba = torch.cat(chunks).numpy()
    return time.perf_counter() - start, proba


# ---------------------------------------------------------------------------------- report
def rate(n_rows, seconds):
    return n_rows / seconds


def print_table(title, header, rows):
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join(f"{{:>{w}}}" for w in widths)
    print(f"\n{title}")
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))


def in_turn(round_):
    """The two contenders in an order that flips every round, so neither always inherits the
    other's cache and allocator state."""
    return ("estimator", "plain") if round_ % 2 == 0 else ("plain", "estimator")


def summaries(timings):
    """Median and best (shortest: load from other processes only ever adds time) of every
    column of a list of timing tuples."""
    columns = list(zip(*timings, strict=True))
    return {
        "median": [statistics.median(c) for c in columns],
        "best": [min(c) for c in columns],
    }


def report_training(n_rows, batch_size, est_times, plain_times, losses):
    def row(label, est_timing, plain_timing, loss=("", "")):
        (epoch, wall, batch), (plain_epoch, plain_batch) = est_timing, plain_timing
        return (
            label,
            f"{rate(n_rows, epoch):,.0f}",
            f"{rate(n_rows, wall):,.0f}",
            f"{rate(n_rows, plain_epoch):,.0f}",
            f"{plain_epoch / epoch:.3f}",
            f"{rate(batch_size, batch):,.0f}",
            f"{rate(batch_size, plain_batch):,.0f}",
            f"{plain_batch / batch:.3f}",
            *(value if value == "" else f"{value:.4f}" for value in loss),
        )

    per_round = zip(est_times, plain_times, losses, strict=True)
    rows = [row(i + 1, *timings) for i, timings in enumerate(per_round)]
    est_summary, plain_summary = summaries(est_times), summaries(plain_times)
    rows += [row(label, est_summary[label], plain_summary[label]) for label in est_summary]
    print_table(
        "Training, one epoch, samples/s (ratio = estimator / plain, target >= 0.9).\n"
        "epoch: the whole epoch (skorch history 'dur' / the plain loop's clock); "
        "batch: from the median time per batch, robust to load spikes.",
        (
            "round",
            "est epoch",
            "est fit wall",
            "plain epoch",
            "ratio",
            "est batch",
            "plain batch",
            "ratio",
            "est loss",
            "plain loss",
        ),
        rows,
    )
    # Without outside load the rounds agree within a few per cent; a larger spread means some
    # round shared the cores with another process and the medians are not trustworthy.
    spread = max(
        max(t[-1] for t in times) / min(t[-1] for t in times) for times in (est_times, plain_times)
    )
    if spread > 1.25:
        print(
            f"WARNING: per-batch times differ by {spread:.1f}x between rounds: the machine was "
            "busy with other work; rerun when it is idle (the 'best' row is least affected)."
        )
    epoch, wall, _ = est_summary["median"]
    print(
        "fit overhead outside the epoch (validation, label encoding, initialize): "
        f"{wall - epoch:.2f} s of {wall:.2f} s"
    )


def report_prediction(n_rows, est_seconds, plain_seconds, max_diff):
    rows = []
    for label, summary in (("median", statistics.median), ("best", min)):
        est, plain = summary(est_seconds), summary(plain_seconds)
        rows.append(
            (
                label,
                f"{rate(n_rows, est):,.0f}",
                f"{rate(n_rows, plain):,.0f}",
                f"{plain / est:.3f}",
                f"{max_diff:.1e}",
            )
        )
    print_table(
        f"Prediction, {len(est_seconds)} rounds, samples/s (ratio = estimator / plain)",
        ("", "est predict_proba", "plain no_grad + sigmoid", "ratio", "max |diff|"),
        rows,
    )
    if max_diff > 1e-5:
        print("WARNING: the estimator's probabilities differ from the module's own output")


def profile_fit(data, y, batch_size, seed, top):
    """cProfile one estimator fit and print the functions with the most own time: where the
    estimator spends what the plain loop does not."""
    profiler = cProfile.Profile()
    profiler.enable()
    train_estimator(data, y, batch_size, seed)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime")
    stats.print_stats(top)
    print("\ncProfile of one DeepFMClassifier.fit, sorted by own time")
    print(out.getvalue())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500_000, help="training rows (default 500k)")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument(
        "--rounds", type=int, default=3, help="measured training rounds per contender"
    )
    parser.add_argument(
        "--warmup-rows",
        type=int,
        default=20_000,
        help="rows of the untimed warm-up epoch of each contender (oneDNN kernels, allocator)",
    )
    parser.add_argument("--predict-rounds", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="also cProfile one estimator fit")
    args = parser.parse_args(argv)
    n_rows, batch_size, seed = args.rows, args.batch_size, args.seed

    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} threads, default), "
        f"skorch {skorch.__version__}, {n_rows:,} rows, batch {batch_size}; "
        f"load average at start {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    start = time.perf_counter()
    data, y = make_encoded(n_rows, seed)
    vocab = sum(f.vocab_size for f in data.schema)
    print(
        f"data: ids {data['ids'].shape} {data['ids'].dtype}, {len(data.schema)} fields, "
        f"{vocab:,} embedding rows, positive rate {y.mean():.3f} "
        f"(generated + encoded in {time.perf_counter() - start:.1f} s, not timed)"
    )
    n_params = sum(p.numel() for p in DeepFMNet(data.schema, **NETWORK).parameters())
    print(f"DeepFMNet parameters: {n_params:,}")

    # Warm-up: the first epoch in a process pays one-off costs (kernel selection, allocator
    # growth, lazy imports) that would otherwise be charged to whichever contender runs first.
    warm = data[: min(args.warmup_rows, n_rows)]
    train_estimator(warm, y[: len(warm)], batch_size, seed)
    train_plain(warm, y[: len(warm)], batch_size, seed)

    train = {
        "estimator": lambda: train_estimator(data, y, batch_size, seed),
        "plain": lambda: train_plain(data, y, batch_size, seed),
    }
    est_times, plain_times, losses = [], [], []
    for round_ in range(args.rounds):
        result = {name: train[name]() for name in in_turn(round_)}
        est_timing, est_loss, est = result["estimator"]
        plain_timing, plain_loss = result["plain"]
        est_times.append(est_timing)
        plain_times.append(plain_timing)
        losses.append((est_loss, plain_loss))
    report_training(n_rows, batch_size, est_times, plain_times, losses)

    # Prediction: both read the last fitted estimator's module, so their outputs must match.
    predict = {
        "estimator": lambda: predict_estimator(est, data),
        "plain": lambda: predict_plain(est.module_, data, batch_size),
    }
    predict_estimator(est, warm)
    predict_plain(est.module_, warm, batch_size)
    est_seconds, plain_seconds = [], []
    for round_ in range(args.predict_rounds):
        result = {name: predict[name]() for name in in_turn(round_)}
        (seconds, est_proba), (plain, plain_proba) = result["estimator"], result["plain"]
        est_seconds.append(seconds)
        plain_seconds.append(plain)
    max_diff = float(np.abs(est_proba - plain_proba).max())
    report_prediction(n_rows, est_seconds, plain_seconds, max_diff)

    print(f"load average at end {os.getloadavg()[0]:.2f}")
    if args.profile:
        profile_fit(data, y, batch_size, seed, top=25)


if __name__ == "__main__":
    main()
