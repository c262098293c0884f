"""Tests for sk_ctr.datasets: the synthetic generator and the Criteo / Avazu loaders."""

import gzip
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import OneHotEncoder

from sk_ctr.datasets import (
    _synthetic,
    get_data_home,
    load_avazu,
    load_criteo,
    make_ctr_classification,
)

# Real data samples live beside the repo (they may not be redistributed, so never in it); the
# conftest points the data home at them.
DATA = get_data_home()


def data_file(*parts):
    path = DATA.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"the data home {DATA} lacks the sample (looked for {path})")
    return path


# --------------------------------------------------------------------------------------
# make_ctr_classification
# --------------------------------------------------------------------------------------


def test_shapes_names_and_dtypes():
    X, y, logit = make_ctr_classification(
        n_samples=500,
        n_fields=3,
        cardinality=[5, 20, 100],
        n_numeric=2,
        random_state=0,
        return_logit=True,
    )
    assert list(X.columns) == ["I1", "I2", "C1", "C2", "C3"]
    assert X.shape == (500, 5) and y.shape == (500,) and logit.shape == (500,)
    assert y.dtype == np.int64 and set(np.unique(y)) <= {0, 1}
    assert logit.dtype == np.float64
    for col in ["C1", "C2", "C3"]:
        assert X[col].dtype == object
    for col in ["I1", "I2"]:
        assert X[col].dtype == np.float64
        assert X[col].notna().all() and (X[col] > 0).all()
    assert X["C1"].str.fullmatch(r"c1_[0-4]").all()
    assert X["C3"].nunique() <= 100
    assert X["C3"].iloc[0].startswith("c3_")


def test_reproducible_with_random_state():
    X1, y1 = make_ctr_classification(n_samples=300, n_numeric=1, random_state=42)
    X2, y2 = make_ctr_classification(n_samples=300, n_numeric=1, random_state=42)
    X3, y3 = make_ctr_classification(n_samples=300, n_numeric=1, random_state=43)
    pd.testing.assert_frame_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not X1.equals(X3)
    # A RandomState (as scikit-learn users pass) is accepted and reproducible too.
    X4, _ = make_ctr_classification(n_samples=50, random_state=np.random.RandomState(0))
    X5, _ = make_ctr_classification(n_samples=50, random_state=np.random.RandomState(0))
    pd.testing.assert_frame_equal(X4, X5)


def test_true_model_does_not_depend_on_n_samples():
    # One field, order 1: logit = bias + w[category]; the weight differences must match.
    def weights(n):
        X, _, logit = make_ctr_classification(
            n_samples=n,
            n_fields=1,
            cardinality=5,
            interaction_order=1,
            random_state=7,
            return_logit=True,
        )
        w = pd.Series(logit).groupby(X["C1"]).first()
        return w - w.mean()

    pd.testing.assert_series_equal(weights(200), weights(2000))


def test_category_frequencies_are_long_tailed():
    X, _ = make_ctr_classification(n_samples=20000, n_fields=1, cardinality=100, random_state=0)
    counts = X["C1"].value_counts().to_numpy()
    assert counts[0] > 10 * np.median(counts)  # head vs. tail
    X, _ = make_ctr_classification(
        n_samples=20000, n_fields=1, cardinality=100, zipf_exponent=0.0, random_state=0
    )
    counts = X["C1"].value_counts().to_numpy()
    assert counts[0] < 2 * np.median(counts)  # uniform


@pytest.mark.parametrize("rate", [None, 0.05, 0.5])
def test_positive_rate_is_honoured(rate):
    _, y = make_ctr_classification(
        n_samples=20000, n_numeric=2, positive_rate=rate, noise=0.5, random_state=1
    )
    expected = 0.25 if rate is None else rate
    assert abs(y.mean() - expected) < 0.02


def test_numeric_missing_rate():
    X, _, logit = make_ctr_classification(
        n_samples=4000, n_numeric=3, numeric_missing_rate=0.3, random_state=0, return_logit=True
    )
    nan_rate = X[["I1", "I2", "I3"]].isna().mean()
    assert ((nan_rate > 0.25) & (nan_rate < 0.35)).all()
    assert np.isfinite(logit).all()


def test_bayes_auc_beats_one_hot_logistic_regression():
    # The order-2 (FM) term must carry enough signal that a linear model on one-hot
    # features is clearly worse than the true logit: downstream FM-vs-LR tests rely on it.
    X, y, logit = make_ctr_classification(
        n_samples=20000,
        n_fields=8,
        cardinality=50,
        interaction_order=2,
        random_state=0,
        return_logit=True,
    )
    n_train = 15000
    encoder = OneHotEncoder(handle_unknown="ignore")
    X_train = encoder.fit_transform(X.iloc[:n_train])
    X_test = encoder.transform(X.iloc[n_train:])
    lr = LogisticRegression(max_iter=1000).fit(X_train, y[:n_train])
    lr_auc = roc_auc_score(y[n_train:], lr.decision_function(X_test))
    bayes_auc = roc_auc_score(y[n_train:], logit[n_train:])
    assert bayes_auc > 0.75, bayes_auc
    assert bayes_auc - lr_auc > 0.03, (bayes_auc, lr_auc)


def test_order_one_logit_is_additive_in_fields():
    # With interaction_order=1 the logit is a sum of per-field weights, so it is exactly
    # fitted by least squares on one-hot features.
    X, _, logit = make_ctr_classification(
        n_samples=2000,
        n_fields=4,
        cardinality=10,
        interaction_order=1,
        random_state=3,
        return_logit=True,
    )
    one_hot = OneHotEncoder(sparse_output=False).fit_transform(X)
    design = np.column_stack([one_hot, np.ones(len(X))])
    coef, *_ = np.linalg.lstsq(design, logit, rcond=None)
    np.testing.assert_allclose(design @ coef, logit, atol=1e-8)


@pytest.mark.parametrize("order", [2, 3])
def test_anova_matches_sum_over_field_subsets(order):
    vectors = np.random.default_rng(0).normal(size=(6, 5, 3))  # rows, fields, embed_dim
    expected = [
        sum(np.prod(row[list(subset)], axis=0).sum() for subset in combinations(range(5), order))
        for row in vectors
    ]
    np.testing.assert_allclose(_synthetic._anova(vectors, order), expected)


def test_third_order_runs():
    X, y = make_ctr_classification(n_samples=1000, n_fields=4, interaction_order=3, random_state=0)
    assert X.shape == (1000, 4) and 0.15 < y.mean() < 0.35


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_fields": 0}, "n_fields"),
        ({"n_fields": 2.5}, "n_fields"),
        ({"cardinality": 0}, "cardinality"),
        ({"n_fields": 3, "cardinality": [5, 5]}, "cardinality"),
        ({"n_numeric": -1}, "n_numeric"),
        ({"interaction_order": 4}, "interaction_order"),
        ({"embed_dim": 0}, "embed_dim"),
        ({"positive_rate": 1.0}, "positive_rate"),
        ({"positive_rate": 0.0}, "positive_rate"),
        ({"noise": -1.0}, "noise"),
        ({"zipf_exponent": float("nan")}, "zipf_exponent"),
        ({"numeric_missing_rate": 1.0}, "numeric_missing_rate"),
        ({"random_state": "seed"}, "random_state"),
    ],
)
def test_invalid_parameters_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_ctr_classification(n_samples=kwargs.pop("n_samples", 10), **kwargs)


# --------------------------------------------------------------------------------------
# load_criteo
# --------------------------------------------------------------------------------------

CRITEO_X_COLUMNS = [f"I{i}" for i in range(1, 14)] + [f"C{i}" for i in range(1, 27)]


def check_criteo_frame(X):
    assert list(X.columns) == CRITEO_X_COLUMNS
    for i in range(1, 14):
        assert X[f"I{i}"].dtype == np.float64
    for i in range(1, 27):
        assert X[f"C{i}"].dtype == object


def test_load_criteo_raw_tab_separated():
    X, y = load_criteo(data_file("criteo_kaggle_10k", "train_examples.txt"))
    check_criteo_frame(X)
    assert X.shape == (10000, 39)
    assert y.dtype == np.int64 and y.sum() == 2182  # 21.82 % positives
    # Missing counts documented in the data README.
    assert X["I1"].isna().sum() == 4481
    assert X["I2"].isna().sum() == 0
    assert X["C22"].isna().sum() == 8182
    assert X["I2"].min() == -2
    assert X.loc[0, "C1"] == "68fd1e64"


def test_load_criteo_n_rows():
    X, y = load_criteo(data_file("criteo_kaggle_10k", "train_examples.txt"), n_rows=100)
    assert X.shape == (100, 39) and y.shape == (100,)


def test_load_criteo_csv_with_header():
    X, y = load_criteo(data_file("criteo_kaggle_10k", "deepctr_criteo_sample.txt"))
    check_criteo_frame(X)
    assert X.shape == (200, 39)
    assert y.sum() == 49
    assert X.loc[0, "I3"] == 260.0 and np.isnan(X.loc[0, "I1"])
    assert X.loc[0, "C1"] == "05db9164" and pd.isna(X.loc[0, "C26"])


def criteo_line(label="0", sep="\t"):
    ints = ["1", ""] + [str(i) for i in range(11)]
    cats = ["68fd1e64", ""] + [f"{i:08x}" for i in range(24)]
    return sep.join([label, *ints, *cats]) + "\n"


def test_load_criteo_small_file_and_gzip(tmp_path):
    text = criteo_line("1") + criteo_line("0")
    plain = tmp_path / "criteo.txt"
    plain.write_text(text)
    packed = tmp_path / "criteo.txt.gz"
    with gzip.open(packed, "wt") as fh:
        fh.write(text)
    for path in (plain, packed):
        X, y = load_criteo(path)
        check_criteo_frame(X)
        np.testing.assert_array_equal(y, [1, 0])
        assert np.isnan(X.loc[0, "I2"]) and X.loc[0, "I1"] == 1.0
        assert pd.isna(X.loc[0, "C2"]) and X.loc[0, "C1"] == "68fd1e64"


def test_load_criteo_missing_file(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_criteo(path)


def test_load_criteo_wrong_column_count(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("\t".join(["0"] * 24) + "\n")
    with pytest.raises(ValueError, match=r"Criteo format.*expected 40 tab-separated.*found 24"):
        load_criteo(path)


def test_load_criteo_rejects_avazu_file():
    path = data_file("avazu_kaggle_sample", "avazu_train_first499.csv")
    with pytest.raises(ValueError, match=r"not in Criteo format.*comma-separated.*found 24"):
        load_criteo(path)


def test_load_criteo_bad_label(tmp_path):
    path = tmp_path / "label.txt"
    path.write_text(criteo_line("0") + criteo_line("2"))
    with pytest.raises(ValueError, match=r"Criteo format.*label.*0 or 1.*row 2"):
        load_criteo(path)


def test_load_criteo_bad_header(tmp_path):
    header = ",".join(["label"] + [f"x{i}" for i in range(39)]) + "\n"
    path = tmp_path / "header.csv"
    path.write_text(header + criteo_line(sep=","))
    with pytest.raises(ValueError, match="Criteo format.*header"):
        load_criteo(path)


def test_load_criteo_non_numeric_integer_feature(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(criteo_line().replace("\t1\t", "\tabc\t", 1))
    with pytest.raises(ValueError, match="not in Criteo format"):
        load_criteo(path)


def test_load_criteo_bad_n_rows(tmp_path):
    path = tmp_path / "criteo.txt"
    path.write_text(criteo_line())
    with pytest.raises(ValueError, match="n_rows"):
        load_criteo(path, n_rows=0)


# --------------------------------------------------------------------------------------
# load_avazu
# --------------------------------------------------------------------------------------

AVAZU_HEADER = (
    "id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,"
    "app_category,device_id,device_ip,device_model,device_type,device_conn_type,"
    "C14,C15,C16,C17,C18,C19,C20,C21"
)


def avazu_line(click="0", hour="14102100"):
    return ",".join(["1", click, hour, "1005", "0"] + ["1fbe01fe"] * 10 + ["1"] * 9) + "\n"


def test_load_avazu_sample():
    X, y = load_avazu(data_file("avazu_kaggle_sample", "avazu_train_first499.csv"))
    assert X.shape == (499, 23)
    assert y.dtype == np.int64 and y.sum() == 87  # 17.43 % positives
    assert list(X.columns[:3]) == ["hour_of_day", "weekday", "C1"]
    assert {"id", "click", "hour"}.isdisjoint(X.columns)
    assert all(pd.api.types.is_object_dtype(d) for d in X.dtypes)
    # All rows are from 2014-10-21 00:00, a Tuesday.
    assert set(X["hour_of_day"]) == {"00"} and set(X["weekday"]) == {"1"}
    assert X["device_ip"].nunique() == 472 and X["C1"].nunique() == 3
    assert X.loc[0, "C14"] == "15706"  # integer codes stay strings (categories)
    assert X.notna().all().all()


def test_load_avazu_n_rows():
    X, y = load_avazu(data_file("avazu_kaggle_sample", "avazu_train_first499.csv"), n_rows=10)
    assert X.shape == (10, 23) and y.shape == (10,)


def test_load_avazu_hour_split(tmp_path):
    path = tmp_path / "avazu.csv"
    path.write_text(AVAZU_HEADER + "\n" + avazu_line("1", "14102623") + avazu_line())
    X, y = load_avazu(path)
    np.testing.assert_array_equal(y, [1, 0])
    assert list(X["hour_of_day"]) == ["23", "00"]
    assert list(X["weekday"]) == ["6", "1"]  # 2014-10-26 was a Sunday


def test_load_avazu_missing_click_column(tmp_path):
    # Like the Kaggle test.csv: no label.
    path = tmp_path / "test.csv"
    path.write_text(AVAZU_HEADER.replace("click,", "") + "\n")
    with pytest.raises(ValueError, match=r"not in Avazu format.*missing.*'click'"):
        load_avazu(path)


def test_load_avazu_rejects_criteo_file():
    with pytest.raises(ValueError, match="not in Avazu format"):
        load_avazu(data_file("criteo_kaggle_10k", "deepctr_criteo_sample.txt"))


def test_load_avazu_bad_values(tmp_path):
    path = tmp_path / "click.csv"
    path.write_text(AVAZU_HEADER + "\n" + avazu_line(click="yes"))
    with pytest.raises(ValueError, match="click must be 0 or 1"):
        load_avazu(path)
    path.write_text(AVAZU_HEADER + "\n" + avazu_line(hour="2014-10-21"))
    with pytest.raises(ValueError, match="YYMMDDHH"):
        load_avazu(path)


def test_load_avazu_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="train.gz"):
        load_avazu(tmp_path / "train.gz")


# --------------------------------------------------------------------------------------
# The data home
# --------------------------------------------------------------------------------------


def test_data_home_is_the_argument_else_the_variable_else_home(monkeypatch, tmp_path):
    monkeypatch.setenv("SK_CTR_DATA", str(tmp_path / "from_variable"))
    assert get_data_home(tmp_path / "given") == tmp_path / "given"
    assert get_data_home() == tmp_path / "from_variable"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home("~/ctr") == tmp_path / "ctr"
    for unset in (monkeypatch.delenv, lambda name: monkeypatch.setenv(name, "")):
        unset("SK_CTR_DATA")
        assert get_data_home() == tmp_path / "sk_ctr_data"


def test_named_benchmark_data_are_read_from_the_data_home(monkeypatch, tmp_path):
    # An installed package has nothing beside it: the named sets come from SK_CTR_DATA only.
    from sk_ctr.benchmark import load_benchmark_data

    criteo = tmp_path / "criteo_kaggle_10k" / "train_examples.txt"
    criteo.parent.mkdir()
    criteo.write_text("".join(criteo_line(label) for label in "0110011001"))
    monkeypatch.setenv("SK_CTR_DATA", str(tmp_path))
    X_train, y_train, X_test, y_test = load_benchmark_data("criteo")
    assert len(X_train) + len(X_test) == 10 and sorted([*y_train, *y_test]) == [0] * 5 + [1] * 5
    check_criteo_frame(X_train)
    with pytest.raises(FileNotFoundError, match=r"avazu_kaggle_sample.*SK_CTR_DATA"):
        load_benchmark_data("avazu")
