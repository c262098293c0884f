"""``sk-ctr predict``: write the click probabilities of a data file (read whole, or streamed
chunk by chunk)."""

from __future__ import annotations

import sys

from sk_ctr.cli._common import (
    PROG,
    UsageError,
    _column_list,
    _parquet_source,
    _threads,
    check_output,
    load_model,
)
from sk_ctr.io.tables import chunk_writer, read_table, write_table

#: Rows predicted per step of ``predict``'s progress bar.
PREDICT_CHUNK = 100_000


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
