"""The FiBiNET estimator."""

from numbers import Real

from sklearn.utils._param_validation import Interval, StrOptions

from sk_ctr.estimators.base import EMBEDDING_CONSTRAINTS, MLP_CONSTRAINTS, CTRClassifier
from sk_ctr.estimators.parameter_docs import INIT_STD, MLP, parameters, training_parameters
from sk_ctr.layers.bilinear import BILINEAR_TYPES
from sk_ctr.models.fibinet import FiBiNETNet

__all__ = ["FiBiNETClassifier"]


class FiBiNETClassifier(CTRClassifier):
    __doc__ = f"""FiBiNET: SENET field importance and bilinear feature interactions, then an MLP.

    FiBiNET (Huang, Zhang and Zhang, "FiBiNET: Combining Feature Importance and Bilinear
    feature Interaction for Click-Through Rate Prediction", RecSys 2019). A SENET layer
    learns an importance a_i of each field per sample: squeeze z_i = mean_t e_i^(t),
    excitation A = ReLU(W_2 ReLU(W_1 z)) through m / r units, re-weight v_i = a_i e_i. A
    Bilinear-Interaction layer computes p_ij = (e_i . W) ⊙ e_j for every pair of the original
    embeddings and q_ij = (v_i . W) ⊙ v_j for the re-weighted ones; the concatenation
    [p, q] (m(m-1) k values) feeds the MLP, and y = sigmoid(w_0 + sum_i w_i x_i + y_DNN).
    Defaults: the house protocol's deep part (DeepFM journal Table III: embedding size 10
    beside an order-1 part, three ReLU layers of 400, dropout 0.5) and DeepCTR's SENET and
    bilinear settings (``reduction_ratio=3``, ``bilinear_type="interaction"``).

    Parameters
    ----------
    embed_dim : int, default=10
        Size k of the field embeddings.
{parameters(INIT_STD)}
    reduction_ratio : float, default=3
        Ratio r of the SENET bottleneck, which has ``max(1, int(m / r))`` units (DeepCTR's
        default; 13 units for Criteo's 39 fields).
    bilinear : {{"field_all", "field_each", "field_interaction"}}, default="field_interaction"
        Which pairs share the k x k matrix W: all of them (k^2 parameters), those with the
        same left field i (W_i, (m - 1) k^2) or none (W_ij, m(m-1)/2 k^2). The paper
        compares the three; the default is DeepCTR's (``bilinear_type="interaction"``).
{parameters(*MLP, *training_parameters())}

    Examples
    --------
    >>> from sk_ctr.estimators.fibinet import FiBiNETClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, random_state=0)
    >>> est = FiBiNETClassifier(embed_dim=4, hidden_units=(16,), max_epochs=2, random_state=0)
    >>> est.fit(X, y).predict_proba(X).shape
    (2000, 2)
    >>> est.module_.bilinear
    BilinearInteraction(bilinear='field_interaction', n_matrices=45)
    """

    _network = FiBiNETNet
    _parameter_constraints = {
        **CTRClassifier._parameter_constraints,
        **EMBEDDING_CONSTRAINTS,
        **MLP_CONSTRAINTS,
        "reduction_ratio": [Interval(Real, 1, None, closed="left")],
        "bilinear": [StrOptions(set(BILINEAR_TYPES))],
    }

    def __init__(
        self,
        *,
        embed_dim=10,
        init_std=0.01,
        reduction_ratio=3,
        bilinear="field_interaction",
        hidden_units=(400, 400, 400),
        activation="relu",
        dropout=0.5,
        batch_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.embed_dim = embed_dim
        self.init_std = init_std
        self.reduction_ratio = reduction_ratio
        self.bilinear = bilinear
        self.hidden_units = hidden_units
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
