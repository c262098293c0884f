"""Post-hoc calibration of the logits on the validation rows, after training.

``"temperature"`` (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017): one
scalar T divides every logit. ``"isotonic"`` (Zadrozny & Elkan, KDD 2002): a non-decreasing
piecewise-linear map from the logit to the probability, fitted by isotonic regression; ties
it would create are broken by the logit itself, so no ranking changes either.

CTR networks that train for several epochs rank well but become over-confident: on Frappe the
models with the best AUC had validation log-losses of 0.55-0.74 against LR's 0.30
(docs/benchmarks.md). Dividing the logits by T > 1 softens them without changing any ranking,
so AUC, GAUC and the list metrics stay exactly as trained while the log-loss drops.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_expit

from sk_ctr.preprocessing.batch import SAMPLE_WEIGHT
from sk_ctr.training.callbacks import AfterTrainingOnValidation

#: History key of the temperature fitted at the end of training (read back by the estimator,
#: also when a spawned worker trained).
TEMPERATURE_KEY = "temperature"
#: History key of the isotonic map's knots ``(logits, probabilities)``.
ISOTONIC_KEY = "isotonic_knots"
#: Share of the probability given to sigmoid(logit) next to the isotonic map: strictly
#: increasing in the logit, so rows the map puts on one plateau keep the network's order.
TIE_BREAK_SHARE = 1e-6
#: ``calibration="auto"`` fits the isotonic map when the validation rows hold at least this many
#: rows of each class, else the temperature alone. Isotonic regression has one free value per
#: block and over-fits small sets (scikit-learn's calibration guide advises against it well
#: below 1,000 samples); measured on validation splits: Frappe (1,400 clicks held out) DeepFM
#: log-loss 0.320 -> 0.259 with it, Criteo (140) 0.455 -> 0.492, iPinYou (20) 0.053 -> 0.064.
AUTO_ISOTONIC_MIN_CLASS_ROWS = 1000
#: The scale 1/T is searched in [exp(-LOG_SCALE_BOUND), exp(LOG_SCALE_BOUND)].
LOG_SCALE_BOUND = 6.0


def fit_temperature(logits, y, sample_weight=None):
    """The temperature T minimising the (weighted) mean log-loss of sigmoid(logits / T)
    against Platt's targets.

    The targets are Platt's (1999, as scikit-learn's sigmoid calibration): ``(n_pos + 1) /
    (n_pos + 2)`` for a click and ``1 / (n_neg + 2)`` for a non-click, the same bounds as
    :func:`isotonic_bounds`. With 0/1 targets, validation rows that the logits separate
    perfectly drive T to its bound and every prediction to a certainty (a 400-row Taobao
    sample: test log-loss 20.2); a few hundred rows of each class move T by well under 1 %.
    The log-loss of sigmoid(a z) is convex in the scale a = 1/T, so a bounded scalar search
    over log a finds its minimum.

    Parameters
    ----------
    logits : array-like of shape (n_samples,)
    y : array-like of shape (n_samples,)
        0/1 labels.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> true_logits = rng.normal(size=20_000)
    >>> y = rng.random(20_000) < 1 / (1 + np.exp(-true_logits))
    >>> round(fit_temperature(3 * true_logits, y), 1)   # three times over-confident
    3.0
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.ones_like(z) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if z.size == 0 or not np.all(np.isfinite(z)) or np.unique(y).size < 2:
        return 1.0
    low, high = isotonic_bounds(y, w)
    y = np.where(y > 0.5, 1 - low, 1 - high)  # Platt's targets (n_pos+1)/(n_pos+2), 1/(n_neg+2)

    def loss(log_scale):
        a = np.exp(log_scale) * z
        return -np.average(y * log_expit(a) + (1 - y) * log_expit(-a), weights=w)

    result = minimize_scalar(
        loss, bounds=(-LOG_SCALE_BOUND, LOG_SCALE_BOUND), method="bounded", options={"xatol": 1e-6}
    )
    return float(np.exp(-result.x))


def isotonic_bounds(y, sample_weight=None):
    """The probabilities the isotonic map is kept within: ``1 / (n_pos + 2)`` and
    ``1 - 1 / (n_neg + 2)`` for the (weighted) counts of each class on the validation rows.

    The outer blocks of an isotonic fit often hold one class only and would predict a
    certainty (a click then costs the log-loss -log 1e-6 = 13.8); a validation set with n_pos
    clicks cannot attest a click probability below about 1 / n_pos. Chosen on validation
    splits of the training parts (``benchmarks/calibration_selection.py``): Frappe DeepFM
    log-loss 0.2797 -> 0.2728 (docs/defaults.md).

    >>> isotonic_bounds(np.array([0, 0, 0, 1]))
    (0.3333333333333333, 0.8)
    """
    y = np.asarray(y, dtype=np.float64)
    w = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight, np.float64)
    n_pos = float(np.sum(w * y))
    return 1 / (n_pos + 2), 1 - 1 / (float(np.sum(w)) - n_pos + 2)


def fit_isotonic(logits, y, sample_weight=None):
    """Knots ``(x, p)`` of the non-decreasing piecewise-linear map from a logit to a click
    probability of least squared error on the validation rows (scikit-learn's
    ``IsotonicRegression``), probabilities clipped to :func:`isotonic_bounds`; ``None`` when
    the rows cannot fit one (one class, no rows)."""
    from sklearn.isotonic import IsotonicRegression

    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if z.size == 0 or not np.all(np.isfinite(z)) or np.unique(y).size < 2:
        return None
    low, high = isotonic_bounds(y, sample_weight)
    regression = IsotonicRegression(y_min=low, y_max=high, out_of_bounds="clip")
    regression.fit(z, y, sample_weight=sample_weight)
    return regression.X_thresholds_.copy(), regression.y_thresholds_.copy()


def isotonic_probability(logits, knots):
    """The isotonic map at ``logits`` (constant beyond the outer knots), with the
    :data:`TIE_BREAK_SHARE` of sigmoid(logit) that keeps it strictly increasing.

    >>> knots = (np.array([-1.0, 0.0, 1.0]), np.array([0.1, 0.1, 0.9]))
    >>> isotonic_probability(np.array([-5.0, -0.5, 0.5, 5.0]), knots).round(4)
    array([0.1, 0.1, 0.5, 0.9])
    """
    z = np.asarray(logits, dtype=np.float64)
    mapped = np.interp(z, knots[0], knots[1])
    return (1 - 2 * TIE_BREAK_SHARE) * mapped + TIE_BREAK_SHARE * (2 * expit(z))


class ValidationTemperature(AfterTrainingOnValidation):
    """Fit the calibration on the validation rows once training ends (after early stopping
    restored the best weights: this callback comes after it) and record it in the history:
    the temperature, and with ``method="isotonic"`` (or ``"auto"`` on enough rows) the
    isotonic map's knots (fitted on the logits divided by the temperature)."""

    def __init__(self, method="auto"):
        self.method = method

    def on_validation_rows(self, net, dataset):
        logits, labels, weights = [], [], []
        net.module_.eval()
        with torch.no_grad():
            for X, y in net.get_iterator(dataset, training=False):
                logits.append(net.infer(X).float().cpu().numpy())
                labels.append(np.asarray(y))
                if isinstance(X, dict) and SAMPLE_WEIGHT in X:
                    weights.append(np.asarray(X[SAMPLE_WEIGHT]))
        weights = np.concatenate(weights) if weights else None
        logits, labels = np.concatenate(logits), np.concatenate(labels)
        temperature = fit_temperature(logits, labels, weights)
        net.history.record(TEMPERATURE_KEY, temperature)
        if self.method == "isotonic" or (
            self.method == "auto"
            and np.unique(labels, return_counts=True)[1].min() >= AUTO_ISOTONIC_MIN_CLASS_ROWS
        ):
            knots = fit_isotonic(logits / temperature, labels, weights)
            if knots is not None:
                net.history.record(ISOTONIC_KEY, [knots[0].tolist(), knots[1].tolist()])
