"""FiBiNET: the network against the paper's composition of brute-force references, what it
learns, and its parameters."""

import pytest
import torch
from helpers import (
    CRITEO_SAMPLE_TRAINING,
    criteo_sample_split,
    encoded_float64,
    randomize_,
    raw_frame,
)
from references import (
    bilinear_by_definition,
    field_embeddings_by_definition,
    looked_up_rows_squared,
    order_one_by_definition,
    senet_by_definition,
)
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import InvalidParameterError

from sk_ctr.datasets import make_interaction_dataset
from sk_ctr.estimators.fibinet import FiBiNETClassifier
from sk_ctr.estimators.models import DNNClassifier, LRClassifier
from sk_ctr.layers.bilinear import BILINEAR_TYPES
from sk_ctr.models.fibinet import FiBiNETNet


def encoded_batch():
    return encoded_float64(raw_frame(n_samples=12), numeric="value")


@pytest.mark.parametrize("bilinear", BILINEAR_TYPES)
def test_fibinet_is_linear_part_plus_mlp_on_bilinear_pairs_of_original_and_senet_embeddings(
    bilinear,
):
    fields, ids, values = encoded_batch()
    net = FiBiNETNet(fields, embed_dim=3, reduction_ratio=2, bilinear=bilinear, hidden_units=(5,))
    net = randomize_(net).double().eval()
    embeddings = field_embeddings_by_definition(net.embedding, ids, values)
    reweighted, _ = senet_by_definition(
        embeddings, net.senet.squeezed_to_reduced.weight, net.senet.reduced_to_weights.weight
    )
    matrices = net.bilinear.weights
    p = bilinear_by_definition(embeddings, matrices, bilinear)
    q = bilinear_by_definition(reweighted, matrices, bilinear)
    combined = torch.cat([p.flatten(start_dim=1), q.flatten(start_dim=1)], dim=1)
    hidden = net.mlp.hidden[0]
    deep = torch.relu(combined @ hidden.weight.T + hidden.bias) @ net.mlp.output.weight.T
    expected = order_one_by_definition(net.linear, ids, values) + deep.squeeze(-1)
    torch.testing.assert_close(net(ids, values), expected)


def test_fibinet_mlp_reads_two_vectors_per_pair_and_the_model_has_one_bias():
    fields, ids, values = encoded_batch()  # 4 fields: 6 pairs
    net = FiBiNETNet(fields, embed_dim=5, hidden_units=(7,))
    assert net.mlp.hidden[0].in_features == 2 * 6 * 5
    assert net.mlp.output.bias is None and net.linear.bias.shape == ()
    assert net.senet.squeezed_to_reduced.out_features == 1  # int(4 / 3)
    assert net(ids, values.float()).shape == (len(ids),)


def test_fibinet_penalty_is_the_squared_norm_of_the_rows_used():
    fields, ids, values = encoded_batch()
    net = randomize_(FiBiNETNet(fields, embed_dim=3, hidden_units=(4,))).double()
    expected = sum(
        looked_up_rows_squared(t.table.weight, ids, t.offsets.tolist()) + t.numeric.pow(2).sum()
        for t in (net.linear.weights, net.embedding)
    )
    torch.testing.assert_close(net.penalty(ids, values), expected)


def test_fibinet_learns_planted_pair_interactions_beyond_lr_and_dnn():
    # Only low-rank field-pair terms carry the label: LR cannot see them, and the bilinear pair
    # vectors reach them more directly than a DNN on the concatenated embeddings.
    # Measured: LR 0.687, DNN 0.877, FiBiNET 0.966 (field_interaction), 0.963 (field_all).
    X, y = make_interaction_dataset(n_samples=3000, n_categories=10, linear_std=0.0, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    common = {"max_epochs": 10, "early_stopping": False, "lr": 1e-2, "batch_size": 64}
    common.update(random_state=0, n_threads=1)
    deep = {"embed_dim": 8, "hidden_units": (16,), "dropout": 0.0}

    def auc(est):
        return roc_auc_score(y_test, est.fit(X_train, y_train).predict_proba(X_test)[:, 1])

    fibinet = auc(FiBiNETClassifier(**deep, **common))
    assert fibinet > auc(LRClassifier(**common)) + 0.2
    assert fibinet > auc(DNNClassifier(**deep, **common)) + 0.04


def test_fibinet_learns_the_real_criteo_sample(shared_data_file):
    # SENET and field_interaction bilinear pairs at k = 8 on 14 columns. Measured test AUC with
    # random_state 0 / 1 / 2: 0.7247 / 0.7244 / 0.7245, 1.4 s of CPU each; LR 0.732 / 0.726.
    X_train, X_test, y_train, y_test = criteo_sample_split(
        shared_data_file("criteo_kaggle_10k", "train_examples.txt")
    )
    fibinet = FiBiNETClassifier(**CRITEO_SAMPLE_TRAINING, random_state=0).fit(X_train, y_train)
    assert roc_auc_score(y_test, fibinet.predict_proba(X_test)[:, 1]) > 0.714


@pytest.mark.parametrize(
    "param, value",
    [("reduction_ratio", 0.5), ("reduction_ratio", "3"), ("bilinear", "interaction")],
)
def test_invalid_fibinet_parameters_are_named(param, value):
    X, y = make_interaction_dataset(n_samples=50, random_state=0)
    with pytest.raises(InvalidParameterError, match=param):
        FiBiNETClassifier(**{param: value}, max_epochs=1).fit(X, y)


@pytest.mark.parametrize("bilinear, n_matrices", [("field_all", 1), ("field_each", 5)])
def test_fibinet_bilinear_option_reaches_the_network(bilinear, n_matrices):
    X, y = make_interaction_dataset(n_samples=200, random_state=0)  # 6 fields
    est = FiBiNETClassifier(bilinear=bilinear, embed_dim=2, hidden_units=(4,), max_epochs=1)
    assert len(est.fit(X, y).module_.bilinear.weights) == n_matrices
