"""Explicit feature-interaction layers on field embeddings of shape (batch, fields, k)."""

from torch import nn


class FactorizationMachine(nn.Module):
    """Order-2 interactions sum_{i<j} <e_i, e_j> in O(m k) (DeepFM journal eq. 4).

    Uses the sum-square identity sum_{i<j} <e_i, e_j> = 1/2 (||sum_i e_i||^2 - sum_i ||e_i||^2),
    taken per embedding dimension, so only vectors of *different* fields are multiplied.

    Shapes
    ------
    embeddings : (batch_size, n_fields, embed_dim)
    returns (batch_size,)
    """

    def forward(self, embeddings):
        square_of_sum = embeddings.sum(dim=1).pow(2)
        sum_of_squares = embeddings.pow(2).sum(dim=1)
        return 0.5 * (square_of_sum - sum_of_squares).sum(dim=1)
