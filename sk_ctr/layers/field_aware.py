"""FM variants that tell feature interactions apart: FFM, FwFM and AFM.

The AutoFIS paper (KDD 2020, section 4.2.1 and Table 1) uses them as factorization-model
baselines. All three refine the FM term sum_{i<j} <e_i, e_j> (AutoFIS eq. 3, DeepFM journal
eq. 4): FFM gives every feature one vector per field it meets, FwFM weighs every field pair by a
learned scalar and AFM weighs every pair per sample by attention.

Pairs are ordered (0, 1), (0, 2), ..., (0, m-1), (1, 2), ..., (m-2, m-1), the order of a double
loop over the fields (the order of AutoFIS eq. 2). In sk_ctr every field is one column, so the
field F(i) of the i-th feature is i itself.
"""

import math

import torch
from torch import nn

from sk_ctr.layers.dropout import Dropout
from sk_ctr.layers.embedding import FieldEmbedding
from sk_ctr.layers.field_products import (
    FieldProducts,
    all_interactions,
    canonical_interactions,
)


def _pair_indices(n_fields, pairs=None):
    """Left and right field of every pair i < j, in double-loop order, or of the given pairs
    (AutoFIS's transferred selection, section 4.4)."""
    if pairs is None:
        return torch.triu_indices(n_fields, n_fields, offset=1)
    pairs = canonical_interactions(pairs, n_fields)
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError("This interaction layer takes field pairs only; drop the triples.")
    return torch.tensor(pairs, dtype=torch.long).reshape(len(pairs), 2).T


class FieldAwareEmbedding(nn.Module):
    """FFM's field-aware latent vectors: feature i has one vector v_{i,f} per field f.

    One :class:`FieldEmbedding` of width ``n_fields * embed_dim`` holds them, so lookups, the
    per-field offsets, numeric fields (the value scales all of the field's vectors,
    ``v_{i,f} x_i``) and the L2 on looked-up rows work as for the plain embedding. Row ``(i, f)``
    of the output is v_{i,f}. Slot ``f = i`` (a field with itself) is kept so that the slot index
    is the field index, as in LIBFFM's n x m x k model; FFM never reads it.

    Parameters
    ----------
    vocab_sizes : sequence of int
        Number of ids of each categorical field, reserved ids included.
    n_numeric : int
        Number of numeric-value fields.
    embed_dim : int
        Size k of every vector (AutoFIS Table 9 uses k = 4 for FFM on Avazu and Criteo).
    init_std : float
        Standard deviation of the normal initialisation.

    Shapes
    ------
    ids : (batch_size, n_categorical) int64, values : (batch_size, n_numeric) float
    returns (batch_size, n_fields, n_fields, embed_dim): ``[:, i, f]`` is v_{i,f}
    """

    def __init__(self, vocab_sizes, n_numeric, embed_dim, init_std=0.01):
        super().__init__()
        self.n_fields = len(vocab_sizes) + n_numeric
        self.embed_dim = embed_dim
        self.vectors = FieldEmbedding(vocab_sizes, n_numeric, self.n_fields * embed_dim, init_std)

    def forward(self, ids, values):
        return self.vectors(ids, values).unflatten(-1, (self.n_fields, self.embed_dim))

    def squared_norm(self, ids, values):
        """Per-sample sum of squared norms of the rows the sample looks up: all n_fields
        vectors of each of its features (as :meth:`FieldEmbedding.squared_norm`).

        Returns
        -------
        torch.Tensor of shape (batch_size,)
        """
        return self.vectors.squared_norm(ids, values)


class FieldAwareInteraction(nn.Module):
    """FFM's order-2 term sum_{i<j} <v_{i,F(j)}, v_{j,F(i)}> (Juan et al., RecSys 2016, phi_FFM):
    feature i meets feature j with its vector for j's field, and j with its vector for i's.

    Values of numeric fields are already inside the vectors (x_i x_j of the FFM formula).

    Parameters
    ----------
    n_fields : int
        Number of fields m.
    pairs : sequence of tuple of int, default=None
        Only these field pairs; ``None`` is every pair.

    Shapes
    ------
    embeddings : (batch_size, n_fields, n_fields, embed_dim), as :class:`FieldAwareEmbedding`
    returns (batch_size,)
    """

    def __init__(self, n_fields, pairs=None):
        super().__init__()
        left, right = _pair_indices(n_fields, pairs)
        self.register_buffer("left", left, persistent=False)
        self.register_buffer("right", right, persistent=False)

    def forward(self, embeddings):
        left_vectors = embeddings[:, self.left, self.right]  # v_{i,F(j)}: (batch, pairs, k)
        right_vectors = embeddings[:, self.right, self.left]  # v_{j,F(i)}
        return (left_vectors * right_vectors).sum(dim=(1, 2))


class FieldWeightedInteraction(nn.Module):
    """FwFM's order-2 term sum_{i<j} r_{F(i),F(j)} <e_i, e_j> (Pan et al., WWW 2018): one
    learned scalar per field pair.

    This is AutoFIS eq. 10 without its batch normalisation (AutoFIS section 4.7.1 calls that
    variant "essentially FwFM"). There are exactly m (m - 1) / 2 scalars r, created once here,
    never a vector per pair and never re-created per batch (the RecBole#1413 bugs).

    Parameters
    ----------
    n_fields : int
        Number of fields m.
    pairs : sequence of tuple of int, default=None
        Only these field pairs (in canonical order: sorted); ``None`` is every pair.
    initial_weight : float, default=0.7
        Starting value of every r: AutoFIS Table 9 (``wt_init=0.7`` for FwFM on Avazu and
        Criteo). A common constant starts the model as a rescaled FM. Zero or tiny values would
        stall training: the gradient of r is <e_i, e_j> and that of e_i is scaled by r, and
        both are near zero at the start when the embeddings are small.

    Attributes
    ----------
    pair_weights : torch.nn.Parameter of shape (n_fields * (n_fields - 1) // 2,)
        r of every pair, in double-loop order.

    Shapes
    ------
    embeddings : (batch_size, n_fields, embed_dim)
    returns (batch_size,)
    """

    def __init__(self, n_fields, initial_weight=0.7, pairs=None):
        super().__init__()
        pairs = all_interactions(n_fields) if pairs is None else pairs
        _pair_indices(n_fields, pairs)  # pairs only, validated
        self.inner = FieldProducts(pairs, n_fields)  # <e_i, e_j> in double-loop order
        size = self.inner.output_dim
        self.pair_weights = nn.Parameter(torch.full((size,), float(initial_weight)))

    def forward(self, embeddings):
        return self.inner(embeddings) @ self.pair_weights


class AttentionalInteraction(nn.Module):
    """AFM's attention-pooled order-2 term (Xiao et al., IJCAI 2017):
    p^T sum_{i<j} a_ij (e_i ⊙ e_j), with a_ij = softmax_{(i,j)}(h^T ReLU(W (e_i ⊙ e_j) + b)).

    The pair-wise interaction layer gives the element-wise products e_i ⊙ e_j; a one-layer
    attention network scores each and a softmax over the pairs of a sample normalises the
    scores, so the a_ij of a sample sum to 1; the weighted sum of the products is projected to
    a scalar by p.

    Dropout (a :class:`~sk_ctr.layers.dropout.Dropout` module, so ``eval()`` turns it off) acts on
    the attention-pooled vector sum_{i<j} a_ij (e_i ⊙ e_j) before p, i.e. on the output of the
    pair-wise interaction layer after pooling. That is where the AFM authors' code drops (its
    second keep probability; the first, on the attention weights, defaults to 1 = off): the AFM
    paper regularises the interaction layer with dropout and the attention network with L2 only,
    reporting that dropout in both was unstable. Dropping the attention weights would also break
    the property that they sum to 1 during training.

    Parameters
    ----------
    n_fields : int
        Number of fields m.
    embed_dim : int
        Size k of the embeddings.
    attention_dim : int, default=32
        Width of the attention network's hidden layer (the AFM paper's "attention factor";
        AutoFIS Table 9's h: 32 on Criteo, 256 on Avazu).
    dropout : float, default=0.0
        Probability of dropping a unit of the pooled vector.
    pairs : sequence of tuple of int, default=None
        Only these field pairs; ``None`` is every pair.

    Attributes
    ----------
    attention : torch.nn.Linear
        W (attention_dim x embed_dim) and b.
    score : torch.nn.Linear
        h, without bias (a shared bias would cancel in the softmax).
    projection : torch.nn.Linear
        p, without bias (the network's single bias lives in its linear term).

    Shapes
    ------
    embeddings : (batch_size, n_fields, embed_dim)
    returns (batch_size,); :meth:`attention_weights` returns
    (batch_size, n_fields * (n_fields - 1) // 2)
    """

    def __init__(self, n_fields, embed_dim, attention_dim=32, dropout=0.0, pairs=None):
        super().__init__()
        left, right = _pair_indices(n_fields, pairs)
        self.register_buffer("left", left, persistent=False)
        self.register_buffer("right", right, persistent=False)
        self.attention = nn.Linear(embed_dim, attention_dim)
        self.score = nn.Linear(attention_dim, 1, bias=False)
        self.projection = nn.Linear(embed_dim, 1, bias=False)
        self.dropout = Dropout(dropout)
        # The AFM authors' initialisation: W and b Glorot-normal, h standard normal, p = 1
        # (p = 1 with uniform attention is FM averaged over the pairs).
        glorot = math.sqrt(2.0 / (embed_dim + attention_dim))
        nn.init.normal_(self.attention.weight, std=glorot)
        nn.init.normal_(self.attention.bias, std=glorot)
        nn.init.normal_(self.score.weight)
        nn.init.ones_(self.projection.weight)

    def forward(self, embeddings):
        products, weights = self._products_and_weights(embeddings)
        pooled = (weights.unsqueeze(-1) * products).sum(dim=1)
        return self.projection(self.dropout(pooled)).squeeze(-1)

    def attention_weights(self, embeddings):
        """a_ij of every pair of every sample, for interpretation; each row sums to 1.

        Returns
        -------
        torch.Tensor of shape (batch_size, n_fields * (n_fields - 1) // 2)
            Pairs in double-loop order.
        """
        return self._products_and_weights(embeddings)[1]

    def _products_and_weights(self, embeddings):
        products = embeddings[:, self.left] * embeddings[:, self.right]  # (batch, pairs, k)
        scores = self.score(torch.relu(self.attention(products))).squeeze(-1)
        return products, torch.softmax(scores, dim=1)
