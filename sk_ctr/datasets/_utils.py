"""Argument checks, random generators and file reading shared by the modules of
:mod:`sk_ctr.datasets`."""

from __future__ import annotations

import gzip
import math
import numbers
import os
from pathlib import Path

import numpy as np
import pandas as pd


def _check_int(value, name, minimum):
    # bool is an Integral too, but n_fields=True is certainly a mistake.
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _check_float(value, name, low, high, low_inclusive=True, high_inclusive=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value >= low if low_inclusive else value > low) and (
            value <= high if high_inclusive else value < high
        )
    if not ok:
        interval = f"{'[' if low_inclusive else '('}{low}, {high}{']' if high_inclusive else ')'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}.")
    return float(value)


def _as_generator(random_state):
    # Accept what scikit-learn users pass (None, int, RandomState) as well as a Generator.
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    if random_state is None or isinstance(random_state, (numbers.Integral, np.random.Generator)):
        return np.random.default_rng(random_state)
    raise ValueError(
        "random_state must be None, an int, a numpy Generator or a RandomState, "
        f"got {random_state!r}."
    )


def _sigmoid(x):
    # exp(-log(1 + exp(-x))) never overflows, unlike 1 / (1 + exp(-x)).
    return np.exp(-np.logaddexp(0.0, -x))


def _solve_bias(logit, positive_rate):
    """Bias b such that mean(sigmoid(b + logit)) == positive_rate, by bisection."""
    low, high = -50.0, 50.0  # mean sigmoid is increasing in b; these bracket any rate
    for _ in range(100):
        mid = 0.5 * (low + high)
        if _sigmoid(mid + logit).mean() < positive_rate:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def _check_path(path):
    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"Data file not found: {path}")
    return path


def _check_n_rows(n_rows):
    if n_rows is not None:
        _check_int(n_rows, "n_rows", 1)


def _first_line(path):
    # pandas decompresses .gz itself; the sniffing of the first line must do the same.
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        return fh.readline().rstrip("\r\n")


def _read_csv(path, fmt, **kwargs):
    # Only the empty string means missing: never turn a value such as "NA" into NaN.
    try:
        return pd.read_csv(path, engine="c", keep_default_na=False, na_values=[""], **kwargs)
    except ValueError as exc:  # includes pandas' ParserError (ragged rows, bad numbers)
        raise ValueError(f"{path} is not in {fmt} format: {exc}") from exc
