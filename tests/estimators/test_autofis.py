"""AutoFIS: gated interactions, GRDA, the search and re-train stages, transfer, the paper's
synthetic experiment."""

import itertools
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import fit_time_state
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split

from sk_ctr import (
    AFMClassifier,
    AutoFISClassifier,
    DeepFMClassifier,
    FFMClassifier,
    FMClassifier,
    FwFMClassifier,
    PNNClassifier,
    WideDeepClassifier,
)
from sk_ctr.datasets import make_interaction_dataset
from sk_ctr.layers import FactorizationMachine, GatedInteraction
from sk_ctr.layers.field_products import FieldProducts, all_interactions
from sk_ctr.layers.interaction import SelectedFactorizationMachine
from sk_ctr.layers.product import ProductLayer
from sk_ctr.models.autofis import AutoFISNet
from sk_ctr.preprocessing import Field
from sk_ctr.training.optim import GRDA

FAST = {"n_threads": 1, "random_state": 0, "batch_size": 256, "lr": 1e-2, "early_stopping": False}


def random_embeddings(batch=7, fields=5, dim=3, seed=0):
    return torch.randn(
        batch, fields, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )


# ----------------------------------------------------------------------------------------
# Layers against brute force (explicit loops over fields, float64)
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_pairs", [3, 10])  # gathered below m = 5 pairs, Gram matrix from m
def test_field_products_match_a_loop_over_pairs_and_triples(n_pairs):
    embeddings = random_embeddings()
    pairs = [(3, 1), (0, 4), (0, 1)] if n_pairs == 3 else all_interactions(5)
    layer = FieldProducts([*pairs, (0, 2, 4), (1, 2, 3)], n_fields=5)
    assert layer.use_gram == (n_pairs == 10)
    assert layer.interactions[:n_pairs] == tuple(sorted(tuple(sorted(p)) for p in pairs))
    assert layer.interactions[n_pairs:] == ((0, 2, 4), (1, 2, 3))
    expected = np.zeros((7, n_pairs + 2))
    e = embeddings.numpy()
    for b in range(7):
        for column, fields in enumerate(layer.interactions):
            for k in range(3):
                expected[b, column] += np.prod([e[b, f, k] for f in fields])
    np.testing.assert_allclose(layer(embeddings).numpy(), expected, rtol=1e-12)


def test_selected_fm_over_all_pairs_equals_the_fm_identity():
    embeddings = random_embeddings(fields=6)
    selected = SelectedFactorizationMachine(all_interactions(6), n_fields=6)
    torch.testing.assert_close(selected(embeddings), FactorizationMachine()(embeddings))


def test_gated_interaction_is_alpha_times_batch_normalised_products():
    embeddings = random_embeddings(batch=16)
    pairs = [(0, 1), (2, 4), (1, 3)]
    layer = GatedInteraction(pairs, n_fields=5, alpha_init=[0.5, -2.0, 3.0]).double()
    out = layer(embeddings).detach().numpy()
    e = embeddings.numpy()
    for column, (i, j) in enumerate(layer.interactions):
        alpha = {(0, 1): 0.5, (2, 4): -2.0, (1, 3): 3.0}[(i, j)]  # given order != column order
        products = np.array([sum(e[b, i, k] * e[b, j, k] for k in range(3)) for b in range(16)])
        normalised = (products - products.mean()) / np.sqrt(products.var() + 1e-5)  # eq. 12
        np.testing.assert_allclose(out[:, column], alpha * normalised, rtol=1e-6)
    assert not any("weight" in name or "bias" in name for name, _ in layer.named_parameters())


def test_gated_interaction_uses_running_statistics_in_eval_and_on_one_row():
    layer = GatedInteraction([(0, 1)], n_fields=2, alpha_init=1.0).double()
    embeddings = random_embeddings(batch=32, fields=2)
    layer(embeddings)  # one training batch updates the running statistics
    mean, var = layer.norm.running_mean.clone(), layer.norm.running_var.clone()
    products = (embeddings[:, 0] * embeddings[:, 1]).sum(-1)
    layer.eval()
    torch.testing.assert_close(layer(embeddings)[:, 0], (products - mean) / torch.sqrt(var + 1e-5))
    layer.train()
    assert torch.isfinite(layer(embeddings[:1])).all()  # no "more than 1 value" error


def test_gated_interaction_without_batch_norm_or_learned_alpha():
    layer = GatedInteraction(
        [(0, 1)], n_fields=2, batch_norm=False, learn_alpha=False, alpha_init=1.0
    ).double()
    embeddings = random_embeddings(fields=2)
    products = (embeddings[:, 0] * embeddings[:, 1]).sum(-1)
    torch.testing.assert_close(layer(embeddings)[:, 0], products)
    assert list(layer.parameters()) == []


@pytest.mark.parametrize("bad", [[(0,)], [(0, 0)], [(0, 1, 2, 3)], [(0, 9)], [(0, 1), (1, 0)]])
def test_invalid_interactions_are_rejected(bad):
    with pytest.raises(ValueError, match="nteraction"):
        FieldProducts(bad, n_fields=4)


def test_outer_product_cannot_be_restricted_to_pairs():
    with pytest.raises(ValueError, match="product='outer'"):
        ProductLayer(4, 3, "outer", interactions=[(0, 1)])


# ----------------------------------------------------------------------------------------
# GRDA (eq. 13)
# ----------------------------------------------------------------------------------------
def test_grda_follows_the_hand_computed_trajectory():
    lr, c, mu = 0.5, 0.1, 0.8
    alpha = torch.nn.Parameter(torch.tensor([0.6, 0.6, -0.2], dtype=torch.float64))
    optimizer = GRDA([alpha], lr=lr, c=c, mu=mu)
    gradients = [[-0.4, 0.3, 0.1], [-0.2, 0.5, -0.6], [0.1, -0.1, 0.0]]
    accumulator = np.array([0.6, 0.6, -0.2])
    for t, gradient in enumerate(gradients, start=1):
        alpha.grad = torch.tensor(gradient, dtype=torch.float64)
        optimizer.step()
        accumulator -= lr * np.array(gradient)
        threshold = c * lr**0.5 * (t * lr) ** mu  # g(t, gamma) of eq. 13
        expected = np.sign(accumulator) * np.maximum(np.abs(accumulator) - threshold, 0)
        np.testing.assert_allclose(alpha.detach().numpy(), expected, rtol=1e-12)
    # by hand: step 1 thresholds at 0.1 * 0.5^0.5 * 0.5^0.8 = 0.0406: [0.7594, 0.4094, -0.2094]
    # step 3: accumulators [0.85, 0.25, 0.05], threshold 0.1 * 0.5^0.5 * 1.5^0.8 = 0.0978
    np.testing.assert_allclose(alpha.detach().numpy(), [0.7522, 0.1522, 0.0], atol=1e-4)
    assert alpha[2].item() == 0.0  # an exact zero, not a small number


def test_grda_threshold_accumulates_with_a_changing_step_size():
    alpha = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    optimizer = GRDA([alpha], lr=1.0, c=0.1, mu=0.5)
    alpha.grad = torch.zeros(1, dtype=torch.float64)
    optimizer.step()  # threshold 0.1 * 1 * (1 - 0) = 0.1
    optimizer.param_groups[0]["lr"] = 4.0
    optimizer.step()  # + 0.1 * 4^1 * (sqrt(2) - 1)
    np.testing.assert_allclose(alpha.item(), 1.0 - 0.1 - 0.4 * (2**0.5 - 1))


def test_grda_random_walk_scale_is_the_step_size_times_the_gradient_norm():
    alpha = torch.nn.Parameter(torch.tensor([0.6, -0.2], dtype=torch.float64))
    optimizer = GRDA([alpha], lr=0.5, c=0.0, mu=0.8)
    with pytest.raises(ValueError, match="has taken a step"):
        optimizer.random_walk_scale(alpha)
    gradients = np.array([[0.3, -0.1], [-0.4, 0.0], [0.1, 0.2]])
    for gradient in gradients:
        alpha.grad = torch.tensor(gradient)
        optimizer.step()
    expected = 0.5 * np.sqrt((gradients**2).sum(axis=0))  # [0.2550, 0.1118]
    np.testing.assert_allclose(optimizer.random_walk_scale(alpha).numpy(), expected, rtol=1e-12)
    # c = 0: alpha is the accumulator alpha_0 - gamma sum grad, never thresholded
    np.testing.assert_allclose(alpha.detach().numpy(), [0.6, -0.2] - 0.5 * gradients.sum(0))


@pytest.mark.parametrize("kwargs", [{"lr": 0}, {"c": -1}, {"mu": 1.0}])
def test_grda_rejects_invalid_settings(kwargs):
    with pytest.raises(ValueError, match="GRDA needs"):
        GRDA([torch.nn.Parameter(torch.zeros(1))], **kwargs)


# ----------------------------------------------------------------------------------------
# The network
# ----------------------------------------------------------------------------------------
FIELDS = [Field(f"f{i}", "categorical", 5, source="categorical") for i in range(4)]


@pytest.mark.parametrize("base", ["fm", "deepfm", "ipnn"])
def test_closed_gates_are_not_computed(base):
    net = AutoFISNet(FIELDS, base=base, hidden_units=(8,), interactions=[("f0", "f2")])
    assert net.gates.products.index2.tolist() == [[0, 2]]
    assert net.search_gates.products.output_dim == 0
    ids = torch.randint(0, 5, (10, 4))
    assert net(ids, torch.zeros(10, 0)).shape == (10,)
    full = AutoFISNet(FIELDS, base=base, hidden_units=(8,), search=all_interactions(4))
    assert full.search_gates.products.output_dim == 6
    if base == "ipnn":  # the MLP input shrinks with the selection (Table 4's faster AutoIPNN)
        assert net.mlp.hidden[0].in_features == full.mlp.hidden[0].in_features - 5


# ----------------------------------------------------------------------------------------
# The estimator
# ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def planted():
    """The paper's synthetic set (section 4.5.2): m = 6, N = 60, C = {(0,1), (2,5), (3,4)}."""
    X, y = make_interaction_dataset(n_samples=20000, random_state=0)
    return train_test_split(X, y, test_size=0.25, random_state=0)


@pytest.fixture(scope="module")
def auto_fm(planted):
    X_train, _, y_train, _ = planted
    return AutoFISClassifier(base="fm", grda_c=0.05, search_epochs=3, max_epochs=5, **FAST).fit(
        X_train, y_train
    )


def test_autofm_finds_exactly_the_planted_pairs_and_beats_fm(planted, auto_fm):
    X_train, X_test, y_train, y_test = planted
    planted_pairs = {("x0", "x1"), ("x2", "x5"), ("x3", "x4")}
    ranking = auto_fm.interaction_importances_.sort_values(ascending=False)
    assert set(ranking.index[:3]) == planted_pairs  # Figure 5
    assert set(auto_fm.selected_interactions_) == planted_pairs
    assert (ranking.iloc[3:] == 0).all()  # GRDA closed the 12 others exactly
    fm = FMClassifier(max_epochs=20, **FAST).fit(X_train, y_train)  # 4x the re-train epochs
    auc_fm = roc_auc_score(y_test, fm.predict_proba(X_test)[:, 1])
    auc_auto = roc_auc_score(y_test, auto_fm.predict_proba(X_test)[:, 1])
    assert auc_auto > auc_fm + 0.05  # Figure 4 (measured: 0.963 vs 0.823)


@pytest.mark.parametrize("base", ["fm", "deepfm"])
def test_default_search_closes_the_noise_gates_and_keeps_the_planted_ones(base):
    # Nothing set but the base (and a small MLP, for speed): grda_c="auto",
    # search_epochs="auto". The old "auto" rule (threshold alpha_0 at the end of a one-epoch
    # search) kept all 15 pairs here.
    X, y = make_interaction_dataset(n_samples=20000, random_state=1)
    est = AutoFISClassifier(
        base=base, hidden_units=(32,), search_only=True, n_threads=1, random_state=0
    ).fit(X, y)
    assert set(est.selected_interactions_) == {("x0", "x1"), ("x2", "x5"), ("x3", "x4")}
    assert (est.interaction_alphas_.drop(est.selected_interactions_) == 0).all()
    assert est.search_history_[-1]["n_open"] == 3
    # search_epochs="auto": the fewest epochs that make 150 optimizer steps
    steps = est.optimizer_alpha_.state[est.module_.search_gates.alpha]["step"]
    epochs = len(est.search_history_)
    assert steps >= 150 and steps * (epochs - 1) / epochs < 150
    # GRDA's soft threshold S(a, g) at the end, g = alpha_0 + 2 random-walk spreads
    alpha = est.module_.search_gates.alpha.detach()
    accumulator = est.optimizer_alpha_.state[est.module_.search_gates.alpha]["accumulator"]
    threshold = 0.6 + 2 * est.optimizer_alpha_.random_walk_scale(est.module_.search_gates.alpha)
    expected = accumulator.sign() * (accumulator.abs() - threshold).clamp(min=0)
    torch.testing.assert_close(alpha, expected)


def test_fitted_attributes(auto_fm):
    importances = auto_fm.interaction_importances_
    assert isinstance(importances, pd.Series) and len(importances) == 15
    assert importances.index[0] == ("x0", "x1")
    np.testing.assert_array_equal(importances, auto_fm.interaction_alphas_.abs())
    assert [h["stage"] for h in auto_fm.search_history_] == [2, 2, 2]
    assert auto_fm.search_history_[-1]["n_open"] == 3
    assert auto_fm.search_time_ > 0
    # the re-trained network computes the 3 kept pairs only, alpha carried over as attention
    gates = auto_fm.module_.gates
    assert len(gates.interactions) == 3 and auto_fm.module_.search_gates.products.output_dim == 0
    assert isinstance(gates.alpha, torch.nn.Parameter)
    assert any(p is gates.alpha for p in auto_fm.optimizer_.param_groups[0]["params"])
    assert "optimizer_alpha" not in auto_fm._optimizers
    assert len(auto_fm.history_) == 5


def test_selection_transfers_to_other_models(planted, auto_fm):
    """Section 4.4: the selection of a simple model helps others (measured AUC, selected vs all
    pairs: FM 0.972 vs 0.787, DeepFM 0.800 vs 0.773, IPNN 0.778 vs 0.769)."""
    X_train, X_test, y_train, y_test = planted
    selected = auto_fm.selected_interactions_
    deep = {"hidden_units": (16,), "dropout": 0.0, "max_epochs": 3, **FAST}
    for make, margin in (
        (lambda i: FMClassifier(interactions=i, max_epochs=5, **FAST), 0.1),
        (lambda i: DeepFMClassifier(interactions=i, **deep), 0.0),
        (lambda i: PNNClassifier(interactions=i, **deep), 0.0),
    ):
        aucs = []
        for interactions in (selected, None):
            est = make(interactions).fit(X_train, y_train)
            aucs.append(roc_auc_score(y_test, est.predict_proba(X_test)[:, 1]))
        assert aucs[0] > aucs[1] + margin, type(est).__name__
    assert make(selected).fit(X_train, y_train).module_.product.inner.output_dim == 3


class CountingAutoFIS(AutoFISClassifier):
    """Counts the forward passes of the network built last."""

    def _build_network(self, **stage):
        network = super()._build_network(**stage)
        self.forward_calls = 0

        def count(module, args):
            self.forward_calls += 1

        network.register_forward_pre_hook(count)
        return network


def test_one_forward_and_backward_per_batch_with_two_optimizers(small_ctr_data):
    X, y = small_ctr_data
    est = CountingAutoFIS(
        base="fm", search_only=True, search_epochs=1, **{**FAST, "batch_size": 100}
    ).fit(X, y)
    assert est._optimizers == ["optimizer", "optimizer_alpha"]
    assert est.forward_calls == 10  # 1,000 rows in batches of 100: ten forwards, not twenty


def test_search_only_predicts_with_the_searched_model(small_ctr_data):
    X, y = small_ctr_data
    est = AutoFISClassifier(
        base="deepfm", hidden_units=(8,), search_only=True, search_epochs=2, **FAST
    ).fit(X, y)
    assert len(est.history_) == 0 and len(est.search_history_) == 2
    assert est.module_.search_gates.products.output_dim == 15  # all pairs of 6 fields
    assert est.predict_proba(X).shape == (1000, 2)


def embedding_tables(network):
    return [m.weight for m in network.modules() if isinstance(m, torch.nn.Embedding)]


def test_sparse_embeddings_search_with_sparse_adam_next_to_grda_and_still_select(planted):
    # The optimizers of the search stage: SparseAdam on the embedding tables (sparse
    # gradients), GRDA on the gates, the dense optimizer on the rest, one step of each per batch.
    X_train, _, y_train, _ = planted
    est = AutoFISClassifier(
        base="fm",
        grda_c=0.05,
        search_epochs=3,
        search_only=True,
        sparse_embeddings=True,
        **FAST,
    ).fit(X_train, y_train)
    assert est._optimizers == ["optimizer", "optimizer_sparse", "optimizer_alpha"]
    tables = embedding_tables(est.module_)
    assert len(tables) == 2  # the FM's factors and its order-1 weights
    assert isinstance(est.optimizer_sparse_, torch.optim.SparseAdam)
    assert {id(p) for p in est.optimizer_sparse_.param_groups[0]["params"]} == set(map(id, tables))
    assert all(table.grad is not None and table.grad.is_sparse for table in tables)
    n_steps = 3 * -(-len(y_train) // 256)
    assert all(est.optimizer_sparse_.state[table]["step"] == n_steps for table in tables)
    alpha = est.module_.search_gates.alpha
    assert est.optimizer_alpha_.param_groups[0]["params"] == [alpha]
    dense = {id(p) for group in est.optimizer_.param_groups for p in group["params"]}
    assert not dense & {id(alpha), *map(id, tables)}
    assert set(est.selected_interactions_) == {("x0", "x1"), ("x2", "x5"), ("x3", "x4")}


def test_sparse_embeddings_in_the_re_train_stage(small_ctr_data):
    X, y = small_ctr_data
    est = AutoFISClassifier(
        base="deepfm",
        hidden_units=(8,),
        search_epochs=1,
        max_epochs=1,
        sparse_embeddings=True,
        **FAST,
    ).fit(X, y)
    assert est._optimizers == ["optimizer", "optimizer_sparse"]  # alpha trains with the weights
    tables = embedding_tables(est.module_)
    assert {id(p) for p in est.optimizer_sparse_.param_groups[0]["params"]} == set(map(id, tables))
    assert all(table.grad.is_sparse for table in tables)
    assert all(est.optimizer_sparse_.state[table]["step"] == 4 for table in tables)  # 1,000 rows


def test_bilevel_search_and_order_three(small_ctr_data):
    X, y = small_ctr_data
    est = AutoFISClassifier(
        base="ipnn",
        order=3,
        bilevel=True,
        hidden_units=(8,),
        grda_c=0.02,
        search_epochs=1,
        max_epochs=1,
        **FAST,
    ).fit(X, y)
    assert [h["stage"] for h in est.search_history_] == [2, 3]
    importances = est.interaction_importances_
    assert len(importances) == 15 + 20  # 6 fields: 15 pairs then 20 triples
    assert all(len(t) == 3 for t in importances.index[15:])
    kept_pairs = [t for t in est.selected_interactions_ if len(t) == 2]
    assert set(kept_pairs) == {t for t in importances.index[:15] if importances[t] != 0}
    assert len(est.module_.gates.interactions) == len(est.selected_interactions_)


def test_table_7_ablations_in_one_grid_search(small_ctr_data):
    X, y = small_ctr_data
    search = GridSearchCV(
        AutoFISClassifier(base="fm", max_epochs=2, **FAST),
        {"batch_norm": [True, False], "keep_alpha": [True, False]},
        cv=2,
        scoring="roc_auc",
    ).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    plain = AutoFISClassifier(
        base="fm", batch_norm=False, keep_alpha=False, max_epochs=1, **FAST
    ).fit(X, y)
    assert plain.module_.gates.norm is None
    assert torch.equal(plain.module_.gates.alpha, torch.ones(len(plain.selected_interactions_)))


class RecordingAutoFIS(AutoFISClassifier):
    """Records how many rows each search stage trains on."""

    def _search(self, X, y, order):
        self.searched_rows = len(y)
        return super()._search(X, y, order)


def test_early_stopping_search_never_sees_the_validation_rows(small_ctr_data):
    X, y = small_ctr_data
    est = RecordingAutoFIS(base="fm", max_epochs=3, **{**FAST, "early_stopping": True}).fit(X, y)
    assert est.searched_rows == 900 and "valid_auc" in est.history_[-1]


def test_refit_on_other_columns_searches_again(small_ctr_data):
    X, y = small_ctr_data
    est = AutoFISClassifier(base="fm", max_epochs=1, **FAST).fit(X, y)
    est.fit(X[["C1", "C2", "C3"]], y)
    assert len(est.interaction_importances_) == 3


def test_candidate_interactions_and_their_validation(small_ctr_data):
    X, y = small_ctr_data
    est = AutoFISClassifier(
        base="fm", interactions=[("C1", "C2"), ("C3", "I1")], max_epochs=1, **FAST
    ).fit(X, y)
    assert set(est.interaction_importances_.index) == {("C1", "C2"), ("I1", "C3")}
    with pytest.raises(ValueError, match="holds triples but order=2"):
        AutoFISClassifier(interactions=[("C1", "C2", "C3")]).fit(X, y)
    with pytest.raises(ValueError, match="'nope'"):
        AutoFISClassifier(base="fm", interactions=[("C1", "nope")], **FAST).fit(X, y)


def test_the_stages_are_arguments_of_their_networks_not_state_of_the_estimator(small_ctr_data):
    # Each stage's interactions and gates are passed to the network it builds: nothing of the
    # search stays on the estimator for a pickle to carry or a later network to be built from.
    X, y = small_ctr_data
    est = AutoFISClassifier(base="fm", order=3, max_epochs=1, **FAST).fit(X, y)
    assert fit_time_state(est) == set()
    assert fit_time_state(pickle.loads(pickle.dumps(est))) == set()
    assert len(est.module_.gates.interactions) == len(est.selected_interactions_)
    assert est.module_.search_gates.products.output_dim == 0  # the re-train stage's network


def test_a_refit_interrupted_mid_search_leaves_the_estimator_as_it_was(small_ctr_data, monkeypatch):
    X, y = small_ctr_data
    est = AutoFISClassifier(base="fm", max_epochs=1, **FAST).fit(X, y)
    attributes, network, proba = set(vars(est)), est.module_, est.predict_proba(X)

    def interrupted(self, X, y, order):
        raise KeyboardInterrupt

    monkeypatch.setattr(AutoFISClassifier, "_search", interrupted)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X[["C1", "C2", "C3"]], y)
    assert set(vars(est)) == attributes and est.module_ is network
    np.testing.assert_array_equal(est.predict_proba(X), proba)


def test_reproducible_and_picklable(small_ctr_data):
    X, y = small_ctr_data
    a = AutoFISClassifier(base="fm", max_epochs=2, **FAST).fit(X, y)
    b = AutoFISClassifier(base="fm", max_epochs=2, **FAST).fit(X, y)
    pd.testing.assert_series_equal(a.interaction_alphas_, b.interaction_alphas_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.predict_proba(X), a.predict_proba(X))
    assert restored.selected_interactions_ == a.selected_interactions_


def test_dataset_validation_and_structure():
    X, y = make_interaction_dataset(
        n_samples=500, n_fields=4, interactions=[(0, 3)], random_state=1
    )
    assert X.shape == (500, 4) and set(np.unique(y)) == {0, 1}
    assert X["x2"].str.startswith("x2=").all()
    for bad in ([(0, 0)], [(0, 4)], [(0, 1, 2)]):
        with pytest.raises(ValueError, match="pairs of distinct fields"):
            make_interaction_dataset(n_fields=4, interactions=bad)
    assert list(itertools.islice(all_interactions(4, 3), 2)) == [(0, 1, 2), (0, 1, 3)]


def test_plot_interactions_draws_the_alpha_matrix(auto_fm):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from sk_ctr.plotting import interaction_matrix, plot_interactions

    matrix = interaction_matrix(auto_fm)
    assert matrix.shape == (6, 6) and np.isnan(np.diag(matrix)).all()
    assert matrix.loc["x1", "x0"] == matrix.loc["x0", "x1"] > 0
    assert matrix.loc["x0", "x2"] == 0  # a closed gate
    ax = plot_interactions(auto_fm, signed=True)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert "3 of 15 kept" in ax.get_title()
    assert len(ax.texts) == 30  # every off-diagonal cell annotated


@pytest.mark.parametrize(
    "make",
    [
        lambda i: FFMClassifier(interactions=i, max_epochs=3, **FAST),
        lambda i: FwFMClassifier(interactions=i, max_epochs=3, **FAST),
        lambda i: AFMClassifier(interactions=i, max_epochs=3, **FAST),
        lambda i: WideDeepClassifier(
            wide="fm", interactions=i, hidden_units=(16,), dropout=0.0, max_epochs=3, **FAST
        ),
    ],
    ids=["ffm", "fwfm", "afm", "widedeep-fm"],
)
def test_every_order_two_model_takes_a_selection(make, planted):
    X_train, X_test, y_train, y_test = planted
    selected = [("x0", "x1"), ("x2", "x5"), ("x3", "x4")]
    est = make(selected).fit(X_train, y_train)
    restricted = roc_auc_score(y_test, est.predict_proba(X_test)[:, 1])
    full = roc_auc_score(y_test, make(None).fit(X_train, y_train).predict_proba(X_test)[:, 1])
    assert restricted > full  # the 12 empty pairs only add noise
    if isinstance(est, AFMClassifier):
        assert est.interaction_names_.tolist() == ["x0 x x1", "x2 x x5", "x3 x x4"]
        assert est.attention_weights(X_test[:5]).shape == (5, 3)


def test_pair_only_layers_reject_triples(planted):
    X_train, _, y_train, _ = planted
    with pytest.raises(ValueError, match="field pairs only"):
        FwFMClassifier(interactions=[("x0", "x1", "x2")], max_epochs=1).fit(X_train, y_train)
    with pytest.raises(ValueError, match="use wide='fm'"):
        WideDeepClassifier(interactions=[("x0", "x1")], max_epochs=1).fit(X_train, y_train)
