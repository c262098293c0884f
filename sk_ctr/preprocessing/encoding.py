"""The fitted encoding of raw rows, as plain data and numpy / pandas code (no scikit-learn).

A :class:`RawEncoder` holds what a fitted :class:`~sk_ctr.CTRTransformer` (and the
:class:`~sk_ctr.preprocessing.crosses.CrossProductFeatures` before it, in a Wide & Deep
pipeline) learned: the columns, the schema, the vocabularies, bucket edges, scalings and
sequence settings. It encodes a raw frame into the arrays the networks take, with the
transformer's own lookup (:class:`~sk_ctr.preprocessing.vocabulary.VocabularyLookup`, unseen
values, hash buckets and ids of another type included) and sequence parsing
(:mod:`sk_ctr.preprocessing.sequences`), and converts to and from a JSON-compatible dict. It is
what the torch-free serving artifact (:mod:`sk_ctr.serving`) stores: importing this module pulls
neither scikit-learn nor torch.

It shares the transformer's column checks (:mod:`sk_ctr.preprocessing.columns`), lookup,
bucketing and assembly of the field arrays (:mod:`sk_ctr.preprocessing.field_arrays`) and
sequence parsing; what it repeats (the transform's loop over the fields, and the hashing of
:class:`~sk_ctr.preprocessing.crosses.CrossProductFeatures`, modules that import scikit-learn)
is a few lines over numpy and pandas, kept equal by ``tests/test_serving.py``, which compares
both encodings on every input dtype.
"""

from __future__ import annotations

import dataclasses
from numbers import Integral, Real

import numpy as np
import pandas as pd

from sk_ctr.preprocessing.columns import check_frame
from sk_ctr.preprocessing.field_arrays import encode_fields
from sk_ctr.preprocessing.fields import Field
from sk_ctr.preprocessing.sequences import sequence_ids
from sk_ctr.preprocessing.vocabulary import VocabularyLookup


class RawEncoder:
    """Raw frames to the arrays of a network's inputs, from a fitted transformer's state.

    Build it with :meth:`from_transformer` (at export time) or :meth:`from_dict` (at serving
    time); the constructor takes the state itself.

    Parameters
    ----------
    columns : list of str
        The columns a raw frame must have (any order; no others).
    fields : tuple of Field
        The transformer's ``fields_``.
    vocabularies : dict of str to pandas.Index
        ``vocabularies_``: value ``i`` has id ``i + 2``.
    bin_edges : dict of str to numpy.ndarray
        ``bin_edges_`` of the bucketized columns.
    scaling : dict of str to tuple of float
        ``scaling_``: (mean, std) of the numeric-value columns.
    sequence_length : int or None
        ``sequence_length_``.
    hash_buckets : int
        Hash buckets after each vocabulary.
    sequence_delimiter : str
        Separator of the items of string cells.
    crosses : dict of str to tuple of str, default=None
        ``{cross name: its columns}``, added before encoding as
        :class:`~sk_ctr.preprocessing.crosses.CrossProductFeatures` adds them.
    cross_buckets : int, default=None
        ``n_buckets`` of the crosses.
    """

    def __init__(
        self,
        columns,
        fields,
        vocabularies,
        bin_edges,
        scaling,
        sequence_length,
        hash_buckets,
        sequence_delimiter,
        crosses=None,
        cross_buckets=None,
    ):
        self.columns = list(columns)
        self.fields = tuple(fields)
        self.vocabularies = vocabularies
        self.bin_edges = bin_edges
        self.scaling = scaling
        self.sequence_length = sequence_length
        self.hash_buckets = hash_buckets
        self.sequence_delimiter = sequence_delimiter
        self.crosses = dict(crosses or {})
        self.cross_buckets = cross_buckets
        # Built once: a request pays for its rows, not for the vocabularies.
        self._lookups = {
            name: VocabularyLookup(vocabulary, hash_buckets)
            for name, vocabulary in vocabularies.items()
        }

    # --------------------------------------------------------------- building
    @classmethod
    def from_transformer(cls, transformer, crosses=None):
        """The encoder of a fitted CTRTransformer, after ``crosses`` when given.

        Parameters
        ----------
        transformer : CTRTransformer
            Fitted.
        crosses : CrossProductFeatures, default=None
            Fitted; the step before ``transformer`` in a Wide & Deep pipeline.

        Returns
        -------
        RawEncoder
        """
        fitted = getattr(transformer, "feature_names_in_", None)
        columns = (
            list(fitted)
            if fitted is not None
            else [f"x{i}" for i in range(transformer.n_features_in_)]
        )
        cross_columns, cross_buckets = None, None
        if crosses is not None:
            cross_columns = dict(zip(crosses.cross_names_, crosses.crosses_, strict=True))
            cross_buckets = int(crosses.n_buckets)
            columns = list(crosses.feature_names_in_)
        return cls(
            columns,
            transformer.fields_,
            dict(transformer.vocabularies_),
            dict(transformer.bin_edges_),
            dict(transformer.scaling_),
            transformer.sequence_length_,
            int(getattr(transformer, "hash_buckets", 0)),
            transformer.sequence_delimiter,
            cross_columns,
            cross_buckets,
        )

    def to_dict(self):
        """The state as a dict of JSON types (str, int, float, bool, lists and dicts).

        Raises
        ------
        TypeError
            If a vocabulary holds values that JSON cannot store with their type (dates,
            tuples, bytes ...); the message names the column.
        """
        return {
            "columns": self.columns,
            "fields": [_json_field(field) for field in self.fields],
            "vocabularies": {
                name: _json_values(name, vocabulary)
                for name, vocabulary in self.vocabularies.items()
            },
            # JSON keeps Python's float repr, which round-trips: edges and scalings bit for bit.
            "bin_edges": {
                name: [float(e) for e in edges] for name, edges in self.bin_edges.items()
            },
            "scaling": {
                name: [float(mean), float(std)] for name, (mean, std) in self.scaling.items()
            },
            "sequence_length": None if self.sequence_length is None else int(self.sequence_length),
            "hash_buckets": int(self.hash_buckets),
            "sequence_delimiter": self.sequence_delimiter,
            "crosses": {name: list(columns) for name, columns in self.crosses.items()},
            "cross_buckets": self.cross_buckets,
        }

    @classmethod
    def from_dict(cls, state):
        """The encoder of a state written by :meth:`to_dict`."""
        return cls(
            state["columns"],
            tuple(_field(state) for state in state["fields"]),
            {
                name: pd.Index(values, dtype=object, tupleize_cols=False)
                for name, values in state["vocabularies"].items()
            },
            {
                name: np.asarray(edges, dtype=np.float64)
                for name, edges in state["bin_edges"].items()
            },
            {name: (float(mean), float(std)) for name, (mean, std) in state["scaling"].items()},
            state["sequence_length"],
            state["hash_buckets"],
            state["sequence_delimiter"],
            {name: tuple(columns) for name, columns in state["crosses"].items()},
            state["cross_buckets"],
        )

    # --------------------------------------------------------------- encoding
    def transform(self, frame):
        """Encode raw rows as the fitted transformer does.

        Parameters
        ----------
        frame : pandas.DataFrame
            The columns seen in fit, in any order; any dtype the transformer takes (object,
            ``str``, ``category``, integer, float, nullable), NaN / None where missing.

        Returns
        -------
        dict of str to numpy.ndarray
            ``"ids"`` int64 (n, n_categorical), ``"values"`` float32 (n, n_numeric) and, with
            sequence fields, ``"sequences"`` int64 (n, n_sequences, L) and ``"lengths"`` int64
            (n, n_sequences).

        Raises
        ------
        TypeError
            If ``frame`` is not a DataFrame, or a column holds values of the wrong kind.
        ValueError
            If columns are missing or unknown, or a numeric-value column holds NaN.
        """
        frame = self._checked(frame)
        if self.crosses:
            frame = frame.assign(
                **{
                    name: _cross_buckets(frame, columns, self.cross_buckets)
                    for name, columns in self.crosses.items()
                }
            )
        return encode_fields(
            frame,
            self.fields,
            self._lookups.__getitem__,
            self.bin_edges,
            self.scaling,
            self._sequence_ids,
        )

    def _sequence_ids(self, frame, seq_fields):
        lookup_of = self._lookups.__getitem__
        return sequence_ids(
            frame, seq_fields, self.sequence_length, self.sequence_delimiter, lookup_of
        )

    def _checked(self, frame):
        """``frame`` with string column names, checked against the fitted columns as the
        transformer checks it."""
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(
                f"Raw rows must be a pandas DataFrame with the columns seen in fit; got "
                f"{type(frame).__name__}."
            )
        return check_frame(self, frame, reset=False)

    @property
    def feature_names_in_(self):
        """The fitted columns, as :func:`~sk_ctr.preprocessing.columns.check_frame` reads
        them."""
        return np.asarray(self.columns, dtype=object)

    @property
    def n_features_in_(self):
        return len(self.columns)


def _json_field(field):
    """A :class:`Field` as a dict of JSON types (its tuples as lists)."""
    state = dataclasses.asdict(field)
    return {key: list(value) if isinstance(value, tuple) else value for key, value in state.items()}


def _field(state):
    """The :class:`Field` of :func:`_json_field`'s dict: its lists as tuples again (a Field is
    frozen and hashable)."""
    return Field(**{key: tuple(v) if isinstance(v, list) else v for key, v in state.items()})


def _json_values(name, vocabulary):
    """The values of a vocabulary as JSON types that keep their Python type (str, int, float,
    bool): the lookup compares values by type (``"1"`` is not ``1``)."""
    values = []
    for value in vocabulary.to_numpy(dtype=object).tolist():
        if isinstance(value, (bool, np.bool_)):
            values.append(bool(value))
        elif isinstance(value, str):
            values.append(str(value))
        elif isinstance(value, Integral):
            values.append(int(value))
        elif isinstance(value, Real):
            values.append(float(value))
        else:
            raise TypeError(
                f"The vocabulary of column {name!r} holds {type(value).__name__} values (e.g. "
                f"{value!r:.60}), which the serving artifact cannot store; convert the column "
                "to strings or numbers before fitting."
            )
    return values


def _cross_buckets(frame, columns, n_buckets):
    """The hashed cross of ``columns``: :meth:`CrossProductFeatures.transform`'s column."""
    parts = {}
    for position, column in enumerate(columns):
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype
        ):
            values = values.astype(np.float64)
        parts[position] = values.reset_index(drop=True)
    hashed = pd.util.hash_pandas_object(pd.DataFrame(parts), index=False)
    buckets = (hashed.to_numpy() % np.uint64(n_buckets)).astype(np.int64)
    return pd.Categorical.from_codes(buckets, categories=pd.RangeIndex(n_buckets))
