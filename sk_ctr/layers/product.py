"""The product layer of PNN: pairwise products of field embeddings (DeepFM journal eq. 9)."""

import torch
from torch import nn

from sk_ctr.layers.field_products import FieldProducts, all_interactions

PRODUCTS = ("inner", "outer", "both")


class InnerProduct(FieldProducts):
    """Every pairwise inner product p_ij = <e_i, e_j>, i < j: IPNN's quadratic signal
    (DeepFM journal eq. 9 with g the inner product).

    The pairs are ordered (0, 1), (0, 2), ..., (0, m-1), (1, 2), ..., (m-2, m-1), the order of a
    double loop over fields. Unlike the FM sum, the products are kept apart so the next layer
    can weigh each pair. The products are exact, read from the Gram matrix E E^T (one batched
    matrix product; gathering the 741 pairs of Criteo's 39 fields was 5x slower end to end for
    IPNN): the approximation the journal mentions (section III-C-2, "eliminating some
    neurons"; in the PNN paper a rank-1 factorisation of the first hidden layer's quadratic
    weights) is not used.

    Parameters
    ----------
    n_fields : int
        Number of fields m.

    Shapes
    ------
    embeddings : (batch_size, n_fields, embed_dim)
    returns (batch_size, n_fields * (n_fields - 1) // 2)
    """

    def __init__(self, n_fields):
        super().__init__(all_interactions(n_fields), n_fields)


class OuterProduct(nn.Module):
    """OPNN's quadratic signal with the PNN paper's sum-pooling approximation: the m vectors are
    compressed into f = sum_i e_i and p = f f^T, a k x k matrix, is flattened (DeepFM journal
    section III-C-2).

    p costs O(m k + k^2) instead of O(m^2 k^2) for all m(m-1)/2 outer products e_i e_j^T. A
    linear map of the flattened p is the paper's sum over k x k weight matrices W ⊙ p. The
    journal finds this approximation less reliable than the inner product: sum pooling loses
    which fields took part, and p also holds each field's product with itself.

    Shapes
    ------
    embeddings : (batch_size, n_fields, embed_dim)
    returns (batch_size, embed_dim * embed_dim), row-major: entry a * k + b is f_a f_b
    """

    def forward(self, embeddings):
        pooled = embeddings.sum(dim=1)
        return (pooled.unsqueeze(2) * pooled.unsqueeze(1)).flatten(start_dim=1)


class ProductLayer(nn.Module):
    """PNN's product layer: the linear signal z = [e_1, ..., e_m] and the quadratic signal p,
    concatenated as [z, p] (DeepFM journal eq. 9).

    Eq. 9, a^(1) = sigma(W_linear z + W_quadratic p + b), is one linear map of [z, p], so the
    first layer of the MLP that follows is W_linear and W_quadratic together.

    Parameters
    ----------
    n_fields : int
        Number of fields m.
    embed_dim : int
        Size k of every embedding.
    product : {"inner", "outer", "both"}
        IPNN's inner products, OPNN's outer product, or PNN*'s both (inner first).
    interactions : sequence of tuple of int, default=None
        Restrict the inner products to these field pairs (and triples): AutoIPNN, IPNN on a
        selection transferred from AutoFIS (AutoFIS Table 4). ``None`` keeps all pairs.

    Attributes
    ----------
    output_dim : int
        m k + m (m - 1) / 2 for ``"inner"``, m k + k^2 for ``"outer"``,
        m k + m (m - 1) / 2 + k^2 for ``"both"``.

    Shapes
    ------
    embeddings : (batch_size, n_fields, embed_dim)
    returns (batch_size, output_dim): [z, inner products, outer product] with the parts
    ``product`` selects
    """

    def __init__(self, n_fields, embed_dim, product="inner", interactions=None):
        super().__init__()
        if product not in PRODUCTS:
            raise ValueError(f"Unknown product {product!r}; choose from {list(PRODUCTS)}")
        if product == "outer" and interactions is not None:
            raise ValueError(
                "interactions restrict the inner products; product='outer' has none (its "
                "outer product of summed embeddings mixes all fields). Use 'inner' or 'both'."
            )
        if product == "outer":
            self.inner = None
        elif interactions is None:
            self.inner = InnerProduct(n_fields)
        else:
            self.inner = FieldProducts(interactions, n_fields)
        self.outer = OuterProduct() if product in ("outer", "both") else None
        self.output_dim = n_fields * embed_dim
        if self.inner is not None:
            self.output_dim += self.inner.output_dim
        if self.outer is not None:
            self.output_dim += embed_dim * embed_dim

    def forward(self, embeddings):
        signals = [embeddings.flatten(start_dim=1)]
        if self.inner is not None:
            signals.append(self.inner(embeddings))
        if self.outer is not None:
            signals.append(self.outer(embeddings))
        return torch.cat(signals, dim=1)
