"""Readers of the Criteo and Avazu files (tab- or comma-separated logs)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sk_ctr.datasets._utils import _check_n_rows, _check_path, _first_line, _read_csv

_CRITEO_INT = [f"I{i}" for i in range(1, 14)]
_CRITEO_CAT = [f"C{i}" for i in range(1, 27)]
_CRITEO_COLUMNS = ["label", *_CRITEO_INT, *_CRITEO_CAT]

_AVAZU_COLUMNS = [
    "id", "click", "hour", "C1", "banner_pos", "site_id", "site_domain", "site_category",
    "app_id", "app_domain", "app_category", "device_id", "device_ip", "device_model",
    "device_type", "device_conn_type", "C14", "C15", "C16", "C17", "C18", "C19", "C20", "C21",
]  # fmt: skip


# --------------------------------------------------------------------------------------
# Loaders
# --------------------------------------------------------------------------------------


def load_criteo(path, n_rows=None):
    """Load a file in the Criteo (Kaggle Display Advertising Challenge) format.

    The raw format is tab-separated without header, 40 columns: ``label``, the integer
    count features ``I1..I13`` and the hashed categorical features ``C1..C26``; an empty
    field means missing. A comma-separated file whose first line is the header
    ``label,I1,...,C26`` (as in the DeepCTR sample) is accepted too: the separator and the
    header are detected from the first line. ``.gz`` files are decompressed.

    Parameters
    ----------
    path : str or path-like
        File to read.
    n_rows : int or None, default=None
        Read only the first ``n_rows`` data rows.

    Returns
    -------
    X : pandas.DataFrame of shape (n_rows, 39)
        ``I1..I13`` as float64 and ``C1..C26`` as object strings; NaN where missing.
    y : ndarray of shape (n_rows,), dtype int64
        The click labels.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not in Criteo format (wrong number of columns or header, a label
        that is not 0/1, non-numeric integer features).

    Examples
    --------
    >>> from sk_ctr.datasets import load_criteo
    >>> X, y = load_criteo("train.txt", n_rows=100_000)  # doctest: +SKIP
    """
    path = _check_path(path)
    _check_n_rows(n_rows)
    first = _first_line(path)
    sep = "\t" if "\t" in first else ","
    sep_name = "tab" if sep == "\t" else "comma"
    fields = first.split(sep)
    if len(fields) != len(_CRITEO_COLUMNS):
        hint = " (the Kaggle test.txt has no label column)" if len(fields) == 39 else ""
        raise ValueError(
            f"{path} is not in Criteo format: expected 40 {sep_name}-separated columns "
            f"(label, I1-I13, C1-C26), found {len(fields)}{hint}."
        )
    has_header = fields[0].strip().lower() == "label"
    if has_header and [name.strip() for name in fields] != _CRITEO_COLUMNS:
        raise ValueError(
            f"{path} is not in Criteo format: expected the header label, I1-I13, C1-C26, "
            f"found {fields}."
        )
    dtype = {"label": np.float64, **dict.fromkeys(_CRITEO_INT, np.float64)}
    dtype.update(dict.fromkeys(_CRITEO_CAT, object))
    df = _read_csv(
        path,
        "Criteo",
        sep=sep,
        header=0 if has_header else None,
        names=_CRITEO_COLUMNS,
        dtype=dtype,
        nrows=n_rows,
    )
    label = df.pop("label")
    bad = ~label.isin([0.0, 1.0])
    if bad.any():
        raise ValueError(
            f"{path} is not in Criteo format: the label (first column) must be 0 or 1, "
            f"found {label[bad].iloc[0]!r} in data row {bad.to_numpy().argmax() + 1}."
        )
    return df, label.to_numpy(dtype=np.int64)


def load_avazu(path, n_rows=None):
    """Load a file in the Avazu (Kaggle Click-Through Rate Prediction) training format.

    The format is comma-separated with a header: ``id, click, hour, C1, banner_pos,
    site_id, site_domain, site_category, app_id, app_domain, app_category, device_id,
    device_ip, device_model, device_type, device_conn_type, C14..C21``. ``id`` is dropped
    and ``click`` becomes ``y``. All other columns are categorical and are kept as strings,
    also those holding integer codes (``C1``, ``banner_pos``, ``C14``...), so that they are
    encoded as categories rather than used as numbers.

    ``hour`` (``YYMMDDHH``) is replaced, at its position, by two categorical columns, as is
    common practice: ``hour_of_day`` (``"00"``..``"23"``) and ``weekday`` (``"0"`` =
    Monday .. ``"6"`` = Sunday). The raw date would only identify the day, which does not
    generalise to a later test period.

    Parameters
    ----------
    path : str or path-like
        File to read (``.gz`` is decompressed).
    n_rows : int or None, default=None
        Read only the first ``n_rows`` data rows.

    Returns
    -------
    X : pandas.DataFrame of shape (n_rows, 23)
        All columns are object strings.
    y : ndarray of shape (n_rows,), dtype int64
        The click labels.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the header lacks Avazu columns (e.g. ``click`` in the unlabelled test file), the
        label is not 0/1 or ``hour`` is not a valid ``YYMMDDHH`` value.

    Examples
    --------
    >>> from sk_ctr.datasets import load_avazu
    >>> X, y = load_avazu("train.gz", n_rows=100_000)  # doctest: +SKIP
    """
    path = _check_path(path)
    _check_n_rows(n_rows)
    header = [name.strip() for name in _first_line(path).split(",")]
    missing = [name for name in _AVAZU_COLUMNS if name not in header]
    if missing:
        raise ValueError(
            f"{path} is not in Avazu format: missing column(s) {missing} in the header "
            f"(found {len(header)} comma-separated columns: {header[:5]}...)."
        )
    df = _read_csv(path, "Avazu", dtype=object, nrows=n_rows)
    df.columns = df.columns.str.strip()
    click = df.pop("click")
    bad = ~click.isin(["0", "1"])
    if bad.any():
        raise ValueError(
            f"{path} is not in Avazu format: click must be 0 or 1, found "
            f"{click[bad].iloc[0]!r} in data row {bad.to_numpy().argmax() + 1}."
        )
    df = df.drop(columns="id")

    # Parse each distinct hour once: the full training set has 40M rows but only 240 hours.
    codes, hours = pd.factorize(df["hour"])
    if (codes < 0).any():
        raise ValueError(f"{path} is not in Avazu format: hour is missing in some rows.")
    stamps = pd.to_datetime(pd.Series(hours), format="%y%m%d%H", errors="coerce")
    if stamps.isna().any():
        bad_hour = hours[stamps.isna().to_numpy()][0]
        raise ValueError(
            f"{path} is not in Avazu format: hour must be YYMMDDHH, found {bad_hour!r}."
        )
    hour_of_day = stamps.dt.strftime("%H").to_numpy(dtype=object)
    weekday = stamps.dt.day_of_week.astype(str).to_numpy(dtype=object)
    position = df.columns.get_loc("hour")
    df = df.drop(columns="hour")
    df.insert(position, "weekday", pd.Series(weekday[codes], index=df.index, dtype=object))
    df.insert(position, "hour_of_day", pd.Series(hour_of_day[codes], index=df.index, dtype=object))
    return df, click.to_numpy().astype(np.int64)
