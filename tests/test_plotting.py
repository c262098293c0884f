"""The plots of sk_ctr.plotting on fitted estimators (Agg backend): each returns a matplotlib
Axes that shows the estimator's own numbers."""

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib", reason="matplotlib is the 'plot' extra")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from sk_ctr import (  # noqa: E402
    AutoFISClassifier,
    DeepFMClassifier,
    DINClassifier,
    GBDTLRClassifier,
    LRClassifier,
)
from sk_ctr.datasets import make_behavior_dataset  # noqa: E402
from sk_ctr.plotting import (  # noqa: E402
    plot_attention,
    plot_benchmark,
    plot_calibration,
    plot_learning_curves,
)

FAST = {"n_threads": 1, "random_state": 0, "batch_size": 128}
BEHAVIOR = {"hist_item_id": "item_id", "hist_cate_id": "cate_id"}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def deepfm(small_ctr_data):
    X, y = small_ctr_data
    return DeepFMClassifier(
        hidden_units=(16,), max_epochs=4, early_stopping=True, n_iter_no_change=4, **FAST
    ).fit(X, y)


@pytest.fixture(scope="module")
def din():
    X, y = make_behavior_dataset(n_samples=600, random_state=0)
    est = DINClassifier(
        behavior=BEHAVIOR, max_sequence_length=8, hidden_units=(16,), max_epochs=1, **FAST
    ).fit(X, y)
    return est, X


# ------------------------------------------------------------------ interactions
def test_interactions_of_a_fitted_model_that_is_not_autofis_say_so(deepfm):
    from sk_ctr.plotting import interaction_matrix, plot_interactions

    for function in (plot_interactions, interaction_matrix):
        with pytest.raises(TypeError, match="only AutoFIS models .* have interaction importances"):
            function(deepfm)
    with pytest.raises(NotFittedError):
        plot_interactions(AutoFISClassifier())


# ------------------------------------------------------------------ learning curves
def test_learning_curves_show_the_history_per_epoch(deepfm):
    ax = plot_learning_curves(deepfm)
    assert isinstance(ax, matplotlib.axes.Axes)
    history = deepfm.history_
    train, valid = ax.get_lines()[:2]
    np.testing.assert_allclose(train.get_ydata(), history[:, "train_loss"])
    np.testing.assert_allclose(valid.get_ydata(), history[:, "valid_loss"])
    np.testing.assert_array_equal(train.get_xdata(), history[:, "epoch"])
    auc_ax = next(other for other in ax.figure.axes if other is not ax)  # the twin axis
    np.testing.assert_allclose(auc_ax.get_lines()[0].get_ydata(), history[:, "valid_auc"])
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    best = dict(deepfm.callbacks_)["early_stopping"].best_epoch_
    assert labels[:3] == ["train log-loss", "validation log-loss", "validation AUC"]
    assert labels[3] == f"restored epoch ({best})"


def test_learning_curves_without_validation_draw_the_train_loss_only(small_ctr_data):
    X, y = small_ctr_data
    est = LRClassifier(max_epochs=2, early_stopping=False, **FAST).fit(X, y)
    _, ax = plt.subplots()
    assert plot_learning_curves(est, ax=ax) is ax
    assert len(ax.get_lines()) == 1 and len(ax.figure.axes) == 1


def test_learning_curves_errors_name_the_problem(small_ctr_data):
    X, y = small_ctr_data
    est = AutoFISClassifier(base="fm", search_only=True, max_epochs=1, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="holds no trained epoch"):
        plot_learning_curves(est)
    with pytest.raises(NotFittedError):
        plot_learning_curves(LRClassifier())
    gbdt = GBDTLRClassifier(n_estimators=3, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match="keeps no per-epoch training history"):
        plot_learning_curves(gbdt)


# ------------------------------------------------------------------ calibration
def test_calibration_curve_of_an_estimator_matches_sklearn(deepfm, small_ctr_data):
    from sklearn.calibration import calibration_curve

    X, y = small_ctr_data
    ax = plot_calibration(deepfm, X, y, n_bins=5)
    assert isinstance(ax, matplotlib.axes.Axes)
    proba = deepfm.predict_proba(X)[:, 1]
    observed, predicted = calibration_curve(y, proba, n_bins=5, strategy="quantile")
    curve = ax.get_lines()[1]
    np.testing.assert_allclose(curve.get_xdata(), predicted)
    np.testing.assert_allclose(curve.get_ydata(), observed)
    ratio = proba.mean() / y.mean()
    assert f"mean p / observed rate = {ratio:.3f}" in curve.get_label()


def test_calibration_from_labels_and_probabilities(deepfm, small_ctr_data):
    X, y = small_ctr_data
    proba = deepfm.predict_proba(X)
    from_arrays = plot_calibration(y, proba, n_bins=5, strategy="uniform").get_lines()[1]
    from_column = plot_calibration(y, proba[:, 1], n_bins=5, strategy="uniform").get_lines()[1]
    np.testing.assert_allclose(from_arrays.get_ydata(), from_column.get_ydata())
    with pytest.raises(ValueError, match="needs the true labels"):
        plot_calibration(deepfm, X)


def test_calibration_takes_string_labels_with_the_positive_class(small_ctr_data):
    X, y = small_ctr_data
    labels = np.where(y == 1, "click", "view")  # classes_[1] is "view": the larger string
    est = LRClassifier(max_epochs=1, **FAST).fit(X, labels)
    curve = plot_calibration(est, X, labels, n_bins=4).get_lines()[1]
    share = (labels == "view").mean()
    assert abs(np.average(curve.get_ydata()) - share) < 0.2


# ------------------------------------------------------------------ attention
def test_attention_bars_are_the_weights_of_the_kept_history(din):
    est, X = din
    row = int(np.flatnonzero(X["hist_item_id"].map(len).to_numpy() > 10)[0])
    ax = plot_attention(est, X, row=row)
    assert isinstance(ax, matplotlib.axes.Axes)
    weights = est.attention_weights(X.iloc[[row]])[0]
    heights = [patch.get_width() for patch in ax.patches]
    assert len(heights) == 8  # the 8 most recent of more than 10 behaviours
    np.testing.assert_allclose(heights, weights[:8])
    items, categories = X["hist_item_id"].iloc[row][-8:], X["hist_cate_id"].iloc[row][-8:]
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels == [f"{i} / {c}" for i, c in zip(items, categories, strict=True)]
    candidate = (X["item_id"].iloc[row], X["cate_id"].iloc[row])
    highlighted = [
        patch.get_facecolor() == matplotlib.colors.to_rgba("tab:orange") for patch in ax.patches
    ]
    expected = [
        i == candidate[0] or c == candidate[1] for i, c in zip(items, categories, strict=True)
    ]
    assert highlighted == expected


def test_attention_of_a_series_row_equals_the_frame_row(din):
    est, X = din
    row = int(np.flatnonzero(X["hist_item_id"].map(len).to_numpy() > 2)[0])
    from_series = [p.get_width() for p in plot_attention(est, X.iloc[row]).patches]
    from_frame = [p.get_width() for p in plot_attention(est, X.iloc[[row]]).patches]
    assert from_series == from_frame


def test_attention_errors_are_clear(din, small_ctr_data):
    est, X = din
    empty = int(np.flatnonzero(X["hist_item_id"].map(len).to_numpy() == 0)[0])
    with pytest.raises(ValueError, match="history is empty"):
        plot_attention(est, X, row=empty)
    X_plain, y_plain = small_ctr_data
    lr = LRClassifier(max_epochs=1, **FAST).fit(X_plain, y_plain)
    with pytest.raises(TypeError, match="needs a DINClassifier"):
        plot_attention(lr, X_plain)


# ------------------------------------------------------------------ benchmark
def benchmark_runs():
    """run_benchmark's output for two repeats of three models, one of which failed."""
    rows = []
    for repeat, (lr, fm) in enumerate([(0.70, 0.74), (0.72, 0.75)]):
        for model, auc in (("lr", lr), ("fm", fm), ("afm", np.nan)):
            rows.append(
                {
                    "model": model,
                    "repeat": repeat,
                    "random_state": repeat,
                    "auc": auc,
                    "logloss": 0.5 - auc / 10,
                    "train_seconds": 1.0 + repeat,
                    "epochs": 3,
                    "best_epoch": 2,
                    "kept_pct": np.nan,
                    "error": "ValueError: boom" if model == "afm" else None,
                }
            )
    return pd.DataFrame(rows)


def test_benchmark_bars_are_the_means_with_std_error_bars():
    from sk_ctr.benchmark import summarize

    table = summarize(benchmark_runs())
    ax = plot_benchmark(table)
    assert isinstance(ax, matplotlib.axes.Axes)
    heights = [patch.get_height() for patch in ax.patches]
    np.testing.assert_allclose(heights, [0.71, 0.745, 0.0])  # a failed model has no bar
    errorbar = next(
        container
        for container in ax.containers
        if isinstance(container, matplotlib.container.ErrorbarContainer)
    )
    segments = errorbar.lines[2][0].get_segments()  # one vertical line per bar: mean ± std
    np.testing.assert_allclose(
        [segment[1, 1] - segment[0, 1] for segment in segments][:2],
        2 * table["auc_std"].to_numpy()[:2],
    )
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["lr", "fm", "afm"]
    assert [text.get_text() for text in ax.texts] == ["0.71", "0.745", "failed"]


def test_benchmark_takes_the_raw_runs_and_other_metrics():
    ax = plot_benchmark(benchmark_runs(), metric="train_seconds")
    np.testing.assert_allclose([p.get_height() for p in ax.patches][:2], [1.5, 1.5])
    assert ax.get_ylabel() == "train seconds"
    with pytest.raises(ValueError, match="metric='f1' is not in the table"):
        plot_benchmark(benchmark_runs(), metric="f1")
