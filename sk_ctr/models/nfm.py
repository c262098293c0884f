"""Neural Factorization Machine: Bi-Interaction pooling of the embeddings, then an MLP."""

from torch import nn

from sk_ctr.layers import MLP, FieldEmbedding, LinearTerm
from sk_ctr.layers.dropout import Dropout
from sk_ctr.layers.interaction import BiInteractionPooling
from sk_ctr.models.base import CTRNetwork


class NFMNet(CTRNetwork):
    """y = w_0 + sum_i w_i x_i + f(x) (He & Chua, SIGIR 2017, eq. 2), where f is an MLP (eq. 5)
    on the Bi-Interaction vector f_BI = sum_{i<j} e_i * e_j (eq. 4).

    As in the paper (section 3.2, "Dropout" and "Batch Normalization"), the Bi-Interaction
    vector is batch-normalised (``bi_batch_norm``) and then dropped out (``bi_dropout``) before
    the hidden layers. The order-1 part owns the model's only bias; the MLP's prediction layer
    h^T z_L (eq. 5) has none.
    """

    def __init__(
        self,
        fields,
        embed_dim=64,
        hidden_units=(64,),
        activation="relu",
        dropout=0.2,
        batch_norm=True,
        bi_dropout=0.5,
        bi_batch_norm=True,
        init_std=0.01,
    ):
        super().__init__(fields)
        self.linear = LinearTerm(self.vocab_sizes, self.n_numeric)
        self.embedding = FieldEmbedding(self.vocab_sizes, self.n_numeric, embed_dim, init_std)
        self.bi_interaction = BiInteractionPooling()
        self.bi_norm = nn.BatchNorm1d(embed_dim) if bi_batch_norm else nn.Identity()
        self.bi_dropout = Dropout(bi_dropout)
        self.mlp = MLP(embed_dim, hidden_units, activation, dropout, batch_norm, output_bias=False)

    def forward(self, ids, values):
        pooled = self.bi_interaction(self.embedding(ids, values))
        return self.linear(ids, values) + self.mlp(self.bi_dropout(self.bi_norm(pooled)))
