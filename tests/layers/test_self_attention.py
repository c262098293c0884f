"""AutoInt's interacting layer against the paper's eq. 5-9 written with loops (float64)."""

import pytest
import torch
from helpers import randomize_
from references import interacting_layer_reference

from sk_ctr.layers.self_attention import InteractingLayer


def head_matrices(projection, n_heads):
    """The (d', d) matrix W^(h) of each head: row block h of the stacked projection."""
    return list(projection.weight.detach().chunk(n_heads, dim=0))


def reference_of(layer, emb):
    n_heads = layer.n_heads
    return interacting_layer_reference(
        emb,
        head_matrices(layer.query, n_heads),
        head_matrices(layer.key, n_heads),
        head_matrices(layer.value, n_heads),
        None if layer.residual is None else layer.residual.weight.detach(),
    )


SHAPES = [
    # batch, fields, input_dim d, attention_dim d', heads H
    (4, 5, 6, 3, 2),
    (1, 1, 4, 2, 1),  # one field, one head, one sample
    (3, 1, 2, 3, 3),  # one field, several heads
    (2, 4, 1, 2, 3),  # embedding size 1
    (3, 6, 5, 1, 1),  # d' = 1
    (1, 7, 3, 4, 2),
]


@pytest.mark.parametrize("batch_size, n_fields, input_dim, attention_dim, n_heads", SHAPES)
@pytest.mark.parametrize("residual", [True, False])
def test_interacting_layer_matches_the_equations(
    batch_size, n_fields, input_dim, attention_dim, n_heads, residual
):
    torch.manual_seed(batch_size * 100 + n_fields * 10 + input_dim)
    layer = InteractingLayer(input_dim, attention_dim, n_heads, residual).double()
    emb = torch.randn(batch_size, n_fields, input_dim, dtype=torch.float64)
    expected, expected_weights = reference_of(layer, emb)
    output = layer(emb)
    assert output.shape == (batch_size, n_fields, n_heads * attention_dim)
    torch.testing.assert_close(output, expected)
    torch.testing.assert_close(layer.attention_weights(emb), expected_weights)


def test_scores_are_not_scaled_by_the_square_root_of_the_head_size():
    # Large weights make the softmax sharp, so a 1/sqrt(d') = 1/4 factor changes the outputs
    # far beyond the tolerance; the reference has no factor (eq. 6: a plain inner product).
    torch.manual_seed(0)
    layer = randomize_(InteractingLayer(4, 16, 2)).double()
    emb = torch.randn(3, 5, 4, dtype=torch.float64)
    scores_over_4 = torch.softmax(
        layer._heads(layer.query(emb)) @ layer._heads(layer.key(emb)).transpose(-1, -2) / 4, -1
    )
    expected_weights = reference_of(layer, emb)[1]
    assert not torch.allclose(scores_over_4, expected_weights, atol=1e-3)
    torch.testing.assert_close(layer.attention_weights(emb), expected_weights)


def test_a_single_field_attends_only_to_itself():
    layer = InteractingLayer(3, 2, 2).double()
    emb = torch.randn(5, 1, 3, dtype=torch.float64)
    torch.testing.assert_close(
        layer.attention_weights(emb), torch.ones(5, 2, 1, 1, dtype=torch.float64)
    )
    expected = torch.relu(emb @ layer.value.weight.T + emb @ layer.residual.weight.T)
    torch.testing.assert_close(layer(emb), expected)


def test_attention_weights_of_every_field_and_head_sum_to_one():
    layer = InteractingLayer(4, 3, 3).double()
    weights = layer.attention_weights(torch.randn(6, 5, 4, dtype=torch.float64))
    assert weights.shape == (6, 3, 5, 5)
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(6, 3, 5, dtype=torch.float64))


@pytest.mark.parametrize("residual, n_matrices", [(True, 4), (False, 3)])
def test_parameters_are_the_papers_matrices_without_bias(residual, n_matrices):
    # W_Query, W_Key, W_Value of every head (d' x d each) and W_Res (d' H x d).
    layer = InteractingLayer(input_dim=16, attention_dim=32, n_heads=2, residual=residual)
    assert sum(p.numel() for p in layer.parameters()) == n_matrices * 16 * 32 * 2
    assert all(name.endswith("weight") for name, _ in layer.named_parameters())
    assert layer.output_dim == 64


def test_the_output_is_non_negative_and_gradients_reach_every_matrix():
    layer = InteractingLayer(3, 2, 2)
    emb = torch.randn(8, 4, 3, requires_grad=True)
    output = layer(emb)
    assert (output >= 0).all()
    output.sum().backward()
    for name, parameter in layer.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
