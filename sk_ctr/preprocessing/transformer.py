"""CTRTransformer: raw DataFrame columns to per-field ids and values, fitted once, reused to serve.

Every operation is vectorised per column (``value_counts``, ``Index.get_indexer``,
``searchsorted``); nothing loops over rows. Sequence columns are flattened once into one array
of items per column (:mod:`sk_ctr.preprocessing.sequences`) and looked up like a categorical
column.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import check_is_fitted

from sk_ctr.preprocessing.chunked_fit import ChunkedFitMixin
from sk_ctr.preprocessing.columns import (
    _numeric_values,
    _reject_nan,
    check_frame,
)
from sk_ctr.preprocessing.counting import (
    _FITTED_FROM_COUNTS,
    _count_values,
    _RunningCounts,
)
from sk_ctr.preprocessing.crosses import crossed_columns
from sk_ctr.preprocessing.field_arrays import bucket_ids, encode_fields
from sk_ctr.preprocessing.fields import FIRST_VALUE_ID, MISSING_ID, OTHER_ID, Field, FieldData
from sk_ctr.preprocessing.roles import (
    column_roles,
    describe_roles,
    warn_other_delimiter,
)
from sk_ctr.preprocessing.sequences import (
    _with_history_items,
    keep_most_recent,
    sequence_ids,
    split_cells,
)
from sk_ctr.preprocessing.vocabulary import VocabularyLookup, hashed_ids

_NUMERIC_MODES = ("bucketize", "value")


class CTRTransformer(ChunkedFitMixin, TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Encode a DataFrame of raw CTR columns into the fields of a CTR network.

    Categorical columns (object, string, category and bool dtypes, and integer columns whose
    values recur: ids) get contiguous ids per field. An integer column with at least 100
    distinct values where more than half of the rows hold values seen fewer than 5 times is a
    quantity (an amount, a weight) and is numeric; ``column_roles_`` shows each column's role
    and why (:mod:`sk_ctr.preprocessing.roles`). Two ids of every field are reserved: ``0`` for a
    missing value (NaN / None) and ``1`` for "other", a value rarer than ``min_frequency`` in
    the training data or never seen in it, so unseen values at transform time are not an
    error. Values get ids from 2 in decreasing order of training frequency.

    Float columns are numeric. With ``numeric="bucketize"`` they are cut at quantiles of the
    training data into at most ``n_bins`` buckets that become categorical ids (NaN gets the
    missing id), the way the DeepFM and AutoFIS papers feed Criteo's counts. With
    ``numeric="value"`` they are standardized and scale one embedding vector per field
    (DeepFM journal, section III: "the value itself"); NaN is then an error.

    Sequence columns hold several values per row: a user's behaviour history, a multi-valued
    attribute. Their cells are lists, tuples or numpy arrays, or ``sequence_delimiter``-separated
    strings; NaN, None and ``""`` are empty sequences. Each row becomes a right-padded row of
    ids (padding id 0) and a length, keeping the cell's order (oldest first); a longer cell keeps
    its last ``max_sequence_length`` items, the most recent. A history named in ``behavior``
    shares its candidate's vocabulary, fitted on the candidate's values and the history's items
    together, so an item has one id (and one embedding row) wherever it appears: DIN's
    attention compares the candidate ad with the behaviours (section 4.2, eq. 3).

    Parameters
    ----------
    categorical_features : list of str, default=None
        Columns to treat as categorical. ``None`` infers the roles from the dtypes.
    numeric_features : list of str, default=None
        Columns to treat as numeric. ``None`` infers the roles from the dtypes. When only one
        of the two lists is given, every other column takes the other role.
    numeric : {"bucketize", "value"}, default="bucketize"
        How numeric columns are encoded.
    n_bins : int, default=16
        Maximum number of quantile buckets per numeric column (``numeric="bucketize"``).
        Columns with few distinct values get fewer buckets.
    min_frequency : int, default=1
        Categories seen fewer times than this in the training data share the "other" id.
        The AutoFIS paper uses 20 on Avazu and Criteo. Items of sequence columns count once
        per occurrence.
    hash_buckets : int, default=0
        With ``hash_buckets=n > 0`` every categorical field gets n extra ids after its
        vocabulary, and a value outside the vocabulary (unseen at fit, or rarer than
        ``min_frequency``) takes the id of its hash bucket instead of the single "other" id:
        the rare values train those buckets, and values that appear later (new items, a new
        day of data under ``partial_fit`` / ``warm_start``) keep distinct ids (up to
        collisions) without refitting the vocabulary. Hashes are stable across processes
        (``pandas.util.hash_array``).
    sequence_features : list of str, default=None
        Columns holding several values per row. ``None`` detects object columns whose cells
        are lists, tuples or arrays (``[]`` turns the detection off); columns of delimited
        strings must be listed here to be split. Keys of ``behavior`` are sequence columns in
        any case.
    behavior : dict of str to str, default=None
        ``{history_column: candidate_column}``: the history of the items (or categories, shops)
        a user interacted with, and the categorical column of the candidate it is compared
        with; the history uses the candidate's vocabulary and embedding table.
    max_sequence_length : int or None, default=50
        Items kept per row and sequence column (the most recent ones). ``None`` uses the
        longest cell seen in fit (at least 1).
    sequence_delimiter : str, default="|"
        Separator of the items of string cells.

    Attributes
    ----------
    fields_ : tuple of Field
        The learned schema: categorical (and bucketized) fields first, then numeric-value
        fields, then sequence fields, each with its vocabulary size, a sequence field with its
        padded length, a cross-product column (marked by
        :class:`~sk_ctr.preprocessing.crosses.CrossProductFeatures`) with the columns it
        crosses.
    vocabularies_ : dict of str to pandas.Index
        The kept values of each categorical column and of each sequence column with a
        vocabulary of its own, id ``i + 2`` for position ``i``. A history in ``behavior`` uses
        its candidate's.
    bin_edges_ : dict of str to numpy.ndarray
        Inner bucket edges of each bucketized column.
    scaling_ : dict of str to tuple of float
        ``(mean, std)`` of each numeric-value column.
    frequencies_ : dict of str to numpy.ndarray
        Training count of every id of each field with a vocabulary (used by adaptive
        regularization, DIN eq. 10, and for inspection). A candidate's counts include the
        items of the histories that share its vocabulary; a sequence field's id 0 counts
        missing items, not padding.
    sequence_length_ : int or None
        Width of the ``"sequences"`` array; None when there are no sequence columns.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.
    n_samples_seen_ : int
        Rows counted by :meth:`partial_fit` (not set by :meth:`fit`).
    column_roles_ : pandas.DataFrame
        Per column (the index): its ``role`` (categorical, bucketized, numeric or sequence),
        ``n_ids`` (its field's ids: vocabulary and reserved ids, or buckets; 1 for a scaled
        value) and ``why`` (given, its dtype, or for integers how often values recur).
        Set by :meth:`fit`.

    Examples
    --------
    >>> import pandas as pd
    >>> from sk_ctr import CTRTransformer
    >>> X = pd.DataFrame({"site": ["a", "b", "a", None], "price": [1.0, 2.0, 3.0, 4.0]})
    >>> enc = CTRTransformer(n_bins=2).fit(X)
    >>> [(f.name, f.vocab_size) for f in enc.fields_]
    [('site', 4), ('price', 4)]
    >>> enc.transform(pd.DataFrame({"site": ["a", "zzz"], "price": [0.5, 9.0]}))["ids"]
    array([[2, 2],
           [1, 3]])

    A behaviour history shares the candidate's ids:

    >>> X = pd.DataFrame({"item": ["x", "y", "x"], "history": [["y", "x"], [], ["x", "z", "y"]]})
    >>> enc = CTRTransformer(behavior={"history": "item"}, max_sequence_length=2).fit(X)
    >>> encoded = enc.transform(X)
    >>> encoded["ids"][:, 0], encoded["sequences"][:, 0], encoded["lengths"][:, 0]
    (array([2, 3, 2]), array([[3, 2],
           [0, 0],
           [4, 3]]), array([2, 0, 2]))
    """

    _parameter_constraints = {
        "categorical_features": [list, tuple, None],
        "numeric_features": [list, tuple, None],
        "numeric": [StrOptions(set(_NUMERIC_MODES))],
        "n_bins": [Interval(Integral, 1, None, closed="left")],
        "min_frequency": [Interval(Integral, 1, None, closed="left")],
        "hash_buckets": [Interval(Integral, 0, None, closed="left")],
        "sequence_features": [list, tuple, None],
        "behavior": [dict, None],
        "max_sequence_length": [Interval(Integral, 1, None, closed="left"), None],
        "sequence_delimiter": [str],
    }

    def __init__(
        self,
        categorical_features=None,
        numeric_features=None,
        numeric="bucketize",
        n_bins=16,
        min_frequency=1,
        hash_buckets=0,
        sequence_features=None,
        behavior=None,
        max_sequence_length=50,
        sequence_delimiter="|",
    ):
        self.categorical_features = categorical_features
        self.numeric_features = numeric_features
        self.numeric = numeric
        self.n_bins = n_bins
        self.min_frequency = min_frequency
        self.hash_buckets = hash_buckets
        self.sequence_features = sequence_features
        self.behavior = behavior
        self.max_sequence_length = max_sequence_length
        self.sequence_delimiter = sequence_delimiter

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None):
        """Learn vocabularies, bucket edges and scalings from the training frame.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self : CTRTransformer
        """
        self._check_params()
        self.__dict__.pop("_partial", None)  # a later partial_fit must not continue older chunks
        frame = check_frame(self, X, reset=True)
        integer_roles = {}  # computed once, for the roles and for column_roles_
        roles = self._column_roles(frame, integer_roles)
        self.vocabularies_, self.bin_edges_, self.scaling_, self.frequencies_ = {}, {}, {}, {}
        sequences = self._fit_sequence_length(frame, roles[2])
        histories = self._histories_by_candidate(sequences)

        def fit_ids(name, source):
            if source == "categorical":
                column = _with_history_items(name, frame[name], histories.get(name))
                return self._fit_categorical(name, column)
            if source == "bucketized":
                return self._fit_buckets(name, frame[name])
            return self._fit_categorical(name, pd.Series(sequences[name][0], dtype=object))

        self.fields_ = self._assemble_fields(
            frame.columns,
            roles,
            fit_ids,
            lambda name: self._fit_scaling(name, frame[name]),
            crosses=crossed_columns(frame),
        )
        self.column_roles_ = describe_roles(
            frame,
            self.fields_,
            self._given_columns(),
            set((self.behavior or {}).values()),
            integer_roles,
        )
        return self

    def _column_roles(self, frame, integer_roles=None):
        """The categorical, numeric and sequence columns of ``frame`` (three sets);
        ``integer_roles``: see :func:`~sk_ctr.preprocessing.roles.column_roles`."""
        return column_roles(
            frame,
            self.categorical_features,
            self.numeric_features,
            self.sequence_features,
            self.behavior,
            integer_roles,
        )

    def _given_columns(self):
        """The columns whose role the user named."""
        named = [
            self.categorical_features,
            self.numeric_features,
            self.sequence_features,
            list(self.behavior or ()),
        ]  # the histories; candidates are reported apart
        return {name for names in named for name in (names or ())}

    def partial_fit(self, X, y=None):
        """Add one chunk of the training rows to the fit, for data that do not fit in memory.

        The first call fixes the columns and their roles (inferred from its dtypes as in
        :meth:`fit`); every call adds its chunk's counts and refits all the fitted
        attributes, so the transformer can transform after any call. Over the chunks of a
        frame it learns what :meth:`fit` learns from the whole frame (the same vocabularies,
        ids and frequencies), except for numeric columns:

        - bucket edges are quantiles of a uniform sample of at most ``QUANTILE_SAMPLE``
          observed values per column (a reservoir, Vitter's algorithm R, drawn from a fixed
          seed), so they are exact up to that many rows; beyond, a bucketized field's
          ``frequencies_`` are the sample's counts scaled to the number of values seen;
        - means and standard deviations (``numeric="value"``) are merged chunk by chunk
          (Chan, Golub and LeVeque's pairwise update), equal to ``fit``'s up to rounding.

        ``min_frequency`` applies to the counts over all chunks seen so far, so a value can
        leave "other" as later chunks raise its count: fit the network after the last call.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_features)
            One chunk of rows, with the columns of the first chunk.
        y : ignored

        Returns
        -------
        self : CTRTransformer

        Raises
        ------
        ValueError
            After :meth:`fit`, which keeps no running counts to add a chunk to.

        Notes
        -----
        A call costs the size of its chunk: the fitted attributes are computed from the
        counts when they are next read (by :meth:`transform`, say), not after every chunk,
        which would cost the size of the vocabularies per chunk. The counts of a column are
        kept as runs merged like a binary counter, so a value is merged O(log chunks) times.
        """
        if "_partial" not in self.__dict__:
            if hasattr(self, "fields_"):
                raise ValueError(
                    "This CTRTransformer was fitted by fit(), which keeps no running counts to "
                    "add a chunk to; call partial_fit on every chunk, starting from an "
                    "unfitted transformer (sklearn.base.clone)."
                )
            self._check_params()
            frame = check_frame(self, X, reset=True)
            state = _RunningCounts(
                list(frame.columns),
                *self._column_roles(frame),
                bucketize=self.numeric == "bucketize",
                crosses=crossed_columns(frame),
            )
            self._add_chunk(state, frame, first=True)
            self._partial = state  # only once the first chunk is in: a failed call leaves none
        else:
            self._add_chunk(self._partial, check_frame(self, X, reset=False), first=False)
        for name in _FITTED_FROM_COUNTS:  # computed again when next read: see __getattr__
            self.__dict__.pop(name, None)
        self.n_samples_seen_ = self._partial.n_samples
        return self

    def _assemble_fields(self, columns, roles, fit_ids, fit_scaling, bucketize=None, crosses=None):
        """The schema: categorical and bucketized fields (in column order), numeric fields,
        then sequence fields.

        ``fit_ids(name, source)`` learns the ids of a column (a vocabulary or buckets; source
        "categorical", "bucketized" or "sequence") and returns their number;
        ``fit_scaling(name)`` returns the (mean, std) of a numeric-value column;
        ``bucketize`` says whether numeric columns are bucketized (default: ``numeric``);
        ``crosses`` maps the cross-product columns to the columns they cross.
        """
        crosses = crosses or {}
        categorical, _, sequence = roles
        bucketize = self.numeric == "bucketize" if bucketize is None else bucketize
        cat_fields, num_fields = [], []
        for name in columns:
            if name in sequence:
                continue
            if name in categorical or bucketize:
                source = "categorical" if name in categorical else "bucketized"
                cat_fields.append(
                    Field(
                        name,
                        "categorical",
                        fit_ids(name, source),
                        source=source,
                        cross_of=crosses.get(name),
                    )
                )
            else:
                self.scaling_[name] = fit_scaling(name)
                num_fields.append(
                    Field(name, "numeric", 1, source="numeric", cross_of=crosses.get(name))
                )
        seq_fields = self._fit_sequence_fields(
            [name for name in columns if name in sequence],
            cat_fields,
            lambda name: fit_ids(name, "sequence"),
        )
        return tuple(cat_fields + num_fields + seq_fields)

    def _check_params(self):
        self._validate_params()
        if self.sequence_delimiter == "":
            raise InvalidParameterError(
                "The 'sequence_delimiter' parameter of CTRTransformer must be a non-empty str."
            )

    def _fit_sequence_length(self, frame, sequence):
        """Parse the sequence columns, fix ``sequence_length_`` and truncate to it."""
        for name in sequence:
            warn_other_delimiter(name, frame[name], self.sequence_delimiter)
        sequences = {
            name: split_cells(name, frame[name], self.sequence_delimiter)
            for name in frame.columns
            if name in sequence
        }
        if not sequences:
            self.sequence_length_ = None
            return sequences
        longest = max(int(lengths.max(initial=0)) for _, lengths in sequences.values())
        # At least one position, so that an all-empty column still has a (padding) slot.
        length = max(longest, 1) if self.max_sequence_length is None else self.max_sequence_length
        self.sequence_length_ = int(length)
        return {name: keep_most_recent(*cells, length) for name, cells in sequences.items()}

    def _histories_by_candidate(self, sequences):
        """The (truncated) items of each candidate's histories, to count with its values."""
        histories = {}
        for history, candidate in (self.behavior or {}).items():
            histories.setdefault(candidate, []).append((history, sequences[history][0]))
        return histories

    def _fit_sequence_fields(self, names, cat_fields, fit_vocabulary):
        """The sequence fields of ``names``; ``fit_vocabulary(name)`` learns the vocabulary of
        a column that has one of its own and returns its size."""
        by_name = {f.name: f for f in cat_fields}
        behavior = self.behavior or {}
        fields = []
        for name in names:
            if name in behavior:
                shared = by_name[behavior[name]]
                fields.append(
                    Field(
                        name,
                        "sequence",
                        shared.vocab_size,
                        source="sequence",
                        shares=shared.name,
                        max_length=self.sequence_length_,
                    )
                )
                continue
            fields.append(
                Field(
                    name,
                    "sequence",
                    fit_vocabulary(name),
                    source="sequence",
                    max_length=self.sequence_length_,
                )
            )
        return fields

    def _fit_categorical(self, name, column):
        return self._set_vocabulary(name, *_count_values(name, column, sort=True))

    def _set_vocabulary(self, name, counts, missing):
        """Keep the values counted at least ``min_frequency`` times; ``counts`` are in
        decreasing order, the order of the ids."""
        kept = counts[counts >= self.min_frequency]
        vocabulary = pd.Index(kept.index.to_numpy(), tupleize_cols=False)
        self.vocabularies_[name] = vocabulary
        buckets = getattr(self, "hash_buckets", 0)  # absent in pickles of older versions
        frequencies = np.zeros(len(vocabulary) + FIRST_VALUE_ID + buckets, dtype=np.int64)
        frequencies[MISSING_ID] = missing
        frequencies[FIRST_VALUE_ID : FIRST_VALUE_ID + len(kept)] = kept.to_numpy()
        rare = counts[counts < self.min_frequency]
        if buckets:  # the rare values train the buckets that unseen values will share
            np.add.at(
                frequencies, hashed_ids(rare.index, len(vocabulary), buckets), rare.to_numpy()
            )
        else:
            frequencies[OTHER_ID] = int(rare.sum())
        self.frequencies_[name] = frequencies
        return len(frequencies)

    def _fit_buckets(self, name, column):
        values = _numeric_values(name, column)
        edges = self._quantile_edges(values[~np.isnan(values)])
        self.bin_edges_[name] = edges
        ids = bucket_ids(values, edges)
        self.frequencies_[name] = np.bincount(ids, minlength=len(edges) + 1 + FIRST_VALUE_ID)
        return len(edges) + 1 + FIRST_VALUE_ID

    def _quantile_edges(self, observed):
        """Inner edges of at most ``n_bins`` buckets holding equal shares of ``observed``."""
        if not observed.size:
            return np.empty(0)
        quantiles = np.linspace(0.0, 1.0, self.n_bins + 1)[1:-1]
        return np.unique(np.quantile(observed, quantiles))

    def _fit_scaling(self, name, column):
        values = _numeric_values(name, column)
        _reject_nan(name, values)
        std = float(values.std()) if values.size else 1.0
        return float(values.mean()) if values.size else 0.0, std if std > 0 else 1.0

    # ------------------------------------------------------------ transform
    def transform(self, X):
        """Encode a frame with the fitted vocabularies.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_features)
            The columns seen in ``fit``, in any order.

        Returns
        -------
        FieldData
            ``"ids"`` int64 of shape (n_samples, n_categorical_fields) and ``"values"``
            float32 of shape (n_samples, n_numeric_fields); with sequence columns also
            ``"sequences"`` int64 of shape (n_samples, n_sequence_fields, sequence_length_)
            and ``"lengths"`` int64 of shape (n_samples, n_sequence_fields).
        """
        check_is_fitted(self, "fields_")
        frame = check_frame(self, X, reset=False)
        arrays = encode_fields(
            frame, self.fields_, self._lookup, self.bin_edges_, self.scaling_, self._sequence_ids
        )
        return FieldData(arrays, self.fields_)

    def _sequence_ids(self, frame, seq_fields):
        return sequence_ids(
            frame, seq_fields, self.sequence_length_, self.sequence_delimiter, self._lookup
        )

    def _lookup(self, name):
        """The lookup of the vocabulary ``name``, built on first use and kept while
        ``vocabularies_[name]`` is the same object (a refit replaces it)."""
        vocabulary, buckets = self.vocabularies_[name], self._buckets()
        lookups = self.__dict__.setdefault("_lookups", {})
        lookup = lookups.get(name)
        if lookup is None or lookup.vocabulary is not vocabulary or lookup.hash_buckets != buckets:
            lookup = lookups[name] = VocabularyLookup(vocabulary, buckets)
        return lookup

    def __getstate__(self):
        # The lookups are a cache of vocabularies_, rebuilt on first use: not worth storing.
        state = dict(super().__getstate__())
        state.pop("_lookups", None)
        return state

    def _buckets(self):
        return getattr(self, "hash_buckets", 0)  # absent in pickles of older versions

    # --------------------------------------------------------------- schema
    def get_feature_names_out(self, input_features=None):
        """Names of the encoded fields: categorical, then numeric, then sequence fields.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "fields_")
        return np.asarray([f.name for f in self.fields_], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = []
        return tags
