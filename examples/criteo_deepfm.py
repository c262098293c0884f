"""DeepFM on the Criteo sample: a raw DataFrame in, probabilities out, then a small grid search.

Run from the repository root (the Criteo sample is read from the data home, SK_CTR_DATA:
../shared/data in a checkout; or pass --data)::

    python examples/criteo_deepfm.py [--data PATH] [--rows N]
"""

import argparse
from pathlib import Path

from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split

from sk_ctr import CTRTransformer, DeepFMClassifier, LRClassifier
from sk_ctr.datasets import get_data_home, load_criteo

DEFAULT_DATA = get_data_home() / "criteo_kaggle_10k" / "train_examples.txt"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rows", type=int, default=None, help="read only the first N rows")
    args = parser.parse_args(argv)

    X, y = load_criteo(args.data, n_rows=args.rows)  # I1..I13 numeric, C1..C26 strings
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)

    training = {"max_epochs": 40, "early_stopping": True, "batch_size": 256, "random_state": 0}
    models = {
        "LR": LRClassifier(
            lr=1e-2, l2=0.1, preprocessor=CTRTransformer(min_frequency=10), **training
        ),
        "DeepFM": DeepFMClassifier(
            embed_dim=10,
            hidden_units=(64, 64),
            dropout=0.5,
            lr=1e-3,
            preprocessor=CTRTransformer(min_frequency=5),
            **training,
        ),
    }
    for name, model in models.items():
        p = model.fit(X_train, y_train).predict_proba(X_test)[:, 1]
        auc, loss = roc_auc_score(y_test, p), log_loss(y_test, p)
        print(f"{name:<7} test AUC {auc:.4f}  logloss {loss:.4f}  epochs {len(model.history)}")

    search = GridSearchCV(
        DeepFMClassifier(hidden_units=(64, 64), max_epochs=3, batch_size=256, random_state=0),
        {"embed_dim": [4, 8], "dropout": [0.2, 0.5]},
        scoring="roc_auc",
        cv=2,
    ).fit(X_train, y_train)
    print("grid search best:", search.best_params_, f"CV AUC {search.best_score_:.4f}")


if __name__ == "__main__":
    main()
