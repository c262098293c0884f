"""Post-hoc temperature scaling (issue 13 item 5): the fit against brute force, and the
estimator applying it to every output without changing rankings."""

import numpy as np
import pytest
import torch
from scipy.special import expit
from sklearn.metrics import log_loss, roc_auc_score

from sk_ctr import FMClassifier
from sk_ctr.datasets import make_ctr_classification
from sk_ctr.estimators.calibration import fit_temperature


def brute_force_temperature(logits, y, weights):
    """The temperature of least weighted log-loss against Platt's targets on a grid of
    log-temperatures in [-3, 3], by explicit sums: every 0.01, then every 1e-4 around the best.

    The loss is convex in 1/t (a weighted sum of log(1 + exp(-a/t)) terms), so it has one
    minimum along the grid and the fine grid around the coarse one's best finds it: the same
    point as one grid of 1e-4 steps, for an eighth of the sums."""
    n_pos, n_neg = weights[y == 1].sum(), weights[y == 0].sum()
    targets = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def best(log_grid):
        losses = []
        for t in np.exp(log_grid):  # -log sigmoid(s) = log(1 + exp(-s)), without overflow
            per_row = targets * np.logaddexp(0, -logits / t) + (1 - targets) * np.logaddexp(
                0, logits / t
            )
            losses.append(np.sum(weights * per_row) / weights.sum())
        return log_grid[int(np.argmin(losses))]

    coarse = best(np.linspace(-3, 3, 601))
    return np.exp(best(np.linspace(coarse - 0.01, coarse + 0.01, 201)))


@pytest.mark.parametrize("scale", [0.5, 1.0, 4.0])
def test_fit_temperature_matches_brute_force(scale):
    rng = np.random.default_rng(1)
    z = rng.normal(size=3000)
    y = (rng.random(3000) < expit(z)).astype(float)
    weights = rng.uniform(0.5, 2.0, 3000)
    expected = brute_force_temperature(scale * z, y, weights)
    assert fit_temperature(scale * z, y, weights) == pytest.approx(expected, rel=2e-3)


def test_separated_validation_rows_give_no_certainty():
    """Logits that separate the validation rows perfectly: with 0/1 targets the fit scales
    them by its bound (e^6) and predicts certainties; Platt's targets keep it finite."""
    z = np.array([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0])
    y = (z > 0).astype(float)
    temperature = fit_temperature(z, y)
    assert temperature == pytest.approx(brute_force_temperature(z, y, np.ones(6)), rel=2e-3)
    # three rows of each class attest 0.8 / 0.2, less than these logits (0.95 at z = 3) say:
    # the fit softens them (0/1 targets gave T = e^-6, probabilities of 1 - 1e-300)
    assert temperature > 1


def test_degenerate_inputs_keep_the_logits():
    assert fit_temperature(np.array([]), np.array([])) == 1.0
    assert fit_temperature(np.array([1.0, 2.0]), np.array([1, 1])) == 1.0  # one class
    assert fit_temperature(np.array([np.nan, 2.0]), np.array([0, 1])) == 1.0


@pytest.fixture(scope="module")
def over_confident():
    """An FM trained long with a high learning rate on few rows: over-confident logits."""
    X, y = make_ctr_classification(n_samples=3000, n_fields=6, cardinality=40, random_state=2)
    fit, val, test = slice(0, 1500), slice(1500, 2200), slice(2200, None)
    params = {
        "lr": 0.05,
        "max_epochs": 8,
        "scoring": "roc_auc",
        "n_iter_no_change": 8,
        "random_state": 0,
        "n_threads": 1,
    }
    raw = FMClassifier(calibration=None, **params).fit(X[fit], y[fit], X_val=X[val], y_val=y[val])
    scaled = FMClassifier(**params).fit(X[fit], y[fit], X_val=X[val], y_val=y[val])
    return raw, scaled, X[test], y[test]


def test_the_temperature_softens_the_logits_without_changing_rankings(over_confident):
    raw, scaled, X_test, y_test = over_confident
    assert raw.temperature_ == 1.0 and scaled.temperature_ > 1.5
    np.testing.assert_allclose(
        scaled.decision_function(X_test),
        raw.decision_function(X_test) / scaled.temperature_,
        rtol=1e-6,
    )
    p_raw, p_scaled = raw.predict_proba(X_test)[:, 1], scaled.predict_proba(X_test)[:, 1]
    np.testing.assert_allclose(p_scaled, expit(scaled.decision_function(X_test)), rtol=1e-12)
    assert roc_auc_score(y_test, p_scaled) == roc_auc_score(y_test, p_raw)
    assert log_loss(y_test, p_scaled) < log_loss(y_test, p_raw) - 0.05


def test_the_network_output_is_divided_by_the_temperature(over_confident):
    _, scaled, X_test, _ = over_confident
    encoded = scaled.preprocessor_.transform(X_test)
    scaled.module_.eval()
    with torch.no_grad():
        logits = scaled.module_(torch.as_tensor(encoded["ids"]), torch.as_tensor(encoded["values"]))
    np.testing.assert_allclose(
        scaled.decision_function(X_test), logits.double().numpy() / scaled.temperature_, rtol=1e-6
    )


def test_no_validation_rows_no_temperature():
    X, y = make_ctr_classification(n_samples=500, random_state=0)
    est = FMClassifier(early_stopping=False, max_epochs=1, random_state=0).fit(X, y)
    assert est.temperature_ == 1.0


# ------------------------------------------------------------------ isotonic
def test_isotonic_map_matches_interpolation_and_keeps_every_ranking():
    from sk_ctr.estimators.calibration import fit_isotonic, isotonic_probability

    rng = np.random.default_rng(3)
    z = rng.normal(size=2000) * 3
    y = (rng.random(2000) < expit(z / 3)).astype(float)
    knots = fit_isotonic(z, y)
    assert np.all(np.diff(knots[0]) >= 0) and np.all(np.diff(knots[1]) >= 0)
    probe = np.sort(rng.normal(size=500) * 4)
    mapped = isotonic_probability(probe, knots)
    # a brute-force piecewise-linear interpolation, constant beyond the outer knots
    expected = []
    for value in probe:
        if value <= knots[0][0]:
            expected.append(knots[1][0])
        elif value >= knots[0][-1]:
            expected.append(knots[1][-1])
        else:
            k = np.searchsorted(knots[0], value, side="right") - 1
            x0, x1, p0, p1 = knots[0][k], knots[0][k + 1], knots[1][k], knots[1][k + 1]
            expected.append(p0 + (p1 - p0) * (value - x0) / (x1 - x0))
    np.testing.assert_allclose(mapped, expected, atol=3e-6)
    assert np.all(np.diff(mapped) > 0)  # strictly increasing: no ties, no ranking changed


def test_isotonic_map_predicts_no_certainty_the_validation_rows_cannot_attest():
    from sk_ctr.estimators.calibration import fit_isotonic, isotonic_probability

    # the lowest 300 logits are all negatives, the highest 200 all positives: pure outer blocks
    z = np.linspace(-6, 6, 2000)
    y = np.r_[np.zeros(300), np.arange(1500) % 2, np.ones(200)]
    knots = fit_isotonic(z, y)
    n_pos, n_neg = y.sum(), len(y) - y.sum()
    assert knots[1].min() == pytest.approx(1 / (n_pos + 2))
    assert knots[1].max() == pytest.approx(1 - 1 / (n_neg + 2))
    far = isotonic_probability(np.array([-50.0, 50.0]), knots)
    np.testing.assert_allclose(far, [1 / (n_pos + 2), 1 - 1 / (n_neg + 2)], atol=3e-6)
    weighted = fit_isotonic(z, y, sample_weight=np.full(2000, 2.0))  # counts are weighted
    assert weighted[1].min() == pytest.approx(1 / (2 * n_pos + 2))


def test_isotonic_calibration_is_applied_and_exported(over_confident):
    raw, _, X_test, y_test = over_confident
    params = {
        k: v
        for k, v in raw.get_params().items()
        if k in ("lr", "max_epochs", "scoring", "n_iter_no_change", "random_state", "n_threads")
    }
    X, y = make_ctr_classification(n_samples=3000, n_fields=6, cardinality=40, random_state=2)
    est = FMClassifier(calibration="isotonic", **params).fit(
        X[:1500], y[:1500], X_val=X[1500:2200], y_val=y[1500:2200]
    )
    p, p_raw = est.predict_proba(X_test)[:, 1], raw.predict_proba(X_test)[:, 1]
    assert roc_auc_score(y_test, p) == roc_auc_score(y_test, p_raw)
    assert log_loss(y_test, p) < log_loss(y_test, p_raw) - 0.05
    from sk_ctr.export import _prepare

    wrapper, _, _ = _prepare(est, X_test)
    encoded = est.preprocessor_.transform(X_test)
    with torch.no_grad():
        exported = wrapper(torch.as_tensor(encoded["ids"]), torch.as_tensor(encoded["values"]))
    np.testing.assert_allclose(exported.double().numpy(), p, atol=2e-6)


def test_auto_fits_the_isotonic_map_only_on_enough_validation_rows():
    X, y = make_ctr_classification(
        n_samples=5000, n_fields=4, cardinality=20, positive_rate=0.5, random_state=0
    )
    params = {"max_epochs": 2, "random_state": 0, "n_threads": 1}
    many = FMClassifier(**params).fit(X[:2500], y[:2500], X_val=X[2500:], y_val=y[2500:])
    assert min(np.bincount(y[2500:])) >= 1000 and len(many.isotonic_knots_[0]) > 1
    few = FMClassifier(**params).fit(X[:2500], y[:2500], X_val=X[2500:3000], y_val=y[2500:3000])
    assert not hasattr(few, "isotonic_knots_") and few.temperature_ != 1.0
