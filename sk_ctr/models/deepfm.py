"""DeepFM: an FM component and a deep component on one shared embedding."""

from sk_ctr.layers import MLP, FieldEmbedding, LinearTerm
from sk_ctr.layers.interaction import make_fm_interaction
from sk_ctr.models.base import CTRNetwork


class DeepFMNet(CTRNetwork):
    """y = y_FM + y_DNN (DeepFM journal eq. 1), both fed by the same embedding (eq. 5-6).

    The FM component owns the order-1 weights and the model's only bias; the deep component's
    output unit has none, so the logit has exactly one constant term. ``interactions`` (field
    names) restricts the FM component to those pairs and triples (AutoFIS section 4.4).
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
        interactions=None,
    ):
        super().__init__(fields)
        self.linear = LinearTerm(self.vocab_sizes, self.n_numeric)
        self.embedding = FieldEmbedding(self.vocab_sizes, self.n_numeric, embed_dim, init_std)
        self.fm = make_fm_interaction(
            None if interactions is None else self.field_positions(interactions), self.n_fields
        )
        self.mlp = MLP(
            self.n_fields * embed_dim,
            hidden_units,
            activation,
            dropout,
            batch_norm,
            output_bias=False,
        )

    def forward(self, ids, values):
        embeddings = self.embedding(ids, values)
        deep = self.mlp(embeddings.flatten(start_dim=1))
        return self.linear(ids, values) + self.fm(embeddings) + deep
