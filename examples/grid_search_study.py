"""A hyper-parameter study with GridSearchCV: the DeepFM journal's dropout figure (Fig. 11).

The journal (section IV-B-4) varies the dropout of the deep models' hidden layers, given there
as the probability of *keeping* a neuron: 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, and finds every model
at its best for a keep probability between 0.6 and 0.9. Here the same sweep is one
``GridSearchCV`` per model over ``dropout`` (the probability of *dropping*, as in PyTorch:
keep = 1 - dropout), scored by cross-validated ROC AUC and log-loss, on the Criteo sample when it
is in the data home (``SK_CTR_DATA``, a checkout's ``../shared/data``) or on synthetic data with
order-2 structure.
The journal ran on Company* (billions of rows); on a few thousand rows expect flatter curves.

Run from the repository root::

    python examples/grid_search_study.py [--small] [--data PATH] [--plot dropout.png]
"""

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # writes a PNG; no display needed

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold  # noqa: E402

from sk_ctr import CTRTransformer, DeepFMClassifier, DNNClassifier, PNNClassifier  # noqa: E402
from sk_ctr.datasets import get_data_home, load_criteo, make_ctr_classification  # noqa: E402

CRITEO = get_data_home() / "criteo_kaggle_10k" / "train_examples.txt"
#: The journal's keep probabilities (Fig. 11).
KEEP = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)


def load(args):
    """Criteo when available (or --data), otherwise synthetic data."""
    path = Path(args.data) if args.data else CRITEO
    rows = 3000 if args.small else None
    if path.is_file():
        X, y = load_criteo(path, n_rows=rows)
        return X, y, f"Criteo sample ({path.name}, {len(X)} rows)"
    X, y = make_ctr_classification(
        n_samples=rows or 20000, n_fields=10, cardinality=100, n_numeric=3, random_state=0
    )
    return X, y, f"synthetic data ({len(X)} rows, order-2 structure)"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--small", action="store_true", help="DeepFM only, three dropout values, 2 folds, 2 epochs"
    )
    parser.add_argument("--data", help="a Criteo file (default: the data home's sample)")
    parser.add_argument("--plot", default="dropout_study.png", help="the figure (PNG)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)

    X, y, description = load(args)
    keep = (1.0, 0.8, 0.5) if args.small else KEEP
    # The journal's Table III deep component (400-400-400, relu) with Adam; IPNN uses tanh
    # there. min_frequency=5 keeps the sample's rare ids from being learned one by one.
    common = {
        "embed_dim": 10,
        "hidden_units": (400, 400, 400),
        "lr": 1e-3,
        "l2": 1e-3,
        "batch_size": 256,
        "max_epochs": 2 if args.small else 5,
        "random_state": 0,
        "n_threads": args.threads,
        "preprocessor": CTRTransformer(min_frequency=5),
    }
    models = {"DeepFM": DeepFMClassifier(**common)}
    if not args.small:
        models["DNN"] = DNNClassifier(**common)
        models["IPNN"] = PNNClassifier(product="inner", **{**common, "activation": "tanh"})
    folds = StratifiedKFold(n_splits=2 if args.small else 3, shuffle=True, random_state=0)
    print(f"{description}; {folds.get_n_splits()}-fold CV, {common['max_epochs']} epochs")

    rows = []
    for name, model in models.items():
        start = time.perf_counter()
        search = GridSearchCV(
            model,
            {"dropout": [round(1 - k, 1) for k in keep]},
            scoring={"auc": "roc_auc", "logloss": "neg_log_loss"},
            refit="auc",
            cv=folds,
        ).fit(X, y)
        results = pd.DataFrame(search.cv_results_)
        for _, result in results.iterrows():
            rows.append(
                {
                    "model": name,
                    "keep": 1 - result["param_dropout"],
                    "auc": result["mean_test_auc"],
                    "auc_std": result["std_test_auc"],
                    "logloss": -result["mean_test_logloss"],
                }
            )
        print(
            f"{name}: best keep probability {1 - search.best_params_['dropout']:.1f} "
            f"(CV AUC {search.best_score_:.4f}), {time.perf_counter() - start:.0f} s"
        )
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))

    figure, (auc_ax, loss_ax) = plt.subplots(1, 2, figsize=(9, 3.5))
    for name, part in table.groupby("model", sort=False):
        auc_ax.errorbar(
            part["keep"], part["auc"], yerr=part["auc_std"], marker="o", capsize=3, label=name
        )
        loss_ax.plot(part["keep"], part["logloss"], marker="o", label=name)
    for ax, label in ((auc_ax, "CV ROC AUC"), (loss_ax, "CV log-loss")):
        ax.set_xlabel("keep probability (1 - dropout)")
        ax.set_ylabel(label)
        ax.invert_xaxis()  # the journal's order: 1.0 on the left
        ax.legend(fontsize=8)
    figure.suptitle("Dropout study (DeepFM journal Fig. 11) on " + description, fontsize=9)
    figure.tight_layout()
    figure.savefig(args.plot, dpi=100)
    print(f"figure written to {args.plot}")


if __name__ == "__main__":
    main()
