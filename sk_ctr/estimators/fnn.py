"""FNN: a factorization machine pre-trained, then an MLP initialised with its weights."""

import inspect
from numbers import Integral

import torch
from sklearn.utils._param_validation import Interval

from sk_ctr.estimators.base import EMBEDDING_CONSTRAINTS, MLP_CONSTRAINTS, CTRClassifier
from sk_ctr.estimators.models import FMClassifier
from sk_ctr.estimators.parameter_docs import MLP, parameters, training_parameters
from sk_ctr.models.fnn import FNNNet

__all__ = ["FNNClassifier"]


class FNNClassifier(CTRClassifier):
    __doc__ = f"""Factorization-machine supported neural network (FNN).

    Zhang et al. 2016; DeepFM journal section III-C-1. Training has two stages. First an FM
    (DeepFM journal eq. 4) with k = ``embed_dim`` is trained for ``pretrain_epochs`` epochs on
    the training data, with every parameter of this estimator that an FM has (``optimizer``,
    ``lr``, ``batch_size``, ``l2``, ``random_state`` ...). Its order-1 weight w_i and latent
    vector v_i of every feature then initialise the (k + 1)-dimensional vector
    z_i = [w_i, v_i] of an MLP's embedding table, which is trained as usual for
    ``max_epochs``. The logit is the MLP's alone: FNN learns no low-order features (journal
    Table II). When ``early_stopping`` holds out a validation split, the FM is trained on the
    same training part, so the split is never seen before it is scored.

    The FNN paper also feeds the FM's global bias w_0 to the MLP; as a constant input it only
    shifts the first hidden layer's biases, so it is left out.

    Parameters
    ----------
    embed_dim : int, default=10
        Size k of the FM's latent vectors; the MLP's per-field vectors have k + 1 entries
        (the journal's 10 and 11, Table III).
    init_std : float, default=0.01
        Standard deviation of the normal initialisation of the FM's latent vectors (and of the
        table when ``pretrain_epochs=0``).
    pretrain_epochs : int, default=5
        Epochs of FM pre-training; 0 skips it (the table keeps its random initialisation).
{parameters(*MLP, *training_parameters())}

    Attributes
    ----------
    pretrained_fm_ : FMClassifier or None
        The pre-trained factorization machine (None when ``pretrain_epochs=0``).

    Examples
    --------
    >>> from sk_ctr.estimators.fnn import FNNClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, random_state=0)
    >>> est = FNNClassifier(pretrain_epochs=2, hidden_units=(32,), max_epochs=2,
    ...                     random_state=0).fit(X, y)
    >>> est.module_.embedding.embed_dim, est.pretrained_fm_.module_.embedding.embed_dim
    (11, 10)
    """

    _network = FNNNet
    _parameter_constraints = {
        **CTRClassifier._parameter_constraints,
        **EMBEDDING_CONSTRAINTS,
        **MLP_CONSTRAINTS,
        "pretrain_epochs": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        embed_dim=10,
        init_std=0.01,
        pretrain_epochs=5,
        hidden_units=(400, 400, 400),
        activation="relu",
        dropout=0.5,
        batch_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.embed_dim = embed_dim
        self.pretrain_epochs = pretrain_epochs
        self.hidden_units = hidden_units
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.init_std = init_std

    def _pretrain(self, X_encoded, y_encoded):
        """Train an FM on the training rows and copy [w_i, v_i] of every feature into the
        embedding table."""
        self.pretrained_fm_ = None
        if self.pretrain_epochs == 0:
            return
        fm = self._factorization_machine().fit(X_encoded, y_encoded)
        table, fm_net = self.module_.embedding, fm.module_
        with torch.no_grad():
            table.table.weight[:, :1] = fm_net.linear.weights.table.weight
            table.table.weight[:, 1:] = fm_net.embedding.table.weight
            table.numeric[:, :1] = fm_net.linear.weights.numeric
            table.numeric[:, 1:] = fm_net.embedding.numeric
        self.pretrained_fm_ = fm

    def _factorization_machine(self):
        """The unfitted FM of the first stage: every parameter of this estimator that
        FMClassifier has (``embed_dim``, ``init_std``, the optimizer's ``optimizer__*`` and all
        the training parameters), for ``pretrain_epochs`` epochs on the rows it is given
        (early stopping's validation rows are already out), without the callbacks, which
        watch this estimator's training (a Checkpoint would save the FM over it)."""
        shared = inspect.signature(FMClassifier).parameters
        params = {
            name: value
            for name, value in self.get_params(deep=False).items()
            if name in shared or name.startswith("optimizer__")
        }
        stage = {
            "max_epochs": self.pretrain_epochs,
            "early_stopping": False,
            "calibration": None,
            "callbacks": None,
        }
        return FMClassifier(**{**params, **stage})
