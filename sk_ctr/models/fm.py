"""Factorization machine."""

from sk_ctr.layers import FieldEmbedding, LinearTerm
from sk_ctr.layers.interaction import make_fm_interaction
from sk_ctr.models.base import CTRNetwork


class FactorizationMachineNet(CTRNetwork):
    """y_FM = <w, x> + sum_{i<j} <V_i, V_j> x_i x_j + b (DeepFM journal eq. 4).

    ``interactions`` (field names) restricts the sum to those pairs and triples (AutoFIS eq. 3-4
    with a selection, section 4.4); ``None`` keeps every pair.
    """

    def __init__(self, fields, embed_dim=10, init_std=0.01, interactions=None):
        super().__init__(fields)
        self.linear = LinearTerm(self.vocab_sizes, self.n_numeric)
        self.embedding = FieldEmbedding(self.vocab_sizes, self.n_numeric, embed_dim, init_std)
        self.fm = make_fm_interaction(
            None if interactions is None else self.field_positions(interactions), self.n_fields
        )

    def forward(self, ids, values):
        return self.linear(ids, values) + self.fm(self.embedding(ids, values))
