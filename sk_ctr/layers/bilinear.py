"""Bilinear field interactions: p_ij = (v_i W) * v_j, a learned k x k map between the dot product
and the Hadamard product of two field embeddings."""

import math

import torch
from torch import nn

#: Which fields share a k x k matrix (FiBiNET, section "Bilinear-Interaction Layer"): one for
#: every pair, one per field i on the pair's left side, or one per pair.
BILINEAR_TYPES = ("field_all", "field_each", "field_interaction")


class BilinearInteraction(nn.Module):
    """FiBiNET's Bilinear-Interaction layer (Huang et al., RecSys 2019, section
    "Bilinear-Interaction Layer"): p_ij = (v_i . W) ⊙ v_j for every field pair i < j, with

    * ``"field_all"``: one W shared by all pairs (k^2 parameters);
    * ``"field_each"``: W_i for the left field of the pair; the last field is never on the
      left of a pair i < j, so m - 1 matrices, (m - 1) k^2 parameters;
    * ``"field_interaction"``: W_ij for each pair, m(m-1)/2 k^2 parameters.

    The pairs are ordered (0, 1), (0, 2), ..., (m-2, m-1), as a double loop over fields. All
    pairs are computed at once from index tensors (a gather and one batched matrix product); for
    ``"field_each"`` each field is multiplied by its W_i once, before the gather. The matrices
    start Glorot-normal (std 1/sqrt(k)), as DeepCTR's and the authors' dense layers.

    Parameters
    ----------
    n_fields : int
        Number of fields m.
    embed_dim : int
        Size k of every embedding.
    bilinear : {"field_all", "field_each", "field_interaction"}, default="field_interaction"

    Shapes
    ------
    embeddings : (batch_size, n_fields, embed_dim)
    returns (batch_size, n_fields * (n_fields - 1) // 2, embed_dim)
    """

    def __init__(self, n_fields, embed_dim, bilinear="field_interaction"):
        super().__init__()
        if bilinear not in BILINEAR_TYPES:
            raise ValueError(f"bilinear must be one of {BILINEAR_TYPES}; got {bilinear!r}.")
        left, right = torch.triu_indices(n_fields, n_fields, offset=1)
        self.register_buffer("left", left, persistent=False)
        self.register_buffer("right", right, persistent=False)
        n_matrices = {"field_all": 1, "field_each": max(n_fields - 1, 0)}.get(bilinear, len(left))
        self.weights = nn.Parameter(torch.empty(n_matrices, embed_dim, embed_dim))
        nn.init.normal_(self.weights, std=1 / math.sqrt(embed_dim))
        self.bilinear = bilinear

    def forward(self, embeddings):
        right = embeddings[:, self.right]
        if self.bilinear == "field_all":
            return (embeddings[:, self.left] @ self.weights[0]) * right
        if self.bilinear == "field_each":
            # v_i W_i for the m - 1 fields that can be on the left, then one gather.
            transformed = torch.einsum("bfk,fkl->bfl", embeddings[:, :-1], self.weights)
            return transformed[:, self.left] * right
        return torch.einsum("bpk,pkl->bpl", embeddings[:, self.left], self.weights) * right

    def extra_repr(self):
        return f"bilinear={self.bilinear!r}, n_matrices={len(self.weights)}"
