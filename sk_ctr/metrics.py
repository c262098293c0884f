"""Ranking metrics of CTR models: the group AUC (GAUC) of the DIN paper and its scorer."""

import numpy as np
import pandas as pd
from sklearn.metrics import make_scorer
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils.validation import check_array

GAUC_WEIGHTS = ("impressions", "clicks")


def gauc_score(y_true, y_score, groups=None, *, weights="impressions", pos_label=None):
    """Group AUC: the ROC AUC of each group (user), averaged with per-group weights (DIN eq. 2).

    GAUC = sum_u w_u AUC_u / sum_u w_u, where AUC_u ranks only the samples of group u, so it
    measures how well the model orders the candidates shown to each user, without the gain an
    AUC over all samples gets from separating users with high and low click rates.

    Groups whose samples all have the same label (only clicks or no click at all) have no AUC
    and are skipped: they count neither in the numerator nor in the weights. Ties within a
    group count 1/2, as in :func:`sklearn.metrics.roc_auc_score`. The AUCs come from the
    rank-sum (Mann-Whitney) form in one sort of all samples, with no loop over groups.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels.
    y_score : array-like of shape (n_samples,)
        Scores of the positive class (probabilities or logits: only their order matters).
    groups : array-like of shape (n_samples,)
        Group (user) of each sample; any hashable values, a missing value is a group of its
        own. Required; ``None`` raises (under ``GridSearchCV`` it arrives through metadata
        routing, see :func:`make_gauc_scorer`).
    weights : {"impressions", "clicks"}, default="impressions"
        w_u: the number of samples of the group (eq. 2) or its number of positives.
    pos_label : int, float, bool or str, default=None
        The positive label; ``None`` takes the larger of the two labels (1, True).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``groups`` is missing, the lengths differ, ``y_true`` has more than two labels or
        no group has both a positive and a negative sample.

    Examples
    --------
    >>> from sk_ctr.metrics import gauc_score
    >>> gauc_score([0, 1, 0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3, 0.5, 0.4], groups=[1, 1, 1, 2, 2, 2])
    0.75
    """
    if groups is None:
        raise ValueError(
            "gauc_score needs groups (e.g. the user of each sample). In GridSearchCV or "
            "cross_validate, enable metadata routing (sklearn.set_config("
            "enable_metadata_routing=True)) and pass groups=... to fit; make_gauc_scorer() "
            "requests it."
        )
    if weights not in GAUC_WEIGHTS:
        raise ValueError(f"weights must be one of {GAUC_WEIGHTS}, got {weights!r}.")
    y_true = column_or_1d(check_array(y_true, ensure_2d=False, dtype=None, input_name="y_true"))
    y_score = column_or_1d(check_array(y_score, ensure_2d=False, input_name="y_score"))
    groups = column_or_1d(np.asarray(groups))
    check_consistent_length(y_true, y_score, groups)
    labels = np.unique(y_true)
    if labels.size > 2:
        raise ValueError(f"y_true must be binary; it has {labels.size} labels: {labels[:10]}.")
    positive = labels[-1] if pos_label is None else pos_label
    clicks = (y_true == positive).astype(np.float64)
    codes, _ = pd.factorize(groups, use_na_sentinel=False)
    n_groups = int(codes.max()) + 1 if codes.size else 0

    # One sort by (group, score): each group is a contiguous block, ascending in score.
    order = np.lexsort((y_score, codes))
    codes, scores, clicks = codes[order], y_score[order], clicks[order]
    position = np.arange(codes.size)
    new_group = np.r_[True, codes[1:] != codes[:-1]]
    new_run = new_group | np.r_[True, scores[1:] != scores[:-1]]
    # A run of tied scores gets the mean of its positions (average ranks, ties count 1/2).
    run_start = position[new_run]
    run_end = np.r_[run_start[1:], codes.size] - 1
    mean_position = ((run_start + run_end) / 2)[np.cumsum(new_run) - 1]
    group_start = position[new_group][codes]
    ranks = mean_position - group_start + 1

    impressions = np.bincount(codes, minlength=n_groups).astype(np.float64)
    positives = np.bincount(codes, weights=clicks, minlength=n_groups)
    negatives = impressions - positives
    rank_sums = np.bincount(codes, weights=ranks * clicks, minlength=n_groups)
    valid = (positives > 0) & (negatives > 0)
    if not valid.any():
        raise ValueError(
            "GAUC is undefined: no group has both a positive and a negative sample."
        )
    positives, negatives = positives[valid], negatives[valid]
    auc = (rank_sums[valid] - positives * (positives + 1) / 2) / (positives * negatives)
    weight = impressions[valid] if weights == "impressions" else positives
    return float(np.sum(weight * auc) / np.sum(weight))


def make_gauc_scorer(weights="impressions"):
    """A scorer computing :func:`gauc_score`, for ``GridSearchCV(scoring=...)`` and
    ``cross_validate``, that receives ``groups`` through scikit-learn's metadata routing.

    Metadata routing must be enabled when the scorer is made and used:
    ``sklearn.set_config(enable_metadata_routing=True)`` (or inside
    ``sklearn.config_context(enable_metadata_routing=True)``). Then
    ``GridSearchCV(est, grid, scoring=make_gauc_scorer()).fit(X, y, groups=users)`` scores
    each validation fold with the users of its rows. A splitter that uses groups too
    (``GroupKFold``) receives the same ``groups``.

    Parameters
    ----------
    weights : {"impressions", "clicks"}, default="impressions"

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, groups=...)``, greater is better. It ranks by
        ``decision_function`` (or ``predict_proba``).

    Raises
    ------
    RuntimeError
        If metadata routing is not enabled.

    Examples
    --------
    >>> import sklearn
    >>> from sk_ctr.metrics import make_gauc_scorer
    >>> with sklearn.config_context(enable_metadata_routing=True):
    ...     scorer = make_gauc_scorer(weights="clicks")
    >>> scorer
    make_scorer(gauc_score, response_method=('decision_function', 'predict_proba'), \
weights=clicks)
    """
    if weights not in GAUC_WEIGHTS:
        raise ValueError(f"weights must be one of {GAUC_WEIGHTS}, got {weights!r}.")
    scorer = make_scorer(
        gauc_score, response_method=("decision_function", "predict_proba"), weights=weights
    )
    return scorer.set_score_request(groups=True)
