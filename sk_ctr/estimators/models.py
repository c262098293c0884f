"""The estimators of the DeepFM journal's baselines and DeepFM itself (section IV-A3)."""

from sklearn.utils._param_validation import StrOptions

from sk_ctr.estimators.base import EMBEDDING_CONSTRAINTS, MLP_CONSTRAINTS, CTRClassifier
from sk_ctr.estimators.defaults import SHALLOW_LR
from sk_ctr.estimators.parameter_docs import (
    EMBED_DIM,
    INIT_STD,
    INIT_STD_FACTORIZATION,
    INTERACTIONS,
    LR_OF_SHALLOW_MODELS,
    MLP,
    parameters,
    training_parameters,
)
from sk_ctr.models import DeepFMNet, DNNNet, FactorizationMachineNet, LogisticRegressionNet
from sk_ctr.models.pnn import DeepFMPNet

__all__ = ["LRClassifier", "FMClassifier", "DNNClassifier", "DeepFMClassifier"]

#: Constraint of the ``interactions`` parameter of every model with an order-2 interaction layer.
INTERACTIONS_CONSTRAINTS = {"interactions": [list, tuple, None]}


class LRClassifier(CTRClassifier):
    __doc__ = f"""Logistic regression on one-hot encoded fields: y = sigmoid(<w, x> + b).

    The order-1 baseline of the DeepFM journal (eq. 2 without hand-made crosses). Use ``l2``
    to regularise the per-id weights.

    Parameters
    ----------
{parameters(*training_parameters(LR_OF_SHALLOW_MODELS))}

    Examples
    --------
    >>> from sk_ctr import LRClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, random_state=0)
    >>> LRClassifier(max_epochs=2, random_state=0).fit(X, y).predict_proba(X).shape
    (2000, 2)
    """

    _network = LogisticRegressionNet

    def __init__(self, *, lr=SHALLOW_LR, **kwargs):
        super().__init__(lr=lr, **kwargs)


class FMClassifier(CTRClassifier):
    __doc__ = f"""Factorization machine: order-1 weights plus sum_(i<j) <V_i, V_j> x_i x_j.

    DeepFM journal eq. 4, computed in O(m k) with the sum-square identity.

    Parameters
    ----------
{
        parameters(
            EMBED_DIM,
            INIT_STD_FACTORIZATION,
            INTERACTIONS,
            *training_parameters(LR_OF_SHALLOW_MODELS),
        )
    }

    Examples
    --------
    >>> from sk_ctr import FMClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, random_state=0)
    >>> FMClassifier(embed_dim=4, max_epochs=2, random_state=0).fit(X, y).score(X, y) > 0.5
    True
    """

    _network = FactorizationMachineNet
    _parameter_constraints = {
        **CTRClassifier._parameter_constraints,
        **EMBEDDING_CONSTRAINTS,
        **INTERACTIONS_CONSTRAINTS,
    }

    def __init__(self, *, embed_dim=10, init_std=0.01, interactions=None, lr=SHALLOW_LR, **kwargs):
        super().__init__(lr=lr, **kwargs)
        self.embed_dim = embed_dim
        self.init_std = init_std
        self.interactions = interactions


class DNNClassifier(CTRClassifier):
    __doc__ = f"""Field embeddings concatenated into a multi-layer perceptron.

    The deep-only baseline of the DeepFM journal (eq. 5-8).

    Parameters
    ----------
{parameters(EMBED_DIM, *MLP, INIT_STD, *training_parameters())}

    Examples
    --------
    >>> from sk_ctr import DNNClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, random_state=0)
    >>> DNNClassifier(hidden_units=(32,), max_epochs=2, random_state=0).fit(X, y).classes_
    array([0, 1])
    """

    _network = DNNNet
    _parameter_constraints = {
        **CTRClassifier._parameter_constraints,
        **EMBEDDING_CONSTRAINTS,
        **MLP_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        embed_dim=10,
        hidden_units=(400, 400, 400),
        activation="relu",
        dropout=0.5,
        batch_norm=False,
        init_std=0.01,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.embed_dim = embed_dim
        self.hidden_units = hidden_units
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.init_std = init_std


class DeepFMClassifier(DNNClassifier):
    __doc__ = f"""DeepFM: an FM component and a deep component on one shared embedding.

    y = sigmoid(y_FM + y_Deep) (DeepFM journal eq. 1). Both components read the same field
    embeddings (eq. 5-6), so the FM's order-2 signal and the deep component's high-order signal
    train the same vectors; no feature engineering and no pre-training. The deep component is
    a DNN (DeepFM-D) or a PNN (DeepFM-P), chosen by ``deep``. Dropout regularises the deep
    component and ``l2`` the embeddings and order-1 weights (section III-B).

    Parameters
    ----------
    deep : {{"dnn", "inner", "outer", "both"}}, default="dnn"
        The deep component: a DNN (DeepFM-D) or a PNN (DeepFM-P, y_Deep = y_PNN in eq. 1)
        whose product layer feeds the MLP the embeddings and their pairwise inner products
        (DeepFM-IP), the outer product of their sum (DeepFM-OP) or both (DeepFM-*P); see
        :class:`~sk_ctr.estimators.pnn.PNNClassifier`. In the journal's Table IV DeepFM-D and
        DeepFM-IP perform best.
{parameters(INTERACTIONS, EMBED_DIM, *MLP, INIT_STD_FACTORIZATION, *training_parameters())}

    Examples
    --------
    >>> from sk_ctr import DeepFMClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, random_state=0)
    >>> est = DeepFMClassifier(hidden_units=(32, 32), max_epochs=2, random_state=0).fit(X, y)
    >>> est.predict_proba(X).shape
    (2000, 2)
    >>> DeepFMClassifier(deep="inner", hidden_units=(32,), max_epochs=2).fit(X, y).module_.product
    ProductLayer(
      (inner): InnerProduct()
    )
    """

    _parameter_constraints = {
        **DNNClassifier._parameter_constraints,
        **INTERACTIONS_CONSTRAINTS,
        "deep": [StrOptions({"dnn", "inner", "outer", "both"})],
    }

    def __init__(self, *, deep="dnn", interactions=None, **kwargs):
        super().__init__(**kwargs)
        self.deep = deep
        self.interactions = interactions

    @property
    def _network(self):
        # initialize_module passes a network only the parameters its signature names, so
        # ``deep`` reaches DeepFMPNet and DeepFMNet is built exactly as before.
        return DeepFMNet if self.deep == "dnn" else DeepFMPNet
