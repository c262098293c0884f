"""Embeddings followed by an MLP: the deep-only baseline."""

from sk_ctr.layers import MLP, FieldEmbedding
from sk_ctr.models.base import CTRNetwork


class DNNNet(CTRNetwork):
    """y_DNN = MLP([e_1, ..., e_m]) (DeepFM journal eq. 5-8)."""

    def __init__(
        self,
        fields,
        embed_dim=10,
        hidden_units=(400, 400, 400),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        init_std=0.01,
    ):
        super().__init__(fields)
        self.embedding = FieldEmbedding(self.vocab_sizes, self.n_numeric, embed_dim, init_std)
        self.mlp = MLP(self.n_fields * embed_dim, hidden_units, activation, dropout, batch_norm)

    def forward(self, ids, values):
        return self.mlp(self.embedding(ids, values).flatten(start_dim=1))
