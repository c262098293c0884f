"""Synthetic CTR data whose label has order-2 (or order-3) field interactions:
:func:`make_ctr_classification`."""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from sk_ctr.datasets._utils import (
    _as_generator,
    _check_float,
    _check_int,
    _sigmoid,
    _solve_bias,
)

# Share of the logit standard deviation given to each part of the synthetic model. Order 2
# dominates so that a linear model on one-hot features is clearly worse than the true logit.
_ORDER1_STD = 0.8
_ORDER2_STD = 1.5
_ORDER3_STD = 1.0
_NUMERIC_STD = 0.8

# --------------------------------------------------------------------------------------
# Synthetic data
# --------------------------------------------------------------------------------------


def _anova(vectors, order):
    """Sum over all field subsets of size 2 or 3 of the product of their latent vectors.

    ``vectors`` has shape (n_samples, n_fields, k). Newton's identities turn the sum over
    subsets into power sums over fields, so the cost is linear in n_fields.
    """
    p1 = vectors.sum(axis=1)
    p2 = (vectors**2).sum(axis=1)
    if order == 2:
        out = (p1**2 - p2) / 2
    else:
        p3 = (vectors**3).sum(axis=1)
        out = (p1**3 - 3 * p1 * p2 + 2 * p3) / 6
    return out.sum(axis=1)


def make_ctr_classification(
    n_samples=10000,
    n_fields=10,
    cardinality=50,
    n_numeric=0,
    interaction_order=2,
    embed_dim=4,
    positive_rate=None,
    noise=0.0,
    zipf_exponent=1.1,
    numeric_missing_rate=0.0,
    random_state=None,
    return_logit=False,
):
    """Generate a synthetic CTR data set whose click logit has known feature interactions.

    The label is drawn from ``sigmoid(logit)`` with::

        logit = bias
              + sum_f w_f[c_f]                               # order 1
              + sum_{f<g} <v_f[c_f], v_g[c_g]>               # order 2 (an FM)
              + sum_{f<g<h} sum_d u_f[c_f]_d * u_g[c_g]_d * u_h[c_h]_d   # order 3
              + sum_j (b_j + a_j[c_{f(j)}]) * s(log I_j)     # numeric part

    where ``c_f`` is the category of field ``f``, the weights and latent vectors are
    Gaussian, and ``s`` is a U-shaped function of the standardised log of the numeric value
    ``I_j`` whose strength depends on the category of the field ``f(j) = j mod n_fields``.
    The numeric part is therefore non-monotone (bucketizing ``I_j`` helps) and interacts
    with a categorical field. Parts are scaled so that the order-2 term carries most of the
    signal: a logistic regression on one-hot features is clearly worse than the true logit.

    Parameters
    ----------
    n_samples : int, default=10000
        Number of rows.
    n_fields : int, default=10
        Number of categorical fields, named ``C1..C{n_fields}``.
    cardinality : int or list of int, default=50
        Number of distinct categories per field (one value for all fields, or one per
        field). Category ``k`` of field ``Cf`` is the string ``"cf_k"``.
    n_numeric : int, default=0
        Number of numeric fields, named ``I1..I{n_numeric}``: positive, log-normal,
        ``float64``.
    interaction_order : {1, 2, 3}, default=2
        Highest order of categorical interactions in the logit. 1 gives a logit that is
        linear in the one-hot features (plus the numeric part); 2 adds the factorization
        machine term; 3 also adds a third-order term. A term of higher order than
        ``n_fields`` is empty (one field has no pairs).
    embed_dim : int, default=4
        Size of the latent vectors of the order-2 (and order-3) terms.
    positive_rate : float or None, default=None
        Target fraction of positive labels, in (0, 1); the bias is solved for it. None means
        0.25. The realised rate differs by sampling noise.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to the logit before drawing labels
        (unobserved factors). It is not part of the returned ``logit``.
    zipf_exponent : float, default=1.1
        Category frequencies are proportional to ``rank ** -zipf_exponent`` (long-tailed,
        as in real CTR logs); 0 gives uniform frequencies.
    numeric_missing_rate : float, default=0.0
        Fraction of numeric values replaced by NaN, in [0, 1). A missing value contributes
        nothing to the logit.
    random_state : int, numpy Generator, RandomState or None, default=None
        Seed for reproducible output. The ground-truth model parameters are drawn before the
        rows, so with the same seed and shape parameters, data sets of different
        ``n_samples`` share the same weights.
    return_logit : bool, default=False
        If True, also return the true logit (Bayes-optimal score, without ``noise``).

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, n_numeric + n_fields)
        Columns ``I1..I{n_numeric}`` (float64) followed by ``C1..C{n_fields}`` (object
        strings).
    y : ndarray of shape (n_samples,), dtype int64
        0/1 labels.
    logit : ndarray of shape (n_samples,), dtype float64
        Only if ``return_logit=True``.

    Raises
    ------
    ValueError
        If a parameter is out of range; the message names the parameter.

    Examples
    --------
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=1000, n_fields=3, n_numeric=2,
    ...                                random_state=0)
    >>> X.shape, y.shape
    ((1000, 5), (1000,))
    >>> list(X.columns)
    ['I1', 'I2', 'C1', 'C2', 'C3']
    >>> X["C1"].dtype, X["I1"].dtype, y.dtype
    (dtype('O'), dtype('float64'), dtype('int64'))
    >>> bool(0.2 < y.mean() < 0.3)
    True
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_fields = _check_int(n_fields, "n_fields", 1)
    n_numeric = _check_int(n_numeric, "n_numeric", 0)
    embed_dim = _check_int(embed_dim, "embed_dim", 1)
    if interaction_order not in (1, 2, 3) or isinstance(interaction_order, bool):
        raise ValueError(f"interaction_order must be 1, 2 or 3, got {interaction_order!r}.")
    if isinstance(cardinality, numbers.Integral):
        cardinality = [cardinality] * n_fields
    cardinality = list(cardinality)
    if len(cardinality) != n_fields:
        raise ValueError(
            f"cardinality must be an int or a list of n_fields={n_fields} ints, "
            f"got a list of length {len(cardinality)}."
        )
    cardinality = [_check_int(c, "cardinality", 1) for c in cardinality]
    if positive_rate is None:
        positive_rate = 0.25
    positive_rate = _check_float(positive_rate, "positive_rate", 0.0, 1.0, low_inclusive=False)
    noise = _check_float(noise, "noise", 0.0, math.inf)
    zipf_exponent = _check_float(zipf_exponent, "zipf_exponent", 0.0, math.inf)
    numeric_missing_rate = _check_float(numeric_missing_rate, "numeric_missing_rate", 0.0, 1.0)
    rng = _as_generator(random_state)

    # --- ground-truth parameters (drawn first: independent of n_samples) ---
    # Each part's variance over rows is set analytically: order 1 sums n_fields terms,
    # order 2 sums C(F, 2) * embed_dim products of two Gaussians, order 3 C(F, 3) * embed_dim
    # products of three.
    w_std = _ORDER1_STD / math.sqrt(n_fields)
    v_std = (_ORDER2_STD**2 / (math.comb(n_fields, 2) * embed_dim)) ** 0.25 if n_fields > 1 else 0
    u_std = (
        (_ORDER3_STD**2 / (math.comb(n_fields, 3) * embed_dim)) ** (1 / 6) if n_fields > 2 else 0
    )
    fields = []
    for card in cardinality:
        freq = np.arange(1, card + 1, dtype=float) ** -zipf_exponent
        fields.append(
            {
                "p": freq / freq.sum(),
                # Shuffle so a category's index says nothing about its frequency.
                "rank_to_code": rng.permutation(card),
                "w": rng.normal(0.0, w_std, card),
                "v": rng.normal(0.0, v_std, (card, embed_dim)),
                "u": rng.normal(0.0, u_std, (card, embed_dim)),
            }
        )
    # Numeric part: half of its variance shared by all rows, half category-dependent.
    num_std = _NUMERIC_STD / math.sqrt(2 * n_numeric) if n_numeric else 0.0
    numerics = [
        {
            "mu": rng.uniform(0.0, 3.0),
            "sigma": rng.uniform(0.5, 1.5),
            "b": rng.normal(0.0, num_std),
            "a": rng.normal(0.0, num_std, cardinality[j % n_fields]),
        }
        for j in range(n_numeric)
    ]

    # --- rows ---
    codes = np.empty((n_samples, n_fields), dtype=np.int64)
    for f, field in enumerate(fields):
        ranks = rng.choice(len(field["p"]), size=n_samples, p=field["p"])
        codes[:, f] = field["rank_to_code"][ranks]

    logit = np.zeros(n_samples)
    for f, field in enumerate(fields):
        logit += field["w"][codes[:, f]]
    if interaction_order >= 2:
        v = np.stack([field["v"][codes[:, f]] for f, field in enumerate(fields)], axis=1)
        logit += _anova(v, 2)
    if interaction_order >= 3:
        u = np.stack([field["u"][codes[:, f]] for f, field in enumerate(fields)], axis=1)
        logit += _anova(u, 3)

    columns = {}
    for j, num in enumerate(numerics):
        z = rng.standard_normal(n_samples)
        # (z^2 - 1) / sqrt(2) has mean 0 and variance 1 and is U-shaped in log(value).
        shape = (z**2 - 1) / math.sqrt(2)
        missing = rng.random(n_samples) < numeric_missing_rate
        shape[missing] = 0.0
        logit += (num["b"] + num["a"][codes[:, j % n_fields]]) * shape
        values = np.exp(num["mu"] + num["sigma"] * z)
        values[missing] = np.nan
        columns[f"I{j + 1}"] = values

    for f, card in enumerate(cardinality):
        names = np.array([f"c{f + 1}_{k}" for k in range(card)], dtype=object)
        # An explicit object dtype: pandas >= 3 would otherwise infer its "str" dtype.
        columns[f"C{f + 1}"] = pd.Series(names[codes[:, f]], dtype=object)

    noisy = logit + rng.normal(0.0, noise, n_samples) if noise > 0 else logit
    bias = _solve_bias(noisy, positive_rate)
    y = (rng.random(n_samples) < _sigmoid(noisy + bias)).astype(np.int64)
    logit = logit + bias
    X = pd.DataFrame(columns)
    if return_logit:
        return X, y, logit
    return X, y
