"""PNN (IPNN / OPNN / PNN*) and DeepFM-P, whose deep component is a PNN."""

from sk_ctr.layers import MLP, FieldEmbedding, LinearTerm
from sk_ctr.layers.interaction import make_fm_interaction
from sk_ctr.layers.product import ProductLayer
from sk_ctr.models.base import CTRNetwork


class PNNNet(CTRNetwork):
    """y_PNN = MLP([z, p]) with z the field embeddings and p their pairwise products
    (DeepFM journal eq. 9 then eq. 7-8).

    No order-1 or FM term (journal Table II: PNN learns no low-order features); the MLP's
    output unit keeps its bias, the model's only constant term.

    Parameters
    ----------
    product : {"inner", "outer", "both"}
        IPNN, OPNN or PNN*; see :class:`~sk_ctr.layers.product.ProductLayer`.
    interactions : sequence of tuple of str, default=None
        Field pairs (and triples) the inner products are restricted to: AutoIPNN (AutoFIS
        Table 4). ``None`` keeps every pair.
    """

    def __init__(
        self,
        fields,
        product="inner",
        embed_dim=11,
        hidden_units=(400, 400, 400),
        activation="relu",
        dropout=0.5,
        batch_norm=False,
        init_std=0.01,
        interactions=None,
    ):
        super().__init__(fields)
        self.embedding = FieldEmbedding(self.vocab_sizes, self.n_numeric, embed_dim, init_std)
        positions = None if interactions is None else self.field_positions(interactions)
        self.product = ProductLayer(self.n_fields, embed_dim, product, positions)
        self.mlp = MLP(self.product.output_dim, hidden_units, activation, dropout, batch_norm)

    def forward(self, ids, values):
        return self.mlp(self.product(self.embedding(ids, values)))


class DeepFMPNet(CTRNetwork):
    """DeepFM-P: y = y_FM + y_PNN (DeepFM journal eq. 1 with y_Deep = y_PNN), both fed by the
    same embedding (eq. 5-6).

    DeepFM-IP, DeepFM-OP and DeepFM-*P for ``deep`` = ``"inner"``, ``"outer"``, ``"both"``. As
    in :class:`~sk_ctr.models.DeepFMNet`, the linear term owns the only bias and the PNN's
    output unit has none. Keyword names are those of ``DeepFMNet`` plus ``deep``;
    ``interactions`` restricts both the FM sum and the inner products.
    """

    def __init__(
        self,
        fields,
        deep="inner",
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
        positions = None if interactions is None else self.field_positions(interactions)
        self.fm = make_fm_interaction(positions, self.n_fields)
        self.product = ProductLayer(self.n_fields, embed_dim, deep, positions)
        self.mlp = MLP(
            self.product.output_dim,
            hidden_units,
            activation,
            dropout,
            batch_norm,
            output_bias=False,
        )

    def forward(self, ids, values):
        embeddings = self.embedding(ids, values)
        deep = self.mlp(self.product(embeddings))
        return self.linear(ids, values) + self.fm(embeddings) + deep
