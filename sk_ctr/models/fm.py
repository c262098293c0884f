"""Factorization machine."""

from sk_ctr.layers import FactorizationMachine, FieldEmbedding, LinearTerm
from sk_ctr.models.base import CTRNetwork


class FactorizationMachineNet(CTRNetwork):
    """y_FM = <w, x> + sum_{i<j} <V_i, V_j> x_i x_j + b (DeepFM journal eq. 4)."""

    def __init__(self, fields, embed_dim=10, init_std=0.01):
        super().__init__(fields)
        self.linear = LinearTerm(self.vocab_sizes, self.n_numeric)
        self.embedding = FieldEmbedding(self.vocab_sizes, self.n_numeric, embed_dim, init_std)
        self.fm = FactorizationMachine()

    def forward(self, ids, values):
        return self.linear(ids, values) + self.fm(self.embedding(ids, values))
