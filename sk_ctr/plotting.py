"""Pictures of fitted models (matplotlib, the ``plot`` extra: ``pip install sk-ctr[plot]``)."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # an optional dependency: say how to get it
        raise ImportError(
            "sk_ctr.plotting needs matplotlib: pip install 'sk-ctr[plot]' (or matplotlib)."
        ) from error
    return plt


def interaction_matrix(estimator, signed=False):
    """The searched alpha of a fitted AutoFIS model as a symmetric field x field matrix.

    Parameters
    ----------
    estimator : AutoFISClassifier
        Fitted.
    signed : bool, default=False
        alpha itself instead of |alpha|.

    Returns
    -------
    pandas.DataFrame
        Indexed and columned by field name, in schema order; the diagonal and pairs that were not
        searched are NaN. Triples (``order=3``) are left out.
    """
    import pandas as pd

    from sk_ctr.estimators.autofis import AutoFISClassifier

    if not isinstance(estimator, AutoFISClassifier):  # checked first: a fitted DeepFM is not
        raise TypeError(  # "not fitted yet", it has no interaction importances at all
            "only AutoFIS models (AutoFISClassifier) have interaction importances; got "
            f"{type(estimator).__name__}."
        )
    check_is_fitted(estimator, "interaction_alphas_")
    alphas = estimator.interaction_alphas_
    pairs = [pair for pair in alphas.index if len(pair) == 2]
    names = list(estimator.module_.field_names)
    matrix = pd.DataFrame(np.nan, index=names, columns=names)
    for first, second in pairs:
        value = alphas[(first, second)] if signed else abs(alphas[(first, second)])
        matrix.loc[first, second] = matrix.loc[second, first] = value
    return matrix


def plot_interactions(estimator, ax=None, signed=False, cmap=None, annotate=None):
    """Draw the AutoFIS alpha of every field pair as a heat map (AutoFIS section 4.5, Figure 5).

    Bright cells are the interactions the search kept; cells of closed gates are exactly 0.

    Parameters
    ----------
    estimator : AutoFISClassifier
        Fitted.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure's by default.
    signed : bool, default=False
        Show alpha (diverging colours around 0) instead of |alpha|.
    cmap : str, default=None
        Colour map; ``"viridis"`` for |alpha|, ``"RdBu_r"`` for signed alpha.
    annotate : bool, default=None
        Write the values in the cells; by default when there are at most 12 fields.

    Returns
    -------
    matplotlib.axes.Axes
    """
    plt = _pyplot()
    matrix = interaction_matrix(estimator, signed=signed)
    if ax is None:
        size = 2 + 0.35 * len(matrix)
        _, ax = plt.subplots(figsize=(size + 1, size))
    values = matrix.to_numpy()
    finite = values[np.isfinite(values)]
    limit = float(np.abs(finite).max()) if finite.size else 1.0
    limit = limit or 1.0
    if signed:
        image = ax.imshow(values, cmap=cmap or "RdBu_r", vmin=-limit, vmax=limit)
    else:
        image = ax.imshow(values, cmap=cmap or "viridis", vmin=0, vmax=limit)
    ax.figure.colorbar(image, ax=ax, label="alpha" if signed else "|alpha|")
    ax.set_xticks(range(len(matrix)), matrix.columns, rotation=90)
    ax.set_yticks(range(len(matrix)), matrix.index)
    kept = len(estimator.selected_interactions_)
    ax.set_title(
        f"AutoFIS interaction importance ({kept} of {len(estimator.interaction_alphas_)} kept)"
    )
    if annotate is None:
        annotate = len(matrix) <= 12
    if annotate:
        for row, column in zip(*np.nonzero(np.isfinite(values)), strict=True):
            ax.text(
                column,
                row,
                f"{values[row, column]:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if abs(values[row, column]) < limit / 2 else "black",
            )
    return ax


def plot_learning_curves(estimator, ax=None):
    """Draw the training history of a fitted estimator: train and validation log-loss per
    epoch, and the validation ROC AUC on a second y axis.

    The validation curves exist when the estimator held out a validation split
    (``early_stopping=True``); the epoch whose weights early stopping restored is marked with a
    dotted vertical line.

    Parameters
    ----------
    estimator : CTRClassifier
        Fitted; its ``history_`` has ``train_loss`` and, with a validation split,
        ``valid_loss`` and ``valid_auc`` per epoch.
    ax : matplotlib.axes.Axes, default=None
        Axes for the losses; a new figure's by default. The AUC goes on ``ax.twinx()``.

    Returns
    -------
    matplotlib.axes.Axes
        The axes of the losses.

    Raises
    ------
    ValueError
        If the history holds no epoch (e.g. AutoFIS with ``search_only=True``).
    """
    plt = _pyplot()
    check_is_fitted(estimator)
    history = getattr(estimator, "history_", None)
    if history is None:
        raise TypeError(
            f"{type(estimator).__name__} keeps no per-epoch training history (history_) to plot."
        )
    epochs = [row for row in history if "train_loss" in row]
    if not epochs:
        raise ValueError(
            f"The history of this {type(estimator).__name__} holds no trained epoch "
            "(nothing was trained after fit's search or pre-training stage)."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    numbers = [row["epoch"] for row in epochs]

    def column(key):
        values = [row.get(key) for row in epochs]
        return (
            None if all(v is None for v in values) else [np.nan if v is None else v for v in values]
        )

    ax.plot(numbers, column("train_loss"), marker="o", label="train log-loss")
    valid_loss = column("valid_loss")
    if valid_loss is not None:
        ax.plot(numbers, valid_loss, marker="o", label="validation log-loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("log-loss")
    handles, labels = ax.get_legend_handles_labels()
    valid_auc = column("valid_auc")
    if valid_auc is not None:
        auc_ax = ax.twinx()
        auc_ax.plot(numbers, valid_auc, marker="s", color="tab:green", label="validation AUC")
        auc_ax.set_ylabel("validation ROC AUC")
        more_handles, more_labels = auc_ax.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    stopper = dict(getattr(estimator, "callbacks_", [])).get("early_stopping")
    best = getattr(stopper, "best_epoch_", None)
    if best:
        handles.append(ax.axvline(best, color="grey", linestyle=":"))
        labels.append(f"restored epoch ({best})")
    ax.legend(handles, labels, loc="best", fontsize=8)
    ax.set_xticks(numbers if len(numbers) <= 20 else ax.get_xticks())
    ax.set_title(f"{type(estimator).__name__}: learning curves")
    return ax


def plot_calibration(
    estimator_or_y_true, X_or_proba, y=None, n_bins=10, ax=None, strategy="quantile"
):
    """Draw a reliability curve: the observed click rate against the mean predicted
    probability, per bin of predictions (:func:`sklearn.calibration.calibration_curve`).

    Two call forms: ``plot_calibration(estimator, X, y)`` predicts ``X`` with a fitted
    estimator (``classes_[1]`` is the positive class), ``plot_calibration(y_true, proba)``
    takes labels and predicted probabilities of the positive class (or the (n, 2) output of
    ``predict_proba``). A calibrated model follows the diagonal; the legend also gives the
    ratio of the mean prediction to the observed click rate (1 when calibrated on average,
    the check that matters after negative down-sampling).

    Parameters
    ----------
    estimator_or_y_true : classifier with ``predict_proba``, or array-like of shape (n_samples,)
    X_or_proba : DataFrame / FieldData to predict, or array-like of shape (n_samples,) or \
(n_samples, 2)
    y : array-like of shape (n_samples,), default=None
        The true labels; required with an estimator, unused otherwise.
    n_bins : int, default=10
    ax : matplotlib.axes.Axes, default=None
    strategy : {"quantile", "uniform"}, default="quantile"
        Bins with the same number of predictions, or of the same width. Click probabilities
        gather near 0, so equal-width bins would leave almost every prediction in the first
        bin: quantile bins are the default here (scikit-learn's is ``"uniform"``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from sklearn.calibration import calibration_curve

    plt = _pyplot()
    if hasattr(estimator_or_y_true, "predict_proba"):
        if y is None:
            raise ValueError("plot_calibration(estimator, X, y) needs the true labels y.")
        estimator = estimator_or_y_true
        proba = estimator.predict_proba(X_or_proba)[:, 1]
        y_true, pos_label = np.asarray(y), estimator.classes_[1]
        name = type(estimator).__name__
    else:
        y_true, proba, pos_label, name = np.asarray(estimator_or_y_true), X_or_proba, None, None
        proba = np.asarray(proba, dtype=np.float64)
        if proba.ndim == 2 and proba.shape[1] == 2:
            proba = proba[:, 1]
    proba = np.asarray(proba, dtype=np.float64).ravel()
    observed, predicted = calibration_curve(
        y_true, proba, n_bins=n_bins, strategy=strategy, pos_label=pos_label
    )
    positives = y_true == (pos_label if pos_label is not None else y_true.max())
    ratio = proba.mean() / positives.mean() if positives.any() else np.nan
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    low = min(predicted.min(), observed.min(), 0.0)
    high = max(predicted.max(), observed.max())
    ax.plot([low, high], [low, high], linestyle="--", color="grey", label="perfectly calibrated")
    ax.plot(
        predicted,
        observed,
        marker="o",
        label=f"{name or 'model'} (mean p / observed rate = {ratio:.3f})",
    )
    ax.set_xlabel("mean predicted probability (per bin)")
    ax.set_ylabel("observed click rate (per bin)")
    ax.set_title(f"Reliability curve ({strategy} bins)")
    ax.legend(loc="upper left", fontsize=8)
    return ax


def plot_attention(estimator, X, behavior=None, ax=None, row=0):
    """Draw the DIN attention weights w_i (eq. 3) that one impression's candidate gives to
    each item of the user's history, the items labelled with their raw values.

    Bars of behaviours equal to the candidate (in any history of the attention group) are
    highlighted: these are the ones DIN's local activation should weigh most (section 4.2).

    Parameters
    ----------
    estimator : DINClassifier
        Fitted on a raw DataFrame.
    X : pandas.DataFrame or pandas.Series
        The impression: a one-row frame, a row as a Series, or a frame and ``row``.
    behavior : str, default=None
        The history column; ``None``: the first one. With ``behavior_grouping="concat"`` the
        histories of one group share their weights, and each bar is labelled by all of them.
    ax : matplotlib.axes.Axes, default=None
    row : int, default=0
        Position of the impression in ``X`` when it holds several rows.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import pandas as pd

    from sk_ctr.preprocessing.sequences import keep_most_recent, split_cells

    plt = _pyplot()
    check_is_fitted(estimator, "module_")
    if not hasattr(estimator, "attention_weights"):
        raise TypeError(
            f"plot_attention needs a DINClassifier; {type(estimator).__name__} has no "
            "attention over behaviours."
        )
    if not hasattr(estimator, "preprocessor_"):
        raise ValueError("plot_attention needs an estimator fitted on a raw DataFrame.")
    frame = X.to_frame().T if isinstance(X, pd.Series) else X
    frame = frame.iloc[[row]]
    weights = estimator.attention_weights(frame, behavior=behavior)[0]
    groups = estimator.module_.behavior_groups
    histories = [name for group in groups for name in group]
    behavior = histories[0] if behavior is None else behavior
    group = next(names for names in groups if behavior in names)
    preprocessor = estimator.preprocessor_
    candidates = {
        field.name: field.shares for field in preprocessor.fields_ if field.kind == "sequence"
    }
    items, matches = [], None
    for name in group:
        cells = split_cells(name, frame[name], preprocessor.sequence_delimiter)
        kept, _ = keep_most_recent(*cells, preprocessor.sequence_length_)
        items.append([str(item) for item in kept])
        candidate = frame[candidates[name]].iloc[0]
        same = np.array([item == candidate for item in kept], dtype=bool)
        matches = same if matches is None else matches | same
    n_items = max((len(i) for i in items), default=0)
    if n_items == 0:
        raise ValueError("This impression's history is empty: there is no attention to draw.")
    labels = [" / ".join(i[t] if t < len(i) else "" for i in items) for t in range(n_items)]
    weights = weights[:n_items]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 1.5 + 0.25 * n_items))
    colors = ["tab:orange" if match else "tab:blue" for match in matches[:n_items]]
    positions = np.arange(n_items)
    ax.barh(positions, weights, color=colors)
    ax.set_yticks(positions, labels, fontsize=7)
    ax.invert_yaxis()  # oldest behaviour on top, the most recent at the bottom
    ax.axvline(0, color="black", linewidth=0.5)
    ax.set_xlabel("attention weight w_i (DIN eq. 3)")
    ax.set_ylabel(f"{' / '.join(group)} (oldest first)")
    query = ", ".join(f"{candidates[name]}={frame[candidates[name]].iloc[0]}" for name in group)
    ax.set_title(
        f"DIN attention for the candidate {query}\n(orange: same as the candidate)", fontsize=9
    )
    ax.figure.tight_layout()
    return ax


def plot_benchmark(table, metric="auc", ax=None):
    """Bar chart of a model comparison: the mean of ``metric`` per model with its standard
    deviation over the repeats as error bars.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`sk_ctr.benchmark.summarize` (one row per model), or the raw
        output of :func:`sk_ctr.benchmark.run_benchmark`, which is summarized first.
    metric : {"auc", "logloss", "train_seconds"}, default="auc"
    ax : matplotlib.axes.Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes
    """
    from sk_ctr.benchmark import summarize

    plt = _pyplot()
    if "repeat" in table.columns and "model" in table.columns:
        table = summarize(table)
    mean_column = f"{metric}_mean" if f"{metric}_mean" in table.columns else metric
    if mean_column not in table.columns:
        raise ValueError(
            f"metric={metric!r} is not in the table; choose among 'auc', 'logloss', "
            "'train_seconds'."
        )
    means = table[mean_column].astype(float)
    stds = table.get(f"{metric}_std")
    stds = np.zeros(len(means)) if stds is None else stds.astype(float).fillna(0).to_numpy()
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 1.5 + 0.6 * len(means)), 4))
    positions = np.arange(len(means))
    ax.bar(positions, means.fillna(0), yerr=stds, capsize=3, color="tab:blue")
    ax.set_xticks(positions, [str(name) for name in table.index], rotation=45, ha="right")
    finite = np.isfinite(means.to_numpy())
    bottom = 0.0
    if metric != "train_seconds" and finite.any():
        # AUCs and log-losses of CTR models differ in the third decimal: zoom on their range.
        low = float((means[finite] - stds[finite]).min())
        high = float((means[finite] + stds[finite]).max())
        margin = max((high - low) * 0.3, 1e-3)
        bottom = low - margin
        ax.set_ylim(bottom, high + margin)
    for x, value in zip(positions, means, strict=True):
        # At the foot of the bar, so that the value never hides the error bar on its top.
        ax.annotate(
            "failed" if np.isnan(value) else f"{value:.4g}",
            (x, bottom),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            rotation=90,
            fontsize=8,
            color="black" if np.isnan(value) else "white",
        )
    names = {"auc": "test ROC AUC", "logloss": "test log-loss", "train_seconds": "train seconds"}
    ax.set_ylabel(names.get(metric, metric))
    ax.set_title(f"{names.get(metric, metric)} per model (mean ± std)", fontsize=10)
    ax.figure.tight_layout()
    return ax


def plot_feature_importances(importances, ax=None, max_features=20):
    """Horizontal bars of permutation importances, largest on top, with the standard deviation
    over the shuffles as error bars.

    Parameters
    ----------
    importances : Bunch, pandas.Series or fitted estimator
        The output of :func:`sk_ctr.inspection.permutation_importance` or
        :func:`~sk_ctr.inspection.field_permutation_importance`, a Series of importances by
        name, or an estimator with a ``feature_importances_`` attribute holding either.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure's by default.
    max_features : int or None, default=20
        Draw only the most important ones (``None``: all).

    Returns
    -------
    matplotlib.axes.Axes
        The bars are ``ax.patches``, top to bottom.
    """
    import pandas as pd

    plt = _pyplot()
    if hasattr(importances, "feature_importances_"):
        importances = importances.feature_importances_
    elif hasattr(importances, "fit") and not isinstance(importances, pd.Series):
        check_is_fitted(importances, "feature_importances_")
    if isinstance(importances, pd.Series):
        means, stds = importances.astype(float), None
    elif hasattr(importances, "importances_mean"):
        means = pd.Series(importances["importances_mean"], dtype=float)
        stds = pd.Series(importances["importances_std"], index=means.index, dtype=float)
    else:
        raise TypeError(
            "plot_feature_importances needs a Bunch with importances_mean and importances_std, "
            f"a pandas Series or a fitted estimator with feature_importances_; got "
            f"{type(importances).__name__}."
        )
    if max_features is not None and (not isinstance(max_features, int) or max_features < 1):
        raise ValueError(f"max_features must be a positive int or None; got {max_features!r}.")
    order = means.sort_values(ascending=False).index[:max_features]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 1 + 0.3 * len(order)))
    positions = np.arange(len(order))
    errors = None if stds is None else stds[order].to_numpy()
    ax.barh(positions, means[order].to_numpy(), xerr=errors, capsize=3, color="tab:blue")
    ax.set_yticks(positions, [str(name) for name in order])
    ax.invert_yaxis()  # the most important on top
    ax.axvline(0, color="black", linewidth=0.5)
    ax.set_xlabel("decrease of the score when shuffled (mean ± std over repeats)")
    ax.set_title("Permutation importances", fontsize=10)
    ax.figure.tight_layout()
    return ax
