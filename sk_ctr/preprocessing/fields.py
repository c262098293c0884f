"""The field schema and the encoded data that flows from the transformer to the networks.

Nothing here knows torch: a :class:`FieldData` is a mapping of equal-length numpy arrays that
scikit-learn can slice (cross-validation), skorch can batch and pickle can store.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

import numpy as np

from sk_ctr.preprocessing.batch import IDS, SEQUENCES, VALUES

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
    source : {"categorical", "bucketized", "numeric", "sequence"}
        How the column was encoded. This and the following parameters are keyword-only.
    shares : str or None, default=None
        For a behaviour history (DIN section 4.2): the candidate column whose vocabulary, and
        therefore embedding rows, the history uses, so that the same item has the same vector
        in the history and as the candidate.
    max_length : int or None, default=None
        For a sequence field: the padded length L of its rows in ``"sequences"`` (the
        transformer's ``sequence_length_``, the most recent items kept). None: not known
        (a hand-built schema), the data's width is taken as it comes.
    cross_of : tuple of str or None, default=None
        For a cross-product column (:class:`~sk_ctr.preprocessing.crosses.CrossProductFeatures`):
        the columns it crosses. Wide & Deep feeds such fields to its wide part only.
    """

    name: str
    kind: str
    vocab_size: int
    # Keyword-only: a schema written for the older signature (with an ``offset`` before
    # ``source``) fails loudly instead of shifting its arguments.
    _: KW_ONLY
    source: str
    shares: str | None = None
    max_length: int | None = None
    cross_of: tuple[str, ...] | None = None


class FieldData(dict):
    """Encoded fields: a dict of equal-length arrays plus the schema that produced them.

    Keys
    ----
    The encoded-batch contract of :mod:`sk_ctr.preprocessing.batch`:

    ``"ids"`` : int64 array of shape (n_samples, n_categorical_fields)
        Per-field local ids (0 = missing, 1 = other / unseen, 2.. = vocabulary).
    ``"values"`` : float32 array of shape (n_samples, n_numeric_fields)
        Standardized values of the numeric fields.
    ``"sequences"`` : int64 array of shape (n_samples, n_sequence_fields, max_length)
        Only when there are sequence fields. Per-item local ids (0 = padding / missing,
        1 = other / unseen, 2.. = vocabulary), oldest first, right-padded with 0.
    ``"lengths"`` : int64 array of shape (n_samples, n_sequence_fields)
        Only when there are sequence fields. Number of real items of each row and field;
        positions from ``lengths`` on are padding.

    Side-channel keys (``"sample_weight"``) may be attached by an estimator. Indexing with a string
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

    def check(self):
        """Raise a ValueError naming the field if an id lies outside its field's vocabulary,
        a sequence is not as long as its field's ``max_length`` or a numeric value is not
        finite.

        A transformer's output always passes; hand-built or hand-edited data may not. An id
        beyond its field's ``vocab_size`` would read the embedding row of the next field (all
        fields share one table), silently, or fail deep inside torch (and may not fail at all
        on a GPU). One vectorised pass per array.

        Returns
        -------
        self
        """
        self._check_ids(IDS, self.categorical_fields)
        self._check_sequence_length()
        self._check_ids(SEQUENCES, self.sequence_fields)
        values = self.get(VALUES)
        if values is not None and values.size:
            finite = np.isfinite(values).all(axis=0)
            if not finite.all():
                field = self.numeric_fields[int(np.argmin(finite))]
                raise ValueError(
                    f"Numeric field {field.name!r} holds NaN or infinite values; "
                    "encode missing values before building FieldData."
                )
        return self

    def _check_sequence_length(self):
        sequences = self.get(SEQUENCES)
        if sequences is None or sequences.ndim != 3:
            return
        for field in self.sequence_fields:
            if field.max_length is not None and sequences.shape[2] != field.max_length:
                raise ValueError(
                    f"Sequence field {field.name!r} has max_length={field.max_length}, but "
                    f"FieldData[{SEQUENCES!r}] holds {sequences.shape[2]} positions per row: "
                    "the data were not encoded with this schema."
                )

    def _check_ids(self, key, fields):
        ids = self.get(key)
        if ids is None or not ids.size or not fields:
            return
        if ids.dtype.kind not in "iu":
            raise ValueError(f"FieldData[{key!r}] must hold integer ids; got {ids.dtype}.")
        per_field = ids.reshape(len(ids), len(fields), -1)
        lows, highs = per_field.min(axis=(0, 2)), per_field.max(axis=(0, 2))
        for field, low, high in zip(fields, lows, highs, strict=True):
            if low < 0 or high >= field.vocab_size:
                bad = low if low < 0 else high
                raise ValueError(
                    f"Field {field.name!r} has id {int(bad)}, outside its vocabulary of "
                    f"{field.vocab_size} ids (0 to {field.vocab_size - 1}): the data were not "
                    "encoded with this schema."
                )

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
