"""The estimators of the AutoFIS paper's factorization-model baselines: FFM, FwFM and AFM
(AutoFIS, KDD 2020, section 4.2.1; hyper-parameters from its Table 9)."""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval

from sk_ctr.estimators.base import EMBEDDING_CONSTRAINTS, MLP_CONSTRAINTS, CTRClassifier
from sk_ctr.estimators.defaults import SHALLOW_LR
from sk_ctr.estimators.models import INTERACTIONS_CONSTRAINTS
from sk_ctr.estimators.parameter_docs import (
    INIT_STD_FACTORIZATION,
    INTERACTIONS_PAIRS,
    LR_OF_SHALLOW_MODELS,
    parameters,
    training_parameters,
)
from sk_ctr.models.field_aware import AFMNet, FFMNet, FwFMNet

__all__ = ["FFMClassifier", "FwFMClassifier", "AFMClassifier"]

#: The end of the Parameters section of FFM, FwFM and AFM, after the parameters of their own.
_SHARED_PARAMETERS = parameters(
    INIT_STD_FACTORIZATION, INTERACTIONS_PAIRS, *training_parameters(LR_OF_SHALLOW_MODELS)
)

_CONSTRAINTS = {
    **CTRClassifier._parameter_constraints,
    **EMBEDDING_CONSTRAINTS,
    **INTERACTIONS_CONSTRAINTS,
}


class FFMClassifier(CTRClassifier):
    __doc__ = f"""Field-aware factorization machine (FFM).

    Every feature has one latent vector per field, and a pair of features interacts through
    the vectors each keeps for the other's field (Juan et al., "Field-aware Factorization
    Machines for CTR Prediction", RecSys 2016)::

        logit = b + <w, x> + sum_(i<j) <v_(i,F(j)), v_(j,F(i))> x_i x_j

    FM (DeepFM journal eq. 4) is the special case where v_(i,f) does not depend on f. The
    embedding table holds n_fields vectors of size k per id, so it is n_fields times the size
    of FM's at equal k; ``l2`` covers all the vectors of the ids a sample uses. A baseline of
    the AutoFIS paper (Table 1: the best of FM, FwFM, AFM and FFM on Avazu and Criteo).

    Parameters
    ----------
    embed_dim : int, default=4
        Size k of each field-aware vector (AutoFIS Table 9: k = 4 on Avazu and Criteo, kept
        small because the table grows with n_fields * k).
{_SHARED_PARAMETERS}

    See Also
    --------
    FwFMClassifier : one vector per feature and one learned weight per field pair.

    Examples
    --------
    >>> from sk_ctr.estimators.field_aware import FFMClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, random_state=0)
    >>> FFMClassifier(max_epochs=2, random_state=0).fit(X, y).predict_proba(X).shape
    (2000, 2)
    """

    _network = FFMNet
    _parameter_constraints = _CONSTRAINTS

    def __init__(self, *, embed_dim=4, init_std=0.01, interactions=None, lr=SHALLOW_LR, **kwargs):
        super().__init__(lr=lr, **kwargs)
        self.embed_dim = embed_dim
        self.init_std = init_std
        self.interactions = interactions


class FwFMClassifier(CTRClassifier):
    __doc__ = f"""Field-weighted factorization machine (FwFM).

    FM with one learned scalar r per field pair (Pan et al., "Field-weighted Factorization
    Machines for Click-Through Rate Prediction in Display Advertising", WWW 2018)::

        logit = b + <w, x> + sum_(i<j) r_(F(i),F(j)) <v_i, v_j> x_i x_j

    It is AutoFIS eq. 10 without batch normalisation (AutoFIS section 4.7.1). The m(m-1)/2
    weights r start at 0.7 (AutoFIS Table 9, ``wt_init``) and are trained with the rest;
    after ``fit`` they are ``module_.fwfm.pair_weights``, pairs in the order
    (0, 1), (0, 2), ..., (m-2, m-1) of the network's fields (categorical, then numeric).
    ``l2`` covers the embeddings and order-1 weights, not r.

    Parameters
    ----------
    embed_dim : int, default=20
        Size k of the embeddings (AutoFIS Table 9: 20 on Criteo, 40 on Avazu).
{_SHARED_PARAMETERS}

    Notes
    -----
    AutoFIS Table 9 also puts a small L1/L2 penalty on r (``wt_l1`` <= 1e-8,
    ``wt_l2`` = 1e-7); it is not implemented.

    Examples
    --------
    >>> from sk_ctr.estimators.field_aware import FwFMClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, random_state=0)
    >>> est = FwFMClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> est.module_.fwfm.pair_weights.shape  # 10 fields: 45 pairs
    torch.Size([45])
    """

    _network = FwFMNet
    _parameter_constraints = _CONSTRAINTS

    def __init__(self, *, embed_dim=20, init_std=0.01, interactions=None, lr=SHALLOW_LR, **kwargs):
        super().__init__(lr=lr, **kwargs)
        self.embed_dim = embed_dim
        self.init_std = init_std
        self.interactions = interactions


class AFMClassifier(CTRClassifier):
    __doc__ = f"""Attentional factorization machine (AFM).

    FM whose pair interactions are weighed per sample by an attention network (Xiao et al.,
    "Attentional Factorization Machines: Learning the Weight of Feature Interactions via
    Attention Networks", IJCAI 2017)::

        a'_ij = h^T ReLU(W (v_i ⊙ v_j) x_i x_j + b),   a_ij = softmax over the pairs (a'_ij)
        logit = b_0 + <w, x> + p^T sum_(i<j) a_ij (v_i ⊙ v_j) x_i x_j

    ``attention_weights(X)`` returns the a_ij of each sample (each row sums to 1) and
    ``interaction_names_`` names its columns. Dropout acts on the attention-pooled vector
    before p (the AFM authors' code; the paper drops on the interaction layer and not in the
    attention network) and is off in prediction.

    Parameters
    ----------
    embed_dim : int, default=20
        Size k of the embeddings (AutoFIS Table 9: 20 on Criteo, 40 on Avazu).
    attention_dim : int, default=32
        Width of the attention network's hidden layer, the rows of W (AutoFIS Table 9's h:
        32 on Criteo, 256 on Avazu).
    dropout : float, default=0.5
        Probability of dropping a unit of the pooled interaction vector (the AFM authors'
        code default, keep probability 0.5).
{_SHARED_PARAMETERS}

    Notes
    -----
    Not implemented: the AFM paper's separate L2 penalty on the attention weights W (AutoFIS
    Table 9's ``l2_a``: 0.1 on Criteo, 0 on Avazu; ``l2`` here covers only the embeddings and
    order-1 weights), and Table 9's ``t`` (0.01 on Criteo, 1 on Avazu), which the AutoFIS
    paper does not define.

    Examples
    --------
    >>> from sk_ctr.estimators.field_aware import AFMClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, n_fields=4, random_state=0)
    >>> est = AFMClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> est.attention_weights(X).shape  # 4 fields: 6 pairs
    (2000, 6)
    >>> est.interaction_names_[:2].tolist()
    ['C1 x C2', 'C1 x C3']
    """

    _network = AFMNet
    _parameter_constraints = {
        **_CONSTRAINTS,
        "attention_dim": [Interval(Integral, 1, None, closed="left")],
        "dropout": MLP_CONSTRAINTS["dropout"],
    }

    def __init__(
        self,
        *,
        embed_dim=20,
        attention_dim=32,
        dropout=0.5,
        init_std=0.01,
        interactions=None,
        lr=SHALLOW_LR,
        **kwargs,
    ):
        super().__init__(lr=lr, **kwargs)
        self.embed_dim = embed_dim
        self.attention_dim = attention_dim
        self.dropout = dropout
        self.init_std = init_std
        self.interactions = interactions

    def attention_weights(self, X):
        """Attention weight a_ij of every field pair for every sample.

        Parameters
        ----------
        X : pandas.DataFrame, array-like or FieldData

        Returns
        -------
        ndarray of shape (n_samples, n_pairs)
            Each row sums to 1; column names are in ``interaction_names_``
            (n_fields * (n_fields - 1) // 2 pairs unless ``interactions`` restricts them).
        """
        return self._map_batches(X, lambda network, **inputs: network.attention_weights(**inputs))

    @property
    def interaction_names_(self):
        """ndarray of str: ``"<field> x <field>"`` for each column of :meth:`attention_weights`
        (the network's fields are the categorical ones, then the numeric ones)."""
        names, afm = self.module_.field_names, self.module_.afm
        return np.array(
            [
                f"{names[i]} x {names[j]}"
                for i, j in zip(afm.left.tolist(), afm.right.tolist(), strict=True)
            ]
        )
