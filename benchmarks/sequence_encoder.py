"""CTRTransformer fit and transform speed on a behaviour-history column (the DIN input).

What is measured
----------------
A frame of ``--rows`` impressions (100,000 by default): a candidate ``item_id`` (strings, 50,000
distinct items), a ``user_id`` and a ``hist_item_id`` history of ``--length`` items per row (50 by
default, the default ``max_sequence_length``) that shares the candidate's vocabulary
(``behavior={"hist_item_id": "item_id"}``). The history is given in three forms, each timed on
its own: Python lists of strings, ``|``-delimited strings, and int64 numpy arrays (with an
int64 candidate). ``fit`` and ``transform`` of the same frame are timed separately; the best of
``--rounds`` is reported as rows/s (best-of: on a shared machine a disturbance only adds time).

How to run
----------
::

    python benchmarks/sequence_encoder.py               # 100k rows x 50 items, about a minute
    python benchmarks/sequence_encoder.py --rows 10000  # smoke run
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from sk_ctr import CTRTransformer

N_ITEMS = 50_000


def make_frames(n_rows, length, seed):
    """The same histories as lists, delimited strings and integer arrays."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, N_ITEMS, (n_rows, length))
    candidates = rng.integers(0, N_ITEMS, n_rows)
    names = np.char.add("item_", np.arange(N_ITEMS).astype(str)).astype(object)
    users = pd.Series(rng.integers(0, n_rows // 20 + 1, n_rows))
    lists = pd.Series(names[codes].tolist(), dtype=object)
    arrays = pd.Series(list(codes), dtype=object)
    frame = lambda item, history: pd.DataFrame(  # noqa: E731
        {"user_id": users, "item_id": item, "hist_item_id": history}
    )
    return {
        "lists of str": frame(pd.Series(names[candidates], dtype=object), lists),
        "'|'-delimited str": frame(
            pd.Series(names[candidates], dtype=object), lists.map("|".join).astype(object)
        ),
        "int64 arrays": frame(pd.Series(candidates), arrays),
    }


def best_seconds(function, rounds):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    frames = make_frames(args.rows, args.length, seed=0)
    print(f"{args.rows:,} rows, {args.length} history items per row, best of {args.rounds}")
    print(f"{'history cells':20s} {'fit rows/s':>12s} {'transform rows/s':>17s}")
    for label, frame in frames.items():
        sequence_features = ["hist_item_id"] if "delimited" in label else None
        encoder = CTRTransformer(
            behavior={"hist_item_id": "item_id"},
            sequence_features=sequence_features,
            max_sequence_length=args.length,
        )
        fit = best_seconds(lambda e=encoder, f=frame: e.fit(f), args.rounds)
        transform = best_seconds(lambda e=encoder, f=frame: e.transform(f), args.rounds)
        print(f"{label:20s} {args.rows / fit:12,.0f} {args.rows / transform:17,.0f}")


if __name__ == "__main__":
    main()
