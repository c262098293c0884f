"""BST's Transformer encoder (eq. 1-5) against a brute-force float64 loop, and its masks."""

import pytest
import torch
from helpers import randomize_
from references import bst_block_reference

from sk_ctr.layers.attention import sequence_mask
from sk_ctr.layers.sequence_transformer import (
    BehaviorTransformer,
    MultiHeadSelfAttention,
    TransformerBlock,
)


def random_block(dim, n_heads, feedforward_dim=None, seed=0):
    torch.manual_seed(seed)
    block = TransformerBlock(dim, n_heads, feedforward_dim, dropout=0.3)
    return randomize_(block).double().eval()


def masked_batch(lengths, width, dim, seed=0):
    """Inputs (batch, width, dim) and the mask of the first ``lengths`` positions."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(len(lengths), width, dim, generator=generator, dtype=torch.float64)
    return inputs, sequence_mask(torch.tensor(lengths), width)


@pytest.mark.parametrize(
    ("lengths", "width", "dim", "n_heads", "feedforward_dim"),
    [
        ([3, 1, 5, 2], 5, 4, 2, 6),  # padded rows of every length
        ([1], 1, 3, 1, None),  # batch of 1, one position, one head, 4 d
        ([2, 4], 4, 1, 3, 2),  # width 1: each head a scalar
        ([6, 6, 6], 6, 5, 4, 3),  # no padding
    ],
)
def test_block_matches_eq_1_to_5_by_loop(lengths, width, dim, n_heads, feedforward_dim):
    block = random_block(dim, n_heads, feedforward_dim)
    inputs, mask = masked_batch(lengths, width, dim)
    expected = bst_block_reference(block, inputs, mask)
    torch.testing.assert_close(block(inputs, mask), expected)


def test_heads_project_to_the_full_width_and_scale_by_its_root():
    # eq. 2: W^Q, W^K, W^V in R^{d x d} per head, W^H in R^{h d x d}; no biases.
    attention = MultiHeadSelfAttention(6, 8)
    shapes = {name: tuple(p.shape) for name, p in attention.named_parameters()}
    assert shapes == {
        "query": (8, 6, 6),
        "key": (8, 6, 6),
        "value": (8, 6, 6),
        "output.weight": (6, 48),
    }
    block = TransformerBlock(6, 8, feedforward_dim=10)
    feedforward = 6 * 10 + 10 + 10 * 6 + 6
    norms = 2 * 2 * 6
    assert sum(p.numel() for p in block.parameters()) == 4 * 8 * 36 + feedforward + norms
    assert sum(p.numel() for p in TransformerBlock(6, 2).parameters()) == (
        4 * 2 * 36 + (6 * 24 + 24 + 24 * 6 + 6) + norms  # feed-forward of 4 d by default
    )


@pytest.mark.parametrize("n_layers", [1, 2])
def test_encoder_stacks_blocks_and_zeroes_padding_outputs(n_layers):
    torch.manual_seed(0)
    encoder = randomize_(BehaviorTransformer(4, n_layers, 2, 5)).double().eval()
    inputs, mask = masked_batch([2, 5, 1], 5, 4)
    expected = inputs * mask.unsqueeze(-1)
    for block in encoder.blocks:
        expected = bst_block_reference(block, expected, mask)
    expected = expected * mask.unsqueeze(-1)
    outputs = encoder(inputs, mask)
    torch.testing.assert_close(outputs, expected)
    assert (outputs[~mask] == 0).all()


@pytest.mark.parametrize("padding", ["noise", "nan"])
def test_padding_values_never_change_the_outputs(padding):
    torch.manual_seed(0)
    encoder = randomize_(BehaviorTransformer(3, 2, 2)).double().eval()
    inputs, mask = masked_batch([1, 4, 2, 3], 4, 3)
    reference = encoder(inputs, mask)
    fill = torch.full_like(inputs, float("nan")) if padding == "nan" else inputs * 1e4 + 7
    scrambled = torch.where(mask.unsqueeze(-1), inputs, fill)
    torch.testing.assert_close(encoder(scrambled, mask), reference)
    # and a real position's output does depend on the other real positions
    moved = inputs.clone()
    moved[1, 0] += 1
    assert not torch.allclose(encoder(moved, mask)[1, 1], reference[1, 1])


def test_padding_gets_no_gradient_and_real_positions_do():
    torch.manual_seed(0)
    encoder = randomize_(BehaviorTransformer(3, 1, 3)).double().train()
    inputs, mask = masked_batch([1, 3], 3, 3)
    inputs.requires_grad_(True)
    encoder(inputs, mask).pow(2).sum().backward()
    assert torch.isfinite(inputs.grad).all()
    assert (inputs.grad[~mask] == 0).all() and (inputs.grad[mask] != 0).any(dim=-1).all()


def test_dropout_only_in_training():
    torch.manual_seed(0)
    encoder = BehaviorTransformer(4, 1, 2, dropout=0.5).double()
    inputs, mask = masked_batch([3, 2], 3, 4)
    encoder.eval()
    torch.testing.assert_close(encoder(inputs, mask), encoder(inputs, mask))
    encoder.train()
    assert not torch.allclose(encoder(inputs, mask), encoder(inputs, mask))


def test_a_row_without_a_real_position_is_refused():
    inputs, mask = masked_batch([2, 0], 3, 4)
    with pytest.raises(ValueError, match="needs a real position"):
        BehaviorTransformer(4, 1, 2)(inputs.float(), mask)
