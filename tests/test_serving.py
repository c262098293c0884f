"""The torch-free serving artifact: raw rows scored with numpy, pandas and ONNX Runtime equal the
estimator's predict_proba (unseen values, NaN, every input dtype, histories, buckets, crosses),
in a process that never imports torch, skorch or scikit-learn; the file is written whole or
not at all and refused when of another format."""

import importlib.util
import json
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pandas as pd
import pytest

from sk_ctr import (
    CTRTransformer,
    DeepFMClassifier,
    DINClassifier,
    FMClassifier,
    LRClassifier,
    WideDeepClassifier,
)
from sk_ctr import serving as serving_module
from sk_ctr.artifact import ArtifactVersionError
from sk_ctr.cli import main
from sk_ctr.datasets import make_behavior_dataset
from sk_ctr.export import export_serving
from sk_ctr.preprocessing.encoding import RawEncoder

pytestmark = pytest.mark.skipif(
    not all(importlib.util.find_spec(name) for name in ("onnx", "onnxruntime")),
    reason="the serving artifact holds an ONNX graph: pip install onnx onnxruntime",
)

FAST = {"n_threads": 1, "random_state": 0, "batch_size": 128, "max_epochs": 2}
TOLERANCE = 1e-6
N_ROWS = 400


def raw_frame(n_rows, seed):
    """Every kind of input column, with NaN: object and ``str`` strings, a category, integer
    ids, booleans, floats (bucketized or scaled) and an integer quantity."""
    rng = np.random.default_rng(seed)
    site = rng.choice(["s0", "s1", "s2", "s3", "s4", "s5"], n_rows).astype(object)
    site[rng.random(n_rows) < 0.1] = None
    device = pd.Series(rng.choice(["ios", "android", "web"], n_rows), dtype="str")
    device[rng.random(n_rows) < 0.1] = np.nan
    price = rng.lognormal(size=n_rows)
    price[rng.random(n_rows) < 0.15] = np.nan
    return pd.DataFrame(
        {
            "site": site,
            "device": device,
            "brand": pd.Categorical(rng.choice(["b0", "b1", "b2", "b3"], n_rows)),
            "user_id": rng.integers(0, 30, n_rows),
            "is_app": rng.random(n_rows) < 0.5,
            "price": price,
            "amount": rng.integers(0, 100_000, n_rows),  # a quantity: numeric by the role rules
        }
    )


def requests(X):
    """Rows to serve: unseen values and NaN in every column, then every column in other dtypes
    than in fit (object as category and ``str``, ``str`` as object, integers as floats with NaN
    and as strings, the category as object with an unseen category)."""
    rows = X.iloc[:40].copy().reset_index(drop=True)
    rows.loc[0, "site"] = "never-seen"
    rows.loc[1, "site"] = np.nan
    rows.loc[2, "device"] = "never-seen"
    rows["brand"] = rows["brand"].cat.add_categories(["b-new"])
    rows.loc[3, "brand"] = "b-new"
    rows.loc[4, "brand"] = np.nan
    rows.loc[5, "user_id"] = 10**6
    rows.loc[6, "price"] = np.nan
    rows.loc[7, "price"] = 1e9  # beyond the last bucket edge
    rows.loc[8, "amount"] = 150_000  # beyond the training range
    other_dtypes = rows.copy()
    other_dtypes["site"] = other_dtypes["site"].astype("category")
    other_dtypes["device"] = other_dtypes["device"].astype(object)
    other_dtypes["brand"] = other_dtypes["brand"].astype(object)
    other_dtypes["user_id"] = other_dtypes["user_id"].astype(np.float64)
    other_dtypes.loc[9, "user_id"] = np.nan
    as_strings = rows.copy()
    as_strings["site"] = as_strings["site"].astype("str")
    as_strings["user_id"] = as_strings["user_id"].astype(str)  # "12": looked up as 12
    as_strings["is_app"] = as_strings["is_app"].astype(object)
    return {"fitted dtypes": rows, "other dtypes": other_dtypes, "strings": as_strings}


MODELS = {
    "lr": lambda: LRClassifier(**FAST),
    "fm-hash-buckets-isotonic": lambda: FMClassifier(
        preprocessor=CTRTransformer(hash_buckets=8, min_frequency=3),
        calibration="isotonic",
        negative_sampling_rate=0.5,
        **FAST,
    ),
    "deepfm-values": lambda: DeepFMClassifier(
        preprocessor=CTRTransformer(
            numeric="value",
            numeric_features=["amount"],
            categorical_features=["site", "device", "brand", "user_id", "is_app", "price"],
        ),
        hidden_units=(16, 8),
        batch_norm=True,
        **FAST,
    ),
    "deepfm": lambda: DeepFMClassifier(hidden_units=(16,), dropout=0.2, **FAST),
    "widedeep-crosses": lambda: WideDeepClassifier(
        cross_features=[("site", "device"), ("user_id", "price")], hidden_units=(16,), **FAST
    ),
}


@pytest.fixture(scope="module")
def ctr_data():
    X = raw_frame(N_ROWS, seed=0)
    y = np.random.default_rng(1).integers(0, 2, N_ROWS)
    return X, y


@pytest.fixture(scope="module")
def behavior_data():
    X, y = make_behavior_dataset(
        n_samples=N_ROWS, n_items=60, n_categories=8, max_history=12, random_state=0
    )
    # A multi-valued column of delimited strings beside the list-valued histories.
    rng = np.random.default_rng(2)
    X["tags"] = ["|".join(rng.choice(list("abcdef"), rng.integers(0, 4))) for _ in range(len(X))]
    return X, y


@pytest.fixture(scope="module")
def artifacts(ctr_data, behavior_data, tmp_path_factory):
    """{name: (estimator, its training frame, the path of its serving artifact)}."""
    directory = tmp_path_factory.mktemp("serving")
    fitted = {}
    for name, make in MODELS.items():
        fitted[name] = (make().fit(*ctr_data), ctr_data[0])
    din = DINClassifier(
        behavior={"hist_item_id": "item_id", "hist_cate_id": "cate_id"},
        max_sequence_length=6,
        hidden_units=(16,),
        preprocessor=CTRTransformer(sequence_features=["tags"]),
        **FAST,
    )
    fitted["din"] = (din.fit(*behavior_data), behavior_data[0])
    return {
        name: (est, X, export_serving(est, directory / f"{name}.skctr", X=X.iloc[:20]))
        for name, (est, X) in fitted.items()
    }


def assert_equal_scores(model, est, rows):
    served = model.predict_proba(rows)
    expected = est.predict_proba(rows)
    assert served.shape == expected.shape == (len(rows), 2)
    np.testing.assert_allclose(served, expected, rtol=0, atol=TOLERANCE)


@pytest.mark.filterwarnings("ignore:No value of column:UserWarning")
@pytest.mark.parametrize("name", list(MODELS))
def test_artifact_scores_raw_rows_as_predict_proba(artifacts, name):
    est, X, path = artifacts[name]
    if "isotonic" in name:  # the graph carries the calibration map and the sampling shift
        assert est.isotonic_knots_ is not None and est.negative_sampling_rate == 0.5
    model = serving_module.load(path, threads=1)
    for kind, rows in requests(X).items():
        encoded, served = est.preprocessor_.transform(rows), model.encoder.transform(rows)
        for array in ("ids", "values"):
            np.testing.assert_array_equal(served[array], encoded[array], err_msg=kind)
        assert_equal_scores(model, est, rows)
        for n_rows in (1, 3):  # one-row requests take the row-by-row lookup
            assert_equal_scores(model, est, rows.iloc[n_rows : 2 * n_rows])
    np.testing.assert_array_equal(model.predict(X), est.predict(X))
    np.testing.assert_array_equal(model.classes_, est.classes_)


def history_requests(X):
    """Histories with unseen items, empty, missing, longer than the kept length, and a
    delimited column with unseen, empty and missing cells."""
    rows = X.iloc[:30].copy().reset_index(drop=True)
    rows.at[0, "hist_item_id"] = ["never-seen", *rows.at[0, "hist_item_id"]]
    rows.at[0, "hist_cate_id"] = ["never-seen", *rows.at[0, "hist_cate_id"]]
    rows.at[1, "hist_item_id"], rows.at[1, "hist_cate_id"] = [], []
    rows.at[2, "hist_item_id"], rows.at[2, "hist_cate_id"] = None, None
    longest = X["hist_item_id"].map(len).idxmax()
    rows.at[3, "hist_item_id"] = X.at[longest, "hist_item_id"] * 2
    rows.at[3, "hist_cate_id"] = X.at[longest, "hist_cate_id"] * 2
    rows.loc[4, "item_id"] = "never-seen"
    rows.loc[5, "tags"], rows.loc[6, "tags"], rows.loc[7, "tags"] = "a|zzz|b", "", None
    return rows


def test_artifact_scores_histories_as_predict_proba(artifacts):
    est, X, path = artifacts["din"]
    model = serving_module.load(path, threads=1)
    rows = history_requests(X)
    assert_equal_scores(model, est, rows)
    assert_equal_scores(model, est, rows.iloc[3:4])
    encoded = est.preprocessor_.transform(rows)
    served = model.encoder.transform(rows)
    for name in ("ids", "values", "sequences", "lengths"):
        np.testing.assert_array_equal(served[name], encoded[name])
    assert served["lengths"][3].max() == 6  # truncated to max_sequence_length


def test_fresh_process_scores_without_torch_skorch_or_sklearn(artifacts, tmp_path):
    names = ["deepfm", "din"]
    expected = {}
    for name in names:
        est, X, _ = artifacts[name]
        rows = history_requests(X) if name == "din" else requests(X)["fitted dtypes"]
        rows.to_pickle(tmp_path / f"{name}.pkl")
        expected[name] = est.predict_proba(rows)
    paths = {name: str(artifacts[name][2]) for name in names}
    script = textwrap.dedent(f"""
        import json, sys
        import pandas as pd
        from sk_ctr import serving
        scores = {{}}
        for name, path in {paths!r}.items():
            rows = pd.read_pickle(r"{tmp_path}" + "/" + name + ".pkl")
            scores[name] = serving.load(path, threads=1).predict_proba(rows).tolist()
        heavy = [m for m in ("torch", "skorch", "sklearn") if m in sys.modules]
        print(json.dumps({{"scores": scores, "imported": heavy}}))
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["imported"] == []
    for name in names:
        np.testing.assert_allclose(output["scores"][name], expected[name], rtol=0, atol=TOLERANCE)


def test_failed_write_leaves_no_file(artifacts, tmp_path, monkeypatch):
    est, X, _ = artifacts["lr"]
    target = tmp_path / "model.skctr"

    def write_half_then_fail(path, manifest, graph):
        path.write_bytes(b"PK half an archive")
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(serving_module, "write_artifact", write_half_then_fail)
        with pytest.raises(OSError, match="disk full"):
            export_serving(est, target, X=X.iloc[:20])
    assert list(tmp_path.iterdir()) == []
    # A check that fails (here: any difference is too large) leaves the previous file as it was.
    target.write_bytes(b"previous")
    monkeypatch.setattr("sk_ctr.export.TOLERANCE", -1.0)
    with pytest.raises(RuntimeError, match="no file was written"):
        export_serving(est, target, X=X.iloc[:20])
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model.skctr"]


def rewritten(path, target, **changes):
    """A copy of the artifact at ``path`` with its manifest's keys changed."""
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        graph = archive.read("model.onnx")
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("manifest.json", json.dumps({**manifest, **changes}))
        archive.writestr("model.onnx", graph)
    return target


def test_artifact_of_another_format_is_refused(artifacts, tmp_path):
    path = artifacts["lr"][2]
    newer = rewritten(path, tmp_path / "newer.skctr", format_version=99, sk_ctr_version="9.0")
    with pytest.raises(
        ArtifactVersionError,
        match=r"format 99, written by sk_ctr 9\.0.*reads "
        r"serving format 1",
    ):
        serving_module.load(newer)
    (tmp_path / "model.joblib").write_bytes(b"\x80\x05 not a zip")
    with pytest.raises(ValueError, match="is not an sk_ctr serving artifact"):
        serving_module.load(tmp_path / "model.joblib")
    other = rewritten(path, tmp_path / "other.zip", format="something-else")
    with pytest.raises(ValueError, match="not an sk_ctr serving manifest"):
        serving_module.load(other)


def test_bad_rows_get_errors_naming_the_column(artifacts):
    est, X, path = artifacts["deepfm-values"]
    model = serving_module.load(path, threads=1)
    with pytest.raises(ValueError, match=r"missing column\(s\) seen during fit: \['price'\]"):
        model.predict_proba(X.drop(columns="price"))
    with pytest.raises(ValueError, match=r"not seen during fit: \['extra'\]"):
        model.predict_proba(X.assign(extra=1))
    with pytest.raises(ValueError, match="Column 'amount' contains NaN"):
        model.predict_proba(X.assign(amount=np.nan))
    with pytest.raises(TypeError, match="must be a pandas DataFrame"):
        model.predict_proba(X.to_numpy())


def test_export_needs_an_encoding_of_raw_rows(ctr_data, tmp_path):
    X, y = ctr_data
    encoded = CTRTransformer().fit_transform(X)
    est = LRClassifier(**FAST).fit(encoded, y)
    with pytest.raises(ValueError, match="fitted on encoded FieldData"):
        export_serving(est, tmp_path / "m.skctr")
    assert list(tmp_path.iterdir()) == []


def test_vocabulary_types_survive_the_manifest():
    vocabularies = {
        "mixed": pd.Index(["1", 1, 2.5, True], dtype=object),
        "strings": pd.Index(["a", "b"], dtype="str"),
    }
    encoder = RawEncoder(["mixed", "strings"], (), vocabularies, {}, {}, None, 0, "|")
    state = json.loads(json.dumps(encoder.to_dict()))
    restored = RawEncoder.from_dict(state).vocabularies
    assert [type(v) for v in restored["mixed"]] == [str, int, float, bool]
    assert list(restored["strings"]) == ["a", "b"]
    dates = {"day": pd.Index([pd.Timestamp("2024-01-01")])}
    with pytest.raises(TypeError, match="column 'day' holds Timestamp values"):
        RawEncoder(["day"], (), dates, {}, {}, None, 0, "|").to_dict()


def test_export_command_writes_the_serving_artifact(artifacts, tmp_path, capsys):
    import joblib

    est, X, _ = artifacts["fm-hash-buckets-isotonic"]
    joblib.dump(est, tmp_path / "fm.joblib")
    X.iloc[:20].to_csv(tmp_path / "rows.csv", index=False)
    argv = [
        "export",
        "--model",
        str(tmp_path / "fm.joblib"),
        "--out",
        str(tmp_path / "fm.skctr"),
        "--serving",
        "--data",
        str(tmp_path / "rows.csv"),
    ]
    assert main(argv) == 0
    assert "fm.skctr (serving)" in capsys.readouterr().err
    model = serving_module.load(tmp_path / "fm.skctr", threads=1)
    assert_equal_scores(model, est, X.iloc[:50])
    assert main([*argv, "--force", "--format", "onnx"]) == 2
    assert "leave out --format" in capsys.readouterr().err
