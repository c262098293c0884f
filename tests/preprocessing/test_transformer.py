"""CTRTransformer: ids, roles, numeric encodings, input validation; FieldData slicing."""

import pickle
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import InvalidParameterError

from sk_ctr import CTRTransformer, FieldData


def ids_of(encoder, frame, column=0):
    return encoder.transform(frame)["ids"][:, column]


def mixed_frame(n_samples=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "price": rng.normal(size=n_samples),
            "site": rng.choice(["a", "b", "c", "d", "e"], n_samples),
            "age": rng.uniform(18, 80, n_samples),
            "device": rng.choice(["phone", "pc"], n_samples),
            "hour": rng.integers(0, 24, n_samples),
        }
    )


# --------------------------------------------------------------------------------------
# ids
# --------------------------------------------------------------------------------------

# Counts c 4, a 3, d 2, b 1: no ties, and frequency order differs from alphabetical order and
# from order of first appearance.
TRAIN_SITES = ["b", "a", "d", None, "c", "a", "c", "d", "c", np.nan, "a", "c"]


def test_ids_follow_decreasing_training_frequency_from_two():
    encoder = CTRTransformer().fit(pd.DataFrame({"site": TRAIN_SITES}))
    ids = ids_of(encoder, pd.DataFrame({"site": ["a", "b", "c", "d"]}))
    np.testing.assert_array_equal(ids, [3, 5, 2, 4])


def test_missing_values_get_id_zero():
    encoder = CTRTransformer().fit(pd.DataFrame({"site": TRAIN_SITES}))
    ids = ids_of(encoder, pd.DataFrame({"site": [None, np.nan, pd.NA, "a"]}))
    np.testing.assert_array_equal(ids, [0, 0, 0, 3])


def test_unseen_values_get_id_one():
    encoder = CTRTransformer().fit(pd.DataFrame({"site": TRAIN_SITES}))
    ids = ids_of(encoder, pd.DataFrame({"site": ["zzz", "a", "A"]}))
    np.testing.assert_array_equal(ids, [1, 3, 1])


def test_values_rarer_than_min_frequency_share_the_other_id():
    encoder = CTRTransformer(min_frequency=2).fit(pd.DataFrame({"site": TRAIN_SITES}))
    ids = ids_of(encoder, pd.DataFrame({"site": ["a", "b", "c", "d", "zzz"]}))
    np.testing.assert_array_equal(ids, [3, 1, 2, 4, 1])
    assert encoder.fields_[0].vocab_size == 5
    assert list(encoder.vocabularies_["site"]) == ["c", "a", "d"]


def test_frequencies_count_missing_other_and_each_value():
    encoder = CTRTransformer(min_frequency=2).fit(pd.DataFrame({"site": TRAIN_SITES}))
    # [missing, other (b), c, a, d]
    np.testing.assert_array_equal(encoder.frequencies_["site"], [2, 1, 4, 3, 2])


def test_training_ids_are_contiguous_per_field():
    frame = mixed_frame()
    encoder = CTRTransformer(n_bins=4).fit(frame)
    ids = encoder.transform(frame)["ids"]
    for j, field in enumerate(encoder.fields_):
        used = set(ids[:, j])
        # No missing values and no rare values in training: exactly ids 2..vocab_size-1.
        assert used == set(range(2, field.vocab_size)), field.name


def test_schema_lists_categorical_then_numeric_fields_in_column_order():
    frame = mixed_frame()
    encoder = CTRTransformer(numeric="value").fit(frame)
    categorical = [f for f in encoder.fields_ if f.kind == "categorical"]
    numeric = [f for f in encoder.fields_ if f.kind == "numeric"]
    assert encoder.fields_ == (*categorical, *numeric)
    assert [f.name for f in categorical] == ["site", "device", "hour"]
    assert [f.name for f in numeric] == ["price", "age"]
    assert [(f.vocab_size, f.source) for f in numeric] == [(1, "numeric"), (1, "numeric")]
    # Where a field's rows lie in a shared table is the embedding layer's business.
    assert not hasattr(categorical[0], "offset")
    assert all(f.max_length is None and f.cross_of is None for f in encoder.fields_)


def test_vocab_sizes_are_distinct_values_plus_two_reserved_ids():
    frame = mixed_frame()
    encoder = CTRTransformer(numeric="value").fit(frame)
    for field in encoder.fields_:
        if field.kind == "categorical":
            assert field.vocab_size == frame[field.name].nunique() + 2
            assert len(encoder.frequencies_[field.name]) == field.vocab_size


def test_fields_in_bucketize_mode_keep_column_order():
    encoder = CTRTransformer().fit(mixed_frame())
    assert [(f.name, f.source) for f in encoder.fields_] == [
        ("price", "bucketized"),
        ("site", "categorical"),
        ("age", "bucketized"),
        ("device", "categorical"),
        ("hour", "categorical"),
    ]
    assert all(f.kind == "categorical" for f in encoder.fields_)


def test_get_feature_names_out_lists_categorical_then_numeric_fields():
    encoder = CTRTransformer(numeric="value").fit(mixed_frame())
    names = encoder.get_feature_names_out()
    assert list(names) == ["site", "device", "hour", "price", "age"]
    assert list(names) == [f.name for f in encoder.fields_]


def test_integer_column_keeps_its_ids_when_missing_values_make_it_float():
    encoder = CTRTransformer().fit(pd.DataFrame({"hour": [3, 1, 3, 2, 3, 1]}))
    ids = ids_of(encoder, pd.DataFrame({"hour": [3.0, np.nan, 1.0, 2.0, 7.0]}))
    np.testing.assert_array_equal(ids, [2, 0, 3, 4, 1])


# --------------------------------------------------------------------------------------
# Roles from dtypes
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(["x", "y", "x"], dtype=object),
        pd.Series(["x", "y", "x"], dtype="str"),
        pd.Series(["x", "y", "x"], dtype="string"),
        pd.Series(["x", "y", "x"], dtype="category"),
        pd.Series([True, False, True]),
        pd.Series([5, 7, 5], dtype="int64"),
        pd.Series([5, 7, 5], dtype="int8"),
        pd.Series([5, None, 5], dtype="Int64"),
    ],
    ids=["object", "str", "string", "category", "bool", "int64", "int8", "Int64"],
)
def test_dtypes_inferred_as_categorical(column):
    encoder = CTRTransformer(numeric="value").fit(pd.DataFrame({"c": column}))
    assert [(f.kind, f.source) for f in encoder.fields_] == [("categorical", "categorical")]


@pytest.mark.parametrize("dtype", ["float64", "float32", "Float64"])
def test_float_dtypes_inferred_as_numeric(dtype):
    frame = pd.DataFrame({"n": pd.Series([0.5, 1.5, 2.5], dtype=dtype)})
    assert CTRTransformer().fit(frame).fields_[0].source == "bucketized"
    assert CTRTransformer(numeric="value").fit(frame).fields_[0].kind == "numeric"


def test_explicit_lists_override_dtypes():
    frame = pd.DataFrame({"price": [0.5, 1.5, 0.5], "count": [1, 2, 3]})
    encoder = CTRTransformer(
        categorical_features=["price"], numeric_features=["count"], numeric="value"
    ).fit(frame)
    assert [(f.name, f.kind) for f in encoder.fields_] == [
        ("price", "categorical"),
        ("count", "numeric"),
    ]
    np.testing.assert_array_equal(ids_of(encoder, frame), [2, 3, 2])


def test_one_explicit_list_gives_every_other_column_the_other_role():
    frame = pd.DataFrame({"price": [0.5, 1.5, 0.5], "count": [1, 2, 3]})
    by_categorical = CTRTransformer(categorical_features=["price"], numeric="value").fit(frame)
    by_numeric = CTRTransformer(numeric_features=["count"], numeric="value").fit(frame)
    for encoder in (by_categorical, by_numeric):
        assert [(f.name, f.kind) for f in encoder.fields_] == [
            ("price", "categorical"),
            ("count", "numeric"),
        ]


def test_datetime_column_raises_type_error_naming_it():
    frame = pd.DataFrame({"site": ["a", "b"], "when": pd.to_datetime(["2020-01-01", "2021-06-01"])})
    with pytest.raises(TypeError, match="'when'"):
        CTRTransformer().fit(frame)


def test_datetime_column_listed_as_categorical_is_accepted():
    frame = pd.DataFrame({"when": pd.to_datetime(["2020-01-01", "2021-06-01", "2020-01-01"])})
    encoder = CTRTransformer(categorical_features=["when"]).fit(frame)
    np.testing.assert_array_equal(ids_of(encoder, frame), [2, 3, 2])


def test_numeric_features_naming_a_string_column_raises_naming_it():
    frame = pd.DataFrame({"site": ["a", "b"], "price": [1.0, 2.0]})
    with pytest.raises(TypeError, match="'site'"):
        CTRTransformer(numeric_features=["site", "price"]).fit(frame)


def test_column_in_both_lists_raises_naming_it():
    frame = pd.DataFrame({"site": ["a", "b"], "price": [1.0, 2.0]})
    with pytest.raises(ValueError, match="price"):
        CTRTransformer(categorical_features=["price"], numeric_features=["price"]).fit(frame)


def test_feature_list_naming_an_absent_column_raises_naming_it():
    frame = pd.DataFrame({"site": ["a", "b"], "price": [1.0, 2.0]})
    with pytest.raises(ValueError, match="'colour'"):
        CTRTransformer(categorical_features=["site", "colour"]).fit(frame)


# --------------------------------------------------------------------------------------
# category dtype
# --------------------------------------------------------------------------------------

TRANSFORM_SITES = ["a", None, "zzz", "d", "b", "c", np.nan]


def test_category_input_at_transform_gives_the_ids_of_object_input():
    encoder = CTRTransformer().fit(pd.DataFrame({"site": TRAIN_SITES}))
    as_object = ids_of(encoder, pd.DataFrame({"site": pd.Series(TRANSFORM_SITES, dtype=object)}))
    as_category = ids_of(encoder, pd.DataFrame({"site": pd.Categorical(TRANSFORM_SITES)}))
    np.testing.assert_array_equal(as_object, [3, 0, 1, 4, 5, 2, 0])
    np.testing.assert_array_equal(as_category, as_object)


def test_category_input_at_fit_learns_the_vocabulary_of_object_input():
    categories = ["a", "b", "c", "d", "never-seen"]
    as_category = pd.DataFrame({"site": pd.Categorical(TRAIN_SITES, categories=categories)})
    from_category = CTRTransformer().fit(as_category)
    from_object = CTRTransformer().fit(pd.DataFrame({"site": TRAIN_SITES}))
    # An unused category is not a value of the training data: it gets no id of its own.
    assert list(from_category.vocabularies_["site"]) == ["c", "a", "d", "b"]
    assert from_category.fields_ == from_object.fields_
    frame = pd.DataFrame({"site": TRANSFORM_SITES})
    np.testing.assert_array_equal(ids_of(from_category, frame), ids_of(from_object, frame))


def test_category_input_without_categories_is_all_missing():
    encoder = CTRTransformer().fit(pd.DataFrame({"site": TRAIN_SITES}))
    frame = pd.DataFrame({"site": pd.Series([None, None], dtype="category")})
    np.testing.assert_array_equal(ids_of(encoder, frame), [0, 0])


# --------------------------------------------------------------------------------------
# numeric="bucketize"
# --------------------------------------------------------------------------------------

UNIFORM = np.random.default_rng(1).permutation(np.arange(1000.0))


def test_bucket_edges_are_training_quantiles():
    encoder = CTRTransformer(n_bins=4).fit(pd.DataFrame({"x": UNIFORM}))
    np.testing.assert_allclose(encoder.bin_edges_["x"], np.quantile(UNIFORM, [0.25, 0.5, 0.75]))


def test_buckets_hold_equal_shares_of_the_training_data():
    frame = pd.DataFrame({"x": UNIFORM})
    encoder = CTRTransformer(n_bins=4).fit(frame)
    ids = ids_of(encoder, frame)
    np.testing.assert_array_equal(np.bincount(ids), [0, 0, 250, 250, 250, 250])
    np.testing.assert_array_equal(encoder.frequencies_["x"], [0, 0, 250, 250, 250, 250])


def test_bucket_ids_grow_with_the_value():
    frame = pd.DataFrame({"x": UNIFORM})
    encoder = CTRTransformer(n_bins=7).fit(frame)
    ids = ids_of(encoder, pd.DataFrame({"x": np.sort(UNIFORM)}))
    assert (np.diff(ids) >= 0).all()


def test_bucketize_nan_gets_the_missing_id():
    train = pd.DataFrame({"x": np.r_[UNIFORM, np.nan, np.nan]})
    encoder = CTRTransformer(n_bins=4).fit(train)
    assert encoder.frequencies_["x"][0] == 2
    np.testing.assert_array_equal(ids_of(encoder, pd.DataFrame({"x": [np.nan, 10.0]})), [0, 2])


def test_values_outside_the_training_range_go_to_the_extreme_buckets():
    encoder = CTRTransformer(n_bins=4).fit(pd.DataFrame({"x": UNIFORM}))
    vocab_size = encoder.fields_[0].vocab_size
    ids = ids_of(encoder, pd.DataFrame({"x": [-1e9, 0.0, 999.0, 1e9]}))
    np.testing.assert_array_equal(ids, [2, 2, vocab_size - 1, vocab_size - 1])


@pytest.mark.parametrize("n_bins", [1, 2, 5, 16])
def test_continuous_column_gets_n_bins_buckets(n_bins):
    frame = pd.DataFrame({"x": UNIFORM})
    encoder = CTRTransformer(n_bins=n_bins).fit(frame)
    assert encoder.fields_[0].vocab_size == n_bins + 2
    assert len(np.unique(ids_of(encoder, frame))) == n_bins


def test_column_with_few_values_gets_at_most_n_bins_buckets_one_per_value():
    frame = pd.DataFrame({"x": np.repeat([0.0, 1.0, 2.0], 20)})
    encoder = CTRTransformer(n_bins=16).fit(frame)
    assert encoder.fields_[0].vocab_size - 2 <= 16
    ids = ids_of(encoder, pd.DataFrame({"x": [0.0, 1.0, 2.0]}))
    assert len(set(ids)) == 3


# --------------------------------------------------------------------------------------
# numeric="value"
# --------------------------------------------------------------------------------------


def test_values_are_standardized_on_training_data():
    frame = mixed_frame(n_samples=200)
    encoder = CTRTransformer(numeric="value").fit(frame)
    values = encoder.transform(frame)["values"]
    assert values.dtype == np.float32 and values.shape == (200, 2)
    values = values.astype(np.float64)
    np.testing.assert_allclose(values.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(values.std(axis=0), 1.0, rtol=1e-5)


def test_standardization_uses_training_statistics_at_transform():
    train = pd.DataFrame({"x": [1.0, 3.0, 5.0, 7.0]})  # mean 4, std sqrt(5)
    encoder = CTRTransformer(numeric="value").fit(train)
    values = encoder.transform(pd.DataFrame({"x": [4.0, 4.0 + 5**0.5, 100.0]}))["values"]
    np.testing.assert_allclose(values[:, 0], [0.0, 1.0, 96 / 5**0.5], rtol=1e-6, atol=1e-6)


def test_constant_column_standardizes_to_zero_without_nan():
    frame = pd.DataFrame({"x": [2.5, 2.5, 2.5]})
    values = CTRTransformer(numeric="value").fit_transform(frame)["values"]
    np.testing.assert_array_equal(values, np.zeros((3, 1), dtype=np.float32))


def test_value_mode_rejects_nan_at_fit_naming_column_and_suggesting_bucketize():
    frame = pd.DataFrame({"site": ["a", "b"], "price": [1.0, np.nan]})
    with pytest.raises(ValueError, match="(?s)'price'.*bucketize"):
        CTRTransformer(numeric="value").fit(frame)


def test_value_mode_rejects_nan_at_transform_naming_column_and_suggesting_bucketize():
    encoder = CTRTransformer(numeric="value").fit(pd.DataFrame({"price": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="(?s)'price'.*bucketize"):
        encoder.transform(pd.DataFrame({"price": [np.nan, 2.0]}))


@pytest.mark.parametrize("numeric", ["bucketize", "value"])
@pytest.mark.parametrize("infinity", [np.inf, -np.inf])
def test_infinity_raises_naming_the_column(numeric, infinity):
    train = pd.DataFrame({"site": ["a", "b"], "price": [1.0, 2.0]})
    with pytest.raises(ValueError, match="'price'"):
        CTRTransformer(numeric=numeric).fit(train.assign(price=[1.0, infinity]))
    encoder = CTRTransformer(numeric=numeric).fit(train)
    with pytest.raises(ValueError, match="'price'"):
        encoder.transform(train.assign(price=[infinity, 2.0]))


# --------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------


def test_missing_column_at_transform_raises_naming_it():
    frame = mixed_frame()
    encoder = CTRTransformer().fit(frame)
    with pytest.raises(ValueError, match="'device'"):
        encoder.transform(frame.drop(columns="device"))


def test_extra_column_at_transform_raises_naming_it():
    frame = mixed_frame()
    encoder = CTRTransformer().fit(frame)
    with pytest.raises(ValueError, match="'colour'"):
        encoder.transform(frame.assign(colour="red"))


def test_column_order_at_transform_does_not_matter():
    frame = mixed_frame()
    encoder = CTRTransformer(numeric="value").fit(frame)
    expected = encoder.transform(frame)
    shuffled = encoder.transform(frame[list(reversed(frame.columns))])
    np.testing.assert_array_equal(shuffled["ids"], expected["ids"])
    np.testing.assert_array_equal(shuffled["values"], expected["values"])


def test_duplicated_column_names_raise():
    frame = pd.DataFrame([["a", "b"]], columns=["site", "site"])
    with pytest.raises(ValueError, match="'site'"):
        CTRTransformer().fit(frame)


def test_empty_dataframe_raises():
    with pytest.raises(ValueError, match="0 sample"):
        CTRTransformer().fit(mixed_frame().iloc[:0])


def test_dataframe_without_columns_raises():
    with pytest.raises(ValueError, match="0 feature"):
        CTRTransformer().fit(pd.DataFrame(index=range(3)))


def test_numpy_input_gets_positional_names():
    array = mixed_frame()[["price", "age"]].to_numpy()
    encoder = CTRTransformer(n_bins=4).fit(array)
    assert list(encoder.get_feature_names_out()) == ["x0", "x1"]
    assert encoder.n_features_in_ == 2
    assert not hasattr(encoder, "feature_names_in_")
    frame = pd.DataFrame(array, columns=["x0", "x1"])
    same_as_frame = CTRTransformer(n_bins=4).fit(frame)
    np.testing.assert_array_equal(
        encoder.transform(array)["ids"], same_as_frame.transform(frame)["ids"]
    )


def test_numpy_input_with_wrong_number_of_features_raises():
    rng = np.random.default_rng(0)
    encoder = CTRTransformer().fit(rng.normal(size=(10, 4)))
    message = "X has 3 features, but CTRTransformer is expecting 4 features as input."
    with pytest.raises(ValueError, match=re.escape(message)):
        encoder.transform(rng.normal(size=(10, 3)))


def test_column_of_lists_raises_type_error_naming_it_at_transform():
    encoder = CTRTransformer().fit(pd.DataFrame({"tags": ["x", "y"]}))
    with pytest.raises(TypeError, match="'tags'"):
        encoder.transform(pd.DataFrame({"tags": [["x"], ["y"]]}))


def test_sparse_input_raises_type_error_mentioning_sparse():
    with pytest.raises(TypeError, match="(?i)sparse"):
        CTRTransformer().fit(sp.csr_matrix(np.eye(3)))


def test_transform_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError):
        CTRTransformer().transform(mixed_frame())


# --------------------------------------------------------------------------------------
# FieldData
# --------------------------------------------------------------------------------------


@pytest.fixture
def field_data():
    data = CTRTransformer(numeric="value").fit_transform(mixed_frame(n_samples=20))
    arrays = {**data, "sample_weight": np.arange(20, dtype=np.float32)}
    return FieldData(arrays, data.schema)


def assert_rows(sliced, full, rows):
    assert isinstance(sliced, FieldData)
    assert sliced.schema == full.schema
    assert set(sliced) == set(full)
    for key in full:
        np.testing.assert_array_equal(sliced[key], full[key][rows])


@pytest.mark.parametrize(
    "rows",
    [np.array([3, 0, 7, 7]), slice(2, 11, 3), np.arange(20) % 3 == 0, [1, 5]],
    ids=["int-array", "slice", "boolean-mask", "list"],
)
def test_field_data_slicing_selects_rows_of_every_array(field_data, rows):
    assert_rows(field_data[rows], field_data, rows)


@pytest.mark.parametrize("row", [0, 5, -1, np.int64(4)])
def test_field_data_integer_index_keeps_one_row_2d(field_data, row):
    assert_rows(field_data[row], field_data, [row])


def test_field_data_string_key_returns_the_array(field_data):
    assert field_data["ids"].shape == (20, 3)
    assert field_data["values"].shape == (20, 2)
    assert field_data["ids"].dtype == np.int64 and field_data["values"].dtype == np.float32


def test_field_data_len_and_shape(field_data):
    assert len(field_data) == 20
    assert field_data.shape == (20,)
    assert len(field_data[2:5]) == 3 and field_data[2:5].shape == (3,)


def test_field_data_pickle_round_trip(field_data):
    restored = pickle.loads(pickle.dumps(field_data))
    assert_rows(restored, field_data, slice(None))


def test_field_data_rejects_arrays_of_different_lengths(field_data):
    with pytest.raises(ValueError, match="different lengths"):
        FieldData({"ids": np.zeros((3, 1)), "values": np.zeros((4, 1))}, field_data.schema)


def test_sklearn_safe_indexing_on_field_data(field_data):
    rows = np.array([4, 1, 9])
    assert_rows(_safe_indexing(field_data, rows), field_data, rows)
    mask = np.arange(20) < 6
    assert_rows(_safe_indexing(field_data, mask), field_data, mask)


def test_train_test_split_on_field_data(field_data):
    row_numbers = np.arange(20)
    train, test, train_rows, test_rows = train_test_split(
        field_data, row_numbers, test_size=0.25, random_state=0
    )
    assert len(train) == 15 and len(test) == 5
    assert_rows(train, field_data, train_rows)
    assert_rows(test, field_data, test_rows)


# --------------------------------------------------------------------------------------
# scikit-learn API
# --------------------------------------------------------------------------------------


def test_get_params_returns_constructor_arguments():
    params = {
        "categorical_features": ["site"],
        "numeric_features": None,
        "numeric": "value",
        "n_bins": 8,
        "min_frequency": 3,
        "hash_buckets": 16,
        "sequence_features": ["tags"],
        "behavior": {"history": "site"},
        "max_sequence_length": 20,
        "sequence_delimiter": ",",
    }
    assert CTRTransformer(**params).get_params() == params


def test_clone_copies_params_not_fitted_state():
    encoder = CTRTransformer(numeric="value", min_frequency=2).fit(mixed_frame())
    cloned = clone(encoder)
    assert cloned.get_params() == encoder.get_params()
    assert not hasattr(cloned, "fields_")


def test_fit_transform_equals_fit_then_transform():
    frame = mixed_frame()
    once = CTRTransformer(numeric="value").fit_transform(frame)
    twice = CTRTransformer(numeric="value").fit(frame).transform(frame)
    np.testing.assert_array_equal(once["ids"], twice["ids"])
    np.testing.assert_array_equal(once["values"], twice["values"])


@pytest.mark.parametrize(
    "param, value",
    [
        ("numeric", "foo"),
        ("n_bins", 0),
        ("n_bins", 2.5),
        ("min_frequency", 0),
        ("categorical_features", "site"),
    ],
)
def test_invalid_params_raise_at_fit_naming_the_parameter(param, value):
    encoder = CTRTransformer(**{param: value})  # construction stores the value verbatim
    with pytest.raises(InvalidParameterError, match=f"'{param}'"):
        encoder.fit(mixed_frame())
