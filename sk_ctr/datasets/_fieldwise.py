"""Readers for field-indexed CTR files (libFM / libSVM one-hot), e.g. Frappe and iPinYou.

In these files every line is ``label idx:1 idx:1 ...``: one one-hot feature per field, in a
fixed field order, each identified by a *global* index (the fields own disjoint index ranges).
The readers turn position ``j`` of every line back into one categorical column, so the result
is the same ``(X, y)`` as the other loaders of :mod:`sk_ctr.datasets`: ``X`` a DataFrame of
``object`` string categories and ``y`` an ``int64`` array of 0/1 labels.

This module only needs numpy and pandas (no torch).
"""

from __future__ import annotations

import gzip
import io
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from sk_ctr.datasets._utils import _check_int, _check_n_rows, _check_path

__all__ = ["load_libfm", "load_libsvm_fields", "load_frappe", "load_ipinyou"]

# Frappe as prepared for NFM/AFM (He & Chua, 2017; BARS "Frappe_x1"): the field order of every
# line and the field sizes of the upstream data README ("Total features: 5382"), which fix the
# global index range of each field.
_FRAPPE_FIELDS = (
    "user", "item", "daytime", "weekday", "isweekend", "homework", "cost", "weather", "country",
    "city",
)  # fmt: skip
_FRAPPE_FIELD_SIZES = (957, 4082, 7, 7, 2, 3, 2, 9, 80, 233)

_LIBFM_FORMAT = "libFM format (`label index:1 index:1 ...`, one one-hot feature per field)"
_COLON_TO_SPACE = bytes.maketrans(b":", b" ")


# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------


def _open_binary(path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


class _ColonAsSpace(io.RawIOBase):
    """A binary stream that reads ``fh`` with every ``:`` turned into a space.

    ``label i:v j:w`` then reads as the whitespace-separated numbers ``label i v j w``, which
    pandas' C parser splits at full speed, streaming, without a Python loop over lines.
    """

    def __init__(self, fh):
        self._fh = fh

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self._fh.read(len(buffer)).translate(_COLON_TO_SPACE)
        buffer[: len(data)] = data
        return len(data)


def _is_number(text):
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _first_malformed_line(path, n_fields, n_rows):
    """Find the first line that breaks the libFM layout, by a plain scan of the file.

    Only called once the fast parser has failed, to say exactly which line is wrong and how.
    Returns ``(line_number, message)`` or ``None``.
    """
    expected = n_fields
    n_seen = 0
    with _open_binary(path) as fh:
        for line_number, raw in enumerate(fh, start=1):
            tokens = raw.decode("utf-8", errors="replace").split()
            if not tokens:
                continue  # blank lines are skipped, as by the fast parser
            if n_rows is not None and n_seen == n_rows:
                return None
            n_seen += 1
            if not _is_number(tokens[0]):
                return line_number, f"the label {tokens[0]!r} is not a number"
            for token in tokens[1:]:
                index, colon, value = token.partition(":")
                if not (colon and index.isdigit() and _is_number(value)):
                    return line_number, (
                        f"expected `index:value` pairs with a non-negative integer index, "
                        f"found {token!r}"
                    )
            if expected is None:
                expected = len(tokens) - 1
            if expected == 0:
                return line_number, "expected index:value pairs after the label, found none"
            if len(tokens) - 1 != expected:
                origin = "n_fields" if n_fields is not None else "the first line"
                return line_number, (
                    f"expected {expected} index:value pairs (one per field, as in {origin}), "
                    f"found {len(tokens) - 1}"
                )
    return None


def _line_of_row(path, row):
    """Line number (from 1) of data row ``row`` (from 0): blank lines are not data rows."""
    n_seen = 0
    with _open_binary(path) as fh:
        for line_number, raw in enumerate(fh, start=1):
            if raw.strip():
                if n_seen == row:
                    return line_number
                n_seen += 1
    return row + 1


def _read_libfm(path, n_fields, n_rows):
    """Parse a libFM file into labels (n,) in {0, 1} and global indices (n, n_fields)."""
    path = _check_path(path)
    _check_n_rows(n_rows)
    if n_fields is not None:
        n_fields = _check_int(n_fields, "n_fields", 1)

    def malformed(detail=None):
        found = _first_malformed_line(path, n_fields, n_rows)
        if found is not None:
            line_number, message = found
            return ValueError(f"{path} is not in {_LIBFM_FORMAT}: line {line_number}: {message}.")
        return ValueError(f"{path} is not in {_LIBFM_FORMAT}: {detail}")

    try:
        with _open_binary(path) as fh:
            table = pd.read_csv(
                io.BufferedReader(_ColonAsSpace(fh)),
                sep=r"\s+",
                header=None,
                dtype=np.float64,
                nrows=n_rows,
                engine="c",
            )
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is not in {_LIBFM_FORMAT}: the file is empty.") from None
    except ValueError as exc:  # ParserError (ragged rows) or a token that is not a number
        raise malformed(exc) from exc
    values = table.to_numpy()
    n_columns = values.shape[1]
    if n_columns < 3 or n_columns % 2 == 0 or np.isnan(values).any():
        raise malformed(f"{n_columns} numbers per line after splitting at spaces and colons.")
    if n_fields is not None and n_columns != 1 + 2 * n_fields:
        raise malformed(f"expected {n_fields} index:value pairs per line.")

    labels, indices, feature_values = values[:, 0], values[:, 1::2], values[:, 2::2]

    def fail(row, message):
        line = _line_of_row(path, row)
        return ValueError(f"{path} is not in {_LIBFM_FORMAT}: line {line}: {message}.")

    bad = ~np.isin(labels, (-1.0, 0.0, 1.0))
    if bad.any():
        row = int(bad.argmax())
        raise fail(row, f"the label must be -1/1 or 0/1, found {labels[row]:g}")
    if (labels == -1).any() and (labels == 0).any():
        row = int(max((labels == -1).argmax(), (labels == 0).argmax()))
        raise fail(row, "the file mixes the labels -1 and 0 (expected -1/1 or 0/1)")
    bad = (indices < 0) | (indices != np.floor(indices))
    if bad.any():
        row = int(bad.any(axis=1).argmax())
        raise fail(row, f"found the index {indices[bad][0]:g}: indices are integers >= 0")
    bad = feature_values != 1
    if bad.any():
        row = int(bad.any(axis=1).argmax())
        raise fail(
            row,
            f"found the feature value {feature_values[bad][0]:g}: every feature must be one-hot "
            "(`index:1`); real-valued features are not supported by this field-wise reader",
        )
    indices = indices.astype(np.int64)
    _check_one_position_per_index(path, indices, fail)
    return (labels == 1).astype(np.int64), indices


def _check_one_position_per_index(path, indices, fail):
    """Each global index must always sit at the same position: a position is a field."""
    uniques = [np.unique(indices[:, j]) for j in range(indices.shape[1])]
    values, counts = np.unique(np.concatenate(uniques), return_counts=True)
    if (counts > 1).any():
        index = values[counts.argmax()]
        first, second = [j for j, unique in enumerate(uniques) if index in unique][:2]
        # Report the later of the two first occurrences, pointing back to the earlier one.
        (early_row, early_j), (late_row, late_j) = sorted(
            (int((indices[:, j] == index).argmax()), j) for j in (first, second)
        )
        raise fail(
            late_row,
            f"the feature index {index} is at position {late_j + 1} here but at position "
            f"{early_j + 1} on line {_line_of_row(path, early_row)}: the features are not one "
            "per field in a fixed field order",
        )


def _index_frame(indices, names):
    """One object column of index strings per position."""
    columns = {}
    for j, name in enumerate(names):
        # Convert each distinct index once, then broadcast through the codes.
        codes, uniques = pd.factorize(indices[:, j])
        labels = np.array([str(index) for index in uniques], dtype=object)
        columns[name] = pd.Series(labels[codes], dtype=object)
    return pd.DataFrame(columns)


def _field_names(field_names, n_fields):
    if field_names is None:
        return [f"field_{j}" for j in range(n_fields)]
    names = list(field_names)
    if len(names) != n_fields or len(set(names)) != len(names):
        raise ValueError(
            f"field_names must be {n_fields} distinct names (one per feature of a line), "
            f"got {field_names!r}."
        )
    return names


# --------------------------------------------------------------------------------------
# Public readers
# --------------------------------------------------------------------------------------


def load_libfm(path, n_fields=None, field_names=None, n_rows=None):
    """Load a one-hot libFM / libSVM file whose lines hold one feature per field.

    Every line is ``label index:1 index:1 ...`` (spaces or tabs), with the same number of
    features on every line, one per field in a fixed field order, each feature a *global* index
    (the fields own disjoint index ranges), as in the files prepared for NFM/AFM (Frappe,
    MovieLens tag) and for FNN/PNN (iPinYou). Position ``j`` of the lines becomes the
    categorical column ``j``; its cells are the global indices as strings. Labels ``-1``/``1``
    (libFM) or ``0``/``1`` (libSVM) are returned as 0/1. ``.gz`` files are decompressed and
    blank lines are skipped.

    The layout is checked: a global index found at two different positions means the file is
    not one feature per field in a fixed order, and is an error.

    Parameters
    ----------
    path : str or path-like
        File to read.
    n_fields : int or None, default=None
        Number of features (fields) per line. ``None`` takes it from the first line.
    field_names : sequence of str or None, default=None
        Names of the columns, one per field in file order. ``None`` names them
        ``field_0, field_1, ...``.
    n_rows : int or None, default=None
        Read only the first ``n_rows`` data rows.

    Returns
    -------
    X : pandas.DataFrame of shape (n_rows, n_fields)
        ``object`` columns of global feature indices as strings (e.g. ``"5039"``).
    y : ndarray of shape (n_rows,), dtype int64
        The labels as 0/1.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not in that format; the message says what was expected, what was
        found and on which line (a token that is not ``index:value``, a different number of
        features, a label other than -1/0/1, a feature value other than 1, an index at two
        positions). Also if ``field_names`` does not match the number of fields.

    Examples
    --------
    >>> from sk_ctr.datasets import load_libfm
    >>> X, y = load_libfm("frappe.test.libfm")  # doctest: +SKIP
    >>> list(X.columns[:3]), X.iloc[0, :3].tolist()  # doctest: +SKIP
    (['field_0', 'field_1', 'field_2'], ['204', '4798', '5041'])
    """
    labels, indices = _read_libfm(path, n_fields, n_rows)
    names = _field_names(field_names, indices.shape[1])
    return _index_frame(indices, names), labels


def _read_feature_index(path):
    """Read a ``field:value<TAB>index`` map into per-index field codes, field names, values."""
    path = _check_path(path)
    fields, values, indices = [], [], []
    # A plain loop: splitting at the first colon with pandas' string methods is slower here.
    with open(path, encoding="utf-8") as fh:
        for line_number, line in enumerate(fh, start=1):
            feature, tab, index = line.rstrip("\r\n").rpartition("\t")
            field, colon, value = feature.partition(":")
            if not (tab and colon and field and index.isdigit()):
                raise ValueError(
                    f"{path} is not a feature index (`field:value<TAB>index` on every line): "
                    f"line {line_number} is {line.rstrip(chr(10))!r}."
                )
            fields.append(field)
            values.append(value)
            indices.append(int(index))
    if not indices:
        raise ValueError(f"{path} is not a feature index: the file is empty.")
    indices = np.asarray(indices, dtype=np.int64)
    unique, counts = np.unique(indices, return_counts=True)
    if (counts > 1).any():
        raise ValueError(
            f"{path} is not a feature index: the index {unique[counts.argmax()]} is given twice."
        )
    field_codes, field_names = pd.factorize(np.asarray(fields, dtype=object))
    field_of_index = np.full(indices.max() + 1, -1, dtype=np.int64)
    field_of_index[indices] = field_codes
    value_of_index = np.empty(indices.max() + 1, dtype=object)
    value_of_index[indices] = values
    return path, field_of_index, np.asarray(field_names, dtype=object), value_of_index


def _decode_fields(path, n_rows, feature_map):
    """Read a one-hot libSVM file and decode each position to a raw-valued field column."""
    labels, indices = _read_libfm(path, None, n_rows)
    path = Path(os.fspath(path))
    map_path, field_of_index, field_names, value_of_index = feature_map
    mismatch = f"the feature index {map_path} does not describe {path}"

    known = indices < len(field_of_index)
    known[known] = field_of_index[indices[known]] >= 0
    if not known.all():
        row = int((~known).any(axis=1).argmax())
        raise ValueError(
            f"{mismatch}: line {_line_of_row(path, row)} has the index "
            f"{indices[~known][0]}, which it does not list."
        )
    columns = {}
    for j in range(indices.shape[1]):
        fields = field_of_index[indices[:, j]]
        if (fields != fields[0]).any():
            row = int((fields != fields[0]).argmax())
            raise ValueError(
                f"{mismatch}: position {j + 1} is field {field_names[fields[0]]!r} on line "
                f"{_line_of_row(path, 0)} but {field_names[fields[row]]!r} on line "
                f"{_line_of_row(path, row)}."
            )
        name = field_names[fields[0]]
        if name in columns:
            raise ValueError(f"{mismatch}: field {name!r} is at two positions of the lines.")
        columns[name] = pd.Series(value_of_index[indices[:, j]], dtype=object)
    return pd.DataFrame(columns), labels


def load_libsvm_fields(path, feature_index, n_rows=None):
    """Load a one-hot libSVM file and decode it to raw categorical columns with its feature map.

    The data file is as read by :func:`load_libfm` (``label index:1 ...``, one feature per
    field in a fixed order, labels 0/1 or -1/1). ``feature_index`` is the map from raw values
    to global indices written by the preprocessing that made the file, one
    ``field:value<TAB>index`` per line (split at the first colon), as ``featindex.txt`` of
    ``wnzhang/make-ipinyou-data`` (e.g. ``weekday:2<TAB>1``, ``slotprice:1-10<TAB>133461``,
    ``<field>:other`` for the rare values of a field). Every position of the lines must
    decode to a single field, which names the column; the cells are the raw values.

    Parameters
    ----------
    path : str or path-like
        Data file to read (``.gz`` is decompressed).
    feature_index : str or path-like
        The ``field:value<TAB>index`` map of that file.
    n_rows : int or None, default=None
        Read only the first ``n_rows`` data rows.

    Returns
    -------
    X : pandas.DataFrame of shape (n_rows, n_fields)
        One ``object`` column of raw value strings per field, named by the feature index, in
        file order.
    y : ndarray of shape (n_rows,), dtype int64
        The labels as 0/1.

    Raises
    ------
    FileNotFoundError
        If ``path`` or ``feature_index`` does not exist.
    ValueError
        If the data file is not in one-hot libSVM format (see :func:`load_libfm`), the feature
        index is malformed, an index of the data is missing from it, or a position of the lines
        decodes to several fields or two positions to the same field (a feature index that
        does not belong to the data file); the message gives the line.

    Examples
    --------
    >>> from sk_ctr.datasets import load_libsvm_fields
    >>> X, y = load_libsvm_fields("train.fm.txt", "featindex.fm.txt")  # doctest: +SKIP
    >>> list(X.columns[:3])  # doctest: +SKIP
    ['weekday', 'hour', 'useragent']
    """
    return _decode_fields(path, n_rows, _read_feature_index(feature_index))


def _check_directory(directory):
    directory = Path(os.fspath(directory))
    if not directory.is_dir():
        raise FileNotFoundError(f"Data directory not found: {directory}")
    return directory


def load_frappe(directory):
    """Load the Frappe CTR data in its NFM/AFM libFM split (BARS ``Frappe_x1``).

    Frappe (Baltrunas et al., 2015) is an app-usage log of 957 users and 4,082 apps in
    context, turned into CTR data by He & Chua (NFM, SIGIR 2017): each log is a positive, two
    negatives are sampled per positive, and the 288,609 rows are split 7:2:1 into
    ``frappe.train.libfm``, ``frappe.validation.libfm`` and ``frappe.test.libfm``. As the
    benchmark issue asks, this trains on the *validation* part and tests on the *test* part
    (the train part is not needed and need not be present).

    The ten columns are the fields ``user, item, daytime, weekday, isweekend, homework, cost,
    weather, country, city``; their cells are the global feature indices as strings, and each
    field's indices are checked to lie in its range (5,382 features in all, upstream README).

    Parameters
    ----------
    directory : str or path-like
        Folder holding ``frappe.validation.libfm`` and ``frappe.test.libfm``.

    Returns
    -------
    X_train : pandas.DataFrame of shape (57722, 10)
        The validation part.
    y_train : ndarray of shape (57722,), dtype int64
    X_test : pandas.DataFrame of shape (28860, 10)
        The test part.
    y_test : ndarray of shape (28860,), dtype int64

    Raises
    ------
    FileNotFoundError
        If the directory or one of the two files does not exist.
    ValueError
        If a file is not in libFM format (see :func:`load_libfm`) or not Frappe's ten fields
        in their index ranges.

    Examples
    --------
    >>> from sk_ctr.datasets import load_frappe
    >>> X_train, y_train, X_test, y_test = load_frappe("data/frappe")  # doctest: +SKIP
    """
    directory = _check_directory(directory)
    upper = np.cumsum(_FRAPPE_FIELD_SIZES)
    lower = upper - np.asarray(_FRAPPE_FIELD_SIZES)
    parts = []
    for name in ("frappe.validation.libfm", "frappe.test.libfm"):
        path = directory / name
        labels, indices = _read_libfm(path, len(_FRAPPE_FIELDS), None)
        outside = (indices < lower) | (indices >= upper)
        if outside.any():
            row, j = np.argwhere(outside)[0]
            raise ValueError(
                f"{path} is not Frappe in its NFM libFM encoding: line {_line_of_row(path, row)} "
                f"has the index {indices[row, j]} at position {j + 1}, where the field "
                f"{_FRAPPE_FIELDS[j]!r} has the indices {lower[j]}-{upper[j] - 1}."
            )
        parts += [_index_frame(indices, _FRAPPE_FIELDS), labels]
    return tuple(parts)


def load_ipinyou(directory):
    """Load the iPinYou sample of the FNN/PNN code (``wnzhang/deep-ctr``, advertiser 2997).

    The folder holds ``train.fm.txt`` and ``test.fm.txt`` (one-hot libSVM, 16 fields, labels
    0/1) and their feature map ``featindex.fm.txt``; both parts are decoded with it by
    :func:`load_libsvm_fields` into 16 raw categorical columns: ``weekday, hour, useragent,
    IP, region, city, adexchange, domain, slotid, slotwidth, slotheight, slotvisibility,
    slotformat, creative, advertiser, slotprice``.

    Parameters
    ----------
    directory : str or path-like
        Folder holding ``train.fm.txt``, ``test.fm.txt`` and ``featindex.fm.txt``.

    Returns
    -------
    X_train : pandas.DataFrame of shape (26773, 16)
    y_train : ndarray of shape (26773,), dtype int64
    X_test : pandas.DataFrame of shape (21150, 16)
    y_test : ndarray of shape (21150,), dtype int64

    Raises
    ------
    FileNotFoundError
        If the directory or one of the three files does not exist.
    ValueError
        If a file is not in the expected format (see :func:`load_libsvm_fields`) or the two
        parts decode to different fields.

    Examples
    --------
    >>> from sk_ctr.datasets import load_ipinyou
    >>> X_train, y_train, X_test, y_test = load_ipinyou("data/ipinyou")  # doctest: +SKIP
    """
    directory = _check_directory(directory)
    feature_map = _read_feature_index(directory / "featindex.fm.txt")
    X_train, y_train = _decode_fields(directory / "train.fm.txt", None, feature_map)
    X_test, y_test = _decode_fields(directory / "test.fm.txt", None, feature_map)
    if list(X_train.columns) != list(X_test.columns):
        raise ValueError(
            f"The train and test files in {directory} decode to different fields: "
            f"{list(X_train.columns)} and {list(X_test.columns)}."
        )
    return X_train, y_train, X_test, y_test
