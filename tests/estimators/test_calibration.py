"""Predictions corrected for negative down-sampling (issue: the user's side, calibration)."""

import numpy as np
import pytest

from sk_ctr import FMClassifier, LRClassifier
from sk_ctr.datasets import make_ctr_classification


@pytest.fixture(scope="module")
def down_sampled():
    """20,000 impressions at a 10 % click rate, and a training set keeping 25 % of negatives."""
    X, y = make_ctr_classification(
        n_samples=20000, n_fields=5, cardinality=20, positive_rate=0.1, random_state=0
    )
    rng = np.random.default_rng(0)
    keep = (y == 1) | (rng.random(len(y)) < 0.25)
    return X, y, X[keep], y[keep]


@pytest.mark.parametrize("cls", [LRClassifier, FMClassifier])
def test_mean_prediction_returns_to_the_true_rate(cls, down_sampled):
    X, y, X_train, y_train = down_sampled
    assert y_train.mean() > 0.25  # the model sees ~31 % clicks
    params = {"max_epochs": 5, "lr": 1e-2, "batch_size": 256, "n_threads": 1, "random_state": 0}
    raw = cls(**params).fit(X_train, y_train)
    corrected = cls(negative_sampling_rate=0.25, **params).fit(X_train, y_train)
    assert raw.predict_proba(X)[:, 1].mean() > 0.2  # uncorrected: about 2.5x too high
    assert abs(corrected.predict_proba(X)[:, 1].mean() - y.mean()) < 0.01  # true rate 0.10
    # the same network: only the probabilities move, by odds x w; rankings are unchanged
    p, q = raw.predict_proba(X)[:, 1], corrected.predict_proba(X)[:, 1]
    np.testing.assert_allclose(q, p / (p + (1 - p) / 0.25), rtol=1e-6)
    np.testing.assert_allclose(
        corrected.decision_function(X),
        raw.decision_function(X) + np.log(0.25),
        rtol=1e-5,
        atol=1e-5,
    )
    np.testing.assert_allclose(corrected.predict_proba(X).sum(axis=1), 1.0)


def test_invalid_rate_is_named(down_sampled):
    X, y, _, _ = down_sampled
    with pytest.raises(ValueError, match="'negative_sampling_rate' parameter"):
        LRClassifier(negative_sampling_rate=0).fit(X, y)
