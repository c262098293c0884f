"""The training loss of a CTRClassifier: per-sample log-loss, sample weights, the ``l2``
penalty, a DDP rank's share of an uneven global batch, and the model's own batch penalty."""

from collections.abc import Mapping

from skorch.utils import to_tensor

from sk_ctr.preprocessing.batch import (
    LOSS_SCALE,
    SAMPLE_WEIGHT,
    SIDE_CHANNEL_KEYS,
    network_inputs,
)
from sk_ctr.training.distributed import unwrap


class LossMixin:
    """skorch's criterion and loss hooks for ``CTRClassifier`` (whose ``_batch_penalty`` hook
    adds a model's own term)."""

    def initialize_criterion(self):
        """The criterion gives per-sample losses; :meth:`get_loss` weights and averages them."""
        params = {"reduction": "none", **self.get_params_for("criterion")}
        self.criterion_ = self.criterion(**params)
        return self

    def infer(self, x, **fit_params):
        """Forward a batch; the sample weights travel in ``x`` but are not network inputs."""
        if isinstance(x, Mapping) and any(key in x for key in SIDE_CHANNEL_KEYS):
            x = network_inputs(x)
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Mean (or sample-weighted mean) log-loss, plus ``l2`` times the mean squared norm of
        the embedding rows the batch used (DeepFM journal eq. 10-11 and section III-B)."""
        per_sample = self.criterion_(y_pred, to_tensor(y_true, self.device).to(y_pred.dtype))
        weights = X.get(SAMPLE_WEIGHT) if isinstance(X, Mapping) else None
        if weights is None:
            loss = per_sample.mean()
        else:
            weights = to_tensor(weights, self.device).to(per_sample.dtype)
            loss = (per_sample * weights).sum() / weights.sum()
        if training:
            inputs = network_inputs(X)
            loss = loss + self._penalty(unwrap(self.module_), to_tensor(inputs, self.device))
        scale = X.get(LOSS_SCALE) if isinstance(X, Mapping) else None
        if training and scale is not None:  # a DDP rank's share of an uneven global batch
            loss = loss * to_tensor(scale, self.device)[0]
        if training:
            loss = loss + self._batch_penalty(unwrap(self.module_), inputs, scale)
        return loss

    def _penalty(self, network, inputs):
        """The regularisation added to a training batch's loss: ``l2`` times the mean squared
        norm of the rows each sample uses. ``inputs`` are the batch's network inputs."""
        if self.l2 == 0:
            return 0.0
        return self.l2 * network.penalty(**inputs).mean()
