"""DCN-V2's cross layers (sk_ctr/layers/cross.py) against brute-force definitions in float64:
the full-matrix cross and the mixture of low-rank experts (DCN-Mix). DCN's vector cross is
tested with the DCN network in tests/estimators/test_dcn_widedeep_fnn.py."""

import numpy as np
import pytest
import torch
from helpers import randomize_
from references import matrix_cross_by_definition, mixture_cross_by_definition

from sk_ctr.layers.cross import CrossNetwork, MatrixCrossNetwork, MixtureCrossNetwork


def mixture_reference(cross, x0):
    return mixture_cross_by_definition(
        x0, cross.down, cross.inner, cross.up, cross.gates, cross.biases
    )


# ----------------------------------------------------------------------------------------
# MatrixCrossNetwork
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "batch_size, dim, n_layers", [(5, 7, 3), (1, 1, 1), (4, 6, 1), (1, 5, 2), (3, 4, 0)]
)
def test_matrix_cross_matches_definition(batch_size, dim, n_layers):
    cross = randomize_(MatrixCrossNetwork(dim, n_layers)).double()
    x0 = torch.randn(batch_size, dim, dtype=torch.float64)
    expected = matrix_cross_by_definition(x0, cross.weights, cross.biases)
    torch.testing.assert_close(cross(x0), expected)


def test_matrix_cross_layer_l_is_a_polynomial_of_degree_l_plus_one():
    # Without biases x_L is a sum of monomials of degree 1..L+1 in x_0: scaling x_0 by t gives
    # a polynomial in t of exactly that degree, with no constant term.
    cross = randomize_(MatrixCrossNetwork(3, 2)).double()
    with torch.no_grad():
        cross.biases.zero_()
    x0 = torch.randn(1, 3, dtype=torch.float64)
    t = torch.arange(1.0, 6.0, dtype=torch.float64)
    outputs = torch.stack([cross(x0 * s)[0] for s in t]).detach().numpy()
    for coordinate in range(3):
        coefficients = np.polyfit(t.numpy(), outputs[:, coordinate], deg=4)  # t^4 ... t^0
        assert abs(coefficients[0]) < 1e-8 and abs(coefficients[-1]) < 1e-8
        assert abs(coefficients[1]) > 1e-6  # degree 3 = L + 1


def test_matrix_cross_weighs_each_pair_of_coordinates_where_the_vector_cross_cannot():
    # x_1 = x_0 * (W x_0) + x_0 with W = [[0, 1], [0, 0]] gives x_0,0 x_0,1 in coordinate 0
    # alone; the vector cross's x_0 (x_0 . w) puts the same product w_j x_0,i x_0,j in
    # every coordinate i, so no w gives it.
    cross = MatrixCrossNetwork(2, 1).double()
    with torch.no_grad():
        cross.weights.copy_(torch.tensor([[[0.0, 1.0], [0.0, 0.0]]]))
    x0 = torch.tensor([[2.0, 3.0]], dtype=torch.float64)
    torch.testing.assert_close(cross(x0) - x0, torch.tensor([[6.0, 0.0]], dtype=torch.float64))


def test_matrix_cross_parameters_are_one_matrix_and_one_bias_per_layer():
    cross = MatrixCrossNetwork(10, 4)
    assert cross.weights.shape == (4, 10, 10) and cross.biases.shape == (4, 10)
    assert sum(p.numel() for p in cross.parameters()) == 4 * (10 * 10 + 10)
    assert torch.equal(cross.biases, torch.zeros(4, 10))
    assert cross.output_dim == 10


# ----------------------------------------------------------------------------------------
# MixtureCrossNetwork (DCN-Mix)
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "batch_size, dim, n_layers, low_rank, n_experts",
    [
        (5, 6, 2, 3, 4),  # the general case
        (1, 1, 1, 1, 1),  # d = 1, one expert of rank 1, batch of 1
        (3, 4, 3, 2, 1),  # one expert: the gate is the constant 1
        (2, 3, 1, 5, 2),  # a rank above d
        (4, 5, 0, 2, 3),  # no layer: x_0 unchanged
    ],
)
def test_mixture_cross_matches_definition(batch_size, dim, n_layers, low_rank, n_experts):
    torch.manual_seed(0)
    cross = randomize_(MixtureCrossNetwork(dim, n_layers, low_rank, n_experts)).double()
    x0 = torch.randn(batch_size, dim, dtype=torch.float64)
    torch.testing.assert_close(cross(x0), mixture_reference(cross, x0))


def test_mixture_cross_gates_depend_on_the_sample():
    # Inputs whose gate weights differ clearly between samples: a gate computed once per batch
    # (or per layer, without x_l) would not match the reference's per-sample softmax.
    torch.manual_seed(1)
    cross = randomize_(MixtureCrossNetwork(4, 1, 2, 2)).double()
    x0 = torch.randn(6, 4, dtype=torch.float64)
    scores = x0 @ cross.gates[0].T
    weights = torch.softmax(scores, dim=-1)
    assert weights[:, 0].std() > 0.05  # the samples weigh the experts differently
    torch.testing.assert_close(cross(x0), mixture_reference(cross, x0))


def test_mixture_cross_parameters():
    dim, n_layers, low_rank, n_experts = 10, 3, 4, 5
    cross = MixtureCrossNetwork(dim, n_layers, low_rank, n_experts)
    assert cross.down.shape == cross.up.shape == (n_layers, n_experts, dim, low_rank)
    assert cross.inner.shape == (n_layers, n_experts, low_rank, low_rank)
    assert cross.gates.shape == (n_layers, n_experts, dim)
    expected = n_layers * (n_experts * (2 * dim * low_rank + low_rank**2 + dim) + dim)
    assert sum(p.numel() for p in cross.parameters()) == expected
    assert torch.equal(cross.biases, torch.zeros(n_layers, dim))


# ----------------------------------------------------------------------------------------
# The family
# ----------------------------------------------------------------------------------------
CROSSES = [
    lambda dim, n_layers: CrossNetwork(dim, n_layers),
    lambda dim, n_layers: MatrixCrossNetwork(dim, n_layers),
    lambda dim, n_layers: MixtureCrossNetwork(dim, n_layers, low_rank=2, n_experts=3),
]


@pytest.mark.parametrize("make_cross", CROSSES)
def test_every_cross_without_layers_returns_x0_and_has_no_parameters(make_cross):
    cross = make_cross(5, 0)
    x0 = torch.randn(3, 5)
    assert torch.equal(cross(x0), x0)
    assert sum(p.numel() for p in cross.parameters()) == 0


@pytest.mark.parametrize("make_cross", CROSSES)
def test_every_cross_keeps_the_shape_and_trains_every_parameter(make_cross):
    cross = make_cross(4, 2)
    with torch.no_grad():
        for parameter in cross.parameters():  # biases start at zero; make every path live
            parameter.add_(0.1)
    out = cross(torch.randn(7, 4))
    assert out.shape == (7, 4) and cross.output_dim == 4
    out.pow(2).sum().backward()
    for name, parameter in cross.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
