"""GAUC (DIN eq. 2) against a per-group loop over roc_auc_score, and its scorer under routing."""

import numpy as np
import pytest
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_validate

from sk_ctr.metrics import gauc_score, make_gauc_scorer


def brute_force_gauc(y_true, y_score, groups, weights="impressions"):
    """sum_u w_u AUC_u / sum_u w_u with one roc_auc_score call per group of both classes."""
    y_true, y_score, groups = map(np.asarray, (y_true, y_score, groups))
    numerator = denominator = 0.0
    for group in np.unique(groups):
        rows = groups == group
        if np.unique(y_true[rows]).size < 2:
            continue
        weight = rows.sum() if weights == "impressions" else y_true[rows].sum()
        numerator += weight * roc_auc_score(y_true[rows], y_score[rows])
        denominator += weight
    return numerator / denominator


def random_groups_data(n_samples, n_groups, seed, decimals=None):
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, n_groups, n_samples)
    y = (rng.random(n_samples) < rng.uniform(0.05, 0.6, n_groups)[groups]).astype(int)
    scores = rng.normal(size=n_samples) + y * rng.uniform(0, 2, n_groups)[groups]
    if decimals is not None:  # many ties within groups
        scores = np.round(scores, decimals)
    return y, scores, groups


@pytest.mark.parametrize("weights", ["impressions", "clicks"])
@pytest.mark.parametrize("seed, decimals", [(0, None), (1, 0), (2, 1)])
def test_gauc_matches_per_group_loop(weights, seed, decimals):
    y, scores, groups = random_groups_data(3000, 200, seed, decimals)
    assert gauc_score(y, scores, groups, weights=weights) == pytest.approx(
        brute_force_gauc(y, scores, groups, weights), abs=1e-12
    )


def test_gauc_with_string_groups_and_labels():
    y, scores, groups = random_groups_data(500, 30, 3, decimals=1)
    names = np.array([f"user{g}" for g in groups], dtype=object)
    labels = np.where(y == 1, "click", "no-click")
    expected = brute_force_gauc(y, scores, groups)
    assert gauc_score(labels, scores, names, pos_label="click") == pytest.approx(expected)
    # Without pos_label the larger label ("no-click") is positive: the ranking is reversed.
    assert gauc_score(labels, scores, names) == pytest.approx(1 - expected)


def test_gauc_hand_computed_example():
    # Group 1: the positive outranks both negatives (AUC 1); group 2: one of two positives
    # outranks the negative (AUC 1/2); group 3 has only negatives and is skipped.
    y = [0, 1, 0, 1, 1, 0, 0, 0]
    scores = [0.1, 0.9, 0.8, 0.3, 0.5, 0.4, 0.7, 0.2]
    groups = [1, 1, 1, 2, 2, 2, 3, 3]
    assert gauc_score(y, scores, groups) == pytest.approx((3 * 1 + 3 * 0.5) / 6)
    assert gauc_score(y, scores, groups, weights="clicks") == pytest.approx((1 + 2 * 0.5) / 3)


def test_gauc_ties_count_one_half():
    assert gauc_score([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9], [7, 7, 8, 8]) == pytest.approx(0.75)


def test_gauc_skips_single_class_groups_and_ignores_row_order():
    y, scores, groups = random_groups_data(1000, 50, 4)
    extra_groups = np.repeat([1000, 1001], 20)
    extra_y = np.repeat([0, 1], 20)
    with_extra = gauc_score(
        np.r_[y, extra_y], np.r_[scores, np.arange(40.0)], np.r_[groups, extra_groups]
    )
    assert with_extra == pytest.approx(gauc_score(y, scores, groups))
    order = np.random.default_rng(0).permutation(len(y))
    assert gauc_score(y[order], scores[order], groups[order]) == pytest.approx(
        gauc_score(y, scores, groups)
    )


def test_gauc_depends_only_on_the_order_of_scores_within_groups():
    y, scores, groups = random_groups_data(800, 40, 5)
    shifted = scores + 10.0 * groups  # a per-group offset changes the AUC, not the GAUC
    assert gauc_score(y, shifted, groups) == pytest.approx(gauc_score(y, scores, groups))
    assert roc_auc_score(y, shifted) != pytest.approx(roc_auc_score(y, scores))
    assert gauc_score(y, np.exp(scores), groups) == pytest.approx(gauc_score(y, scores, groups))


def test_gauc_of_a_single_group_is_its_auc():
    y, scores, _ = random_groups_data(300, 1, 6)
    assert gauc_score(y, scores, np.zeros(300)) == pytest.approx(roc_auc_score(y, scores))


def test_gauc_errors():
    with pytest.raises(ValueError, match="no group has both"):
        gauc_score([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], [1, 1, 2, 2])
    with pytest.raises(ValueError, match="needs groups.*metadata routing"):
        gauc_score([0, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        gauc_score([0, 1, 1], [0.1, 0.2, 0.3], [1, 1])
    with pytest.raises(ValueError, match="binary"):
        gauc_score([0, 1, 2], [0.1, 0.2, 0.3], [1, 1, 1])
    with pytest.raises(ValueError, match="weights must be one of"):
        gauc_score([0, 1], [0.1, 0.2], [1, 1], weights="users")
    with pytest.raises(ValueError, match="weights must be one of"):
        make_gauc_scorer(weights="users")


def test_gauc_is_fast_on_many_groups():
    # 200k rows of 20k users: one sort, no loop over groups (about 0.1 s here).
    y, scores, groups = random_groups_data(200_000, 20_000, 7, decimals=2)
    value = gauc_score(y, scores, groups)
    assert 0.5 < value < 1


def test_scorer_needs_metadata_routing():
    with sklearn.config_context(enable_metadata_routing=False), pytest.raises(RuntimeError):
        make_gauc_scorer()


def user_data(seed=0, n_users=60, per_user=20):
    """Users with their own click rates; the label depends on x0 within every user."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_users), per_user)
    user_bias = rng.normal(scale=2.0, size=n_users)[groups]
    X = np.c_[rng.normal(size=groups.size), user_bias + rng.normal(scale=0.1, size=groups.size)]
    logits = 1.5 * X[:, 0] + user_bias
    y = (rng.random(groups.size) < 1 / (1 + np.exp(-logits))).astype(int)
    return X, y, groups


def test_scorer_in_grid_search_receives_the_groups_of_each_fold():
    X, y, groups = user_data()
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_gauc_scorer()
        search = GridSearchCV(
            LogisticRegression(), {"C": [1e-4, 1.0]}, scoring=scorer, cv=GroupKFold(n_splits=3)
        )
        search.fit(X, y, groups=groups)
    folds = list(GroupKFold(n_splits=3).split(X, y, groups))
    for candidate, C in enumerate([1e-4, 1.0]):
        expected = []
        for train, test in folds:
            model = LogisticRegression(C=C).fit(X[train], y[train])
            expected.append(gauc_score(y[test], model.decision_function(X[test]), groups[test]))
        assert search.cv_results_["mean_test_score"][candidate] == pytest.approx(np.mean(expected))
    assert search.best_params_ == {"C": 1.0}


def test_scorer_in_cross_validate_with_clicks_weights():
    X, y, groups = user_data(seed=1)
    with sklearn.config_context(enable_metadata_routing=True):
        scores = cross_validate(
            LogisticRegression(),
            X,
            y,
            cv=3,
            params={"groups": groups},
            scoring={"gauc": make_gauc_scorer("clicks"), "auc": "roc_auc"},
        )
    # The user bias makes the plain AUC high; within users only x0 ranks.
    assert np.all(scores["test_gauc"] < scores["test_auc"])
    assert np.all(scores["test_gauc"] > 0.6)
