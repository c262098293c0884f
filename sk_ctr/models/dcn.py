"""Deep & Cross Network (DCN, DCN-V2): a cross network and an MLP on the stacked embeddings,
side by side or one after the other."""

from torch import nn

from sk_ctr.layers import MLP, FieldEmbedding
from sk_ctr.layers.cross import CrossNetwork, MatrixCrossNetwork, MixtureCrossNetwork
from sk_ctr.models.base import CTRNetwork


def make_cross_network(cross, input_dim, n_layers, low_rank, n_experts):
    """The cross network named by ``cross``: "vector" (DCN), "matrix" (DCN-V2) or "mix"
    (DCN-Mix, the only one that reads ``low_rank`` and ``n_experts``)."""
    if cross == "vector":
        return CrossNetwork(input_dim, n_layers)
    if cross == "matrix":
        return MatrixCrossNetwork(input_dim, n_layers)
    if cross == "mix":
        return MixtureCrossNetwork(input_dim, n_layers, low_rank, n_experts)
    raise ValueError(f"cross must be 'vector', 'matrix' or 'mix'; got {cross!r}.")


class DCNNet(CTRNetwork):
    """DCN (Wang et al. 2017, arXiv:1708.05123) and DCN-V2 (Wang et al., WWW 2021,
    arXiv:2008.13535): x_0 = [e_1, ..., e_m] (DCN eq. 1-2) feeds a cross network and an MLP.

    ``structure="parallel"`` (DCN; DCN-V2 Fig. 1): the cross network x_L1 (eq. 3) and the
    MLP h_L2 (eq. 4) side by side; the combination layer (eq. 5) is one linear unit on their
    concatenation, y = w^T [x_L1, h_L2] + b. That linear map is computed as its two blocks,
    w_cross^T x_L1 + b (``cross_output``, which owns the model's only bias) plus w_deep^T h_L2
    (the MLP's output unit, without bias), so the MLP stays one module.

    ``structure="stacked"`` (DCN-V2 Fig. 1): the MLP reads the cross network's output,
    y = w^T h_L2(x_L1) + b; the MLP's output unit is the logit.
    """

    def __init__(
        self,
        fields,
        embed_dim=11,
        n_cross_layers=3,
        cross="vector",
        structure="parallel",
        low_rank=32,
        n_experts=4,
        hidden_units=(400, 400, 400),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        init_std=0.01,
    ):
        super().__init__(fields)
        if structure not in ("parallel", "stacked"):
            raise ValueError(f"structure must be 'parallel' or 'stacked'; got {structure!r}.")
        input_dim = self.n_fields * embed_dim
        self.embedding = FieldEmbedding(self.vocab_sizes, self.n_numeric, embed_dim, init_std)
        self.cross = make_cross_network(cross, input_dim, n_cross_layers, low_rank, n_experts)
        self.structure = structure
        stacked = structure == "stacked"
        # Built in this order so that the default (vector, parallel) draws its initial weights
        # exactly as DCN did before DCN-V2 was added: the same seed gives the same model.
        self.cross_output = None if stacked else nn.Linear(input_dim, 1)
        self.mlp = MLP(
            input_dim, hidden_units, activation, dropout, batch_norm, output_bias=stacked
        )

    def forward(self, ids, values):
        x0 = self.embedding(ids, values).flatten(start_dim=1)
        if self.structure == "stacked":
            return self.mlp(self.cross(x0))
        return self.cross_output(self.cross(x0)).squeeze(-1) + self.mlp(x0)
