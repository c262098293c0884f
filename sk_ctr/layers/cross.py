"""The cross network of DCN: explicit feature crosses of bounded degree on a flat input vector."""

import torch
from torch import nn


class CrossNetwork(nn.Module):
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
        super().__init__()
        self.weights = nn.Parameter(torch.empty(n_layers, input_dim))
        self.biases = nn.Parameter(torch.zeros(n_layers, input_dim))
        # Glorot normal of each w_l as a (d, 1) matrix (the paper does not say; DeepCTR's choice).
        nn.init.normal_(self.weights, std=(2.0 / (input_dim + 1)) ** 0.5)
        self.output_dim = input_dim

    def forward(self, inputs):
        crossed = inputs
        for weight, bias in zip(self.weights, self.biases, strict=True):
            crossed = inputs * (crossed @ weight).unsqueeze(-1) + bias + crossed
        return crossed
