"""AutoInt: the network against the paper's equations composed from references, the estimator
learning a planted high-order interaction, parameter validation and the presets."""

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import CRITEO_SAMPLE_TRAINING, criteo_sample_split, raw_frame
from references import interacting_layer_reference
from sklearn.metrics import roc_auc_score
from sklearn.utils._param_validation import InvalidParameterError

from sk_ctr import CTRTransformer
from sk_ctr.estimators.autoint import AutoIntClassifier
from sk_ctr.models.autoint import AutoIntNet
from sk_ctr.presets import PAPER, Protocol


@pytest.fixture(params=["bucketize", "value"])
def batch(request):
    """Fields and a float64 batch (two categorical fields, two numeric or bucketized ones)."""
    data = CTRTransformer(numeric=request.param, n_bins=4).fit_transform(raw_frame())
    ids = torch.as_tensor(data["ids"][:12])  # the reference loops over every sample
    values = torch.as_tensor(data["values"][:12], dtype=torch.float64)
    return data.schema, ids, values


def make_net(fields, **params):
    """A float64 network whose embeddings and output weights are N(0, 1), so every field and
    head matters (the interacting layers keep their Glorot initialisation: N(0, 1) weights over
    three layers would overflow the reference's exp)."""
    torch.manual_seed(0)
    net = AutoIntNet(fields, **params).double().eval()
    with torch.no_grad():
        net.embedding.table.weight.normal_()
        net.embedding.numeric.normal_()
        net.attention_output.weight.normal_()
        if net.attention_output.bias is not None:
            net.attention_output.bias.normal_()
    return net


def head_matrices(projection, n_heads):
    return list(projection.weight.detach().chunk(n_heads, dim=0))


def interacted_by_reference(net, embeddings):
    """The interacting layers of ``net`` applied one after the other by the loop reference."""
    vectors = embeddings.detach()
    for layer in net.interacting:
        vectors, _ = interacting_layer_reference(
            vectors,
            head_matrices(layer.query, layer.n_heads),
            head_matrices(layer.key, layer.n_heads),
            head_matrices(layer.value, layer.n_heads),
            None if layer.residual is None else layer.residual.weight.detach(),
        )
    return vectors


def output_unit(net, vectors):
    """y = w^T (e^Res_1 ⊕ ... ⊕ e^Res_M) + b (eq. 10), by an explicit sum over fields."""
    w = net.attention_output.weight.detach()[0]
    b = 0.0 if net.attention_output.bias is None else net.attention_output.bias.detach()[0]
    width = vectors.shape[2]
    return b + sum(vectors[:, m] @ w[m * width : (m + 1) * width] for m in range(vectors.shape[1]))


# ----------------------------------------------------------------------------------------
# AutoIntNet
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("residual", [True, False])
def test_logit_is_one_linear_unit_on_all_fields_after_the_interacting_layers(batch, residual):
    fields, ids, values = batch
    net = make_net(
        fields, embed_dim=4, n_attention_layers=3, n_heads=2, attention_dim=3,
        attention_residual=residual,
    )  # fmt: skip
    vectors = interacted_by_reference(net, net.embedding(ids, values))
    assert vectors.shape == (len(ids), 4, 2 * 3)
    torch.testing.assert_close(net(ids, values), output_unit(net, vectors))


def test_autoint_plus_adds_the_mlp_and_the_linear_part_adds_order_one_weights(batch):
    fields, ids, values = batch
    net = make_net(
        fields, embed_dim=3, n_attention_layers=2, n_heads=1, attention_dim=2, linear=True,
        hidden_units=(5, 4),
    )  # fmt: skip
    embeddings = net.embedding(ids, values)
    expected = (
        output_unit(net, interacted_by_reference(net, embeddings))
        + net.mlp(embeddings.flatten(start_dim=1))
        + net.linear(ids, values)
    )
    torch.testing.assert_close(net(ids, values), expected)


def test_without_interacting_layers_the_output_unit_reads_the_embeddings(batch):
    fields, ids, values = batch
    net = make_net(fields, embed_dim=3, n_attention_layers=0)
    assert len(net.interacting) == 0
    torch.testing.assert_close(net(ids, values), output_unit(net, net.embedding(ids, values)))


@pytest.mark.parametrize("linear, owner", [(False, "attention_output.bias"), (True, "linear.bias")])
def test_the_logit_has_exactly_one_constant_term(batch, linear, owner):
    fields, _, _ = batch
    net = AutoIntNet(fields, embed_dim=3, linear=linear, hidden_units=(4,))
    constants = [
        name
        for name, parameter in net.named_parameters()
        if name.endswith("bias") and parameter.numel() == 1 and not name.startswith("mlp.hidden")
    ]
    assert constants == [owner]
    assert net.mlp.output.bias is None


def test_paper_defaults_stack_three_layers_of_two_heads_of_32(batch):
    fields, ids, values = batch
    net = AutoIntNet(fields)
    assert [layer.output_dim for layer in net.interacting] == [64, 64, 64]
    assert net.interacting[0].query.in_features == 16  # d = 16, then d' H = 64
    assert net.interacting[1].query.in_features == 64
    assert net.mlp is None and net.linear is None
    assert net.attention_output.in_features == 4 * 64
    assert net(ids, values.float()).shape == (len(ids),)


# ----------------------------------------------------------------------------------------
# AutoIntClassifier
# ----------------------------------------------------------------------------------------
def parity_of_three_fields(n_samples, seed=0):
    """The click is the parity of three binary fields (5 % of labels flipped), beside a noise
    field: no field and no pair of fields says anything about it, only the triple does."""
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, (n_samples, 3))
    X = pd.DataFrame({f"x{i}": [f"v{b}" for b in bits[:, i]] for i in range(3)})
    X["noise"] = [f"n{v}" for v in rng.integers(0, 5, n_samples)]
    y = bits.sum(axis=1) % 2
    return X, np.where(rng.random(n_samples) < 0.05, 1 - y, y)


def test_attention_learns_an_order_three_interaction_that_the_output_unit_alone_cannot():
    X, y = parity_of_three_fields(1600)
    X_train, X_test, y_train, y_test = X[:1000], X[1000:], y[:1000], y[1000:]
    common = {
        "embed_dim": 4, "attention_dim": 4, "max_epochs": 6, "batch_size": 32, "lr": 2e-2,
        "early_stopping": False, "random_state": 0,
    }  # fmt: skip
    aucs = {
        layers: roc_auc_score(
            y_test,
            AutoIntClassifier(n_attention_layers=layers, **common)
            .fit(X_train, y_train)
            .predict_proba(X_test)[:, 1],
        )
        for layers in (0, 1)
    }
    assert aucs[0] < 0.6  # a logit linear in the embeddings: no better than chance
    assert aucs[1] > 0.9


def test_autoint_learns_the_real_criteo_sample(shared_data_file):
    # AutoInt+ with two interacting layers of one 8-wide head on 14 columns. Measured test AUC
    # with random_state 0 / 1 / 2: 0.7237 / 0.7249 / 0.7187, 1.0 s of CPU each (two heads:
    # 0.7246 / 0.7200 / 0.7162 at 1.8-1.9 s); LR 0.732 / 0.726.
    X_train, X_test, y_train, y_test = criteo_sample_split(
        shared_data_file("criteo_kaggle_10k", "train_examples.txt")
    )
    autoint = AutoIntClassifier(
        n_attention_layers=2, n_heads=1, attention_dim=8, **CRITEO_SAMPLE_TRAINING, random_state=0
    ).fit(X_train, y_train)
    assert roc_auc_score(y_test, autoint.predict_proba(X_test)[:, 1]) > 0.709


@pytest.mark.parametrize(
    "name, value",
    [
        ("n_attention_layers", -1),
        ("n_heads", 0),
        ("attention_dim", 0),
        ("attention_residual", "yes"),
        ("linear", 1.5),
        ("embed_dim", 0),
        ("hidden_units", 400),
    ],
)
def test_invalid_parameters_are_named(name, value):
    X, y = parity_of_three_fields(50)
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        AutoIntClassifier(**{name: value}, max_epochs=1).fit(X, y)


def test_the_estimators_parameters_reach_the_network():
    X, y = parity_of_three_fields(200)
    est = AutoIntClassifier(
        embed_dim=3, n_attention_layers=2, n_heads=3, attention_dim=2, attention_residual=False,
        linear=True, hidden_units=(4,), max_epochs=1, random_state=0,
    ).fit(X, y)  # fmt: skip
    net = est.module_
    assert [layer.output_dim for layer in net.interacting] == [6, 6]
    assert all(layer.residual is None for layer in net.interacting)
    assert net.interacting[0].query.in_features == 3
    assert net.linear is not None and net.mlp.hidden[0].out_features == 4


def test_paper_presets_are_autoint_without_and_autoint_plus_with_the_protocols_mlp():
    protocol = Protocol(batch_size=256)
    autoint, autoint_plus = PAPER["autoint"](protocol), PAPER["autoint+"](protocol)
    for estimator in (autoint, autoint_plus):
        params = estimator.get_params()
        assert (params["embed_dim"], params["n_attention_layers"]) == (16, 3)
        assert (params["n_heads"], params["attention_dim"], params["linear"]) == (2, 32, False)
        assert params["lr"] == 1e-3
    assert autoint.get_params()["hidden_units"] == ()
    assert autoint_plus.get_params()["hidden_units"] == (400, 400, 400)
