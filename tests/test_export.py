"""Persistence and serving: one joblib artifact predicts raw frames in a fresh process, and the
TorchScript / ONNX exports of the network reproduce predict_proba on the same rows."""

import dataclasses
import importlib.util
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from sk_ctr import (
    AFMClassifier,
    AutoFISClassifier,
    DCNClassifier,
    DeepFMClassifier,
    DINClassifier,
    EmbeddingMLPClassifier,
    FMClassifier,
    FwFMClassifier,
    GBDTLRClassifier,
    LRClassifier,
    PNNClassifier,
    WideDeepClassifier,
)
from sk_ctr.datasets import make_behavior_dataset
from sk_ctr.estimators.dien import DIENClassifier
from sk_ctr.export import export_inputs, export_onnx, export_torchscript, input_names
from sk_ctr.models.linear import LogisticRegressionNet

# torch.jit.load warns that TorchScript is deprecated (torch >= 2.9); loading is what is tested.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")

FAST = {"n_threads": 1, "random_state": 0, "batch_size": 128, "max_epochs": 2}
BEHAVIOR = {"hist_item_id": "item_id", "hist_cate_id": "cate_id"}
HAS_ONNX = all(importlib.util.find_spec(name) for name in ("onnx", "onnxruntime"))
needs_onnx = pytest.mark.skipif(
    not HAS_ONNX,
    reason="ONNX export is checked with onnx and onnxruntime: pip install onnx onnxruntime",
)

# One factory per network family; AutoFIS is exported after its re-train stage (only the kept
# pairs are computed, so its gate layer for the search is empty).
MODELS = {
    "lr": lambda: LRClassifier(**FAST),
    "fm": lambda: FMClassifier(**FAST),
    "deepfm": lambda: DeepFMClassifier(hidden_units=(16, 8), dropout=0.3, batch_norm=True, **FAST),
    "pnn*": lambda: PNNClassifier(product="both", hidden_units=(16,), **FAST),
    "dcn": lambda: DCNClassifier(hidden_units=(16,), **FAST),
    "fwfm": lambda: FwFMClassifier(**FAST),
    "afm": lambda: AFMClassifier(**FAST),
    "widedeep-crosses": lambda: WideDeepClassifier(
        cross_features=[("C1", "C2")], hidden_units=(16,), **FAST
    ),
    "autofis-retrained": lambda: AutoFISClassifier(base="deepfm", hidden_units=(16,), **FAST),
}
SEQUENCE_MODELS = {
    "din": lambda: DINClassifier(
        behavior=BEHAVIOR, max_sequence_length=6, hidden_units=(16,), **FAST
    ),
    "din-softmax-separate": lambda: DINClassifier(
        behavior=BEHAVIOR,
        max_sequence_length=6,
        hidden_units=(16,),
        attention_normalization="softmax",
        behavior_grouping="separate",
        **FAST,
    ),
    "embedding-mlp": lambda: EmbeddingMLPClassifier(
        behavior=BEHAVIOR, max_sequence_length=6, hidden_units=(16,), **FAST
    ),
    "dien": lambda: DIENClassifier(
        behavior=BEHAVIOR, max_sequence_length=6, hidden_units=(16,), **FAST
    ),
}


@pytest.fixture(scope="module")
def ctr_data():
    from sk_ctr.datasets import make_ctr_classification

    X, y = make_ctr_classification(
        n_samples=600, n_fields=4, cardinality=20, n_numeric=2, random_state=0
    )
    return X, y


@pytest.fixture(scope="module")
def behavior_data():
    return make_behavior_dataset(n_samples=600, random_state=0)


@pytest.fixture(scope="module")
def fitted(ctr_data, behavior_data):
    """Every model fitted once, with its raw data."""
    models = {}
    for name, make in MODELS.items():
        models[name] = (make().fit(*ctr_data), ctr_data[0])
    for name, make in SEQUENCE_MODELS.items():
        models[name] = (make().fit(*behavior_data), behavior_data[0])
    return models


def unseen_rows(X):
    """Rows to serve: the first 50, with unseen categories and a missing value in some."""
    rows = X.iloc[:50].copy()
    for column in rows.columns[:2]:
        if rows[column].dtype == object and not isinstance(rows[column].iloc[0], list):
            rows.iloc[:5, rows.columns.get_loc(column)] = "never-seen"
    return rows


# ------------------------------------------------------------------ TorchScript
@pytest.mark.parametrize("name", [*MODELS, *SEQUENCE_MODELS])
def test_torchscript_export_reproduces_predict_proba(name, fitted, tmp_path):
    est, X = fitted[name]
    rows = unseen_rows(X)
    path = export_torchscript(est, tmp_path / "model.pt")
    model = torch.jit.load(path)
    inputs = [torch.from_numpy(array) for array in export_inputs(est, rows).values()]
    with torch.no_grad():
        exported = model(*inputs).numpy()
    np.testing.assert_allclose(exported, est.predict_proba(rows)[:, 1], atol=1e-6)
    with torch.no_grad():  # the batch size is free: one row alone gives the same score
        single = model(*[tensor[:1] for tensor in inputs]).numpy()
    np.testing.assert_allclose(single, exported[:1], atol=1e-6)


@pytest.mark.parametrize(
    "export", [export_torchscript, pytest.param(export_onnx, marks=needs_onnx)]
)
def test_export_keeps_the_negative_sampling_correction(export, ctr_data, tmp_path):
    est = LRClassifier(negative_sampling_rate=0.25, **FAST).fit(*ctr_data)
    path = export(est, tmp_path / "model.bin")
    inputs = export_inputs(est, ctr_data[0][:30])
    if export is export_torchscript:
        exported = torch.jit.load(path)(*map(torch.from_numpy, inputs.values())).detach()
    else:
        import onnxruntime

        exported = onnxruntime.InferenceSession(path).run(None, inputs)[0]
    corrected = est.predict_proba(ctr_data[0][:30])[:, 1]
    np.testing.assert_allclose(exported, corrected, atol=1e-6)
    assert not np.allclose(
        corrected,
        est.set_params(negative_sampling_rate=None).predict_proba(ctr_data[0][:30])[:, 1],
        atol=1e-3,
    )


def test_torchscript_export_traces_on_given_rows(fitted, tmp_path):
    est, X = fitted["din"]
    path = export_torchscript(est, tmp_path / "din.pt", X=X.iloc[:1])  # one row is enough
    inputs = [torch.from_numpy(a) for a in export_inputs(est, X.iloc[100:140]).values()]
    np.testing.assert_allclose(
        torch.jit.load(path)(*inputs).detach().numpy(),
        est.predict_proba(X.iloc[100:140])[:, 1],
        atol=1e-6,
    )


# ------------------------------------------------------------------ ONNX
@needs_onnx
@pytest.mark.parametrize(
    "name",
    [
        "lr",
        "fm",
        "deepfm",
        "pnn*",
        "dcn",
        "fwfm",
        "afm",
        "widedeep-crosses",
        "autofis-retrained",
        "din",
        "din-softmax-separate",
        "embedding-mlp",
    ],
)
def test_onnx_export_reproduces_predict_proba(name, fitted, tmp_path):
    import onnxruntime

    est, X = fitted[name]
    rows = unseen_rows(X)
    path = export_onnx(est, tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == input_names(est)
    assert [o.name for o in session.get_outputs()] == ["probability"]
    exported = session.run(None, export_inputs(est, rows))[0]
    np.testing.assert_allclose(exported, est.predict_proba(rows)[:, 1], atol=1e-6)


def test_onnx_export_without_onnx_says_what_to_install(fitted, tmp_path, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnx" else find_spec(name, *a),
    )
    with pytest.raises(ImportError, match="pip install onnx"):
        export_onnx(fitted["lr"][0], tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


# ------------------------------------------------------------------ inputs and errors
def test_export_inputs_are_the_transformer_output(fitted):
    est, X = fitted["din"]
    inputs = export_inputs(est, X.iloc[:7])
    encoded = est.preprocessor_.transform(X.iloc[:7])
    assert list(inputs) == ["ids", "values", "sequences", "lengths"] == input_names(est)
    for name, array in inputs.items():
        np.testing.assert_array_equal(array, encoded[name])
        assert array.flags["C_CONTIGUOUS"]
    assert inputs["values"].dtype == np.float32 and inputs["ids"].dtype == np.int64
    from_encoded = export_inputs(est, encoded)
    np.testing.assert_array_equal(from_encoded["sequences"], inputs["sequences"])
    assert input_names(fitted["fm"][0]) == ["ids", "values"]


class BatchFixedNet(LogisticRegressionNet):
    """A network with the classic tracing bug: len() of the batch becomes a constant."""

    def forward(self, ids, values):
        return super().forward(ids, values) + ids.new_zeros(len(ids)).float()


@pytest.mark.parametrize(
    "export", [export_torchscript, pytest.param(export_onnx, marks=needs_onnx)]
)
def test_export_refuses_a_trace_that_fixed_the_batch_size(export, ctr_data, tmp_path):
    est = LRClassifier(module=BatchFixedNet, **FAST).fit(*ctr_data)
    with pytest.raises(
        RuntimeError, match="does not reproduce its network on a batch of 5 rows after tracing on 8"
    ):
        export(est, tmp_path / "model.bin")
    assert not (tmp_path / "model.bin").exists()


def test_export_errors_name_the_problem(fitted, ctr_data, tmp_path):
    with pytest.raises(NotFittedError):
        export_torchscript(FMClassifier(), tmp_path / "m.pt")
    gbdt = GBDTLRClassifier(n_estimators=5, random_state=0).fit(*ctr_data)
    with pytest.raises(TypeError, match="no single torch network"):
        export_torchscript(gbdt, tmp_path / "m.pt")
    with pytest.raises(ValueError, match="column"):  # rows that do not fit the schema
        export_torchscript(fitted["din"][0], tmp_path / "m.pt", X=ctr_data[0])


def test_behaviour_model_fitted_on_field_data_exports_from_its_schema(behavior_data, tmp_path):
    """The schema carries the history length L (Field.max_length), so no example rows are
    needed; a hand-built schema without it needs them."""
    from sk_ctr import CTRTransformer, FieldData

    X, y = behavior_data
    encoded = CTRTransformer(behavior=BEHAVIOR, max_sequence_length=5).fit_transform(X)
    est = EmbeddingMLPClassifier(hidden_units=(8,), **FAST).fit(encoded, y)
    path = export_torchscript(est, tmp_path / "sized.pt")
    inputs = [torch.from_numpy(a) for a in export_inputs(est, encoded[:20]).values()]
    assert inputs[2].shape[2] == 5
    np.testing.assert_allclose(
        torch.jit.load(path)(*inputs).detach().numpy(),
        est.predict_proba(encoded[:20])[:, 1],
        atol=1e-6,
    )

    schema = [dataclasses.replace(field, max_length=None) for field in encoded.schema]
    encoded = FieldData(dict(encoded), schema)
    est = EmbeddingMLPClassifier(hidden_units=(8,), **FAST).fit(encoded, y)
    with pytest.raises(ValueError, match="pass X="):
        export_torchscript(est, tmp_path / "m.pt")
    path = export_torchscript(est, tmp_path / "m.pt", X=encoded[:20])
    inputs = [torch.from_numpy(a) for a in export_inputs(est, encoded[:20]).values()]
    np.testing.assert_allclose(
        torch.jit.load(path)(*inputs).detach().numpy(),
        est.predict_proba(encoded[:20])[:, 1],
        atol=1e-6,
    )


# ------------------------------------------------------------------ one artifact
@pytest.mark.slow  # a fresh interpreter imports torch: about 3 s of CPU
def test_joblib_artifact_predicts_raw_frames_in_a_fresh_process(fitted, tmp_path):
    """The fitted transformer travels with the network: a new interpreter that never saw the
    training data predicts raw rows (unseen categories, crosses, list-valued histories) as
    the fitted estimator does (joblib pickles it; in-process pickle round trips are in the
    common checks)."""
    names = ["deepfm", "widedeep-crosses", "din"]
    expected = {}
    for name in names:
        est, X = fitted[name]
        rows = unseen_rows(X)
        joblib.dump(est, tmp_path / f"{name}.joblib")
        rows.to_pickle(tmp_path / f"{name}.rows.pkl")
        expected[name] = est.predict_proba(rows)[:, 1]
    script = textwrap.dedent(f"""
        import joblib, numpy as np, pandas as pd
        for name in {names!r}:
            est = joblib.load(r"{tmp_path}" + "/" + name + ".joblib")
            rows = pd.read_pickle(r"{tmp_path}" + "/" + name + ".rows.pkl")
            np.save(r"{tmp_path}" + "/" + name + ".npy", est.predict_proba(rows)[:, 1])
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    for name in names:
        np.testing.assert_allclose(np.load(tmp_path / f"{name}.npy"), expected[name], atol=1e-7)
    assert isinstance(pd.read_pickle(tmp_path / "din.rows.pkl")["hist_item_id"].iloc[0], list)
