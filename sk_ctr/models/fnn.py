"""FNN: an MLP over per-field vectors [w_i, v_i] that an FM pre-training initialises."""

from sk_ctr.layers import MLP, FieldEmbedding
from sk_ctr.models.base import CTRNetwork


class FNNNet(CTRNetwork):
    """y = MLP([z_1, ..., z_m]) with z_i = [w_i, v_i] (Zhang et al. 2016, FNN, Fig. 1; DeepFM
    journal section III-C-1).

    Each field's vector has ``embed_dim + 1`` entries: column 0 is the FM's order-1 weight w_i,
    columns 1.. the FM's latent vector v_i, so an FM with k = ``embed_dim`` can initialise the
    table (the estimator's pre-training). There is no FM or linear term in the logit (journal
    Table II: FNN learns no low-order features); the MLP's output unit owns the only bias.
    """

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
        self.embedding = FieldEmbedding(self.vocab_sizes, self.n_numeric, embed_dim + 1, init_std)
        self.mlp = MLP(
            self.n_fields * (embed_dim + 1), hidden_units, activation, dropout, batch_norm
        )

    def forward(self, ids, values):
        return self.mlp(self.embedding(ids, values).flatten(start_dim=1))
