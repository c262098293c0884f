"""The AutoFIS paper's synthetic data: a label that depends on a few planted field pairs only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sk_ctr.datasets._utils import _as_generator, _check_float, _check_int

#: The planted pairs of AutoFIS section 4.5.2.
PAPER_INTERACTIONS = ((0, 1), (2, 5), (3, 4))


def make_interaction_dataset(
    n_samples=20000,
    n_fields=6,
    n_categories=60,
    interactions=PAPER_INTERACTIONS,
    rank=4,
    linear_std=0.5,
    noise=0.1,
    positive_rate=0.5,
    random_state=None,
):
    """Categorical data whose label is a thresholded incomplete poly-2 function (AutoFIS
    section 4.5.2, eq. 16-17).

    Each field x_i takes one of ``n_categories`` values, drawn uniformly and independently. The
    label is

        y = 1[ sum_i w_i(x_i) + sum_((i,j) in C) v_ij(x_i, x_j) + b + eps >= threshold ]

    where w_i(x_i) ~ N(0, linear_std^2) is a weight per field value, v_ij(a, b) =
    <u_ij(a), u'_ij(b)> / sqrt(rank) a bilinear weight per pair of values of a planted pair
    (u, u' ~ N(0, I_rank), so each pair's term has unit variance), eps ~ N(0, noise^2 var(score))
    and the threshold is the quantile that gives ``positive_rate``. The planted pairs carry
    most of the signal and the other m(m-1)/2 - |C| pairs none: a selection method should rank
    exactly C highest (Figure 5). The paper uses m = 6 fields, N = 60 categories and
    C = {(x0, x1), (x2, x5), (x3, x4)}; it does not give the form of v, and a low-rank one is
    what a factorization model with ``embed_dim >= rank`` can represent (a full 60 x 60 table
    per pair has 3,600 cells, more than a few thousand rows can estimate).

    Parameters
    ----------
    n_samples : int, default=20000
    n_fields : int, default=6
    n_categories : int, default=60
    interactions : sequence of tuple of int, default=((0, 1), (2, 5), (3, 4))
        The planted pairs C, by field position.
    rank : int, default=4
        Rank of each planted pair's value table v_ij.
    linear_std : float, default=0.5
        Standard deviation of the order-1 weights w_i.
    noise : float, default=0.1
        Standard deviation of eps, relative to the standard deviation of the noiseless score.
    positive_rate : float, default=0.5
    random_state : int, numpy Generator or None, default=None

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, n_fields)
        Columns ``x0``, ``x1``, ...: category labels as strings (``"x3=17"``).
    y : ndarray of shape (n_samples,)
        0/1 labels.

    Examples
    --------
    >>> from sk_ctr.datasets import make_interaction_dataset
    >>> X, y = make_interaction_dataset(n_samples=1000, random_state=0)
    >>> X.columns.tolist(), round(float(y.mean()), 2)
    (['x0', 'x1', 'x2', 'x3', 'x4', 'x5'], 0.5)
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_fields = _check_int(n_fields, "n_fields", 2)
    n_categories = _check_int(n_categories, "n_categories", 2)
    rank = _check_int(rank, "rank", 1)
    linear_std = _check_float(linear_std, "linear_std", 0, np.inf)
    noise = _check_float(noise, "noise", 0, np.inf)
    positive_rate = _check_float(positive_rate, "positive_rate", 0, 1, low_inclusive=False)
    pairs = [tuple(int(f) for f in pair) for pair in interactions]
    for pair in pairs:
        if len(pair) != 2 or len(set(pair)) != 2 or not all(0 <= f < n_fields for f in pair):
            raise ValueError(
                f"interactions must be pairs of distinct fields in 0..{n_fields - 1}; got {pair!r}."
            )
    rng = _as_generator(random_state)
    codes = rng.integers(n_categories, size=(n_samples, n_fields))
    weights = rng.normal(scale=linear_std, size=(n_fields, n_categories))
    score = weights[np.arange(n_fields), codes].sum(axis=1)
    for i, j in pairs:
        left, right = rng.normal(size=(2, n_categories, rank))
        score += (left[codes[:, i]] * right[codes[:, j]]).sum(axis=1) / np.sqrt(rank)
    score += rng.normal(scale=noise * score.std(), size=n_samples)
    threshold = np.quantile(score, 1 - positive_rate)
    y = (score >= threshold).astype(np.int64)
    X = pd.DataFrame(
        {
            f"x{i}": pd.Series(codes[:, i]).map(lambda c, i=i: f"x{i}={c}").astype(object)
            for i in range(n_fields)
        }
    )
    return X, y
