"""The Compressed Interaction Network of xDeepFM: explicit vector-wise interactions of bounded
degree on field embeddings of shape (batch, fields, k)."""

from numbers import Integral

import torch
from torch import nn

from sk_ctr.layers.activation import ACTIVATIONS, make_activation

#: ``activation`` of the feature maps meaning "none": the paper's CIN is linear (section 4.1.3).
IDENTITY = "identity"
#: Activations of the feature maps: identity and those of MLPs (Dice keeps per-map statistics
#: over the batch and the embedding dimension).
CIN_ACTIVATIONS = frozenset({IDENTITY, *ACTIVATIONS})


def cin_map_counts(layer_sizes, split_half):
    """How many feature maps of each CIN layer feed the next layer and the output.

    Parameters
    ----------
    layer_sizes : sequence of int
        Feature maps H_k of each layer.
    split_half : bool
        Whether every layer but the last sends half of its maps to the output and the other
        half to the next layer.

    Returns
    -------
    next_counts, output_counts : list of int
        Per layer: maps read by the next layer (the last layer's entry is unused) and maps
        sum-pooled into the output.

    Raises
    ------
    ValueError
        A size that is not a positive int, or an odd size before the last layer with
        ``split_half``.
    """
    sizes = list(layer_sizes)
    positive = (isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes)
    if not all(positive):
        raise ValueError(f"CIN layer sizes must be positive ints; got {tuple(sizes)!r}.")
    if not split_half:
        return sizes, sizes
    odd = [size for size in sizes[:-1] if size % 2]
    if odd:
        raise ValueError(
            f"With split_half every CIN layer but the last must have an even number of "
            f"feature maps (half go to the output, half to the next layer); got "
            f"{tuple(sizes)!r}."
        )
    halves = [size // 2 for size in sizes]
    return halves, [*halves[:-1], *sizes[-1:]]


class CompressedInteractionNetwork(nn.Module):
    """The CIN of xDeepFM (Lian et al., KDD 2018, arXiv:1803.05170, section 3).

    X^0 = the m field embeddings (m x D). Layer k has H_k feature maps, each a weighted sum of
    the Hadamard products of every map of layer k - 1 with every field (eq. 6):

        X^k_(h,*) = sum_(i=1..H_(k-1)) sum_(j=1..m) W^(k,h)_(ij) (X^(k-1)_(i,*) o X^0_(j,*))

    so layer k holds vector-wise interactions of degree k + 1. Each feature map is sum-pooled
    over the embedding dimension, p^k_h = sum_d X^k_(h,d) (eq. 7), and the pooled vectors of
    all layers are concatenated, p+ = [p^1, ..., p^T], the output of this layer (the output
    unit w^T p+ belongs to the network).

    Computed as in the paper's CNN reading (section 3.2): the outer product of X^(k-1) and X^0
    along the field axes, H_(k-1) m vectors of length D, then one matrix product with the
    (H_k, H_(k-1) m) weights for all maps at once (a 1 x 1 convolution). Layer k costs
    O(H_k H_(k-1) m D) per sample and builds a B x D x H_(k-1) x m intermediate.

    ``split_half`` (the authors' implementation, which the paper's description of the output
    leaves out): every layer but the last keeps the first half of its maps for the next layer
    and sum-pools the second half into p+; the last layer pools all its maps. Layer k + 1 then
    reads H_k / 2 maps, halving its cost. Without it every map goes to both. Eq. 6 has no bias,
    and neither do these layers (the authors' code builds its CIN without one too).

    Parameters
    ----------
    n_fields : int
        Number m of fields (rows of X^0).
    layer_sizes : sequence of int
        Feature maps H_k of each layer; empty gives an empty p+.
    split_half : bool, default=True
    activation : str, default="identity"
        Applied to every feature map before the split: ``"identity"`` (the paper's linear
        CIN) or one of :data:`CIN_ACTIVATIONS` (DeepCTR-Torch uses ``"relu"``).

    Attributes
    ----------
    weights : nn.ParameterList
        W^k of shape (H_k, H_(k-1), m), H_0 = m: entry [h, i, j] is W^(k,h)_(ij).
    output_dim : int
        Length of p+.

    Shapes
    ------
    embeddings : (batch_size, n_fields, embed_dim)
    returns (batch_size, output_dim)
    """

    def __init__(self, n_fields, layer_sizes, split_half=True, activation=IDENTITY):
        super().__init__()
        next_counts, output_counts = cin_map_counts(layer_sizes, split_half)
        if activation not in CIN_ACTIVATIONS:
            raise ValueError(
                f"Unknown CIN activation {activation!r}; choose from {sorted(CIN_ACTIVATIONS)}."
            )
        self.weights = nn.ParameterList()
        self.activations = nn.ModuleList()
        inputs = n_fields
        for size, passed_on in zip(layer_sizes, next_counts, strict=True):
            weight = torch.empty(size, inputs, n_fields)
            # Glorot uniform of the (H_k, H_(k-1) m) matrix: the paper does not say;
            # DeepCTR-Torch keeps Conv1d's default, uniform +-1/sqrt(H_(k-1) m).
            nn.init.xavier_uniform_(weight.view(size, inputs * n_fields))
            self.weights.append(nn.Parameter(weight))
            self.activations.append(
                nn.Identity() if activation == IDENTITY else make_activation(activation, size)
            )
            inputs = passed_on
        self.split_half = split_half
        self.n_passed_on = next_counts
        self.output_dim = sum(output_counts)

    def forward(self, embeddings):
        batch_size, n_fields, embed_dim = embeddings.shape
        # Embedding dimension first: every layer is then one (B D, H_(k-1) m) x (H_(k-1) m, H_k)
        # matrix product, and the outer products are one batched product of (H_(k-1), 1) and
        # (1, m) matrices, whose backward is batched products too (15 % faster per step than
        # a broadcast multiplication, whose backward reduces over the broadcast axes).
        x0 = embeddings.transpose(1, 2).reshape(batch_size * embed_dim, 1, n_fields)
        hidden, pooled = x0.transpose(1, 2), []
        last = len(self.weights) - 1
        for k, (weight, activation) in enumerate(zip(self.weights, self.activations, strict=True)):
            # z[b d, i * m + j] = X^(k-1)[b, i, d] * X^0[b, j, d]
            products = torch.bmm(hidden.reshape(batch_size * embed_dim, -1, 1), x0)
            maps = products.flatten(start_dim=1) @ weight.flatten(start_dim=1).T  # (B D, H_k)
            maps = activation(maps.view(batch_size, embed_dim, -1))
            if self.split_half and k < last:
                hidden, direct = maps.split(self.n_passed_on[k], dim=-1)
            else:
                hidden, direct = maps, maps
            pooled.append(direct.sum(dim=1))
        if not pooled:
            return embeddings.new_zeros(batch_size, 0)
        return torch.cat(pooled, dim=1)
