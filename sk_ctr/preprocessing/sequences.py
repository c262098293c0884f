"""Sequence cells (lists, arrays, delimited strings) to flat items and padded id matrices.

A sequence column is held as two flat arrays for the whole column: every item in row order
(``items``) and the number of items of each row (``lengths``). Parsing, truncation, the
vocabulary look-up and the padding then run once over all items with numpy indexing, instead of
once per row.
"""

from __future__ import annotations

import warnings
from itertools import chain
from numbers import Number

import numpy as np
import pandas as pd

from sk_ctr.preprocessing.fields import MISSING_ID

#: Cell types that hold several items. Sets are left out on purpose: they have no order, and a
#: history's order (oldest first) decides which items are kept when it is truncated.
LIST_TYPES = (list, tuple, np.ndarray)

_MISSING, _LIST, _STRING, _OTHER = 0, 1, 2, 3


def holds_lists(column):
    """Whether ``column`` is an object column whose first non-missing cell is list-like."""
    if not pd.api.types.is_object_dtype(column.dtype) or len(column) == 0:
        return False
    first = column.iloc[0]
    if isinstance(first, LIST_TYPES):
        return True
    if not _is_missing(first):  # a scalar: decided without scanning the column
        return False
    present = column.notna().to_numpy()
    return bool(present.any()) and isinstance(column.iloc[present.argmax()], LIST_TYPES)


def _is_missing(value):
    missing = pd.isna(value)
    return isinstance(missing, (bool, np.bool_)) and bool(missing)


def split_cells(name, column, delimiter):
    """Flatten the cells of a sequence column.

    Parameters
    ----------
    name : str
        The column's name, for error messages.
    column : pandas.Series
        Cells that are lists, tuples, numpy arrays, ``delimiter``-separated strings or missing
        (NaN / None; an empty string is an empty sequence too). Items inside a list may be
        missing: they keep their position and get the missing id.
    delimiter : str

    Returns
    -------
    items : numpy.ndarray of shape (lengths.sum(),)
        Every item, row after row, each row's items in the cell's order.
    lengths : numpy.ndarray of shape (n_samples,), dtype int64

    Raises
    ------
    TypeError
        If a cell is neither list-like, a string nor missing; the message names the column.
    """
    cells = column.to_numpy(dtype=object)
    kinds = _cell_kinds(name, cells, delimiter)
    lengths = np.zeros(len(cells), dtype=np.int64)
    parts = []  # (rows, items) of the list cells and of the string cells
    list_rows = np.flatnonzero(kinds == _LIST)
    if list_rows.size:
        lists = cells[list_rows]
        lengths[list_rows] = np.frompyfunc(len, 1, 1)(lists).astype(np.int64)
        parts.append((list_rows, _concatenate(lists, int(lengths[list_rows].sum()))))
    string_rows = np.flatnonzero(kinds == _STRING)
    if string_rows.size:
        texts = cells[string_rows]
        lengths[string_rows] = np.frompyfunc(str.count, 2, 1)(texts, delimiter).astype(np.int64) + 1
        # One split of the joined text is several times faster than splitting row by row.
        items = np.array(delimiter.join(texts).split(delimiter), dtype=object)
        parts.append((string_rows, items))
    if not parts:
        return np.empty(0, dtype=object), lengths
    if len(parts) == 1:
        return parts[0][1], lengths
    # A column mixing lists and strings: put the items of both back in row order.
    rows = np.concatenate([np.repeat(r, lengths[r]) for r, _ in parts])
    items = np.concatenate([i.astype(object) for _, i in parts])
    return items[np.argsort(rows, kind="stable")], lengths


def _cell_kinds(name, cells, delimiter):
    # type() is taken per cell in C (frompyfunc); each distinct type is then classified once.
    kinds = np.full(len(cells), _MISSING, dtype=np.int8)
    present = np.flatnonzero(~pd.isna(cells))
    codes, types = pd.factorize(np.frompyfunc(type, 1, 1)(cells[present]))
    kind_of_type = np.array(
        [
            _LIST if issubclass(t, LIST_TYPES) else _STRING if issubclass(t, str) else _OTHER
            for t in types
        ],
        dtype=np.int8,
    )
    kinds[present] = kind_of_type[codes]
    bad = np.flatnonzero(kinds == _OTHER)
    if bad.size:
        row = bad[0]
        raise TypeError(
            f"Column {name!r} is a sequence column, but row {row} holds "
            f"{type(cells[row]).__name__} {cells[row]!r:.60}; each cell must be a list, tuple, "
            f"numpy array, a {delimiter!r}-delimited string or missing."
        )
    strings = np.flatnonzero(kinds == _STRING)
    kinds[strings[cells[strings] == ""]] = _MISSING  # "" is an empty sequence, as NaN is
    return kinds


def _concatenate(lists, n_items):
    arrays = [cell for cell in lists if len(cell)]
    if arrays and all(isinstance(cell, np.ndarray) and cell.ndim == 1 for cell in arrays):
        try:
            # Typed arrays stay typed (and concatenate 10x faster than they iterate).
            return np.concatenate(arrays)
        except (TypeError, ValueError):  # dtypes without a common type (numbers and strings)
            pass
    return np.fromiter(chain.from_iterable(lists), dtype=object, count=n_items)


def keep_most_recent(items, lengths, max_length):
    """Keep the last ``max_length`` items of every row (the most recent: cells are oldest first).

    Parameters
    ----------
    items : numpy.ndarray of shape (lengths.sum(),)
    lengths : numpy.ndarray of shape (n_samples,), dtype int64
    max_length : int

    Returns
    -------
    items : numpy.ndarray of shape (kept_lengths.sum(),)
    kept_lengths : numpy.ndarray of shape (n_samples,), dtype int64
    """
    if lengths.max(initial=0) <= max_length:
        return items, lengths
    kept = np.minimum(lengths, max_length)
    first_kept = np.cumsum(lengths) - kept  # position in ``items`` of each row's first kept item
    return items[_flat_positions(kept, first_kept)], kept


def pad(ids, lengths, width):
    """Scatter the flat ``ids`` into a (n_samples, width) matrix, right-padded with 0.

    Parameters
    ----------
    ids : numpy.ndarray of shape (lengths.sum(),), dtype int64
    lengths : numpy.ndarray of shape (n_samples,), dtype int64
        Each at most ``width``.
    width : int

    Returns
    -------
    numpy.ndarray of shape (n_samples, width), dtype int64
    """
    matrix = np.full((len(lengths), width), MISSING_ID, dtype=np.int64)
    matrix.ravel()[_flat_positions(lengths, np.arange(len(lengths)) * width)] = ids
    return matrix


def _flat_positions(lengths, firsts):
    """``firsts[i] + 0, .., firsts[i] + lengths[i] - 1`` for every row ``i``, concatenated
    (one ``repeat``: the positions where a row's items go, or come from)."""
    starts = np.cumsum(lengths) - lengths
    return np.arange(int(lengths.sum())) + np.repeat(firsts - starts, lengths)


def _with_history_items(name, column, histories):
    """The candidate's values followed by its histories' items: one vocabulary for both."""
    if not histories:
        return column
    _check_history_types(name, column, histories)
    parts = [pd.Series(items, dtype=object) for _, items in histories]
    return pd.concat([column.astype(object), *parts], ignore_index=True)


def _check_history_types(name, column, histories):
    """Warn when a candidate's values and its histories' items are of different types."""
    value = _first_present(column.iloc[:1000].to_numpy(dtype=object))
    for history, items in histories:
        item = _first_present(items)
        if value is not None and item is not None and _kind(value) != _kind(item):
            # Typically strings split from "12|7" against an integer candidate column read
            # from a CSV: "12" != 12, so nothing would be shared, silently.
            warnings.warn(
                f"The history {history!r} holds {_kind(item)} items (e.g. {item!r}) but its "
                f"candidate {name!r} holds {_kind(value)} values (e.g. {value!r}); they only "
                "share ids where the values are equal and of the same type.",
                UserWarning,
                stacklevel=4,
            )


def _first_present(values):
    present = np.flatnonzero(~pd.isna(values[:1000]))  # a prefix tells the type
    return values[present[0]] if present.size else None


def _kind(value):
    if isinstance(value, str):
        return "string"
    return "numeric" if isinstance(value, Number) else type(value).__name__


def sequence_ids(frame, seq_fields, width, delimiter, lookup_of):
    """The padded ids and the lengths of the sequence columns of ``frame``.

    Each cell keeps its ``width`` most recent items (the last ones); items are looked up in
    the vocabulary ``lookup_of(field.shares or field.name)`` (a
    :class:`~sk_ctr.preprocessing.vocabulary.VocabularyLookup`), a missing item takes
    ``MISSING_ID``. Shared by :class:`~sk_ctr.preprocessing.CTRTransformer` and the serving
    encoding, which must not import scikit-learn.

    Returns
    -------
    sequences : ndarray of shape (n_samples, n_sequence_fields, width), int64
    lengths : ndarray of shape (n_samples, n_sequence_fields), int64
    """
    sequences = np.empty((len(frame), len(seq_fields), width), dtype=np.int64)
    lengths = np.empty((len(frame), len(seq_fields)), dtype=np.int64)
    for j, field in enumerate(seq_fields):
        cells = split_cells(field.name, frame[field.name], delimiter)
        items, lengths[:, j] = keep_most_recent(*cells, width)
        try:
            codes, uniques = pd.factorize(items)
        except TypeError as exc:
            raise TypeError(
                f"Column {field.name!r} holds unhashable items (lists inside lists?); each "
                "item of a sequence must be a single value."
            ) from exc
        lookup = lookup_of(field.shares or field.name)
        unique_ids = lookup.value_ids(field.name, np.asarray(uniques, dtype=object))
        ids = np.append(unique_ids, MISSING_ID)[codes]  # code -1 (missing) takes the last
        sequences[:, j] = pad(ids, lengths[:, j], width)
    return sequences, lengths
