"""Ranking metrics of CTR models: the group AUC (GAUC) of the DIN paper and its scorer, and the
recommendation-list metrics of the DeepFM journal's online simulation (section IV-D, eq. 14-18)."""

from collections.abc import Mapping
from numbers import Integral
from typing import NamedTuple

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
        raise ValueError("GAUC is undefined: no group has both a positive and a negative sample.")
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


# --------------------------------------------------------------------------------------
# Recommendation lists (DeepFM journal, section IV-D-1, eq. 14-18)
# --------------------------------------------------------------------------------------


class Popularity(NamedTuple):
    """popularity@L of a set of lists: the mean of eq. 18 and its variance across the lists.

    Attributes
    ----------
    mean : float
        popularity@L (DeepFM journal eq. 18), in [0, 1].
    variance : float
        Population variance (ddof=0) over the lists of each list's own popularity
        (1/L) sum_(k in R(L)) D_k / D_max: the black line of the journal's Figure 18.
    """

    mean: float
    variance: float


def _top_k(lists, k):
    """The first ``k`` columns of ``lists`` as integer codes, checked.

    Returns
    -------
    top : ndarray of shape (n_lists, k)
        The top-k places of the lists.
    codes : ndarray of int64, shape (n_lists, k)
        ``items[codes]`` are the listed items; equal items have equal codes.
    items : ndarray of shape (n_items,)
        The distinct items of the top-k places.
    """
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}.")
    lists = np.asarray(lists.to_numpy() if isinstance(lists, pd.DataFrame) else lists)
    if lists.ndim != 2:
        raise ValueError(
            "lists must be a 2-D array of shape (n_lists, list_length) with one ranked list of "
            f"item ids per row; got an array of {lists.ndim} dimension(s)."
        )
    if lists.shape[0] == 0:
        raise ValueError("lists is empty: there is no recommendation list to measure.")
    if k > lists.shape[1]:
        raise ValueError(f"k={k} is larger than the length of the lists ({lists.shape[1]}).")
    top = lists[:, :k]
    codes, items = pd.factorize(top.ravel(), use_na_sentinel=True)
    if (codes < 0).any():
        raise ValueError("lists holds missing values (NaN / None) in its top-k places.")
    codes = codes.reshape(top.shape).astype(np.int64)
    # A ranked list holds each item once; a repeat would make q_ab (eq. 14) ambiguous.
    ordered = np.sort(codes, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
    if repeated.any():
        row = int(np.flatnonzero(repeated)[0])
        raise ValueError(
            f"List {row} holds an item more than once in its top-{k} places: {top[row].tolist()}."
        )
    return top, codes, items


def personalization_at_k(lists, groups, k):
    """personalization@L: the mean inter-list distance between users of different groups
    (DeepFM journal eq. 14-16).

    The inter-list distance of users a and b is (eq. 14)::

        h_ab = 1 - q_ab(L) / L

    with q_ab(L) the number of items both have in their top L places. The inter-group distance
    of groups U_i and U_j averages it over every pair of their users (eq. 15)::

        h_(U_i U_j) = 1 / (|U_i| |U_j|) sum_(a in U_i) sum_(b in U_j) h_ab

    and personalization@L averages those over the t (t - 1) / 2 pairs of distinct groups,
    each pair weighing the same whatever the groups' sizes (eq. 16)::

        h = 2 / (t (t - 1)) sum_(i < j) h_(U_i U_j)

    Pairs of users in the same group do not count: 0 means every group gets the same top-L
    items, 1 that no two users of different groups share one. Passing one group per list
    (``groups=np.arange(n_lists)``) gives the mean distance over all pairs of users, the
    personalization of Zhou et al. (PNAS 2010, the journal's reference [44]).

    No pair of users is visited: with c_i(x) the number of lists of group i that hold item x
    in their top L, sum_(a in U_i, b in U_j) q_ab = sum_x c_i(x) c_j(x), and the sum over the
    pairs of groups comes from the squares of sum_i c_i(x) / |U_i|, in O(n_lists L).

    Parameters
    ----------
    lists : array-like of shape (n_lists, list_length)
        One recommendation list per row, items ranked best first; any hashable ids (integers,
        strings), each at most once per list. Only the first ``k`` columns are used.
    groups : array-like of shape (n_lists,)
        The group (user type) of each list; at least two distinct groups.
    k : int
        L, the number of top places compared (``1 <= k <= list_length``).

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ValueError
        If ``lists`` is not 2-D or has missing values or repeated items in its top-k places,
        ``k`` is out of range, the lengths differ or there are fewer than two groups.

    Examples
    --------
    >>> from sk_ctr.metrics import personalization_at_k
    >>> lists = [[1, 2], [1, 3], [1, 2], [4, 5]]
    >>> personalization_at_k(lists, groups=["a", "a", "b", "b"], k=2)  # h_ab = 1 - 3/8
    0.625
    >>> personalization_at_k(lists, groups=["a", "a", "b", "b"], k=1)  # 1 - 2/4
    0.5
    """
    _, codes, items = _top_k(lists, k)
    groups = column_or_1d(np.asarray(groups))
    check_consistent_length(codes, groups)
    group_codes, group_names = pd.factorize(groups, use_na_sentinel=False)
    n_groups, n_items = len(group_names), len(items)
    if n_groups < 2:
        raise ValueError(
            "personalization@L compares the lists of different groups (eq. 16); groups holds "
            f"{n_groups} distinct value(s)."
        )
    # share[i, x] = c_i(x) / |U_i|, kept sparse as (group, item) keys: each list adds 1/|U_i|.
    group_sizes = np.bincount(group_codes, minlength=n_groups)
    keys = np.repeat(group_codes, k) * n_items + codes.ravel()
    cells, cell_of_entry = np.unique(keys, return_inverse=True)
    share = np.bincount(cell_of_entry, weights=1.0 / group_sizes[np.repeat(group_codes, k)])
    # sum_(i,j) sum_x share_i(x) share_j(x) over all ordered pairs, minus the pairs i = j,
    # halved: sum_(i<j) sum_(a in U_i, b in U_j) q_ab / (|U_i| |U_j|).
    per_item = np.bincount(cells % n_items, weights=share, minlength=n_items)
    between = (np.sum(per_item**2) - np.sum(share**2)) / 2
    n_pairs = n_groups * (n_groups - 1) / 2
    # Clipped: identical lists everywhere give 1 - (1 + rounding), a "-0.0" otherwise.
    return float(np.clip(1.0 - between / (k * n_pairs), 0.0, 1.0))


def coverage_at_k(lists, n_candidates, k):
    """coverage@L: the share of the candidate items that appear in the top L places of at
    least one list (DeepFM journal eq. 17)::

        coverage@L = |union_(i, j) R_ij(L)| / |candidate apps|

    Parameters
    ----------
    lists : array-like of shape (n_lists, list_length)
        One recommendation list per row, items ranked best first, each at most once per list.
    n_candidates : int
        The number of candidate items the lists were drawn from (the denominator).
    k : int
        L, the number of top places counted (``1 <= k <= list_length``).

    Returns
    -------
    float
        In (0, 1].

    Raises
    ------
    ValueError
        If the lists are malformed (see :func:`personalization_at_k`), ``n_candidates`` is not
        a positive integer or is smaller than the number of distinct items listed.

    Examples
    --------
    >>> from sk_ctr.metrics import coverage_at_k
    >>> coverage_at_k([[1, 2, 3], [1, 4, 5]], n_candidates=10, k=2)  # {1, 2, 4}
    0.3
    """
    _, _, items = _top_k(lists, k)
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, Integral):
        raise ValueError(f"n_candidates must be an integer, got {n_candidates!r}.")
    if n_candidates < len(items):
        raise ValueError(
            f"The top-{k} places hold {len(items)} distinct items, more than n_candidates="
            f"{n_candidates}."
        )
    return len(items) / int(n_candidates)


def popularity_at_k(lists, downloads, k):
    """popularity@L: the mean download count of the top-L items relative to the most
    downloaded item, and its variance across the lists (DeepFM journal eq. 18, Figure 18)::

        popularity@L = 1 / (t n L) sum_(i, j) sum_(k in R_ij(L)) D_k / D_max

    D_k is the cumulative number of downloads of item k and D_max that of the most downloaded
    item among all of ``downloads`` (the catalogue), listed or not. Every list contributes L
    items, so eq. 18 is the mean over the lists of each list's popularity
    p_ij = (1/L) sum_(k in R_ij(L)) D_k / D_max; the variance is that of the p_ij, as the
    journal's Figure 18 draws it ("the variance of the 600 recommendation lists"): a model
    recommending the same popular items to everyone has a high mean and a variance near 0.

    Parameters
    ----------
    lists : array-like of shape (n_lists, list_length)
        One recommendation list per row, items ranked best first, each at most once per list.
    downloads : pandas.Series, mapping or array-like of shape (n_items,)
        D_k of every item: a Series or dict indexed by item id, or an array indexed by integer
        ids ``0 .. n_items - 1``. Non-negative and finite, with a positive maximum.
    k : int
        L, the number of top places counted (``1 <= k <= list_length``).

    Returns
    -------
    Popularity
        A named tuple ``(mean, variance)`` of floats: popularity@L (eq. 18) and the
        population variance (ddof=0) of the per-list popularities.

    Raises
    ------
    ValueError
        If the lists are malformed (see :func:`personalization_at_k`), ``downloads`` has
        repeated ids, negative, infinite or missing counts, no positive count, or lacks an
        item of the lists (the error names them).

    Examples
    --------
    >>> from sk_ctr.metrics import popularity_at_k
    >>> downloads = {"a": 100, "b": 50, "c": 10, "d": 0}
    >>> popularity_at_k([["a", "b"], ["c", "d"]], downloads, k=2)  # per list: 0.75 and 0.05
    Popularity(mean=0.4, variance=0.1225)
    """
    top, _, _ = _top_k(lists, k)
    if isinstance(downloads, Mapping):
        downloads = pd.Series(downloads, dtype=np.float64)
    elif not isinstance(downloads, pd.Series):
        downloads = pd.Series(
            column_or_1d(
                check_array(downloads, ensure_2d=False, dtype=np.float64, input_name="downloads")
            )
        )
    if not downloads.index.is_unique:
        repeated = downloads.index[downloads.index.duplicated()].unique()[:10].tolist()
        raise ValueError(f"downloads has items listed more than once: {repeated}.")
    counts = downloads.to_numpy(dtype=np.float64)
    if not np.isfinite(counts).all() or (counts < 0).any():
        raise ValueError("downloads must hold finite, non-negative counts.")
    most = counts.max() if counts.size else 0.0
    if most <= 0:
        raise ValueError("downloads has no positive count: D_max of eq. 18 would be 0.")
    position = downloads.index.get_indexer(top.ravel())
    if (position < 0).any():
        unknown = pd.unique(top.ravel()[position < 0])[:10].tolist()
        raise ValueError(f"downloads has no count for the listed item(s) {unknown}.")
    per_list = (counts[position] / most).reshape(top.shape).mean(axis=1)
    return Popularity(mean=float(per_list.mean()), variance=float(per_list.var()))
