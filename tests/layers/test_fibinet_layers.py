"""FiBiNET's SENET and Bilinear-Interaction layers against their definitions (float64)."""

import pytest
import torch
from helpers import randomize_
from references import bilinear_by_definition, senet_by_definition

from sk_ctr.layers.bilinear import BILINEAR_TYPES, BilinearInteraction
from sk_ctr.layers.squeeze_excitation import SENETLayer

SHAPES = [(5, 7, 3), (1, 2, 1), (4, 3, 6), (3, 1, 4), (2, 12, 2)]


# --------------------------------------------------------------------------------------
# SENETLayer
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size, n_fields, embed_dim", SHAPES)
@pytest.mark.parametrize("reduction_ratio", [1, 3, 2.5])
def test_senet_matches_squeeze_excite_reweight_definition(
    batch_size, n_fields, embed_dim, reduction_ratio
):
    layer = randomize_(SENETLayer(n_fields, reduction_ratio)).double()
    emb = torch.randn(batch_size, n_fields, embed_dim, dtype=torch.float64)
    expected, weights = senet_by_definition(
        emb, layer.squeezed_to_reduced.weight, layer.reduced_to_weights.weight
    )
    torch.testing.assert_close(layer(emb), expected)
    torch.testing.assert_close(layer.field_weights(emb), weights)


@pytest.mark.parametrize(
    "n_fields, reduction_ratio, reduced", [(39, 3, 13), (10, 3, 3), (2, 3, 1), (1, 3, 1), (7, 1, 7)]
)
def test_senet_bottleneck_size_and_parameter_count(n_fields, reduction_ratio, reduced):
    layer = SENETLayer(n_fields, reduction_ratio)
    assert layer.squeezed_to_reduced.weight.shape == (reduced, n_fields)
    assert layer.reduced_to_weights.weight.shape == (n_fields, reduced)
    assert sum(p.numel() for p in layer.parameters()) == 2 * n_fields * reduced


def test_senet_weights_depend_on_the_sample_and_squeeze_by_the_mean():
    layer = randomize_(SENETLayer(4, 2)).double()
    emb = torch.randn(2, 4, 3, dtype=torch.float64)
    # Changing one field's entries without changing its mean leaves every weight unchanged.
    shifted = emb.clone()
    shifted[:, 1] += torch.tensor([1.0, -2.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(layer.field_weights(shifted), layer.field_weights(emb))
    assert not torch.allclose(layer.field_weights(emb)[0], layer.field_weights(emb)[1])


# --------------------------------------------------------------------------------------
# BilinearInteraction
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size, n_fields, embed_dim", SHAPES)
@pytest.mark.parametrize("bilinear", BILINEAR_TYPES)
def test_bilinear_matches_pairwise_definition(batch_size, n_fields, embed_dim, bilinear):
    layer = BilinearInteraction(n_fields, embed_dim, bilinear).double()
    emb = torch.randn(batch_size, n_fields, embed_dim, dtype=torch.float64)
    out = layer(emb)
    assert out.shape == (batch_size, n_fields * (n_fields - 1) // 2, embed_dim)
    torch.testing.assert_close(out, bilinear_by_definition(emb, layer.weights, bilinear))


@pytest.mark.parametrize(
    "bilinear, n_matrices", [("field_all", 1), ("field_each", 5), ("field_interaction", 15)]
)
def test_bilinear_parameter_count(bilinear, n_matrices):
    layer = BilinearInteraction(6, 4, bilinear)
    assert sum(p.numel() for p in layer.parameters()) == n_matrices * 4 * 4


def test_bilinear_with_identity_matrices_is_the_hadamard_product():
    # W = I: p_ij = v_i ⊙ v_j, the pairs NFM's Bi-Interaction sums (FiBiNET's motivation).
    layer = BilinearInteraction(3, 2, "field_interaction").double()
    with torch.no_grad():
        layer.weights.copy_(torch.eye(2, dtype=torch.float64).expand(3, 2, 2))
    emb = torch.randn(4, 3, 2, dtype=torch.float64)
    expected = torch.stack([emb[:, 0] * emb[:, 1], emb[:, 0] * emb[:, 2], emb[:, 1] * emb[:, 2]], 1)
    torch.testing.assert_close(layer(emb), expected)


def test_bilinear_every_matrix_gets_a_gradient():
    # No matrix is unused (the last field is never a left field): DDP requires it.
    for bilinear in BILINEAR_TYPES:
        layer = BilinearInteraction(4, 3, bilinear)
        layer(torch.randn(5, 4, 3)).sum().backward()
        assert (layer.weights.grad.abs().sum(dim=(1, 2)) > 0).all(), bilinear


def test_bilinear_rejects_an_unknown_type_naming_it():
    with pytest.raises(ValueError, match="bilinear.*'field_pair'"):
        BilinearInteraction(3, 2, "field_pair")
