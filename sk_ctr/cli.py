"""The ``sk-ctr`` command line: fit a model on a file, predict a file, export, compare, demo.

::

    sk-ctr fit --model deepfm --data train.parquet --label clicked --out model.joblib \\
        [--param embed_dim=16 --param hidden_units="(200, 200)" ...] [--threads N]
    sk-ctr fit --model deepfm --data days/ --label clicked --out model.joblib \
        --stream --valid last_day.parquet           # Parquet larger than memory, streamed
    sk-ctr predict --model model.joblib --data test.csv --out scores.csv [--keep id] [--stream]
    sk-ctr export --model model.joblib --out model.onnx          # or model.pt (TorchScript)
    sk-ctr export --model model.joblib --out model.skctr --serving   # raw rows, no torch
    sk-ctr benchmark --data criteo --models "lr,fm,deepfm"       # python -m sk_ctr.benchmark
    sk-ctr demo                                                  # python -m sk_ctr.demo

Also ``python -m sk_ctr ...``. Data files are CSV (``.csv``, ``.tsv``, compressed ones too) or
Parquet (``.parquet``, ``.pq``; needs pyarrow: ``pip install 'sk-ctr[parquet]'``). A problem
with the input (an unreadable file, a missing column, an unknown model or parameter) exits with
status 2 and one line naming it.

Outputs are safe to retry: ``--out`` may not be an input (``--data``, ``--valid``, ``--model``,
however spelled) and replaces an existing file only with ``--force`` / ``--overwrite``; every
file is written to a temporary name beside it and renamed once complete, so a failure or
Ctrl-C leaves the previous file and no partial one. Ctrl-C (SIGINT) exits with status 130 and
SIGTERM with 143, saving nothing (an interrupted ``fit`` does not save the model trained so far).

Models are pickles (joblib): loading one runs code its author chose, so give ``predict`` and
``export`` only model files you trust. A model records the sk_ctr version and artifact format
it was saved with (:mod:`sk_ctr.artifact`).
"""

from __future__ import annotations

import argparse
import ast
import difflib
import os
import signal
import sys
import textwrap
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from sk_ctr._atomic import atomic_path
from sk_ctr.io.tables import TableError, chunk_writer, read_table, write_table

PROG = "sk-ctr"
#: Rows predicted per step of ``predict``'s progress bar.
PREDICT_CHUNK = 100_000


#: Help of --model: a saved model is a pickle, and loading a pickle runs code (issue 14.4).
MODEL_FILE_HELP = (
    "a model saved by 'fit'. Models are pickles: loading one runs code its author chose, so "
    "load only files you trust."
)


class UsageError(Exception):
    """A problem with the command's input; ``main`` prints it and returns 2."""


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------


def main(argv=None):
    """Run the ``sk-ctr`` command line.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name; ``None`` reads ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status: 0 on success, 2 for a usage or input problem (the message is
        printed on stderr), 130 after Ctrl-C (SIGINT) and 143 after SIGTERM, with no output
        file written.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    # benchmark and demo keep their own option parsers: everything after the word is theirs.
    if argv and argv[0] in _DELEGATED:
        return _delegate(argv[0], argv[1:])
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version or argparse's own usage error
        return int(exit_.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    with stop_signals_raise_interrupt() as received:
        try:
            return args.run(args)
        except (UsageError, TableError) as error:
            print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            # Every file is written whole or not at all (sk_ctr._atomic): nothing to clean up.
            signum = received[-1] if received else signal.SIGINT
            print(
                f"{PROG} {args.command}: stopped by {signal.Signals(signum).name}; "
                "no output file written.",
                file=sys.stderr,
            )
            return 128 + signum  # the shell's status for a command killed by that signal


def _parser():
    from sk_ctr import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Fit, predict, export and compare click-through-rate models.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_LazyEpilogParser
    )

    fit = commands.add_parser(
        "fit",
        help="fit a model on a CSV / Parquet file and save it with joblib",
        description="Fit a model on a data file and save the fitted estimator (transformer and "
        "network in one joblib file).",
        epilog=_format_models_help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fit.add_argument("--model", required=True, help="model name (see below)")
    fit.add_argument("--data", required=True, type=Path, help="training data: CSV or Parquet")
    fit.add_argument("--label", required=True, help="the label column (two classes)")
    fit.add_argument("--out", required=True, type=Path, help="where to save the fitted model")
    _add_force(fit)
    fit.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="estimator parameter, the value a Python literal (embed_dim=16, "
        "hidden_units='(200, 200)', behavior=\"{'hist_item': 'item'}\") or a bare word "
        "(activation=relu); preprocessor__NAME=VALUE sets the CTRTransformer's "
        "(preprocessor__min_frequency=10). Repeatable.",
    )
    fit.add_argument(
        "--drop",
        action="append",
        default=[],
        metavar="COLUMN",
        help="a column not to use as a feature (an id, a timestamp). Repeatable.",
    )
    _add_common(fit)
    fit.add_argument(
        "--quiet", action="store_true", help="no progress bar and epoch table (default: verbose=1)"
    )
    fit.add_argument(
        "--stream",
        action="store_true",
        help="read the Parquet data (a file or a directory of them) in row groups "
        "instead of loading it: data larger than memory (sk_ctr.ParquetSource "
        "with its default buffers; neural models only)",
    )
    fit.add_argument(
        "--valid",
        type=Path,
        metavar="PARQUET",
        help="with --stream: held-out Parquet rows (same columns) scored after "
        "every epoch, needed by models that stop early",
    )
    fit.set_defaults(run=_fit)

    predict = commands.add_parser(
        "predict",
        help="write click probabilities of a data file",
        description="Predict the probability of the positive class (the label's larger value) "
        "for every row of a data file with a model saved by 'fit'.",
    )
    predict.add_argument("--model", required=True, type=Path, help=MODEL_FILE_HELP)
    predict.add_argument("--data", required=True, type=Path, help="rows to score: CSV or Parquet")
    predict.add_argument(
        "--out", required=True, help="output file (.csv or .parquet), '-' for CSV on stdout"
    )
    _add_force(predict)
    predict.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="COLUMN",
        help="copy this input column into the output (an id). Repeatable.",
    )
    predict.add_argument(
        "--label",
        help="a label column in the data: dropped from the "
        "features, and the ROC AUC and log-loss are printed",
    )
    predict.add_argument(
        "--stream",
        action="store_true",
        help="read the Parquet data (a file or a directory of them) and write "
        "the output chunk by chunk: data larger than memory",
    )
    _add_common(predict)
    predict.set_defaults(run=_predict)

    export = commands.add_parser(
        "export",
        help="export a fitted model's network to ONNX or TorchScript",
        description="Export the network of a model saved by 'fit' (encoded inputs in, click "
        "probabilities out; see sk_ctr.export).",
    )
    export.add_argument("--model", required=True, type=Path, help=MODEL_FILE_HELP)
    export.add_argument("--out", required=True, type=Path, help="the file to write")
    _add_force(export)
    export.add_argument(
        "--format",
        choices=("onnx", "torchscript"),
        help="default: from the suffix of --out (.onnx, else TorchScript)",
    )
    export.add_argument(
        "--data", type=Path, help="a few rows to trace and check on (default: random valid inputs)"
    )
    export.add_argument("--sep", help="CSV separator of --data (default: from the suffix)")
    export.add_argument(
        "--serving",
        action="store_true",
        help="write the serving artifact instead: the ONNX graph and the fitted encoding in one "
        "file, which sk_ctr.serving.load scores raw rows with, without torch (see "
        "sk_ctr.export.export_serving); --data rows are also checked against predict_proba",
    )
    export.set_defaults(run=_export)

    for name, (module, what) in _DELEGATED.items():
        commands.add_parser(
            name, help=f"{what} ('{PROG} {name} --help'; python -m {module})", add_help=False
        )
    return parser


class _LazyEpilogParser(argparse.ArgumentParser):
    """An ArgumentParser whose epilog may be a function, called only when the help is shown.

    The model list of ``fit --help`` comes from the estimators and the benchmark, which import
    torch (2 s): building the parser for any other command or error must not pay for it.
    """

    def format_help(self):
        if callable(self.epilog):
            self.epilog = self.epilog()
        return super().format_help()


def _add_force(parser):
    parser.add_argument(
        "--force",
        "--overwrite",
        action="store_true",
        dest="force",
        help="replace --out if it exists (it is replaced only once the new file is complete)",
    )


def _add_common(parser):
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="torch threads (default: torch's; 1 is often fastest on a busy machine)",
    )
    parser.add_argument("--sep", help="CSV separator (default: tab for .tsv, else comma)")


_MODELS_HELP = """models:
  benchmark spellings (the settings of 'sk-ctr benchmark': the journal's Table III, early
  stopping on 10 %, l2=1e-3; quote those with & or *):
{benchmark}
  estimator classes (their own defaults), with or without 'Classifier', any case:
{classes}
""".strip()

_DELEGATED = {
    "benchmark": ("sk_ctr.benchmark", "compare models in the manner of the DeepFM journal"),
    "demo": ("sk_ctr.demo", "LR, FM, DNN and DeepFM side by side on synthetic data"),
}


def _delegate(command, argv):
    import importlib

    module = importlib.import_module(_DELEGATED[command][0])
    try:
        module.main(argv)
    except SystemExit as exit_:  # their parsers' --help and usage errors
        return int(exit_.code or 0)
    except (FileNotFoundError, ValueError) as error:  # e.g. a --data file that is not there
        print(f"{PROG} {command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG} {command}: stopped by SIGINT.", file=sys.stderr)
        return 128 + signal.SIGINT
    return 0


# --------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------


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


def _parquet_source(path, label, drop, option, validation=None, **source_params):
    """``ParquetSource(path, label, validation=validation, **source_params)`` without the
    ``drop`` columns, errors naming ``option``."""
    from sk_ctr.io.parquet import ParquetSource

    try:
        source = ParquetSource(path, label=label, validation=validation, **source_params)
        if drop:
            missing = [c for c in drop if c not in source.feature_names]
            if missing:
                raise UsageError(f"--drop names column(s) {missing} that {path} does not have.")
            columns = [c for c in source.feature_names if c not in set(drop)]
            source = ParquetSource(
                path, label=label, validation=validation, **{**source_params, "columns": columns}
            )
    except ImportError as error:
        raise UsageError(
            f"--stream reads Parquet with pyarrow: pip install 'sk-ctr[parquet]' "
            f"(or pyarrow). ({error})"
        ) from error
    except (OSError, ValueError) as error:
        raise UsageError(f"{option} {path}: {error}") from error
    return source


def _predict(args):
    import pandas as pd

    if args.out != "-":
        check_output(args.out, {"--data": args.data, "--model": args.model}, args.force)
    estimator = load_model(args.model)
    if args.stream:
        return _predict_streaming(args, estimator)
    frame = read_table(args.data, sep=args.sep)
    missing = [
        c for c in args.keep + ([args.label] if args.label else []) if c not in frame.columns
    ]
    if missing:
        raise UsageError(
            f"{args.data} has no column(s) {missing}; columns: {_column_list(frame.columns)}."
        )
    expected = getattr(estimator, "feature_names_in_", None)
    if expected is not None:
        absent = [c for c in expected if c not in frame.columns]
        if absent:
            raise UsageError(f"{args.data} lacks column(s) the model was fitted on: {absent}.")
        X = frame[list(expected)]
        unused = [
            c for c in frame.columns if c not in set(expected) | set(args.keep) and c != args.label
        ]
        if unused:
            print(
                f"{PROG} predict: ignoring column(s) not seen in fit: {_column_list(unused)}",
                file=sys.stderr,
            )
    else:
        X = frame.drop(columns=[args.label] if args.label else [])
    with _threads(args.threads):
        try:
            probability = predict_in_chunks(estimator, X)
        except (ValueError, TypeError) as error:
            raise UsageError(f"cannot predict {args.data}: {error}") from error
    out = frame[args.keep].copy() if args.keep else pd.DataFrame(index=frame.index)
    out["probability"] = probability
    write_table(out, args.out)
    if args.label:
        _print_scores(estimator, frame[args.label], probability)
    if args.out != "-":
        print(f"{len(out)} probabilities written to {args.out}", file=sys.stderr)
    return 0


def _export(args):
    from sk_ctr.export import export_onnx, export_serving, export_torchscript

    check_output(args.out, {"--model": args.model, "--data": args.data}, args.force)
    if args.serving and args.format is not None:
        raise UsageError("--serving writes its own format (ONNX inside): leave out --format.")
    estimator = load_model(args.model)
    kind = args.format or ("onnx" if args.out.suffix.lower() == ".onnx" else "torchscript")
    kind = "serving" if args.serving else kind
    X = None
    if args.data is not None:
        X = read_table(args.data, sep=args.sep)
        expected = getattr(estimator, "feature_names_in_", None)
        if expected is not None:
            absent = [c for c in expected if c not in X.columns]
            if absent:
                raise UsageError(f"{args.data} lacks column(s) the model was fitted on: {absent}.")
            X = X[list(expected)]
    exporter = {"onnx": export_onnx, "torchscript": export_torchscript, "serving": export_serving}[
        kind
    ]
    try:
        exporter(estimator, args.out, X=X)
    except (ImportError, TypeError, ValueError) as error:
        raise UsageError(str(error)) from error
    inputs = (
        "raw rows: sk_ctr.serving.load(path).predict_proba(frame)"
        if args.serving
        else "inputs as sk_ctr.export.export_inputs(model, rows) gives them"
    )
    print(
        f"{type(estimator).__name__} network exported to {args.out} ({kind}); {inputs}",
        file=sys.stderr,
    )
    return 0


# --------------------------------------------------------------------------------------
# Building blocks (importable: the command line is a thin layer over them)
# --------------------------------------------------------------------------------------


def estimator_classes():
    """The estimator classes of sk_ctr by name (``DeepFMClassifier`` ...)."""
    from sk_ctr.utils.discovery import all_estimators

    return dict(all_estimators())


def resolve_model(name):
    """A model name to ``("benchmark", spelling)`` or ``("class", estimator_class)``.

    Parameters
    ----------
    name : str
        A spelling of :data:`sk_ctr.presets.PAPER` (``"deepfm"``, ``"ipnn"``,
        ``"fm&dnn"`` ...), which takes precedence, or an estimator class name with or without
        ``Classifier``, in any case (``"DINClassifier"``, ``"din"``, ``"AutoFIS"``).

    Returns
    -------
    tuple

    Raises
    ------
    UsageError
        For an unknown name; the message lists the known ones.
    """
    from sk_ctr.presets import PAPER

    key = name.strip().lower()
    if key in PAPER:
        return ("benchmark", key)
    classes = {cls_name.lower(): cls for cls_name, cls in estimator_classes().items()}
    for candidate in (key, key + "classifier"):
        if candidate in classes:
            return ("class", classes[candidate])
    known = list(PAPER) + sorted(estimator_classes())
    close = difflib.get_close_matches(key, [k.lower() for k in known], n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UsageError(
        f"unknown model {name!r}.{hint} Benchmark spellings: {', '.join(PAPER)}; "
        f"estimators: {', '.join(sorted(estimator_classes()))}."
    )


def parse_params(pairs):
    """``NAME=VALUE`` strings to a dict, each value a Python literal or else a plain string.

    Parameters
    ----------
    pairs : list of str
        E.g. ``["embed_dim=16", "hidden_units=(200, 200)", "activation=relu"]``.

    Returns
    -------
    dict

    Raises
    ------
    UsageError
        For an item without ``=``, an empty name or a name given twice.

    Examples
    --------
    >>> parse_params(["embed_dim=16", "hidden_units=(200, 200)", "activation=relu"])
    {'embed_dim': 16, 'hidden_units': (200, 200), 'activation': 'relu'}
    """
    params = {}
    for pair in pairs:
        name, equals, text = pair.partition("=")
        name = name.strip()
        if not equals or not name:
            raise UsageError(f"--param takes NAME=VALUE, got {pair!r}.")
        if name in params:
            raise UsageError(f"--param {name} is given twice.")
        try:
            params[name] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            params[name] = text.strip()  # a bare word: relu, adam, softmax
    return params


def build_estimator(model, params, n_rows):
    """The unfitted estimator of a resolved model with ``params`` set, checked.

    Parameters
    ----------
    model : tuple
        From :func:`resolve_model`.
    params : dict
        Estimator parameters; ``preprocessor__NAME`` ones build a
        :class:`~sk_ctr.CTRTransformer` as its ``preprocessor``.
    n_rows : int
        Training rows: a benchmark spelling takes the benchmark's batch size for them.

    Returns
    -------
    estimator

    Raises
    ------
    UsageError
        For an unknown parameter (with the close matches) or a value the estimator rejects.
    """
    from sklearn.utils._param_validation import InvalidParameterError

    from sk_ctr.preprocessing import CTRTransformer
    from sk_ctr.presets import LARGE_DATA_ROWS, PAPER, Protocol

    kind, value = model
    if kind == "benchmark":
        estimator = PAPER[value](Protocol(batch_size=256 if n_rows < LARGE_DATA_ROWS else 2000))
    else:
        estimator = value()
    name = type(estimator).__name__
    own = {k: v for k, v in params.items() if not k.startswith("preprocessor__")}
    transformer = {
        k.split("__", 1)[1]: v for k, v in params.items() if k.startswith("preprocessor__")
    }
    valid = set(estimator.get_params(deep=False))
    # skorch routes module__*, criterion__*, optimizer__* and its prefixes_ (iterator_train__*,
    # callbacks__* ...) to the objects it builds at fit.
    prefixes = (
        {*getattr(estimator, "prefixes_", ()), "module", "criterion", "optimizer"}
        if _is_network(estimator)
        else set()
    )
    unknown = [k for k in own if k not in valid and k.split("__")[0] not in prefixes]
    if unknown:
        close = {k: difflib.get_close_matches(k, valid, n=2) for k in unknown}
        hints = "; ".join(f"{k}: did you mean {', '.join(c)}?" for k, c in close.items() if c)
        raise UsageError(
            f"{name} has no parameter(s) {unknown}."
            f"{' ' + hints if hints else ''} Its parameters: "
            f"{', '.join(sorted(valid))}."
        )
    try:
        if transformer:
            if "preprocessor" in own:
                raise UsageError("give either preprocessor= or preprocessor__NAME=, not both.")
            valid_transformer = CTRTransformer().get_params()
            bad = [k for k in transformer if k not in valid_transformer]
            if bad:
                raise UsageError(
                    f"CTRTransformer has no parameter(s) {bad}; its parameters: "
                    f"{', '.join(sorted(valid_transformer))}."
                )
            own["preprocessor"] = CTRTransformer(**transformer)
        # A new instance rather than set_params: skorch accepts routed parameters
        # (optimizer__weight_decay) as constructor arguments only, until it is initialized.
        estimator = type(estimator)(**{**estimator.get_params(deep=False), **own})
        if hasattr(estimator, "_validate_params"):
            estimator._validate_params()
    except (InvalidParameterError, ValueError, TypeError) as error:
        raise UsageError(f"invalid parameter for {name}: {error}") from error
    return estimator


def check_output(out, inputs, force):
    """Refuse an output path that would destroy an input or, without ``force``, a file.

    Parameters
    ----------
    out : path-like
        The ``--out`` of the command.
    inputs : dict
        Option name (``"--data"``) to the path it gives, or ``None`` when not given. A path
        that is the same file as ``out`` (through symlinks, hard links or a relative
        spelling) or a directory holding it is refused.
    force : bool
        ``--force`` / ``--overwrite``: an existing ``out`` may be replaced.

    Raises
    ------
    UsageError
        Naming the option whose file ``out`` would overwrite, or saying to give ``--force``.
    """
    out = Path(out)
    target = Path(os.path.realpath(out))
    for option, given in inputs.items():
        if given is None:
            continue
        source = Path(os.path.realpath(given))
        if target == source or (
            out.exists() and Path(given).exists() and os.path.samefile(out, given)
        ):
            raise UsageError(
                f"--out {out} is the {option} file {given}: writing it would "
                "destroy the input. Choose another --out."
            )
        if source.is_dir() and source in target.parents:
            raise UsageError(
                f"--out {out} is inside the {option} directory {given}: it would "
                "be read as data next time. Choose another --out."
            )
    if target.is_dir():
        raise UsageError(f"--out {out} is a directory; give a file name.")
    if out.exists() and not force:
        raise UsageError(f"--out {out} exists; give --force (or --overwrite) to replace it.")
    if not target.parent.is_dir():
        raise UsageError(f"--out {out}: no such directory {out.parent}.")
    if not os.access(target.parent, os.W_OK):  # the temporary file is created there
        raise UsageError(f"--out {out}: cannot write in the directory {out.parent}.")


def load_model(path):
    """``joblib.load`` a fitted estimator, with errors that name the file.

    Raises
    ------
    UsageError
        If the file is missing, is not a joblib file or holds no classifier.
    """
    import joblib

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such model file.")
    try:
        estimator = joblib.load(path)
    except Exception as error:  # unpickling raises anything: a joblib file or not, say which
        raise UsageError(
            f"cannot load a model from {path}: {type(error).__name__}: {error}"
        ) from error
    if not hasattr(estimator, "predict_proba"):
        raise UsageError(
            f"{path} holds a {type(estimator).__name__}, not a classifier saved by '{PROG} fit'."
        )
    return estimator


def _predict_streaming(args, estimator):
    """``predict --stream``: read the fitted columns (and --keep / --label) chunk by chunk,
    write each chunk's output as it is predicted."""
    import numpy as np
    import pandas as pd

    expected = getattr(estimator, "feature_names_in_", None)
    if expected is None:
        raise UsageError(
            f"--stream reads the columns the model was fitted on, but {args.model} "
            "was fitted on unnamed columns; leave --stream out."
        )
    expected = list(expected)
    extra = [
        c
        for c in dict.fromkeys([*args.keep, *([args.label] if args.label else [])])
        if c not in expected
    ]
    source = _parquet_source(
        args.data, None, (), "--data", columns=[*expected, *extra], batch_rows=PREDICT_CHUNK
    )
    labels, probabilities = [], []
    with _threads(args.threads), chunk_writer(args.out) as writer:
        for frame in source.iter_frames():
            try:
                probability = estimator.predict_proba(frame[expected])[:, 1]
            except (ValueError, TypeError) as error:
                raise UsageError(f"cannot predict {args.data}: {error}") from error
            out = frame[args.keep].copy() if args.keep else pd.DataFrame(index=frame.index)
            out["probability"] = probability
            writer.write(out)
            if args.label:
                labels.append(frame[args.label])
                probabilities.append(probability)
    if args.label:
        _print_scores(estimator, pd.concat(labels), np.concatenate(probabilities))
    if args.out != "-":
        print(f"{source.n_rows} probabilities written to {args.out}", file=sys.stderr)
    return 0


def predict_in_chunks(estimator, X, chunk_size=PREDICT_CHUNK):
    """``predict_proba(X)[:, 1]`` chunk by chunk, with a progress bar on a terminal.

    Parameters
    ----------
    estimator : fitted classifier
    X : pandas.DataFrame
    chunk_size : int, default=100_000

    Returns
    -------
    numpy.ndarray of shape (n_samples,)
    """
    import numpy as np
    from tqdm.auto import tqdm

    starts = range(0, len(X), chunk_size)
    parts = []
    # disable=None: the bar is shown on a terminal only, never in a log or a pipe.
    with tqdm(
        total=len(X), unit="rows", desc="predict", disable=None, leave=False, file=sys.stderr
    ) as bar:
        for start in starts:
            chunk = X.iloc[start : start + chunk_size]
            parts.append(estimator.predict_proba(chunk)[:, 1])
            bar.update(len(chunk))
    return np.concatenate(parts) if parts else np.empty(0)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


@contextmanager
def stop_signals_raise_interrupt(signals=(signal.SIGINT, signal.SIGTERM)):
    """Turn SIGINT and SIGTERM into ``KeyboardInterrupt`` and record them, within the block.

    SIGTERM's default action would kill the process at once, leaving temporary files behind;
    raised as ``KeyboardInterrupt`` it unwinds the command like Ctrl-C. Code that catches
    ``KeyboardInterrupt`` and carries on (skorch's ``fit`` stops training and returns) can no
    longer hide the interrupt: the block's caller reads the record. In a thread other than the
    main one (where Python allows no handler) nothing changes.

    Yields
    ------
    list of int
        The numbers of the signals received so far, in order.
    """
    received = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum, frame):
        received.append(signum)
        enclosing = previous[signum]
        if callable(enclosing):  # an enclosing block's handler records it too (and raises)
            enclosing(signum, frame)
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, handler) for signum in signals}
    try:
        yield received
    finally:
        for signum, action in previous.items():
            signal.signal(signum, action)


@contextmanager
def _threads(n_threads):
    """torch's thread count for the command (whatever the estimator), restored after."""
    if n_threads is None:
        yield
        return
    if n_threads < 1:
        raise UsageError(f"--threads must be at least 1, got {n_threads}.")
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _is_network(estimator):
    from sk_ctr.estimators.base import CTRClassifier

    return isinstance(estimator, CTRClassifier)


def _dump(estimator, path):
    import joblib

    try:
        with atomic_path(path) as temporary:
            joblib.dump(estimator, temporary)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error}") from error


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


def _print_scores(estimator, labels, probability):
    import numpy as np
    from sklearn.metrics import log_loss, roc_auc_score

    positive = estimator.classes_[1]
    positive = positive.item() if isinstance(positive, np.generic) else positive  # for printing
    y = (labels.to_numpy() == positive).astype(np.int64)
    if len(np.unique(y)) < 2:
        print(f"{PROG} predict: the label column has one class only; no AUC.", file=sys.stderr)
        return
    print(
        f"ROC AUC {roc_auc_score(y, probability):.4f}  log-loss "
        f"{log_loss(y, probability, labels=[0, 1]):.4f}  ({len(y)} rows, positive class "
        f"{positive!r})",
        file=sys.stderr,
    )


def _column_list(columns, limit=20):
    columns = list(columns)
    shown = ", ".join(map(str, columns[:limit]))
    return shown + (f" ... ({len(columns)} in all)" if len(columns) > limit else "")


def _format_models_help():
    from sk_ctr.presets import PAPER

    def wrapped(names):
        return textwrap.fill(
            ", ".join(names), width=88, initial_indent="    ", subsequent_indent="    "
        )

    return _MODELS_HELP.format(
        benchmark=wrapped(PAPER), classes=wrapped(sorted(estimator_classes()))
    )


if __name__ == "__main__":
    sys.exit(main())
