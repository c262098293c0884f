"""The encoded fields of a frame, column by column, into the row-major arrays of
:mod:`sk_ctr.preprocessing.batch`; and the ids of bucketized values.

Shared by :class:`~sk_ctr.CTRTransformer` and the torch-free
:class:`~sk_ctr.preprocessing.encoding.RawEncoder` (numpy only). Both encode one field at a
time, and the networks take one row per sample: writing each field's ids into its column of a
row-major array is a strided write (one 8-byte element every ``8 * n_fields`` bytes), which
cost 39 ms for 39 fields of 120k rows and 610 ms of 1M rows (each column touches every cache
line of the array); writing them field-major and transposing once costs 21 and 170 ms (one
thread, 39 int64 columns; the transform before and after: ``benchmarks/checkout_comparison.py``
and docs/benchmarks.md, Prediction from raw frames).
"""

from __future__ import annotations

import numpy as np

from sk_ctr.preprocessing.batch import IDS, LENGTHS, SEQUENCES, VALUES
from sk_ctr.preprocessing.columns import _numeric_values, _reject_nan, _stored_columns
from sk_ctr.preprocessing.fields import FIRST_VALUE_ID, MISSING_ID

#: Bucket edges up to this many are counted by comparisons (one vectorised pass per edge, an
#: int8 count per row) in columns of at least :data:`COMPARED_MIN_ROWS` values; others go
#: through ``np.searchsorted``, whose binary search branches unpredictably on every value. For
#: 120k values and 15 edges (the default ``n_bins=16``) the comparisons took 0.8 ms against 3.7
#: for ``searchsorted``; at about 70 edges they cost the same. An int8 count holds up to 127.
COMPARED_EDGES_MAX = 64
#: ...and in short columns each pass's fixed cost dominates: with 15 edges, 2,000 values took
#: 35 us by comparisons against 22 by ``searchsorted``, one value 31 us against 4 (a serving
#: request), 10,000 values 80 us against 236.
COMPARED_MIN_ROWS = 4096


def encode_fields(frame, fields, lookup_of, bin_edges, scaling, sequence_ids):
    """The arrays of ``frame`` encoded field by field, as :class:`~sk_ctr.CTRTransformer` and
    :class:`~sk_ctr.preprocessing.encoding.RawEncoder` both give them.

    Parameters
    ----------
    frame : pandas.DataFrame
        Checked: it has every field's column.
    fields : sequence of Field
        The schema; within a kind, the order of its arrays' columns.
    lookup_of : callable
        ``lookup_of(name)``: the :class:`~sk_ctr.preprocessing.vocabulary.VocabularyLookup`
        of a categorical field.
    bin_edges : dict of str to ndarray
        The bucket edges of each bucketized field.
    scaling : dict of str to (float, float)
        The mean and standard deviation of each numeric field.
    sequence_ids : callable
        ``sequence_ids(frame, sequence_fields)``: ``(sequences, lengths)``.

    Returns
    -------
    dict of str to ndarray
        ``ids`` and ``values``, and ``sequences`` and ``lengths`` with sequence fields.
    """
    categorical = [field for field in fields if field.kind == "categorical"]
    numeric = [field for field in fields if field.kind == "numeric"]
    columns = _stored_columns(frame)
    arrays = {
        IDS: stack_fields(
            len(frame),
            len(categorical),
            np.int64,
            (field_ids(field, columns[field.name], lookup_of, bin_edges) for field in categorical),
        ),
        VALUES: stack_fields(
            len(frame),
            len(numeric),
            np.float32,
            (scaled_values(field, columns[field.name], scaling) for field in numeric),
        ),
    }
    sequences = [field for field in fields if field.kind == "sequence"]
    if sequences:
        arrays[SEQUENCES], arrays[LENGTHS] = sequence_ids(frame, sequences)
    return arrays


def field_ids(field, column, lookup_of, bin_edges):
    """The int64 ids of a categorical field's column (its vocabulary's lookup) or of a
    bucketized one's (:func:`bucket_ids`); ``lookup_of`` and ``bin_edges`` as in
    :func:`encode_fields`."""
    if field.source == "categorical":
        return lookup_of(field.name).column_ids(field.name, column)
    return bucket_ids(_numeric_values(field.name, column), bin_edges[field.name])


def scaled_values(field, column, scaling):
    """The standardized values of a numeric field's column; NaN is refused, naming it."""
    raw = _numeric_values(field.name, column)
    _reject_nan(field.name, raw)
    mean, std = scaling[field.name]
    return (raw - mean) / std


def stack_fields(n_samples, n_fields, dtype, columns):
    """The array of shape (n_samples, n_fields) whose column ``j`` is the ``j``-th array of
    ``columns``, written field-major and transposed once.

    Parameters
    ----------
    n_samples, n_fields : int
    dtype : numpy dtype
        Of the result; each column is cast to it as numpy assignment does.
    columns : iterable of ndarray of shape (n_samples,)
        One per field, in order; produced lazily (a generator), so that an error encoding a
        field is raised before the next is encoded.

    Returns
    -------
    ndarray of shape (n_samples, n_fields), C-contiguous
    """
    by_field = np.empty((n_fields, n_samples), dtype=dtype)
    for j, column in enumerate(columns):
        by_field[j] = column
    return np.ascontiguousarray(by_field.T)


def bucket_ids(values, edges):
    """The bucket id of each value: ``FIRST_VALUE_ID`` plus the number of ``edges`` at or
    below it (``np.searchsorted(edges, values, side="right")``), ``MISSING_ID`` for NaN.

    Parameters
    ----------
    values : ndarray of float64 of shape (n_samples,)
        Without infinities (rejected before).
    edges : ndarray of float64
        Sorted, distinct, without NaN.

    Returns
    -------
    ndarray of int64 of shape (n_samples,)
    """
    if len(edges) <= COMPARED_EDGES_MAX and len(values) >= COMPARED_MIN_ROWS:
        below = np.zeros(len(values), dtype=np.int8)
        for edge in edges:  # NaN compares False everywhere: overwritten below
            below += values >= edge
        ids = below.astype(np.int64)
        ids += FIRST_VALUE_ID
    else:
        ids = np.searchsorted(edges, values, side="right").astype(np.int64) + FIRST_VALUE_ID
    ids[np.isnan(values)] = MISSING_ID
    return ids
