"""GAUC and AUC of the behaviour-history models on ``make_behavior_dataset``.

What is measured
----------------
The protocol of ``docs/din.md`` ("Measured"): ``make_behavior_dataset(--rows, random_state=0)``
(1,000 users; a click depends mostly on whether the candidate's category is among the user's 20
most recent behaviours), a random 80/20 split (``random_state=0``), ``max_sequence_length=20``,
``embed_dim=16``, ``init_std=0.1``, ``lr=5e-3``, batch 256, Dice, MLP 200-80, early stopping on
the ROC AUC of 10 % of the training part (at most ``--max-epochs`` epochs, patience 2, the best
epoch's weights restored). Each model is fitted with and without ``adaptive_l2=--adaptive-l2``.
Printed: test AUC, GAUC (impression-weighted, :func:`sk_ctr.metrics.gauc_score`), epochs and
training seconds per model, and the scores of the logit that generated the labels.

How to run
----------
::

    python benchmarks/behavior.py                                # 50k rows, every model
    python benchmarks/behavior.py --models dien,base --rows 5000  # smoke run
"""

from __future__ import annotations

import argparse
import time

from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sk_ctr import DIENClassifier, DINClassifier, EmbeddingMLPClassifier
from sk_ctr.datasets import make_behavior_dataset
from sk_ctr.metrics import gauc_score

#: Model name -> (estimator class, its own parameters).
MODELS = {
    "base": (EmbeddingMLPClassifier, {}),
    "din": (DINClassifier, {}),
    "din-softmax": (DINClassifier, {"attention_normalization": "softmax"}),
    "dien": (DIENClassifier, {}),
    "dien-no-aux": (DIENClassifier, {"aux_loss_weight": 0.0}),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--adaptive-l2", type=float, default=0.5)
    parser.add_argument("--max-epochs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    X, y, logit = make_behavior_dataset(n_samples=args.rows, random_state=0, return_logit=True)
    X_train, X_test, y_train, y_test, _, logit_test = train_test_split(
        X, y, logit, test_size=0.2, random_state=0
    )
    users = X_test["user_id"]
    print(
        f"generating logit: AUC {roc_auc_score(y_test, logit_test):.3f} "
        f"GAUC {gauc_score(y_test, logit_test, users):.3f}",
        flush=True,
    )
    common = {
        "behavior": {"hist_item_id": "item_id", "hist_cate_id": "cate_id"},
        "max_sequence_length": 20,
        "embed_dim": 16,
        "init_std": 0.1,
        "lr": 5e-3,
        "batch_size": 256,
        "max_epochs": args.max_epochs,
        "early_stopping": True,
        "n_iter_no_change": 2,
        "n_threads": args.threads,
        "random_state": 0,
    }
    print("| model | adaptive_l2 | AUC | GAUC | epochs | train s |")
    print("|---|---|---|---|---|---|")
    for name in args.models.split(","):
        cls, own = MODELS[name]
        for adaptive_l2 in (0.0, args.adaptive_l2):
            model = cls(**common, **own, adaptive_l2=adaptive_l2)
            start = time.perf_counter()
            try:
                model.fit(X_train, y_train)
            except FloatingPointError as error:  # the divergence check; the table says so
                print(f"| {name} | {adaptive_l2:g} | failed: {error} | | | |", flush=True)
                continue
            seconds = time.perf_counter() - start
            scores = model.predict_proba(X_test)[:, 1]
            print(
                f"| {name} | {adaptive_l2:g} | {roc_auc_score(y_test, scores):.3f} | "
                f"{gauc_score(y_test, scores, users):.3f} | {len(model.history)} | "
                f"{seconds:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
