"""DIEN's layers against brute-force float64 definitions: the attentional GRU cells (eq. 8-10),
the attention of eq. 7, the auxiliary loss of eq. 6, and the masks of the interest extractor
and evolving layers."""

import pytest
import torch
from helpers import randomize_
from references import (
    attentional_gru_by_definition,
    auxiliary_loss_by_definition,
    interest_attention_by_definition,
)

from sk_ctr.layers.interest_evolution import (
    AttentionalGRUCell,
    InterestEvolution,
    auxiliary_loss,
)

MODES = ["augru", "agru", "aigru"]


def cell_gates(cell):
    """The matrices and biases of eq. 1-3 inside the cell's packed linear maps."""
    names = ["r", "h"] if cell.mode == "agru" else ["u", "r", "h"]
    W = cell.input_map.weight.chunk(len(names))
    b = cell.input_map.bias.chunk(len(names))
    U = cell.hidden_map.weight.chunk(len(names))
    gates = {}
    for name, w, bias, u in zip(names, W, b, U, strict=True):
        gates.update({f"W_{name}": w, f"b_{name}": bias, f"U_{name}": u})
    return gates


def random_history(lengths, max_length, dim, seed=0):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    behaviors = torch.randn(len(lengths), max_length, dim, dtype=torch.float64, generator=generator)
    return behaviors, lengths


def scramble_padding(tensor, lengths):
    out = tensor.clone()
    for row, length in enumerate(lengths.tolist()):
        out[row, length:] = torch.randn_like(out[row, length:]) * 1e3
    return out


def run_cell(cell, inputs, attention, lengths):
    """The cell's forward over time, a row frozen after its last real step."""
    hidden = inputs.new_zeros(inputs.shape[0], cell.hidden_map.in_features)
    for t in range(inputs.shape[1]):
        step = cell(inputs[:, t], hidden, attention[:, t])
        hidden = torch.where((t < lengths).unsqueeze(-1), step, hidden)
    return hidden


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "lengths, max_length, input_dim, hidden_dim",
    [([3, 0, 5, 1], 5, 4, 3), ([2], 2, 1, 1), ([1, 4, 4], 4, 3, 6)],
)
def test_attentional_gru_cells_match_the_equations_by_loop(
    mode, lengths, max_length, input_dim, hidden_dim
):
    cell = randomize_(AttentionalGRUCell(input_dim, hidden_dim, mode)).double()
    inputs, lengths = random_history(lengths, max_length, input_dim)
    attention = torch.rand(len(lengths), max_length, dtype=torch.float64)
    expected = attentional_gru_by_definition(inputs, attention, lengths, cell_gates(cell), mode)
    torch.testing.assert_close(run_cell(cell, inputs, attention, lengths), expected)
    # the evolving layer's path: all input terms projected at once, then step by step
    projected = cell.project(inputs, attention)
    hidden = inputs.new_zeros(len(lengths), hidden_dim)
    for t in range(max_length):
        step = cell.step(projected[:, t], hidden, attention[:, t])
        hidden = torch.where((t < lengths).unsqueeze(-1), step, hidden)
    torch.testing.assert_close(hidden, expected)


def test_attention_drives_each_cell_as_its_equation_says():
    inputs, lengths = random_history([4, 4], 4, 3)
    hidden = torch.randn(2, 3, dtype=torch.float64)
    zero, one = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    augru = randomize_(AttentionalGRUCell(3, 3, "augru")).double()
    agru = randomize_(AttentionalGRUCell(3, 3, "agru")).double()
    # a_t = 0: AUGRU's and AGRU's update is 0, the state stays (an unrelated behaviour)
    torch.testing.assert_close(augru(inputs[:, 0], hidden, zero), hidden)
    torch.testing.assert_close(agru(inputs[:, 0], hidden, zero), hidden)
    # AIGRU with a_t = 0 sees a zero input, not a skipped step
    aigru = randomize_(AttentionalGRUCell(3, 3, "aigru")).double()
    torch.testing.assert_close(
        aigru(inputs[:, 0], hidden, zero), aigru(torch.zeros_like(inputs[:, 0]), hidden, one)
    )


@pytest.mark.parametrize("mode, n_maps", [("augru", 3), ("agru", 2), ("aigru", 3)])
def test_cell_parameter_count(mode, n_maps):
    cell = AttentionalGRUCell(5, 7, mode)
    # W (input x hidden) and b per map, U (hidden x hidden) per map; AGRU has no update gate
    assert sum(p.numel() for p in cell.parameters()) == n_maps * (5 * 7 + 7 + 7 * 7)


def test_unknown_mode_is_named():
    with pytest.raises(ValueError, match="'lstm'"):
        AttentionalGRUCell(3, 3, "lstm")
    with pytest.raises(ValueError, match="'lstm'"):
        InterestEvolution(3, "lstm")


def extractor_states_by_sample(layer, behaviors, lengths):
    """h_t of the interest extractor from each row's real items alone (no padding at all)."""
    states = torch.zeros_like(behaviors)
    for b, length in enumerate(lengths.tolist()):
        if length:
            out, _ = layer.extractor(behaviors[b : b + 1, :length])
            states[b, :length] = out[0]
    return states


@pytest.mark.parametrize("mode", MODES)
def test_interest_evolution_composes_extractor_attention_and_evolving_gru(mode):
    layer = randomize_(InterestEvolution(4, mode)).double()
    behaviors, lengths = random_history([3, 0, 6, 1, 2], 6, 4)
    candidate = torch.randn(5, 4, dtype=torch.float64)
    with torch.no_grad():
        states = extractor_states_by_sample(layer, behaviors, lengths)
    torch.testing.assert_close(layer.interests(behaviors, lengths), states)
    W = layer.attention.weight.detach()
    attention = interest_attention_by_definition(states, candidate, W, lengths)
    torch.testing.assert_close(layer.weights(behaviors, candidate, lengths), attention)
    gates = cell_gates(layer.evolution)
    expected = attentional_gru_by_definition(states, attention, lengths, gates, mode)
    torch.testing.assert_close(layer(behaviors, candidate, lengths), expected)


@pytest.mark.parametrize("mode", MODES)
def test_padding_never_changes_outputs_weights_or_auxiliary_loss(mode):
    layer = randomize_(InterestEvolution(3, mode)).double()
    behaviors, lengths = random_history([2, 0, 5, 3], 5, 3)
    negatives, _ = random_history([2, 0, 5, 3], 5, 3, seed=1)
    candidate = torch.randn(4, 3, dtype=torch.float64)
    scrambled = scramble_padding(behaviors, lengths)
    torch.testing.assert_close(
        layer(scrambled, candidate, lengths), layer(behaviors, candidate, lengths)
    )
    weights = layer.weights(scrambled, candidate, lengths)
    torch.testing.assert_close(weights, layer.weights(behaviors, candidate, lengths))
    assert (weights[1] == 0).all() and (weights[0, 2:] == 0).all()
    torch.testing.assert_close(weights.sum(dim=1), torch.tensor([1.0, 0, 1, 1]).double())
    torch.testing.assert_close(
        layer.auxiliary_loss(scrambled, scramble_padding(negatives, lengths), lengths),
        layer.auxiliary_loss(behaviors, negatives, lengths),
    )


@pytest.mark.parametrize("mode", MODES)
def test_empty_histories_give_zero_interest_and_finite_gradients(mode):
    layer = randomize_(InterestEvolution(3, mode)).double()
    behaviors = torch.randn(3, 4, 3, dtype=torch.float64, requires_grad=True)
    candidate = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([0, 0, 0])
    interest = layer(behaviors, candidate, lengths)
    torch.testing.assert_close(interest, torch.zeros(3, 3, dtype=torch.float64))
    assert (layer.weights(behaviors, candidate, lengths) == 0).all()
    loss = layer.auxiliary_loss(behaviors, torch.randn(3, 4, 3).double(), lengths)
    assert loss.item() == 0
    (interest.sum() + loss + 1).backward()
    assert (behaviors.grad == 0).all()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters() if p.grad is not None)


def test_some_empty_rows_keep_gradients_finite():
    layer = randomize_(InterestEvolution(3)).double()
    behaviors = torch.randn(3, 4, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([0, 2, 4])
    output = layer(behaviors, torch.randn(3, 3).double(), lengths)
    loss = output.pow(2).sum() + layer.auxiliary_loss(
        behaviors, torch.randn(3, 4, 3).double(), lengths
    )
    loss.backward()
    assert torch.isfinite(behaviors.grad).all()
    assert (behaviors.grad[0] == 0).all() and (behaviors.grad[1, 2:] == 0).all()
    assert (behaviors.grad[2] != 0).any()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())


@pytest.mark.parametrize("lengths", [[3, 0, 6, 1, 2], [6], [1, 1], [2, 5]])
def test_auxiliary_loss_matches_eq_6_by_loop(lengths):
    behaviors, _ = random_history(lengths, max(lengths), 4, seed=2)
    negatives, _ = random_history(lengths, max(lengths), 4, seed=3)
    states, lengths = random_history(lengths, max(lengths), 4, seed=1)
    expected = auxiliary_loss_by_definition(states, behaviors, negatives, lengths)
    loss = auxiliary_loss(states, behaviors, negatives, lengths)
    torch.testing.assert_close(loss, torch.tensor(expected, dtype=torch.float64))


def test_auxiliary_loss_rewards_states_that_predict_the_next_behaviour():
    behaviors, lengths = random_history([5, 5], 5, 6)
    negatives, _ = random_history([5, 5], 5, 6, seed=2)
    aligned = torch.roll(behaviors, -1, dims=1)  # h_t = e_{t+1}
    assert auxiliary_loss(aligned, behaviors, negatives, lengths) < auxiliary_loss(
        -aligned, behaviors, negatives, lengths
    )
