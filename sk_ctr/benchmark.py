"""Model comparison in the manner of the DeepFM journal's Table IV: every model, one protocol.

Run ``python -m sk_ctr.benchmark --data criteo --repeat 3`` (``--help`` for options). Each model
is fitted on the training part and scored once on the test part: ROC AUC, log-loss
(``sklearn.metrics.log_loss``), training time, relative AUC improvement over LR, epochs run and
the best epoch. Nothing is tuned on the test part.

Data (``--data``)
    ``criteo`` and ``avazu``: the samples in the data home (``SK_CTR_DATA``, see
    :func:`~sk_ctr.datasets.get_data_home`; a checkout's ``../shared/data``), split 80/20 at random
    (stratified, ``--seed``); ``frappe``: train on its validation part, test on its test part
    (:func:`~sk_ctr.datasets.load_frappe`); ``ipinyou``: its own train/test parts;
    ``movielens`` (200 MovieLens-1M ratings, a click when the rating is >= 4) and ``taobao``
    (500 DMR rows, :func:`~sk_ctr.datasets.load_taobao_dmr`): split 80/20 as ``criteo``; the
    samples are read from the data home like the others; ``synthetic``:
    ``make_ctr_classification(n_samples=50000, n_fields=10, cardinality=100, n_numeric=3)``
    split 80/20; any other value is the path of a CSV or Parquet file whose
    ``--label`` column holds the two classes, split 80/20.

Models (``--models``, comma-separated; default all; quote the list in a shell because of
``&`` and ``*``)
    the keys of :data:`sk_ctr.presets.PAPER` (``--help`` lists them): ``lr, fm, dnn, fnn,
    ipnn, opnn, pnn*, lr&dnn, fm&dnn, deepfm, deepfm-ip, ...``, the journal's Table IV spellings,
    then the models added since (``nfm``, ``dcn-v2``, ``autoint`` ...). ``deepfm`` is the
    journal's DeepFM-D, ``lr&dnn`` and ``fm&dnn`` are Wide & Deep with an LR or an FM wide
    part, ``autofm`` and ``autodeepfm`` AutoFIS on FM and DeepFM (the "kept %" column: share of
    the pairs the search kept; the training time includes the search). ``lightgbm`` and
    ``catboost`` are the reference rows a tabular data scientist compares with:
    ``LGBMClassifier()`` on ``category`` columns and ``CatBoostClassifier()`` with
    ``cat_features``, each at its defaults with its own early stopping on a stratified 10 % of
    the training part (:class:`~sk_ctr.reference_models.GradientBoostingReference`; LightGBM
    and CatBoost come with the ``bench`` extra, ``pip install 'sk-ctr[bench]'``).

Defaults (``--defaults``)
    Every estimator class of :mod:`sk_ctr.estimators` fitted with nothing set but
    ``random_state``, as a new user's first ``fit``, named by its class, plus the two
    reference rows. ``--models`` then picks among those names; the protocol below does not
    apply (its settings are the estimators' own).

Settings (DeepFM journal Table III, Criteo-Random, and section III-C-1)
    Deep components: 400-400-400, relu (tanh for IPNN, as in Table III), dropout 0.5, Adam.
    Embedding size 10 for the models with an FM component (FM, FM&DNN, DeepFM-*) and 11 for
    the others (DNN, PNNs, LR&DNN, DCN; FNN's MLP reads 10 + 1 from its pre-trained FM).
    LR is trained with Adam and ``l2`` where the journal uses FTRL. LR&DNN gets no hand-made
    crosses unless ``--crosses a:b,c:d`` names them (the journal's LR&DNN has some). FFM, FwFM
    and AFM keep their estimators' AutoFIS Table 9 defaults; GBDT+LR and GBDT+FFM all of
    theirs (GBDT+FFM: Table 9's 20 trees, each capped at 8 leaves, then an FFM on the raw
    fields plus the leaves).

Training protocol, common to all neural models
    Early stopping on validation AUC over a stratified 10 % of the training part, patience 3,
    best epoch restored; at most ``--max-epochs`` epochs (default 20); batch size 256 when the
    training part has fewer than 100,000 rows, else 2000; learning rate 1e-3 for models with a
    multi-layer perceptron and 1e-2 for the shallow ones (LR, FM, FFM, FwFM, AFM); ``l2`` =
    ``--l2`` (default 1e-3, chosen on validation splits of training parts: see
    docs/benchmarks.md) for every model; ``random_state = --seed + repeat index``. The split of
    the data uses ``--seed`` alone, so repeats differ only in the models' randomness
    (initialisation, dropout, shuffling, the early-stopping hold-out).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split

from sk_ctr.datasets import (
    load_avazu,
    load_criteo,
    load_frappe,
    load_ipinyou,
    load_taobao_dmr,
    make_ctr_classification,
)
from sk_ctr.datasets._home import data_home_path
from sk_ctr.io.tables import read_table
from sk_ctr.presets import LARGE_DATA_ROWS, PAPER, Protocol
from sk_ctr.utils.discovery import all_estimators

__all__ = [
    "default_models",
    "format_table",
    "load_benchmark_data",
    "run_benchmark",
    "summarize",
]

#: The rows whose AUC the "AUC vs LR %" column divides by (the protocol's, the defaults').
LR_ROWS = ("lr", "LRClassifier")


def default_models():
    """Class name -> factory ``Protocol -> estimator with nothing set but random_state``, for
    every estimator of :func:`~sk_ctr.utils.discovery.all_estimators` (by name), then the
    ``lightgbm`` and ``catboost`` reference rows.

    Returns
    -------
    dict of str to callable
    """
    factories = {
        name: (lambda p, cls=cls: cls(random_state=p.random_state))
        for name, cls in all_estimators()
    }
    return {**factories, "lightgbm": PAPER["lightgbm"], "catboost": PAPER["catboost"]}


DATASETS = ("criteo", "frappe", "avazu", "ipinyou", "movielens", "taobao", "synthetic")
#: MovieLens-1M ratings counted as a click, as DeepCTR's examples do.
MOVIELENS_CLICK_RATING = 4


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


def load_benchmark_data(data, label=None, test_size=0.2, seed=0):
    """The train and test parts of a named data set or of a CSV / Parquet file.

    Parameters
    ----------
    data : str or path-like
        One of ``"criteo", "frappe", "avazu", "ipinyou", "movielens", "taobao",
        "synthetic"``, or a file path. The named sets but ``"synthetic"`` are read from the
        data home (:func:`~sk_ctr.datasets.get_data_home`).
    label : str, default=None
        The label column of a file (required for a file, ignored otherwise).
    test_size : float, default=0.2
        Share of the rows tested on where the data set has no test part of its own.
    seed : int, default=0
        Seed of that split (stratified) and of the synthetic data.

    Returns
    -------
    X_train, y_train, X_test, y_test
        Raw DataFrames and 0/1 int64 labels.
    """
    if data == "frappe":
        return load_frappe(data_home_path("frappe_nfm"))
    if data == "ipinyou":
        return load_ipinyou(data_home_path("ipinyou_2997_deepctr"))
    if data == "criteo":
        X, y = load_criteo(data_home_path("criteo_kaggle_10k", "train_examples.txt"))
    elif data == "avazu":
        X, y = load_avazu(data_home_path("avazu_kaggle_sample", "avazu_train_first499.csv"))
    elif data == "movielens":
        X = pd.read_csv(data_home_path("movielens1m_deepctr_sample", "movielens_sample.txt"))
        y = (X.pop("rating").to_numpy() >= MOVIELENS_CLICK_RATING).astype(np.int64)
    elif data == "taobao":
        X, y = load_taobao_dmr(data_home_path("taobao_ad_dmr_sample", "alimama_sampled_train.txt"))
    elif data == "synthetic":
        X, y = make_ctr_classification(
            n_samples=50_000, n_fields=10, cardinality=100, n_numeric=3, random_state=seed
        )
    else:
        X, y = _read_file(Path(data), label)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y
    )
    return X_train, y_train, X_test, y_test


def _read_file(path, label):
    if label is None:
        raise ValueError(f"--label is required with a data file ({path}).")
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is neither a data file nor one of the data sets {', '.join(DATASETS)}."
        )
    # The command line's reader: the same suffixes, nullable dtypes and errors as `sk-ctr fit`.
    frame = read_table(path)
    if label not in frame.columns:
        raise ValueError(f"{path} has no column {label!r}; columns: {list(frame.columns)}.")
    classes = np.unique(frame[label].to_numpy())
    if len(classes) != 2:
        raise ValueError(
            f"The label column {label!r} must hold two classes, found {len(classes)}: "
            f"{classes[:10].tolist()}."
        )
    # The larger class in sorted order is the positive one, as the estimators' classes_[1].
    y = (frame.pop(label).to_numpy() == classes[1]).astype(np.int64)
    return frame, y


# --------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------


def _epochs(model):
    """Epochs run, and the epoch whose weights early stopping restored (NaN without it)."""
    if hasattr(model, "best_iteration_"):  # the gradient-boosting references: rounds
        return model.n_iter_, model.best_iteration_
    if not hasattr(model, "history_") and hasattr(model, "final_estimator_"):
        model = model.final_estimator_  # GBDT+LR, GBDT+FFM: their second stage
    if not hasattr(model, "history_"):
        return np.nan, np.nan
    # skorch's EarlyStopping, not the argmax of valid_auc: it ignores gains below its
    # relative threshold (1e-4), so the restored epoch can precede the argmax.
    stopper = dict(getattr(model, "callbacks_", [])).get("early_stopping")
    return len(model.history_), getattr(stopper, "best_epoch_", np.nan)


def run_benchmark(
    data,
    models=None,
    *,
    repeat=1,
    max_epochs=20,
    label=None,
    test_size=0.2,
    seed=0,
    l2=1e-3,
    cross_features=(),
    n_threads=None,
    validation=False,
    defaults=False,
    log=sys.stderr,
):
    """Fit and score every model ``repeat`` times under the common protocol (or, with
    ``defaults``, at each estimator's own defaults).

    Parameters
    ----------
    data : str, path-like or tuple
        A data set name or file (see :func:`load_benchmark_data`), or an already split
        ``(X_train, y_train, X_test, y_test)``.
    models : list of str, default=None
        Keys of :data:`sk_ctr.presets.PAPER` (of :func:`default_models` with ``defaults``);
        None means all, in the table's order.
    repeat : int, default=1
        Fits per model, with ``random_state = seed + i`` for ``i in range(repeat)``.
    max_epochs : int, default=20
    label, test_size : see :func:`load_benchmark_data`
    seed : int, default=0
        Seed of the data split and of the first repeat.
    l2 : float, default=1e-3
        ``l2`` of every neural model.
    cross_features : sequence of tuple of str, default=()
        Hand-made crosses for ``lr&dnn``'s wide part.
    n_threads : int, default=None
        Torch threads during the run (restored after); None leaves torch's setting. On a
        shared machine one thread can be much faster than two (measured in docs/benchmarks.md).
    validation : bool, default=False
        Leave the test part out entirely: split the training part 80/20 (stratified, ``seed``)
        and score on its 20 %. For choosing settings without ever looking at the test part.
    defaults : bool, default=False
        Fit :func:`default_models` (every estimator with nothing set but ``random_state``, and
        the reference rows) instead of the protocol's :data:`sk_ctr.presets.PAPER`;
        ``max_epochs`` and ``l2`` are then unused.
    log : file-like or None, default=sys.stderr
        Where a progress line per fit (and the traceback of a failed fit) is written.

    Returns
    -------
    pandas.DataFrame
        One row per fit: ``model, repeat, random_state, auc, logloss, train_seconds, epochs,
        best_epoch, error`` (``error`` is missing, or ``"ExceptionType: message"`` with NaN
        scores when the fit failed; the failure does not stop the other fits).
    """
    registry = default_models() if defaults else PAPER
    models = list(registry) if models is None else list(models)
    unknown = [name for name in models if name not in registry]
    if unknown:
        raise ValueError(f"Unknown model(s) {unknown}; choose among {', '.join(registry)}.")
    if isinstance(data, tuple):
        X_train, y_train, X_test, y_test = data
    else:
        X_train, y_train, X_test, y_test = load_benchmark_data(data, label, test_size, seed)
    if validation:
        X_train, X_test, y_train, y_test = train_test_split(
            X_train, y_train, test_size=0.2, random_state=seed, stratify=y_train
        )
    batch_size = 256 if len(X_train) < LARGE_DATA_ROWS else 2000
    previous_threads = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    if log is not None:
        settings = (
            "every estimator at its defaults" if defaults
            else f"batch size {batch_size}, l2 {l2}, at most {max_epochs} epochs"
        )  # fmt: skip
        print(
            f"{len(X_train)} training rows, {len(X_test)} "
            f"{'validation (from the training part)' if validation else 'test'} rows; "
            f"{settings}, {torch.get_num_threads()} torch thread(s)",
            file=log,
            flush=True,
        )
    try:
        return _run(
            X_train,
            y_train,
            X_test,
            y_test,
            {name: registry[name] for name in models},
            repeat,
            seed,
            Protocol(batch_size, max_epochs, seed, l2, tuple(cross_features)),
            log,
        )
    finally:
        torch.set_num_threads(previous_threads)


def _run(X_train, y_train, X_test, y_test, models, repeat, seed, base_protocol, log):
    rows, n_fits = [], len(models) * repeat
    for i in range(repeat):
        protocol = replace(base_protocol, random_state=seed + i)
        for name in models:
            row = {"model": name, "repeat": i, "random_state": seed + i}
            row.update(
                _fit_and_score(models[name], protocol, X_train, y_train, X_test, y_test, log)
            )
            rows.append(row)
            if log is not None:
                if row["error"] is None:
                    status = (
                        f"AUC {row['auc']:.4f}  logloss {row['logloss']:.4f}  "
                        f"{row['train_seconds']:.1f} s  {row['epochs']} epochs "
                        f"(best {_join([row['best_epoch']])})"
                    )
                else:
                    status = f"FAILED: {row['error']}"
                print(
                    f"[{len(rows)}/{n_fits}] {name} (random_state={seed + i}): {status}",
                    file=log,
                    flush=True,
                )
    return pd.DataFrame(rows)


def _fit_and_score(factory, protocol, X_train, y_train, X_test, y_test, log):
    result = {
        "auc": np.nan,
        "logloss": np.nan,
        "train_seconds": np.nan,
        "epochs": np.nan,
        "best_epoch": np.nan,
        "kept_pct": np.nan,
        "error": None,
    }
    try:
        start = time.perf_counter()
        model = factory(protocol).fit(X_train, y_train)
        result["train_seconds"] = time.perf_counter() - start
        proba = model.predict_proba(X_test)[:, 1]
        epochs, best_epoch = _epochs(model)
        if hasattr(model, "selected_interactions_"):  # AutoFIS: share of the gates left open
            kept = len(model.selected_interactions_) / len(model.interaction_importances_)
            result["kept_pct"] = 100 * kept
        result.update(
            auc=roc_auc_score(y_test, proba),
            logloss=log_loss(y_test, proba),
            epochs=epochs,
            best_epoch=best_epoch,
        )
    except Exception as exc:  # reported in the table, so one broken model loses no results
        result["error"] = f"{type(exc).__name__}: {exc}"
        if log is not None:
            traceback.print_exc(file=log)
    return result


# --------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------


def summarize(runs):
    """One row per model: mean and standard deviation over the repeats.

    Parameters
    ----------
    runs : pandas.DataFrame
        The output of :func:`run_benchmark`.

    Returns
    -------
    pandas.DataFrame
        Indexed by model (in run order): ``auc_mean, auc_std, logloss_mean, logloss_std,
        train_seconds, auc_vs_lr_pct, epochs, best_epoch, kept_pct, n_runs, error``.
        ``auc_vs_lr_pct`` is ``(auc - auc_lr) / auc_lr * 100`` on the mean AUCs, NaN without
        an ``lr`` (or, at defaults, ``LRClassifier``) row;
        ``epochs`` and ``best_epoch`` list the epochs run and the epoch early stopping kept in
        each run (``"7/9/6"``, ``"4/6/3"``; ``-`` where unknown); the standard deviations are
        NaN for a single run; ``kept_pct`` is the mean share of pairs an AutoFIS search kept
        (NaN for other models); ``error`` is the first failure's message, if any.
    """
    groups = runs.groupby("model", sort=False)
    table = pd.DataFrame({
        "auc_mean": groups["auc"].mean(),
        "auc_std": groups["auc"].std(ddof=1),
        "logloss_mean": groups["logloss"].mean(),
        "logloss_std": groups["logloss"].std(ddof=1),
        "train_seconds": groups["train_seconds"].mean(),
        "epochs": groups["epochs"].agg(_join),
        "best_epoch": groups["best_epoch"].agg(_join),
        "kept_pct": groups["kept_pct"].mean(),
        "n_runs": groups.size(),
        "error": groups["error"].agg(lambda e: e.dropna().iloc[0] if e.notna().any() else None),
    })  # fmt: skip
    lr_auc = next((table["auc_mean"][name] for name in LR_ROWS if name in table.index), np.nan)
    table.insert(5, "auc_vs_lr_pct", (table["auc_mean"] - lr_auc) / lr_auc * 100)
    return table


def _join(values):
    return "/".join("-" if np.isnan(v) else str(int(v)) for v in values)


def _mean_std(mean, std, digits):
    if np.isnan(mean):
        return "-"
    return f"{mean:.{digits}f}" if np.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def format_table(table, markdown=False):
    """The summary of :func:`summarize` as text: aligned columns, or a Markdown table."""
    header = ["model", "AUC", "logloss", "train s", "AUC vs LR %", "epochs", "best epoch"]
    if table["kept_pct"].notna().any():
        header.append("kept %")
    lines = []
    for model, row in table.iterrows():
        failed = pd.notna(row["error"])
        if failed and np.isnan(row["auc_mean"]):
            cells = [model, f"failed: {row['error']}"] + [""] * (len(header) - 2)
        else:
            cells = [
                model,
                _mean_std(row["auc_mean"], row["auc_std"], 4),
                _mean_std(row["logloss_mean"], row["logloss_std"], 4),
                f"{row['train_seconds']:.1f}",
                "-" if np.isnan(row["auc_vs_lr_pct"]) else f"{row['auc_vs_lr_pct']:+.2f}",
                row["epochs"],
                row["best_epoch"],
            ]
            if len(header) > 7:
                cells.append("-" if np.isnan(row["kept_pct"]) else f"{row['kept_pct']:.0f}")
            if failed:  # some repeats failed, some did not
                cells[0] += f" (failed: {row['error']})"
        lines.append(cells)
    if markdown:
        escape = lambda cell: cell.replace("|", "\\|").replace("*", "\\*")  # noqa: E731
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(escape(c) for c in cells) + " |" for cells in lines]
        return "\n".join(out)
    widths = [max(len(r[j]) for r in [header, *lines]) for j in range(len(header))]

    def aligned(cells):  # model name left, numbers right
        padded = [cells[0].ljust(widths[0])]
        padded += [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(padded).rstrip()

    return "\n".join([aligned(header), *(aligned(cells) for cells in lines)])


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def _resolve_models(text, registry):
    """Comma-separated names, in any case, to keys of ``registry`` (None: all of them)."""
    if text is None:
        return list(registry)
    keys = {key.lower(): key for key in registry}
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in keys]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose among {', '.join(registry)}")
    return [keys[name] for name in names]


def _parse_crosses(text):
    crosses = [tuple(part.split(":")) for part in text.split(",") if part]
    if any(len(cross) < 2 or "" in cross for cross in crosses):
        raise argparse.ArgumentTypeError(f"crosses look like a:b,c:d (got {text!r})")
    return crosses


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m sk_ctr.benchmark",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data",
        default="synthetic",
        help=f"{' | '.join(DATASETS)} | PATH (CSV or Parquet); default: synthetic",
    )
    parser.add_argument(
        "--models",
        default=None,
        help=f"comma-separated, quoted (default: all): {','.join(PAPER)}; with --defaults, "
        "estimator class names (DeepFMClassifier, ...), lightgbm, catboost",
    )
    parser.add_argument(
        "--defaults",
        action="store_true",
        help="fit every estimator with nothing set (and the lightgbm / catboost rows) "
        "instead of the common protocol",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="fits per model with seeds seed..seed+N-1 (mean ± std)",
    )
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--label", help="label column of a PATH data file")
    parser.add_argument(
        "--test-size",
        type=float,
        default=0.2,
        help="test share of the random split (criteo, avazu, synthetic, PATH)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--l2", type=float, default=1e-3, help="l2 of every neural model (default: 1e-3)"
    )
    parser.add_argument(
        "--crosses",
        type=_parse_crosses,
        default=[],
        help="hand-made crosses of lr&dnn's wide part, e.g. C1:C2,C3:C4",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: torch's own; 1 is faster on a loaded machine)",
    )
    parser.add_argument(
        "--validation",
        action="store_true",
        help="score on a 20%% split of the training part, not on the test part "
        "(to choose settings)",
    )
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    if args.data not in DATASETS and args.label is None:
        parser.error("--label is required when --data is a file")
    try:
        models = _resolve_models(args.models, default_models() if args.defaults else PAPER)
    except ValueError as error:
        parser.error(str(error))

    start = time.perf_counter()
    runs = run_benchmark(
        args.data,
        models,
        repeat=args.repeat,
        max_epochs=args.max_epochs,
        label=args.label,
        test_size=args.test_size,
        seed=args.seed,
        l2=args.l2,
        cross_features=args.crosses,
        n_threads=args.threads,
        validation=args.validation,
        defaults=args.defaults,
    )
    print(format_table(summarize(runs), markdown=args.markdown))
    print(f"\n{len(runs)} fits in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return runs


if __name__ == "__main__":
    main()
