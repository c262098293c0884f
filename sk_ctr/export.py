"""Serving a fitted estimator: the whole estimator as one artifact, or its network alone.

Two ways to serve a model, by what the serving side has:

* **Python with sk_ctr** — ``joblib.dump(est, "model.joblib")`` stores the fitted
  :class:`~sk_ctr.CTRTransformer` (``preprocessor_``) together with the network; after
  ``joblib.load`` in another process ``est.predict_proba(raw_frame)`` encodes and predicts raw
  rows, unseen categories included (they map to the "other" id). ``sk-ctr predict`` does this
  from the command line.
* **No sk_ctr at serving time** — :func:`export_torchscript` (C++ libtorch or Python torch) and
  :func:`export_onnx` (ONNX Runtime and the other ONNX engines) store the network only, with
  the *encoded-input* signature: ``ids`` int64 (n, n_categorical), ``values`` float32
  (n, n_numeric) and, for behaviour models (DIN), ``sequences`` int64 (n, n_sequences, L) and
  ``lengths`` int64 (n, n_sequences); the output ``probability`` float32 (n,) is the
  probability of ``classes_[1]`` (the sigmoid of the network's logit). Encoding stays on the
  Python side: :func:`export_inputs` turns raw rows into these arrays with
  ``est.preprocessor_.transform``. The batch size is free; every other dimension is fixed by
  the fitted schema.

* **No torch, skorch or scikit-learn at serving time, raw rows in** — :func:`export_serving`
  writes one file holding the ONNX graph and the fitted encoding (vocabularies, bucket edges,
  sequence and cross settings); :func:`sk_ctr.serving.load` reads it with numpy, pandas and
  ONNX Runtime only, and its ``predict_proba(raw_frame)`` equals the estimator's.

Both exports trace the network on example rows and then check the exported model against the
estimator's network on a batch of another size, so an export that silently fixed a shape
raises instead of serving wrong scores.

Torch (2.9 and later) marks TorchScript and its ONNX exporter as deprecated in favour of
``torch.export``. They are used here on purpose: with torch 2.13 and onnxscript 0.7 the
``torch.export``-based ONNX exporter (``dynamo=True``) gave probabilities off by 1.7e-3 for
FwFM (its Gram-matrix inner products), where the TorchScript-based exporter agrees with
``predict_proba`` to 1e-7; and a TorchScript file loads in C++ without Python. Torch's
deprecation warnings are therefore silenced inside these functions only.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from sk_ctr._atomic import atomic_path
from sk_ctr.estimators.calibration import TIE_BREAK_SHARE
from sk_ctr.preprocessing import FieldData
from sk_ctr.preprocessing.batch import (
    IDS,
    INPUT_DTYPES,
    LENGTHS,
    SEQUENCES,
    VALUES,
    input_keys,
)

__all__ = ["export_inputs", "export_onnx", "export_serving", "export_torchscript", "input_names"]

OUTPUT_NAME = "probability"
#: Rows the network is traced on, and rows of the check batch (a different size on purpose:
#: a traced constant batch size shows up as a shape error or a wrong score).
TRACE_ROWS, CHECK_ROWS = 8, 5
#: Largest difference allowed between the exported model's probabilities and the network's.
TOLERANCE = 1e-5


def input_names(estimator):
    """Names of the exported network's inputs, in argument order.

    Parameters
    ----------
    estimator : CTRClassifier
        Fitted.

    Returns
    -------
    list of str
        ``["ids", "values"]``, plus ``["sequences", "lengths"]`` when the schema has sequence
        fields (behaviour histories, multi-valued columns).
    """
    check_is_fitted(estimator, "schema_")
    return list(input_keys(estimator.schema_))


def export_inputs(estimator, X):
    """Encode rows into the inputs of an exported network: a dict of contiguous arrays.

    This is ``est.preprocessor_.transform(X)`` restricted to the network's inputs::

        encoded = est.preprocessor_.transform(raw_frame)           # a FieldData
        inputs = {"ids": encoded["ids"], "values": encoded["values"]}
        # DIN and EmbeddingMLP also: encoded["sequences"], encoded["lengths"]
        onnxruntime.InferenceSession("model.onnx").run(None, inputs)[0]   # probabilities
        torch.jit.load("model.pt")(*map(torch.from_numpy, inputs.values()))

    Parameters
    ----------
    estimator : CTRClassifier
        Fitted.
    X : pandas.DataFrame or FieldData
        Raw rows with the columns seen in fit (encoded by ``estimator.preprocessor_``), or rows
        already encoded by the same transformer.

    Returns
    -------
    dict of str to numpy.ndarray
        Keys in :func:`input_names` order: ``ids`` int64 (n, n_categorical), ``values``
        float32 (n, n_numeric)[, ``sequences`` int64 (n, n_sequences, L), ``lengths`` int64
        (n, n_sequences)].

    Examples
    --------
    >>> from sk_ctr import LRClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> from sk_ctr.export import export_inputs
    >>> X, y = make_ctr_classification(n_samples=500, n_fields=3, n_numeric=1, random_state=0)
    >>> est = LRClassifier(max_epochs=1, random_state=0).fit(X, y)
    >>> inputs = export_inputs(est, X[:4])  # I1 is bucketized by default: a 4th id column
    >>> {name: (array.dtype.name, array.shape) for name, array in inputs.items()}
    {'ids': ('int64', (4, 4)), 'values': ('float32', (4, 0))}
    """
    names = input_names(estimator)
    if isinstance(X, FieldData):
        encoded = estimator._encode_for_prediction(X)  # checks the schema
    elif not hasattr(estimator, "preprocessor_"):
        raise ValueError(
            f"This {type(estimator).__name__} was fitted on encoded FieldData: encode the rows "
            "with the transformer used for fit and pass the FieldData."
        )
    else:
        encoded = estimator.preprocessor_.transform(X)
    return {name: np.ascontiguousarray(encoded[name], dtype=INPUT_DTYPES[name]) for name in names}


def export_torchscript(estimator, path, X=None):
    """Save the network as TorchScript: encoded inputs in, click probabilities out.

    Load with ``torch.jit.load(path)`` (Python) or ``torch::jit::load`` (C++ libtorch) and call
    it with the tensors of :func:`export_inputs`: ``model(ids, values)`` or, for behaviour
    models, ``model(ids, values, sequences, lengths)``. The model runs on the CPU
    (``.to("cuda")`` after loading moves it) in evaluation mode: dropout off, batch
    normalisation and Dice with their running statistics. PyTorch 2.13 deprecates TorchScript
    (``torch.jit.load`` warns); :func:`export_onnx` and :func:`export_serving` (no torch needed
    to score) are the formats to prefer for new deployments.

    Parameters
    ----------
    estimator : CTRClassifier
        Fitted (any network estimator; not :class:`~sk_ctr.GBDTLRClassifier`).
    path : str or path-like
        The file to write (``.pt`` by convention).
    X : pandas.DataFrame or FieldData, default=None
        Rows to trace and check the network on; ``None`` draws valid random inputs from the
        fitted schema.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    RuntimeError
        If the exported model does not reproduce the network on a batch of another size.

    Examples
    --------
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> from sk_ctr import FMClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> from sk_ctr.export import export_inputs, export_torchscript
    >>> X, y = make_ctr_classification(n_samples=500, n_fields=3, n_numeric=1, random_state=0)
    >>> est = FMClassifier(max_epochs=1, random_state=0).fit(X, y)
    >>> path = export_torchscript(est, Path(tempfile.mkdtemp()) / "fm.pt")
    >>> model = torch.jit.load(path)
    >>> inputs = [torch.from_numpy(a) for a in export_inputs(est, X[:3]).values()]
    >>> bool(torch.allclose(model(*inputs).double(),
    ...                     torch.from_numpy(est.predict_proba(X[:3])[:, 1]), atol=1e-6))
    True
    """
    wrapper, trace_inputs, check_inputs = _prepare(estimator, X)
    with _quiet_tracing():
        traced = torch.jit.trace(wrapper, trace_inputs, check_trace=False)
    try:
        with torch.no_grad():
            exported = traced(*check_inputs).numpy()
    except RuntimeError as error:  # a shape fixed while tracing: see _check_against_network
        _check_against_network(estimator, wrapper, check_inputs, None, "TorchScript", error)
    _check_against_network(estimator, wrapper, check_inputs, exported, "TorchScript")
    path = os.fspath(path)
    with atomic_path(path) as temporary, _quiet_tracing():
        torch.jit.save(traced, temporary)
    return path


def export_onnx(estimator, path, X=None, opset_version=None):
    """Save the network as ONNX: encoded inputs in, click probabilities out.

    The graph's inputs are named as in :func:`input_names` (``ids``, ``values``[,
    ``sequences``, ``lengths``]) with a free batch dimension; its output ``probability`` has
    shape (batch,). Feed it the arrays of :func:`export_inputs`. Needs the ``onnx`` package;
    when ``onnxruntime`` is installed the saved file is run on a check batch and compared with
    the network.

    Parameters
    ----------
    estimator : CTRClassifier
        Fitted (any network estimator; not :class:`~sk_ctr.GBDTLRClassifier`).
    path : str or path-like
        The file to write (``.onnx``).
    X : pandas.DataFrame or FieldData, default=None
        Rows to trace and check the network on; ``None`` draws valid random inputs from the
        fitted schema.
    opset_version : int, default=None
        ONNX opset; ``None`` is torch's default.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ImportError
        If ``onnx`` is not installed.
    RuntimeError
        If ONNX Runtime's output on a batch of another size differs from the network's.
    """
    if importlib.util.find_spec("onnx") is None:
        raise ImportError(
            "export_onnx needs the onnx package: pip install onnx "
            "(and onnxruntime to run or check the exported model)."
        )
    wrapper, trace_inputs, check_inputs = _prepare(estimator, X)
    names = input_names(estimator)
    path = os.fspath(path)
    dynamic = {name: {0: "batch"} for name in [*names, OUTPUT_NAME]}
    # The file appears only once it is written and checked: never one that serves wrong scores.
    with atomic_path(path) as temporary:
        with _quiet_tracing():
            torch.onnx.export(
                wrapper,
                trace_inputs,
                os.fspath(temporary),
                dynamo=False,
                input_names=names,
                output_names=[OUTPUT_NAME],
                dynamic_axes=dynamic,
                opset_version=opset_version,
            )
        if importlib.util.find_spec("onnxruntime") is not None:
            _check_onnx_file(estimator, wrapper, temporary, names, check_inputs)
    return path


def export_serving(estimator, path, X=None, opset_version=None):
    """Save a model that scores raw rows without torch, skorch or scikit-learn: one file.

    The file (a zip archive, ``.skctr`` by convention) holds the ONNX graph of
    :func:`export_onnx` and the fitted encoding of raw rows: the columns, vocabularies (unseen
    values and hash buckets as the transformer treats them), bucket edges, scalings, history
    and cross settings, with :data:`sk_ctr.serving.SERVING_FORMAT`. Load it with
    :func:`sk_ctr.serving.load` in a process that has numpy, pandas and onnxruntime; its
    ``predict_proba(raw_frame)`` equals ``estimator.predict_proba(raw_frame)``. The file is
    written under a temporary name and renamed once complete (and checked, with ``X``).

    Parameters
    ----------
    estimator : CTRClassifier
        Fitted on a raw frame (its ``preprocessor_`` a CTRTransformer, or Wide & Deep's
        crosses followed by one); any network estimator, not GBDT+LR.
    path : str or path-like
        The file to write.
    X : pandas.DataFrame, default=None
        A few raw rows: the network is traced on them, and the written artifact must reproduce
        ``estimator.predict_proba(X)`` (to ``TOLERANCE``) before the file appears. ``None``
        traces and checks the network on random encoded inputs only.
    opset_version : int, default=None
        ONNX opset; ``None`` is torch's default.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ValueError
        If the estimator was fitted on encoded FieldData (there is no encoding to store).
    TypeError
        If its preprocessing is not a CTRTransformer (after optional crosses), or a vocabulary
        holds values JSON cannot store.
    RuntimeError
        If the artifact does not reproduce ``predict_proba`` on ``X``; no file is written.

    Examples
    --------
    See :mod:`sk_ctr.serving`.
    """
    from sk_ctr import serving

    check_is_fitted(estimator, "schema_")
    manifest = {
        "sk_ctr_version": _sk_ctr_version(),
        "estimator": type(estimator).__name__,
        "classes": np.asarray(estimator.classes_).tolist(),
        "threshold": float(estimator.threshold),
        "inputs": input_names(estimator),
        "encoder": _raw_encoder(estimator).to_dict(),
    }
    with tempfile.TemporaryDirectory(prefix=".sk_ctr-") as scratch:  # removed on any exit
        graph = Path(
            export_onnx(estimator, Path(scratch) / "model.onnx", X=X, opset_version=opset_version)
        ).read_bytes()
    path = os.fspath(path)
    with atomic_path(path) as temporary:
        serving.write_artifact(temporary, manifest, graph)
        if X is not None and importlib.util.find_spec("onnxruntime") is not None:
            _check_serving_file(estimator, temporary, X)
    return path


def _raw_encoder(estimator):
    """The :class:`~sk_ctr.preprocessing.encoding.RawEncoder` of the estimator's fitted
    preprocessing: a CTRTransformer, or a pipeline of CrossProductFeatures and one."""
    from sk_ctr.preprocessing import CrossProductFeatures, CTRTransformer
    from sk_ctr.preprocessing.encoding import RawEncoder

    preprocessor = getattr(estimator, "preprocessor_", None)
    if preprocessor is None:
        raise ValueError(
            f"This {type(estimator).__name__} was fitted on encoded FieldData, so it has no "
            "encoding of raw rows to export; fit it on the raw frame, or serve the network "
            "alone with export_onnx."
        )
    steps = [step for _, step in getattr(preprocessor, "steps", [(None, preprocessor)])]
    crosses = steps.pop(0) if isinstance(steps[0], CrossProductFeatures) else None
    if len(steps) != 1 or not isinstance(steps[0], CTRTransformer):
        raise TypeError(
            f"The preprocessing of this {type(estimator).__name__} is {preprocessor!r}; the "
            "serving artifact stores a CTRTransformer (after Wide & Deep's crosses) only. "
            "Export the network with export_onnx and encode its inputs yourself."
        )
    return RawEncoder.from_transformer(steps[0], crosses)


def _check_serving_file(estimator, path, X):
    """Load the written artifact and compare its ``predict_proba(X)`` with the estimator's."""
    from sk_ctr import serving

    expected = estimator.predict_proba(X)[:, 1]
    served = serving.load(path, threads=1).predict_proba(X)[:, 1]
    difference = float(np.abs(served - expected).max())
    if not difference <= TOLERANCE:
        raise RuntimeError(
            f"The serving artifact of {type(estimator).__name__} gives probabilities up to "
            f"{difference:.3g} away from its predict_proba on the {len(X)} rows of X; no file "
            "was written. Please report it with the rows."
        )


def _sk_ctr_version():
    import sk_ctr

    return sk_ctr.__version__


def _check_onnx_file(estimator, wrapper, path, names, check_inputs):
    """Run the ONNX file on ``check_inputs`` with ONNX Runtime and compare with the network."""
    import onnxruntime

    session = onnxruntime.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    feed = {name: tensor.numpy() for name, tensor in zip(names, check_inputs, strict=True)}
    try:
        exported = session.run([OUTPUT_NAME], feed)[0]
    except Exception as error:  # onnxruntime's errors are not RuntimeErrors
        _check_against_network(estimator, wrapper, check_inputs, None, "ONNX", error)
    _check_against_network(estimator, wrapper, check_inputs, exported, "ONNX")


# --------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------


class _Probability(torch.nn.Module):
    """The network followed by the sigmoid: the estimator's ``predict_proba[:, 1]``.

    ``temperature`` divides the logits (the estimator's ``temperature_``, post-hoc
    calibration) and ``isotonic_knots`` map them to probabilities (``isotonic_knots_``);
    ``log_odds_shift`` is log w for an estimator trained on negatively down-sampled data
    (``negative_sampling_rate=w``): p' = p / (p + (1 - p) / w) = sigmoid(logit + log w), the
    correction ``predict_proba`` applies.
    """

    def __init__(self, network, log_odds_shift=0.0, temperature=1.0, isotonic_knots=None):
        super().__init__()
        self.network = network
        self.log_odds_shift = float(log_odds_shift)
        self.temperature = float(temperature)
        self.isotonic = None if isotonic_knots is None else _IsotonicMap(*isotonic_knots)

    def forward(self, ids, values):
        return self._probability(self.network(ids, values))

    def _probability(self, logits):
        if self.temperature != 1.0:  # a constant of the traced graph
            logits = logits / self.temperature
        if self.isotonic is not None:
            probability = self.isotonic(logits)
            if not self.log_odds_shift:
                return probability
            logits = torch.log(probability) - torch.log1p(-probability)
        if self.log_odds_shift:  # a constant of the traced graph
            logits = logits + self.log_odds_shift
        return torch.sigmoid(logits)


class _IsotonicMap(torch.nn.Module):
    """:func:`sk_ctr.estimators.calibration.isotonic_probability` in tensor operations that
    trace to TorchScript and ONNX: the piecewise-linear map as its first value plus one clamped
    ramp per segment (``(B, K)`` elementwise work, K the number of knots)."""

    def __init__(self, knots_x, knots_p):
        super().__init__()
        x = torch.as_tensor(np.asarray(knots_x), dtype=torch.float32)
        p = torch.as_tensor(np.asarray(knots_p), dtype=torch.float32)
        width = x[1:] - x[:-1]
        slope = torch.where(width > 0, (p[1:] - p[:-1]) / width.clamp(min=1e-30), 0.0)
        self.register_buffer("starts", x[:-1])
        self.register_buffer("widths", width)
        self.register_buffer("slopes", slope)
        self.first = float(p[0])

    def forward(self, logits):
        ramps = torch.minimum((logits.unsqueeze(1) - self.starts).clamp(min=0), self.widths)
        mapped = self.first + (ramps * self.slopes).sum(dim=1)
        share = TIE_BREAK_SHARE
        return (1 - 2 * share) * mapped + share * (2 * torch.sigmoid(logits))


class _SequenceProbability(_Probability):
    """The same for networks that also take behaviour histories (DIN, EmbeddingMLP)."""

    def forward(self, ids, values, sequences, lengths):
        return self._probability(self.network(ids, values, sequences=sequences, lengths=lengths))


def _prepare(estimator, X):
    """A CPU copy of the network in eval mode behind the sigmoid, the tracing inputs and the
    check inputs (a batch of another size)."""
    check_is_fitted(estimator, "schema_")
    network = getattr(estimator, "module_", None)
    if not isinstance(network, torch.nn.Module):
        raise TypeError(
            f"{type(estimator).__name__} has no single torch network to export (GBDT+LR's "
            "trees are not one); serve the estimator itself with joblib."
        )
    network = copy.deepcopy(network).to("cpu").eval()
    names = input_names(estimator)
    rate = getattr(estimator, "negative_sampling_rate", None)
    shift = 0.0 if rate is None else float(np.log(rate))
    temperature = getattr(estimator, "temperature_", 1.0)
    knots = getattr(estimator, "isotonic_knots_", None)
    wrapper = (_SequenceProbability if SEQUENCES in names else _Probability)(
        network, shift, temperature, knots
    ).eval()
    if X is None:
        arrays = _random_inputs(estimator, TRACE_ROWS + CHECK_ROWS)
    else:
        arrays = export_inputs(estimator, X)
        n_rows = len(arrays[IDS])
        if n_rows < TRACE_ROWS + CHECK_ROWS:  # repeat the rows: the sizes must differ, not rows
            repeat = -(-(TRACE_ROWS + CHECK_ROWS) // n_rows)
            arrays = {k: np.concatenate([v] * repeat) for k, v in arrays.items()}
    tensors = [torch.from_numpy(arrays[name]) for name in names]
    trace = tuple(t[:TRACE_ROWS] for t in tensors)
    check = tuple(t[TRACE_ROWS : TRACE_ROWS + CHECK_ROWS] for t in tensors)
    return wrapper, trace, check


def _random_inputs(estimator, n_rows, seed=0):
    """Valid encoded rows drawn from the schema: ids within each vocabulary, standard normal
    values, sequences of random lengths (padding after the length, as the transformer pads;
    the histories of a row share one length, as aligned histories do)."""
    rng = np.random.default_rng(seed)
    schema = estimator.schema_
    categorical = [f for f in schema if f.kind == "categorical"]
    numeric = [f for f in schema if f.kind == "numeric"]
    sequence = [f for f in schema if f.kind == "sequence"]
    arrays = {
        IDS: np.stack([rng.integers(0, f.vocab_size, n_rows) for f in categorical], axis=1)
        if categorical
        else np.zeros((n_rows, 0), dtype=np.int64),
        VALUES: rng.standard_normal((n_rows, len(numeric))).astype(np.float32),
    }
    if sequence:
        width = _sequence_width(sequence)
        lengths = rng.integers(0, width + 1, n_rows)
        lengths[0] = width  # one full history and one empty one among the traced rows
        lengths[1] = 0
        items = np.stack([rng.integers(1, f.vocab_size, (n_rows, width)) for f in sequence], axis=1)
        padding = np.arange(width) >= lengths[:, None, None]
        arrays[SEQUENCES] = np.where(padding, 0, items).astype(np.int64)
        arrays[LENGTHS] = np.repeat(lengths[:, None], len(sequence), axis=1).astype(np.int64)
    arrays[IDS] = arrays[IDS].astype(INPUT_DTYPES[IDS])
    return arrays


def _sequence_width(sequence_fields):
    """L, the padded history length, from the schema (a hand-built one may not say it)."""
    widths = {field.max_length for field in sequence_fields}
    if None in widths:
        raise ValueError(
            "The schema does not give the padded length of its sequence fields "
            "(Field.max_length), so the history length L is unknown: pass X= (a few rows of "
            "encoded FieldData) to export the network."
        )
    return int(max(widths))


def _check_against_network(estimator, wrapper, inputs, exported, kind, error=None):
    """Raise unless the exported model's probabilities on ``inputs`` (``exported``; None when
    running it failed with ``error``) match the network's."""
    with torch.no_grad():
        expected = wrapper(*inputs).numpy()
    if error is None:
        exported = np.asarray(exported)
        if exported.shape == expected.shape and np.allclose(exported, expected, atol=TOLERANCE):
            return
        difference = (
            f"max difference {np.abs(exported - expected).max():.3g}"
            if exported.shape == expected.shape
            else f"output shape {exported.shape} instead of {expected.shape}"
        )
    else:
        difference = f"running it raised: {str(error).strip().splitlines()[-1]}"
    raise RuntimeError(
        f"The {kind} export of {type(estimator).__name__} does not reproduce its network on a "
        f"batch of {len(inputs[0])} rows after tracing on {TRACE_ROWS} ({difference}). An "
        f"operation of {type(wrapper.network).__name__} fixed a shape while tracing (e.g. "
        "len(tensor) on the batch dimension instead of tensor.shape[0]); no file was written."
    ) from error


@contextmanager
def _quiet_tracing():
    """Silence torch's deprecation notices of TorchScript and of its ONNX exporter (see the
    module docstring) and the tracer's warnings: the check on a batch of another size
    decides whether a trace is valid."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        for message in (
            r"`torch\.jit\.",
            r"You are using the legacy TorchScript-based ONNX",
            r"The feature will be removed",
            r"Exporting aten::index operator",
        ):
            warnings.filterwarnings("ignore", message=message)
        yield
