"""Deep & Cross Network: a cross network and an MLP in parallel on the stacked embeddings."""

from torch import nn

from sk_ctr.layers import MLP, FieldEmbedding
from sk_ctr.layers.cross import CrossNetwork
from sk_ctr.models.base import CTRNetwork


class DCNNet(CTRNetwork):
    """DCN (Wang et al. 2017, arXiv:1708.05123): x_0 = [e_1, ..., e_m] (eq. 1-2) feeds a cross
    network x_L1 (eq. 3) and an MLP h_L2 (eq. 4) side by side; the combination layer (eq. 5)
    is one linear unit on their concatenation, y = w^T [x_L1, h_L2] + b.

    That linear map is computed as its two blocks, w_cross^T x_L1 + b (``cross_output``, which
    owns the model's only bias) plus w_deep^T h_L2 (the MLP's output unit, without bias), so the
    MLP stays one module.
    """

    def __init__(
        self,
        fields,
        embed_dim=11,
        n_cross_layers=3,
        hidden_units=(400, 400, 400),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        init_std=0.01,
    ):
        super().__init__(fields)
        input_dim = self.n_fields * embed_dim
        self.embedding = FieldEmbedding(self.vocab_sizes, self.n_numeric, embed_dim, init_std)
        self.cross = CrossNetwork(input_dim, n_cross_layers)
        self.cross_output = nn.Linear(input_dim, 1)
        self.mlp = MLP(input_dim, hidden_units, activation, dropout, batch_norm, output_bias=False)

    def forward(self, ids, values):
        stacked = self.embedding(ids, values).flatten(start_dim=1)
        cross = self.cross_output(self.cross(stacked)).squeeze(-1)
        return cross + self.mlp(stacked)
