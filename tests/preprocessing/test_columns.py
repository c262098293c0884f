"""The frame checks every transform starts with (sk_ctr.preprocessing.columns.check_frame):
column names as strings, duplicates, missing and unknown columns, any column order."""

import numpy as np
import pandas as pd
import pytest

from sk_ctr import CTRTransformer
from sk_ctr.preprocessing.columns import _stored_columns


@pytest.fixture(scope="module")
def frame():
    return pd.DataFrame(
        {
            "site": ["a", "b", None, "a"],
            "price": [1.0, np.nan, 3.0, 4.0],
            "device": pd.Categorical(["x", "y", "x", "x"]),
        }
    )


def test_non_string_column_names_are_their_strings(frame):
    numbered = frame.set_axis([0, 1, 2], axis=1)
    encoder = CTRTransformer().fit(numbered)
    assert list(encoder.feature_names_in_) == ["0", "1", "2"]
    expected = CTRTransformer().fit(frame).transform(frame)
    encoded = encoder.transform(numbered)
    np.testing.assert_array_equal(encoded["ids"], expected["ids"])
    # the names as strings are the same columns
    as_strings = numbered.set_axis(["0", "1", "2"], axis=1)
    np.testing.assert_array_equal(encoder.transform(as_strings)["ids"], expected["ids"])


def test_duplicated_names_are_refused_naming_them(frame):
    encoder = CTRTransformer().fit(frame)
    twice = pd.concat([frame, frame[["price"]]], axis=1)
    with pytest.raises(ValueError, match=r"duplicated column names: \['price'\]"):
        encoder.transform(twice)
    with pytest.raises(ValueError, match=r"duplicated column names: \['price'\]"):
        CTRTransformer().fit(twice)


def test_missing_and_unknown_columns_are_named(frame):
    encoder = CTRTransformer().fit(frame)
    wrong = frame.drop(columns="price").assign(colour=["r"] * 4)
    with pytest.raises(ValueError, match=r"missing column\(s\).*\['price'\].*\['colour'\]"):
        encoder.transform(wrong)


@pytest.mark.parametrize("n_rows", [1, 4])
def test_columns_in_any_order_encode_alike(frame, n_rows):
    encoder = CTRTransformer().fit(frame)
    rows = frame.iloc[:n_rows]
    expected = encoder.transform(rows)
    reordered = encoder.transform(rows[["device", "site", "price"]])
    np.testing.assert_array_equal(reordered["ids"], expected["ids"])
    np.testing.assert_array_equal(reordered["values"], expected["values"])


def test_stored_columns_are_the_columns_values(frame):
    stored = _stored_columns(frame)
    assert list(stored) == list(frame.columns)
    for name in frame.columns:
        assert type(stored[name]) is type(frame[name].values)
        pd.testing.assert_series_equal(pd.Series(stored[name], name=name), frame[name])
