"""DCN, Wide & Deep (LR & DNN, FM & DNN) and FNN: layers against brute force, networks, the
cross-product transformer, FNN's pre-training, and the estimators as scikit-learn users meet
them."""

import inspect
import itertools
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import encoded_float64, randomize_
from references import (
    cross_network_by_definition,
    looked_up_rows_squared,
    pairwise_interactions,
)
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback

from sk_ctr import CTRTransformer, ParquetSource
from sk_ctr.datasets import make_ctr_classification
from sk_ctr.estimators.dcn import DCNClassifier
from sk_ctr.estimators.fnn import FNNClassifier
from sk_ctr.estimators.models import FMClassifier, LRClassifier
from sk_ctr.estimators.widedeep import WideDeepClassifier
from sk_ctr.layers.cross import CrossNetwork
from sk_ctr.models.dcn import DCNNet
from sk_ctr.models.fnn import FNNNet
from sk_ctr.models.widedeep import WideDeepNet
from sk_ctr.preprocessing.crosses import CrossProductFeatures

ESTIMATORS = [DCNClassifier, WideDeepClassifier, FNNClassifier]


def raw_frame(n_samples=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "site": rng.choice(["a", "b", "c", "d"], n_samples),
            "device": rng.choice(["phone", "tablet", "pc"], n_samples),
            "hour": rng.choice(["morning", "evening"], n_samples),
            "price": rng.normal(size=n_samples),
        }
    )


def encoded_batch(numeric="value", crosses=(("site", "device"),)):
    """Fields and a float64 batch of a frame with crosses, encoded by CTRTransformer."""
    frame = CrossProductFeatures(list(crosses), n_buckets=1000).fit_transform(raw_frame())
    return encoded_float64(frame, numeric=numeric, n_bins=4)


def categorical_names(fields):
    return [f.name for f in fields if f.kind == "categorical"]


def numeric_names(fields):
    return [f.name for f in fields if f.kind == "numeric"]


# ======================================================================================
# CrossNetwork
# ======================================================================================


@pytest.mark.parametrize("batch_size, dim, n_layers", [(5, 7, 3), (1, 1, 1), (4, 12, 6), (3, 4, 0)])
def test_cross_network_matches_outer_product_definition(batch_size, dim, n_layers):
    cross = randomize_(CrossNetwork(dim, n_layers)).double()
    x0 = torch.randn(batch_size, dim, dtype=torch.float64)
    expected = cross_network_by_definition(x0, cross.weights, cross.biases)
    torch.testing.assert_close(cross(x0), expected)


def test_cross_network_layer_l_is_a_polynomial_of_degree_l_plus_one():
    # Without biases every entry of x_L is a sum of monomials of degree 1..L+1 in x_0, so
    # scaling x_0 by t gives a polynomial in t of exactly that degree.
    cross = randomize_(CrossNetwork(3, 2)).double()
    with torch.no_grad():
        cross.biases.zero_()
    x0 = torch.randn(1, 3, dtype=torch.float64)
    t = torch.arange(1.0, 6.0, dtype=torch.float64)
    outputs = torch.stack([cross(x0 * s)[0, 0] for s in t])
    coefficients = np.polyfit(t.numpy(), outputs.detach().numpy(), deg=4)  # t^4 ... t^0
    assert abs(coefficients[0]) < 1e-8 and abs(coefficients[-1]) < 1e-8
    assert abs(coefficients[1]) > 1e-6  # degree 3 = L + 1


def test_cross_network_parameters_are_one_w_and_one_b_per_layer():
    cross = CrossNetwork(10, 4)
    assert cross.weights.shape == (4, 10) and cross.biases.shape == (4, 10)
    assert sum(p.numel() for p in cross.parameters()) == 2 * 10 * 4
    assert torch.equal(cross.biases, torch.zeros(4, 10))


# ======================================================================================
# DCNNet
# ======================================================================================


def test_dcn_logit_is_one_linear_unit_on_cross_and_deep_outputs():
    fields, ids, values = encoded_batch()
    net = randomize_(DCNNet(fields, embed_dim=3, n_cross_layers=2, hidden_units=(5, 4)))
    net = net.double().eval()
    embeddings = net.embedding(ids, values)
    x0 = torch.cat([embeddings[:, j] for j in range(embeddings.shape[1])], dim=1)
    combined = torch.cat(
        [cross_network_by_definition(x0, net.cross.weights, net.cross.biases), net.mlp.hidden(x0)],
        dim=1,
    )
    w_logits = torch.cat([net.cross_output.weight, net.mlp.output.weight], dim=1)
    expected = (combined @ w_logits.T).squeeze(-1) + net.cross_output.bias
    torch.testing.assert_close(net(ids, values), expected)


def test_dcn_has_exactly_one_bias_and_stacks_every_field():
    fields, ids, values = encoded_batch()
    net = DCNNet(fields, embed_dim=3, n_cross_layers=2, hidden_units=(5,))
    assert net.cross.output_dim == len(fields) * 3
    assert net.cross_output.bias.shape == (1,) and net.mlp.output.bias is None
    assert net(ids.long(), values.float()).shape == (len(ids),)


def test_dcn_without_cross_layers_or_hidden_layers_is_linear_in_the_embeddings():
    fields, ids, values = encoded_batch()
    net = randomize_(DCNNet(fields, embed_dim=2, n_cross_layers=0, hidden_units=())).double()
    x0 = net.embedding(ids, values).flatten(start_dim=1)
    expected = x0 @ (net.cross_output.weight + net.mlp.output.weight).T + net.cross_output.bias
    torch.testing.assert_close(net(ids, values), expected.squeeze(-1))


# ======================================================================================
# CrossProductFeatures
# ======================================================================================


def test_crosses_are_added_as_named_int64_columns_and_x_is_untouched():
    X = raw_frame()
    before = X.copy()
    out = CrossProductFeatures([("site", "device"), ("site", "device", "hour")], n_buckets=97)
    out = out.fit_transform(X)
    pd.testing.assert_frame_equal(X, before)
    assert list(out.columns) == [*X.columns, "site_x_device", "site_x_device_x_hour"]
    pd.testing.assert_frame_equal(out[list(X.columns)], X)
    for name in ("site_x_device", "site_x_device_x_hour"):
        assert isinstance(out[name].dtype, pd.CategoricalDtype)  # ids, whatever their counts
        assert out[name].astype(np.int64).between(0, 96).all()


def test_crosses_are_deterministic_across_instances_frames_and_row_order():
    X = raw_frame(200)
    first = CrossProductFeatures([("site", "device")]).fit_transform(X)["site_x_device"]
    shuffled = X.sample(frac=1.0, random_state=1)
    second = CrossProductFeatures([("site", "device")]).fit(X.head(3)).transform(shuffled)
    pd.testing.assert_series_equal(second["site_x_device"].loc[X.index], first)


def test_same_value_pair_same_bucket_and_different_pairs_different_buckets():
    X = raw_frame(300)
    out = CrossProductFeatures([("site", "device")]).fit_transform(X)
    buckets_per_pair = out.groupby(["site", "device"])["site_x_device"].nunique()
    assert (buckets_per_pair == 1).all()
    assert len(buckets_per_pair) == out["site_x_device"].nunique() == 12  # 4 sites x 3 devices


def test_crosses_spread_many_pairs_over_the_buckets():
    values = [f"v{i}" for i in range(50)]
    grid = pd.DataFrame(list(itertools.product(values, values)), columns=["a", "b"])
    many = CrossProductFeatures([("a", "b")]).fit_transform(grid)["a_x_b"]
    assert many.nunique() >= 2490  # of 2,500 pairs; about 3 collisions expected in 2**20
    few = CrossProductFeatures([("a", "b")], n_buckets=64).fit_transform(grid)["a_x_b"]
    counts = np.bincount(few, minlength=64)
    assert counts.min() > 15 and counts.max() < 70  # 39 per bucket on average


def test_cross_tells_which_column_holds_which_value():
    X = pd.DataFrame({"a": ["u", "v"], "b": ["v", "u"]})
    out = CrossProductFeatures([("a", "b")]).fit_transform(X)
    assert out["a_x_b"][0] != out["a_x_b"][1]


def test_integer_column_arriving_as_float_gives_the_same_buckets():
    X = pd.DataFrame({"a": ["u", "v", "w"], "n": [1, 2, 3]})
    crosses = CrossProductFeatures([("a", "n")]).fit(X)
    as_float = X.assign(n=[1.0, 2.0, 3.0])
    np.testing.assert_array_equal(
        crosses.transform(X)["a_x_n"], crosses.transform(as_float)["a_x_n"]
    )


def test_missing_values_and_categorical_dtype_hash_like_the_same_strings():
    X = pd.DataFrame({"a": ["u", None, "u"], "b": ["x", "y", "x"]})
    crosses = CrossProductFeatures([("a", "b")]).fit(X)
    plain = crosses.transform(X)["a_x_b"]
    as_category = crosses.transform(X.astype("category"))["a_x_b"]
    np.testing.assert_array_equal(plain, as_category)
    assert plain[0] == plain[2] != plain[1]


def test_cross_columns_become_categorical_fields_of_ctr_transformer():
    out = CrossProductFeatures([("site", "price")]).fit_transform(raw_frame())
    fields = CTRTransformer(numeric="value").fit(out).fields_
    kinds = {f.name: (f.kind, f.source) for f in fields}
    assert kinds["site_x_price"] == ("categorical", "categorical")
    assert kinds["price"] == ("numeric", "numeric")


def test_missing_cross_columns_are_named():
    X = raw_frame()
    with pytest.raises(ValueError, match=r"not in X: \['nope', 'zzz'\]"):
        CrossProductFeatures([("site", "nope"), ("zzz", "device")]).fit(X)
    crosses = CrossProductFeatures([("site", "device")]).fit(X)
    with pytest.raises(ValueError, match=r"not in X: \['device'\]"):
        crosses.transform(X.drop(columns="device"))


@pytest.mark.parametrize(
    "cross_features, message",
    [
        ([("site",)], "two or more column names"),
        (["site"], "two or more column names"),
        ([("site", "device"), ("site", "device")], "same cross twice"),
    ],
)
def test_bad_crosses_are_rejected(cross_features, message):
    with pytest.raises(ValueError, match=message):
        CrossProductFeatures(cross_features).fit(raw_frame())


def test_crosses_need_a_dataframe_and_no_clashing_names():
    with pytest.raises(TypeError, match="DataFrame"):
        CrossProductFeatures([("a", "b")]).fit(np.zeros((3, 2)))
    X = raw_frame().assign(site_x_device=1)
    with pytest.raises(ValueError, match="already has columns"):
        CrossProductFeatures([("site", "device")]).fit(X)


def test_crosses_feature_names_out():
    crosses = CrossProductFeatures([("site", "hour")]).fit(raw_frame())
    assert list(crosses.get_feature_names_out()) == [
        "site",
        "device",
        "hour",
        "price",
        "site_x_hour",
    ]


# ======================================================================================
# WideDeepNet
# ======================================================================================


def make_widedeep(fields, **params):
    params = {"embed_dim": 3, "hidden_units": (6, 4), **params}
    return randomize_(WideDeepNet(fields, **params)).double().eval()


def deep_columns(fields, ids, values, wide_only=("site_x_device",)):
    """The deep part's inputs, selected by field name."""
    cat, num = categorical_names(fields), numeric_names(fields)
    keep_cat = [j for j, name in enumerate(cat) if name not in wide_only]
    keep_num = [j for j, name in enumerate(num) if name not in wide_only]
    return ids[:, keep_cat], values[:, keep_num]


@pytest.mark.parametrize("wide", ["lr", "fm"])
def test_widedeep_is_wide_plus_mlp_on_the_raw_fields(wide):
    fields, ids, values = encoded_batch()
    assert "site_x_device" in categorical_names(fields)
    net = make_widedeep(fields, wide=wide)
    deep_ids, deep_values = deep_columns(fields, ids, values)
    deep = net.mlp(net.deep_embedding(deep_ids, deep_values).flatten(start_dim=1))
    wide_logit = net.linear(ids, values)
    if wide == "fm":
        wide_logit = wide_logit + pairwise_interactions(net.wide_embedding(ids, values))
    torch.testing.assert_close(net(ids, values), wide_logit + deep)
    torch.testing.assert_close(net.wide_logit(ids, values), wide_logit)
    torch.testing.assert_close(net.deep_logit(ids, values), deep)


def test_widedeep_fm_adds_the_fm_term_of_its_own_embedding():
    fields, ids, values = encoded_batch()
    lr_net = make_widedeep(fields, wide="lr")
    fm_net = make_widedeep(fields, wide="fm")
    assert lr_net.fm is None and lr_net.wide_embedding is None
    fm_net.load_state_dict(lr_net.state_dict(), strict=False)  # same linear and deep weights
    difference = fm_net(ids, values) - lr_net(ids, values)
    expected = pairwise_interactions(fm_net.wide_embedding(ids, values))
    torch.testing.assert_close(difference, expected)


@pytest.mark.parametrize("wide", ["lr", "fm"])
def test_widedeep_wide_and_deep_tables_are_separate(wide):
    fields, ids, values = encoded_batch()
    net = make_widedeep(fields, wide=wide)
    wide_tables = [net.linear.weights.table.weight, net.linear.weights.numeric]
    if wide == "fm":
        wide_tables += [net.wide_embedding.table.weight, net.wide_embedding.numeric]
    deep_tables = [net.deep_embedding.table.weight, net.deep_embedding.numeric]
    assert not {id(t) for t in wide_tables} & {id(t) for t in deep_tables}

    deep_grads = torch.autograd.grad(
        net.deep_logit(ids, values).sum(), wide_tables + deep_tables, allow_unused=True
    )
    assert all(g is None for g in deep_grads[: len(wide_tables)])
    assert deep_grads[len(wide_tables)].abs().sum() > 0

    wide_grads = torch.autograd.grad(
        net.wide_logit(ids, values).sum(), wide_tables + deep_tables, allow_unused=True
    )
    assert all(g is None for g in wide_grads[len(wide_tables) :])
    assert all(g.abs().sum() > 0 for g in wide_grads[: len(wide_tables)])


def test_widedeep_cross_fields_reach_only_the_wide_part():
    fields, ids, values = encoded_batch()
    net = make_widedeep(fields, wide="fm")
    cross = categorical_names(fields).index("site_x_device")
    assert fields[cross].cross_of == ("site", "device")
    raw_vocab = [f.vocab_size for f in fields if f.kind == "categorical" and f.cross_of is None]
    assert net.deep_embedding.table.num_embeddings == sum(raw_vocab)
    assert net.mlp.hidden[0].in_features == (len(fields) - 1) * 3
    changed = ids.clone()
    changed[:, cross] = (ids[:, cross] + 1) % fields[cross].vocab_size
    torch.testing.assert_close(net.deep_logit(changed, values), net.deep_logit(ids, values))
    assert not torch.allclose(net.wide_logit(changed, values), net.wide_logit(ids, values))


def test_widedeep_wide_fields_overrides_the_cross_marks():
    fields, ids, values = encoded_batch(numeric="value")
    wide_only = ("hour", "price")
    net = make_widedeep(fields, wide_fields=list(wide_only))
    deep_ids, deep_values = deep_columns(fields, ids, values, wide_only)
    assert deep_values.shape[1] == 0 and "site_x_device" not in wide_only
    expected = net.mlp(net.deep_embedding(deep_ids, deep_values).flatten(start_dim=1))
    torch.testing.assert_close(net.deep_logit(ids, values), expected)


def test_widedeep_a_column_named_like_a_cross_stays_in_the_deep_part():
    """Wide-only is the schema's cross mark, not the "_x_" in a name: a user's own column
    ``box_x_size`` reaches the deep part; a real cross of it does not."""
    frame = raw_frame().assign(box_x_size=lambda f: np.where(f["price"] > 0, "big", "small"))
    plain = CTRTransformer(numeric="value").fit(frame).fields_
    assert next(f for f in plain if f.name == "box_x_size").cross_of is None
    net = WideDeepNet(plain, embed_dim=3, hidden_units=(4,))
    assert net.deep_categorical.tolist() == list(range(len(categorical_names(plain))))
    assert net.mlp.hidden[0].in_features == len(plain) * 3

    crossed = CrossProductFeatures([("site", "box_x_size")], n_buckets=97).fit_transform(frame)
    fields = CTRTransformer(numeric="value").fit(crossed).fields_
    names = categorical_names(fields)
    assert names[-1] == "site_x_box_x_size"
    assert fields[len(names) - 1].cross_of == ("site", "box_x_size")
    net = WideDeepNet(fields, embed_dim=3, hidden_units=(4,))
    assert net.deep_categorical.tolist() == [names.index(n) for n in names[:-1]]
    assert net.mlp.hidden[0].in_features == (len(fields) - 1) * 3


def test_widedeep_estimator_keeps_a_column_named_like_a_cross_in_the_deep_part(small_ctr_data):
    X, y = small_ctr_data
    X = X.rename(columns={"C3": "box_x_size"})
    est = small(WideDeepClassifier, cross_features=[("C1", "C2")]).fit(X, y)
    deep = [est.schema_[j].name for j in est.module_.deep_categorical.tolist()]
    assert "box_x_size" in deep and "C1_x_C2" not in deep
    assert [f.name for f in est.schema_ if f.cross_of] == ["C1_x_C2"]
    # Pickled crosses keep their mark; and wide_fields still chooses by name.
    assert pickle.loads(pickle.dumps(est)).schema_ == est.schema_
    chosen = small(WideDeepClassifier, wide_fields=["box_x_size"]).fit(X, y)
    deep = [chosen.schema_[j].name for j in chosen.module_.deep_categorical.tolist()]
    assert "box_x_size" not in deep and len(deep) == len(chosen.schema_) - 1


def test_cross_marks_survive_chained_cross_steps_partial_fit_and_parquet(tmp_path):
    frame = raw_frame()
    first = CrossProductFeatures([("site", "device")]).fit_transform(frame)
    both = CrossProductFeatures([("hour", "device")]).fit_transform(first)
    expected = {"site_x_device": ("site", "device"), "hour_x_device": ("hour", "device")}
    marked = {f.name: f.cross_of for f in CTRTransformer().fit(both).fields_ if f.cross_of}
    assert marked == expected
    chunked = CTRTransformer().partial_fit(both[:20]).partial_fit(both[20:])
    assert {f.name: f.cross_of for f in chunked.fields_ if f.cross_of} == expected
    # A crossed frame saved to Parquet and streamed back chunk by chunk keeps its marks.
    both.to_parquet(tmp_path / "crossed.parquet")
    streamed = CTRTransformer()
    for chunk in ParquetSource(tmp_path / "crossed.parquet", batch_rows=15).iter_frames():
        streamed.partial_fit(chunk)
    assert {f.name: f.cross_of for f in streamed.fields_ if f.cross_of} == expected
    # Dropping a cross drops its mark; a frame without the mark has no cross.
    kept = CTRTransformer().fit(both.drop(columns="site_x_device")).fields_
    assert [f.name for f in kept if f.cross_of] == ["hour_x_device"]
    unmarked = both.copy()
    unmarked.attrs = {}
    assert not any(f.cross_of for f in CTRTransformer().fit(unmarked).fields_)


def test_widedeep_rejects_unknown_or_all_wide_fields():
    fields, _, _ = encoded_batch()
    with pytest.raises(ValueError, match=r"not in the data: \['nope'\]"):
        WideDeepNet(fields, wide_fields=["nope"])
    with pytest.raises(ValueError, match="deep part needs at least one field"):
        WideDeepNet(fields, wide_fields=[f.name for f in fields])
    with pytest.raises(ValueError, match="Unknown wide part 'ffm'"):
        WideDeepNet(fields, wide="ffm")


@pytest.mark.parametrize("wide", ["lr", "fm"])
def test_widedeep_has_exactly_one_bias(wide):
    fields, _, _ = encoded_batch()
    net = WideDeepNet(fields, wide=wide, embed_dim=3, hidden_units=(4,))
    scalar_biases = [n for n, p in net.named_parameters() if "bias" in n and p.dim() == 0]
    assert scalar_biases == ["linear.bias"]
    assert net.mlp.output.bias is None


def test_widedeep_penalty_covers_every_table_with_its_own_columns():
    fields, ids, _ = encoded_batch(numeric="bucketize")
    values = torch.zeros(len(ids), 0, dtype=torch.float64)
    net = make_widedeep(fields, wide="fm")
    vocab = [f.vocab_size for f in fields if f.kind == "categorical"]
    offsets = [sum(vocab[:j]) for j in range(len(vocab))]
    deep_ids, _ = deep_columns(fields, ids, values)
    deep_vocab = [f.vocab_size for f in fields if f.cross_of is None]
    deep_offsets = [sum(deep_vocab[:j]) for j in range(len(deep_vocab))]
    expected = (
        looked_up_rows_squared(net.linear.weights.table.weight, ids, offsets)
        + looked_up_rows_squared(net.wide_embedding.table.weight, ids, offsets)
        + looked_up_rows_squared(net.deep_embedding.table.weight, deep_ids, deep_offsets)
    )
    torch.testing.assert_close(net.penalty(ids, values), expected)


# ======================================================================================
# FNNNet and FNN's pre-training
# ======================================================================================


def test_fnn_net_is_an_mlp_on_k_plus_one_vectors_with_one_bias():
    fields, ids, values = encoded_batch()
    net = randomize_(FNNNet(fields, embed_dim=3, hidden_units=(5,))).double().eval()
    assert net.embedding.embed_dim == 4
    emb = net.embedding(ids, values)
    flat = torch.cat([emb[:, j] for j in range(emb.shape[1])], dim=1)
    torch.testing.assert_close(net(ids, values), net.mlp(flat))
    biases = [n for n, p in net.named_parameters() if n.endswith("bias") and "hidden" not in n]
    assert biases == ["mlp.output.bias"]


class TableAtTrainBegin(Callback):
    """Copies the embedding table when training starts, i.e. right after pre-training."""

    def on_train_begin(self, net, **kwargs):
        embedding = net.module_.embedding
        self.table = embedding.table.weight.detach().clone()
        self.numeric = embedding.numeric.detach().clone()


def small(cls, **params):
    """A configuration of ``cls`` that trains in well under a second on 1,000 rows."""
    defaults = {
        "max_epochs": 3,
        "batch_size": 128,
        "lr": 1e-2,
        "random_state": 0,
        "embed_dim": 4,
        "hidden_units": (16,),
        "dropout": 0.0,
        "n_threads": 1,
    }
    if cls is FNNClassifier:
        defaults["pretrain_epochs"] = 2
    return cls(**{**defaults, **params})


def test_fnn_table_starts_training_as_the_pretrained_fm_w_and_v(small_ctr_data):
    X, y = small_ctr_data
    snapshot = TableAtTrainBegin()
    est = small(
        FNNClassifier,
        preprocessor=CTRTransformer(numeric="value"),
        callbacks=[("snapshot", snapshot)],
    ).fit(X, y)
    fm = est.pretrained_fm_.module_
    assert len(est.pretrained_fm_.history) == 2  # pretrain_epochs
    assert len(est.schema_) == 6 and snapshot.numeric.shape == (2, 5)
    torch.testing.assert_close(snapshot.table[:, 0], fm.linear.weights.table.weight[:, 0])
    torch.testing.assert_close(snapshot.table[:, 1:], fm.embedding.table.weight)
    torch.testing.assert_close(snapshot.numeric[:, 0], fm.linear.weights.numeric[:, 0])
    torch.testing.assert_close(snapshot.numeric[:, 1:], fm.embedding.numeric)
    assert fm.linear.weights.table.weight.abs().sum() > 0  # the FM did train
    assert not torch.equal(est.module_.embedding.table.weight, snapshot.table)  # so did FNN


def test_fnn_pretrains_on_the_rows_early_stopping_trains_on(small_ctr_data):
    X, y = small_ctr_data
    est = small(FNNClassifier, early_stopping=True, max_epochs=1).fit(X, y)
    fm_rows = sum(est.pretrained_fm_.history[0, "batches", :, "train_batch_size"])
    fnn_rows = sum(est.history[0, "batches", :, "train_batch_size"])
    assert fm_rows == fnn_rows == 900  # validation_fraction=0.1 of 1,000 rows held out


def test_fnn_passes_every_parameter_an_fm_has_to_its_fm_stage():
    # derived from the signatures, so a training parameter added to CTRClassifier is covered
    fnn_params = inspect.signature(FNNClassifier).parameters
    shared = [
        name
        for name, p in inspect.signature(FMClassifier).parameters.items()
        if name in fnn_params and p.kind is p.KEYWORD_ONLY
    ]
    assert {"embed_dim", "init_std", "lr", "sparse_embeddings", "prefetch"} <= set(shared)
    values = {name: object() for name in shared}  # sentinels: each must arrive as itself
    weight_decay = object()
    est = FNNClassifier(**values, pretrain_epochs=3, optimizer__weight_decay=weight_decay)
    fm = est._factorization_machine().get_params(deep=False)
    stage = {"max_epochs": 3, "early_stopping": False, "calibration": None, "callbacks": None}
    for name in shared:
        assert fm[name] == stage[name] if name in stage else fm[name] is values[name], name
    assert fm["optimizer__weight_decay"] is weight_decay
    assert {"pretrain_epochs", "hidden_units", "dropout"}.isdisjoint(fm)


def test_fnn_fm_stage_trains_with_the_fnn_settings(small_ctr_data):
    X, y = small_ctr_data
    est = small(
        FNNClassifier, sparse_embeddings=True, l2=1e-3, max_epochs=1, optimizer__weight_decay=1e-4
    ).fit(X, y)
    fm = est.pretrained_fm_
    assert fm.sparse_embeddings and fm.l2 == 1e-3 and fm.embed_dim == est.embed_dim
    assert fm.optimizer_sparse_.param_groups[0]["lr"] == est.lr  # the FM's tables were sparse
    assert fm.optimizer_.param_groups[0]["weight_decay"] == 1e-4


def test_fnn_without_pretraining_keeps_the_random_table(small_ctr_data):
    X, y = small_ctr_data
    snapshot = TableAtTrainBegin()
    est = small(
        FNNClassifier, pretrain_epochs=0, init_std=0.5, callbacks=[("snapshot", snapshot)]
    ).fit(X, y)
    assert est.pretrained_fm_ is None
    assert 0.4 < snapshot.table.std().item() < 0.6


# ======================================================================================
# Estimators
# ======================================================================================


def test_widedeep_with_crosses_fits_a_crossing_pipeline_and_predicts_raw_frames(small_ctr_data):
    X, y = small_ctr_data
    est = small(WideDeepClassifier, cross_features=[("C1", "C2"), ("C2", "C3", "C4")])
    est.fit(X, y)
    assert isinstance(est.preprocessor_, Pipeline)
    assert isinstance(est.preprocessor_[0], CrossProductFeatures)
    assert [f.name for f in est.schema_][-2:] == ["C1_x_C2", "C2_x_C3_x_C4"]
    assert list(est.feature_names_in_) == list(X.columns) and est.n_features_in_ == 6
    encoded = est.preprocessor_.transform(X.head(50))
    np.testing.assert_array_equal(est.predict_proba(X.head(50)), est.predict_proba(encoded))
    n_raw = len(est.schema_) - 2
    assert est.module_.mlp.hidden[0].in_features == n_raw * 4


def test_widedeep_crosses_inside_or_before_the_estimator_are_the_same_model(small_ctr_data):
    X, y = small_ctr_data
    crosses = [("C1", "C2")]
    pipe = make_pipeline(
        CrossProductFeatures(crosses), CTRTransformer(), small(WideDeepClassifier)
    ).fit(X, y)
    direct = small(WideDeepClassifier, cross_features=crosses).fit(X, y)
    np.testing.assert_allclose(pipe.predict_proba(X), direct.predict_proba(X), rtol=1e-6)


def test_widedeep_crosses_with_an_explicit_categorical_list(small_ctr_data):
    X, y = small_ctr_data
    encoder = CTRTransformer(categorical_features=["C1", "C2", "C3", "C4"], numeric="value")
    est = small(WideDeepClassifier, preprocessor=encoder, cross_features=[("C1", "C2")])
    kinds = {f.name: f.kind for f in est.fit(X, y).schema_}
    assert kinds["C1_x_C2"] == "categorical" and kinds["I1"] == "numeric"
    assert encoder.categorical_features == ["C1", "C2", "C3", "C4"]  # the user's is untouched


def test_widedeep_cross_errors_name_the_problem(small_ctr_data):
    X, y = small_ctr_data
    with pytest.raises(ValueError, match=r"not in X: \['C9'\]"):
        small(WideDeepClassifier, cross_features=[("C1", "C9")]).fit(X, y)
    encoded = CTRTransformer().fit_transform(X)
    with pytest.raises(ValueError, match="cross_features needs the raw DataFrame"):
        small(WideDeepClassifier, cross_features=[("C1", "C2")]).fit(encoded, y)
    est = small(WideDeepClassifier, cross_features=[("C1", "C2")]).fit(X, y)
    with pytest.raises(ValueError, match=r"not in X: \['C2'\]"):
        est.predict_proba(X.drop(columns="C2"))


def test_widedeep_with_crosses_pickles(small_ctr_data):
    X, y = small_ctr_data
    est = small(WideDeepClassifier, wide="fm", cross_features=[("C1", "C2")]).fit(X, y)
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


@pytest.mark.parametrize(
    "cls, params",
    [
        (DCNClassifier, {"n_cross_layers": 5, "embed_dim": 6, "hidden_units": (8, 4)}),
        (
            WideDeepClassifier,
            {
                "wide": "fm",
                "cross_features": [("a", "b")],
                "n_buckets": 99,
                "wide_fields": ["a_x_b"],
                "batch_norm": True,
            },
        ),
        (FNNClassifier, {"pretrain_epochs": 7, "embed_dim": 3, "activation": "tanh"}),
    ],
)
def test_clone_and_params_round_trip(cls, params):
    est = cls(**params, l2=1e-4, lr=0.02, random_state=3)
    twin = clone(est)
    assert twin.get_params(deep=False) == est.get_params(deep=False)
    for name, value in params.items():
        assert twin.get_params()[name] == value
    assert twin.set_params(embed_dim=2).get_params()["embed_dim"] == 2
    assert repr(clone(cls())) == f"{cls.__name__}()"


@pytest.mark.parametrize(
    "cls, grid",
    [
        (DCNClassifier, {"n_cross_layers": [0, 2]}),
        (WideDeepClassifier, {"wide": ["lr", "fm"]}),
        (FNNClassifier, {"pretrain_epochs": [0, 1]}),
    ],
)
def test_grid_search_over_own_parameter(cls, grid, small_ctr_data):
    X, y = small_ctr_data
    search = GridSearchCV(small(cls, max_epochs=2), grid, scoring="roc_auc", cv=2).fit(X, y)
    ((name, choices),) = grid.items()
    assert search.best_params_[name] in choices
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize(
    "cls, params, name",
    [
        (DCNClassifier, {"n_cross_layers": -1}, "n_cross_layers"),
        (WideDeepClassifier, {"wide": "ffm"}, "wide"),
        (WideDeepClassifier, {"n_buckets": 0}, "n_buckets"),
        (WideDeepClassifier, {"cross_features": "C1"}, "cross_features"),
        (FNNClassifier, {"pretrain_epochs": -1}, "pretrain_epochs"),
        (FNNClassifier, {"dropout": 1.0}, "dropout"),
    ],
)
def test_invalid_parameters_are_named_at_fit(cls, params, name, small_ctr_data):
    X, y = small_ctr_data
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        small(cls, **params).fit(X, y)


# ======================================================================================
# Learning: order-2 synthetic data, the protocol of tests/estimators/test_estimators.py
# ======================================================================================


@pytest.fixture(scope="module")
def order_two_split():
    X, y = make_ctr_classification(n_samples=20000, n_fields=8, cardinality=50, random_state=0)
    return train_test_split(X, y, test_size=0.25, random_state=0)


# One torch thread: on the shared 2-core machine a second thread mostly spins (5x the CPU time).
COMMON = {
    "max_epochs": 30,
    "early_stopping": True,
    "scoring": "roc_auc",
    "batch_size": 1024,
    "random_state": 0,
    "lr": 1e-2,
    "n_threads": 1,
}
DEEP = {"embed_dim": 4, "hidden_units": (64, 64), "dropout": 0.0, "l2": 1e-3}


def _test_auc(est, X_train, X_test, y_train, y_test):
    return roc_auc_score(y_test, est.fit(X_train, y_train).predict_proba(X_test)[:, 1])


@pytest.fixture(scope="module")
def lr_auc(order_two_split):
    return _test_auc(LRClassifier(**COMMON), *order_two_split)


def test_lr_baseline_is_where_the_contract_says(lr_auc):
    assert 0.66 < lr_auc < 0.70


def test_dcn_learns_more_than_lr(order_two_split, lr_auc):
    # init_std=0.1: with 0.01 the cross term x_0 (x_l . w) starts near 1e-4 and early
    # stopping ends training before the cross network contributes (measured: 0.681).
    auc = _test_auc(DCNClassifier(**DEEP, init_std=0.1, **COMMON), *order_two_split)
    assert auc > lr_auc + 0.02


def test_widedeep_lr_with_the_true_crosses_beats_lr(order_two_split, lr_auc):
    X_train = order_two_split[0]
    pairs = list(itertools.combinations(X_train.columns, 2))  # the data crosses every pair
    auc = _test_auc(WideDeepClassifier(cross_features=pairs, **DEEP, **COMMON), *order_two_split)
    assert auc > lr_auc + 0.03


def test_widedeep_fm_learns_order_two_structure(order_two_split, lr_auc):
    auc = _test_auc(WideDeepClassifier(wide="fm", **DEEP, **COMMON), *order_two_split)
    assert auc > lr_auc + 0.07


def test_fnn_learns_order_two_structure_through_its_pretraining(order_two_split, lr_auc):
    auc = _test_auc(FNNClassifier(pretrain_epochs=5, **DEEP, **COMMON), *order_two_split)
    unpretrained = _test_auc(FNNClassifier(pretrain_epochs=0, **DEEP, **COMMON), *order_two_split)
    assert auc > lr_auc + 0.04
    assert auc > unpretrained + 0.03  # the MLP alone stops at about LR's AUC here
