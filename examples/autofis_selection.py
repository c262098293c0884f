"""AutoFIS interaction selection: search, read the selection, draw it, transfer it to DeepFM.

AutoFIS (Liu et al., KDD 2020) gates every pair of fields and lets GRDA close the gates of the
pairs that do not help (docs/autofis.md). By default this runs on the paper's synthetic set
(section 4.5.2), whose label depends on three planted pairs only, so the right answer is known:
(x0, x1), (x2, x5) and (x3, x4). ``--criteo PATH`` runs it on the Criteo sample instead.

Run from the repository root::

    python examples/autofis_selection.py [--small] [--criteo PATH] [--plot autofis.png]
"""

import argparse
import time

import matplotlib

matplotlib.use("Agg")  # writes a PNG; no display needed

from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from sk_ctr import AutoFISClassifier, DeepFMClassifier, FMClassifier  # noqa: E402
from sk_ctr.datasets import load_criteo, make_interaction_dataset  # noqa: E402
from sk_ctr.plotting import plot_interactions  # noqa: E402

PLANTED = {("x0", "x1"), ("x2", "x5"), ("x3", "x4")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--small", action="store_true", help="few rows and epochs: a smoke run of a few seconds"
    )
    parser.add_argument(
        "--criteo",
        help="path of a Criteo file (train_examples.txt) to use "
        "instead of the synthetic planted-pairs data",
    )
    parser.add_argument(
        "--plot",
        default="autofis_interactions.png",
        help="where to write the heat map of |alpha| (PNG)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)

    if args.criteo:
        X, y = load_criteo(args.criteo, n_rows=2000 if args.small else None)
        search = {"base": "fm", "grda_c": "auto", "search_epochs": 2, "lr": 1e-2}
    else:
        X, y = make_interaction_dataset(n_samples=10000 if args.small else 20000, random_state=0)
        # grda_c=0.05 and 3 search epochs: the setting of docs/autofis.md (section 4.5.2 there).
        search = {"base": "fm", "grda_c": 0.05, "search_epochs": 3, "lr": 1e-2}
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    training = {
        "batch_size": 256,
        "random_state": 0,
        "n_threads": args.threads,
        "max_epochs": 2 if args.small else 5,
    }

    start = time.perf_counter()
    auto = AutoFISClassifier(**search, **training).fit(X_train, y_train)
    print(
        f"AutoFM: searched {len(auto.interaction_importances_)} pairs in "
        f"{auto.search_time_:.1f} s, kept {len(auto.selected_interactions_)} "
        f"(fit {time.perf_counter() - start:.1f} s)"
    )
    print("selection (|alpha| after the search, largest first):")
    ranking = auto.interaction_importances_.sort_values(ascending=False)
    for pair in sorted(auto.selected_interactions_, key=lambda pair: -ranking[pair]):
        print(f"  {pair[0]} x {pair[1]}: {ranking[pair]:.3f}")
    if not args.criteo:
        found = set(auto.selected_interactions_)
        print(
            f"planted pairs found: {len(found & PLANTED)} of 3; other pairs kept: "
            f"{len(found - PLANTED)}"
        )

    ax = plot_interactions(auto)
    ax.figure.savefig(args.plot, dpi=100, bbox_inches="tight")
    print(f"heat map written to {args.plot}")

    # Transfer (section 4.4): DeepFM and FM on the selected pairs only, against all pairs.
    deep = {"embed_dim": 10, "hidden_units": (64, 64), "dropout": 0.2, "lr": 1e-3, **training}
    shallow = {"embed_dim": 10, "lr": 1e-2, **training}
    selected = auto.selected_interactions_
    for name, model in {
        "DeepFM, all pairs": DeepFMClassifier(**deep),
        "DeepFM, AutoFIS pairs": DeepFMClassifier(interactions=selected, **deep),
        "FM, all pairs": FMClassifier(**shallow),
        "FM, AutoFIS pairs": FMClassifier(interactions=selected, **shallow),
        "AutoFM (re-trained)": auto,
    }.items():
        if model is not auto:
            model.fit(X_train, y_train)
        auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
        print(f"{name:<24} test AUC {auc:.4f}")


if __name__ == "__main__":
    main()
