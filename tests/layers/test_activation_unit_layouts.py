"""DIN's activation unit computed by weight blocks, on the gathered real positions or on the
whole grid (no padding), against the reference: the MLP over [V_i, V_a,
V_i - V_a, V_i * V_a] of every real position gathered with the boolean mask (the unit's
computation before it was split)."""

import copy

import pytest
import torch
from helpers import randomize_

from sk_ctr.layers.attention import ActivationUnit, AttentionPooling, sequence_mask

MAX_LENGTH, DIM = 7, 3

#: Lengths with no padding, about half padding, and only empty histories (every position
#: padding), plus a mix with some empty rows.
LENGTHS = {
    "no padding": [7, 7, 7, 7, 7],
    "half padding": [3, 0, 7, 4, 2],
    "little padding": [7, 6, 0, 7, 5],
    "all empty": [0, 0, 0, 0, 0],
    "one real item": [0, 0, 1, 0, 0],
}


def reference_scores(unit, behaviors, candidate, mask):
    """The unit's scores from the concatenation of the four terms of every real position."""
    keys, query = behaviors[mask], candidate.unsqueeze(1).expand_as(behaviors)[mask]
    features = torch.cat([keys, query, keys - query, keys * query], dim=-1)
    scores = torch.zeros(mask.shape, dtype=behaviors.dtype)
    scores[mask] = unit.mlp(features)
    return scores


def inputs(lengths, seed=0):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    shape = (len(lengths), MAX_LENGTH, DIM)
    behaviors = torch.randn(shape, generator=generator, dtype=torch.float64)
    candidate = torch.randn(len(lengths), DIM, generator=generator, dtype=torch.float64)
    return behaviors, candidate, lengths


def scores_and_gradients(unit, scores_of, behaviors, candidate, mask, weights):
    behaviors = behaviors.clone().requires_grad_()
    candidate = candidate.clone().requires_grad_()
    scores = scores_of(unit, behaviors, candidate, mask)
    (scores * weights).sum().backward()
    parameters = {name: p.grad for name, p in unit.named_parameters()}
    return scores, behaviors.grad, candidate.grad, parameters, unit.state_dict()


@pytest.mark.parametrize("lengths", list(LENGTHS.values()), ids=list(LENGTHS))
@pytest.mark.parametrize("activation", ["dice", "prelu", "relu"])
@pytest.mark.parametrize("hidden_units", [(4,), (5, 3), ()])
@pytest.mark.parametrize("training", [True, False])
def test_unit_equals_the_concatenated_reference(lengths, activation, hidden_units, training):
    unit = randomize_(ActivationUnit(DIM, hidden_units, activation)).double().train(training)
    reference = copy.deepcopy(unit)
    behaviors, candidate, lengths = inputs(lengths)
    mask = sequence_mask(lengths, MAX_LENGTH)
    weights = torch.randn(mask.shape, dtype=torch.float64)
    got = scores_and_gradients(unit, ActivationUnit.forward, behaviors, candidate, mask, weights)
    expected = scores_and_gradients(
        reference, reference_scores, behaviors, candidate, mask, weights
    )
    torch.testing.assert_close(got[0], expected[0])
    assert (got[0][~mask] == 0).all()
    torch.testing.assert_close(got[1], expected[1])  # behaviours' gradient
    torch.testing.assert_close(got[2], expected[2])  # candidate's gradient
    for name, grad in expected[3].items():
        if grad is None:  # nothing real to score: no parameter took part
            assert got[3][name] is None or (got[3][name] == 0).all(), name
        else:
            torch.testing.assert_close(got[3][name], grad, msg=name)
    for name, buffer in expected[4].items():  # Dice's running statistics
        torch.testing.assert_close(got[4][name], buffer, msg=name)


@pytest.mark.parametrize("lengths", list(LENGTHS.values()), ids=list(LENGTHS))
@pytest.mark.parametrize("normalization", [None, "softmax"])
def test_pooling_equals_the_reference_sum_and_ignores_non_finite_padding(lengths, normalization):
    pooling = randomize_(AttentionPooling(DIM, (4,), "dice", normalization)).double().train()
    state = copy.deepcopy(pooling.state_dict())
    behaviors, candidate, lengths = inputs(lengths)
    mask = sequence_mask(lengths, MAX_LENGTH)
    scores = reference_scores(pooling.unit, behaviors, candidate, mask)
    if normalization == "softmax":
        empty = ~mask.any(dim=1, keepdim=True)
        scores = torch.softmax(scores.masked_fill(~mask & ~empty, float("-inf")), dim=1) * mask
    expected = (scores.unsqueeze(-1) * (behaviors * mask.unsqueeze(-1))).sum(dim=1)
    pooling.load_state_dict(state)
    with_nan = torch.where(mask.unsqueeze(-1), behaviors, torch.nan).requires_grad_()
    got = pooling(with_nan, candidate, lengths)
    torch.testing.assert_close(got, expected)
    got.sum().backward()
    assert torch.isfinite(with_nan.grad).all() and (with_nan.grad[~mask] == 0).all()
    assert all(torch.isfinite(p.grad).all() for p in pooling.parameters() if p.grad is not None)
