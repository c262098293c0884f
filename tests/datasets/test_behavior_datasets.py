"""Impressions with behaviour histories: make_behavior_dataset and the Amazon / Taobao readers."""

import numpy as np
import pandas as pd
import pytest

from sk_ctr import CTRTransformer
from sk_ctr.datasets import (
    load_amazon_din,
    load_taobao_dmr,
    load_taobao_fuxictr,
    make_behavior_dataset,
)

AMAZON = ("amazon_electronics_din_sample", "paddlerec_din_sample_data.txt")
DMR = ("taobao_ad_dmr_sample", "alimama_sampled_train.txt")
FUXICTR = ("taobao_ad_fuxictr_tiny", "train_sample.csv")
HISTORIES = {"hist_item_id": "item_id", "hist_cate_id": "cate_id"}


@pytest.fixture(scope="module")
def behavior_data():
    return make_behavior_dataset(n_samples=3000, random_state=0, return_logit=True)


def lengths_of(column):
    return column.map(len).to_numpy()


def category_in_history(X, start=None, stop=None):
    """Whether each row's candidate category is among ``hist_cate_id[start:stop]``."""
    pairs = zip(X["cate_id"], X["hist_cate_id"], strict=True)
    return np.array([cate in history[start:stop] for cate, history in pairs])


def assert_shared_encoding(X, behavior, max_sequence_length=50):
    """Encode end to end: every history is the candidate's vocabulary, lengths are the cells'."""
    encoder = CTRTransformer(behavior=behavior, max_sequence_length=max_sequence_length)
    encoded = encoder.fit_transform(X)
    fields = {f.name: f for f in encoded.schema}
    for j, field in enumerate(encoded.sequence_fields):
        if field.name in behavior:
            assert field.shares == behavior[field.name]
            assert field.vocab_size == fields[behavior[field.name]].vocab_size
            # Training items are never "other": the vocabulary was fitted on them.
            assert (encoded["sequences"][:, j] != 1).all()
        expected = np.minimum(lengths_of(X[field.name]), max_sequence_length)
        np.testing.assert_array_equal(encoded["lengths"][:, j], expected)
    return encoded


# --------------------------------------------------------------------------------------
# make_behavior_dataset
# --------------------------------------------------------------------------------------


def test_columns_shapes_and_types(behavior_data):
    X, y, logit = behavior_data
    assert list(X.columns) == [
        "user_id",
        "position",
        "item_id",
        "cate_id",
        "hist_item_id",
        "hist_cate_id",
    ]
    assert X.shape == (3000, 6) and y.shape == logit.shape == (3000,)
    assert all(pd.api.types.is_object_dtype(d) for d in X.dtypes) and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1} and 0.2 < y.mean() < 0.3
    assert all(isinstance(h, list) for h in X["hist_item_id"])
    np.testing.assert_array_equal(lengths_of(X["hist_item_id"]), lengths_of(X["hist_cate_id"]))


def test_histories_have_variable_lengths_and_some_are_empty(behavior_data):
    lengths = lengths_of(behavior_data[0]["hist_item_id"])
    assert lengths.min() == 0 and lengths.max() == 50 and (lengths == 0).sum() >= 10
    assert len(np.unique(lengths)) == 51


def test_items_have_one_category_everywhere(behavior_data):
    X = behavior_data[0]
    pairs = pd.DataFrame(
        {
            "item": list(X["item_id"]) + [i for h in X["hist_item_id"] for i in h],
            "cate": list(X["cate_id"]) + [c for h in X["hist_cate_id"] for c in h],
        }
    )
    assert (pairs.groupby("item")["cate"].nunique() == 1).all()


def test_histories_of_a_user_are_prefixes_of_one_timeline(behavior_data):
    X = behavior_data[0]
    for _, histories in X.groupby("user_id")["hist_item_id"]:
        longest = max(histories, key=len)
        assert all(h == longest[: len(h)] for h in histories)


def test_same_seed_same_data_and_other_seed_other_data():
    X1, y1 = make_behavior_dataset(n_samples=500, random_state=3)
    X2, y2 = make_behavior_dataset(n_samples=500, random_state=3)
    X3, _ = make_behavior_dataset(n_samples=500, random_state=4)
    pd.testing.assert_frame_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not X1["item_id"].equals(X3["item_id"])


def test_click_rate_is_higher_when_the_category_is_among_the_recent_behaviours(behavior_data):
    X, y, _ = behavior_data
    recent = category_in_history(X, -20)
    older = category_in_history(X, None, -20) & ~recent
    # Planted logits: +3 when recent, +0.5 when only older (the docstring's model).
    assert 0.2 < recent.mean() < 0.8
    assert y[recent].mean() > 3 * y[~recent].mean()
    assert y[older].mean() > y[~recent & ~older].mean()


def test_returned_logit_is_the_planted_score(behavior_data):
    X, y, logit = behavior_data
    recent = category_in_history(X, -20)
    assert logit[recent].mean() - logit[~recent].mean() > 2.5
    assert np.corrcoef(logit, y)[0, 1] > 0.3


def test_recent_window_moves_the_signal():
    X, y = make_behavior_dataset(n_samples=3000, recent_window=5, random_state=1)
    last5 = category_in_history(X, -5)
    only_before = category_in_history(X, -20, -5) & ~last5
    assert y[last5].mean() > 2 * y[only_before].mean()


def test_behavior_dataset_encodes_end_to_end(behavior_data):
    encoded = assert_shared_encoding(behavior_data[0], HISTORIES, max_sequence_length=20)
    assert encoded["sequences"].shape == (3000, 2, 20)


@pytest.mark.parametrize(
    "param, value",
    [
        ("n_samples", 0),
        ("n_items", 10),
        ("max_history", 0),
        ("recent_window", 0),
        ("positive_rate", 1.0),
    ],
)
def test_invalid_parameters_raise_naming_them(param, value):
    with pytest.raises(ValueError, match=param):
        make_behavior_dataset(**{param: value, "n_categories": 20})


# --------------------------------------------------------------------------------------
# Amazon Electronics (DIN format)
# --------------------------------------------------------------------------------------


def test_amazon_din_sample_shapes_label_rate_and_sequences(shared_data_file):
    X, y = load_amazon_din(shared_data_file(*AMAZON))
    assert list(X.columns) == ["item_id", "cate_id", "hist_item_id", "hist_cate_id"]
    assert X.shape == (100, 4) and y.dtype == np.int64 and y.sum() == 48  # README: 48 %
    lengths = lengths_of(X["hist_item_id"])
    assert lengths.min() == 1 and lengths.max() == 152  # README: 1-152
    np.testing.assert_array_equal(lengths, lengths_of(X["hist_cate_id"]))
    # README's example, the file's first line: "3737 19450;288 196;18486;674;1"
    assert X.iloc[0].tolist() == ["18486", "674", ["3737", "19450"], ["288", "196"]]
    assert y[0] == 1


def test_amazon_din_sample_encodes_end_to_end(shared_data_file):
    X, _ = load_amazon_din(shared_data_file(*AMAZON))
    assert_shared_encoding(X, HISTORIES)


def test_amazon_din_empty_history_is_an_empty_list(tmp_path):
    path = tmp_path / "din.txt"
    path.write_text("1 2;7 7;3;7;0\n;;4;8;1\n")
    X, y = load_amazon_din(path)
    assert X["hist_item_id"].tolist() == [["1", "2"], []]
    np.testing.assert_array_equal(y, [0, 1])


@pytest.mark.parametrize(
    "text, message",
    [
        ("1 2;7 7;3;7\n", "5 ';'-separated"),
        ("1 2;7 7;3;7;2\n", "0 or 1"),
        ("1 2;7;3;7;1\n", "differ in length"),
        ("1;7;3;7;1;9\n", "5 ';'-separated"),
    ],
    ids=["four-fields", "bad-label", "uneven-histories", "six-fields"],
)
def test_amazon_din_rejects_malformed_lines(tmp_path, text, message):
    path = tmp_path / "din.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_amazon_din(path)


def test_amazon_din_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_amazon_din(tmp_path / "absent.txt")


# --------------------------------------------------------------------------------------
# Taobao display ads
# --------------------------------------------------------------------------------------


def test_taobao_dmr_sample_shapes_label_rate_and_sequences(shared_data_file):
    X, y = load_taobao_dmr(shared_data_file(*DMR))
    assert X.shape == (500, 19) and y.sum() == 210  # README: 42.0 %
    assert X["user_id"].nunique() == 230 and X["adgroup_id"].nunique() == 297  # README
    assert X["price"].dtype == np.float64
    lengths = lengths_of(X["hist_cate_id"])
    # README: 1-50 filled slots, mean 49.8 (the file has 121 empty slots in all).
    assert lengths.min() == 1 and lengths.max() == 50 and round(lengths.mean(), 1) == 49.8
    for name in ("hist_btag", "hist_brand"):
        np.testing.assert_array_equal(lengths_of(X[name]), lengths)
    # The filled slots are those whose category is not the padding id 0.
    assert not any("0" in h for h in X["hist_cate_id"])
    assert {b for h in X["hist_btag"] for b in h} <= {"1", "2", "3", "4"}


def test_taobao_dmr_keeps_the_filled_slots_in_file_order(tmp_path):
    slots = lambda values: ",".join(str(v) for v in [0] * (50 - len(values)) + values)  # noqa: E731
    line = ",".join(
        [
            slots([1, 2]),
            slots([11, 12]),
            slots([21, 0]),
            slots([1, 1]),
            slots([1, 0]),
            "7,1,2,3,4,5,6,7,8",
            "9,11,5,6,22",
            "0.5,1,1",
        ]
    )
    path = tmp_path / "dmr.txt"
    path.write_text(line + "\n")
    X, y = load_taobao_dmr(path)
    assert X.loc[0, "hist_btag"] == ["1", "2"] and X.loc[0, "hist_cate_id"] == ["11", "12"]
    assert X.loc[0, "hist_brand"] == ["21", "0"]
    assert (X.loc[0, "user_id"], X.loc[0, "adgroup_id"], X.loc[0, "cate_id"]) == ("7", "9", "11")
    assert X.loc[0, "brand"] == "22" and X.loc[0, "price"] == 0.5 and X.loc[0, "pid"] == "1"
    np.testing.assert_array_equal(y, [1])


def test_taobao_dmr_sample_encodes_end_to_end(shared_data_file):
    X, _ = load_taobao_dmr(shared_data_file(*DMR))
    encoded = assert_shared_encoding(X, {"hist_cate_id": "cate_id", "hist_brand": "brand"})
    assert [f.shares for f in encoded.sequence_fields] == [None, "cate_id", "brand"]


@pytest.mark.parametrize("text, message", [("1,2,3\n", "267"), ("0," * 266 + "5\n", "0 or 1")])
def test_taobao_dmr_rejects_malformed_files(tmp_path, text, message):
    path = tmp_path / "dmr.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_taobao_dmr(path)


def test_taobao_fuxictr_sample_shapes_label_rate_and_sequences(shared_data_file):
    X, y = load_taobao_fuxictr(shared_data_file(*FUXICTR))
    assert X.shape == (100, 19) and y.sum() == 4  # README: 4 %
    assert list(X.columns[:3]) == ["hour_of_day", "weekday", "userid"]
    assert X["price"].dtype == np.float64 and X["pvalue_level"].isna().any()
    lengths = lengths_of(X["click_sequence"])
    assert lengths.min() == 0 and lengths.max() == 6 and round(lengths.mean(), 1) == 0.4
    assert X.loc[0, "click_sequence"] == ["170301", "573514"]  # "170301^573514"


def test_taobao_fuxictr_sample_encodes_end_to_end(shared_data_file):
    X, _ = load_taobao_fuxictr(shared_data_file(*FUXICTR))
    assert_shared_encoding(X, {"click_sequence": "adgroup_id"})


@pytest.mark.parametrize(
    "row, message",
    [("2,2017-05-06 00:00:00", "0 or 1"), ("0,yesterday", "time_stamp")],
)
def test_taobao_fuxictr_rejects_malformed_rows(tmp_path, row, message):
    header = (
        "clk,time_stamp,userid,adgroup_id,pid,cate_id,campaign_id,customer,brand,price,"
        "cms_segid,cms_group_id,final_gender_code,age_level,pvalue_level,shopping_level,"
        "occupation,new_user_class_level,click_sequence"
    )
    path = tmp_path / "taobao.csv"
    path.write_text(f"{header}\n{row},1,2,p,3,4,5,6,1.5,0,1,2,3,,3,0,,\n")
    with pytest.raises(ValueError, match=message):
        load_taobao_fuxictr(path)


def test_taobao_fuxictr_rejects_a_file_without_its_columns(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("clk,userid\n0,1\n")
    with pytest.raises(ValueError, match="click_sequence"):
        load_taobao_fuxictr(path)
