import numpy as np
import pandas as pd
import pytest

from sk_ctr import CTRTransformer
from sk_ctr.preprocessing.encoding import RawEncoder
from sk_ctr.preprocessing.field_arrays import (
    COMPARED_EDGES_MAX,
    COMPARED_MIN_ROWS,
    bucket_ids,
    stack_fields,
)
from sk_ctr.preprocessing.fields import FIRST_VALUE_ID, MISSING_ID


def bucket_definition(values, edges):
    """FIRST_VALUE_ID + the number of edges at or below each value, MISSING_ID for NaN,
    one value at a time."""
    return np.array(
        [
            MISSING_ID if np.isnan(v) else FIRST_VALUE_ID + sum(e <= v for e in edges)
            for v in values
        ],
        dtype=np.int64,
    )


@pytest.mark.parametrize(
    "n_edges", [0, 1, 15, COMPARED_EDGES_MAX, COMPARED_EDGES_MAX + 1, 3 * COMPARED_EDGES_MAX]
)
@pytest.mark.parametrize("n_values", [1, COMPARED_MIN_ROWS])  # both ways of counting
def test_bucket_ids_count_the_edges_at_or_below_each_value(n_edges, n_values):
    rng = np.random.default_rng(n_edges)
    edges = np.unique(rng.normal(size=n_edges))
    # values on the edges, between them, beyond both ends, signed zeros and NaN
    values = np.concatenate(
        [edges, rng.normal(size=n_values), [-1e300, 1e300, 0.0, -0.0, np.nan, np.nan]]
    )
    edges = np.union1d(edges, [0.0]) if n_edges else edges
    ids = bucket_ids(values, edges)
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, bucket_definition(values, edges))
    np.testing.assert_array_equal(
        ids[~np.isnan(values)],
        np.searchsorted(edges, values[~np.isnan(values)], side="right") + FIRST_VALUE_ID,
    )


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (7, 1), (300, 4), (5, 0), (0, 3)])
@pytest.mark.parametrize("dtype", [np.int64, np.float32])
def test_stack_fields_puts_each_column_at_its_position(shape, dtype):
    n_samples, n_fields = shape
    rng = np.random.default_rng(0)
    columns = [rng.normal(size=n_samples) * 1000 for _ in range(n_fields)]
    stacked = stack_fields(n_samples, n_fields, dtype, iter(columns))
    expected = np.empty(shape, dtype=dtype)
    for j, column in enumerate(columns):
        expected[:, j] = column  # the strided write it replaces
    assert stacked.dtype == dtype and stacked.shape == shape
    assert stacked.flags.c_contiguous
    np.testing.assert_array_equal(stacked, expected)


def test_stack_fields_raises_the_error_of_the_failing_column_before_encoding_the_next():
    encoded = []

    def columns():
        encoded.append(0)
        yield np.zeros(3)
        encoded.append(1)
        raise ValueError("column 'b' is bad")
        yield np.zeros(3)  # pragma: no cover

    with pytest.raises(ValueError, match="column 'b'"):
        stack_fields(3, 2, np.int64, columns())
    assert encoded == [0, 1]


@pytest.fixture(scope="module")
def mixed_frame():
    rng = np.random.default_rng(1)
    n = 500  # above the row-by-row lookup, so columns are factorized
    frame = pd.DataFrame(
        {
            "site": rng.choice(["a", "b", "c", None], n),
            "price": np.where(rng.random(n) < 0.2, np.nan, rng.lognormal(size=n)),
            "user": rng.integers(0, 40, n),
            "weight": rng.normal(size=n),
            "device": pd.Categorical(rng.choice(["x", "y"], n)),
        }
    )
    return frame


@pytest.mark.parametrize("numeric", ["bucketize", "value"])
@pytest.mark.parametrize("n_rows", [1, 7, 500])
def test_transform_columns_are_the_fields_encoded_one_by_one(mixed_frame, numeric, n_rows):
    frame = mixed_frame.iloc[:n_rows]
    train = mixed_frame.dropna(subset=["weight"])
    encoder = CTRTransformer(numeric=numeric, n_bins=5, numeric_features=["price", "weight"])
    encoder.fit(train if numeric == "bucketize" else train.fillna({"price": 0.0}))
    frame = frame if numeric == "bucketize" else frame.fillna({"price": 0.0})
    encoded = encoder.transform(frame)
    ids, values = encoded["ids"], encoded["values"]
    assert ids.flags.c_contiguous and values.flags.c_contiguous
    for j, field in enumerate(f for f in encoder.fields_ if f.kind == "categorical"):
        column = frame[field.name]
        if field.source == "categorical":
            expected = encoder._lookup(field.name).column_ids(field.name, column)
        else:
            expected = bucket_definition(column.to_numpy(), encoder.bin_edges_[field.name])
        np.testing.assert_array_equal(ids[:, j], expected, err_msg=field.name)
    for j, field in enumerate(f for f in encoder.fields_ if f.kind == "numeric"):
        mean, std = encoder.scaling_[field.name]
        expected = ((frame[field.name].to_numpy() - mean) / std).astype(np.float32)
        np.testing.assert_array_equal(values[:, j], expected, err_msg=field.name)
    served = RawEncoder.from_transformer(encoder).transform(frame)
    np.testing.assert_array_equal(served["ids"], ids)
    np.testing.assert_array_equal(served["values"], values)
