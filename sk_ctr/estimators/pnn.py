"""PNN: product-based neural networks (IPNN, OPNN, PNN*), a deep baseline of the DeepFM journal."""

from sklearn.utils._param_validation import StrOptions

from sk_ctr.estimators.base import EMBEDDING_CONSTRAINTS, MLP_CONSTRAINTS, CTRClassifier
from sk_ctr.estimators.models import INTERACTIONS_CONSTRAINTS
from sk_ctr.estimators.parameter_docs import (
    INIT_STD,
    INTERACTIONS,
    MLP,
    parameters,
    training_parameters,
)
from sk_ctr.layers.product import PRODUCTS
from sk_ctr.models.pnn import PNNNet

__all__ = ["PNNClassifier"]


class PNNClassifier(CTRClassifier):
    __doc__ = f"""Product-based neural network: field embeddings and their pairwise products
    feed a multi-layer perceptron.

    The product layer passes on z = [e_1, ..., e_m] and p = {{g(e_i, e_j)}}, and the first
    hidden layer is a^(1) = sigma(W_linear z + W_quadratic p + b) (DeepFM journal eq. 9, after
    Qu et al., "Product-based neural networks for user response prediction", 2016). IPNN, OPNN
    and PNN* differ in g (``product``). A PNN learns high-order interactions only (journal
    Table II); :class:`~sk_ctr.DeepFMClassifier` adds the FM part. Journal Table III on
    Criteo-Random: IPNN tanh, OPNN and PNN* relu, dropout 0.5, 400-400-400.

    Parameters
    ----------
    product : {{"inner", "outer", "both"}}, default="inner"
        The quadratic signal of the product layer: ``"inner"`` (IPNN) the m(m-1)/2 inner
        products <e_i, e_j>, computed exactly; ``"outer"`` (OPNN) the outer product f f^T of
        the summed embeddings f = sum_i e_i (the PNN paper's approximation, k^2 values);
        ``"both"`` (PNN*) the two. The journal (section III-C-2) finds the outer product less
        reliable: its sum pooling loses information and makes results unstable.
    embed_dim : int, default=11
        Size k of the field embeddings. A PNN has no FM part to hold each id's order-1 weight,
        so the journal gives it one more dimension than FM and DeepFM: k + 1 = 11 on Criteo
        (section III-C-1, Table III).
{parameters(INIT_STD, INTERACTIONS, *MLP, *training_parameters())}

    Examples
    --------
    >>> from sk_ctr.estimators.pnn import PNNClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, random_state=0)
    >>> est = PNNClassifier(product="outer", hidden_units=(32,), max_epochs=2, random_state=0)
    >>> est.fit(X, y).predict_proba(X).shape
    (2000, 2)
    """

    _network = PNNNet
    _parameter_constraints = {
        **CTRClassifier._parameter_constraints,
        **EMBEDDING_CONSTRAINTS,
        **MLP_CONSTRAINTS,
        **INTERACTIONS_CONSTRAINTS,
        "product": [StrOptions(set(PRODUCTS))],
    }

    def __init__(
        self,
        *,
        product="inner",
        embed_dim=11,
        init_std=0.01,
        interactions=None,
        hidden_units=(400, 400, 400),
        activation="relu",
        dropout=0.5,
        batch_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.product = product
        self.interactions = interactions
        self.embed_dim = embed_dim
        self.hidden_units = hidden_units
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.init_std = init_std
