"""Layers and networks against brute-force definitions (float64, random inputs)."""

import pytest
import torch
from helpers import encoded_float64, randomize_, raw_frame
from references import looked_up_rows_squared, pairwise_interactions
from torch import nn

from sk_ctr.layers import MLP, FactorizationMachine, FieldEmbedding, LinearTerm
from sk_ctr.layers.dropout import Dropout
from sk_ctr.models import DeepFMNet, DNNNet, FactorizationMachineNet, LogisticRegressionNet

VOCAB_SIZES = [3, 5, 2]


def flattened_interactions(emb):
    """torchrec's variant: all entries of the flattened embeddings interact, across dimensions."""
    flat = emb.flatten(start_dim=1)
    return 0.5 * (flat.sum(dim=1).pow(2) - flat.pow(2).sum(dim=1))


def random_ids(vocab_sizes, batch_size, generator=None):
    columns = [torch.randint(0, v, (batch_size,), generator=generator) for v in vocab_sizes]
    return torch.stack(columns, dim=1)


def offsets_of(vocab_sizes):
    return [sum(vocab_sizes[:j]) for j in range(len(vocab_sizes))]


# --------------------------------------------------------------------------------------
# FactorizationMachine
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "batch_size, n_fields, embed_dim", [(5, 7, 3), (1, 2, 1), (4, 3, 16), (8, 12, 2)]
)
def test_fm_matches_pairwise_definition(batch_size, n_fields, embed_dim):
    emb = torch.randn(batch_size, n_fields, embed_dim, dtype=torch.float64)
    torch.testing.assert_close(FactorizationMachine()(emb), pairwise_interactions(emb))


@pytest.mark.parametrize("embed_dim", [1, 4])
def test_fm_of_a_single_field_is_zero(embed_dim):
    emb = torch.randn(6, 1, embed_dim, dtype=torch.float64)
    torch.testing.assert_close(FactorizationMachine()(emb), torch.zeros(6, dtype=torch.float64))


def test_fm_does_not_multiply_across_embedding_dimensions():
    # Orthogonal vectors do not interact; the flattened variant would give 1 here.
    emb = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]], dtype=torch.float64)
    assert flattened_interactions(emb).item() == pytest.approx(1.0)
    torch.testing.assert_close(FactorizationMachine()(emb), torch.zeros(1, dtype=torch.float64))


def test_fm_differs_from_flattened_variant_on_random_input():
    emb = torch.randn(4, 5, 3, dtype=torch.float64)
    fm = FactorizationMachine()(emb)
    assert not torch.allclose(fm, flattened_interactions(emb))
    torch.testing.assert_close(fm, pairwise_interactions(emb))


# --------------------------------------------------------------------------------------
# FieldEmbedding
# --------------------------------------------------------------------------------------


def make_embedding(vocab_sizes=VOCAB_SIZES, n_numeric=2, embed_dim=4):
    return FieldEmbedding(vocab_sizes, n_numeric, embed_dim, init_std=1.0).double()


def test_embedding_output_shape():
    emb = make_embedding(embed_dim=4)
    ids = random_ids(VOCAB_SIZES, 7)
    values = torch.randn(7, 2, dtype=torch.float64)
    assert emb(ids, values).shape == (7, len(VOCAB_SIZES) + 2, 4)


def test_embedding_looks_up_offset_plus_local_id_in_one_shared_table():
    emb = make_embedding()
    ids = random_ids(VOCAB_SIZES, 9)
    values = torch.randn(9, 2, dtype=torch.float64)
    out = emb(ids, values)
    table = emb.table.weight
    assert table.shape[0] == sum(VOCAB_SIZES)
    for j, offset in enumerate(offsets_of(VOCAB_SIZES)):
        torch.testing.assert_close(out[:, j], table[offset + ids[:, j]])


def test_embedding_scales_one_vector_per_numeric_field_by_its_value():
    emb = make_embedding(n_numeric=3)
    ids = random_ids(VOCAB_SIZES, 6)
    values = torch.randn(6, 3, dtype=torch.float64)
    out = emb(ids, values)
    n_cat = len(VOCAB_SIZES)
    for j in range(3):
        torch.testing.assert_close(out[:, n_cat + j], values[:, j, None] * emb.numeric[j])


def test_embedding_fields_use_disjoint_rows_and_id_zero_is_a_valid_row():
    emb = make_embedding(n_numeric=0)
    every_id = [torch.arange(v) for v in VOCAB_SIZES]
    rows_per_field = []
    for j, ids_of_field in enumerate(every_id):
        ids = torch.zeros(len(ids_of_field), len(VOCAB_SIZES), dtype=torch.long)
        ids[:, j] = ids_of_field
        out = emb(ids, torch.zeros(len(ids_of_field), 0, dtype=torch.float64))[:, j]
        rows = [int(torch.nonzero((emb.table.weight == row).all(dim=1))[0]) for row in out]
        rows_per_field.append(rows)
    offsets = offsets_of(VOCAB_SIZES)
    assert rows_per_field == [
        list(range(o, o + v)) for o, v in zip(offsets, VOCAB_SIZES, strict=True)
    ]


def test_embedding_without_categorical_fields():
    emb = FieldEmbedding([], 2, 3, init_std=1.0).double()
    values = torch.randn(4, 2, dtype=torch.float64)
    out = emb(torch.zeros(4, 0, dtype=torch.long), values)
    torch.testing.assert_close(out, values.unsqueeze(-1) * emb.numeric)


def test_embedding_squared_norm_is_sum_of_squares_of_looked_up_rows():
    emb = make_embedding(n_numeric=0)
    ids = random_ids(VOCAB_SIZES, 5)
    actual = emb.squared_norm(ids, torch.zeros(5, 0, dtype=torch.float64))
    expected = looked_up_rows_squared(emb.table.weight, ids, offsets_of(VOCAB_SIZES))
    torch.testing.assert_close(actual, expected)


def test_embedding_squared_norm_counts_numeric_vectors():
    # Values of +-1 keep this test neutral on whether the value scales the penalty.
    emb = make_embedding(n_numeric=2)
    ids = random_ids(VOCAB_SIZES, 5)
    values = torch.tensor([[1.0, -1.0]] * 5, dtype=torch.float64)
    rows = looked_up_rows_squared(emb.table.weight, ids, offsets_of(VOCAB_SIZES))
    expected = rows + emb.numeric.pow(2).sum()
    torch.testing.assert_close(emb.squared_norm(ids, values), expected)


# --------------------------------------------------------------------------------------
# LinearTerm
# --------------------------------------------------------------------------------------


def test_linear_term_is_sum_of_id_weights_plus_value_weights_plus_bias():
    linear = randomize_(LinearTerm(VOCAB_SIZES, 2).double())
    ids = random_ids(VOCAB_SIZES, 6)
    values = torch.randn(6, 2, dtype=torch.float64)
    weight_of_row = linear.weights.table.weight[:, 0]
    weight_of_value = linear.weights.numeric[:, 0]
    offsets = offsets_of(VOCAB_SIZES)
    expected = torch.stack(
        [
            sum(weight_of_row[offsets[j] + ids[b, j]] for j in range(3))
            + sum(values[b, j] * weight_of_value[j] for j in range(2))
            + linear.bias
            for b in range(6)
        ]
    )
    torch.testing.assert_close(linear(ids, values), expected)


def test_linear_term_starts_at_zero():
    linear = LinearTerm(VOCAB_SIZES, 2)
    out = linear(random_ids(VOCAB_SIZES, 3), torch.randn(3, 2))
    torch.testing.assert_close(out, torch.zeros(3))


# --------------------------------------------------------------------------------------
# MLP
# --------------------------------------------------------------------------------------


def test_mlp_matches_layer_by_layer_definition():
    mlp = MLP(6, (5, 4), activation="tanh").double()
    x = torch.randn(8, 6, dtype=torch.float64)
    hidden = [m for m in mlp.hidden if isinstance(m, nn.Linear)]
    a = x
    for layer in hidden:
        a = torch.tanh(a @ layer.weight.T + layer.bias)
    expected = (a @ mlp.output.weight.T + mlp.output.bias).squeeze(-1)
    torch.testing.assert_close(mlp(x), expected)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_mlp_in_place_activations_keep_outputs_gradients_and_input(activation, batch_norm):
    # The ReLUs overwrite the linear (or normalisation) layer's output: the forward, every
    # parameter's gradient and the caller's input must be those of the out-of-place formula.
    mlp = MLP(6, (5, 4), activation=activation, batch_norm=batch_norm).double()
    assert all(m.inplace for m in mlp.hidden if isinstance(m, nn.ReLU | nn.LeakyReLU))
    x = torch.randn(8, 6, dtype=torch.float64, requires_grad=True)
    kept = x.detach().clone()
    rectify = {"relu": torch.relu, "leaky_relu": nn.functional.leaky_relu}[activation]
    a = x
    for module in mlp.hidden:
        if isinstance(module, nn.Linear):
            a = a @ module.weight.T + module.bias
        elif isinstance(module, nn.BatchNorm1d):  # training mode: the batch's statistics
            mean, var = a.mean(0), a.var(0, unbiased=False)
            a = (a - mean) / torch.sqrt(var + module.eps) * module.weight + module.bias
        elif not isinstance(module, Dropout):
            a = rectify(a)
    expected = (a @ mlp.output.weight.T + mlp.output.bias).squeeze(-1)
    expected_grads = torch.autograd.grad(expected.sum(), [x, *mlp.parameters()])
    out = mlp(x)
    grads = torch.autograd.grad(out.sum(), [x, *mlp.parameters()])
    torch.testing.assert_close(out, expected)
    for grad, expected_grad in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, expected_grad)
    torch.testing.assert_close(x.detach(), kept, rtol=0, atol=0)


def test_mlp_output_shape_is_batch_size_even_for_one_sample():
    assert MLP(3, (4,))(torch.randn(1, 3)).shape == (1,)
    assert MLP(3, (4,))(torch.randn(5, 3)).shape == (5,)


def test_mlp_dropout_is_a_module_switched_off_by_eval():
    mlp = MLP(10, (64, 64), dropout=0.5).double()
    assert [m.p for m in mlp.modules() if isinstance(m, Dropout)] == [0.5, 0.5]
    x = torch.randn(16, 10, dtype=torch.float64)
    mlp.eval()
    first, second = mlp(x), mlp(x)
    torch.testing.assert_close(first, second)
    mlp.train()
    assert not torch.allclose(mlp(x), first)


def test_mlp_without_output_bias_has_none():
    mlp = MLP(4, (3,), output_bias=False)
    assert mlp.output.bias is None
    assert MLP(4, (), output_bias=False)(torch.zeros(2, 4)).abs().sum() == 0


@pytest.mark.parametrize("hidden_units", [(), (7,), (9, 5, 3)])
def test_mlp_hidden_layer_count_and_widths(hidden_units):
    mlp = MLP(11, hidden_units)
    linears = [m for m in mlp.hidden if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == list(
        zip((11, *hidden_units), hidden_units, strict=False)
    )
    assert mlp.output.in_features == (hidden_units[-1] if hidden_units else 11)
    assert mlp.output.out_features == 1


@pytest.mark.parametrize("batch_norm", [True, False])
def test_mlp_batch_norm_only_when_asked(batch_norm):
    mlp = MLP(4, (6, 3), batch_norm=batch_norm)
    norms = [m.num_features for m in mlp.modules() if isinstance(m, nn.BatchNorm1d)]
    assert norms == ([6, 3] if batch_norm else [])


@pytest.mark.parametrize(
    "name, module_type",
    [("relu", nn.ReLU), ("tanh", nn.Tanh), ("sigmoid", nn.Sigmoid), ("prelu", nn.PReLU)],
)
def test_mlp_accepts_every_activation_name(name, module_type):
    mlp = MLP(4, (3, 2), activation=name)
    assert sum(isinstance(m, module_type) for m in mlp.hidden) == 2
    out = mlp(torch.randn(5, 4))
    assert out.shape == (5,) and torch.isfinite(out).all()


def test_mlp_unknown_activation_raises_naming_it():
    with pytest.raises(ValueError, match="'rleu'"):
        MLP(4, (3,), activation="rleu")


# --------------------------------------------------------------------------------------
# Networks, built from a schema fitted by CTRTransformer
# --------------------------------------------------------------------------------------


def encoded_batch(numeric):
    """Fields and a float64 batch from a transformer fitted on a random frame."""
    return encoded_float64(raw_frame(), numeric=numeric, n_bins=4)


@pytest.fixture(params=["bucketize", "value"])
def batch(request):
    return encoded_batch(request.param)


def make_deepfm(fields):
    net = DeepFMNet(fields, embed_dim=4, hidden_units=(8, 6))
    return randomize_(net).double().eval()


def test_value_mode_schema_has_numeric_fields():
    fields, ids, values = encoded_batch("value")
    assert [f.kind for f in fields] == ["categorical"] * 2 + ["numeric"] * 2
    assert ids.shape == (40, 2) and values.shape == (40, 2)


def test_deepfm_is_linear_plus_fm_plus_mlp(batch):
    fields, ids, values = batch
    net = make_deepfm(fields)
    emb = net.embedding(ids, values)
    expected = (
        net.linear(ids, values) + pairwise_interactions(emb) + net.mlp(emb.reshape(len(ids), -1))
    )
    torch.testing.assert_close(net(ids, values), expected)


def test_deepfm_has_exactly_one_constant_term(batch):
    fields, _, _ = batch
    net = DeepFMNet(fields, embed_dim=4, hidden_units=(8, 6))
    scalar_biases = [n for n, p in net.named_parameters() if "bias" in n and p.dim() == 0]
    assert scalar_biases == ["linear.bias"]
    assert net.mlp.output.bias is None


def test_deepfm_shared_embedding_gets_gradient_from_fm_and_deep_parts(batch):
    fields, ids, values = batch
    net = make_deepfm(fields)
    table = net.embedding.table.weight

    emb = net.embedding(ids, values)
    (fm_grad,) = torch.autograd.grad(net.fm(emb).sum(), table)
    emb = net.embedding(ids, values)
    (deep_grad,) = torch.autograd.grad(net.mlp(emb.flatten(start_dim=1)).sum(), table)
    (total_grad,) = torch.autograd.grad(net(ids, values).sum(), table)

    assert fm_grad.abs().sum() > 0 and deep_grad.abs().sum() > 0
    torch.testing.assert_close(total_grad, fm_grad + deep_grad)


def test_fm_net_is_linear_plus_fm(batch):
    fields, ids, values = batch
    net = randomize_(FactorizationMachineNet(fields, embed_dim=3)).double()
    expected = net.linear(ids, values) + pairwise_interactions(net.embedding(ids, values))
    torch.testing.assert_close(net(ids, values), expected)


def test_logistic_regression_net_is_linear_term(batch):
    fields, ids, values = batch
    net = randomize_(LogisticRegressionNet(fields)).double()
    torch.testing.assert_close(net(ids, values), net.linear(ids, values))
    assert {n for n, _ in net.named_parameters()} == {
        "linear.weights.table.weight",
        "linear.weights.numeric",
        "linear.bias",
    }


def test_dnn_net_is_mlp_of_flattened_embeddings(batch):
    fields, ids, values = batch
    net = randomize_(DNNNet(fields, embed_dim=3, hidden_units=(5,))).double().eval()
    emb = net.embedding(ids, values)
    flat = torch.cat([emb[:, j] for j in range(emb.shape[1])], dim=1)
    torch.testing.assert_close(net(ids, values), net.mlp(flat))


def categorical_offsets(fields):
    return offsets_of([f.vocab_size for f in fields if f.kind == "categorical"])


@pytest.mark.parametrize(
    "make_net, embeddings",
    [
        (lambda f: DeepFMNet(f, embed_dim=4, hidden_units=(8,)), ["embedding", "linear.weights"]),
        (lambda f: FactorizationMachineNet(f, embed_dim=4), ["embedding", "linear.weights"]),
        (lambda f: DNNNet(f, embed_dim=4, hidden_units=(8,)), ["embedding"]),
        (LogisticRegressionNet, ["linear.weights"]),
    ],
)
def test_penalty_is_squared_norm_of_rows_used_in_every_field_embedding(make_net, embeddings):
    fields, ids, values = encoded_batch("bucketize")
    net = randomize_(make_net(fields)).double()
    offsets = categorical_offsets(fields)
    expected = sum(
        looked_up_rows_squared(net.get_submodule(name).table.weight, ids, offsets)
        for name in embeddings
    )
    torch.testing.assert_close(net.penalty(ids, values), expected)


def test_penalty_includes_numeric_vectors():
    fields, ids, _ = encoded_batch("value")
    # Values of +-1 keep this test neutral on whether the value scales the penalty.
    values = torch.ones(len(ids), 2, dtype=torch.float64)
    values[::2] = -1.0
    net = randomize_(DeepFMNet(fields, embed_dim=4, hidden_units=(8,))).double()
    offsets = categorical_offsets(fields)
    expected = sum(
        looked_up_rows_squared(m.table.weight, ids, offsets) + m.numeric.pow(2).sum()
        for m in (net.embedding, net.linear.weights)
    )
    torch.testing.assert_close(net.penalty(ids, values), expected)


def test_dropout_drops_a_share_p_and_rescales_only_in_training():
    torch.manual_seed(0)
    layer = Dropout(0.3)
    x = torch.ones(2000, 400, dtype=torch.float64, requires_grad=True)
    out = layer(x)
    dropped = (out == 0).double()
    assert abs(dropped.mean().item() - 0.3) < 0.005  # 800k Bernoulli(0.3) draws: std 0.0005
    # Each 64-bit word gives four consecutive draws; every one of the four lanes is uniform
    # (a word drawn over [0, 2^63) only would leave the fourth lane's sign bit at 0: never dropped).
    lanes = dropped.flatten().view(-1, 4).mean(dim=0)
    assert torch.all((lanes - 0.3).abs() < 0.01), lanes
    # The kept share is 1 - p rounded to 16 bits; scaling by its inverse keeps the expectation.
    dropped_levels = round(0.3 * 2**16)
    kept = out[out != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 2**16 / (2**16 - dropped_levels)))
    assert abs(kept[0].item() - 1 / 0.7) < 1e-5
    assert abs(out.mean().item() - 1.0) < 0.01
    # The backward multiplies by the same mask.
    out.sum().backward()
    torch.testing.assert_close(x.grad, out.detach())
    x = x.detach()
    assert layer.eval()(x) is x and Dropout(0.0)(x) is x
    with pytest.raises(ValueError, match="dropout must be in"):
        Dropout(1.0)


def test_dropout_masks_follow_torch_manual_seed_and_extreme_p_keeps_the_expectation():
    x = torch.ones(300, 7)
    torch.manual_seed(3)
    first = Dropout(0.5)(x)
    torch.manual_seed(3)
    assert torch.equal(Dropout(0.5)(x), first)
    assert not torch.equal(Dropout(0.5)(x), first)
    # p close to 1: at least one level of 2^16 is kept, and kept elements carry its inverse.
    out = Dropout(1 - 1e-9)(torch.ones(2**18))
    assert set(out.unique().tolist()) <= {0.0, 2.0**16}


def test_dropout_off_cpu_uses_the_native_kernel():
    # The 16-bit CPU mask is drawn on the CPU; any other device takes F.dropout (fused on GPUs).
    # "meta" stands in for a GPU here: a CPU mask times a meta tensor would raise.
    out = Dropout(0.5)(torch.ones(4, 3, device="meta"))
    assert out.device.type == "meta" and out.shape == (4, 3)
