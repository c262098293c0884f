"""CompressedInteractionNetwork (xDeepFM) against eq. 6-7 written with loops (float64)."""

import math

import pytest
import torch
from references import cin_by_definition

from sk_ctr.layers.cin import CompressedInteractionNetwork, cin_map_counts

SHAPES = [
    # batch, fields, embed, layer sizes, split_half
    (3, 4, 3, (4, 6, 3), True),
    (3, 4, 3, (4, 6, 3), False),
    (1, 1, 1, (2,), True),  # 1 field, one layer, batch 1, embed 1
    (1, 1, 2, (3, 5), False),
    (2, 5, 1, (2, 2, 2, 2), True),
    (4, 3, 4, (1,), True),  # one odd-sized layer is legal: the last keeps all its maps
]


@pytest.mark.parametrize("batch_size, n_fields, embed_dim, sizes, split_half", SHAPES)
def test_cin_matches_eq_6_and_7_by_loops(batch_size, n_fields, embed_dim, sizes, split_half):
    torch.manual_seed(0)
    cin = CompressedInteractionNetwork(n_fields, sizes, split_half=split_half).double()
    with torch.no_grad():
        for weight in cin.weights:
            weight.normal_()
    x0 = torch.randn(batch_size, n_fields, embed_dim, dtype=torch.float64)
    expected = cin_by_definition(x0, cin.weights, split_half)
    assert cin.output_dim == expected.shape[1]
    torch.testing.assert_close(cin(x0), expected)


def test_cin_activation_applies_to_every_feature_map_before_the_split():
    torch.manual_seed(1)
    cin = CompressedInteractionNetwork(3, (4, 2), split_half=True, activation="tanh").double()
    with torch.no_grad():
        for weight in cin.weights:
            weight.normal_()
    x0 = torch.randn(2, 3, 2, dtype=torch.float64)
    expected = cin_by_definition(x0, cin.weights, True, activation=math.tanh)
    torch.testing.assert_close(cin(x0), expected)


def test_cin_weights_have_one_entry_per_map_previous_map_and_field():
    # m = 5: layer 1 reads m maps, layer 2 half of layer 1's 6, layer 3 all 4 of layer 2 without
    # split_half.
    split = CompressedInteractionNetwork(5, (6, 4, 3), split_half=True)
    assert [tuple(w.shape) for w in split.weights] == [(6, 5, 5), (4, 3, 5), (3, 2, 5)]
    assert sum(p.numel() for p in split.parameters()) == 6 * 25 + 4 * 15 + 3 * 10
    assert split.output_dim == 3 + 2 + 3
    full = CompressedInteractionNetwork(5, (6, 4, 3), split_half=False)
    assert [tuple(w.shape) for w in full.weights] == [(6, 5, 5), (4, 6, 5), (3, 4, 5)]
    assert full.output_dim == 6 + 4 + 3


def test_cin_layer_k_is_homogeneous_of_degree_k_plus_one_in_the_embeddings():
    # Linear maps and no bias: scaling X^0 by t scales p^k by t^(k+1).
    torch.manual_seed(2)
    cin = CompressedInteractionNetwork(3, (2, 2, 2), split_half=False).double()
    x0 = torch.randn(2, 3, 4, dtype=torch.float64)
    scaled = cin(2.0 * x0)
    powers = torch.tensor([4.0, 4.0, 8.0, 8.0, 16.0, 16.0], dtype=torch.float64)
    torch.testing.assert_close(scaled, powers * cin(x0))


def test_cin_without_layers_returns_an_empty_vector():
    cin = CompressedInteractionNetwork(3, ())
    assert cin.output_dim == 0
    assert cin(torch.randn(4, 3, 2)).shape == (4, 0)


def test_cin_gradients_reach_every_layer_and_the_embeddings():
    cin = CompressedInteractionNetwork(4, (4, 2), split_half=True)
    x0 = torch.randn(3, 4, 2, requires_grad=True)
    cin(x0).sum().backward()
    assert all(w.grad is not None and w.grad.abs().sum() > 0 for w in cin.weights)
    assert x0.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "sizes, split_half, message",
    [
        ((3, 2), True, "even number"),
        ((0,), False, "positive ints"),
        ((2, -2), False, "positive ints"),
        ((2.0,), False, "positive ints"),
        ((True,), False, "positive ints"),
    ],
)
def test_cin_rejects_bad_layer_sizes(sizes, split_half, message):
    with pytest.raises(ValueError, match=message):
        cin_map_counts(sizes, split_half)
    with pytest.raises(ValueError, match=message):
        CompressedInteractionNetwork(3, sizes, split_half=split_half)


def test_cin_activations_are_built_per_layer_and_unknown_ones_rejected():
    cin = CompressedInteractionNetwork(3, (4, 2), activation="dice")
    assert [a.alpha.numel() for a in cin.activations] == [4, 2]  # statistics per feature map
    assert cin(torch.randn(5, 3, 2)).shape == (5, 2 + 2)
    with pytest.raises(ValueError, match="Unknown CIN activation 'swish'"):
        CompressedInteractionNetwork(3, (2,), activation="swish")
