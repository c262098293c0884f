"""DIN against its base model (embedding & MLP with sum pooling) on behaviour histories, by GAUC.

``make_behavior_dataset`` draws impressions whose click depends mostly on whether the
candidate's category is among the user's recent behaviours (local activation, DIN section 3.1).
The base model sums the history; DIN weighs each past behaviour by its relevance to the
candidate (eq. 3). Both are scored by test ROC AUC and by GAUC, the per-user AUC the paper
reports (eq. 2); the attention of one impression is drawn to a PNG (docs/din.md).

Run from the repository root::

    python examples/din_behavior.py [--small] [--plot din_attention.png]
"""

import argparse
import time

import matplotlib

matplotlib.use("Agg")  # writes a PNG; no display needed

from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from sk_ctr import DINClassifier, EmbeddingMLPClassifier  # noqa: E402
from sk_ctr.datasets import make_behavior_dataset  # noqa: E402
from sk_ctr.metrics import gauc_score  # noqa: E402
from sk_ctr.plotting import plot_attention  # noqa: E402

BEHAVIOR = {"hist_item_id": "item_id", "hist_cate_id": "cate_id"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--small", action="store_true", help="few rows and epochs: a smoke run of a few seconds"
    )
    parser.add_argument(
        "--plot",
        default="din_attention.png",
        help="where to write the attention of one test impression (PNG)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)

    X, y = make_behavior_dataset(n_samples=4000 if args.small else 50_000, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    # The settings of docs/din.md's measurements: Dice, 200-80, attention (36,), adaptive L2.
    settings = {
        "behavior": BEHAVIOR,
        "max_sequence_length": 20,
        "embed_dim": 16,
        "init_std": 0.1,
        "hidden_units": (200, 80),
        "adaptive_l2": 0.1,
        "lr": 5e-3,
        "batch_size": 256,
        "max_epochs": 2 if args.small else 15,
        "early_stopping": not args.small,
        "n_iter_no_change": 2,
        "random_state": 0,
        "n_threads": args.threads,
    }
    models = {
        "EmbeddingMLP (sum pooling)": EmbeddingMLPClassifier(**settings),
        "DIN (paper: no softmax)": DINClassifier(**settings),
        "DIN (softmax attention)": DINClassifier(attention_normalization="softmax", **settings),
    }
    print(
        f"{len(X_train)} training impressions of {X['user_id'].nunique()} users, "
        f"{len(X_test)} test impressions"
    )
    print(f"{'model':<28}{'test AUC':>9}{'GAUC':>8}{'epochs':>8}{'fit s':>7}")
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        p = model.predict_proba(X_test)[:, 1]
        auc = roc_auc_score(y_test, p)
        gauc = gauc_score(y_test, p, groups=X_test["user_id"])
        print(f"{name:<28}{auc:>9.4f}{gauc:>8.4f}{len(model.history_):>8}{seconds:>7.1f}")

    din = models["DIN (softmax attention)"]
    # A clicked impression with a history of a few behaviours, so the bars stay readable.
    lengths = X_test["hist_item_id"].map(len)
    chosen = X_test[(y_test == 1) & (lengths >= 5) & (lengths <= 20)]
    row = chosen.iloc[0] if len(chosen) else X_test.iloc[0]
    ax = plot_attention(din, row)
    ax.figure.savefig(args.plot, dpi=100, bbox_inches="tight")
    print(f"attention of one clicked impression written to {args.plot}")


if __name__ == "__main__":
    main()
