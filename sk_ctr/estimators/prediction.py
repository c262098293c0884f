"""What a fitted CTRClassifier returns: probabilities, logits (calibrated, shifted for negative
sampling), labels, and the batch loop of the helpers that read more than the logits."""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import expit, logit
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from sk_ctr.estimators.calibration import isotonic_probability
from sk_ctr.estimators.inference import network_logits
from sk_ctr.estimators.pipelined import chunk_rows, pipelined_logits
from sk_ctr.io.parquet import as_source
from sk_ctr.preprocessing.batch import network_inputs


def sigmoid_then_2d(logits):
    """Logits of shape (n,) to class probabilities of shape (n, 2).

    Set as skorch's ``predict_nonlinearity`` explicitly: with the default ``'auto'``,
    ``trim_for_prediction()`` drops the criterion and ``predict_proba`` returns raw logits.
    """
    positive = torch.sigmoid(logits)
    return torch.stack((1 - positive, positive), dim=1)


class PredictionMixin:
    """Prediction of ``CTRClassifier``, from rows in memory or streamed from Parquet."""

    def predict_proba(self, X):
        """Click probabilities.

        Parameters
        ----------
        X : pandas.DataFrame, array-like, FieldData, ParquetSource or path
            A :class:`~sk_ctr.ParquetSource`, a Parquet file or directory, or a list of them,
            is read and predicted chunk by chunk (``batch_rows`` rows at a time), in file
            order; only the output is held in memory.

        Returns
        -------
        ndarray of shape (n_samples, 2)
            Column 1 is the probability of ``classes_[1]``.
        """
        source = self._prediction_source(X)
        if source is not None:
            return self._predict_stream(self.predict_proba, source)
        positive = expit(self.decision_function(X))
        return np.stack((1 - positive, positive), axis=1)

    def decision_function(self, X):
        """Logits (log-odds of ``classes_[1]``), divided by ``temperature_`` (and mapped by
        ``isotonic_knots_``) and shifted by
        log ``negative_sampling_rate`` when set.

        Parameters
        ----------
        X : pandas.DataFrame, array-like, FieldData, ParquetSource or path

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        source = self._prediction_source(X)
        if source is not None:
            return self._predict_stream(self.decision_function, source)
        rows = chunk_rows(self, X)
        if rows is None:
            X_encoded = self._encode_for_prediction(X)
            with self._runtime():
                logits = network_logits(self, X_encoded)
        else:  # a large raw frame: chunks encoded one ahead of the network
            with self._runtime():
                logits = pipelined_logits(self, X, rows)
        logits = logits.numpy().astype(np.float64)
        logits = logits / getattr(self, "temperature_", 1.0)
        knots = getattr(self, "isotonic_knots_", None)
        if knots is not None:
            logits = logit(isotonic_probability(logits, knots))
        if self.negative_sampling_rate is not None:
            # undo negative down-sampling: odds times w, p' = p / (p + (1 - p) / w)
            logits = logits + np.log(self.negative_sampling_rate)
        return logits

    def _map_batches(self, X, fn):
        """``fn(network, **inputs)`` over the batches of ``X``, concatenated in row order.

        The one loop of the helper methods that read something other than the logits from
        the network (AFM's and DIN's attention weights, the two towers' vectors): ``X`` is
        encoded and checked as for prediction, and the batches come from the estimator's own
        prediction loader (``get_iterator``: its batch size, background prefetching and
        device placement), with the network in evaluation mode and no gradients, under the
        estimator's thread count.

        Parameters
        ----------
        X : pandas.DataFrame, array-like or FieldData
        fn : callable
            ``fn(network, ids=..., values=...)`` (plus ``sequences=`` and ``lengths=`` for a
            schema with sequence fields: the network inputs of
            :mod:`sk_ctr.preprocessing.batch`) returns a tensor whose first axis is the batch.

        Returns
        -------
        ndarray of float64 and shape (n_samples, ...)
        """
        X_encoded = self._encode_for_prediction(X)
        outputs = []
        with self._runtime(), torch.no_grad():
            self._set_training(False)
            for batch in self.get_iterator(self.get_dataset(X_encoded), training=False):
                Xi, _ = unpack_data(batch)
                inputs = to_tensor(network_inputs(Xi), self.device)
                outputs.append(fn(self.module_, **inputs).cpu())
        return torch.cat(outputs).numpy().astype(np.float64)

    def predict(self, X):
        """Labels: ``classes_[1]`` where its probability exceeds ``threshold``.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        positive = self.predict_proba(X)[:, 1] > self.threshold
        return self.classes_[positive.astype(np.int64)]

    def _prediction_source(self, X):
        """The ParquetSource to predict from when ``X`` is one or names files (reading the
        columns ``fit`` saw, when it saw named ones), else ``None``."""
        columns = getattr(self, "feature_names_in_", None)
        return as_source(X, columns=None if columns is None else list(columns))

    @staticmethod
    def _predict_stream(method, source):
        """``method`` applied to every chunk of ``source`` in file order, concatenated."""
        return np.concatenate([method(frame) for frame in source.iter_frames()])

    def _encode_for_prediction(self, X):
        if isinstance(X, torch.utils.data.Dataset) and self.__sklearn_is_fitted__():
            return X  # skorch's own scoring passes its validation split, already encoded
        return super()._encode_for_prediction(X)
