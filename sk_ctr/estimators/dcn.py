"""The Deep & Cross Network estimator."""

from numbers import Integral

from sklearn.utils._param_validation import Interval, StrOptions

from sk_ctr.estimators.base import EMBEDDING_CONSTRAINTS, MLP_CONSTRAINTS, CTRClassifier
from sk_ctr.estimators.parameter_docs import INIT_STD, MLP, parameters, training_parameters
from sk_ctr.models.dcn import DCNNet

__all__ = ["DCNClassifier"]


class DCNClassifier(CTRClassifier):
    __doc__ = f"""Deep & Cross Network (DCN and DCN-V2): a cross network and an MLP.

    DCN (Wang et al. 2017, arXiv:1708.05123): the field embeddings are stacked into x_0
    (eq. 1-2); a cross network of layers x_(l+1) = x_0 x_l^T w_l + b_l + x_l (eq. 3) learns
    explicit crosses of degree up to ``n_cross_layers + 1`` and an MLP (eq. 4) implicit ones;
    one linear unit on their concatenation gives the logit (eq. 5). Defaults follow the DeepFM
    journal's protocol for deep models without an FM part (Table III: 400-400-400, relu,
    dropout 0.5; embedding size 11), not the DCN paper's (per-field embedding sizes
    6 * cardinality^(1/4), batch normalisation and no dropout).

    DCN-V2 (Wang et al., WWW 2021, arXiv:2008.13535) is ``cross="matrix"``: a full matrix per
    layer, x_(l+1) = x_0 ⊙ (W_l x_l + b_l) + x_l (eq. 1); ``cross="mix"`` is its DCN-Mix,
    a gated mixture of ``n_experts`` rank-``low_rank`` experts per layer, x_(l+1) =
    Σ_i G_i(x_l) x_0 ⊙ (U_l^i tanh(C_l^i tanh(V_l^iᵀ x_l)) + b_l) + x_l (section 5, eq. 3-4;
    see :class:`~sk_ctr.layers.cross.MixtureCrossNetwork`). ``structure`` places the MLP
    beside the cross network (``"parallel"``, DCN's structure) or on top of it
    (``"stacked"``); DCN-V2's Fig. 1 draws both.

    The default stays DCN's vector cross, so that ``DCNClassifier()`` is the model of the
    DCN paper and of the results measured with it; a full matrix has (d + 1) / 2 times the
    parameters of the vector (d = n_fields * embed_dim: 429 on Criteo's 39 fields at
    embedding size 11, 553,410 cross parameters against 2,574 in three layers) and did not
    clearly beat it on the benchmark's validation splits: the same AUC on the Criteo sample
    (0.7173, 3 seeds), a higher one on Frappe (0.9372 against 0.9285, one seed, whose early
    stopping ran 19 epochs against 7; docs/benchmarks.md, "DCN-V2").

    Parameters
    ----------
    embed_dim : int, default=11
        Size of the field embeddings; x_0 has ``n_fields * embed_dim`` entries.
{parameters(INIT_STD)}
    n_cross_layers : int, default=3
        Number of cross layers; 0 leaves only the linear map of x_0 beside the MLP (or
        under it, stacked).
    cross : {{"vector", "matrix", "mix"}}, default="vector"
        The cross layer: DCN's vector ``w_l`` (2 d parameters per layer), DCN-V2's full
        matrix ``W_l`` (d² + d) or DCN-Mix's mixture of low-rank experts
        (``n_experts`` * (2 d ``low_rank`` + ``low_rank``² + d) + d).
    structure : {{"parallel", "stacked"}}, default="parallel"
        ``"parallel"``: the cross network and the MLP both read x_0, one linear unit on
        their concatenated outputs gives the logit. ``"stacked"``: the MLP reads the
        cross network's output and its output unit gives the logit.
    low_rank : int, default=32
        Rank r of each expert of ``cross="mix"``; ignored by the other crosses. 32 as in
        DeepCTR-Torch and FuxiCTR; the DCN-V2 paper (section 5) motivates the low rank by
        the fast-decaying singular values of the learned matrices W_l. May exceed d (then
        it is no longer low), which is legal but costs more than ``cross="matrix"``.
    n_experts : int, default=4
        Number of experts K of ``cross="mix"``, mixed by a softmax gate; ignored by the
        other crosses. 4 as in DeepCTR-Torch and FuxiCTR.
{parameters(*MLP, *training_parameters())}

    Examples
    --------
    >>> from sk_ctr.estimators.dcn import DCNClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, random_state=0)
    >>> est = DCNClassifier(hidden_units=(32,), max_epochs=2, random_state=0).fit(X, y)
    >>> est.predict_proba(X).shape
    (2000, 2)
    >>> mix = DCNClassifier(cross="mix", low_rank=8, structure="stacked", hidden_units=(32,),
    ...                     max_epochs=2, random_state=0).fit(X, y)
    >>> mix.predict_proba(X).shape
    (2000, 2)
    """

    _network = DCNNet
    _parameter_constraints = {
        **CTRClassifier._parameter_constraints,
        **EMBEDDING_CONSTRAINTS,
        **MLP_CONSTRAINTS,
        "n_cross_layers": [Interval(Integral, 0, None, closed="left")],
        "cross": [StrOptions({"vector", "matrix", "mix"})],
        "structure": [StrOptions({"parallel", "stacked"})],
        "low_rank": [Interval(Integral, 1, None, closed="left")],
        "n_experts": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        embed_dim=11,
        init_std=0.01,
        n_cross_layers=3,
        cross="vector",
        structure="parallel",
        low_rank=32,
        n_experts=4,
        hidden_units=(400, 400, 400),
        activation="relu",
        dropout=0.5,
        batch_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.embed_dim = embed_dim
        self.n_cross_layers = n_cross_layers
        self.cross = cross
        self.structure = structure
        self.low_rank = low_rank
        self.n_experts = n_experts
        self.hidden_units = hidden_units
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.init_std = init_std
