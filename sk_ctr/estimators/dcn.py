"""The Deep & Cross Network estimator."""

from numbers import Integral

from sklearn.utils._param_validation import Interval

from sk_ctr.estimators.base import EMBEDDING_CONSTRAINTS, MLP_CONSTRAINTS, CTRClassifier
from sk_ctr.estimators.parameter_docs import INIT_STD, MLP, parameters, training_parameters
from sk_ctr.models.dcn import DCNNet

__all__ = ["DCNClassifier"]


class DCNClassifier(CTRClassifier):
    __doc__ = f"""Deep & Cross Network: a cross network and an MLP side by side.

    DCN (Wang et al. 2017, arXiv:1708.05123): the field embeddings are stacked into x_0
    (eq. 1-2); a cross network of layers x_(l+1) = x_0 x_l^T w_l + b_l + x_l (eq. 3) learns
    explicit crosses of degree up to ``n_cross_layers + 1`` and an MLP (eq. 4) implicit ones;
    one linear unit on their concatenation gives the logit (eq. 5). Defaults follow the DeepFM
    journal's protocol for deep models without an FM part (Table III: 400-400-400, relu,
    dropout 0.5; embedding size 11), not the DCN paper's (per-field embedding sizes
    6 * cardinality^(1/4), batch normalisation and no dropout).

    Parameters
    ----------
    embed_dim : int, default=11
        Size of the field embeddings; x_0 has ``n_fields * embed_dim`` entries.
{parameters(INIT_STD)}
    n_cross_layers : int, default=3
        Number of cross layers; 0 leaves only the linear map of x_0 beside the MLP.
{parameters(*MLP, *training_parameters())}

    Examples
    --------
    >>> from sk_ctr.estimators.dcn import DCNClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, random_state=0)
    >>> est = DCNClassifier(hidden_units=(32,), max_epochs=2, random_state=0).fit(X, y)
    >>> est.predict_proba(X).shape
    (2000, 2)
    """

    _network = DCNNet
    _parameter_constraints = {
        **CTRClassifier._parameter_constraints,
        **EMBEDDING_CONSTRAINTS,
        **MLP_CONSTRAINTS,
        "n_cross_layers": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        embed_dim=11,
        init_std=0.01,
        n_cross_layers=3,
        hidden_units=(400, 400, 400),
        activation="relu",
        dropout=0.5,
        batch_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.embed_dim = embed_dim
        self.n_cross_layers = n_cross_layers
        self.hidden_units = hidden_units
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.init_std = init_std
