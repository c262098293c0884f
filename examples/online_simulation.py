"""The DeepFM journal's online simulation (section IV-D, Figures 16-18): LR vs DeepFM lists.

A synthetic app market replaces Huawei's: apps in t = 6 categories with long-tailed
(Zipf) download counts, and a known click model in which a user's click depends on an app's
popularity and on how much of the user's download history lies in the app's category. LR,
LR with a hand-made cross (history category x app category) and DeepFM are trained on
impressions drawn from that model. Then, as in the journal, t = 6 types of n = 100 users are
built, a user of type i by sampling apps of category i as download history; every model ranks
the whole catalogue for every user (:func:`sk_ctr.ranking.rank_candidates`), and the top-L
lists (L = 5, 10, 20) are measured with personalization@L, coverage@L and popularity@L
(eq. 14-18, :mod:`sk_ctr.metrics`). The lists ranked by the click model itself are measured
too, as the reference of an ideal model.

Plain LR cannot personalise: its logit is a sum of per-feature weights, so a user's features
add the same constant to every candidate's logit and every user gets the same ranking
(personalization@L = 0, coverage@L = L / n_apps). The cross gives LR the one interaction the
click model has; DeepFM has to find it in its FM and deep components.

Run from the repository root::

    python examples/online_simulation.py [--small] [--plot PATH.png] [--seed N] [--threads N]

``--plot`` draws the three bar charts of Figures 16-18 (matplotlib, the ``plot`` extra).
"""

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sk_ctr import CrossProductFeatures, DeepFMClassifier, LRClassifier
from sk_ctr.metrics import coverage_at_k, personalization_at_k, popularity_at_k
from sk_ctr.ranking import rank_candidates

N_TYPES = 6  # t: user types, one per app category (journal section IV-D-1)
LIST_LENGTHS = (5, 10, 20)  # L of Figures 16-18
HISTORY_LENGTH = 4  # apps in a user's download history
#: The click model: logit = BIAS + POPULARITY * z(log downloads) + TASTE * share + quality,
#: where share is the fraction of the user's history in the app's category.
BIAS, POPULARITY, TASTE, QUALITY_STD = -3.0, 0.6, 3.0, 0.3
#: About this share of a training user's history lies in the user's type (the rest: anywhere).
TRAINING_PURITY = 0.7

SETTINGS = {
    # The catalogue, the simulated users (n of the journal), the training data and the fits.
    "full": {
        "apps_per_category": 50,
        "users_per_type": 100,
        "impressions": 60_000,
        "training_users": 3_000,
        "max_epochs": 20,
        "hidden_units": (64, 64),
    },
    "small": {
        "apps_per_category": 10,
        "users_per_type": 20,
        "impressions": 4_000,
        "training_users": 300,
        "max_epochs": 3,
        "hidden_units": (16,),
    },
}


# --------------------------------------------------------------------------------------
# The synthetic market
# --------------------------------------------------------------------------------------


def make_catalogue(apps_per_category, rng):
    """Apps with a category, Zipf-distributed cumulative downloads and a hidden quality."""
    n_apps = apps_per_category * N_TYPES
    # Download ranks are shuffled across categories: every category has hits and a long tail.
    rank = rng.permutation(n_apps) + 1
    downloads = np.round(1e6 * rank**-1.1).astype(np.int64)
    log_downloads = np.log(downloads)
    apps = pd.DataFrame(
        {
            "app_id": [f"app_{i:03d}" for i in range(n_apps)],
            "app_category": [f"cat_{c}" for c in np.repeat(np.arange(N_TYPES), apps_per_category)],
            "app_downloads": downloads.astype(np.float64),  # a float column: bucketized
        }
    )
    # Hidden from the models: the click model's per-app terms.
    popularity = (log_downloads - log_downloads.mean()) / log_downloads.std()
    quality = rng.normal(0.0, QUALITY_STD, n_apps)
    return apps.set_index("app_id", drop=False), POPULARITY * popularity + quality


def make_users(types, apps, purity, rng):
    """One user per entry of ``types``: a download history of HISTORY_LENGTH distinct apps.

    Apps are drawn without replacement with weight sqrt(downloads) (popular apps are
    downloaded more) times ``purity`` for an app of the user's type and (1 - purity) / (t - 1)
    for any other app: as the categories have alike total weights, about a share ``purity``
    of a history lies in the user's type (all of it with ``purity=1``, the journal's users).
    """
    categories = apps["app_category"].str.slice(4).astype(int).to_numpy()
    weight = apps["app_downloads"].to_numpy() ** 0.5
    n_users = len(types)
    # Gumbel top-k: sampling without replacement by weight, for all users at once (an app of
    # weight 0, outside the type when purity=1, gets a key near -690: never drawn).
    in_type = categories[None, :] == np.asarray(types)[:, None]
    mix = np.where(in_type, purity, (1 - purity) / (N_TYPES - 1))
    keys = np.log(weight * mix + 1e-300) + rng.gumbel(size=(n_users, len(apps)))
    history = np.argsort(-keys, axis=1)[:, :HISTORY_LENGTH]
    columns = {}
    for j in range(HISTORY_LENGTH):
        columns[f"hist_app_{j + 1}"] = apps["app_id"].to_numpy()[history[:, j]]
    for j in range(HISTORY_LENGTH):
        columns[f"hist_cat_{j + 1}"] = apps["app_category"].to_numpy()[history[:, j]]
    return pd.DataFrame(columns)


def category_share(users, app_categories):
    """Fraction of each user's history in each app's category: shape (n_users, n_apps)."""
    history = users[[f"hist_cat_{j + 1}" for j in range(HISTORY_LENGTH)]].to_numpy()
    names = np.array([f"cat_{c}" for c in range(N_TYPES)])
    per_category = (history[:, :, None] == names[None, None, :]).mean(axis=1)
    codes = pd.Index(names).get_indexer(app_categories)
    return per_category[:, codes]


def true_logits(users, apps, app_terms):
    """The click model's logit of every user x app pair: shape (n_users, n_apps)."""
    share = category_share(users, apps["app_category"].to_numpy())
    return BIAS + app_terms[None, :] + TASTE * share


def make_impressions(users, apps, app_terms, n_impressions, rng):
    """Impressions of the market's exposure policy (popular apps shown more) and their clicks."""
    exposure = apps["app_downloads"].to_numpy() ** 0.3
    user_rows = rng.integers(0, len(users), n_impressions)
    app_rows = rng.choice(len(apps), n_impressions, p=exposure / exposure.sum())
    logit = true_logits(users, apps, app_terms)[user_rows, app_rows]
    clicks = (rng.random(n_impressions) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    X = pd.concat(
        [users.iloc[user_rows].reset_index(drop=True), apps.iloc[app_rows].reset_index(drop=True)],
        axis=1,
    )
    return X, clicks, logit


# --------------------------------------------------------------------------------------
# Models, lists and metrics
# --------------------------------------------------------------------------------------


def make_models(settings, seed, threads):
    common = {
        "early_stopping": True,
        "max_epochs": settings["max_epochs"],
        "batch_size": 256,
        "random_state": seed,
        "n_threads": threads,
    }
    crosses = [(f"hist_cat_{j + 1}", "app_category") for j in range(HISTORY_LENGTH)]
    return {
        "LR": LRClassifier(lr=1e-2, l2=1e-4, **common),
        "LR+cross": make_pipeline(
            CrossProductFeatures(crosses, n_buckets=2**16),
            LRClassifier(lr=1e-2, l2=1e-4, **common),
        ),
        "DeepFM": DeepFMClassifier(
            embed_dim=8,
            hidden_units=settings["hidden_units"],
            dropout=0.2,
            lr=1e-3,
            l2=1e-4,
            **common,
        ),
    }


def measure(lists, types, downloads, n_apps):
    """personalization@L, coverage@L and popularity@L (mean, variance) for L = 5, 10, 20."""
    rows = []
    for k in LIST_LENGTHS:
        popularity = popularity_at_k(lists, downloads, k)
        rows.append(
            {
                "L": k,
                "personalization": personalization_at_k(lists, types, k),
                "coverage": coverage_at_k(lists, n_apps, k),
                "popularity": popularity.mean,
                "popularity_var": popularity.variance,
            }
        )
    return rows


def plot(results, path):
    """Figures 16-18 of the journal as three grouped bar charts, saved to ``path``."""
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed (pip install 'sk-ctr[plot]'): no figure drawn.")
        return
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(results["model"]))
    hatches = ["//", "--", "..", "xx"]
    width = 0.8 / len(models)
    positions = np.arange(len(LIST_LENGTHS))
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    panels = [
        ("personalization", "Fig. 16: personalization@L"),
        ("coverage", "Fig. 17: coverage@L"),
        ("popularity", "Fig. 18: popularity@L (line: variance)"),
    ]
    for ax, (metric, title) in zip(axes, panels, strict=True):
        for m, model in enumerate(models):
            rows = results[results["model"] == model].set_index("L").loc[list(LIST_LENGTHS)]
            x = positions + (m - (len(models) - 1) / 2) * width
            # Figure 18's black line on top of each bar is the variance across the lists.
            error = (
                [np.zeros(len(rows)), rows["popularity_var"].to_numpy()]
                if metric == "popularity"
                else None
            )
            ax.bar(
                x,
                rows[metric].to_numpy(),
                width,
                label=model,
                hatch=hatches[m % 4],
                edgecolor="black",
                yerr=error,
                capsize=3,
            )
        ax.set_xticks(positions, [f"L={k}" for k in LIST_LENGTHS])
        ax.set_title(title)
    figure.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=len(models))
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    figure.savefig(path, dpi=120)
    plt.close(figure)
    print(f"figure saved to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--small",
        action="store_true",
        help="a small market and few epochs (seconds; for smoke tests)",
    )
    parser.add_argument("--plot", metavar="PATH", help="save Figures 16-18 as a PNG here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads of the fits (default: torch's own)"
    )
    args = parser.parse_args(argv)
    settings = SETTINGS["small" if args.small else "full"]
    rng = np.random.default_rng(args.seed)

    apps, app_terms = make_catalogue(settings["apps_per_category"], rng)
    downloads = apps["app_downloads"]
    training_users = make_users(
        rng.integers(0, N_TYPES, settings["training_users"]), apps, TRAINING_PURITY, rng
    )
    X, y, logit = make_impressions(training_users, apps, app_terms, settings["impressions"], rng)
    X_train, X_test, y_train, y_test, _, logit_test = train_test_split(
        X, y, logit, test_size=0.2, random_state=args.seed, stratify=y
    )
    ceiling = roc_auc_score(y_test, logit_test)
    print(
        f"{len(apps)} apps in {N_TYPES} categories, {len(X_train)} training impressions "
        f"(CTR {y.mean():.3f}); click model's own test AUC {ceiling:.4f}"
    )

    # The journal's simulated users: type i downloaded apps of category i only.
    types = np.repeat(np.arange(N_TYPES), settings["users_per_type"])
    users = make_users(types, apps, purity=1.0, rng=rng)
    longest = max(LIST_LENGTHS)
    reference = np.argsort(-true_logits(users, apps, app_terms), axis=1, kind="stable")
    all_lists = {"click model": apps.index.to_numpy()[reference[:, :longest]]}
    for name, model in make_models(settings, args.seed, args.threads).items():
        start = time.perf_counter()
        model.fit(X_train, y_train)
        auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
        all_lists[name] = rank_candidates(model, users, apps, longest)
        print(f"{name:<8} test AUC {auc:.4f}  ({time.perf_counter() - start:.1f} s with ranking)")

    rows = [
        {"model": name, **row}
        for name, lists in all_lists.items()
        for row in measure(lists, types, downloads, len(apps))
    ]
    results = pd.DataFrame(rows)
    print(
        f"\n{N_TYPES} types x {settings['users_per_type']} users, top-L lists over {len(apps)} "
        "apps (popularity_var: variance across the lists, Figure 18)"
    )
    print(results.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.plot:
        plot(results[results["model"] != "click model"], args.plot)
    return results


if __name__ == "__main__":
    main()
