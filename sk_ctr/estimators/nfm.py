"""The Neural Factorization Machine estimator."""

from numbers import Real

from sklearn.utils._param_validation import Interval

from sk_ctr.estimators.base import EMBEDDING_CONSTRAINTS, MLP_CONSTRAINTS, CTRClassifier
from sk_ctr.estimators.parameter_docs import (
    ACTIVATION,
    INIT_STD_FACTORIZATION,
    parameters,
    training_parameters,
)
from sk_ctr.models.nfm import NFMNet

__all__ = ["NFMClassifier"]


class NFMClassifier(CTRClassifier):
    __doc__ = f"""Neural Factorization Machine: an MLP on the Bi-Interaction pooling of the
    field embeddings, plus the order-1 part.

    NFM (He & Chua, "Neural Factorization Machines for Sparse Predictive Analytics", SIGIR
    2017): y = w_0 + sum_i w_i x_i + f(x) (eq. 2). The Bi-Interaction layer pools the field
    embeddings e_i = x_i v_i into one k-vector of their pairwise element-wise products,
    f_BI = sum_(i<j) e_i * e_j = 1/2 [(sum_i e_i)^2 - sum_i e_i^2] (eq. 3-4, squares taken
    element-wise, O(m k)); batch normalisation and dropout on it, then hidden layers and a
    prediction layer give f(x) (eq. 5). Without hidden layers and with unit prediction
    weights this is an FM: NFM's hidden layers learn non-linear functions of the order-2
    interactions, on a k-wide input rather than DNN's m * k. Defaults are the authors' (paper
    section 4.1 and their released command: embedding size 64, one hidden layer of 64 ReLU
    units, batch normalisation, keep probability 0.5 on the Bi-Interaction layer and 0.8 on
    the hidden layer); the benchmark's ``"nfm"`` preset uses the house protocol instead.

    Parameters
    ----------
    embed_dim : int, default=64
        Size k of the field embeddings, which is also the width of the Bi-Interaction
        vector (the paper reports its results with 64).
{parameters(INIT_STD_FACTORIZATION)}
    hidden_units : tuple of int, default=(64,)
        Widths of the hidden layers on the Bi-Interaction vector. One layer (NFM-1) was the
        paper's best: deeper ones did not improve it (section 4.3, Table 3). ``()`` leaves a
        linear prediction layer on f_BI, i.e. an FM with learned per-dimension weights.
{parameters(ACTIVATION)}
    dropout : float, default=0.2
        Probability of dropping a hidden unit (the authors' keep probability 0.8).
    batch_norm : bool, default=True
        Batch normalisation after each hidden layer's linear map (as the authors' code).
    bi_dropout : float, default=0.5
        Probability of dropping an entry of the Bi-Interaction vector (section 3.2,
        "Dropout"; the authors' keep probability 0.5).
    bi_batch_norm : bool, default=True
        Batch normalisation of the Bi-Interaction vector (section 3.2, "Batch
        Normalization": its scale varies with the number and norm of the embeddings).
{parameters(*training_parameters())}

    Examples
    --------
    >>> from sk_ctr.estimators.nfm import NFMClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, random_state=0)
    >>> est = NFMClassifier(embed_dim=8, hidden_units=(16,), max_epochs=2, random_state=0)
    >>> est.fit(X, y).predict_proba(X).shape
    (2000, 2)
    >>> est.module_.bi_interaction
    BiInteractionPooling()
    """

    _network = NFMNet
    _parameter_constraints = {
        **CTRClassifier._parameter_constraints,
        **EMBEDDING_CONSTRAINTS,
        **MLP_CONSTRAINTS,
        "bi_dropout": [Interval(Real, 0, 1, closed="left")],
        "bi_batch_norm": ["boolean"],
    }

    def __init__(
        self,
        *,
        embed_dim=64,
        init_std=0.01,
        hidden_units=(64,),
        activation="relu",
        dropout=0.2,
        batch_norm=True,
        bi_dropout=0.5,
        bi_batch_norm=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.embed_dim = embed_dim
        self.init_std = init_std
        self.hidden_units = hidden_units
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.bi_dropout = bi_dropout
        self.bi_batch_norm = bi_batch_norm
