"""CTRTransformer on sequence columns: behaviour histories and multi-valued cells (DIN issue)."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from sk_ctr import CTRTransformer, FieldData
from sk_ctr.preprocessing.fields import FIRST_VALUE_ID, MISSING_ID, OTHER_ID


def behavior_frame():
    """Candidate item, its category, and the two histories of the user (oldest first)."""
    return pd.DataFrame(
        {
            "user": ["u1", "u2", "u3", "u4"],
            "item": ["a", "b", "a", "c"],
            "cate": ["x", "y", "x", "x"],
            "price": [1.0, 2.0, 3.0, 4.0],
            "hist_item": [["b", "a", "a"], ["d"], [], ["a", "c", "b", "a"]],
            "hist_cate": [["y", "x", "x"], ["z"], [], ["x", "x", "y", "x"]],
        }
    )


BEHAVIOR = {"hist_item": "item", "hist_cate": "cate"}


def encode(frame, **params):
    encoder = CTRTransformer(**params).fit(frame)
    return encoder, encoder.transform(frame)


def vocabulary_ids(encoder, name):
    """{value: id} of a fitted vocabulary, from its definition (id = position + 2)."""
    return {v: i + FIRST_VALUE_ID for i, v in enumerate(encoder.vocabularies_[name])}


def reference_encoding(cells, vocabulary, width):
    """Row-by-row definition: last ``width`` items, looked up, right-padded with 0."""
    matrix = np.zeros((len(cells), width), dtype=np.int64)
    lengths = np.zeros(len(cells), dtype=np.int64)
    for row, cell in enumerate(cells):
        kept = list(cell)[-width:]
        lengths[row] = len(kept)
        for position, item in enumerate(kept):
            matrix[row, position] = MISSING_ID if item is None else vocabulary.get(item, OTHER_ID)
    return matrix, lengths


# --------------------------------------------------------------------------------------
# Padding, truncation, order
# --------------------------------------------------------------------------------------


def test_items_keep_their_order_and_are_right_padded():
    frame = pd.DataFrame({"tags": [["c", "a", "b"], ["b"], ["a", "c"]]})
    encoder, encoded = encode(frame)
    ids = vocabulary_ids(encoder, "tags")
    expected = [[ids["c"], ids["a"], ids["b"]], [ids["b"], 0, 0], [ids["a"], ids["c"], 0]]
    np.testing.assert_array_equal(encoded["sequences"][:, 0, :3], expected)
    np.testing.assert_array_equal(encoded["lengths"][:, 0], [3, 1, 2])


def test_longer_cells_keep_their_most_recent_items():
    frame = pd.DataFrame({"tags": [["a", "b", "c", "d"], ["a"], ["d", "c", "b"]]})
    encoder, encoded = encode(frame, max_sequence_length=2)
    ids = vocabulary_ids(encoder, "tags")
    assert encoder.sequence_length_ == 2
    assert encoded["sequences"].shape == (3, 1, 2)
    np.testing.assert_array_equal(
        encoded["sequences"][:, 0], [[ids["c"], ids["d"]], [ids["a"], 0], [ids["c"], ids["b"]]]
    )
    np.testing.assert_array_equal(encoded["lengths"][:, 0], [2, 1, 2])


def test_vocabulary_holds_only_the_kept_items():
    # "old" only appears in positions that truncation drops: it never reaches a network.
    frame = pd.DataFrame({"tags": [["old", "a", "b"], ["old", "b", "a"], ["a"]]})
    encoder, _ = encode(frame, max_sequence_length=2)
    assert set(encoder.vocabularies_["tags"]) == {"a", "b"}


@pytest.mark.parametrize("max_sequence_length", [1, 3, 7])
def test_random_ragged_lists_match_the_row_by_row_definition(max_sequence_length):
    rng = np.random.default_rng(max_sequence_length)
    values = [f"v{k}" for k in range(30)] + [None]
    cells = [list(rng.choice(values, size=rng.integers(0, 10))) for _ in range(200)]
    train = pd.DataFrame({"tags": cells})
    encoder = CTRTransformer(max_sequence_length=max_sequence_length).fit(train)
    test_cells = [
        list(rng.choice(values + ["unseen"], size=rng.integers(0, 10))) for _ in range(100)
    ]
    encoded = encoder.transform(pd.DataFrame({"tags": test_cells}))
    expected, lengths = reference_encoding(
        test_cells, vocabulary_ids(encoder, "tags"), max_sequence_length
    )
    np.testing.assert_array_equal(encoded["sequences"][:, 0], expected)
    np.testing.assert_array_equal(encoded["lengths"][:, 0], lengths)


def test_max_sequence_length_none_uses_the_longest_cell_at_fit():
    frame = pd.DataFrame({"tags": [["a", "b", "c"], ["a"], []]})
    encoder, encoded = encode(frame, max_sequence_length=None)
    assert encoder.sequence_length_ == 3
    assert encoded["sequences"].shape == (3, 1, 3)
    longer = encoder.transform(pd.DataFrame({"tags": [["c", "b", "a", "a", "b"]]}))
    ids = vocabulary_ids(encoder, "tags")
    np.testing.assert_array_equal(longer["sequences"][0, 0], [ids["a"], ids["a"], ids["b"]])
    np.testing.assert_array_equal(longer["lengths"], [[3]])


def test_max_sequence_length_none_with_only_empty_cells_keeps_one_padding_slot():
    encoder, encoded = encode(
        pd.DataFrame({"tags": [[], [], None]}), sequence_features=["tags"], max_sequence_length=None
    )
    assert encoder.sequence_length_ == 1
    np.testing.assert_array_equal(encoded["sequences"], np.zeros((3, 1, 1)))
    np.testing.assert_array_equal(encoded["lengths"], np.zeros((3, 1)))


def test_several_sequence_columns_have_their_own_lengths():
    frame = pd.DataFrame({"clicks": [["a"], ["a", "b", "c"]], "carts": [["p", "q"], []]})
    encoder, encoded = encode(frame, max_sequence_length=4)
    assert encoded["sequences"].shape == (2, 2, 4)
    np.testing.assert_array_equal(encoded["lengths"], [[1, 2], [3, 0]])
    assert [f.name for f in encoded.sequence_fields] == ["clicks", "carts"]


# --------------------------------------------------------------------------------------
# Cell formats
# --------------------------------------------------------------------------------------

AS_LISTS = [["a", "b"], ["c"], [], ["b", "a", "c"]]


@pytest.mark.parametrize(
    "cells",
    [
        pd.Series(["a|b", "c", "", "b|a|c"], dtype=object),
        pd.Series(["a|b", "c", "", "b|a|c"], dtype="str"),
        pd.Series([("a", "b"), ("c",), (), ("b", "a", "c")]),
        pd.Series([np.array(c, dtype=object) for c in AS_LISTS]),
        pd.Series([np.array(c, dtype=str) for c in AS_LISTS]),
        pd.Series([["a", "b"], "c", "", "b|a|c"], dtype=object),
    ],
    ids=[
        "delimited-object",
        "delimited-str-dtype",
        "tuples",
        "object-arrays",
        "str-arrays",
        "mixed",
    ],
)
def test_delimited_strings_tuples_and_arrays_give_the_ids_of_lists(cells):
    params = {"sequence_features": ["tags"], "max_sequence_length": 4}
    encoder = CTRTransformer(**params).fit(pd.DataFrame({"tags": AS_LISTS}))
    expected = encoder.transform(pd.DataFrame({"tags": AS_LISTS}))
    other = encoder.transform(pd.DataFrame({"tags": cells}))
    np.testing.assert_array_equal(other["sequences"], expected["sequences"])
    np.testing.assert_array_equal(other["lengths"], expected["lengths"])
    refitted = CTRTransformer(**params).fit(pd.DataFrame({"tags": cells}))
    assert list(refitted.vocabularies_["tags"]) == list(encoder.vocabularies_["tags"])


def test_integer_arrays_and_integer_lists_give_the_same_ids():
    lists = [[3, 1], [2, 3, 3], []]
    arrays = [np.array(c, dtype=np.int64) for c in lists]
    encoder = CTRTransformer().fit(pd.DataFrame({"tags": lists}))
    from_arrays = encoder.transform(pd.DataFrame({"tags": arrays}))
    np.testing.assert_array_equal(
        from_arrays["sequences"], encoder.transform(pd.DataFrame({"tags": lists}))["sequences"]
    )
    assert from_arrays["sequences"][1, 0, 1] == from_arrays["sequences"][1, 0, 2] == 2  # 3 is top


def test_custom_delimiter():
    frame = pd.DataFrame({"tags": ["a^b", "b"]})
    encoder, encoded = encode(frame, sequence_features=["tags"], sequence_delimiter="^")
    ids = vocabulary_ids(encoder, "tags")
    np.testing.assert_array_equal(
        encoded["sequences"][:, 0, :2], [[ids["a"], ids["b"]], [ids["b"], 0]]
    )


def test_list_columns_are_detected_but_string_columns_are_not_split():
    frame = pd.DataFrame({"tags": [None, ["a", "b"], ["b"]], "site": ["a|b", "c", "a|b"]})
    encoder = CTRTransformer().fit(frame)
    assert [(f.name, f.kind) for f in encoder.fields_] == [
        ("site", "categorical"),
        ("tags", "sequence"),
    ]
    assert list(encoder.vocabularies_["site"]) == ["a|b", "c"]


def test_empty_sequence_features_turns_detection_off():
    frame = pd.DataFrame({"tags": [["a"], ["b", "c"]]})
    with pytest.raises(TypeError, match="'tags'"):
        CTRTransformer(sequence_features=[]).fit(frame)


def test_empty_and_missing_cells_are_empty_sequences():
    frame = pd.DataFrame({"tags": [["a"], [], None, np.nan, "", np.array([]), ()]})
    encoder, encoded = encode(frame, sequence_features=["tags"], max_sequence_length=3)
    np.testing.assert_array_equal(encoded["lengths"][:, 0], [1, 0, 0, 0, 0, 0, 0])
    assert (encoded["sequences"][1:] == MISSING_ID).all()


def test_missing_item_inside_a_list_keeps_its_position_with_the_missing_id():
    # Positions stay aligned across parallel histories (items and their categories).
    frame = pd.DataFrame({"tags": [["a", None, "b"], ["b", np.nan]]})
    encoder, encoded = encode(frame, max_sequence_length=3)
    ids = vocabulary_ids(encoder, "tags")
    np.testing.assert_array_equal(
        encoded["sequences"][:, 0], [[ids["a"], 0, ids["b"]], [ids["b"], 0, 0]]
    )
    np.testing.assert_array_equal(encoded["lengths"][:, 0], [3, 2])
    assert encoder.frequencies_["tags"][MISSING_ID] == 2


# --------------------------------------------------------------------------------------
# Vocabularies, frequencies, schema
# --------------------------------------------------------------------------------------


def test_history_items_get_the_ids_of_the_candidate_values():
    encoder, encoded = encode(behavior_frame(), behavior=BEHAVIOR, max_sequence_length=4)
    item_ids = vocabulary_ids(encoder, "item")
    columns = [f.name for f in encoded.categorical_fields]
    candidate = encoded["ids"][:, columns.index("item")]
    np.testing.assert_array_equal(candidate, [item_ids[v] for v in ["a", "b", "a", "c"]])
    history = encoded["sequences"][:, 0]
    np.testing.assert_array_equal(history[0, :3], [item_ids["b"], item_ids["a"], item_ids["a"]])
    # "d" is only in a history: the shared vocabulary still gives it an id of its own.
    assert history[1, 0] == item_ids["d"] >= FIRST_VALUE_ID
    assert "hist_item" not in encoder.vocabularies_ and "hist_item" not in encoder.frequencies_


def test_shared_fields_point_at_the_candidate_rows_of_the_table():
    encoder, encoded = encode(behavior_frame(), behavior=BEHAVIOR)
    by_name = {f.name: f for f in encoder.fields_}
    for history, candidate in BEHAVIOR.items():
        field = by_name[history]
        assert (field.kind, field.source, field.shares) == ("sequence", "sequence", candidate)
        assert field.vocab_size == by_name[candidate].vocab_size
    assert by_name["item"].shares is None


def test_candidate_frequencies_count_history_items_too():
    encoder, _ = encode(behavior_frame(), behavior=BEHAVIOR, max_sequence_length=4)
    ids = vocabulary_ids(encoder, "item")
    counts = encoder.frequencies_["item"]
    # "a": 2 candidates + 2 + 2 history items; "d": 1 history item; "c": 1 + 1.
    assert counts[ids["a"]] == 6 and counts[ids["d"]] == 1 and counts[ids["c"]] == 2
    assert counts.sum() == 4 + 8
    assert list(encoder.vocabularies_["item"])[0] == "a"  # most frequent first


def test_own_vocabulary_frequencies_and_min_frequency():
    frame = pd.DataFrame({"tags": [["a", "b", "a"], ["a", "c"], ["b", None]]})
    encoder, encoded = encode(frame, min_frequency=2)
    assert list(encoder.vocabularies_["tags"]) == ["a", "b"]
    # [missing item, other ("c"), "a", "b"]
    np.testing.assert_array_equal(encoder.frequencies_["tags"], [1, 1, 3, 2])
    assert encoded["sequences"][1, 0, 1] == OTHER_ID


def test_unseen_history_items_get_the_other_id():
    encoder = CTRTransformer(behavior=BEHAVIOR).fit(behavior_frame())
    test = behavior_frame().assign(hist_item=[["zzz", "a"], ["b"], ["new"], []])
    encoded = encoder.transform(test)
    ids = vocabulary_ids(encoder, "item")
    np.testing.assert_array_equal(
        encoded["sequences"][:3, 0, :2], [[OTHER_ID, ids["a"]], [ids["b"], 0], [OTHER_ID, 0]]
    )


def test_integer_candidate_shares_ids_with_integer_arrays():
    frame = pd.DataFrame({"item": [5, 3, 5], "hist": [np.array([3, 9]), np.array([], int), [5]]})
    encoder, encoded = encode(frame, behavior={"hist": "item"})
    assert list(encoder.vocabularies_["item"]) == [5, 3, 9]
    np.testing.assert_array_equal(encoded["ids"][:, 0], [2, 3, 2])
    np.testing.assert_array_equal(encoded["sequences"][:, 0, :2], [[3, 4], [0, 0], [2, 0]])


def test_two_histories_can_share_one_candidate():
    frame = pd.DataFrame(
        {"item": ["a", "b"], "clicked": [["a", "c"], ["b"]], "carted": [["c"], ["d", "a"]]}
    )
    encoder, encoded = encode(frame, behavior={"clicked": "item", "carted": "item"})
    ids = vocabulary_ids(encoder, "item")
    assert set(ids) == {"a", "b", "c", "d"}
    np.testing.assert_array_equal(
        encoded["sequences"][1, :, :2], [[ids["b"], 0], [ids["d"], ids["a"]]]
    )


def test_schema_order_and_the_sequence_fields_padded_length():
    frame = behavior_frame().assign(tags=[["t1"], ["t2", "t1"], [], ["t3"]])
    encoder = CTRTransformer(behavior=BEHAVIOR, numeric="value").fit(frame)
    kinds = [f.kind for f in encoder.fields_]
    assert kinds == ["categorical"] * 3 + ["numeric"] + ["sequence"] * 3
    assert list(encoder.get_feature_names_out()) == [
        "user",
        "item",
        "cate",
        "price",
        "hist_item",
        "hist_cate",
        "tags",
    ]
    tags = encoder.fields_[-1]
    assert tags.shares is None
    # The schema says how wide the network's "sequences" input is.
    assert [f.max_length for f in encoder.fields_] == [None] * 4 + [50] * 3
    longest = CTRTransformer(behavior=BEHAVIOR, max_sequence_length=None).fit(frame)
    assert [f.max_length for f in longest.fields_][4:] == [4] * 3  # hist_item's 4th row
    assert longest.transform(frame)["sequences"].shape[2] == 4
    truncated = CTRTransformer(behavior=BEHAVIOR, max_sequence_length=3)
    chunked = clone(truncated).partial_fit(frame[:2]).partial_fit(frame[2:])
    for encoder in (truncated.fit(frame), chunked):
        assert {f.max_length for f in encoder.fields_ if f.kind == "sequence"} == {3}


def test_field_data_lists_the_sequence_fields_in_array_order():
    encoder, encoded = encode(behavior_frame(), behavior=BEHAVIOR)
    assert [f.name for f in encoded.sequence_fields] == ["hist_item", "hist_cate"]
    assert encoded["sequences"].dtype == np.int64 and encoded["lengths"].dtype == np.int64
    assert encoded["sequences"].shape == (4, 2, 50) and encoded["lengths"].shape == (4, 2)


def test_without_sequence_columns_there_are_no_sequence_arrays():
    encoder, encoded = encode(behavior_frame().drop(columns=["hist_item", "hist_cate"]))
    assert set(encoded) == {"ids", "values"}
    assert encoded.sequence_fields == () and encoder.sequence_length_ is None


def test_new_parameters_are_constructor_arguments_with_defaults():
    params = CTRTransformer().get_params()
    assert {
        k: params[k]
        for k in ("sequence_features", "behavior", "max_sequence_length", "sequence_delimiter")
    } == {
        "sequence_features": None,
        "behavior": None,
        "max_sequence_length": 50,
        "sequence_delimiter": "|",
    }


def test_type_mismatch_between_candidate_and_history_warns():
    frame = pd.DataFrame({"item": [12, 7], "hist": ["12|7", "7"]})
    with pytest.warns(UserWarning, match="(?s)'hist'.*string.*'item'.*numeric"):
        CTRTransformer(behavior={"hist": "item"}).fit(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CTRTransformer(behavior={"hist": "item"}).fit(frame.assign(hist=[[12, 7], [7]]))


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "behavior, column",
    [({"hist_x": "item"}, "hist_x"), ({"hist_item": "item_x"}, "item_x")],
    ids=["history", "candidate"],
)
def test_behavior_naming_an_absent_column_raises_naming_it(behavior, column):
    with pytest.raises(ValueError, match=f"'{column}'"):
        CTRTransformer(behavior=behavior).fit(behavior_frame())


def test_candidate_that_is_a_sequence_column_raises_naming_it():
    with pytest.raises(ValueError, match="(?s)'hist_cate'.*sequence"):
        CTRTransformer(behavior={"hist_item": "hist_cate"}).fit(behavior_frame())


@pytest.mark.parametrize("numeric", ["bucketize", "value"])
def test_candidate_that_is_a_numeric_column_raises_naming_it(numeric):
    with pytest.raises(ValueError, match="(?s)'price'.*numeric"):
        CTRTransformer(behavior={"hist_item": "price"}, numeric=numeric).fit(behavior_frame())


@pytest.mark.parametrize(
    "params",
    [
        {"categorical_features": ["hist_item"], "sequence_features": ["hist_item"]},
        {"categorical_features": ["item", "hist_item"], "behavior": {"hist_item": "item"}},
        {"numeric_features": ["price", "hist_item"], "sequence_features": ["hist_item"]},
    ],
    ids=["categorical+sequence", "categorical+behavior", "numeric+sequence"],
)
def test_column_with_two_roles_raises_naming_it(params):
    with pytest.raises(ValueError, match="'hist_item'"):
        CTRTransformer(**params).fit(behavior_frame())


def test_sequence_features_naming_an_absent_column_raises_naming_it():
    with pytest.raises(ValueError, match="'clicks'"):
        CTRTransformer(sequence_features=["clicks"]).fit(behavior_frame())


@pytest.mark.parametrize("bad", [5, 2.5, {"a": 1}, {"a", "b"}], ids=["int", "float", "dict", "set"])
def test_cell_that_is_not_a_sequence_raises_naming_the_column_at_fit(bad):
    frame = pd.DataFrame({"tags": pd.Series([["a"], bad, None], dtype=object)})
    with pytest.raises(TypeError, match="(?s)'tags'.*row 1"):
        CTRTransformer(sequence_features=["tags"]).fit(frame)


def test_cell_that_is_not_a_sequence_raises_naming_the_column_at_transform():
    encoder = CTRTransformer().fit(pd.DataFrame({"tags": [["a"], ["b"]]}))
    with pytest.raises(TypeError, match="'tags'"):
        encoder.transform(pd.DataFrame({"tags": pd.Series([["a"], 7], dtype=object)}))


def test_nested_lists_raise_naming_the_column():
    frame = pd.DataFrame({"tags": [[["a"], ["b"]], [["a"]]]})
    with pytest.raises(TypeError, match="'tags'"):
        CTRTransformer().fit(frame)
    encoder = CTRTransformer().fit(pd.DataFrame({"tags": [["a"], ["b"]]}))
    with pytest.raises(TypeError, match="'tags'"):
        encoder.transform(frame)


def test_list_column_named_categorical_still_raises_naming_it():
    frame = pd.DataFrame({"site": ["a", "b"], "tags": [["x"], ["y", "z"]]})
    with pytest.raises(TypeError, match="(?s)'tags'.*sequence_features"):
        CTRTransformer(categorical_features=["site", "tags"]).fit(frame)


@pytest.mark.parametrize(
    "param, value",
    [
        ("max_sequence_length", 0),
        ("max_sequence_length", 2.5),
        ("sequence_delimiter", ""),
        ("sequence_delimiter", 1),
        ("behavior", [("hist_item", "item")]),
        ("sequence_features", "hist_item"),
    ],
)
def test_invalid_sequence_params_raise_at_fit_naming_the_parameter(param, value):
    with pytest.raises(InvalidParameterError, match=f"'{param}'"):
        CTRTransformer(**{param: value}).fit(behavior_frame())


# --------------------------------------------------------------------------------------
# FieldData and scikit-learn tools
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rows",
    [np.array([3, 0, 2]), slice(1, 4), np.array([True, False, True, True]), 2],
    ids=["int-array", "slice", "boolean-mask", "int"],
)
def test_field_data_row_selection_keeps_sequences_aligned(rows):
    _, encoded = encode(behavior_frame(), behavior=BEHAVIOR)
    selected = encoded[rows]
    expected_rows = [rows] if isinstance(rows, int) else rows
    for key in ("ids", "values", "sequences", "lengths"):
        np.testing.assert_array_equal(selected[key], encoded[key][expected_rows])
    assert selected.sequence_fields == encoded.sequence_fields


def test_train_test_split_keeps_sequences_with_their_rows():
    frame = pd.concat([behavior_frame()] * 5, ignore_index=True)
    _, encoded = encode(frame, behavior=BEHAVIOR)
    train, test, train_rows, test_rows = train_test_split(
        encoded, np.arange(len(frame)), test_size=0.4, random_state=0
    )
    np.testing.assert_array_equal(test["sequences"], encoded["sequences"][test_rows])
    np.testing.assert_array_equal(train["lengths"], encoded["lengths"][train_rows])


def test_pipeline_clone_and_pickle_round_trip():
    frame = behavior_frame()
    pipeline = make_pipeline(CTRTransformer(behavior=BEHAVIOR, max_sequence_length=3))
    expected = pipeline.fit_transform(frame)
    restored = pickle.loads(pickle.dumps(pipeline))
    again = restored.transform(frame)
    assert isinstance(again, FieldData) and again.schema == expected.schema
    for key in expected:
        np.testing.assert_array_equal(again[key], expected[key])
    data_copy = pickle.loads(pickle.dumps(expected))
    np.testing.assert_array_equal(data_copy["sequences"], expected["sequences"])
    assert data_copy.sequence_fields == expected.sequence_fields
    cloned = clone(pipeline)
    assert cloned.get_params()["ctrtransformer__behavior"] == BEHAVIOR
    np.testing.assert_array_equal(cloned.fit_transform(frame)["sequences"], expected["sequences"])
