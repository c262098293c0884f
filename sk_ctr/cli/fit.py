"""``sk-ctr fit``: fit a model on a data file (read whole, or streamed from Parquet) and save
it."""

from __future__ import annotations

import sys
import time

from sk_ctr.cli._common import (
    UsageError,
    _column_list,
    _dump,
    _is_network,
    _parquet_source,
    _threads,
    check_output,
    stop_signals_raise_interrupt,
)
from sk_ctr.cli.models import build_estimator, parse_params, resolve_model
from sk_ctr.io.tables import read_table


def _fit(args):
    check_output(args.out, {"--data": args.data, "--valid": args.valid}, args.force)
    model = resolve_model(args.model)
    params = parse_params(args.param)
    build_estimator(model, params, n_rows=0)  # unknown parameters fail before reading data
    if args.stream:
        return _fit_streaming(args, model, params)
    if args.valid is not None:
        raise UsageError(
            "--valid goes with --stream; without it the model holds out its own "
            "validation rows (validation_fraction)."
        )
    frame = read_table(args.data, sep=args.sep)
    if args.label not in frame.columns:
        raise UsageError(
            f"{args.data} has no label column {args.label!r}; columns: "
            f"{_column_list(frame.columns)}."
        )
    missing = [c for c in args.drop if c not in frame.columns]
    if missing:
        raise UsageError(f"--drop names column(s) {missing} that {args.data} does not have.")
    y = frame.pop(args.label)
    if y.isna().any():
        raise UsageError(
            f"the label column {args.label!r} has {int(y.isna().sum())} missing "
            "value(s); drop those rows or fill them."
        )
    X = frame.drop(columns=args.drop)
    if X.shape[1] == 0:
        raise UsageError(f"{args.data} has no feature column besides the label.")
    estimator = build_estimator(model, params, n_rows=len(X))
    return _fit_and_save(
        args, params, estimator, (X, y.to_numpy()), f"{len(X)} rows x {X.shape[1]} columns"
    )


def _fit_and_save(args, params, estimator, fit_args, data_description):
    """Fit (verbose unless --quiet or a verbose parameter), save, and report on stderr."""
    if _is_network(estimator):
        if not args.quiet and "verbose" not in params:
            # the estimator itself prints a plain table and no progress bar into a log file
            estimator.set_params(verbose=1)
    start = time.perf_counter()
    with _threads(args.threads), stop_signals_raise_interrupt() as received:
        try:
            estimator.fit(*fit_args)
        except (ValueError, TypeError) as error:
            raise UsageError(
                f"cannot fit {type(estimator).__name__} on {args.data}: {error}"
            ) from error
    if received:
        # skorch's fit catches the KeyboardInterrupt and returns the model trained so far;
        # an interrupted command must not save it as if it had finished.
        raise KeyboardInterrupt
    seconds = time.perf_counter() - start
    _dump(estimator, args.out)
    print(
        f"{type(estimator).__name__} fitted on {data_description} in {seconds:.1f} s"
        f"{_training_summary(estimator)}; saved to {args.out}",
        file=sys.stderr,
    )
    return 0


def _fit_streaming(args, model, params):
    """``fit --stream``: train on a ParquetSource (and score a --valid one), never loading the
    data whole."""
    valid = None
    if args.valid is not None:
        valid = _parquet_source(args.valid, args.label, args.drop, "--valid")
    source = _parquet_source(args.data, args.label, args.drop, "--data", validation=valid)
    if valid is not None and valid.feature_names != source.feature_names:
        raise UsageError(
            f"--valid {args.valid} has feature columns "
            f"{_column_list(valid.feature_names)}, --data "
            f"{_column_list(source.feature_names)}."
        )
    estimator = build_estimator(model, params, n_rows=source.n_rows)
    if not _is_network(estimator):
        raise UsageError(
            f"--stream trains the neural models; {type(estimator).__name__} needs "
            "its rows in memory (leave --stream out)."
        )
    if getattr(estimator, "early_stopping", False) and args.valid is None:
        raise UsageError(
            f"{type(estimator).__name__} here stops early on validation rows: give "
            "them with --valid PARQUET, or --param early_stopping=False."
        )
    return _fit_and_save(
        args,
        params,
        estimator,
        (source,),
        f"{source.n_rows} rows x {len(source.feature_names)} columns (streamed)",
    )


def _training_summary(estimator):
    history = getattr(estimator, "history_", None)
    if not history:
        return ""
    text = f" ({len(history)} epoch{'s' if len(history) > 1 else ''}"
    stopper = dict(getattr(estimator, "callbacks_", [])).get("early_stopping")
    best = getattr(stopper, "best_epoch_", None)
    if best and "valid_auc" in history[best - 1]:
        text += f"; validation AUC {history[best - 1]['valid_auc']:.4f} at epoch {best}, kept"
    return text + ")"
