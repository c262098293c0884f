"""The encoded-batch contract (sk_ctr.preprocessing.batch) and the one loop of the helper
methods that read more than the logits from a network (CTRClassifier._map_batches)."""

import dataclasses
import inspect

import numpy as np
import pytest
import torch
from skorch.utils import to_tensor

from sk_ctr import AFMClassifier, CTRTransformer, DINClassifier, FieldData, TwoTowerClassifier
from sk_ctr.datasets import make_behavior_dataset, make_ctr_classification
from sk_ctr.preprocessing.batch import (
    ARRAYS_OF_KIND,
    INPUT_DTYPES,
    SAMPLE_WEIGHT,
    SEQUENCES,
    SIDE_CHANNEL_KEYS,
    input_keys,
    network_inputs,
)

BEHAVIOR = {"hist_item_id": "item_id", "hist_cate_id": "cate_id"}
FAST = {"max_epochs": 1, "batch_size": 64, "random_state": 0, "n_threads": 1}


@pytest.fixture(scope="module")
def ctr_data():
    return make_ctr_classification(n_samples=300, n_fields=4, n_numeric=1, random_state=0)


@pytest.fixture(scope="module")
def behavior_data():
    return make_behavior_dataset(n_samples=300, random_state=0)


@pytest.fixture(scope="module")
def fitted(ctr_data, behavior_data):
    """Each estimator with a helper method, the rows, and per helper what the network gives."""
    afm = AFMClassifier(embed_dim=4, attention_dim=4, **FAST).fit(*ctr_data)
    din = DINClassifier(behavior=BEHAVIOR, embed_dim=4, hidden_units=(8,), **FAST)
    two_tower = TwoTowerClassifier(
        user_fields=["C1", "C2"], embed_dim=4, hidden_units=(8, 4), **FAST
    )
    return {
        "afm": (
            afm,
            ctr_data[0],
            {
                "attention_weights": lambda net, inputs: net.attention_weights(**inputs),
            },
        ),
        "din": (
            din.fit(*behavior_data),
            behavior_data[0],
            {
                "attention_weights": lambda net, inputs: net.attention_weights(**inputs)[:, 0],
            },
        ),
        "two_tower": (
            two_tower.fit(*ctr_data),
            ctr_data[0],
            {
                "transform_users": lambda net, inputs: net.user_embedding(**inputs),
                "transform_items": lambda net, inputs: net.item_embedding(**inputs),
            },
        ),
    }


@pytest.mark.parametrize("name", ["afm", "din", "two_tower"])
def test_helper_methods_map_the_prediction_loaders_batches(name, fitted, monkeypatch):
    """attention_weights / transform_users / transform_items iterate the estimator's own
    prediction loader (so its batch size, prefetching and device placement apply), in eval
    mode without gradients, and give what the network gives on the whole input at once."""
    est, X, helpers = fitted[name]
    encoded = est.preprocessor_.transform(X)
    loaders = []
    get_iterator = type(est).get_iterator

    def spy(self, dataset, training=False):
        loader = get_iterator(self, dataset, training=training)
        loaders.append((training, loader))
        return loader

    monkeypatch.setattr(type(est), "get_iterator", spy)
    for method, direct in helpers.items():
        loaders.clear()
        est.module_.train(True)  # the helper must switch to eval mode itself
        got = getattr(est, method)(X)
        assert [training for training, _ in loaders] == [False]
        assert len(loaders[0][1]) == -(-len(X) // FAST["batch_size"])  # several batches
        assert not est.module_.training
        with torch.no_grad():
            expected = direct(est.module_, to_tensor(network_inputs(encoded), "cpu")).numpy()
        assert got.dtype == np.float64 and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_the_network_takes_the_schemas_input_keys_by_name(fitted):
    for est, _, _ in fitted.values():
        forward = inspect.signature(est.module_.forward).parameters
        assert tuple(forward) == input_keys(est.schema_)


def test_encoded_arrays_follow_the_contract(behavior_data):
    X, y = behavior_data
    encoded = CTRTransformer(behavior=BEHAVIOR, max_sequence_length=7).fit_transform(X)
    assert set(encoded) == set(input_keys(encoded.schema))
    for key in input_keys(encoded.schema):
        assert encoded[key].dtype == INPUT_DTYPES[key]
    for kind, keys in ARRAYS_OF_KIND.items():
        n_fields = sum(f.kind == kind for f in encoded.schema)
        assert all(encoded[key].shape[1] == n_fields for key in keys if key in encoded)
    assert {f.max_length for f in encoded.sequence_fields} == {encoded[SEQUENCES].shape[2]} == {7}
    weighted = FieldData({**encoded, SAMPLE_WEIGHT: np.ones(len(y), np.float32)}, encoded.schema)
    assert set(network_inputs(weighted)) == set(encoded)
    assert not set(SIDE_CHANNEL_KEYS) & set(input_keys(encoded.schema))


def test_check_names_a_sequence_field_whose_length_is_not_its_max_length(behavior_data):
    encoded = CTRTransformer(behavior=BEHAVIOR, max_sequence_length=7).fit_transform(
        behavior_data[0]
    )
    cut = FieldData({**encoded, SEQUENCES: encoded[SEQUENCES][:, :, :5]}, encoded.schema)
    with pytest.raises(ValueError, match="'hist_item_id' has max_length=7, but .* holds 5"):
        cut.check()
    unsized = [dataclasses.replace(f, max_length=None) for f in encoded.schema]
    assert FieldData(dict(cut), unsized).check() is not None  # unknown length: any width
