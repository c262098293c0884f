"""Recommendation lists from a CTR model: score every user x candidate pair and keep the top k
(the lists of the DeepFM journal's online simulation, section IV-D, measured by the metrics
:func:`~sk_ctr.metrics.personalization_at_k`, :func:`~sk_ctr.metrics.coverage_at_k` and
:func:`~sk_ctr.metrics.popularity_at_k`)."""

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

__all__ = ["rank_candidates"]


def rank_candidates(est, users, candidates, k, *, batch_size=100_000, return_scores=False):
    """The top-``k`` candidates of every user by the click probability a fitted model predicts.

    Each user's row is joined with every candidate's row, the cross product is scored with
    ``est.predict_proba`` and each user keeps the ``k`` candidates of highest probability.
    The cross product is built a chunk of users at a time (``np.repeat`` of the user rows
    beside ``np.tile`` of the candidate rows, no loop over pairs), each chunk holding at most
    ``batch_size`` pairs (at least one user) and only each user's top ``k`` is kept, so memory
    stays bounded for many users and large catalogues.

    Parameters
    ----------
    est : fitted classifier
        Any fitted binary classifier with ``predict_proba`` that takes a DataFrame: an sk_ctr
        estimator, a ``Pipeline`` ... Column 1 of ``predict_proba`` (``classes_[1]``, the
        click) ranks the candidates.
    users : pandas.DataFrame of shape (n_users, n_user_columns)
        One row per user: the user (and context) columns of the model's input.
    candidates : pandas.DataFrame of shape (n_candidates, n_item_columns)
        One row per candidate item: the item columns of the model's input. Its index holds the
        item ids that the lists return (``candidates.set_index("app_id", drop=False)`` keeps
        an id column as a feature too).
    k : int
        Length of the lists, ``1 <= k <= n_candidates``.
    batch_size : int, default=100_000
        Most user x candidate pairs scored by one ``predict_proba`` call (a chunk is at least
        one user's ``n_candidates`` pairs).
    return_scores : bool, default=False
        Also return the click probabilities of the listed items.

    Returns
    -------
    lists : ndarray of shape (n_users, k)
        Row u holds the ids (``candidates.index`` values) of user u's top-k candidates, best
        first. Ties are broken by the candidates' row order (the earlier row first), so the
        lists are deterministic and the top-k' of a k' < k is a prefix of the top-k.
    scores : ndarray of shape (n_users, k)
        The probabilities of the listed items; only with ``return_scores=True``.

    Raises
    ------
    TypeError
        If ``users`` or ``candidates`` is not a DataFrame.
    ValueError
        If either is empty, they share column names, together they lack a column the model was
        fitted on, ``k`` is out of range or the model predicts NaN.

    Notes
    -----
    When ``est`` has ``feature_names_in_`` (every sk_ctr estimator fitted on a DataFrame),
    the pairs get exactly those columns, in the fitted order: other columns of ``users`` or
    ``candidates`` (a user id kept for reporting, say) are left out. Otherwise the pairs hold
    all the user columns followed by all the candidate columns.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sk_ctr import LRClassifier
    >>> from sk_ctr.ranking import rank_candidates
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"user_type": rng.choice(["a", "b"], 500),
    ...                   "app": rng.choice(["x", "y", "z"], 500)})
    >>> y = (X["app"] == "z").to_numpy() | (rng.random(500) < 0.2)
    >>> est = LRClassifier(lr=0.05, max_epochs=10, random_state=0).fit(X, y)
    >>> apps = pd.DataFrame({"app": ["x", "y", "z"]}, index=[10, 11, 12])
    >>> rank_candidates(est, pd.DataFrame({"user_type": ["a", "b"]}), apps, k=2)[:, 0]
    array([12, 12])
    """
    check_is_fitted(est)
    for name, frame in (("users", users), ("candidates", candidates)):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}.")
        if len(frame) == 0:
            raise ValueError(f"{name} is empty: there is nothing to rank.")
    n_users, n_candidates = len(users), len(candidates)
    if isinstance(k, bool) or not isinstance(k, Integral) or not 1 <= k <= n_candidates:
        raise ValueError(f"k must be an integer in [1, n_candidates={n_candidates}], got {k!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}.")
    shared = sorted(set(users.columns) & set(candidates.columns), key=str)
    if shared:
        raise ValueError(
            f"users and candidates share the column(s) {shared}; a pair's row would hold two "
            "values for each."
        )
    columns = list(getattr(est, "feature_names_in_", [*users.columns, *candidates.columns]))
    missing = [c for c in columns if c not in users.columns and c not in candidates.columns]
    if missing:
        raise ValueError(f"Neither users nor candidates has the model's column(s) {missing}.")
    user_part = users[[c for c in users.columns if c in set(columns)]].reset_index(drop=True)
    item_part = candidates[[c for c in candidates.columns if c in set(columns)]]
    item_part = item_part.reset_index(drop=True)

    users_per_chunk = max(1, batch_size // n_candidates)
    order = np.empty((n_users, k), dtype=np.int64)
    top_scores = np.empty((n_users, k), dtype=np.float64)
    for start in range(0, n_users, users_per_chunk):
        chunk = np.arange(start, min(start + users_per_chunk, n_users))
        pairs = pd.concat(
            [
                user_part.iloc[np.repeat(chunk, n_candidates)].reset_index(drop=True),
                item_part.iloc[np.tile(np.arange(n_candidates), len(chunk))].reset_index(drop=True),
            ],
            axis=1,
        )[columns]
        scores = np.asarray(est.predict_proba(pairs), dtype=np.float64)[:, 1]
        scores = scores.reshape(len(chunk), n_candidates)
        if np.isnan(scores).any():
            raise ValueError(
                "The model predicted NaN click probabilities; the lists are undefined."
            )
        # A stable sort of -score keeps tied candidates in row order: deterministic lists
        # whose prefixes are the shorter lists (L = 5, 10, 20 of the journal from one ranking).
        # Only the top k of a chunk are kept, so memory grows with n_users * k.
        order[chunk] = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        top_scores[chunk] = np.take_along_axis(scores, order[chunk], axis=1)
    lists = candidates.index.to_numpy()[order]
    if return_scores:
        return lists, top_scores
    return lists
