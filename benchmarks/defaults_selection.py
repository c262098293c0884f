"""Choose training defaults on validation splits of the *training* parts only.

Every data set's training part (the same one ``python -m sk_ctr.benchmark`` trains on) is split
80/20 again (stratified, ``--split-seed``, default 1); each configuration is fitted on the 80 %
and scored on the 20 %. The test parts are never loaded. LightGBM (``LGBMClassifier()`` on
category columns, its own early stopping on 10 % of the fitting rows) is fitted on the same
rows as the yardstick. One JSON line per fit goes to stdout. The grid key ``lr_schedule``
(``"FACTOR:PATIENCE"`` or null) adds skorch's ``LRScheduler`` with torch's
``ReduceLROnPlateau`` on the validation AUC (``"0.3:1"``: lr times 0.3 after one epoch without
a gain).

    GOMP_SPINCOUNT=1000 python benchmarks/defaults_selection.py --data criteo,frappe \\
        --model deepfm --grid '{"lr": [1e-3, 3e-3], "batch_size": [256, "auto"]}'

Results and the chosen defaults: docs/defaults.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split

import sk_ctr
from sk_ctr.benchmark import load_benchmark_data


def validation_split(data, split_seed, test=False):
    """The 80/20 split of a data set's training part: (X_fit, y_fit, X_val, y_val); with
    ``test``, the training part and the test part (for the final report only)."""
    X, y, X_test, y_test = load_benchmark_data(data)
    if test:
        return X.reset_index(drop=True), y, X_test.reset_index(drop=True), y_test
    X_fit, X_val, y_fit, y_val = train_test_split(
        X, y, test_size=0.2, random_state=split_seed, stratify=y
    )
    return X_fit.reset_index(drop=True), y_fit, X_val.reset_index(drop=True), y_val


def lightgbm_row(X_fit, y_fit, X_val, y_val, seed):
    """LightGBM at its defaults with early stopping on 10 % of the fitting rows."""
    import lightgbm

    def as_category(frame):
        frame = frame.copy()
        for name in frame.columns:
            if not pd.api.types.is_float_dtype(frame[name]):
                frame[name] = frame[name].astype("string").astype("category")
        return frame

    X_all = as_category(pd.concat([X_fit, X_val], ignore_index=True))
    X_fit_c, X_val_c = X_all.iloc[: len(X_fit)], X_all.iloc[len(X_fit) :]
    X_tr, X_es, y_tr, y_es = train_test_split(
        X_fit_c, y_fit, test_size=0.1, random_state=seed, stratify=y_fit
    )
    model = lightgbm.LGBMClassifier(random_state=seed, verbose=-1, n_jobs=1)
    model.fit(
        X_tr, y_tr, eval_set=[(X_es, y_es)], callbacks=[lightgbm.early_stopping(10, verbose=False)]
    )
    return model.predict_proba(X_val_c)[:, 1]


def catboost_row(X_fit, y_fit, X_val, y_val, seed):
    """CatBoost with ``cat_features`` (its ordered target statistics) and its early stopping
    on 10 % of the fitting rows."""
    import catboost

    def as_strings(frame):
        frame = frame.copy()
        for name in frame.columns:
            if not pd.api.types.is_float_dtype(frame[name]):
                frame[name] = frame[name].astype("string").fillna("NA").astype(str)
        return frame

    X_fit, X_val = as_strings(X_fit), as_strings(X_val)
    categorical = [c for c in X_fit.columns if not pd.api.types.is_float_dtype(X_fit[c])]
    X_tr, X_es, y_tr, y_es = train_test_split(
        X_fit, y_fit, test_size=0.1, random_state=seed, stratify=y_fit
    )
    model = catboost.CatBoostClassifier(
        random_seed=seed,
        verbose=False,
        thread_count=1,
        allow_writing_files=False,
        early_stopping_rounds=50,
    )
    model.fit(X_tr, y_tr, cat_features=categorical, eval_set=(X_es, y_es))
    return model.predict_proba(X_val)[:, 1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="criteo")
    parser.add_argument(
        "--model",
        default="deepfm",
        help="an estimator class name or spelling, e.g. DeepFMClassifier, fm",
    )
    parser.add_argument("--grid", default="{}", help="JSON dict of parameter lists")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--split-seed", type=int, default=1)
    parser.add_argument("--lightgbm", action="store_true", help="add the LightGBM row")
    parser.add_argument("--catboost", action="store_true", help="add the CatBoost row")
    parser.add_argument(
        "--test",
        action="store_true",
        help="fit on the training part, score the test part: for the report of "
        "settings already chosen, never for choosing them",
    )
    args = parser.parse_args(argv)
    grid = json.loads(args.grid)
    names = sorted(grid)
    seeds = [int(s) for s in args.seeds.split(",")]
    estimator = _estimator_class(args.model)
    for data in args.data.split(","):
        X_fit, y_fit, X_val, y_val = validation_split(data, args.split_seed, args.test)
        references = [("lightgbm", lightgbm_row)] if args.lightgbm else []
        references += [("catboost", catboost_row)] if args.catboost else []
        for name, row in references:
            for seed in seeds:
                start = time.perf_counter()
                p = row(X_fit, y_fit, X_val, y_val, seed)
                _emit(data, name, {}, seed, y_val, p, time.perf_counter() - start, None)
        for values in itertools.product(*(grid[n] for n in names)):
            params = dict(zip(names, values, strict=True))
            for seed in seeds:
                model = estimator(random_state=seed, n_threads=1, **_with_schedule(params))
                start = time.perf_counter()
                try:
                    model.fit(X_fit, y_fit)
                except Exception as error:  # a failing configuration is a row, not the end
                    print(
                        json.dumps(
                            {
                                "data": data,
                                "model": args.model,
                                "params": params,
                                "error": repr(error),
                            }
                        ),
                        flush=True,
                    )
                    continue
                p = model.predict_proba(X_val)[:, 1]
                _emit(data, args.model, params, seed, y_val, p, time.perf_counter() - start, model)


def _with_schedule(params):
    """``params`` with ``lr_schedule="FACTOR:PATIENCE"`` turned into a skorch ``LRScheduler``
    callback reducing the learning rate when the validation AUC stops improving."""
    params = dict(params)
    schedule = params.pop("lr_schedule", None)
    if schedule is None:
        return params
    from skorch.callbacks import LRScheduler
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    factor, patience = schedule.split(":")
    scheduler = LRScheduler(
        policy=ReduceLROnPlateau,
        monitor="valid_auc",
        mode="max",
        factor=float(factor),
        patience=int(patience),
    )
    return {**params, "callbacks": [("lr_plateau", scheduler)]}


def _estimator_class(name):
    if hasattr(sk_ctr, name):
        return getattr(sk_ctr, name)
    spelled = {
        "lr": "LRClassifier",
        "fm": "FMClassifier",
        "dnn": "DNNClassifier",
        "deepfm": "DeepFMClassifier",
        "pnn": "PNNClassifier",
        "dcn": "DCNClassifier",
        "ffm": "FFMClassifier",
        "fwfm": "FwFMClassifier",
        "afm": "AFMClassifier",
        "autofis": "AutoFISClassifier",
        "widedeep": "WideDeepClassifier",
        "fnn": "FNNClassifier",
    }
    return getattr(sk_ctr, spelled[name.lower()])


def _emit(data, model, params, seed, y_val, p, seconds, fitted):
    row = {
        "data": data,
        "model": model,
        "params": params,
        "seed": seed,
        "auc": round(roc_auc_score(y_val, p), 5),
        "logloss": round(log_loss(y_val, np.clip(p, 1e-7, 1 - 1e-7)), 5),
        "seconds": round(seconds, 1),
    }
    if fitted is not None:
        row["epochs"] = len(fitted.history_)
        row["best_epoch"] = int(fitted.best_epoch_)
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    sys.exit(main())
