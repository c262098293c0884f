"""skorch callbacks around the training loop."""

import math
import sys

import numpy as np
from sklearn.metrics import roc_auc_score
from skorch.callbacks import Callback, PrintLog


class StopTraining(Exception):
    """Raised by early stopping (``sk_ctr.estimators.early_stopping.BestEpochStopping``) to
    end the epoch loop.

    skorch's own ``EarlyStopping`` raises ``KeyboardInterrupt``, which its ``partial_fit``
    swallows together with a user's Ctrl-C; a distinct exception lets the training loop end
    on early stopping while an interrupt still reaches the caller.
    """


def is_interactive(stream):
    """Whether ``stream`` shows live output: a terminal, or a Jupyter kernel (which renders
    colours and progress bars). A redirected log is neither."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class EpochTable(PrintLog):
    """skorch's per-epoch table, without colour codes where stdout is not interactive, so that
    a redirected log (``sk-ctr fit ... > train.log``, a batch job's output) holds plain text."""

    def format_row(self, row, key, color):
        if not is_interactive(sys.stdout):
            # PrintLog colours the value of ``key`` when the row flags it ("<key>_best");
            # without the flag it formats the value plainly.
            row = {name: value for name, value in row.items() if name != f"{key}_best"}
        return super().format_row(row, key, color)


#: A training epoch whose mean loss exceeds this has diverged: ten times the log-loss of a
#: constant 0.5 prediction (log 2), which bounds every constant predictor's log-loss. Adam at
#: ``lr=1e3`` reaches 4e7 (DIN: 7e28) with no NaN, predicting two values; an epoch of a
#: model still learning stays far below 1 (its first batches start near log 2).
DIVERGED_LOSS = 10 * math.log(2)
#: Key of each training batch's (weighted) mean log-loss in the history, before penalties.
TRAIN_LOGLOSS = "train_logloss"


class StopOnNonFiniteLoss(Callback):
    """Stop training with a clear message when the optimisation diverges: as soon as a
    training batch loss is NaN or infinite, or when an epoch's mean training log-loss (the data
    term, without the penalties: a strong regularisation is no divergence) exceeds
    :data:`DIVERGED_LOSS`.

    Without it a diverged network keeps training on NaN weights and ``predict_proba`` returns
    NaN for every row, or (under Adam, whose steps stay bounded) exploding but finite logits
    give predictions of two values, silently.
    """

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        epoch = net.history[-1]
        loss = epoch["batches"][-1]["train_loss"]
        if not math.isfinite(loss):
            _diverged(net, loss, f"epoch {epoch['epoch']} (batch {len(epoch['batches'])})")

    def on_epoch_end(self, net, **kwargs):
        batches = [b for b in net.history[-1]["batches"] if TRAIN_LOGLOSS in b]
        if not batches:
            return
        sizes = [b.get("train_batch_size", 1) for b in batches]
        loss = float(np.average([b[TRAIN_LOGLOSS] for b in batches], weights=sizes))
        if loss > DIVERGED_LOSS:
            _diverged(
                net,
                loss,
                f"epoch {net.history[-1, 'epoch']} (its mean log-loss; a constant "
                f"prediction of 0.5 scores {math.log(2):.3f})",
            )


def _diverged(net, loss, where):
    raise FloatingPointError(
        f"The training loss became {loss:.6g} in {where}: the optimisation diverged. Try a "
        f"lower lr (now {net.lr}), a larger batch_size or a stronger l2."
    )


class AfterTrainingOnValidation(Callback):
    """Base of the callbacks that fit something on the validation rows once training has
    ended (after early stopping restored the best weights: they come after it in the list).

    It keeps the epochs' ``dataset_valid`` and calls :meth:`on_validation_rows` at the end of
    a fit that had validation rows and trained at least one epoch.
    """

    def on_train_begin(self, net, **kwargs):
        self.dataset_valid_ = None

    def on_epoch_end(self, net, dataset_valid=None, **kwargs):
        self.dataset_valid_ = dataset_valid

    def on_train_end(self, net, **kwargs):
        dataset, self.dataset_valid_ = getattr(self, "dataset_valid_", None), None
        if dataset is not None and len(net.history):
            self.on_validation_rows(net, dataset)

    def on_validation_rows(self, net, dataset):
        """Fit on ``dataset`` (the validation rows) and record the result in the history."""
        raise NotImplementedError


def validation_auc(net, X, y):
    """ROC AUC of the net's positive-class probability on the validation split.

    Used as skorch ``EpochScoring`` callable: the whole validation set is scored at once, not
    averaged over batches.
    """
    y = np.asarray(y)
    if np.unique(y).size < 2:
        return float("nan")
    return roc_auc_score(y, net.predict_proba(X)[:, 1])
