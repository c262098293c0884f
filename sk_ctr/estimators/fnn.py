"""FNN: a factorization machine pre-trained, then an MLP initialised with its weights."""

from numbers import Integral

import torch
from sklearn.utils._param_validation import Interval

from sk_ctr.estimators.base import EMBEDDING_CONSTRAINTS, MLP_CONSTRAINTS, CTRClassifier
from sk_ctr.estimators.models import _MLP_PARAMS, _TRAINING_PARAMS, FMClassifier
from sk_ctr.models.fnn import FNNNet

_FNN_PARAMS = """
    embed_dim : int, default=10
        Size k of the FM's latent vectors; the MLP's per-field vectors have k + 1 entries
        (the journal's 10 and 11, Table III).
    init_std : float, default=0.01
        Standard deviation of the normal initialisation of the FM's latent vectors (and of the
        table when ``pretrain_epochs=0``).
    pretrain_epochs : int, default=5
        Epochs of FM pre-training; 0 skips it (the table keeps its random initialisation).
"""


class FNNClassifier(CTRClassifier):
    __doc__ = f"""Factorization-machine supported neural network (FNN).

    Zhang et al. 2016; DeepFM journal section III-C-1. Training has two stages. First an FM
    (DeepFM journal eq. 4) with k = ``embed_dim`` is trained for ``pretrain_epochs`` epochs on
    the training data, with this estimator's ``optimizer``, ``lr``, ``batch_size``, ``l2`` and
    ``random_state``. Its order-1 weight w_i and latent vector v_i of every feature then
    initialise the (k + 1)-dimensional vector z_i = [w_i, v_i] of an MLP's embedding table,
    which is trained as usual for ``max_epochs``. The logit is the MLP's alone: FNN learns no
    low-order features (journal Table II). When ``early_stopping`` holds out a validation
    split, the FM is trained on the same training part, so the split is never seen before
    it is scored.

    The FNN paper also feeds the FM's global bias w_0 to the MLP; as a constant input it only
    shifts the first hidden layer's biases, so it is left out.

    Parameters
    ----------{_FNN_PARAMS}{_MLP_PARAMS}{_TRAINING_PARAMS}
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

    def __init__(self, *, embed_dim=10, pretrain_epochs=5, hidden_units=(400, 400, 400),
                 activation="relu", dropout=0.5, batch_norm=False, init_std=0.01, **kwargs):
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
        optimizer_params = {
            f"optimizer__{name}": value for name, value in self.get_params_for("optimizer").items()
        }
        fm = FMClassifier(
            embed_dim=self.embed_dim, init_std=self.init_std, l2=self.l2,
            optimizer=self.optimizer, lr=self.lr, batch_size=self.batch_size,
            max_epochs=self.pretrain_epochs, device=self.device, random_state=self.random_state,
            verbose=self.verbose, **optimizer_params,
            # the stage trains on the rows it is given (early stopping's split is already out)
            early_stopping=False, calibration=None,
        ).fit(X_encoded, y_encoded)
        table, fm_net = self.module_.embedding, fm.module_
        with torch.no_grad():
            table.table.weight[:, :1] = fm_net.linear.weights.table.weight
            table.table.weight[:, 1:] = fm_net.embedding.table.weight
            table.numeric[:, :1] = fm_net.linear.weights.numeric
            table.numeric[:, 1:] = fm_net.embedding.numeric
        self.pretrained_fm_ = fm
