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
import signal
import sys
from pathlib import Path

# The commands import their heavy dependencies (torch, pandas, sklearn) inside their functions:
# the help and argument errors stay fast (tests/test_startup.py).
from sk_ctr.cli._common import (
    MODEL_FILE_HELP,
    PROG,
    UsageError,
    check_output,
    load_model,
    stop_signals_raise_interrupt,
)
from sk_ctr.cli.export import _export
from sk_ctr.cli.fit import _fit
from sk_ctr.cli.models import (
    _format_models_help,
    build_estimator,
    estimator_classes,
    parse_params,
    resolve_model,
)
from sk_ctr.cli.predict import PREDICT_CHUNK, _predict, predict_in_chunks
from sk_ctr.io.tables import TableError

__all__ = [
    "MODEL_FILE_HELP",
    "PREDICT_CHUNK",
    "PROG",
    "UsageError",
    "build_estimator",
    "check_output",
    "estimator_classes",
    "load_model",
    "main",
    "parse_params",
    "predict_in_chunks",
    "resolve_model",
    "stop_signals_raise_interrupt",
]


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
