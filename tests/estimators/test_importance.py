"""feature_importances_ after fit (issue 13 item 8): permutation importances on the held-out
rows, as sk_ctr.inspection computes them, at the first read rather than in every fit."""

import pickle

import numpy as np
import pandas as pd
import pytest

from sk_ctr import FMClassifier, LRClassifier
from sk_ctr.inspection import field_permutation_importance


@pytest.fixture(scope="module")
def one_signal():
    """The click depends on "ad" only; "noise" is independent of it."""
    rng = np.random.default_rng(0)
    n = 3000
    ad = rng.integers(0, 20, n)
    X = pd.DataFrame(
        {
            "ad": ad.astype(str),
            "noise": rng.integers(0, 20, n).astype(str),
            "price": rng.normal(size=n),
        }
    )
    y = (rng.random(n) < np.where(ad < 10, 0.6, 0.1)).astype(int)
    return X.iloc[:2400], y[:2400], X.iloc[2400:], y[2400:]


def test_importances_are_the_permutation_importances_of_the_validation_rows(one_signal):
    X, y, X_val, y_val = one_signal
    est = FMClassifier(max_epochs=5, random_state=0).fit(X, y, X_val=X_val, y_val=y_val)
    assert est.feature_importances_.shape == (3,)
    expected = field_permutation_importance(
        est, est.preprocessor_.transform(X_val), y_val, n_repeats=2, random_state=0,
        max_rows=None,
    )  # fmt: skip
    np.testing.assert_allclose(
        est.feature_importances_, expected.importances_mean[list(X.columns)].to_numpy()
    )
    ad, noise, _ = est.feature_importances_
    assert ad > 0.2 and abs(noise) < 0.02


def test_no_validation_rows_no_importances(one_signal):
    X, y, _, _ = one_signal
    est = LRClassifier(max_epochs=1, early_stopping=False).fit(X, y)
    assert not hasattr(est, "feature_importances_")
    est.set_params(early_stopping=True).fit(X, y)
    assert est.feature_importances_.shape == (3,)
    est.set_params(early_stopping=False).fit(X, y)  # a refit removes the stale ones
    assert not hasattr(est, "feature_importances_")


def test_a_fit_scores_no_permutation_until_the_importances_are_read(one_signal):
    X, y, X_val, y_val = one_signal
    est = FMClassifier(max_epochs=2, random_state=0).fit(X, y, X_val=X_val, y_val=y_val)
    assert est.held_out_importance_.importances is None
    restored = pickle.loads(pickle.dumps(est))  # the rows travel with the estimator
    scored = []
    est.module_.register_forward_hook(lambda module, args, out: scored.append(len(out)))
    first = est.feature_importances_
    assert sum(scored) == len(X_val) * (1 + 2 * 3)  # the baseline, 2 shuffles of 3 fields
    np.testing.assert_array_equal(est.feature_importances_, first)  # computed once
    assert sum(scored) == len(X_val) * 7 and est.held_out_importance_.X is None
    np.testing.assert_array_equal(restored.feature_importances_, first)


def test_at_most_importance_rows_are_kept(one_signal, monkeypatch):
    import sk_ctr.estimators.importance as importance

    X, y, X_val, y_val = one_signal
    monkeypatch.setattr(importance, "IMPORTANCE_ROWS", 100)
    est = FMClassifier(max_epochs=1, random_state=0).fit(X, y, X_val=X_val, y_val=y_val)
    kept = est.held_out_importance_
    assert len(kept.X) == len(kept.y) == 100
    assert set(kept.y) == {0, 1}
    assert est.feature_importances_.shape == (3,)
