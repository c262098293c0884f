"""FFM, FwFM and AFM: layers against brute-force definitions (float64), networks, estimators."""

import numpy as np
import pytest
import torch
from helpers import encoded_float64, randomize_
from references import afm_reference, ffm_reference, fwfm_reference, pairs
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.utils._param_validation import InvalidParameterError

from sk_ctr import LRClassifier
from sk_ctr.datasets import make_ctr_classification
from sk_ctr.estimators.field_aware import AFMClassifier, FFMClassifier, FwFMClassifier
from sk_ctr.layers.dropout import Dropout
from sk_ctr.layers.field_aware import (
    AttentionalInteraction,
    FieldAwareEmbedding,
    FieldAwareInteraction,
    FieldWeightedInteraction,
)
from sk_ctr.models.field_aware import AFMNet, FFMNet, FwFMNet

VOCAB_SIZES = [3, 5, 2]
ESTIMATORS = [FFMClassifier, FwFMClassifier, AFMClassifier]


def random_ids(vocab_sizes, batch_size):
    return torch.stack([torch.randint(0, v, (batch_size,)) for v in vocab_sizes], dim=1)


def offsets_of(vocab_sizes):
    return [sum(vocab_sizes[:j]) for j in range(len(vocab_sizes))]


# ----------------------------------------------------------------------------------------
# FieldAwareEmbedding
# ----------------------------------------------------------------------------------------
def test_field_aware_embedding_looks_up_one_vector_per_field_for_every_id():
    n_numeric, k = 2, 3
    n_fields = len(VOCAB_SIZES) + n_numeric
    emb = FieldAwareEmbedding(VOCAB_SIZES, n_numeric, k, init_std=1.0).double()
    ids = random_ids(VOCAB_SIZES, 6)
    values = torch.randn(6, n_numeric, dtype=torch.float64)
    out = emb(ids, values)
    assert out.shape == (6, n_fields, n_fields, k)

    table = emb.vectors.table.weight
    assert table.shape == (sum(VOCAB_SIZES), n_fields * k)  # one nn.Embedding, n_fields*k wide
    numeric = emb.vectors.numeric
    for b in range(6):
        for i, offset in enumerate(offsets_of(VOCAB_SIZES)):
            row = offset + int(ids[b, i])
            for f in range(n_fields):
                torch.testing.assert_close(out[b, i, f], table[row, f * k : (f + 1) * k])
        for j in range(n_numeric):
            for f in range(n_fields):
                expected = values[b, j] * numeric[j, f * k : (f + 1) * k]
                torch.testing.assert_close(out[b, len(VOCAB_SIZES) + j, f], expected)


def test_field_aware_embedding_squared_norm_covers_every_vector_of_the_looked_up_rows():
    n_numeric, k = 1, 2
    emb = FieldAwareEmbedding(VOCAB_SIZES, n_numeric, k, init_std=1.0).double()
    ids = random_ids(VOCAB_SIZES, 5)
    values = torch.ones(5, n_numeric, dtype=torch.float64)
    table, numeric = emb.vectors.table.weight, emb.vectors.numeric
    expected = torch.stack(
        [
            sum(table[o + ids[b, i]].pow(2).sum() for i, o in enumerate(offsets_of(VOCAB_SIZES)))
            + numeric.pow(2).sum()
            for b in range(5)
        ]
    )
    torch.testing.assert_close(emb.squared_norm(ids, values), expected)


# ----------------------------------------------------------------------------------------
# Interaction layers against the references
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size, n_fields, k", [(4, 5, 3), (2, 2, 1), (3, 7, 4)])
def test_ffm_interaction_matches_definition(batch_size, n_fields, k):
    vectors = torch.randn(batch_size, n_fields, n_fields, k, dtype=torch.float64)
    torch.testing.assert_close(FieldAwareInteraction(n_fields)(vectors), ffm_reference(vectors))


def test_ffm_interaction_ignores_the_vector_of_a_field_for_itself():
    vectors = torch.randn(3, 4, 4, 2, dtype=torch.float64)
    changed = vectors.clone()
    changed[:, range(4), range(4)] = 100.0
    layer = FieldAwareInteraction(4)
    torch.testing.assert_close(layer(changed), layer(vectors))


def test_ffm_with_field_independent_vectors_is_fm():
    emb = torch.randn(3, 5, 4, dtype=torch.float64)
    vectors = emb.unsqueeze(2).expand(-1, -1, 5, -1)  # v_{i,f} = e_i for every f
    fm = fwfm_reference(emb, dict.fromkeys(pairs(5), 1.0))
    torch.testing.assert_close(FieldAwareInteraction(5)(vectors), fm)


@pytest.mark.parametrize("batch_size, n_fields, k", [(4, 5, 3), (2, 2, 1), (3, 6, 4)])
def test_fwfm_interaction_matches_definition(batch_size, n_fields, k):
    layer = randomize_(FieldWeightedInteraction(n_fields)).double()
    emb = torch.randn(batch_size, n_fields, k, dtype=torch.float64)
    r = dict(zip(pairs(n_fields), layer.pair_weights.tolist(), strict=True))
    torch.testing.assert_close(layer(emb), fwfm_reference(emb, r))


@pytest.mark.parametrize("n_fields", [2, 5, 9])
def test_fwfm_has_exactly_one_scalar_per_field_pair(n_fields):
    layer = FieldWeightedInteraction(n_fields)
    parameters = dict(layer.named_parameters())
    assert list(parameters) == ["pair_weights"]
    assert parameters["pair_weights"].shape == (n_fields * (n_fields - 1) // 2,)
    assert torch.all(layer.pair_weights == 0.7)  # AutoFIS Table 9's wt_init
    # Created once, not per batch: forward passes keep the same tensor, and it learns.
    before = layer.pair_weights
    layer(torch.randn(3, n_fields, 2)).sum().backward()
    layer(torch.randn(5, n_fields, 2))
    assert layer.pair_weights is before and before.grad is not None
    assert not any(buffer.dtype.is_floating_point for buffer in layer.buffers())


def test_fwfm_index_buffers_are_not_saved():
    assert set(FieldWeightedInteraction(4).state_dict()) == {"pair_weights"}


def make_afm(n_fields, k, attention_dim=3, dropout=0.0):
    return AttentionalInteraction(n_fields, k, attention_dim, dropout).double()


@pytest.mark.parametrize(
    "batch_size, n_fields, k, attention_dim", [(3, 4, 3, 2), (2, 2, 1, 1), (2, 5, 2, 4)]
)
def test_afm_interaction_and_attention_weights_match_definition(
    batch_size, n_fields, k, attention_dim
):
    layer = randomize_(make_afm(n_fields, k, attention_dim)).eval()
    emb = torch.randn(batch_size, n_fields, k, dtype=torch.float64)
    W, b = layer.attention.weight.tolist(), layer.attention.bias.tolist()
    h, p = layer.score.weight[0].tolist(), layer.projection.weight[0].tolist()
    outputs, weights = afm_reference(emb, W, b, h, p)
    torch.testing.assert_close(layer(emb), outputs)
    torch.testing.assert_close(layer.attention_weights(emb), weights)


def test_afm_attention_weights_sum_to_one_per_sample_and_differ_across_pairs():
    layer = make_afm(6, 4, attention_dim=5, dropout=0.5).train()
    weights = layer.attention_weights(torch.randn(8, 6, 4, dtype=torch.float64))
    assert weights.shape == (8, 15)
    assert (weights > 0).all()
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(8, dtype=torch.float64))
    assert weights.std(dim=1).min() > 0


def test_afm_dropout_is_a_module_switched_off_by_eval():
    layer = make_afm(5, 8, attention_dim=4, dropout=0.5)
    assert [m.p for m in layer.modules() if isinstance(m, Dropout)] == [0.5]
    emb = torch.randn(16, 5, 8, dtype=torch.float64)
    layer.eval()
    first, second = layer(emb), layer(emb)
    torch.testing.assert_close(first, second)
    layer.train()
    assert not torch.allclose(layer(emb), first)


def test_afm_without_dropout_is_the_same_in_train_and_eval():
    layer = make_afm(5, 8, attention_dim=4, dropout=0.0)
    emb = torch.randn(16, 5, 8, dtype=torch.float64)
    torch.testing.assert_close(layer.train()(emb), layer.eval()(emb))


def test_afm_dropout_acts_on_the_pooled_vector_not_the_attention_weights():
    # With p = 1 and one pair, dropping pooled unit d removes a_12 (e_1 e_2)_d from the sum;
    # a_12 = 1 always, so every training output is (1 / keep) * a partial sum of e_1 * e_2.
    layer = make_afm(2, 6, attention_dim=2, dropout=0.5).train()
    emb = torch.randn(1, 2, 6, dtype=torch.float64)
    products = (emb[0, 0] * emb[0, 1]).tolist()
    subsets = {
        mask: sum(x for x, keep in zip(products, mask, strict=True) if keep)
        for mask in np.ndindex(*(2,) * 6)
    }
    masks_seen = set()
    for _ in range(20):
        partial = layer(emb).item() * 0.5
        mask = min(subsets, key=lambda m: abs(partial - subsets[m]))
        assert abs(partial - subsets[mask]) < 1e-9
        masks_seen.add(mask)
    # Dropping the single attention weight would only ever give all units or none.
    assert masks_seen - {(0,) * 6, (1,) * 6}


def test_interactions_of_a_single_field_are_zero():
    zeros = torch.zeros(3, dtype=torch.float64)
    torch.testing.assert_close(FieldAwareInteraction(1)(torch.randn(3, 1, 1, 2).double()), zeros)
    torch.testing.assert_close(
        FieldWeightedInteraction(1).double()(torch.randn(3, 1, 2).double()), zeros
    )
    torch.testing.assert_close(make_afm(1, 2)(torch.randn(3, 1, 2).double()), zeros)


# ----------------------------------------------------------------------------------------
# Networks: the logit is the linear term plus the interaction term, with one bias
# ----------------------------------------------------------------------------------------
def encoded_batch(numeric):
    X, _ = make_ctr_classification(
        n_samples=30, n_fields=3, cardinality=5, n_numeric=2, random_state=0
    )
    return encoded_float64(X, numeric=numeric, n_bins=3)


@pytest.fixture(params=["bucketize", "value"])
def batch(request):
    return encoded_batch(request.param)


def test_ffm_net_is_linear_plus_ffm_of_field_aware_vectors(batch):
    fields, ids, values = batch
    net = randomize_(FFMNet(fields, embed_dim=2)).double()
    expected = net.linear(ids, values) + ffm_reference(net.embedding(ids, values))
    torch.testing.assert_close(net(ids, values), expected)


def test_fwfm_net_is_linear_plus_weighted_pairs(batch):
    fields, ids, values = batch
    net = randomize_(FwFMNet(fields, embed_dim=3)).double()
    r = dict(zip(pairs(net.n_fields), net.fwfm.pair_weights.tolist(), strict=True))
    expected = net.linear(ids, values) + fwfm_reference(net.embedding(ids, values), r)
    torch.testing.assert_close(net(ids, values), expected)
    assert net.fwfm.pair_weights.numel() == net.n_fields * (net.n_fields - 1) // 2


def test_afm_net_is_linear_plus_attention_pooled_pairs(batch):
    fields, ids, values = batch
    net = AFMNet(fields, embed_dim=3, attention_dim=2, dropout=0.5).double().eval()
    with torch.no_grad():
        net.linear.weights.table.weight.normal_()
        net.embedding.table.weight.normal_()
        net.embedding.numeric.normal_()
    afm = net.afm
    outputs, weights = afm_reference(
        net.embedding(ids, values),
        afm.attention.weight.tolist(),
        afm.attention.bias.tolist(),
        afm.score.weight[0].tolist(),
        afm.projection.weight[0].tolist(),
    )
    torch.testing.assert_close(net(ids, values), net.linear(ids, values) + outputs)
    torch.testing.assert_close(net.attention_weights(ids, values), weights)


@pytest.mark.parametrize(
    "make_net",
    [
        lambda f: FFMNet(f, embed_dim=2),
        lambda f: FwFMNet(f, embed_dim=2),
        lambda f: AFMNet(f, embed_dim=2, attention_dim=3),
    ],
)
def test_networks_have_exactly_one_constant_term(make_net, batch):
    fields, _, _ = batch
    net = make_net(fields)
    scalar_biases = [n for n, p in net.named_parameters() if "bias" in n and p.dim() == 0]
    assert scalar_biases == ["linear.bias"]
    if isinstance(net, AFMNet):
        assert net.afm.projection.bias is None and net.afm.score.bias is None


def test_networks_start_near_zero_logit_with_linear_term_at_zero(batch):
    fields, ids, values = batch
    for net in (FFMNet(fields), FwFMNet(fields), AFMNet(fields)):
        out = net.double().eval()(ids, values)
        assert out.abs().max() < 1e-2


def test_ffm_penalty_covers_linear_weights_and_the_field_aware_table():
    fields, ids, values = encoded_batch("value")
    values = torch.ones_like(values)
    values[::2] = -1.0  # values of +-1 keep the test neutral on value-scaled penalties
    net = randomize_(FFMNet(fields, embed_dim=2)).double()
    offsets = offsets_of([f.vocab_size for f in fields if f.kind == "categorical"])
    expected = torch.zeros(len(ids), dtype=torch.float64)
    for table in (net.linear.weights, net.embedding.vectors):
        for b in range(len(ids)):
            expected[b] += sum(
                table.table.weight[o + ids[b, i]].pow(2).sum() for i, o in enumerate(offsets)
            )
            expected[b] += table.numeric.pow(2).sum()
    assert net.embedding.vectors.table.weight.shape[1] == net.n_fields * 2
    torch.testing.assert_close(net.penalty(ids, values), expected)


@pytest.mark.parametrize("net_class", [FwFMNet, AFMNet])
def test_penalty_covers_embedding_and_linear_weights(net_class):
    fields, ids, values = encoded_batch("bucketize")
    net = randomize_(net_class(fields, embed_dim=2)).double()
    expected = net.linear.squared_norm(ids, values) + net.embedding.squared_norm(ids, values)
    torch.testing.assert_close(net.penalty(ids, values), expected)


# ----------------------------------------------------------------------------------------
# Estimators
# ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def order2_split():
    X, y = make_ctr_classification(n_samples=20000, n_fields=8, cardinality=50, random_state=0)
    return train_test_split(X, y, test_size=0.25, random_state=0)


# One torch thread: on the 2 shared cores, a second thread's spin-waiting costs more CPU than the
# tiny matrix products save.
PROTOCOL = {"max_epochs": 30, "early_stopping": True, "lr": 1e-2, "random_state": 0, "n_threads": 1}


def fit_and_score(cls, split):
    X_train, X_test, y_train, y_test = split
    est = cls(**PROTOCOL).fit(X_train, y_train)
    return roc_auc_score(y_test, est.predict_proba(X_test)[:, 1])


@pytest.fixture(scope="module")
def lr_auc(order2_split):
    return fit_and_score(LRClassifier, order2_split)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_learns_order2_interactions_better_than_logistic_regression(cls, order2_split, lr_auc):
    # Measured: LR 0.680; FFM 0.711, FwFM 0.778, AFM 0.736 (FM 0.787). FFM's per-field vectors
    # see fewer samples each on this FM-generated data, so it is the weakest of the three.
    auc = fit_and_score(cls, order2_split)
    assert auc > 0.65
    assert auc > lr_auc + 0.02


def small(cls, **params):
    defaults = {"max_epochs": 2, "batch_size": 128, "lr": 1e-2, "random_state": 0, "n_threads": 1}
    return cls(**{**defaults, **params})


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_clone_and_get_params_round_trip(cls):
    own = {"embed_dim": 3, "init_std": 0.05}
    if cls is AFMClassifier:
        own.update(attention_dim=5, dropout=0.25)
    est = cls(**own, l2=1e-4, batch_size=64)
    cloned = clone(est)
    assert cloned is not est
    params = cloned.get_params(deep=False)
    assert {k: params[k] for k in own} == own
    assert params["l2"] == 1e-4 and params["batch_size"] == 64
    assert cls(**params).get_params(deep=False).keys() == params.keys()


@pytest.mark.parametrize(
    "cls, grid",
    [
        (FFMClassifier, {"embed_dim": [2, 4]}),
        (FwFMClassifier, {"embed_dim": [4, 8]}),
        (AFMClassifier, {"attention_dim": [2, 8]}),
    ],
)
def test_grid_search_over_own_parameter(cls, grid, small_ctr_data):
    X, y = small_ctr_data
    search = GridSearchCV(small(cls), grid, cv=2, scoring="roc_auc").fit(X, y)
    assert search.best_params_[next(iter(grid))] in next(iter(grid.values()))
    assert search.best_estimator_.predict_proba(X).shape == (len(X), 2)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_network_built_with_the_estimator_parameters(cls, small_ctr_data):
    X, y = small_ctr_data
    est = small(cls, embed_dim=3, max_epochs=1).fit(X, y)
    module = est.module_
    assert module.embedding.embed_dim == 3
    if cls is FFMClassifier:
        assert module.embedding.vectors.table.weight.shape[1] == len(est.schema_) * 3
    if cls is AFMClassifier:
        assert module.afm.attention.out_features == est.attention_dim
        assert module.afm.dropout.p == est.dropout


def test_fwfm_pair_weights_are_trained(small_ctr_data):
    X, y = small_ctr_data
    weights = small(FwFMClassifier).fit(X, y).module_.fwfm.pair_weights
    assert weights.shape == (15,)  # 4 categorical + 2 numeric fields
    assert not torch.allclose(weights, torch.full_like(weights, 0.7))


def test_afm_estimator_attention_weights(small_ctr_data):
    X, y = small_ctr_data
    est = small(AFMClassifier, dropout=0.5).fit(X, y)
    weights = est.attention_weights(X)
    assert weights.shape == (len(X), 15) and weights.dtype == np.float64
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(est.attention_weights(X), weights)  # dropout off
    # The network's fields: categorical ones (bucketized numeric columns included) in schema
    # order, then numeric-value ones.
    fields = [f.name for f in est.schema_ if f.kind == "categorical"]
    fields += [f.name for f in est.schema_ if f.kind == "numeric"]
    expected = [f"{fields[i]} x {fields[j]}" for i, j in pairs(len(fields))]
    assert est.interaction_names_.tolist() == expected
    np.testing.assert_array_equal(est.predict_proba(X), est.predict_proba(X))


@pytest.mark.parametrize("params", [{"dropout": 1.0}, {"attention_dim": 0}, {"embed_dim": 0}])
def test_afm_rejects_invalid_parameters_at_fit(params, small_ctr_data):
    X, y = small_ctr_data
    with pytest.raises(InvalidParameterError):
        small(AFMClassifier, **params).fit(X, y)
