"""Model selection for LR, FM and DeepFM on the real Criteo 10k sample, without touching its test
part until the end.

Protocol: the sample is split 80/20 (``random_state=0``); the 80 % training part is split
again 80/20 (stratified, ``random_state=1``) and every configuration of the grid is fitted on the
first and scored on the second (ROC AUC). The best configuration of each model is then refitted
on the whole training part (early stopping on 10 % of it) and scored once on the test part, for
``--seeds`` seeds. ``tests/test_real_data.py`` uses the configurations this script selected.

Run: ``python benchmarks/criteo_selection.py [--data PATH] [--seeds 5]`` (about 2 minutes).
"""

import argparse
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sk_ctr import CTRTransformer, DeepFMClassifier, FMClassifier, LRClassifier
from sk_ctr.datasets import get_data_home, load_criteo

DEFAULT_DATA = get_data_home() / "criteo_kaggle_10k" / "train_examples.txt"
COMMON = {"max_epochs": 40, "early_stopping": True, "n_iter_no_change": 3, "batch_size": 256}
MODELS = {"LR": LRClassifier, "FM": FMClassifier, "DeepFM": DeepFMClassifier}


def grid():
    for min_frequency in (1, 2, 5, 10):
        for l2 in (0.0, 1e-2, 1e-1):
            yield "LR", {"lr": 1e-2, "l2": l2}, min_frequency
            yield "FM", {"lr": 1e-2, "l2": l2, "embed_dim": 10}, min_frequency
            for hidden_units in ((400, 400, 400), (64, 64)):
                deep = {
                    "lr": 1e-3,
                    "l2": l2,
                    "embed_dim": 10,
                    "hidden_units": hidden_units,
                    "dropout": 0.5,
                }
                yield "DeepFM", deep, min_frequency


def build(name, params, min_frequency, seed):
    return MODELS[name](
        **params,
        preprocessor=CTRTransformer(min_frequency=min_frequency),
        random_state=seed,
        **COMMON,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    X, y = load_criteo(args.data)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    X_fit, X_val, y_fit, y_val = train_test_split(
        X_train, y_train, test_size=0.2, random_state=1, stratify=y_train
    )
    best = {}
    for name, params, min_frequency in grid():
        model = build(name, params, min_frequency, seed=0).fit(X_fit, y_fit)
        auc = roc_auc_score(y_val, model.predict_proba(X_val)[:, 1])
        print(f"validation  {name:<7}{auc:.4f}  min_frequency={min_frequency} {params}")
        if auc > best.get(name, (None, None, -1))[2]:
            best[name] = (params, min_frequency, auc)
    print("\ntest AUC of each model's validation-selected configuration, per seed")
    print("seed " + "".join(f"{name:>9}" for name in MODELS))
    scores = {name: [] for name in MODELS}
    for seed in range(args.seeds):
        for name, (params, min_frequency, _) in best.items():
            model = build(name, params, min_frequency, seed).fit(X_train, y_train)
            scores[name].append(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]))
        print(f"{seed:<5}" + "".join(f"{scores[name][-1]:>9.4f}" for name in MODELS))
    print("mean " + "".join(f"{np.mean(scores[name]):>9.4f}" for name in MODELS))
    for name, (params, min_frequency, auc) in best.items():
        print(f"selected {name}: min_frequency={min_frequency} {params} (validation {auc:.4f})")


if __name__ == "__main__":
    main()
