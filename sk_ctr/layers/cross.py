"""The cross networks of DCN and DCN-V2: explicit feature crosses of bounded degree on a flat
input vector, x_{l+1} = (a cross of x_0 with x_l) + x_l.

Three parameterisations of the cross share the residual loop (:class:`ResidualCross`):
the vector of DCN (:class:`CrossNetwork`), the full matrix of DCN-V2 (:class:`MatrixCrossNetwork`)
and DCN-V2's mixture of low-rank experts, DCN-Mix (:class:`MixtureCrossNetwork`).
"""

import torch
from torch import nn


def _glorot_std(fan_in, fan_out):
    """Glorot (Xavier) normal standard deviation of a fan_in -> fan_out linear map."""
    return (2.0 / (fan_in + fan_out)) ** 0.5


class ResidualCross(nn.Module):
    """Stacked residual cross layers x_{l+1} = cross_l(x_0, x_l) + x_l.

    A subclass owns per-layer parameters stacked along a first axis of length ``n_layers`` and
    defines :meth:`cross`, the term one layer adds to x_l; the residual ``+ x_l`` keeps the
    lower-degree crosses of the layers below.

    Parameters
    ----------
    input_dim : int
        Size d of x_0 (the stacked embeddings: n_fields * embed_dim).
    n_layers : int
        Number of cross layers L; 0 returns x_0 unchanged.

    Shapes
    ------
    inputs : (batch_size, input_dim), the vector x_0
    returns (batch_size, input_dim), the vector x_L
    """

    def __init__(self, input_dim, n_layers):
        super().__init__()
        self.n_layers = n_layers
        self.output_dim = input_dim

    def cross(self, inputs, crossed, layer):
        """The term layer ``layer`` adds to x_l: a (batch_size, input_dim) tensor."""
        raise NotImplementedError

    def forward(self, inputs):
        crossed = inputs
        for layer in range(self.n_layers):
            crossed = self.cross(inputs, crossed, layer) + crossed
        return crossed


class CrossNetwork(ResidualCross):
    """Stacked cross layers x_{l+1} = x_0 x_l^T w_l + b_l + x_l (DCN paper, Wang et al. 2017,
    arXiv:1708.05123, eq. 3).

    x_l^T w_l is one scalar per sample, so the layer is computed as ``x_0 * (x_l @ w_l)``
    without materialising the d x d outer product x_0 x_l^T: O(d) per layer and sample. Layer l
    holds polynomials of x_0 up to degree l + 1; the residual ``+ x_l`` keeps the lower ones.
    Each layer has 2 d parameters, w_l and b_l.

    Parameters
    ----------
    input_dim : int
        Size d of x_0 (the stacked embeddings: n_fields * embed_dim).
    n_layers : int
        Number of cross layers L; 0 returns x_0 unchanged.

    Shapes
    ------
    inputs : (batch_size, input_dim), the vector x_0
    returns (batch_size, input_dim), the vector x_L
    """

    def __init__(self, input_dim, n_layers):
        super().__init__(input_dim, n_layers)
        self.weights = nn.Parameter(torch.empty(n_layers, input_dim))
        self.biases = nn.Parameter(torch.zeros(n_layers, input_dim))
        # Glorot normal of each w_l as a (d, 1) matrix (the paper does not say; DeepCTR's choice).
        nn.init.normal_(self.weights, std=_glorot_std(input_dim, 1))

    def cross(self, inputs, crossed, layer):
        return inputs * (crossed @ self.weights[layer]).unsqueeze(-1) + self.biases[layer]


class MatrixCrossNetwork(ResidualCross):
    """Stacked cross layers x_{l+1} = x_0 ⊙ (W_l x_l + b_l) + x_l with a full matrix
    W_l ∈ R^{d×d} (DCN-V2, Wang et al., WWW 2021, arXiv:2008.13535, eq. 1).

    Entry i of the cross is x_0,i Σ_j W_l,ij x_l,j + x_0,i b_l,i: every pair of coordinates
    gets its own weight, where DCN's vector cross (:class:`CrossNetwork`) ties them to
    w_l,j. Layer l holds polynomials of x_0 up to degree l + 1. Each layer has d² + d
    parameters; O(d²) per layer and sample.

    Parameters
    ----------
    input_dim : int
        Size d of x_0 (the stacked embeddings: n_fields * embed_dim).
    n_layers : int
        Number of cross layers L; 0 returns x_0 unchanged.

    Shapes
    ------
    inputs : (batch_size, input_dim), the vector x_0
    returns (batch_size, input_dim), the vector x_L
    """

    def __init__(self, input_dim, n_layers):
        super().__init__(input_dim, n_layers)
        self.weights = nn.Parameter(torch.empty(n_layers, input_dim, input_dim))
        self.biases = nn.Parameter(torch.zeros(n_layers, input_dim))
        # Glorot normal, as the vector cross (the paper does not say; DeepCTR's choice).
        nn.init.normal_(self.weights, std=_glorot_std(input_dim, input_dim))

    def cross(self, inputs, crossed, layer):
        return inputs * (crossed @ self.weights[layer].T + self.biases[layer])


class MixtureCrossNetwork(ResidualCross):
    """Stacked cross layers of a mixture of low-rank experts (DCN-Mix, DCN-V2 paper, Wang et
    al., WWW 2021, arXiv:2008.13535, section 5, eq. 3-4):

    x_{l+1} = Σ_i G_i(x_l) E_i(x_l) + x_l,
    E_i(x_l) = x_0 ⊙ (U_l^i g(C_l^i g(V_l^iᵀ x_l)) + b_l),

    with U_l^i, V_l^i ∈ R^{d×r}, C_l^i ∈ R^{r×r} and a bias b_l shared by the K experts. Each
    expert is a rank-r cross (W_l ≈ U_l V_lᵀ, eq. 2) with nonlinearities in the projected
    space. The paper leaves the gates G and the nonlinearity g open; as DeepCTR-Torch's and
    FuxiCTR's DCN-Mix, the gates are a softmax over the experts of one linear map of x_l each,
    G_i(x_l) = softmax_i(a_l^iᵀ x_l), and g = tanh. Because the gates sum to 1, Σ_i G_i E_i is
    computed as x_0 ⊙ (Σ_i G_i U_l^i g(C_l^i g(V_l^iᵀ x_l)) + b_l), one product by x_0.
    Each layer has K (2 d r + r² + d) + d parameters; O(K d r) per layer and sample.

    Parameters
    ----------
    input_dim : int
        Size d of x_0 (the stacked embeddings: n_fields * embed_dim).
    n_layers : int
        Number of cross layers L; 0 returns x_0 unchanged.
    low_rank : int
        Rank r of each expert.
    n_experts : int
        Number of experts K; with 1 the gate is the constant 1.

    Shapes
    ------
    inputs : (batch_size, input_dim), the vector x_0
    returns (batch_size, input_dim), the vector x_L
    """

    def __init__(self, input_dim, n_layers, low_rank, n_experts):
        super().__init__(input_dim, n_layers)
        shape = (n_layers, n_experts)
        # Glorot normal of each map, as the other crosses (the paper does not say).
        self.down = nn.Parameter(torch.empty(*shape, input_dim, low_rank))  # V_l^i
        self.inner = nn.Parameter(torch.empty(*shape, low_rank, low_rank))  # C_l^i
        self.up = nn.Parameter(torch.empty(*shape, input_dim, low_rank))  # U_l^i
        self.gates = nn.Parameter(torch.empty(*shape, input_dim))  # a_l^i
        self.biases = nn.Parameter(torch.zeros(n_layers, input_dim))
        nn.init.normal_(self.down, std=_glorot_std(input_dim, low_rank))
        nn.init.normal_(self.inner, std=_glorot_std(low_rank, low_rank))
        nn.init.normal_(self.up, std=_glorot_std(low_rank, input_dim))
        nn.init.normal_(self.gates, std=_glorot_std(input_dim, 1))

    def cross(self, inputs, crossed, layer):
        projected = torch.tanh(torch.einsum("bd,kdr->bkr", crossed, self.down[layer]))
        projected = torch.tanh(torch.einsum("bkr,ksr->bks", projected, self.inner[layer]))
        experts = torch.einsum("bkr,kdr->bkd", projected, self.up[layer])
        gates = torch.softmax(crossed @ self.gates[layer].T, dim=-1)
        mixed = torch.einsum("bk,bkd->bd", gates, experts)
        return inputs * (mixed + self.biases[layer])
