"""Explicit feature-interaction layers on field embeddings of shape (batch, fields, k)."""

from torch import nn

from sk_ctr.layers.field_products import FieldProducts


class BiInteractionPooling(nn.Module):
    """The k-vector of order-2 interactions sum_{i<j} e_i * e_j (element-wise), in O(m k).

    NFM's Bi-Interaction pooling (He & Chua, SIGIR 2017, eq. 3-4):
    f_BI = 1/2 [(sum_i e_i)^2 - sum_i e_i^2], squares taken element-wise, where e_i = x_i v_i
    is the embedding of field i (:class:`~sk_ctr.layers.FieldEmbedding` already scales a
    numeric field's vector by its value). Only vectors of *different* fields are multiplied;
    no parameters.

    Shapes
    ------
    embeddings : (batch_size, n_fields, embed_dim)
    returns (batch_size, embed_dim)
    """

    def forward(self, embeddings):
        square_of_sum = embeddings.sum(dim=1).pow(2)
        sum_of_squares = embeddings.pow(2).sum(dim=1)
        return 0.5 * (square_of_sum - sum_of_squares)


class FactorizationMachine(BiInteractionPooling):
    """Order-2 interactions sum_{i<j} <e_i, e_j> in O(m k) (DeepFM journal eq. 4).

    Uses the sum-square identity sum_{i<j} <e_i, e_j> = 1/2 (||sum_i e_i||^2 - sum_i ||e_i||^2),
    taken per embedding dimension, so only vectors of *different* fields are multiplied: the sum
    of the Bi-Interaction vector's entries (an FM is an NFM without hidden layers, NFM eq. 5).

    Shapes
    ------
    embeddings : (batch_size, n_fields, embed_dim)
    returns (batch_size,)
    """

    def forward(self, embeddings):
        return super().forward(embeddings).sum(dim=1)


class SelectedFactorizationMachine(nn.Module):
    """The FM sum over chosen field tuples only: sum_((i,j) in S) <e_i, e_j> (+ the triples of S,
    AutoFIS eq. 4), the interaction layer of a model re-trained on a transferred selection
    (AutoFIS section 4.4, Table 4).

    Parameters
    ----------
    interactions : sequence of tuple of int
        Field positions of the kept pairs (and triples).
    n_fields : int

    Shapes
    ------
    embeddings : (batch_size, n_fields, embed_dim)
    returns (batch_size,)
    """

    def __init__(self, interactions, n_fields):
        super().__init__()
        self.products = FieldProducts(interactions, n_fields)

    def forward(self, embeddings):
        return self.products(embeddings).sum(dim=1)


def make_fm_interaction(interactions, n_fields):
    """All pairs through the O(m k) identity, or only the given tuples when there is a selection."""
    if interactions is None:
        return FactorizationMachine()
    return SelectedFactorizationMachine(interactions, n_fields)
