"""Score raw rows with numpy, pandas and ONNX Runtime only: no torch, skorch or scikit-learn.

A fitted estimator exported with :func:`sk_ctr.export.export_serving` (``sk-ctr export
--serving``) is one file, a zip archive holding

* ``manifest.json``: the format name and :data:`SERVING_FORMAT`, the sk_ctr version that wrote
  it, the estimator's ``classes_`` and ``threshold``, the names of the graph's inputs, and the
  fitted encoding of raw rows (:class:`~sk_ctr.preprocessing.encoding.RawEncoder`: columns,
  schema, vocabularies, bucket edges, scalings, sequence and cross settings);
* ``model.onnx``: the network followed by the estimator's calibration and sigmoid
  (:func:`sk_ctr.export.export_onnx`).

:func:`load` reads it and returns a :class:`ServingModel` whose :meth:`~ServingModel.predict_proba`
takes the raw frame ``predict_proba`` of the estimator takes (unseen categories, NaN, histories
and every input dtype included) and returns the same probabilities (to float32 rounding of the
graph's sigmoid, below 1e-6). Importing this module imports numpy, pandas and ONNX Runtime
(when a model is loaded); the file is JSON and an ONNX graph, data rather than code, so unlike
a pickle it can be loaded from a source one does not fully trust.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from sk_ctr import DeepFMClassifier
>>> from sk_ctr.datasets import make_ctr_classification
>>> from sk_ctr.export import export_serving
>>> from sk_ctr import serving
>>> X, y = make_ctr_classification(n_samples=300, n_fields=3, n_numeric=1, random_state=0)
>>> est = DeepFMClassifier(max_epochs=1, hidden_units=(8,), random_state=0).fit(X, y)
>>> with tempfile.TemporaryDirectory() as directory:
...     path = export_serving(est, Path(directory) / "model.skctr", X=X[:20])
...     model = serving.load(path)  # in the serving process: no torch needed
>>> bool(abs(model.predict_proba(X[:5]) - est.predict_proba(X[:5])).max() < 1e-6)
True
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from sk_ctr.artifact import ArtifactVersionError
from sk_ctr.preprocessing.encoding import RawEncoder

__all__ = ["SERVING_FORMAT", "ServingModel", "load", "write_artifact"]

#: Name recorded in every serving artifact's manifest, to tell it from other zip files.
FORMAT_NAME = "sk_ctr-serving"
#: Version of the serving artifact's layout and meaning (the manifest's keys, the encoding's
#: state, the graph's inputs and output). Bump it with any change after which an artifact
#: written before would fail to load or score differently; another version is refused with
#: :class:`~sk_ctr.artifact.ArtifactVersionError`.
SERVING_FORMAT = 1
MANIFEST, GRAPH = "manifest.json", "model.onnx"
#: The graph's output: the probability of ``classes_[1]``.
OUTPUT_NAME = "probability"


class ServingModel:
    """A loaded serving artifact: raw rows in, click probabilities out.

    Build it with :func:`load`.

    Attributes
    ----------
    classes_ : numpy.ndarray
        The estimator's labels; column 1 of :meth:`predict_proba` is ``classes_[1]``.
    threshold : float
        The estimator's decision threshold, used by :meth:`predict`.
    encoder : RawEncoder
        The fitted encoding of raw rows.
    manifest : dict
        The artifact's manifest (without the encoding's state).
    """

    def __init__(self, manifest, encoder, session):
        self.manifest = manifest
        self.encoder = encoder
        self.classes_ = np.asarray(manifest["classes"])
        self.threshold = float(manifest["threshold"])
        self._session = session
        self._inputs = list(manifest["inputs"])

    def predict_proba(self, X):
        """Click probabilities of raw rows, as the estimator's ``predict_proba`` gives them.

        Parameters
        ----------
        X : pandas.DataFrame
            The columns the estimator was fitted on, in any order.

        Returns
        -------
        ndarray of shape (n_samples, 2), float64
            Column 1 is the probability of ``classes_[1]``.
        """
        encoded = self.encoder.transform(X)
        feed = {name: encoded[name] for name in self._inputs}
        positive = self._session.run([OUTPUT_NAME], feed)[0].astype(np.float64)
        return np.stack((1 - positive, positive), axis=1)

    def predict(self, X):
        """Labels: ``classes_[1]`` where its probability exceeds ``threshold``.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        positive = self.predict_proba(X)[:, 1] > self.threshold
        return self.classes_[positive.astype(np.int64)]

    def __repr__(self):
        return (
            f"ServingModel({self.manifest['estimator']}, {len(self.encoder.columns)} "
            f"columns, sk_ctr {self.manifest['sk_ctr_version']})"
        )


def load(path, threads=None):
    """Load a serving artifact written by :func:`sk_ctr.export.export_serving`.

    Parameters
    ----------
    path : str or path-like
        The artifact file.
    threads : int, default=None
        Threads of ONNX Runtime's session (``intra_op_num_threads``); ``None`` leaves its
        default (one per core). A server running one worker per core wants 1.

    Returns
    -------
    ServingModel

    Raises
    ------
    ArtifactVersionError
        If the artifact was written in another :data:`SERVING_FORMAT`.
    ValueError
        If the file is not a serving artifact.
    ImportError
        If onnxruntime is not installed.
    """
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read(MANIFEST))
            _check_format(manifest, path)
            encoder_state = manifest.pop("encoder")
            graph = archive.read(GRAPH)
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as error:
        raise ValueError(
            f"{path} is not an sk_ctr serving artifact ({error}); write one with "
            "sk_ctr.export.export_serving or 'sk-ctr export --serving'."
        ) from error
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError(
            "Loading a serving artifact needs onnxruntime: pip install onnxruntime"
        ) from error
    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    return ServingModel(manifest, RawEncoder.from_dict(encoder_state), session)


def write_artifact(path, manifest, graph):
    """Write the artifact's zip archive to ``path`` (the caller makes the write atomic).

    Parameters
    ----------
    path : str or path-like
    manifest : dict
        JSON types only; :data:`FORMAT_NAME` and :data:`SERVING_FORMAT` are added at its head.
    graph : bytes
        The ONNX graph.
    """
    manifest = {"format": FORMAT_NAME, "format_version": SERVING_FORMAT, **manifest}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, json.dumps(manifest))
        archive.writestr(GRAPH, graph)


def _check_format(manifest, path):
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ValueError(f"{path} holds a {MANIFEST} that is not an sk_ctr serving manifest.")
    version = manifest.get("format_version")
    if version != SERVING_FORMAT:
        raise ArtifactVersionError(
            f"{path} is a serving artifact of format {version}, written by sk_ctr "
            f"{manifest.get('sk_ctr_version')}; this sk_ctr reads serving format "
            f"{SERVING_FORMAT}. Export the model again with this version of sk_ctr "
            "(sk_ctr.export.export_serving), or serve it with the version that wrote it."
        )
