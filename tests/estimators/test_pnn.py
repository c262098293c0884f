"""PNN and DeepFM-P: the product layer against brute-force definitions (float64), the networks'
decomposition, and the estimator as scikit-learn users meet it."""

import inspect

import numpy as np
import pytest
import torch
from helpers import randomize_, raw_frame
from references import (
    pairwise_inner_products,
    pairwise_interactions,
    product_layer_reference,
    sum_pooled_outer_product,
)
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.utils._param_validation import InvalidParameterError
from torch import nn

from sk_ctr import CTRTransformer
from sk_ctr.datasets import make_ctr_classification
from sk_ctr.estimators.models import DeepFMClassifier, LRClassifier
from sk_ctr.estimators.pnn import PNNClassifier
from sk_ctr.layers.dropout import Dropout
from sk_ctr.layers.product import InnerProduct, OuterProduct, ProductLayer
from sk_ctr.models import DeepFMNet
from sk_ctr.models.pnn import DeepFMPNet, PNNNet

SHAPES = [(5, 7, 3), (1, 2, 1), (4, 3, 16), (3, 1, 4), (2, 12, 2)]


# --------------------------------------------------------------------------------------
# InnerProduct
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size, n_fields, embed_dim", SHAPES)
def test_inner_product_matches_double_loop(batch_size, n_fields, embed_dim):
    emb = torch.randn(batch_size, n_fields, embed_dim, dtype=torch.float64)
    layer = InnerProduct(n_fields)
    out = layer(emb)
    assert out.shape == (batch_size, n_fields * (n_fields - 1) // 2)
    assert layer.output_dim == out.shape[1]
    torch.testing.assert_close(out, pairwise_inner_products(emb))


def test_inner_product_pairs_come_in_double_loop_order():
    # e_i = (i + 1): every pair has a distinct product (i + 1)(j + 1), so the order shows.
    n_fields = 4
    emb = torch.arange(1, n_fields + 1, dtype=torch.float64).reshape(1, n_fields, 1)
    out = InnerProduct(n_fields)(emb)[0].tolist()
    assert out == [(i + 1.0) * (j + 1.0) for i in range(n_fields) for j in range(i + 1, n_fields)]


def test_inner_product_gradient():
    emb = torch.randn(3, 4, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(InnerProduct(4), (emb,))


# --------------------------------------------------------------------------------------
# OuterProduct
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size, n_fields, embed_dim", SHAPES)
def test_outer_product_matches_sum_then_loops_over_k_by_k(batch_size, n_fields, embed_dim):
    emb = torch.randn(batch_size, n_fields, embed_dim, dtype=torch.float64)
    out = OuterProduct()(emb)
    assert out.shape == (batch_size, embed_dim * embed_dim)
    torch.testing.assert_close(out, sum_pooled_outer_product(emb))


def test_outer_product_is_symmetric_and_includes_self_products():
    # One field: sum pooling gives e_1 itself, so p = e_1 e_1^T, not empty like the pairs i < j.
    emb = torch.tensor([[[2.0, 3.0]]], dtype=torch.float64)
    torch.testing.assert_close(
        OuterProduct()(emb), torch.tensor([[4.0, 6.0, 6.0, 9.0]], dtype=torch.float64)
    )


# --------------------------------------------------------------------------------------
# ProductLayer
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("product", ["inner", "outer", "both"])
@pytest.mark.parametrize("batch_size, n_fields, embed_dim", SHAPES)
def test_product_layer_is_z_then_inner_then_outer(product, batch_size, n_fields, embed_dim):
    emb = torch.randn(batch_size, n_fields, embed_dim, dtype=torch.float64)
    layer = ProductLayer(n_fields, embed_dim, product)
    out = layer(emb)
    assert out.shape == (batch_size, layer.output_dim)
    torch.testing.assert_close(out, product_layer_reference(emb, product))


@pytest.mark.parametrize(
    "product, expected",
    [("inner", 7 * 3 + 21), ("outer", 7 * 3 + 9), ("both", 7 * 3 + 21 + 9)],
)
def test_product_layer_output_dim(product, expected):
    assert ProductLayer(7, 3, product).output_dim == expected


def test_product_layer_has_no_parameters_and_no_saved_state():
    layer = ProductLayer(5, 3, "both")
    assert list(layer.parameters()) == []
    assert layer.state_dict() == {}  # the pair indices are rebuilt, not saved
    buffers = {name for name, _ in layer.named_buffers()}
    assert buffers == {"inner.index2", "inner.index3", "inner.gram_index"}


def test_product_layer_unknown_product_raises_naming_it():
    with pytest.raises(ValueError, match="'inter'"):
        ProductLayer(3, 2, "inter")


# --------------------------------------------------------------------------------------
# Networks, built from a schema fitted by CTRTransformer
# --------------------------------------------------------------------------------------


@pytest.fixture(params=["bucketize", "value"])
def batch(request):
    """Fields and a float64 batch; ``value`` mode gives numeric fields too."""
    data = CTRTransformer(numeric=request.param, n_bins=4).fit_transform(raw_frame())
    ids = torch.as_tensor(data["ids"])
    values = torch.as_tensor(data["values"], dtype=torch.float64)
    return data.schema, ids, values


def mlp_input_width(mlp):
    return next(m for m in mlp.modules() if isinstance(m, nn.Linear)).in_features


@pytest.mark.parametrize("product", ["inner", "outer", "both"])
def test_pnn_net_is_mlp_of_product_layer(batch, product):
    fields, ids, values = batch
    net = randomize_(PNNNet(fields, product=product, embed_dim=3, hidden_units=(5, 4)))
    net = net.double().eval()
    emb = net.embedding(ids, values)
    assert emb.shape == (len(ids), 4, 3)
    expected = net.mlp(product_layer_reference(emb, product))
    torch.testing.assert_close(net(ids, values), expected)
    assert mlp_input_width(net.mlp) == net.product.output_dim


def test_pnn_net_has_no_low_order_part_and_one_output_bias(batch):
    fields, _, _ = batch
    net = PNNNet(fields, embed_dim=3, hidden_units=(5,))
    assert not hasattr(net, "linear") and not hasattr(net, "fm")
    assert net.mlp.output.bias is not None
    scalar_terms = [n for n, p in net.named_parameters() if "bias" in n and p.numel() == 1]
    assert scalar_terms == ["mlp.output.bias"]


def test_pnn_net_penalty_covers_its_embedding(batch):
    fields, ids, values = batch
    net = randomize_(PNNNet(fields, embed_dim=3, hidden_units=(5,))).double()
    torch.testing.assert_close(net.penalty(ids, values), net.embedding.squared_norm(ids, values))


def test_pnn_net_defaults_follow_the_journal():
    fields = CTRTransformer().fit_transform(raw_frame()).schema
    net = PNNNet(fields)
    assert net.embedding.embed_dim == 11  # k + 1, section III-C-1
    assert [m.out_features for m in net.mlp.hidden if isinstance(m, nn.Linear)] == [400] * 3
    assert [m.p for m in net.mlp.modules() if isinstance(m, Dropout)] == [0.5] * 3


@pytest.mark.parametrize("deep", ["inner", "outer", "both"])
def test_deepfm_p_is_linear_plus_fm_plus_pnn(batch, deep):
    fields, ids, values = batch
    net = randomize_(DeepFMPNet(fields, deep=deep, embed_dim=3, hidden_units=(6, 5)))
    net = net.double().eval()
    emb = net.embedding(ids, values)
    expected = (
        net.linear(ids, values)
        + pairwise_interactions(emb)
        + net.mlp(product_layer_reference(emb, deep))
    )
    torch.testing.assert_close(net(ids, values), expected)


def test_deepfm_p_has_exactly_one_constant_term(batch):
    fields, _, _ = batch
    net = DeepFMPNet(fields, embed_dim=3, hidden_units=(6,))
    scalar_terms = [n for n, p in net.named_parameters() if "bias" in n and p.numel() == 1]
    assert scalar_terms == ["linear.bias"]
    assert net.mlp.output.bias is None


def test_deepfm_p_one_shared_embedding_gets_gradient_from_fm_and_deep_parts(batch):
    fields, ids, values = batch
    net = randomize_(DeepFMPNet(fields, deep="both", embed_dim=3, hidden_units=(6,)))
    net = net.double().eval()
    assert sum(isinstance(m, nn.Embedding) for m in net.modules()) == 2  # embedding + linear
    table = net.embedding.table.weight

    (fm_grad,) = torch.autograd.grad(net.fm(net.embedding(ids, values)).sum(), table)
    deep = net.mlp(net.product(net.embedding(ids, values)))
    (deep_grad,) = torch.autograd.grad(deep.sum(), table)
    (total_grad,) = torch.autograd.grad(net(ids, values).sum(), table)

    assert fm_grad.abs().sum() > 0 and deep_grad.abs().sum() > 0
    torch.testing.assert_close(total_grad, fm_grad + deep_grad)


def test_deepfm_p_penalty_covers_embedding_and_order_one_weights(batch):
    fields, ids, values = batch
    net = randomize_(DeepFMPNet(fields, embed_dim=3, hidden_units=(6,))).double()
    expected = net.embedding.squared_norm(ids, values) + net.linear.squared_norm(ids, values)
    torch.testing.assert_close(net.penalty(ids, values), expected)


def test_deepfm_p_takes_the_keywords_of_deepfm_plus_deep():
    # DeepFMClassifier passes the keywords it finds in the network's signature.
    deepfm = inspect.signature(DeepFMNet).parameters
    deepfm_p = inspect.signature(DeepFMPNet).parameters
    assert list(deepfm_p) == ["fields", "deep", *list(deepfm)[1:]]
    for name in deepfm:
        assert deepfm_p[name].default == deepfm[name].default


# --------------------------------------------------------------------------------------
# PNNClassifier
# --------------------------------------------------------------------------------------


def small(**params):
    """A PNNClassifier that trains in well under a second on 1,000 rows."""
    defaults = {
        "max_epochs": 3,
        "batch_size": 128,
        "lr": 1e-2,
        "random_state": 0,
        "n_threads": 1,
        "embed_dim": 4,
        "hidden_units": (16,),
        "dropout": 0.0,
    }
    return PNNClassifier(**{**defaults, **params})


def test_defaults_follow_the_journal():
    params = PNNClassifier().get_params()
    assert params["product"] == "inner" and params["embed_dim"] == 11
    assert params["hidden_units"] == (400, 400, 400) and params["dropout"] == 0.5


@pytest.mark.parametrize("product", ["inner", "outer", "both"])
def test_estimator_builds_the_network_it_describes(small_ctr_data, product):
    X, y = small_ctr_data
    est = small(product=product, hidden_units=(7, 5), activation="tanh").fit(X, y)
    net = est.module_
    assert isinstance(net, PNNNet) and net.embedding.embed_dim == 4
    assert (net.product.inner is not None) == (product in ("inner", "both"))
    assert (net.product.outer is not None) == (product in ("outer", "both"))
    assert [m.out_features for m in net.mlp.hidden if isinstance(m, nn.Linear)] == [7, 5]
    assert sum(isinstance(m, nn.Tanh) for m in net.mlp.hidden) == 2
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.isfinite(proba).all()


def test_unknown_product_raises_at_fit(small_ctr_data):
    X, y = small_ctr_data
    with pytest.raises(InvalidParameterError, match="product"):
        small(product="kernel").fit(X, y)


def test_clone_and_params_round_trip():
    est = PNNClassifier(
        product="both", embed_dim=6, hidden_units=(8, 4), l2=1e-4, lr=0.02, random_state=3
    )
    params = est.get_params()
    assert params["product"] == "both" and params["embed_dim"] == 6 and params["lr"] == 0.02
    twin = clone(est)
    assert twin.get_params(deep=False).keys() == est.get_params(deep=False).keys()
    assert twin.set_params(product="outer").get_params()["product"] == "outer"
    assert repr(twin) == (  # scikit-learn's layout: changed parameters, 80 columns
        "PNNClassifier(embed_dim=6, hidden_units=(8, 4), l2=0.0001, lr=0.02,\n"
        "              product='outer', random_state=3)"
    )


def test_grid_search_over_product(small_ctr_data):
    X, y = small_ctr_data
    search = GridSearchCV(
        small(max_epochs=2), {"product": ["inner", "outer"]}, scoring="roc_auc", cv=2
    ).fit(X, y)
    assert search.best_params_["product"] in ("inner", "outer")
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


# --------------------------------------------------------------------------------------
# Learning: order-2 structure that LR cannot fit
# --------------------------------------------------------------------------------------


class DeepFMPClassifier(DeepFMClassifier):
    """DeepFM-P through the estimator machinery, until DeepFMClassifier gains ``deep``."""

    _network = DeepFMPNet

    def __init__(self, *, deep="inner", **kwargs):
        super().__init__(**kwargs)
        self.deep = deep


# batch_size=128 rather than 1024: 15,000 rows give 13 steps an epoch at 1024, and the product
# weights start small, so a PNN at 1024 is often stopped before it leaves LR's level. One torch
# thread: these small models gain nothing from more, and the CPU time stays a few seconds.
PROTOCOL = {
    "max_epochs": 30,
    "early_stopping": True,
    "random_state": 0,
    "lr": 1e-2,
    "batch_size": 128,
    "n_threads": 1,
}
DEEP = {"embed_dim": 4, "hidden_units": (64, 64), "dropout": 0.0, "l2": 1e-3}


@pytest.fixture(scope="module")
def order_two_split():
    X, y = make_ctr_classification(n_samples=20000, n_fields=8, cardinality=50, random_state=0)
    return train_test_split(X, y, test_size=0.25, random_state=0)


@pytest.fixture(scope="module")
def lr_auc(order_two_split):
    return _test_auc(LRClassifier(**PROTOCOL), *order_two_split)


def _test_auc(est, X_train, X_test, y_train, y_test):
    return roc_auc_score(y_test, est.fit(X_train, y_train).predict_proba(X_test)[:, 1])


@pytest.mark.parametrize("product", ["inner", "outer"])
def test_pnn_learns_order_two_structure_beyond_lr(order_two_split, lr_auc, product):
    auc = _test_auc(PNNClassifier(product=product, **DEEP, **PROTOCOL), *order_two_split)
    print(f"PNN-{product} test AUC {auc:.4f}, LR {lr_auc:.4f}")
    assert 0.6 < lr_auc < 0.72
    assert auc > lr_auc + 0.02


def test_deepfm_p_learns_order_two_structure_beyond_lr(order_two_split, lr_auc):
    auc = _test_auc(DeepFMPClassifier(deep="inner", **DEEP, **PROTOCOL), *order_two_split)
    print(f"DeepFM-IP test AUC {auc:.4f}, LR {lr_auc:.4f}")
    assert auc > lr_auc + 0.05
