"""The main job on built-in synthetic data: LR, FM, DNN and DeepFM side by side.

Run ``python -m sk_ctr.demo`` (``--help`` for options). The data has known order-1 and
order-2 structure (:func:`sk_ctr.datasets.make_ctr_classification`), so the models that learn
feature interactions (FM, DeepFM) should beat logistic regression by a clear margin.
"""

import argparse
import time

from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split

from sk_ctr import DeepFMClassifier, DNNClassifier, FMClassifier, LRClassifier
from sk_ctr.datasets import make_ctr_classification


def compare_models(n_samples=50_000, n_fields=10, n_numeric=3, random_state=0):
    """Fit the four models on one split and return rows of (name, AUC, log-loss, seconds)."""
    X, y = make_ctr_classification(
        n_samples=n_samples,
        n_fields=n_fields,
        n_numeric=n_numeric,
        cardinality=100,
        random_state=random_state,
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=random_state, stratify=y
    )
    training = {
        "max_epochs": 30,
        "early_stopping": True,
        "lr": 1e-2,
        "batch_size": 1024,
        "random_state": random_state,
    }
    deep = {"embed_dim": 8, "hidden_units": (128, 128), "dropout": 0.2, "l2": 1e-3}
    models = {
        "LR": LRClassifier(**training),
        "FM": FMClassifier(embed_dim=8, l2=1e-3, **training),
        "DNN": DNNClassifier(**deep, **training),
        "DeepFM": DeepFMClassifier(**deep, **training),
    }
    rows = []
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(X_train, y_train)
        proba = model.predict_proba(X_test)[:, 1]
        seconds = time.perf_counter() - start
        rows.append((name, roc_auc_score(y_test, proba), log_loss(y_test, proba), seconds))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--fields", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(
        f"Synthetic CTR data: {args.samples} rows, {args.fields} categorical + 3 numeric "
        "columns, order-2 structure; 80/20 split, early stopping on 10% of the train part."
    )
    print(f"{'model':<8}{'test AUC':>10}{'logloss':>10}{'fit+predict s':>15}")
    for name, auc, loss, seconds in compare_models(args.samples, args.fields, 3, args.seed):
        print(f"{name:<8}{auc:>10.4f}{loss:>10.4f}{seconds:>15.1f}")


if __name__ == "__main__":
    main()
