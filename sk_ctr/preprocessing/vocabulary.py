"""Raw values to the ids of one fitted vocabulary, at a cost that does not grow with it.

A :class:`VocabularyLookup` holds a Python dict from each kept value to its id, built once
from the vocabulary (a ``pandas.Index``). Why a dict and not ``Index.get_indexer``: under
pandas 3 a vocabulary of strings is a ``str`` (Arrow) index, and each ``get_indexer`` call
converts it back to Python objects, so looking up one value cost 1.27 ms against 18k entries
(0.012 ms against an object index); and even against an object index a ``get_indexer`` call
costs tens of microseconds of type inference, paid per column of a one-row request. A dict
lookup costs about 0.1 us per value whatever the vocabulary's size. Large inputs are first
factorized (pandas' hash tables, which stay in Arrow for ``str`` columns), so each distinct
value is looked up once. Short columns against a vocabulary of strings, what a request to a
model of string ids sends, take one pass of lookups: the missing-value pass and the conversion
of unseen values are left out where they cannot change an id
(:meth:`VocabularyLookup._string_row_ids`).

Values are compared as Python objects, with one exception: ids that arrive with another type
than the fitted ones. In a vocabulary of numbers, a string that spells a number (``"123"``)
is looked up as that number; in a vocabulary of strings, an integer (``123`` or ``123.0``) is
looked up as its decimal string (``"123"``). Since a number is equal to the float of the same
value, ``123.0`` already finds ``123``; and as nothing goes through floats, integers above
2**53 keep their last digits (object, nullable ``Int64`` and int64 input alike).
"""

from __future__ import annotations

import warnings
from functools import partial
from itertools import repeat
from numbers import Integral, Real

import numpy as np
import pandas as pd

from sk_ctr.preprocessing.fields import FIRST_VALUE_ID, MISSING_ID, OTHER_ID

#: Inputs of at most this many rows are looked up value by value; larger ones are factorized
#: first. Measured on a 100k-string vocabulary and Zipf-distributed values: value by value is
#: faster up to a few hundred rows (``str`` columns) or a few thousand (object), factorizing
#: beyond, the more so the more the values repeat.
ROW_BY_ROW_MAX_ROWS = 128
#: A column none of whose values is in the vocabulary is worth a warning (a dtype or schema
#: mismatch) when its values are of another type than the fitted ones, or, without hash
#: buckets, when it has at least this many distinct values; fewer unseen values of the right
#: type are ordinary (new ids).
UNSEEN_DISTINCT_VALUES_TO_WARN = 10
#: From this magnitude on, float64 cannot tell consecutive integers apart (53-bit significand).
FLOAT_EXACT_INTEGERS = 2**53


class VocabularyLookup:
    """Ids of raw values in one fitted vocabulary.

    Parameters
    ----------
    vocabulary : pandas.Index
        The kept values; value ``i`` has id ``i + 2``.
    hash_buckets : int, default=0
        With ``n > 0``, a value outside the vocabulary gets the id of one of ``n`` hash
        buckets after the vocabulary (:func:`hashed_ids`) instead of "other".

    Attributes
    ----------
    vocabulary : pandas.Index
    hash_buckets : int
    kind : {"integer", "floating", "string", "boolean", None}
        The type of the vocabulary's values; ``None`` for mixed or other types. It decides
        how values of another type are converted (see :func:`_converted`).
    """

    def __init__(self, vocabulary, hash_buckets=0):
        self.vocabulary = vocabulary
        self.hash_buckets = hash_buckets
        values = vocabulary.to_numpy(dtype=object).tolist()
        ids = range(FIRST_VALUE_ID, FIRST_VALUE_ID + len(values))
        self._ids = dict(zip(values, ids, strict=True))
        self.kind = _vocabulary_kind(vocabulary)
        self._example = values[0] if values else None  # for the warning: values like this
        self._translation = (None, None)  # see _categorical_ids

    def column_ids(self, name, column):
        """Ids of the rows of ``column``; missing values (NaN, None, ``pd.NA``) get id 0.

        Parameters
        ----------
        name : str
            The column's name, for messages.
        column : pandas.Series, numpy.ndarray or pandas extension array

        Returns
        -------
        ndarray of int64 of shape (len(column),)

        Raises
        ------
        TypeError
            If a value is unhashable; the message names the column.
        """
        if isinstance(column, pd.Series):
            column = column.values  # numpy array or extension array (Categorical, Arrow...)
        if isinstance(column.dtype, pd.CategoricalDtype):
            return self._categorical_ids(name, column)
        if len(column) <= ROW_BY_ROW_MAX_ROWS:
            return self._row_ids(name, _object_values(column), column.dtype)
        codes, uniques = _factorize(name, column)
        unique_ids = self.value_ids(name, np.asarray(uniques, dtype=object), column.dtype)
        # Appending the missing id makes code -1 index it.
        return np.append(unique_ids, MISSING_ID)[codes]

    def _row_ids(self, name, values, dtype=None):
        """Ids of an object array of values, missing ones included."""
        if self.kind == "string":
            ids = self._string_row_ids(name, values)
            if ids is not None:
                return ids
        missing = pd.isna(values)
        if not missing.any():
            return self.value_ids(name, values, dtype)
        ids = np.full(len(values), MISSING_ID, dtype=np.int64)
        present = ~missing
        ids[present] = self.value_ids(name, values[present], dtype)
        return ids

    def _string_row_ids(self, name, values):
        """The ids :meth:`_row_ids` gives an object array of values in a vocabulary of
        strings, with one lookup per value and a few numpy calls; ``None`` for the values
        this path leaves to the general one.

        The general path costs 45-50 us per column of a 100-row request (``pd.isna``, a
        conversion of each unseen value, several numpy calls), most of a request's
        transform. In a vocabulary of strings two of its steps change nothing for the usual
        values: no missing value equals a string, so looking all values up first finds no
        missing one; and an unseen ``str`` is its own conversion (:func:`_converted`). So
        the values found have their ids, unseen ``str`` values "other" (or their hash
        bucket), None, NaN and ``pd.NA`` the missing id; any other value (a number, which
        the general path converts, a ``str`` subclass, another missing marker, an
        unhashable value) sends the column to the general path.
        """
        get = self._ids.get
        try:
            ids = np.fromiter(map(get, values, repeat(OTHER_ID)), np.int64, len(values))
        except TypeError:  # unhashable (or pd.NA compared with a key of the same hash)
            return None
        outside = (ids == OTHER_ID).nonzero()[0]  # np.flatnonzero's ravel costs a microsecond
        if not outside.size:
            return ids
        unseen = values[outside]
        unseen_values = unseen.tolist()
        types = list(map(type, unseen_values))
        n_present = len(values)
        if types.count(str) < len(types):
            na = pd.NA
            missing = []
            for j, value in enumerate(unseen_values):
                if types[j] is str:
                    continue
                if value is None or value is na or (isinstance(value, float) and value != value):
                    missing.append(j)
                else:
                    return None
            ids[outside[missing]] = MISSING_ID
            unseen_strings = np.ones(len(unseen), dtype=bool)
            unseen_strings[missing] = False
            outside, unseen = outside[unseen_strings], unseen[unseen_strings]
            n_present -= len(missing)
            if not outside.size:
                return ids
        if outside.size == n_present:  # no value found: unseen holds all the present ones
            self._warn_if_mismatched(name, unseen[0], partial(_count_distinct, unseen))
        if self.hash_buckets:
            ids[outside] = hashed_ids(unseen, len(self.vocabulary), self.hash_buckets)
        return ids

    def _categorical_ids(self, name, categorical):
        """Ids of a ``Categorical``: its categories translated once, then indexed by its codes.

        The translation of the categories last seen twice is kept (compared by identity, as
        frames cast to one ``CategoricalDtype`` share its categories), so a request of a few
        rows costs its rows, not its categories. Categories met once are not translated whole:
        a slice of a large frame keeps all of its categories, and a dtype built per request
        would pay for all of them every time; only the rows (few) or the categories present
        are looked up.
        """
        categories, codes = categorical.categories, categorical.codes
        seen, translation = self._translation  # one read: another thread may replace it
        if categories is not seen or translation is None:
            if categories is not seen:
                self._translation = (categories, None)
                if len(categories) > len(codes):
                    return self._row_ids(name, np.asarray(categorical, dtype=object))
            values = np.asarray(categories, dtype=object)
            # Appending the missing id makes code -1 index it.
            translation = np.append(self.value_ids(name, values, warn=False), MISSING_ID)
            if categories is seen:
                self._translation = (categories, translation)
        ids = translation[codes]
        present = codes[codes >= 0]
        if present.size and self._outside(translation[present]).all():
            # The first present value and a count of the distinct ones (the distinct codes) are
            # all the check needs: converting the present rows of a Categorical to objects
            # cost 40 us per column, most of a 1-row request's transform when its values
            # were unseen.
            first = _as_object(categories[present[0]])
            self._warn_if_mismatched(name, first, lambda: len(np.unique(present)))
        return ids

    def _outside(self, ids):
        """Whether each id is outside the vocabulary ("other" or a hash bucket)."""
        return (ids == OTHER_ID) | (ids >= FIRST_VALUE_ID + len(self.vocabulary))

    def value_ids(self, name, values, dtype=None, warn=True):
        """Ids of ``values``, an object array without missing values.

        ``dtype`` is the dtype of the column they come from, to warn when integer ids arrive
        as floats too large to be exact; ``warn=False`` leaves out the warning about a column
        none of whose values is in the vocabulary.
        """
        get = self._ids.get
        try:
            ids = np.array([get(value, OTHER_ID) for value in values], dtype=np.int64)
        except TypeError as exc:  # unhashable
            raise TypeError(f"Column {name!r} holds unhashable values") from exc
        if self.kind == "integer" and dtype is not None and pd.api.types.is_float_dtype(dtype):
            _warn_if_inexact(name, values)
        outside = np.flatnonzero(ids == OTHER_ID)
        if not outside.size:
            return ids
        # Ids of another type than the fitted ones: looked up (and hashed) converted. Only a
        # numeric vocabulary converts strings; elsewhere an unseen string (most unseen values
        # of a request) is its own conversion, known not to be in the vocabulary: not looked
        # up again (a third of a 100-row request's transform, benchmarks/serving.py).
        strings_kept = self.kind not in _PARSING_KINDS
        unseen = values[outside]
        # fromiter, not np.array: a tuple stays one value instead of becoming a row of a 2-d
        # array (whose rows are unhashable: a TypeError that named no column)
        converted = np.fromiter(
            (
                value if strings_kept and type(value) is str else _converted(value, self.kind)
                for value in unseen
            ),
            dtype=object,
            count=len(unseen),
        )
        changed = [j for j, value in enumerate(converted.tolist()) if value is not unseen[j]]
        if changed:
            ids[outside[changed]] = [get(value, OTHER_ID) for value in converted[changed]]
        still = ids[outside] == OTHER_ID
        outside, converted = outside[still], converted[still]
        if warn and outside.size == len(values):
            self._warn_if_mismatched(name, values[0], partial(_count_distinct, values))
        if self.hash_buckets and outside.size:
            ids[outside] = hashed_ids(converted, len(self.vocabulary), self.hash_buckets)
        return ids

    def _warn_if_mismatched(self, name, first, count_distinct):
        """Warn when no value of a column was found, in a way new ids would not explain.

        ``first`` is the column's first present value (as an object), ``count_distinct()``
        the number of distinct present values, only called when the decision needs it.
        """
        if not len(self.vocabulary):  # every value was rarer than min_frequency
            return
        of_other_type = _value_kind(first) not in _MATCHING_KINDS.get(self.kind, (None,))
        # Hash buckets are there for new values: only values of another type are suspicious.
        if not of_other_type and (
            self.hash_buckets or count_distinct() < UNSEEN_DISTINCT_VALUES_TO_WARN
        ):
            return
        example = self._example
        # The message does not quote the transformed values, so that Python's default filter
        # shows it once per column rather than once per request.
        warnings.warn(
            f"No value of column {name!r} was seen in fit: the whole column gets the 'other' "
            f"id. It holds {type(first).__name__} values, the fitted ones are "
            f"{type(example).__name__} (e.g. {example!r}); this is the usual sign of a column "
            "read with another dtype, or holding something else, than in fit.",
            UserWarning,
            stacklevel=2,
        )


def hashed_ids(values, vocabulary_size, hash_buckets):
    """The bucket ids after a vocabulary of ``vocabulary_size`` values: a stable hash of each
    value (pandas' siphash with a fixed key, the same in every process) modulo the buckets."""
    hashes = pd.util.hash_array(np.asarray(values, dtype=object), categorize=False)
    return (FIRST_VALUE_ID + vocabulary_size + hashes % np.uint64(hash_buckets)).astype(np.int64)


def _count_distinct(values):
    """The number of distinct values of an object array of hashable values."""
    return len(set(values.tolist()))


def _as_object(value):
    """A scalar as ``np.asarray(..., dtype=object)`` gives it: numpy scalars as Python ones."""
    return value.item() if isinstance(value, np.generic) else value


def _object_values(column):
    """The values of a stored column as an object array (missing strings of an Arrow string
    column as None, which every path takes as missing as it does NaN).

    An Arrow string column is converted by pyarrow itself: 0.9 us for one value against 5.2
    for ``np.asarray`` (pandas' conversion, which then replaces missing values with NaN), 4.8
    against 7.4 us for 100, per column of a request.
    """
    dtype = column.dtype  # a numpy dtype has no storage: tested first, without getattr's error
    if isinstance(dtype, pd.StringDtype) and dtype.storage in _ARROW_STRING_STORAGES:
        return column.__arrow_array__().to_numpy()
    return np.asarray(column, dtype=object)


#: The storages of pandas' Arrow string columns (``str`` under pandas 3, ``string[pyarrow]``;
#: pandas 2's ``string[pyarrow_numpy]``).
_ARROW_STRING_STORAGES = ("pyarrow", "pyarrow_numpy")


def _factorize(name, column):
    try:
        return pd.factorize(column)
    except TypeError as exc:
        raise TypeError(f"Column {name!r} holds unhashable values") from exc


#: The vocabulary kinds in which a string that spells a number is looked up as that number.
_PARSING_KINDS = ("integer", "floating")
#: The kinds of transformed values that fit a vocabulary of each kind.
_MATCHING_KINDS = {
    "integer": ("number",),
    "floating": ("number",),
    "string": ("string",),
    "boolean": ("boolean",),
}


def _vocabulary_kind(vocabulary):
    inferred = pd.api.types.infer_dtype(vocabulary, skipna=False)
    if inferred == "mixed-integer-float":
        return "floating"
    return inferred if inferred in ("integer", "floating", "string", "boolean") else None


def _value_kind(value):
    if isinstance(value, (bool, np.bool_)):
        return "boolean"
    if isinstance(value, str):
        return "string"
    return "number" if isinstance(value, Real) else None


def _converted(value, kind):
    """``value`` as a value of a vocabulary of ``kind`` where it spells one, else itself.

    An integer vocabulary takes strings of numbers and integral floats as integers, a float
    vocabulary strings of numbers and integers as floats, a string vocabulary integers
    (integral floats included) as their decimal strings.
    """
    if isinstance(value, str):  # first: unseen strings are the common case, and cheap to test
        if kind not in _PARSING_KINDS:
            return value
        value = _parsed_number(value)
        if isinstance(value, str):
            return value
    if kind not in ("integer", "floating", "string") or isinstance(value, (bool, np.bool_)):
        return value
    if not isinstance(value, Real):
        return value
    if kind == "integer":
        return int(value) if not isinstance(value, Integral) and _integral(value) else value
    if kind == "floating":
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float: in no float vocabulary
            return value
    return str(int(value)) if _integral(value) else value


def _integral(number):
    return bool(np.isfinite(number)) and float(number).is_integer()


def _parsed_number(text):
    """The number ``text`` spells (an int where it is one), or ``text`` itself."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def _warn_if_inexact(name, values):
    numbers = np.asarray(values, dtype=np.float64)
    if np.any(np.abs(numbers) >= FLOAT_EXACT_INTEGERS):
        warnings.warn(
            f"Column {name!r} holds ids above 2**53 as floats, which have lost their last "
            "digits (distinct ids may have become equal); pass integer ids as int64, Int64 or "
            "object columns.",
            UserWarning,
            stacklevel=2,
        )
