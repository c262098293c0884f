"""Logistic regression on one-hot fields: the order-1 baseline."""

from sk_ctr.layers import LinearTerm
from sk_ctr.models.base import CTRNetwork


class LogisticRegressionNet(CTRNetwork):
    """y = <w, x> + b (DeepFM journal eq. 2 without hand-picked crosses)."""

    def __init__(self, fields):
        super().__init__(fields)
        self.linear = LinearTerm(self.vocab_sizes, self.n_numeric)

    def forward(self, ids, values):
        return self.linear(ids, values)
