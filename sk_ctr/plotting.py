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
    ax.set_title(f"AutoFIS interaction importance ({kept} of {len(estimator.interaction_alphas_)}"
                 " kept)")
    if annotate is None:
        annotate = len(matrix) <= 12
    if annotate:
        for row, column in zip(*np.nonzero(np.isfinite(values)), strict=True):
            ax.text(column, row, f"{values[row, column]:.2f}", ha="center", va="center",
                    fontsize=7, color="white" if abs(values[row, column]) < limit / 2 else "black")
    return ax
