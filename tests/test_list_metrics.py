"""Recommendation-list metrics (DeepFM journal eq. 14-18) against hand-computed cases and the
pairwise definitions, and rank_candidates against a per-user loop."""

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError

from sk_ctr import LRClassifier
from sk_ctr.metrics import Popularity, coverage_at_k, personalization_at_k, popularity_at_k
from sk_ctr.ranking import rank_candidates


def pairwise_personalization(lists, groups, k):
    """Eq. 14-16 as written: h_ab over every pair of users of every pair of distinct groups."""
    lists, groups = np.asarray(lists), np.asarray(groups)
    names = list(dict.fromkeys(groups.tolist()))
    inter_group = []
    for first, second in itertools.combinations(names, 2):
        distances = [
            1 - len(set(lists[a, :k]) & set(lists[b, :k])) / k  # eq. 14
            for a in np.flatnonzero(groups == first)
            for b in np.flatnonzero(groups == second)
        ]
        inter_group.append(np.mean(distances))  # eq. 15
    return np.mean(inter_group)  # eq. 16


def random_lists(n_lists, length, n_items, seed):
    rng = np.random.default_rng(seed)
    return np.array([rng.choice(n_items, length, replace=False) for _ in range(n_lists)])


# --------------------------------------------------------------------------------------
# personalization@L (eq. 14-16)
# --------------------------------------------------------------------------------------


def test_personalization_by_hand_with_unequal_groups():
    lists = [["a", "b", "c"], ["a", "d", "e"], ["a", "b", "f"], ["x", "y", "z"], ["b", "c", "d"]]
    groups = [0, 0, 0, 1, 2]
    # Groups 0 and 1 share nothing: h = 1. Groups 0 and 2: the lists of group 0 share 2, 1 and
    # 1 items with [b, c, d], so h = 1 - (2 + 1 + 1) / (3 * 3) = 5/9. Groups 1 and 2: h = 1.
    expected = (1 + 5 / 9 + 1) / 3
    assert personalization_at_k(lists, groups, k=3) == pytest.approx(expected)
    # Top-1: group 0 lists a, a, a and group 2 lists b: every pair is distinct.
    assert personalization_at_k(lists, groups, k=1) == pytest.approx(1.0)


def test_pairs_within_a_group_do_not_count():
    # Users differ within their group but each group holds the same set of lists: the
    # inter-group distance is that of the pairs across groups only (eq. 16 sums over i < j).
    lists = [[1, 2], [3, 4], [1, 2], [3, 4]]
    assert personalization_at_k(lists, [0, 0, 1, 1], k=2) == pytest.approx(0.5)
    assert personalization_at_k(lists, [0, 1, 0, 1], k=2) == pytest.approx(1.0)
    assert personalization_at_k([[1, 2]] * 4, [0, 0, 1, 1], k=2) == 0.0


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [1, 3, 7])
def test_personalization_matches_the_pairwise_definition(seed, k):
    lists = random_lists(40, 7, 15, seed)
    groups = np.random.default_rng(seed).choice(["u1", "u2", "u3", "u4"], 40)
    assert personalization_at_k(lists, groups, k) == pytest.approx(
        pairwise_personalization(lists, groups, k), abs=1e-12
    )


def test_one_group_per_list_is_the_mean_distance_over_all_pairs():
    lists = random_lists(12, 5, 9, seed=7)
    pairs = itertools.combinations(range(12), 2)
    mean = np.mean([1 - len(set(lists[a]) & set(lists[b])) / 5 for a, b in pairs])
    assert personalization_at_k(lists, np.arange(12), k=5) == pytest.approx(mean)


def test_personalization_ignores_group_names_and_accepts_a_dataframe():
    lists = random_lists(20, 4, 10, seed=3)
    groups = np.repeat([0, 1, 2, 3], 5)
    expected = personalization_at_k(lists, groups, 4)
    renamed = np.array(["d", "c", "b", "a"])[groups]
    assert personalization_at_k(pd.DataFrame(lists), renamed, 4) == pytest.approx(expected)


@pytest.mark.parametrize(
    "lists, groups, k, message",
    [
        ([[1, 2], [3, 4]], [0, 0], 2, r"groups holds 1 distinct value"),
        ([[1, 1], [3, 4]], [0, 1], 2, r"List 0 holds an item more than once"),
        ([[1, 2], [3, 4]], [0, 1], 3, "larger than the length of the lists"),
        ([[1, 2], [3, 4]], [0, 1], 0, "k must be an integer >= 1"),
        ([1, 2, 3], [0, 1, 2], 1, "2-D array"),
        ([[1.0, np.nan], [3.0, 4.0]], [0, 1], 2, "missing values"),
        ([[1, 2], [3, 4]], [0, 1, 2], 2, "inconsistent numbers of samples"),
        (np.empty((0, 3)), [], 2, "lists is empty"),
    ],
)
def test_personalization_errors(lists, groups, k, message):
    with pytest.raises(ValueError, match=message):
        personalization_at_k(lists, groups, k)


# --------------------------------------------------------------------------------------
# coverage@L (eq. 17) and popularity@L (eq. 18)
# --------------------------------------------------------------------------------------


def test_coverage_by_hand():
    lists = [[3, 1, 9], [1, 3, 8], [2, 1, 3]]
    assert coverage_at_k(lists, n_candidates=10, k=1) == pytest.approx(3 / 10)  # {3, 1, 2}
    assert coverage_at_k(lists, n_candidates=10, k=2) == pytest.approx(3 / 10)
    assert coverage_at_k(lists, n_candidates=10, k=3) == pytest.approx(5 / 10)
    assert coverage_at_k(lists, n_candidates=5, k=3) == 1.0


def test_coverage_errors():
    with pytest.raises(ValueError, match="more than n_candidates=4"):
        coverage_at_k([[1, 2, 3], [4, 5, 6]], n_candidates=4, k=3)
    with pytest.raises(ValueError, match="n_candidates must be an integer"):
        coverage_at_k([[1, 2]], n_candidates=10.0, k=2)


def test_popularity_by_hand():
    downloads = np.array([1000, 500, 250, 100, 50, 0])  # item ids 0..5
    lists = [[0, 1], [2, 3], [4, 5], [1, 5]]
    # Per list (D_k / D_max averaged over the top 2): 0.75, 0.175, 0.025, 0.25.
    per_list = np.array([0.75, 0.175, 0.025, 0.25])
    result = popularity_at_k(lists, downloads, k=2)
    assert isinstance(result, Popularity)
    assert result.mean == pytest.approx(per_list.mean())  # eq. 18: 0.3
    assert result.variance == pytest.approx(per_list.var())
    top1 = popularity_at_k(lists, downloads, k=1)
    assert top1 == pytest.approx((np.mean([1.0, 0.25, 0.05, 0.5]), np.var([1.0, 0.25, 0.05, 0.5])))


def test_popularity_normalises_by_the_catalogue_maximum_and_takes_any_id_container():
    counts = {"hit": 400, "mid": 100, "rare": 20}
    lists = [["mid", "rare"], ["rare", "mid"]]  # the most downloaded item is never listed
    expected = Popularity(mean=0.15, variance=0.0)
    assert popularity_at_k(lists, counts, k=2) == pytest.approx(expected)
    assert popularity_at_k(lists, pd.Series(counts), k=2) == pytest.approx(expected)
    mean, variance = popularity_at_k(lists, pd.Series(counts) * 10, k=2)  # scale-free
    assert (mean, variance) == pytest.approx(expected)


@pytest.mark.parametrize(
    "downloads, message",
    [
        ({"a": 10}, r"no count for the listed item\(s\) \['b'\]"),
        ({"a": 10, "b": -1}, "non-negative"),
        ({"a": 10, "b": np.nan}, "non-negative"),
        ({"a": 0, "b": 0}, "no positive count"),
        (pd.Series([1, 2, 3], index=["a", "b", "a"]), r"more than once: \['a'\]"),
    ],
)
def test_popularity_errors(downloads, message):
    with pytest.raises(ValueError, match=message):
        popularity_at_k([["a", "b"]], downloads, k=2)


# --------------------------------------------------------------------------------------
# rank_candidates
# --------------------------------------------------------------------------------------


class AffinityModel(ClassifierMixin, BaseEstimator):
    """A fitted stand-in: P(click) = sigmoid(taste * genre_sign + quality), recording calls."""

    def fit(self, X, y=None):
        self.feature_names_in_ = np.array(["taste", "genre_sign", "quality"], dtype=object)
        self.classes_ = np.array([0, 1])
        self.calls_ = []
        return self

    def predict_proba(self, X):
        assert list(X.columns) == list(self.feature_names_in_)  # the fitted order
        self.calls_.append(len(X))
        logit = X["taste"] * X["genre_sign"] + X["quality"]
        positive = 1 / (1 + np.exp(-logit.to_numpy(dtype=float)))
        return np.column_stack([1 - positive, positive])


@pytest.fixture
def catalogue():
    users = pd.DataFrame({"user_id": ["u0", "u1", "u2"], "taste": [2.0, -2.0, 0.0]})
    # Items 4 and 1 tie for every user (same genre and quality).
    candidates = pd.DataFrame(
        {"genre_sign": [1.0, -1.0, 1.0, -1.0, -1.0], "quality": [0.5, 0.0, 0.1, 0.2, 0.0]},
        index=[100, 101, 102, 103, 104],
    )
    return users, candidates


def per_user_loop(model, users, candidates, k):
    """The reference: score each user's rows one user at a time, sort stably."""
    lists = []
    for _, user in users.iterrows():
        logit = user["taste"] * candidates["genre_sign"] + candidates["quality"]
        order = np.argsort(-logit.to_numpy(), kind="stable")[:k]
        lists.append(candidates.index.to_numpy()[order])
    return np.array(lists)


@pytest.mark.parametrize("batch_size", [1, 7, 100_000])
def test_rank_candidates_matches_a_per_user_loop_in_any_chunking(batch_size, catalogue):
    users, candidates = catalogue
    model = AffinityModel().fit(None)
    lists = rank_candidates(model, users, candidates, k=4, batch_size=batch_size)
    np.testing.assert_array_equal(lists, per_user_loop(model, users, candidates, 4))
    assert lists.tolist() == [[100, 102, 103, 101], [103, 101, 104, 100], [100, 103, 102, 101]]
    # Chunks hold whole users, at most batch_size pairs unless one user needs more.
    assert sum(model.calls_) == 15
    assert max(model.calls_) <= max(5, batch_size // 5 * 5)


def test_ties_keep_the_candidates_order_and_prefixes_are_shorter_lists(catalogue):
    users, candidates = catalogue
    model = AffinityModel().fit(None)
    full, scores = rank_candidates(model, users, candidates, k=5, return_scores=True)
    assert full[0, 3:].tolist() == [101, 104]  # tied: the earlier row first
    reversed_rows = candidates.iloc[::-1]
    assert rank_candidates(model, users, reversed_rows, k=5)[0, 3:].tolist() == [104, 101]
    for k in (1, 2, 3):
        np.testing.assert_array_equal(rank_candidates(model, users, candidates, k), full[:, :k])
    assert (np.diff(scores, axis=1) <= 0).all()
    expected = 1 / (1 + np.exp(-(2.0 * 1.0 + 0.5)))  # user 0's best: item 100
    assert scores[0, 0] == pytest.approx(expected)


def test_rank_candidates_with_a_fitted_sk_ctr_model():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"user_type": rng.choice(["a", "b"], 600), "app": rng.choice(list("pqrs"), 600)}
    )
    clicked = (X["user_type"] == "a") == X["app"].isin(["p", "q"])
    y = (clicked.to_numpy() & (rng.random(600) < 0.8)).astype(int)
    model = LRClassifier(lr=5e-2, max_epochs=5, random_state=0, n_threads=1).fit(X, y)
    users = pd.DataFrame({"user_type": ["a", "b", "b"]})
    apps = pd.DataFrame({"app": list("pqrs")}, index=["P", "Q", "R", "S"])
    lists = rank_candidates(model, users, apps, k=4)
    pairs = users.merge(apps.reset_index(), how="cross")
    proba = model.predict_proba(pairs[["user_type", "app"]])[:, 1].reshape(3, 4)
    expected = apps.index.to_numpy()[np.argsort(-proba, axis=1, kind="stable")]
    np.testing.assert_array_equal(lists, expected)
    # LR adds the user's weight to every candidate's: every user gets the same ranking.
    assert (lists == lists[0]).all()


def test_rank_candidates_errors(catalogue):
    users, candidates = catalogue
    model = AffinityModel().fit(None)
    with pytest.raises(NotFittedError):
        rank_candidates(AffinityModel(), users, candidates, k=2)
    with pytest.raises(TypeError, match="users must be a pandas DataFrame"):
        rank_candidates(model, users.to_numpy(), candidates, k=2)
    with pytest.raises(ValueError, match="candidates is empty"):
        rank_candidates(model, users, candidates.iloc[:0], k=2)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, n_candidates=5\]"):
        rank_candidates(model, users, candidates, k=6)
    with pytest.raises(ValueError, match=r"share the column\(s\) \['quality'\]"):
        rank_candidates(model, users.assign(quality=1.0), candidates, k=2)
    with pytest.raises(ValueError, match=r"the model's column\(s\) \['genre_sign'\]"):
        rank_candidates(model, users, candidates.drop(columns="genre_sign"), k=2)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        rank_candidates(model, users, candidates, k=2, batch_size=0)
    with pytest.raises(ValueError, match="predicted NaN"):
        rank_candidates(model, users.assign(taste=np.nan), candidates, k=2)
