"""skorch callbacks around the training loop."""

import math

import numpy as np
from sklearn.metrics import roc_auc_score
from skorch.callbacks import Callback


class StopOnNonFiniteLoss(Callback):
    """Stop training with a clear message as soon as a training batch loss is NaN or infinite.

    Without it a diverged network keeps training on NaN weights and ``predict_proba`` returns
    NaN for every row, silently.
    """

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        epoch = net.history[-1]
        loss = epoch["batches"][-1]["train_loss"]
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"The training loss became {loss} in epoch {epoch['epoch']} (batch "
                f"{len(epoch['batches'])}): the optimisation diverged. Try a lower lr "
                f"(now {net.lr}), a larger batch_size or a stronger l2."
            )


def validation_auc(net, X, y):
    """ROC AUC of the net's positive-class probability on the validation split.

    Used as skorch ``EpochScoring`` callable: the whole validation set is scored at once, not
    averaged over batches.
    """
    y = np.asarray(y)
    if np.unique(y).size < 2:
        return float("nan")
    return roc_auc_score(y, net.predict_proba(X)[:, 1])
