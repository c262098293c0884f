"""The vocabulary lookup behind CTRTransformer.transform: the ids of ``Index.get_indexer`` for
every input dtype, ids that arrive with another type, integers beyond float precision, and the
warning about a column none of whose values was seen."""

import pickle
import warnings
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from sk_ctr import CTRTransformer, FMClassifier
from sk_ctr.preprocessing.vocabulary import (
    ROW_BY_ROW_MAX_ROWS,
    UNSEEN_DISTINCT_VALUES_TO_WARN,
    VocabularyLookup,
    hashed_ids,
)

# Two request sizes: looked up value by value, and factorized first.
SIZES = {"rows": 7, "batch": 3 * ROW_BY_ROW_MAX_ROWS}


def repeated(values, n):
    return [values[i % len(values)] for i in range(n)]


def reference_ids(vocabulary, values, hash_buckets=0):
    """What the transformer gave before the lookup was replaced: ``Index.get_indexer`` on a
    vocabulary and values of the same type, missing values 0, the others 1 (or their bucket)."""
    values = np.asarray(values, dtype=object)
    missing = pd.isna(values)
    positions = vocabulary.get_indexer(values[~missing])
    ids = np.zeros(len(values), dtype=np.int64)
    present = np.where(positions < 0, 1, positions + 2)
    if hash_buckets:
        outside = positions < 0
        present[outside] = hashed_ids(values[~missing][outside], len(vocabulary), hash_buckets)
    ids[~missing] = present
    return ids


def transform_ids(encoder, column):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unseen values are the point here
        return encoder.transform(pd.DataFrame({"c": column}))["ids"][:, 0]


# Values seen three, two and one times, so that min_frequency=2 makes "rare" other; the
# transform adds unseen values and every kind of missing value the dtype can hold.
CASES = {
    "object": (
        ["x", "y", "x", "rare", "x", "y"],
        ["y", None, "unseen", "x", np.nan, "rare"],
        object,
    ),
    "str": (["x", "y", "x", "rare", "x", "y"], ["y", None, "unseen", "x", "rare", "x"], "str"),
    "category": (
        ["x", "y", "x", "rare", "x", "y"],
        ["y", None, "unseen", "x", "rare", "x"],
        "category",
    ),
    "int64": ([5, 9, 5, 11, 5, 9], [9, 12, 5, 11, 9, 5], "int64"),
    "bool": ([True, False, True, True], [False, True, True, False], "bool"),
    "Int64": ([5, 9, 5, 11, 5, 9], [9, pd.NA, 12, 5, 11, pd.NA], "Int64"),
    "float": ([0.5, 2.0, 0.5, 7.25, 0.5, 2.0], [2.0, np.nan, 3.5, 0.5, 7.25, 0.5], "float64"),
}


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
@pytest.mark.parametrize("min_frequency", [1, 2])
@pytest.mark.parametrize("dtype_name", CASES)
def test_ids_equal_get_indexer_for_every_input_dtype(dtype_name, min_frequency, size):
    train, test, dtype = CASES[dtype_name]
    encoder = CTRTransformer(categorical_features=["c"], min_frequency=min_frequency)
    encoder.fit(pd.DataFrame({"c": pd.Series(train, dtype=dtype)}))
    column = pd.Series(repeated(test, size), dtype=dtype)
    expected = reference_ids(encoder.vocabularies_["c"], column)
    assert (expected == 1).any() or (dtype_name == "bool" and min_frequency == 1)
    assert (expected == 0).any() or dtype_name in ("int64", "bool")
    np.testing.assert_array_equal(transform_ids(encoder, column), expected)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
@pytest.mark.parametrize("dtype_name", ["object", "str", "category", "int64", "Int64"])
def test_hash_bucket_ids_equal_those_of_the_hashed_values(dtype_name, size):
    train, test, dtype = CASES[dtype_name]
    encoder = CTRTransformer(hash_buckets=7, min_frequency=2)
    encoder.fit(pd.DataFrame({"c": pd.Series(train, dtype=dtype)}))
    column = pd.Series(repeated(test, size), dtype=dtype)
    expected = reference_ids(encoder.vocabularies_["c"], column, hash_buckets=7)
    assert (expected >= 2 + len(encoder.vocabularies_["c"])).any()
    np.testing.assert_array_equal(transform_ids(encoder, column), expected)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_category_input_gives_the_ids_of_object_input_however_many_categories(size):
    encoder = CTRTransformer().fit(pd.DataFrame({"c": ["x", "y", "x", "z"]}))
    values = repeated(["y", None, "x", "w"], size)
    expected = transform_ids(encoder, pd.Series(values, dtype=object))
    # More categories than rows (a slice of a big frame) and fewer; the same dtype three times,
    # as a service casting every request to one CategoricalDtype would.
    for categories in (["w", "x", "y", "z", *map(str, range(1000))], ["x", "y", "w"]):
        dtype = pd.CategoricalDtype(categories)
        for _ in range(3):
            column = pd.Series(values, dtype=dtype)
            np.testing.assert_array_equal(transform_ids(encoder, column), expected)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_integer_ids_as_strings_or_floats_get_the_ids_of_the_integers(size):
    encoder = CTRTransformer().fit(pd.DataFrame({"c": [123, 7, 123, 40]}))
    expected = transform_ids(encoder, pd.Series(repeated([7, 123, 40, 99], size)))
    np.testing.assert_array_equal(expected[:4], [3, 2, 4, 1])
    for column in (
        pd.Series(repeated(["7", "123", "40", "99"], size), dtype=object),
        pd.Series(repeated(["7", "123", "40", "99"], size), dtype="str"),
        pd.Series(repeated([7.0, 123.0, 40.0, 99.0], size)),
        pd.Series(repeated(["7", 123.0, 40, "99"], size), dtype=object),
    ):
        np.testing.assert_array_equal(transform_ids(encoder, column), expected)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_strings_of_integers_queried_as_integers_get_the_ids_of_the_strings(size):
    encoder = CTRTransformer().fit(pd.DataFrame({"c": ["123", "7", "123", "40"]}))
    expected = transform_ids(encoder, pd.Series(repeated(["7", "123", "40", "99"], size)))
    np.testing.assert_array_equal(expected[:4], [3, 2, 4, 1])
    for column in (
        pd.Series(repeated([7, 123, 40, 99], size)),
        pd.Series(repeated([7.0, 123.0, 40.0, 99.0], size)),
        pd.Series(repeated([7, 123, 40, 99], size), dtype="Int64"),
    ):
        np.testing.assert_array_equal(transform_ids(encoder, column), expected)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
@pytest.mark.parametrize("hash_buckets", [0, 5])
def test_unseen_strings_next_to_numbers_in_a_string_vocabulary(size, hash_buckets):
    # Unseen strings (also numpy's) stay as they are; numbers are looked up as their strings.
    encoder = CTRTransformer(hash_buckets=hash_buckets)
    encoder.fit(pd.DataFrame({"c": ["123", "a", "123", "7"]}))
    vocabulary = encoder.vocabularies_["c"]
    id_of = {value: i + 2 for i, value in enumerate(vocabulary)}

    def unseen(value):
        if not hash_buckets:
            return 1
        return hashed_ids(np.array([value], dtype=object), len(vocabulary), hash_buckets)[0]

    values = ["new", 7, np.str_("a"), 123.0, "7.0", np.str_("fresh"), True, "123"]
    expected = [
        unseen("new"),
        id_of["7"],
        id_of["a"],
        id_of["123"],
        unseen("7.0"),
        unseen("fresh"),
        unseen(True),
        id_of["123"],
    ]
    column = pd.Series(repeated(values, size), dtype=object)
    np.testing.assert_array_equal(transform_ids(encoder, column), repeated(expected, size))


def test_a_float_vocabulary_finds_numbers_given_as_strings_or_integers():
    encoder = CTRTransformer(categorical_features=["c"]).fit(pd.DataFrame({"c": [1.5, 2.0, 2.0]}))
    column = pd.Series(["1.5", 2, "2", "x", "1" * 400, 1.5], dtype=object)
    np.testing.assert_array_equal(transform_ids(encoder, column), [3, 2, 2, 1, 1, 3])


def test_unseen_ids_of_another_type_share_the_hash_bucket_of_the_fitted_type():
    encoder = CTRTransformer(hash_buckets=11).fit(pd.DataFrame({"c": [1, 2, 1, 3]}))
    ids = [transform_ids(encoder, pd.Series(c)) for c in ([50, 51], ["50", "51"], [50.0, 51.0])]
    assert (ids[0] >= 5).all()
    np.testing.assert_array_equal(ids[1], ids[0])
    np.testing.assert_array_equal(ids[2], ids[0])


def test_estimator_predicts_alike_from_integer_and_string_ids():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"user": rng.integers(0, 20, 300), "ad": rng.integers(0, 5, 300)})
    y = (X["user"] % 2 == 0).astype(int)
    est = FMClassifier(embed_dim=2, max_epochs=2, batch_size=64, random_state=0).fit(X, y)
    as_strings = X.astype(str)
    assert as_strings["user"].dtype != X["user"].dtype
    np.testing.assert_allclose(est.predict_proba(as_strings), est.predict_proba(X))


BIG = 2**53


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
@pytest.mark.parametrize("dtype", [object, "Int64"])
def test_integers_above_2_to_53_keep_distinct_ids_next_to_missing_values(dtype, size):
    train = pd.Series([BIG + 1, BIG + 2, BIG + 2, BIG], dtype="int64")
    encoder = CTRTransformer().fit(pd.DataFrame({"c": train}))
    assert float(BIG + 1) == float(BIG)  # what a float cast would merge
    column = pd.Series(repeated([BIG + 1, BIG + 2, None, BIG, BIG + 3], size), dtype=dtype)
    np.testing.assert_array_equal(transform_ids(encoder, column)[:5], [3, 2, 0, 4, 1])


def test_integers_above_2_to_53_given_as_floats_warn_that_digits_are_lost():
    encoder = CTRTransformer().fit(pd.DataFrame({"c": [BIG + 1, BIG + 2]}))
    with pytest.warns(UserWarning, match=r"'c' holds ids above 2\*\*53 as floats"):
        encoder.transform(pd.DataFrame({"c": [float(BIG + 2), np.nan]}))


# --------------------------------------------------------------------------------------
# The warning about a column none of whose values was seen
# --------------------------------------------------------------------------------------

SITES = [f"site{i}" for i in range(30)]


def site_encoder(**params):
    return CTRTransformer(**params).fit(pd.DataFrame({"site": SITES}))


def unseen_warnings(encoder, column):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoder.transform(pd.DataFrame({"site": column}))
    return [str(w.message) for w in caught if "No value of column" in str(w.message)]


@pytest.mark.parametrize("dtype", [object, "str", "category"])
def test_a_column_of_many_unseen_values_warns_naming_it(dtype):
    column = pd.Series([f"other{i}" for i in range(UNSEEN_DISTINCT_VALUES_TO_WARN)], dtype=dtype)
    messages = unseen_warnings(site_encoder(), column)
    assert len(messages) == 1 and "'site'" in messages[0] and "'site0'" in messages[0]


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_a_column_of_values_of_another_type_warns_even_for_one_row(size):
    assert unseen_warnings(site_encoder(), pd.Series([5] * (size // 7)))
    assert unseen_warnings(site_encoder(hash_buckets=4), pd.Series([5] * (size // 7)))


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(["new"]),  # one new id
        pd.Series([f"new{i}" for i in range(UNSEEN_DISTINCT_VALUES_TO_WARN - 1)]),
        pd.Series(["new"] * 300),  # many rows, one new value
        pd.Series(["site3"] + [f"new{i}" for i in range(300)]),  # one value seen
        pd.Series([None, np.nan] * 100),  # nothing to look up
        pd.Series([None, "site1", None], dtype="category"),
    ],
    ids=["one-new", "few-new", "one-new-repeated", "one-seen", "all-missing", "category-seen"],
)
def test_unseen_values_of_the_fitted_type_that_new_ids_explain_do_not_warn(column):
    assert not unseen_warnings(site_encoder(), column)


def test_many_unseen_values_with_hash_buckets_do_not_warn():
    column = pd.Series([f"new{i}" for i in range(50)])
    assert not unseen_warnings(site_encoder(hash_buckets=8), column)


def test_an_empty_vocabulary_does_not_warn():
    encoder = CTRTransformer(min_frequency=5).fit(pd.DataFrame({"site": SITES}))
    assert len(encoder.vocabularies_["site"]) == 0
    assert not unseen_warnings(encoder, pd.Series([f"new{i}" for i in range(50)]))


# --------------------------------------------------------------------------------------
# Short columns against a vocabulary of strings: one pass of lookups
# --------------------------------------------------------------------------------------

STRING_VOCABULARY = pd.Index(["a", "b", "123", "7"])
MANY_UNSEEN = [f"new{i}" for i in range(UNSEEN_DISTINCT_VALUES_TO_WARN + 2)]
# (values, whether the one-pass lookup takes them rather than the general path)
SHORT_COLUMNS = {
    "found": (["a", "b", "a", "7"], True),
    "found-and-unseen": (["a", "new", "b", "newer", "new"], True),
    "missing-markers": (["a", None, "new", np.nan, float("nan"), np.float64("nan"), pd.NA], True),
    "only-missing": ([None, np.nan, pd.NA], True),
    "one-found": (["b"], True),
    "one-unseen": (["new"], True),
    "one-missing": ([None], True),
    "few-unseen": (["new", "newer", None], True),
    "many-unseen": (MANY_UNSEEN, True),
    "many-unseen-and-missing": ([None, *MANY_UNSEEN, np.nan], True),
    "many-unseen-repeated": (["new", None] * 20, True),
    "numpy-strings": ([np.str_("a"), "new", np.str_("fresh")], False),
    "numbers": (["a", 123, 7.0, "new", 7.5, None], False),
    "only-numbers": ([123, 8, 9.0, 10, 11, 12, 13, 14, 15, 16, 17, 18], False),
    "other-missing-markers": (["new", pd.NaT, np.float32("nan"), Decimal("NaN"), None], False),
    "booleans": ([True, "new", False], False),
    "many-of-another-type": (list(range(20, 20 + UNSEEN_DISTINCT_VALUES_TO_WARN)), False),
}


def general_path_ids(lookup, values):
    """The ids and warnings of the path every short column took before the one-pass lookup:
    missing values (``pd.isna``) 0, the others through ``value_ids``, which converts values
    of another type and warns about a column none of whose values was found."""
    values = np.asarray(values, dtype=object)
    missing = pd.isna(values)
    ids = np.zeros(len(values), dtype=np.int64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if not missing.all():
            ids[~missing] = lookup.value_ids("c", values[~missing])
    return ids, [str(w.message) for w in caught]


def short_path_ids(lookup, column):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ids = lookup.column_ids("c", column)
    return ids, [str(w.message) for w in caught]


@pytest.mark.parametrize("hash_buckets", [0, 5])
@pytest.mark.parametrize("name", SHORT_COLUMNS)
def test_short_string_columns_get_the_ids_and_warnings_of_the_general_path(name, hash_buckets):
    values, one_pass = SHORT_COLUMNS[name]
    lookup = VocabularyLookup(STRING_VOCABULARY, hash_buckets=hash_buckets)
    assert lookup.kind == "string"
    column = np.asarray(values, dtype=object)
    expected, expected_warnings = general_path_ids(lookup, column)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert (lookup._string_row_ids("c", column) is not None) == one_pass
    ids, messages = short_path_ids(lookup, column)
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, expected)
    assert messages == expected_warnings
    if hash_buckets and name in ("found-and-unseen", "missing-markers"):
        assert (ids >= 2 + len(STRING_VOCABULARY)).any()  # hashed, not "other"


@pytest.mark.parametrize("hash_buckets", [0, 5])
@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]", "string[python]", "category"])
@pytest.mark.parametrize(
    "name", [name for name, (values, one_pass) in SHORT_COLUMNS.items() if one_pass]
)
def test_short_string_columns_of_every_string_dtype_get_the_ids_of_object_ones(
    name, dtype, hash_buckets
):
    values, _ = SHORT_COLUMNS[name]
    lookup = VocabularyLookup(STRING_VOCABULARY, hash_buckets=hash_buckets)
    column = pd.array([None if pd.isna(value) else value for value in values], dtype=dtype)
    expected, expected_warnings = general_path_ids(lookup, np.asarray(column, dtype=object))
    ids, messages = short_path_ids(lookup, column)
    np.testing.assert_array_equal(ids, expected)
    assert messages == expected_warnings


def test_short_arrow_string_columns_of_several_chunks_or_sliced_get_the_ids_of_object_ones():
    lookup = VocabularyLookup(STRING_VOCABULARY)
    first = pd.Series(["a", None, "new"], dtype="str")
    joined = pd.concat([first, pd.Series(["7", "b", None, "x"], dtype="str")], ignore_index=True)
    for column in (joined, joined.iloc[2:6], joined.iloc[[5, 0, 3]]):
        expected, _ = general_path_ids(lookup, np.asarray(column.values, dtype=object))
        np.testing.assert_array_equal(lookup.column_ids("c", column), expected)


def test_short_string_columns_give_the_ids_written_out():
    lookup = VocabularyLookup(STRING_VOCABULARY)
    column = pd.Series(["7", None, "new", "a", np.nan, "123", pd.NA, "b"], dtype=object)
    np.testing.assert_array_equal(lookup.column_ids("c", column), [5, 0, 1, 2, 0, 4, 0, 3])
    buckets = VocabularyLookup(STRING_VOCABULARY, hash_buckets=3)
    bucket = hashed_ids(np.array(["new"], dtype=object), 4, 3)[0]
    np.testing.assert_array_equal(buckets.column_ids("c", column), [5, 0, bucket, 2, 0, 4, 0, 3])


@pytest.mark.parametrize("hash_buckets", [0, 5])
@pytest.mark.parametrize("n_rows", [3, ROW_BY_ROW_MAX_ROWS + 1])
def test_a_tuple_among_strings_is_one_unseen_value(n_rows, hash_buckets):
    """A tuple (hashable) in a column of strings is a value never seen, short column or long:
    "other" or its hash bucket, like any unseen value (it used to become a row of a 2-d array
    on the way, which raised an unhashable-type TypeError without the column's name)."""
    lookup = VocabularyLookup(STRING_VOCABULARY, hash_buckets=hash_buckets)
    column = np.empty(n_rows, dtype=object)
    column[:] = "a"
    column[0], column[1] = ("x", 1), ("y", 2)
    ids = lookup.column_ids("c", column)
    unseen = column[:2]
    expected = hashed_ids(unseen, 4, hash_buckets) if hash_buckets else [1, 1]
    np.testing.assert_array_equal(ids[:2], expected)
    assert (ids[2:] == 2).all()


@pytest.mark.parametrize("n_rows", [1, 5, ROW_BY_ROW_MAX_ROWS])
def test_unhashable_values_in_a_short_string_column_name_it(n_rows):
    lookup = VocabularyLookup(STRING_VOCABULARY)
    column = np.empty(n_rows, dtype=object)
    column[:] = "a"
    column[-1] = ["a", "b"]
    with pytest.raises(TypeError, match="Column 'c' holds unhashable values"):
        lookup.column_ids("c", column)


# --------------------------------------------------------------------------------------
# The lookups are a cache of vocabularies_
# --------------------------------------------------------------------------------------


def test_refit_replaces_the_lookups():
    encoder = CTRTransformer().fit(pd.DataFrame({"c": ["a", "a", "b"]}))
    column = pd.Series(["a", "b", "c"])
    np.testing.assert_array_equal(transform_ids(encoder, column), [2, 3, 1])
    encoder.fit(pd.DataFrame({"c": ["c", "b", "c", "c", "b", "b", "b"]}))
    np.testing.assert_array_equal(transform_ids(encoder, column), [1, 2, 3])


def test_partial_fit_replaces_the_lookups():
    encoder = CTRTransformer().partial_fit(pd.DataFrame({"c": ["a", "a", "b"]}))
    column = pd.Series(["a", "b", "c"])
    np.testing.assert_array_equal(transform_ids(encoder, column), [2, 3, 1])
    encoder.partial_fit(pd.DataFrame({"c": ["c", "c", "c"]}))
    np.testing.assert_array_equal(transform_ids(encoder, column), [3, 4, 2])


def test_pickle_stores_no_lookup_and_transforms_alike():
    encoder = CTRTransformer().fit(pd.DataFrame({"c": [f"v{i % 50}" for i in range(500)]}))
    column = pd.Series([f"v{i % 60}" for i in range(300)])
    before = transform_ids(encoder, column)
    assert "_lookups" in encoder.__dict__
    restored = pickle.loads(pickle.dumps(encoder))
    assert "_lookups" not in restored.__dict__ and "_lookups" in encoder.__dict__
    np.testing.assert_array_equal(transform_ids(restored, column), before)
