"""Compare post-hoc calibrations of one fitted network on validation splits of training parts.

Each data set's training part is split 80/20 as in ``defaults_selection.py`` (the test part is
never loaded); the 80 % is split again 90/10 (stratified, the held-out 10 % of
``early_stopping="auto"``), the estimator is fitted with ``calibration=None`` and those 10 % as
``X_val``, and every calibration below is fitted on the raw logits of the 10 % and scored on
the 20 %: one fit per data set serves every calibration. One JSON line per calibration.

    GOMP_SPINCOUNT=1000 python benchmarks/calibration_selection.py --data criteo,frappe

Calibrations: ``none`` (the raw sigmoid), ``temperature`` and ``isotonic-bounded`` (what
``calibration="temperature"`` / ``"isotonic"`` fit: the isotonic map with its probabilities
kept within [1 / (n_pos + 2), 1 - 1 / (n_neg + 2)] of the held-out rows, so that no block of
one class predicts a certainty), ``isotonic`` (the map within [1e-6, 1 - 1e-6], as
``calibration="isotonic"`` fitted before), ``platt`` (a logistic regression on the logit: a
temperature and a bias) and ``isotonic+temperature`` (the mean of the isotonic map and the
temperature's sigmoid). Results: docs/defaults.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from defaults_selection import _estimator_class, _with_schedule, lightgbm_row, validation_split
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split

from sk_ctr.estimators.calibration import fit_isotonic, fit_temperature, isotonic_probability


def calibrations(z_held, y_held):
    """Name -> function from raw logits to probabilities, each fitted on the held-out rows."""
    temperature = fit_temperature(z_held, y_held)
    bounded = fit_isotonic(z_held / temperature, y_held)
    unbounded = IsotonicRegression(y_min=1e-6, y_max=1 - 1e-6, out_of_bounds="clip")
    unbounded.fit(z_held / temperature, y_held)
    knots = (unbounded.X_thresholds_, unbounded.y_thresholds_)
    platt = LogisticRegression(C=1e6).fit(z_held[:, None], y_held)

    def isotonic(z):
        return isotonic_probability(z / temperature, knots)

    return {
        "none": expit,
        "temperature": lambda z: expit(z / temperature),
        "platt": lambda z: platt.predict_proba(z[:, None])[:, 1],
        "isotonic": isotonic,
        "isotonic-bounded": lambda z: isotonic_probability(z / temperature, bounded),
        "isotonic+temperature": lambda z: (isotonic(z) + expit(z / temperature)) / 2,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="criteo")
    parser.add_argument("--model", default="deepfm")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split-seed", type=int, default=1)
    parser.add_argument(
        "--params",
        default="{}",
        help="JSON dict of estimator parameters (and lr_schedule, as in defaults_selection.py)",
    )
    parser.add_argument(
        "--test",
        action="store_true",
        help="fit on the training part, score the test part: for the report of "
        "a choice already made, never for making it",
    )
    args = parser.parse_args(argv)
    estimator = _estimator_class(args.model)
    params = json.loads(args.params)
    for data in args.data.split(","):
        X_fit, y_fit, X_val, y_val = validation_split(data, args.split_seed, args.test)
        p = lightgbm_row(X_fit, y_fit, X_val, y_val, args.seed)
        _emit(data, "lightgbm", {}, "-", y_val, p, None)
        X_tr, X_held, y_tr, y_held = train_test_split(
            X_fit, y_fit, test_size=0.1, random_state=args.seed, stratify=y_fit
        )
        model = estimator(
            random_state=args.seed, n_threads=1, calibration=None, **_with_schedule(params)
        )
        start = time.perf_counter()
        model.fit(X_tr, y_tr, X_val=X_held, y_val=y_held)
        seconds = time.perf_counter() - start
        z_held, z_val = model.decision_function(X_held), model.decision_function(X_val)
        for name, calibrate in calibrations(z_held, np.asarray(y_held)).items():
            _emit(
                data,
                args.model,
                params,
                name,
                y_val,
                calibrate(z_val),
                {"best_epoch": int(model.best_epoch_), "seconds": round(seconds, 1)},
            )


def _emit(data, model, params, calibration, y, p, extra):
    row = {
        "data": data,
        "model": model,
        "params": params,
        "calibration": calibration,
        "auc": round(roc_auc_score(y, p), 5),
        "logloss": round(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)), 5),
        **(extra or {}),
    }
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    sys.exit(main())
