"""Tests for the field-wise libFM / libSVM readers: the real Frappe and iPinYou samples in
../shared/data (skipped where absent) and the format errors on tiny files."""

import gzip
import re

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import sk_ctr
from sk_ctr.datasets import (
    get_data_home,
    load_frappe,
    load_ipinyou,
    load_libfm,
    load_libsvm_fields,
)

# Frappe's fields in file order with their global index ranges (data README; the upstream
# README gives the sizes 957, 4082, 7, 7, 2, 3, 2, 9, 80, 233).
FRAPPE_RANGES = {
    "user": (0, 956), "item": (957, 5038), "daytime": (5039, 5045), "weekday": (5046, 5052),
    "isweekend": (5053, 5054), "homework": (5055, 5057), "cost": (5058, 5059),
    "weather": (5060, 5068), "country": (5069, 5148), "city": (5149, 5381),
}  # fmt: skip
# iPinYou's fields in file order with their number of indices in featindex.fm.txt (data README).
IPINYOU_SIZES = {
    "weekday": 5, "hour": 25, "useragent": 14, "IP": 131235, "region": 35, "city": 367,
    "adexchange": 2, "domain": 800, "slotid": 961, "slotwidth": 2, "slotheight": 2,
    "slotvisibility": 4, "slotformat": 2, "creative": 4, "advertiser": 2, "slotprice": 5,
}  # fmt: skip


@pytest.fixture(scope="module")
def frappe():
    # Loaded once for the module (the conftest fixture shared_data_file is function-scoped).
    directory = get_data_home() / "frappe_nfm"
    if not (directory / "frappe.validation.libfm").is_file():
        pytest.skip(f"the data home lacks the Frappe sample (looked for {directory})")
    return load_frappe(directory)


# --------------------------------------------------------------------------------------
# Frappe
# --------------------------------------------------------------------------------------


def test_frappe_rows_labels_and_fields(frappe):
    X_train, y_train, X_test, y_test = frappe
    # Row and positive counts of the data README: validation part for training, test part.
    assert X_train.shape == (57_722, 10) and X_test.shape == (28_860, 10)
    assert y_train.dtype == np.int64 and set(np.unique(y_train)) == {0, 1}
    assert (y_train.sum(), y_test.sum()) == (19_063, 9_536)
    assert y_train.mean() == pytest.approx(0.3303, abs=5e-5)
    assert y_test.mean() == pytest.approx(0.3304, abs=5e-5)
    assert list(X_train.columns) == list(FRAPPE_RANGES) == list(X_test.columns)
    assert set(X_train.dtypes) == {np.dtype(object)} and X_train.notna().all().all()
    # First line of frappe.test.libfm: "-1 204:1 4798:1 5041:1 5046:1 5053:1 ...".
    assert X_test.iloc[0, :4].tolist() == ["204", "4798", "5041", "5046"] and y_test[0] == 0


def test_frappe_field_cardinalities(frappe):
    X_train, _, X_test, _ = frappe
    for X in (X_train, X_test):
        for name, (low, high) in FRAPPE_RANGES.items():
            indices = X[name].astype(np.int64)
            assert indices.between(low, high).all(), name
            assert X[name].nunique() <= high - low + 1
    # Every value of the small context fields occurs; the apps too; not all users/countries.
    expected = {"user": 884, "item": 4082, "daytime": 7, "weekday": 7, "isweekend": 2,
                "homework": 3, "cost": 2, "weather": 9, "country": 75, "city": 221}  # fmt: skip
    assert X_train.nunique().to_dict() == expected


def test_load_libfm_names_fields_by_position(shared_data_file):
    path = shared_data_file("frappe_nfm", "frappe.test.libfm")
    X, y = load_libfm(path)
    assert list(X.columns) == [f"field_{j}" for j in range(10)]
    assert X.shape == (28_860, 10) and y.sum() == 9_536
    X_named, _ = load_libfm(path, n_fields=10, field_names=list(FRAPPE_RANGES), n_rows=100)
    assert list(X_named.columns) == list(FRAPPE_RANGES)
    np.testing.assert_array_equal(X_named.to_numpy(), X.iloc[:100].to_numpy())


def test_lr_learns_frappe(frappe):
    # Smoke check of the whole path (reader -> CTRTransformer -> estimator); LR reaches ~0.88.
    X_train, y_train, X_test, y_test = frappe
    model = sk_ctr.LRClassifier(max_epochs=2, random_state=0).fit(X_train, y_train)
    assert roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]) > 0.6


# --------------------------------------------------------------------------------------
# iPinYou
# --------------------------------------------------------------------------------------


def test_ipinyou_rows_labels_and_decoded_fields(shared_data_file):
    directory = shared_data_file("ipinyou_2997_deepctr", "train.fm.txt").parent
    X_train, y_train, X_test, y_test = load_ipinyou(directory)
    assert X_train.shape == (26_773, 16) and X_test.shape == (21_150, 16)
    assert (y_train.sum(), y_test.sum()) == (255, 50)  # 0.95 % and 0.24 %
    assert list(X_train.columns) == list(IPINYOU_SIZES) == list(X_test.columns)
    assert set(X_train.dtypes) == {np.dtype(object)} and X_train.notna().all().all()
    for X in (X_train, X_test):
        for name, size in IPINYOU_SIZES.items():
            assert 1 <= X[name].nunique() <= size, name
    # The decoded example row of the data README is the first training line.
    assert X_train.iloc[0].to_dict() == {
        "weekday": "2", "hour": "18", "useragent": "android_safari", "IP": "60.22.69.*",
        "region": "40", "city": "53", "adexchange": "null",
        "domain": "6e9c0e0bc0e584838ad187cad9852248", "slotid": "318719490",
        "slotwidth": "320", "slotheight": "50", "slotvisibility": "FirstView",
        "slotformat": "Na", "creative": "11908", "advertiser": "2997", "slotprice": "1-10",
    }  # fmt: skip
    # The raw indices read the same rows: 16 fields, same labels.
    X_indices, y = load_libfm(directory / "test.fm.txt")
    assert X_indices.shape == (21_150, 16)
    np.testing.assert_array_equal(y, y_test)


# --------------------------------------------------------------------------------------
# Small files: parsing details and errors
# --------------------------------------------------------------------------------------


def write(tmp_path, text, name="data.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def test_labels_line_endings_blank_lines_and_gzip(tmp_path):
    text = "1 3:1 7:1\r\n\r\n-1 4:1\t8:1 \r\n+1 3:1 8:1\r\n"
    X, y = load_libfm(write(tmp_path, text), field_names=["a", "b"])
    assert X.to_dict("list") == {"a": ["3", "4", "3"], "b": ["7", "8", "8"]}
    np.testing.assert_array_equal(y, [1, 0, 1])
    assert y.dtype == np.int64
    gz = tmp_path / "data.txt.gz"
    gz.write_bytes(gzip.compress(b"0 3:1 7:1\n1 4:1 8:1\n"))
    X, y = load_libfm(gz, n_rows=1)
    assert X.to_dict("list") == {"field_0": ["3"], "field_1": ["7"]} and y.tolist() == [0]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "the file is empty"),
        ("label f1 f2\n1 3:1 7:1\n", "line 1: the label 'label' is not a number"),
        ("1 3:1 7:1\nnan 4:1 8:1\n", "line 2: the label 'nan' is not a number"),
        ("1\n0\n", "line 1: expected index:value pairs after the label, found none"),
        ("1 3:1 7:1\n0 4 8:1\n", "line 2: expected `index:value` .* found '4'"),
        ("1 3:1 7:1\n0 x:1 8:1\n", "line 2: expected `index:value` .* found 'x:1'"),
        ("1 3:1 7:1\n0 4:1:1 8:1\n", "line 2: expected `index:value` .* found '4:1:1'"),
        ("1 3:1 7:1\n\n0 4:1 8:1 9:1\n", "line 3: expected 2 index:value pairs .* found 3"),
        ("1 3:1 7:1\n0 4:1\n", "line 2: expected 2 index:value pairs .* found 1"),
        ("1 3:1 7:1\n2 4:1 8:1\n", "line 2: the label must be -1/1 or 0/1, found 2"),
        ("1 3:1 7:1\n-1 4:1 8:1\n0 3:1 8:1\n", "line 3: the file mixes the labels -1 and 0"),
        ("1 3:1 7:1\n0 4:1 8:0.5\n", "line 2: found the feature value 0.5: every feature"),
        ("1 3:1 7:1\n0 -4:1 8:1\n", "line 2: found the index -4"),
        (
            "1 3:1 7:1\n0 4:1 8:1\n0 7:1 3:1\n",
            "line 3: the feature index 3 is at position 2 here but at position 1 on line 1",
        ),
    ],
)
def test_malformed_file_says_what_where(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=message) as info:
        load_libfm(path)
    assert str(path) in str(info.value) and "libFM format" in str(info.value)


def test_wrong_number_of_fields_or_names(tmp_path):
    path = write(tmp_path, "1 3:1 7:1\n0 4:1 8:1\n")
    with pytest.raises(ValueError, match=r"line 1: expected 3 index:value pairs .*n_fields"):
        load_libfm(path, n_fields=3)
    with pytest.raises(ValueError, match="field_names must be 2 distinct names"):
        load_libfm(path, field_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="n_fields must be an integer >= 1"):
        load_libfm(path, n_fields=0)


def test_missing_files_are_named(tmp_path):
    missing = tmp_path / "nope.libfm"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        load_libfm(missing)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "nowhere"))):
        load_frappe(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="frappe.validation.libfm"):
        load_frappe(tmp_path)
    with pytest.raises(FileNotFoundError, match="featindex.fm.txt"):
        load_ipinyou(tmp_path)
    data = write(tmp_path, "0 1:1\n")
    with pytest.raises(FileNotFoundError, match="featindex.txt"):
        load_libsvm_fields(data, tmp_path / "featindex.txt")


def test_frappe_checks_the_field_ranges(tmp_path):
    line = "1 0:1 957:1 5039:1 5046:1 5053:1 5055:1 5058:1 5060:1 5069:1 5149:1\n"
    write(tmp_path, line, "frappe.validation.libfm")
    write(tmp_path, line.replace("1 ", "-1 ", 1), "frappe.test.libfm")
    X_train, y_train, X_test, y_test = load_frappe(tmp_path)
    assert X_train.iloc[0].tolist() == line.replace(":1", "").split()[1:] == X_test.iloc[0].tolist()
    assert (y_train.tolist(), y_test.tolist()) == ([1], [0])
    write(tmp_path, line.replace("5046:1", "5045:1"), "frappe.test.libfm")
    with pytest.raises(ValueError, match=r"line 1 has the index 5045 at position 4, where "):
        load_frappe(tmp_path)


FEATURE_INDEX = (
    "color:other\t0\ncolor:red\t1\ncolor:blue\t2\nsize:other\t3\nsize:S\t4\nsize:M:L\t5\n"
)


def test_feature_index_decodes_raw_values(tmp_path):
    data = write(tmp_path, "0 1:1 4:1\n1 2:1 5:1\n0 0:1 3:1\n")
    X, y = load_libsvm_fields(data, write(tmp_path, FEATURE_INDEX, "featindex.txt"))
    # Split at the first colon only: "size:M:L" is the value "M:L" of the field "size".
    assert X.to_dict("list") == {"color": ["red", "blue", "other"], "size": ["S", "M:L", "other"]}
    np.testing.assert_array_equal(y, [0, 1, 0])


@pytest.mark.parametrize(
    "data, feature_index, message",
    [
        ("0 1:1 4:1\n", "color:red 1\n", r"not a feature index .*line 1 is 'color:red 1'"),
        ("0 1:1 4:1\n", "red\t1\n", r"not a feature index .*line 1 is 'red\\t1'"),
        ("0 1:1 4:1\n", "a:x\t1\na:y\t1\n", "the index 1 is given twice"),
        ("0 1:1 4:1\n", "", "the file is empty"),
        ("0 1:1 4:1\n0 2:1 9:1\n", FEATURE_INDEX, "line 2 has the index 9, which it does not"),
        (
            "0 1:1 4:1\n0 3:1 5:1\n",
            FEATURE_INDEX,
            "position 1 is field 'color' on line 1 but 'size' on line 2",
        ),
        ("0 1:1 2:1\n", FEATURE_INDEX, "field 'color' is at two positions"),
    ],
)
def test_feature_index_errors(tmp_path, data, feature_index, message):
    data_path = write(tmp_path, data)
    with pytest.raises(ValueError, match=message):
        load_libsvm_fields(data_path, write(tmp_path, feature_index, "featindex.txt"))
