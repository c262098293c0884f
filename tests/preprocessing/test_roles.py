"""Column roles a user would expect (issue 13 item 3): integer ids vs integer quantities, the
fitted role table, and warnings for doubtful guesses."""

import warnings

import numpy as np
import pandas as pd
import pytest

from sk_ctr import CTRTransformer
from sk_ctr.preprocessing import roles as roles_module
from sk_ctr.preprocessing.roles import RARE_VALUE_COUNT, integer_role, rare_value_share


@pytest.fixture(scope="module")
def census_like():
    rng = np.random.default_rng(0)
    n = 2000
    return pd.DataFrame(
        {
            "user": rng.integers(0, 50, n),  # ids: every value recurs
            "weight": rng.integers(10_000, 900_000, n),  # a quantity: values unique
            "age": pd.array(rng.integers(17, 90, n), dtype="Int64"),  # recurring, nullable
            "flag": rng.random(n) < 0.5,
            "site": rng.choice(["a", "b", "c"], n),
        }
    )


def test_rare_value_share_matches_its_definition():
    column = pd.Series([1, 1, 1, 1, 1, 2, 2, 3, None], dtype="Int64")
    counts = {1: 5, 2: 2, 3: 1}
    rare_rows = sum(c for c in counts.values() if c < RARE_VALUE_COUNT)
    assert rare_value_share(column) == pytest.approx(rare_rows / 8)


def test_integer_columns_are_ids_when_values_recur_and_quantities_when_they_do_not(census_like):
    enc = CTRTransformer().fit(census_like)
    roles = enc.column_roles_
    assert roles.loc["user", "role"] == "categorical" and roles.loc["user", "n_ids"] == 52
    assert roles.loc["weight", "role"] == "bucketized" and roles.loc["weight", "n_ids"] <= 18
    assert roles.loc["age", "role"] == "categorical"
    assert roles.loc["flag", "role"] == roles.loc["site", "role"] == "categorical"
    assert "quantity" in roles.loc["weight", "why"] and "ids" in roles.loc["user", "why"]
    assert list(roles.index) == list(census_like.columns)
    # the quantity is ordered: larger weights never get a smaller bucket
    ids = enc.transform(census_like)["ids"][:, list(census_like.columns).index("weight")]
    order = np.argsort(census_like["weight"].to_numpy())
    assert np.all(np.diff(ids[order]) >= 0)


def test_an_integer_columns_recurrence_is_counted_once_per_fit(census_like, monkeypatch):
    """The role table reuses the counts that chose the roles (a value_counts of the column
    each), and says what counting again would."""
    counted = []

    def counting(column):
        counted.append(column.name)
        return integer_role(column)

    monkeypatch.setattr(roles_module, "integer_role", counting)
    enc = CTRTransformer().fit(census_like)
    assert sorted(counted) == ["age", "user", "weight"]
    recounted = roles_module.describe_roles(census_like, enc.fields_, given=set())
    pd.testing.assert_frame_equal(enc.column_roles_, recounted)


def test_given_roles_win_and_are_reported_as_given(census_like):
    enc = CTRTransformer(categorical_features=["weight", "user", "age", "flag", "site"])
    roles = enc.fit(census_like).column_roles_
    assert roles.loc["weight", "role"] == "categorical" and roles.loc["weight", "why"] == "given"
    value = CTRTransformer(numeric="value").fit(census_like).column_roles_
    assert value.loc["weight", "role"] == "numeric" and value.loc["weight", "n_ids"] == 1


def test_numbers_written_as_text_with_strays_warn_naming_the_column():
    rng = np.random.default_rng(0)
    prices = rng.normal(size=500).round(2).astype(str).astype(object)
    prices[:10] = "N/A"
    frame = pd.DataFrame({"price": prices, "site": rng.choice(["x", "y"], 500)})
    with pytest.warns(UserWarning, match="'price' holds numbers written as text.*N/A"):
        CTRTransformer().fit(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CTRTransformer().fit(frame.assign(price=prices.astype(str)).iloc[10:])  # all numbers
        CTRTransformer(categorical_features=["price", "site"]).fit(frame)  # said so


def test_a_history_separated_by_spaces_under_the_pipe_delimiter_warns():
    frame = pd.DataFrame({"item": ["a", "b", "c", "a"], "hist": ["a b", "b c a", "", "c a"]})
    with pytest.warns(UserWarning, match="'hist'.*contain ' '.*sequence_delimiter=' '"):
        CTRTransformer(behavior={"hist": "item"}).fit(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CTRTransformer(behavior={"hist": "item"}, sequence_delimiter=" ").fit(frame)
        CTRTransformer(behavior={"hist": "item"}).fit(frame.assign(hist=["a|b", "b", "", "c"]))


def test_crosses_are_reported_with_the_columns_they_cross(census_like):
    from sk_ctr import CrossProductFeatures

    crossed = CrossProductFeatures([("site", "flag")]).fit_transform(census_like)
    roles = CTRTransformer().fit(crossed).column_roles_
    assert roles.loc["site_x_flag", "role"] == "categorical"
    assert roles.loc["site_x_flag", "why"] == "cross of site, flag"
    assert "cross" not in roles.loc["site", "why"]
