"""GAUC and AUC of the behaviour-history models (DIN, DIEN, BST) against DIN's base model.

What is measured
----------------
``--data synthetic`` (default): ``make_behavior_dataset(--n-samples, random_state=0)`` (1,000
users; a click depends mostly on whether the candidate's category is among the user's 20 most
recent behaviours), split 80/20 at random, the settings of docs/din.md "Measured":
``max_sequence_length=20``, ``embed_dim=16``, ``init_std=0.1``, ``lr=5e-3``, batch 256, early
stopping on a 10 % hold-out (at most 15 epochs, patience 2 or ``--patience``, best epoch
restored), each model's own regularisation (none but BST's). ``--data synthetic-categories``:
the same rows and split, the models seeing only ``position``, ``cate_id`` and ``hist_cate_id``
(no item or user ids to over-fit; the setting of the GAUC comparison in
tests/estimators/test_bst.py and test_din.py). ``--data taobao``: the
500-row DMR sample (histories of categories and brands of the candidate ad's); ``--data
amazon``: the 100-row Amazon Electronics DIN sample (histories of items and categories); both
split 80/20 stratified, tiny: a smoke run on real data.

Models (``--models``): ``base`` (EmbeddingMLPClassifier, 200-80 Dice), ``din`` (DIN, the paper's
unnormalised weights), ``din_softmax``, ``bst`` (BSTClassifier at its defaults: 1 block, 8 heads,
1024-512-256 LeakyReLU, order positions, ``adaptive_l2=0.5``), ``bst_200_80`` (BST with the
base model's 200-80 Dice MLP, so that only the pooling differs), ``dien`` (DIENClassifier:
AUGRU, ``aux_loss_weight=1``), ``dien_no_aux`` (DIEN without the auxiliary loss of eq. 6).
``--adaptive-l2`` sets DIN's adaptive regularisation (eq. 10) on every model (default: each
model's own, 0 but for BST's 0.5). Each is fitted with ``random_state`` = each of ``--seeds`` on
the same split; the table gives the mean (and spread) of test AUC and GAUC
(:func:`sk_ctr.metrics.gauc_score`, per-user AUC weighted by impressions; users with one class
skipped), the training seconds and the epochs. ``--validation``: the models are fitted on 80 % of
the training part and scored on the other 20 % (``random_state=1``), never on the test part: how
defaults are chosen. ``--estimator-defaults``: none of the settings above (nor ``--patience``),
every training parameter the estimators' default (``max_sequence_length=50``, ``init_std=0.01``,
``lr=3e-3``, automatic batch size, at most 50 epochs, patience 5): what a user's first fit does.

How to run
----------
::

    OMP_NUM_THREADS=1 python benchmarks/behavior_sequence.py --seeds 0 1
    python benchmarks/behavior_sequence.py --models base,din_softmax,dien,dien_no_aux \
        --adaptive-l2 0.5                                 # docs/din.md's DIEN rows
    python benchmarks/behavior_sequence.py --n-samples 5000 --models base,bst   # smoke run
    python benchmarks/behavior_sequence.py --models base,bst --validation --seeds 0 1 2
    python benchmarks/behavior_sequence.py --models base,bst --patience 5 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sk_ctr import BSTClassifier, DIENClassifier, DINClassifier, EmbeddingMLPClassifier
from sk_ctr.datasets import load_amazon_din, load_taobao_dmr, make_behavior_dataset
from sk_ctr.datasets._home import data_home_path
from sk_ctr.metrics import gauc_score

TRAINING = {
    "max_sequence_length": 20,
    "embed_dim": 16,
    "init_std": 0.1,
    "lr": 5e-3,
    "batch_size": 256,
    "max_epochs": 15,
    "early_stopping": True,
    "n_iter_no_change": 2,
    "n_threads": 1,
}
#: Model name -> (estimator class, its own parameters).
MODELS = {
    "base": (EmbeddingMLPClassifier, {}),
    "din": (DINClassifier, {}),
    "din_softmax": (DINClassifier, {"attention_normalization": "softmax"}),
    "bst": (BSTClassifier, {}),
    "bst_200_80": (BSTClassifier, {"hidden_units": (200, 80), "activation": "dice"}),
    "dien": (DIENClassifier, {}),
    "dien_no_aux": (DIENClassifier, {"aux_loss_weight": 0.0}),
}


#: ``--data synthetic-categories``: only the context, the candidate's category and the category
#: history reach the models (the setting of the tests' comparison), no item or user ids.
CATEGORY_COLUMNS = ["position", "cate_id", "hist_cate_id"]


def load(data, n_samples, validation=False):
    """X_train, X_test, y_train, y_test, behavior, user column (or None) and the model columns;
    with ``validation``, X_test and y_test are 20 % of the training part, X_train the rest."""
    X_train, X_test, y_train, y_test, *rest = load_split(data, n_samples)
    if validation:
        X_train, X_test, y_train, y_test = train_test_split(
            X_train, y_train, test_size=0.2, random_state=1
        )
    return (X_train, X_test, y_train, y_test, *rest)


def load_split(data, n_samples):
    """The training and test parts of ``data``, then behavior, users and model columns."""
    if data in ("synthetic", "synthetic-categories"):
        X, y = make_behavior_dataset(n_samples=n_samples, random_state=0)
        behavior = {"hist_item_id": "item_id", "hist_cate_id": "cate_id"}
        columns = list(X.columns)
        if data == "synthetic-categories":
            behavior, columns = {"hist_cate_id": "cate_id"}, CATEGORY_COLUMNS
        split = train_test_split(X, y, test_size=0.2, random_state=0)
        return (*split, behavior, "user_id", columns)
    if data == "taobao":
        path = data_home_path("taobao_ad_dmr_sample", "alimama_sampled_train.txt")
        X, y = load_taobao_dmr(path)
        behavior, users = {"hist_cate_id": "cate_id", "hist_brand": "brand"}, "user_id"
    elif data == "amazon":
        path = data_home_path("amazon_electronics_din_sample", "paddlerec_din_sample_data.txt")
        X, y = load_amazon_din(path)
        behavior, users = {"hist_item_id": "item_id", "hist_cate_id": "cate_id"}, None
    else:
        raise ValueError(f"--data must be synthetic(-categories), taobao or amazon; got {data!r}.")
    split = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    return (*split, behavior, users, list(X.columns))


def run(
    data,
    n_samples,
    models,
    seeds,
    adaptive_l2=None,
    validation=False,
    patience=2,
    estimator_defaults=False,
):
    X_train, X_test, y_train, y_test, behavior, users, columns = load(data, n_samples, validation)
    # None: each model's own default
    regularisation = {} if adaptive_l2 is None else {"adaptive_l2": adaptive_l2}
    training = {**TRAINING, "n_iter_no_change": patience}
    if estimator_defaults:
        training = {"n_threads": 1}
    rows = []
    for name in models:
        scores = []
        for seed in seeds:
            cls, own = MODELS[name]
            model = cls(behavior=behavior, random_state=seed, **regularisation, **training, **own)
            start = time.perf_counter()
            try:
                model.fit(X_train[columns], y_train)
            except FloatingPointError as error:  # the divergence check: the run says so
                print(f"{name} seed {seed}: failed: {error}", flush=True)
                continue
            seconds = time.perf_counter() - start
            p = model.predict_proba(X_test[columns])[:, 1]
            gauc = np.nan if users is None else gauc_score(y_test, p, X_test[users])
            epochs = len(model.history_)
            scores.append((roc_auc_score(y_test, p), gauc, seconds, epochs))
            print(f"{name} seed {seed}: AUC {scores[-1][0]:.4f} GAUC {gauc:.4f} "
                  f"{seconds:.1f} s {epochs} epochs", flush=True)  # fmt: skip
        if scores:
            rows.append((name, np.asarray(scores)))
    return rows


def markdown(rows):
    lines = ["| model | AUC | GAUC | train s | epochs |", "|---|---|---|---|---|"]
    for name, scores in rows:
        mean, spread = scores.mean(axis=0), scores.std(axis=0)
        cells = [f"{mean[i]:.4f} ± {spread[i]:.4f}" if len(scores) > 1 else f"{mean[i]:.4f}"
                 for i in (0, 1)]  # fmt: skip
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {mean[2]:.0f} | {mean[3]:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data",
        default="synthetic",
        choices=["synthetic", "synthetic-categories", "taobao", "amazon"],
    )
    parser.add_argument("--n-samples", type=int, default=50_000)
    parser.add_argument("--models", default="base,din,din_softmax,bst,bst_200_80")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--adaptive-l2", type=float, default=None)
    parser.add_argument("--validation", action="store_true")
    parser.add_argument("--patience", type=int, default=TRAINING["n_iter_no_change"])
    parser.add_argument("--estimator-defaults", action="store_true")
    args = parser.parse_args(argv)
    models = args.models.split(",")
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {list(MODELS)}")
    torch.set_num_threads(1)
    rows = run(
        args.data,
        args.n_samples,
        models,
        args.seeds,
        args.adaptive_l2,
        args.validation,
        args.patience,
        args.estimator_defaults,
    )
    print(markdown(rows))


if __name__ == "__main__":
    main()
