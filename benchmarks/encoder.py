"""CTRTransformer fit and transform speed against the usual ordinal encoders.

What is measured
----------------
A Criteo-shaped raw frame, 1,000,000 rows by default: 26 categorical columns of strings whose
values follow a Zipf law (cardinalities spread geometrically over 10-100k per column, 5 % of the
cells missing) and 13 float columns (log-normal counts, 20 % NaN). Contenders:

* ``CTRTransformer`` on all 39 columns (26 categorical + 13 bucketized numeric), the way
  ``DeepFMClassifier`` uses it;
* ``CTRTransformer`` on the 26 categorical columns only, the like-for-like comparison with:
* ``category_encoders.OrdinalEncoder()`` on the 26 categorical columns;
* ``sklearn.preprocessing.OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
  encoded_missing_value=-2)`` on the 26 categorical columns.

Each contender gets a fresh (cloned) encoder per round; ``fit`` and then ``transform`` of the
same frame are timed separately and the best of ``--rounds`` is reported as rows/s (best-of,
because on a shared machine every disturbance only ever adds time). The outputs are checked
for consistency: per column, every encoder must induce the same partition of the rows (one id
per distinct value, missing values grouped together).

Note that ``category_encoders``' ``fit`` also transforms the training frame once (to learn its
output column names), so its fit time includes a transform.

How to run
----------
::

    python benchmarks/encoder.py                  # 1M rows, a few minutes on 2 cores
    python benchmarks/encoder.py --rows 50000     # smoke run
    python benchmarks/encoder.py --dtype str      # pandas' string dtype instead of object
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import category_encoders
import numpy as np
import pandas as pd
import sklearn
from sklearn.base import clone
from sklearn.preprocessing import OrdinalEncoder

from sk_ctr import CTRTransformer
from sk_ctr.datasets import make_ctr_classification

N_CATEGORICAL, N_NUMERIC = 26, 13


def make_frame(n_rows, dtype, seed):
    """Raw Criteo-like frame: ``I1..I13`` float64 with NaN, ``C1..C26`` strings with NaN.

    ``make_ctr_classification`` already draws Zipf-distributed categories (exponent 1.1) and
    NaN numerics; the labels are not needed, so the cheapest label model (order 1) is used.
    Criteo's categorical columns have empty cells too, which exercises the missing-value path
    of every encoder.
    """
    cardinality = np.geomspace(10, 100_000, N_CATEGORICAL).round().astype(int).tolist()
    X, _ = make_ctr_classification(
        n_rows,
        n_fields=N_CATEGORICAL,
        n_numeric=N_NUMERIC,
        cardinality=cardinality,
        interaction_order=1,
        numeric_missing_rate=0.2,
        random_state=seed,
    )
    rng = np.random.default_rng(seed)
    for name in categorical_columns():
        missing = rng.random(n_rows) < 0.05
        X[name] = X[name].where(~missing).astype(dtype)
    return X


def categorical_columns():
    return [f"C{i + 1}" for i in range(N_CATEGORICAL)]


def contenders():
    """(label, columns it sees, unfitted encoder, function returning the categorical ids)."""
    categorical = categorical_columns()
    return [
        ("CTRTransformer, 39 cols", None, CTRTransformer(), ctr_categorical_ids),
        ("CTRTransformer, 26 cat", categorical, CTRTransformer(), ctr_categorical_ids),
        (
            "category_encoders Ordinal",
            categorical,
            category_encoders.OrdinalEncoder(),
            lambda out: out.to_numpy(),
        ),
        (
            "sklearn OrdinalEncoder",
            categorical,
            OrdinalEncoder(
                handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2
            ),
            lambda out: out,
        ),
    ]


def ctr_categorical_ids(field_data):
    """The ids of C1..C26 from a FieldData, found by field name: the bucketized I1..I13 are
    categorical fields too and come first, in column order."""
    names = [field.name for field in field_data.categorical_fields]
    return field_data["ids"][:, [names.index(name) for name in categorical_columns()]]


def time_encoder(encoder, frame, rounds):
    """Best-of-``rounds`` fit and transform seconds, and the last transform's output."""
    fit_times, transform_times = [], []
    for _ in range(rounds):
        fresh = clone(encoder)
        start = time.perf_counter()
        fresh.fit(frame)
        fit_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        output = fresh.transform(frame)
        transform_times.append(time.perf_counter() - start)
    return min(fit_times), min(transform_times), output


def same_partition(a, b):
    """True when codes ``a`` and ``b`` of one column group the rows identically."""
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return len(pairs) == len(np.unique(a)) == len(np.unique(b))


def print_table(title, header, rows):
    """Left-aligned first column (names), right-aligned numbers."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    for row in [header, ["-" * w for w in widths], *rows]:
        first, *rest = zip(row, widths, strict=True)
        print("  ".join([f"{first[0]:<{first[1]}}", *(f"{c:>{w}}" for c, w in rest)]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows (default 1M)")
    parser.add_argument(
        "--dtype",
        choices=["object", "str"],
        default="object",
        help="dtype of the categorical columns: object (what load_criteo returns) or pandas' "
        "string dtype (what read_csv gives by default under pandas 3)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds per encoder; best is kept")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    print(
        f"pandas {pd.__version__}, scikit-learn {sklearn.__version__}, "
        f"category_encoders {category_encoders.__version__}; load average at start "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    start = time.perf_counter()
    frame = make_frame(args.rows, args.dtype, args.seed)
    observed = [frame[c].nunique() for c in categorical_columns()]
    print(
        f"frame: {frame.shape[0]:,} rows x {frame.shape[1]} columns, categorical dtype "
        f"{frame['C1'].dtype}, distinct values per categorical column {min(observed):,}-"
        f"{max(observed):,} (total {sum(observed):,}); built in "
        f"{time.perf_counter() - start:.1f} s, not timed"
    )

    rows, codes = [], {}
    for label, columns, encoder, categorical_codes in contenders():
        data = frame if columns is None else frame[columns]
        with warnings.catch_warnings():
            # An encoder's deprecation chatter is not what this benchmark is about.
            warnings.simplefilter("ignore", FutureWarning)
            fit_s, transform_s, output = time_encoder(encoder, data, args.rounds)
        codes[label] = np.asarray(categorical_codes(output))
        rows.append(
            (
                label,
                data.shape[1],
                f"{fit_s:.2f}",
                f"{args.rows / fit_s:,.0f}",
                f"{transform_s:.2f}",
                f"{args.rows / transform_s:,.0f}",
            )
        )
        print(f"  done: {label}", flush=True)

    print_table(
        f"Best of {args.rounds} rounds, {args.rows:,} rows",
        ("encoder", "cols", "fit s", "fit rows/s", "transform s", "transform rows/s"),
        rows,
    )

    reference = codes["sklearn OrdinalEncoder"]
    mismatched = [
        f"{label}: {name}"
        for label, encoded in codes.items()
        for j, name in enumerate(categorical_columns())
        if not same_partition(encoded[:, j], reference[:, j])
    ]
    if mismatched:
        print(f"\nINCONSISTENT encodings (vs sklearn): {mismatched}")
    else:
        print("\nconsistency: every encoder groups the rows of every categorical column alike")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
