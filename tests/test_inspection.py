"""Permutation importances: on raw frames (sklearn's function) and on encoded fields (one
forward pass per field and repeat), against a brute-force loop over raw columns."""

import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import permutation_importance as sklearn_permutation_importance
from sklearn.metrics import roc_auc_score
from sklearn.utils.random import sample_without_replacement

from sk_ctr import CTRTransformer, EmbeddingMLPClassifier
from sk_ctr.datasets import make_ctr_classification
from sk_ctr.inspection import field_permutation_importance, permutation_importance


@pytest.fixture(scope="module")
def fitted():
    """A model on a categorical column, a numeric value and a list column: the label decides
    whether the list holds "clicked", so the list column matters most."""
    X, y = make_ctr_classification(
        n_samples=600, n_fields=2, cardinality=6, n_numeric=1, random_state=0
    )
    rng = np.random.default_rng(0)
    X["tags"] = [
        ["clicked", "t1"] if label and rng.random() < 0.95 else ["t1", "t2"][: rng.integers(1, 3)]
        for label in y
    ]
    est = EmbeddingMLPClassifier(
        hidden_units=(8,), embed_dim=4, max_epochs=6, batch_size=64, lr=1e-2, random_state=0,
        n_threads=1, preprocessor=CTRTransformer(numeric="value"),
    ).fit(X[:400], y[:400])  # fmt: skip
    return est, X[400:].reset_index(drop=True), y[400:]


def brute_force(estimator, X, y, n_repeats, random_state):
    """Shuffle each raw column n_repeats times (sklearn's seeding: one seed, a fresh
    RandomState from it per column) and score; baseline minus shuffled AUC."""
    seed = np.random.RandomState(random_state).randint(np.iinfo(np.int32).max + 1)
    baseline = roc_auc_score(y, estimator.predict_proba(X)[:, 1])
    rows = {}
    for column in X.columns:
        generator, order = np.random.RandomState(seed), np.arange(len(X))
        rows[column], shuffled = [], X.copy()
        for _ in range(n_repeats):  # each repeat reshuffles the previous one, as sklearn does
            generator.shuffle(order)
            shuffled[column] = list(shuffled[column].to_numpy()[order])  # cells move whole
            rows[column].append(
                baseline - roc_auc_score(y, estimator.predict_proba(shuffled)[:, 1])
            )
    return pd.DataFrame(rows).T


def test_field_importances_match_a_brute_force_loop_over_raw_columns(fitted):
    est, X, y = fitted
    encoded = est.preprocessor_.transform(X)
    assert [f.kind for f in encoded.schema] == ["categorical", "categorical", "numeric", "sequence"]
    result = field_permutation_importance(est, encoded, y, n_repeats=3, random_state=0)
    expected = brute_force(est, X, y, n_repeats=3, random_state=0)
    assert list(result.importances.index) == ["C1", "C2", "I1", "tags"]  # schema order
    np.testing.assert_allclose(result.importances, expected.loc[result.importances.index])
    np.testing.assert_allclose(
        result.importances_mean, expected.loc[result.importances.index].mean(axis=1)
    )
    np.testing.assert_allclose(
        result.importances_std, expected.loc[result.importances.index].std(axis=1, ddof=0)
    )
    assert result.importances_mean.idxmax() == "tags"  # the label is written in it
    assert result.importances_mean["tags"] > 0.1


def test_raw_importances_are_sklearns_by_column_name(fitted):
    est, X, y = fitted
    result = permutation_importance(est, X, y, n_repeats=3, random_state=4)
    reference = sklearn_permutation_importance(
        est, X, y, scoring="roc_auc", n_repeats=3, random_state=4
    )
    assert list(result.importances_mean.index) == list(X.columns)
    np.testing.assert_array_equal(result.importances, reference.importances)
    np.testing.assert_array_equal(result.importances_std, reference.importances_std)
    # whole cells of the list column move, exactly as its ids and lengths move together
    fields = field_permutation_importance(
        est, est.preprocessor_.transform(X), y, n_repeats=3, random_state=4
    )
    np.testing.assert_allclose(fields.importances_mean[X.columns], result.importances_mean)


def test_max_rows_scores_a_seeded_subsample(fitted):
    est, X, y = fitted
    encoded = est.preprocessor_.transform(X)
    first = field_permutation_importance(est, encoded, y, max_rows=120, random_state=1)
    again = field_permutation_importance(est, encoded, y, max_rows=120, random_state=1)
    everything = field_permutation_importance(est, encoded, y, max_rows=None, random_state=1)
    pd.testing.assert_frame_equal(first.importances, again.importances)
    assert not np.allclose(first.importances, everything.importances)
    # The rows and shuffles are sklearn's max_samples ones; sklearn scores its baseline on all
    # rows, this function on the subsample: the two differ by that constant only.
    raw = permutation_importance(est, X, y, max_rows=120, random_state=1)
    seed = np.random.RandomState(1).randint(np.iinfo(np.int32).max + 1)
    rows = sample_without_replacement(len(y), 120, random_state=np.random.RandomState(seed))
    proba = est.predict_proba(X)[:, 1]
    shift = roc_auc_score(y[rows], proba[rows]) - roc_auc_score(y, proba)
    np.testing.assert_allclose(first.importances.loc[X.columns] - raw.importances, shift)


def test_bad_input_is_named(fitted):
    est, X, y = fitted
    with pytest.raises(TypeError, match="needs X_encoded as a FieldData"):
        field_permutation_importance(est, X, y)
    with pytest.raises(TypeError, match="needs X as a pandas DataFrame"):
        permutation_importance(est, X.to_numpy(), y)
    encoded = est.preprocessor_.transform(X)
    with pytest.raises(ValueError, match="n_repeats must be a positive integer"):
        field_permutation_importance(est, encoded, y, n_repeats=0)
    with pytest.raises(ValueError, match="max_rows must be"):
        field_permutation_importance(est, encoded, y, max_rows=0)
    with pytest.raises(ValueError, match="y has 3 rows"):
        field_permutation_importance(est, encoded, y[:3])


def test_plot_feature_importances_draws_bars_largest_first(fitted):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from sk_ctr.plotting import plot_feature_importances

    est, X, y = fitted
    result = permutation_importance(est, X, y, n_repeats=2, random_state=0)
    ax = plot_feature_importances(result, max_features=3)
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels == list(result.importances_mean.nlargest(3).index)
    widths = [bar.get_width() for bar in ax.patches]
    np.testing.assert_allclose(widths, result.importances_mean.nlargest(3))
    series_ax = plot_feature_importances(result.importances_mean)
    assert len(series_ax.patches) == 4
    with pytest.raises(TypeError, match="needs a Bunch"):
        plot_feature_importances([0.1, 0.2])
    matplotlib.pyplot.close("all")
