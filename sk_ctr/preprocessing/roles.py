"""Which role a raw column takes when the user does not say: categorical ids, a numeric
quantity, or a sequence, and the warnings for guesses that are likely wrong.

An integer column may hold ids (user 123, ad 77: arbitrary labels with repeated values) or a
quantity (an age, a price, a census weight: ordered magnitudes, most of them rare). An id is
worth an embedding only when its value recurs: a value seen a handful of times in training
trains a vector that does not generalise, and at prediction time such columns mostly hold
values never seen. So an integer column with at least 100 distinct values is numeric when most
of its rows hold rare values (its order and magnitude are then what can be learnt), and
categorical otherwise.
"""

from __future__ import annotations

import warnings
from itertools import combinations

import pandas as pd

from sk_ctr.preprocessing.sequences import holds_lists

#: A value seen fewer times than this in the training rows is "rare".
RARE_VALUE_COUNT = 5
#: An integer column is a quantity when more than this share of its non-missing rows hold rare
#: values (a 20,000-valued census weight: ~0.9; user or item ids of a CTR log: well below).
QUANTITY_SHARE = 0.5
#: ... and when it has at least this many distinct values: below, ids cost few embedding rows
#: and the column stays categorical whatever its counts (a small frame's integers are ids).
QUANTITY_MIN_DISTINCT = 100
#: Object / string columns whose values are numbers but for this share of strays get a warning.
NUMERIC_STRING_SHARE = 0.9
#: Values looked at to detect numbers written as strings (a sample keeps fit fast).
NUMERIC_STRING_SAMPLE = 10_000


def rare_value_share(column):
    """Share of the non-missing rows of ``column`` whose value occurs fewer than
    :data:`RARE_VALUE_COUNT` times."""
    counts = column.value_counts(dropna=True)
    total = counts.sum()
    if total == 0:
        return 0.0
    return float(counts[counts < RARE_VALUE_COUNT].sum() / total)


def integer_role(column):
    """``("numeric" or "categorical", reason)`` for an integer column."""
    distinct = column.nunique(dropna=True)
    if distinct < QUANTITY_MIN_DISTINCT:
        return "categorical", f"integer; {distinct} distinct values: ids"
    share = rare_value_share(column)
    if share > QUANTITY_SHARE:
        return "numeric", (
            f"integer; {share:.0%} of rows hold values seen < {RARE_VALUE_COUNT} times: a quantity"
        )
    return "categorical", (
        f"integer; {share:.0%} of rows hold values seen < {RARE_VALUE_COUNT} times: ids"
    )


def warn_numeric_strings(name, column):
    """Warn when an object / string column is numbers written as text with a few strays (an
    "N/A" or "-" among prices): it becomes categorical, which is rarely what was meant."""
    values = column.dropna()
    if len(values) > NUMERIC_STRING_SAMPLE:
        values = values.sample(NUMERIC_STRING_SAMPLE, random_state=0)
    if values.empty or not all(isinstance(v, str) for v in values.iloc[:100]):
        return
    numbers = pd.to_numeric(values, errors="coerce")
    parsed = float(numbers.notna().mean())
    if NUMERIC_STRING_SHARE <= parsed < 1:
        strays = values[numbers.isna()].unique()[:3].tolist()
        warnings.warn(
            f"Column {name!r} holds numbers written as text, but {1 - parsed:.1%} of its "
            f"values are not numbers (e.g. {strays}); it is treated as categorical. Convert it "
            f"with pandas.to_numeric(..., errors='coerce') to use it as a number, or list it "
            "in categorical_features to keep it as it is and silence this warning.",
            UserWarning,
            stacklevel=5,
        )


def describe_roles(frame, fields, given, candidates=(), integer_roles=None):
    """The fitted role of every column, as ``CTRTransformer.column_roles_`` shows it.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows the roles were inferred from.
    fields : tuple of Field
    given : set of str
        Columns whose role the user gave (``*_features``, histories of ``behavior``).
    candidates : set of str
        The candidate columns of ``behavior`` (categorical whatever their dtype).
    integer_roles : dict of str to tuple, default=None
        :func:`integer_role` of the integer columns whose role was inferred, as
        :func:`column_roles` filled it: not counted again (each costs a ``value_counts`` of
        the column).

    Returns
    -------
    pandas.DataFrame
        Indexed by column, in the frame's order: ``role`` (categorical, bucketized,
        numeric, sequence), ``n_ids`` (ids of its field: vocabulary + reserved ids, or
        buckets; 1 for a numeric value) and ``why`` (for a cross of
        :class:`~sk_ctr.CrossProductFeatures`: the columns it crosses).
    """
    by_name = {field.name: field for field in fields}
    rows = []
    for name in frame.columns:
        field = by_name[name]
        role = "sequence" if field.kind == "sequence" else field.source
        dtype = frame[name].dtype
        if field.cross_of:  # marked by CrossProductFeatures: Wide & Deep's wide part only
            why = "cross of " + ", ".join(field.cross_of)
        elif name in given:
            why = "given"
        elif field.kind != "sequence" and name in candidates:
            why = "candidate of a behaviour history"
        elif field.kind == "sequence":
            why = "cells are lists"
        elif pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            known = (integer_roles or {}).get(name)
            why = (known or integer_role(frame[name]))[1]
        else:
            why = f"dtype {dtype}"
        rows.append({"column": name, "role": role, "n_ids": field.vocab_size, "why": why})
    return pd.DataFrame(rows).set_index("column")


def is_plain_integer(dtype):
    """Integer dtypes (numpy or nullable), not bool."""
    return pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


#: Separators a history of strings is often written with, when it is not ``sequence_delimiter``.
OTHER_DELIMITERS = (" ", ",", ";", "\t")


def warn_other_delimiter(name, column, delimiter):
    """Warn when a sequence column's strings never hold ``delimiter`` but mostly hold another
    usual separator: each cell would then be one single item ("12 7 31" instead of 3)."""
    values = column.dropna()
    if len(values) > NUMERIC_STRING_SAMPLE:
        values = values.sample(NUMERIC_STRING_SAMPLE, random_state=0)
    strings = values[[isinstance(v, str) for v in values]].astype(str)
    if strings.empty or strings.str.contains(delimiter, regex=False).any():
        return
    for other in OTHER_DELIMITERS:
        share = float(strings.str.contains(other, regex=False).mean())
        if share >= 0.5:
            warnings.warn(
                f"The sequence column {name!r} holds strings without sequence_delimiter="
                f"{delimiter!r}, but {share:.0%} of them contain {other!r} (e.g. "
                f"{strings.iloc[0]!r}): every cell is read as one item. Pass "
                f"sequence_delimiter={other!r} if that separates its items.",
                UserWarning,
                stacklevel=5,
            )
            return


def _given(features, parameter, columns):
    if features is None:
        return None
    unknown = [c for c in features if c not in set(columns)]
    if unknown:
        raise ValueError(f"{parameter} names columns that are not in X: {unknown}")
    return list(features)


def column_roles(
    frame,
    categorical_features,
    numeric_features,
    sequence_features,
    behavior,
    integer_roles=None,
):
    """Split the columns into categorical, numeric and sequence ones.

    Parameters
    ----------
    frame : pandas.DataFrame
    categorical_features, numeric_features, sequence_features, behavior
        :class:`~sk_ctr.preprocessing.CTRTransformer`'s parameters of these names.
    integer_roles : dict, default=None
        Filled with :func:`integer_role` of each integer column whose role is inferred, for
        :func:`describe_roles`.

    Returns
    -------
    categorical, numeric, sequence : set of str
    """
    columns = list(frame.columns)
    given = {
        "categorical_features": _given(categorical_features, "categorical_features", columns),
        "numeric_features": _given(numeric_features, "numeric_features", columns),
        "sequence_features": given_sequences(sequence_features, behavior, columns),
    }
    for (first, a), (second, b) in combinations(given.items(), 2):
        both = sorted(set(a or ()) & set(b or ()))
        if both:
            raise ValueError(f"Columns {both} are in both {first} and {second}")
    sequence = set(given["sequence_features"] or ())
    if sequence_features is None:
        # Lists are unambiguous; a string column is only split when it is named.
        named = set(given["categorical_features"] or ()) | set(given["numeric_features"] or ())
        sequence |= {c for c in columns if c not in named and holds_lists(frame[c])}
    scalar = [c for c in columns if c not in sequence]
    categorical, numeric = scalar_roles(
        frame,
        scalar,
        given["categorical_features"],
        given["numeric_features"],
        behavior,
        integer_roles,
    )
    check_candidates(behavior, numeric, sequence)
    return categorical, numeric, sequence


def given_sequences(sequence_features, behavior, columns):
    """``sequence_features`` plus the histories of ``behavior``; None if neither is given."""
    behavior = behavior or {}
    given = _given(sequence_features, "sequence_features", columns)
    for what, names in (("histories (keys)", behavior), ("candidates", behavior.values())):
        unknown = [c for c in names if c not in set(columns)]
        if unknown:
            raise ValueError(f"behavior names {what} that are not columns of X: {unknown}")
    if given is None and not behavior:
        return None
    return list(given or ()) + [c for c in behavior if c not in set(given or ())]


def check_candidates(behavior, numeric, sequence):
    """Reject a ``behavior`` candidate that is a sequence or a numeric column."""
    for history, candidate in (behavior or {}).items():
        if candidate in sequence:
            raise ValueError(
                f"behavior maps {history!r} to {candidate!r}, which is a sequence column; "
                "the candidate must be the single-valued categorical column of the item "
                "being scored."
            )
        if candidate in numeric:
            raise ValueError(
                f"behavior maps {history!r} to {candidate!r}, which is a numeric column; "
                f"list {candidate!r} in categorical_features so that it has a vocabulary "
                "to share."
            )


def scalar_roles(frame, columns, given_cat, given_num, behavior, integer_roles=None):
    """Categorical and numeric roles of the single-valued ``columns`` (``integer_roles``: see
    :func:`column_roles`)."""
    if given_cat is not None and given_num is None:
        return set(given_cat), set(columns) - set(given_cat)
    if given_num is not None and given_cat is None:
        return set(columns) - set(given_num), set(given_num)
    categorical, numeric = set(given_cat or ()), set(given_num or ())
    candidates = set((behavior or {}).values())
    for name in columns:
        if name in categorical or name in numeric:
            continue
        dtype = frame[name].dtype
        if pd.api.types.is_float_dtype(dtype):
            numeric.add(name)
        elif name in candidates:  # shares its ids with a history: ids by definition
            categorical.add(name)
        elif is_plain_integer(dtype):  # ids or a quantity: by how often values recur
            role = integer_role(frame[name])
            (numeric if role[0] == "numeric" else categorical).add(name)
            if integer_roles is not None:
                integer_roles[name] = role
        elif pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            warn_numeric_strings(name, frame[name])
            categorical.add(name)
        elif pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
            categorical.add(name)
        else:
            raise TypeError(
                f"Column {name!r} has dtype {dtype}, which CTRTransformer cannot infer a "
                "role for; convert it to numbers or strings, or list it in "
                "categorical_features."
            )
    for name in numeric:
        if not pd.api.types.is_numeric_dtype(frame[name].dtype) or pd.api.types.is_bool_dtype(
            frame[name].dtype
        ):
            raise TypeError(
                f"Column {name!r} is numeric_features but has dtype {frame[name].dtype}; "
                "numeric columns must hold numbers."
            )
    return categorical, numeric
