"""What the ``sk-ctr`` commands share: their errors, output checks, model loading, signal
handling, torch threads and the Parquet source of ``--stream``."""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

from sk_ctr._atomic import atomic_path

PROG = "sk-ctr"


#: Help of --model: a saved model is a pickle, and loading a pickle runs code (issue 14.4).
MODEL_FILE_HELP = (
    "a model saved by 'fit'. Models are pickles: loading one runs code its author chose, so "
    "load only files you trust."
)


class UsageError(Exception):
    """A problem with the command's input; ``main`` prints it and returns 2."""


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


def _column_list(columns, limit=20):
    columns = list(columns)
    shown = ", ".join(map(str, columns[:limit]))
    return shown + (f" ... ({len(columns)} in all)" if len(columns) > limit else "")
