"""DCN-V2 in DCNClassifier: the network's two structures against the equations composed from the
brute-force references, the default that stays DCN, a planted structure only a full cross can
learn, and parameter validation. DCN's own tests: tests/estimators/test_dcn_widedeep_fnn.py."""

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import CRITEO_SAMPLE_TRAINING, criteo_sample_split, randomize_, raw_frame
from references import (
    cross_network_by_definition,
    matrix_cross_by_definition,
    mixture_cross_by_definition,
)
from sklearn.metrics import roc_auc_score
from sklearn.utils._param_validation import InvalidParameterError
from torch import nn

from sk_ctr import CTRTransformer
from sk_ctr.estimators.dcn import DCNClassifier
from sk_ctr.layers import MLP, FieldEmbedding
from sk_ctr.layers.cross import CrossNetwork, MatrixCrossNetwork, MixtureCrossNetwork
from sk_ctr.models.dcn import DCNNet

CROSSES = ["vector", "matrix", "mix"]


def encoded_batch():
    """Fields and a float64 batch of the helpers' raw frame, encoded by CTRTransformer."""
    data = CTRTransformer(numeric="value").fit_transform(raw_frame())
    ids = torch.as_tensor(data["ids"])
    values = torch.as_tensor(data["values"], dtype=torch.float64)
    return data.schema, ids, values


def cross_by_definition(cross, x0):
    """The brute-force reference of the cross network ``cross``, with its parameters."""
    if isinstance(cross, MixtureCrossNetwork):
        return mixture_cross_by_definition(
            x0, cross.down, cross.inner, cross.up, cross.gates, cross.biases
        )
    if isinstance(cross, MatrixCrossNetwork):
        return matrix_cross_by_definition(x0, cross.weights, cross.biases)
    return cross_network_by_definition(x0, cross.weights, cross.biases)


def mlp_by_definition(mlp, inputs):
    """relu(W a + b) layer after layer, then the output unit (dropout 0, no batch norm)."""
    linears = [m for m in mlp.hidden if isinstance(m, nn.Linear)]
    for linear in linears:
        inputs = torch.relu(inputs @ linear.weight.T + linear.bias)
    out = inputs @ mlp.output.weight.T
    if mlp.output.bias is not None:
        out = out + mlp.output.bias
    return out.squeeze(-1)


def random_network(cross, structure):
    torch.manual_seed(0)
    fields, ids, values = encoded_batch()
    net = DCNNet(
        fields, embed_dim=3, n_cross_layers=2, cross=cross, structure=structure,
        low_rank=2, n_experts=3, hidden_units=(5, 4),
    )  # fmt: skip
    net = randomize_(net).double().eval()
    return net, ids, values, net.embedding(ids, values).flatten(start_dim=1)


# ----------------------------------------------------------------------------------------
# DCNNet
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cross", CROSSES)
def test_parallel_logit_is_one_linear_unit_on_the_cross_and_the_mlp(cross):
    net, ids, values, x0 = random_network(cross, "parallel")
    combined = torch.cat([cross_by_definition(net.cross, x0), net.mlp.hidden(x0)], dim=1)
    weight = torch.cat([net.cross_output.weight, net.mlp.output.weight], dim=1)
    expected = (combined @ weight.T).squeeze(-1) + net.cross_output.bias
    torch.testing.assert_close(net(ids, values), expected)


@pytest.mark.parametrize("cross", CROSSES)
def test_stacked_logit_is_the_mlp_on_the_cross_network(cross):
    net, ids, values, x0 = random_network(cross, "stacked")
    expected = mlp_by_definition(net.mlp, cross_by_definition(net.cross, x0))
    torch.testing.assert_close(net(ids, values), expected)


@pytest.mark.parametrize("structure", ["parallel", "stacked"])
def test_each_structure_has_exactly_one_bias(structure):
    fields, ids, values = encoded_batch()
    net = DCNNet(fields, embed_dim=3, structure=structure, hidden_units=(5,))
    output_biases = [net.mlp.output.bias] + ([net.cross_output.bias] if net.cross_output else [])
    assert [b.shape for b in output_biases if b is not None] == [(1,)]
    assert net(ids, values.float()).shape == (len(ids),)


def test_stacked_without_cross_layers_or_hidden_layers_is_linear_in_the_embeddings():
    fields, ids, values = encoded_batch()
    net = DCNNet(fields, embed_dim=2, n_cross_layers=0, structure="stacked", hidden_units=())
    net = randomize_(net).double()
    x0 = net.embedding(ids, values).flatten(start_dim=1)
    expected = x0 @ net.mlp.output.weight.T + net.mlp.output.bias
    torch.testing.assert_close(net(ids, values), expected.squeeze(-1))


def test_the_default_network_is_dcn_built_in_dcn_order():
    # Same seed, same initial weights as DCN's network was always built: the embedding, the
    # vector cross, its linear output unit, then the MLP without bias. Results measured with
    # DCNClassifier before DCN-V2 are reproduced by the default.
    fields, _, _ = encoded_batch()
    torch.manual_seed(3)
    net = DCNNet(fields, embed_dim=4, n_cross_layers=2, hidden_units=(6,))
    torch.manual_seed(3)
    embedding = FieldEmbedding(net.vocab_sizes, net.n_numeric, 4, 0.01)
    cross = CrossNetwork(len(fields) * 4, 2)
    cross_output = nn.Linear(len(fields) * 4, 1)
    mlp = MLP(len(fields) * 4, (6,), output_bias=False)
    expected = {
        **{f"embedding.{k}": v for k, v in embedding.state_dict().items()},
        **{f"cross.{k}": v for k, v in cross.state_dict().items()},
        **{f"cross_output.{k}": v for k, v in cross_output.state_dict().items()},
        **{f"mlp.{k}": v for k, v in mlp.state_dict().items()},
    }
    state = net.state_dict()
    assert state.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.equal(state[name], value), name


@pytest.mark.parametrize("cross", ["vector", "matrix"])
def test_low_rank_and_n_experts_only_change_the_mixture(cross):
    fields, _, _ = encoded_batch()
    states = []
    for low_rank, n_experts in [(1, 1), (7, 5)]:
        torch.manual_seed(0)
        net = DCNNet(fields, cross=cross, low_rank=low_rank, n_experts=n_experts)
        states.append(net.state_dict())
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_network_rejects_unknown_cross_and_structure():
    fields, _, _ = encoded_batch()
    with pytest.raises(ValueError, match="cross"):
        DCNNet(fields, cross="diagonal")
    with pytest.raises(ValueError, match="structure"):
        DCNNet(fields, structure="serial")


# ----------------------------------------------------------------------------------------
# DCNClassifier
# ----------------------------------------------------------------------------------------
def test_classifier_defaults_are_dcn_and_reach_the_network():
    X, y = raw_frame(200), np.tile([0, 1], 100)
    est = DCNClassifier(hidden_units=(4,), max_epochs=1, random_state=0)
    assert (est.cross, est.structure) == ("vector", "parallel")
    assert type(est.fit(X, y).module_.cross) is CrossNetwork
    mix = DCNClassifier(cross="mix", structure="stacked", low_rank=3, n_experts=2,
                        hidden_units=(4,), max_epochs=1, random_state=0).fit(X, y)  # fmt: skip
    assert mix.module_.cross.down.shape[1:] == (2, mix.module_.cross.output_dim, 3)
    assert mix.module_.cross_output is None and mix.module_.mlp.output.bias is not None


def sum_of_products_data(n_samples, seed=0):
    """Six numeric columns; the label is the sign of a full-rank quadratic form of them,
    ab + cd + ef. One layer of DCN's vector cross only reaches rank-1 forms (c.x)(w.x)."""
    values = np.random.default_rng(seed).normal(size=(n_samples, 6))
    X = pd.DataFrame(values, columns=list("abcdef"))
    y = values[:, 0] * values[:, 1] + values[:, 2] * values[:, 3] + values[:, 4] * values[:, 5]
    return X, (y > 0).astype(int)


def held_out_auc(cross):
    X, y = sum_of_products_data(2000)
    est = DCNClassifier(
        cross=cross, n_cross_layers=1, hidden_units=(), embed_dim=2, init_std=0.1,
        low_rank=6, n_experts=2, max_epochs=8, batch_size=64, lr=3e-2,
        early_stopping=False, random_state=0,
    ).fit(X[:1500], y[:1500])  # fmt: skip
    return roc_auc_score(y[1500:], est.predict_proba(X[1500:])[:, 1])


@pytest.fixture(scope="module")
def vector_auc():
    return held_out_auc("vector")


@pytest.mark.parametrize("cross, margin", [("matrix", 0.15), ("mix", 0.08)])
def test_a_full_cross_learns_a_sum_of_products_the_vector_cross_cannot(vector_auc, cross, margin):
    # Without an MLP, one cross layer is the whole model's nonlinearity. Measured (3 seeds):
    # vector 0.72-0.76, matrix 0.93-0.99, mix 0.83-0.93.
    assert vector_auc < 0.8
    assert held_out_auc(cross) > vector_auc + margin


def test_dcn_v2_learns_the_real_criteo_sample(shared_data_file):
    # DCN-V2: three full-matrix cross layers next to the MLP, k = 8, on 14 columns. Measured
    # test AUC with random_state 0 / 1 / 2: 0.7255 / 0.7184 / 0.7227, 0.4-0.5 s of CPU each;
    # LR 0.732 / 0.726.
    X_train, X_test, y_train, y_test = criteo_sample_split(
        shared_data_file("criteo_kaggle_10k", "train_examples.txt")
    )
    dcn = DCNClassifier(cross="matrix", **CRITEO_SAMPLE_TRAINING, random_state=0)
    dcn.fit(X_train, y_train)
    assert roc_auc_score(y_test, dcn.predict_proba(X_test)[:, 1]) > 0.708


@pytest.mark.parametrize(
    "params, name",
    [
        ({"cross": "diagonal"}, "cross"),
        ({"structure": "serial"}, "structure"),
        ({"low_rank": 0}, "low_rank"),
        ({"low_rank": 2.5}, "low_rank"),
        ({"n_experts": 0}, "n_experts"),
    ],
)
def test_invalid_parameters_are_named(params, name):
    X, y = raw_frame(20), np.tile([0, 1], 10)
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        DCNClassifier(**params).fit(X, y)
