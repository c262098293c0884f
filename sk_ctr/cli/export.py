"""``sk-ctr export``: a fitted model's network to ONNX, TorchScript or the serving artifact."""

from __future__ import annotations

import sys

from sk_ctr.cli._common import UsageError, check_output, load_model
from sk_ctr.io.tables import read_table


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
