"""The field schema and the encoded data that flows from the transformer to the networks.

Nothing here knows torch: a :class:`FieldData` is a mapping of equal-length numpy arrays that
scikit-learn can slice (cross-validation), skorch can batch and pickle can store.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Id of a missing value (NaN / None) in every categorical field; also the padding id of
#: sequence fields.
MISSING_ID = 0
#: Id of a value that was unseen at fit time or rarer than ``min_frequency`` ("other").
OTHER_ID = 1
#: The first id given to a real value of the vocabulary.
FIRST_VALUE_ID = 2


@dataclass(frozen=True)
class Field:
    """One input field as the networks see it.

    Parameters
    ----------
    name : str
        The column it came from.
    kind : {"categorical", "numeric", "sequence"}
        ``"categorical"`` fields carry an id per row (bucketized numeric columns included);
        ``"numeric"`` fields carry a standardized value that scales one embedding vector;
        ``"sequence"`` fields carry a padded list of ids per row (a user's behaviour history,
        a multi-valued column).
    vocab_size : int
        Number of ids of the field, reserved ids included (1 for a numeric field). A sequence
        field that shares a vocabulary has the vocabulary's size.
    offset : int
        Row of the field's first id in the table shared by all fields of the same kind. The
        categorical fields and the sequence fields with a vocabulary of their own share one
        table (categorical fields first); a sequence field that shares a vocabulary has the
        offset of the field it shares it with.
    source : {"categorical", "bucketized", "numeric", "sequence"}
        How the column was encoded.
    shares : str or None, default=None
        For a behaviour history (DIN section 4.2): the candidate column whose vocabulary, and
        therefore embedding rows, the history uses, so that the same item has the same vector
        in the history and as the candidate.
    """

    name: str
    kind: str
    vocab_size: int
    offset: int
    source: str
    shares: str | None = None


class FieldData(dict):
    """Encoded fields: a dict of equal-length arrays plus the schema that produced them.

    Keys
    ----
    ``"ids"`` : int64 array of shape (n_samples, n_categorical_fields)
        Per-field local ids (0 = missing, 1 = other / unseen, 2.. = vocabulary).
    ``"values"`` : float32 array of shape (n_samples, n_numeric_fields)
        Standardized values of the numeric fields.
    ``"sequences"`` : int64 array of shape (n_samples, n_sequence_fields, sequence_length)
        Only when there are sequence fields. Per-item local ids (0 = padding / missing,
        1 = other / unseen, 2.. = vocabulary), oldest first, right-padded with 0.
    ``"lengths"`` : int64 array of shape (n_samples, n_sequence_fields)
        Only when there are sequence fields. Number of real items of each row and field;
        positions from ``lengths`` on are padding.

    Other keys (``"sample_weight"``) may be attached by an estimator. Indexing with a string
    returns that array; any other index (int array, slice, boolean mask) selects rows of every
    array, so scikit-learn's cross-validation can split a ``FieldData`` like a numpy array.

    Parameters
    ----------
    arrays : dict of str to numpy.ndarray
    schema : tuple of Field
        Categorical fields first, then numeric fields, then sequence fields, in column order
        within each kind.
    """

    def __init__(self, arrays, schema):
        super().__init__(arrays)
        self.schema = tuple(schema)
        lengths = {len(v) for v in self.values()}
        if len(lengths) > 1:
            raise ValueError(f"FieldData arrays have different lengths: {sorted(lengths)}")

    def __getitem__(self, key):
        if isinstance(key, str):
            return super().__getitem__(key)
        if isinstance(key, tuple):  # sklearn's _safe_indexing passes (rows, Ellipsis)
            key = key[0]
        if isinstance(key, (int, np.integer)):
            key = slice(key, key + 1 if key != -1 else None)
        return FieldData({k: v[key] for k, v in self.items()}, self.schema)

    def __len__(self):
        return len(next(iter(self.values()))) if dict.__len__(self) else 0

    @property
    def shape(self):
        """``(n_samples,)``: lets sklearn count samples without unpacking the dict."""
        return (len(self),)

    def __reduce__(self):
        return (FieldData, (dict(self), self.schema))

    def __repr__(self):
        parts = ", ".join(f"{k}: {v.dtype}{v.shape}" for k, v in self.items())
        return f"FieldData(n_samples={len(self)}, n_fields={len(self.schema)}, {parts})"

    @property
    def categorical_fields(self):
        """The fields stored in ``self["ids"]``, in column order."""
        return tuple(f for f in self.schema if f.kind == "categorical")

    @property
    def numeric_fields(self):
        """The fields stored in ``self["values"]``, in column order."""
        return tuple(f for f in self.schema if f.kind == "numeric")

    @property
    def sequence_fields(self):
        """The fields stored in ``self["sequences"]`` and ``self["lengths"]``, in that order."""
        return tuple(f for f in self.schema if f.kind == "sequence")
