"""FFM, FwFM and AFM: the AutoFIS paper's factorization-model baselines (section 4.2.1).

Each is the order-1 term of FM (with the network's only bias) plus its own order-2 term; the
defaults are AutoFIS Table 9's Criteo column.
"""

from sk_ctr.layers import FieldEmbedding, LinearTerm
from sk_ctr.layers.field_aware import (
    AttentionalInteraction,
    FieldAwareEmbedding,
    FieldAwareInteraction,
    FieldWeightedInteraction,
)
from sk_ctr.models.base import CTRNetwork

# ``interactions`` (field names) restricts each order-2 term to those field pairs, e.g. an
# AutoFIS selection (AutoFIS section 4.4); None keeps every pair.


class FFMNet(CTRNetwork):
    """y_FFM = <w, x> + b + sum_{i<j} <v_{i,F(j)}, v_{j,F(i)}> x_i x_j (Juan et al. 2016).

    k = 4 by default (AutoFIS Table 9, both data sets): every feature has n_fields vectors, so
    the table is n_fields times wider than FM's at the same k.
    """

    def __init__(self, fields, embed_dim=4, init_std=0.01, interactions=None):
        super().__init__(fields)
        self.linear = LinearTerm(self.vocab_sizes, self.n_numeric)
        self.embedding = FieldAwareEmbedding(self.vocab_sizes, self.n_numeric, embed_dim, init_std)
        self.ffm = FieldAwareInteraction(self.n_fields, self._pairs(interactions))

    def forward(self, ids, values):
        return self.linear(ids, values) + self.ffm(self.embedding(ids, values))


class FwFMNet(CTRNetwork):
    """y_FwFM = <w, x> + b + sum_{i<j} r_{F(i),F(j)} <v_i, v_j> x_i x_j (Pan et al. 2018).

    The order-1 part is FwFM's "LW" variant (one weight per feature, as in FM). k = 20 and
    r starting at 0.7 by default (AutoFIS Table 9, Criteo).
    """

    def __init__(self, fields, embed_dim=20, init_std=0.01, interactions=None):
        super().__init__(fields)
        self.linear = LinearTerm(self.vocab_sizes, self.n_numeric)
        self.embedding = FieldEmbedding(self.vocab_sizes, self.n_numeric, embed_dim, init_std)
        self.fwfm = FieldWeightedInteraction(self.n_fields, pairs=self._pairs(interactions))

    def forward(self, ids, values):
        return self.linear(ids, values) + self.fwfm(self.embedding(ids, values))


class AFMNet(CTRNetwork):
    """y_AFM = <w, x> + b + p^T sum_{i<j} a_ij (v_i ⊙ v_j) x_i x_j (Xiao et al. 2017), a_ij
    from the attention network (see :class:`~sk_ctr.layers.field_aware.AttentionalInteraction`).

    k = 20 and attention width 32 by default (AutoFIS Table 9, Criteo); dropout 0.5 on the
    pooled interaction vector, the AFM authors' code default.
    """

    def __init__(
        self, fields, embed_dim=20, attention_dim=32, dropout=0.5, init_std=0.01, interactions=None
    ):
        super().__init__(fields)
        self.linear = LinearTerm(self.vocab_sizes, self.n_numeric)
        self.embedding = FieldEmbedding(self.vocab_sizes, self.n_numeric, embed_dim, init_std)
        self.afm = AttentionalInteraction(
            self.n_fields, embed_dim, attention_dim, dropout, self._pairs(interactions)
        )

    def forward(self, ids, values):
        return self.linear(ids, values) + self.afm(self.embedding(ids, values))

    def attention_weights(self, ids, values):
        """a_ij of every field pair of every sample (rows sum to 1).

        Returns
        -------
        torch.Tensor of shape (batch_size, n_fields * (n_fields - 1) // 2)
        """
        return self.afm.attention_weights(self.embedding(ids, values))
