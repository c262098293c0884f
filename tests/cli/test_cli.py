"""The sk-ctr command line, run in-process through main([...]) (one run through
``python -m sk_ctr`` in a subprocess)."""

import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
import torch

from sk_ctr import CTRTransformer, DeepFMClassifier, DINClassifier, FMClassifier
from sk_ctr.cli import UsageError, build_estimator, main, parse_params, resolve_model
from sk_ctr.datasets import make_ctr_classification

FAST = ["--param", "max_epochs=2", "--param", "random_state=0", "--threads", "1", "--quiet"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """train.csv / train.parquet (label "clicked", an id column) and test.csv."""
    folder = tmp_path_factory.mktemp("cli")
    X, y = make_ctr_classification(
        n_samples=500, n_fields=3, cardinality=10, n_numeric=1, random_state=0
    )
    frame = X.assign(clicked=y)
    frame.insert(0, "row_id", np.arange(len(frame)))
    frame.iloc[:400].to_csv(folder / "train.csv", index=False)
    try:
        frame.iloc[:400].to_parquet(folder / "train.parquet", index=False)
    except ImportError:  # no pyarrow: the Parquet tests skip, the missing-engine one needs a file
        (folder / "train.parquet").write_bytes(b"PAR1")
    frame.iloc[400:].to_csv(folder / "test.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def model_file(files):
    out = files / "fm.joblib"
    assert (
        main(
            [
                "fit",
                "--model",
                "fm",
                "--data",
                str(files / "train.csv"),
                "--label",
                "clicked",
                "--drop",
                "row_id",
                "--out",
                str(out),
                *FAST,
            ]
        )
        == 0
    )
    return out


def error_of(capsys, argv):
    """Run main(argv), check that it failed with status 2, return its stderr."""
    assert main(argv) == 2
    return capsys.readouterr().err


# ------------------------------------------------------------------ fit and predict
def test_fit_then_predict_writes_the_models_probabilities(files, model_file, capsys):
    assert (
        main(
            [
                "predict",
                "--model",
                str(model_file),
                "--data",
                str(files / "test.csv"),
                "--out",
                str(files / "scores.csv"),
                "--keep",
                "row_id",
                "--label",
                "clicked",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    scores = pd.read_csv(files / "scores.csv")
    test = pd.read_csv(files / "test.csv")
    est = joblib.load(model_file)
    assert isinstance(est, FMClassifier) and est.max_epochs == 2
    assert list(scores.columns) == ["row_id", "probability"]
    np.testing.assert_array_equal(scores["row_id"], test["row_id"])
    features = test.drop(columns=["row_id", "clicked"])
    np.testing.assert_allclose(scores["probability"], est.predict_proba(features)[:, 1], rtol=1e-6)
    assert "ROC AUC" in err and "100 probabilities written" in err


def test_fit_reads_parquet_and_predict_writes_parquet(files, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    out = tmp_path / "model.joblib"
    assert (
        main(
            [
                "fit",
                "--model",
                "DeepFMClassifier",
                "--data",
                str(files / "train.parquet"),
                "--label",
                "clicked",
                "--out",
                str(out),
                "--param",
                "hidden_units=(8,)",
                "--param",
                "preprocessor__min_frequency=3",
                *FAST,
            ]
        )
        == 0
    )
    est = joblib.load(out)
    assert isinstance(est, DeepFMClassifier) and est.hidden_units == (8,)
    assert est.preprocessor_.min_frequency == 3
    assert list(est.feature_names_in_) == ["row_id", "I1", "C1", "C2", "C3"]  # no --drop
    assert (
        main(
            [
                "predict",
                "--model",
                str(out),
                "--data",
                str(files / "train.parquet"),
                "--out",
                str(tmp_path / "scores.parquet"),
            ]
        )
        == 0
    )
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    assert scores.shape == (400, 1)
    assert "ignoring column(s) not seen in fit: clicked" in capsys.readouterr().err


def test_fit_stream_trains_on_parquet_without_loading_it(files, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    valid = tmp_path / "valid.parquet"
    pd.read_csv(files / "test.csv").to_parquet(valid, index=False)
    argv = [
        "fit",
        "--model",
        "deepfm",
        "--data",
        str(files / "train.parquet"),
        "--label",
        "clicked",
        "--drop",
        "row_id",
        "--param",
        "hidden_units=(8,)",
        *FAST,
    ]
    out = tmp_path / "streamed.joblib"
    assert main([*argv, "--out", str(out), "--stream", "--valid", str(valid)]) == 0
    assert "400 rows x 4 columns (streamed)" in capsys.readouterr().err
    streamed = joblib.load(out)
    assert list(streamed.feature_names_in_) == ["I1", "C1", "C2", "C3"]
    assert len(streamed.history_) >= 1 and "valid_auc" in streamed.history_[-1]
    # "deepfm" is the benchmark's DeepFM, which stops early: without --valid it says so
    err = error_of(capsys, [*argv, "--out", str(out), "--stream", "--force"])
    assert "--valid PARQUET" in err
    # the stream equals the in-memory fit when its buffers hold the data (400 rows)
    no_stop = ["--param", "early_stopping=False"]
    assert main([*argv, *no_stop, "--out", str(tmp_path / "s.joblib"), "--stream"]) == 0
    assert main([*argv, *no_stop, "--out", str(tmp_path / "m.joblib")]) == 0
    features = pd.read_csv(files / "test.csv").drop(columns=["row_id", "clicked"])
    np.testing.assert_allclose(
        joblib.load(tmp_path / "s.joblib").predict_proba(features),
        joblib.load(tmp_path / "m.joblib").predict_proba(features),
        atol=1e-6,
    )
    unwritten = str(tmp_path / "unwritten.joblib")
    assert "not a readable Parquet" in error_of(
        capsys, [*argv, "--out", unwritten, "--stream", "--data", str(files / "train.csv")]
    )
    assert "--valid goes with --stream" in error_of(
        capsys, [*argv, "--out", unwritten, "--valid", str(valid)]
    )
    assert "needs its rows in memory" in error_of(
        capsys,
        [
            "fit",
            "--model",
            "gbdt+lr",
            "--data",
            str(files / "train.parquet"),
            "--label",
            "clicked",
            "--out",
            unwritten,
            "--stream",
            *FAST[4:],
        ],
    )
    assert not (tmp_path / "unwritten.joblib").exists()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predict_stream_writes_what_predict_writes(
    files, model_file, tmp_path, capsys, suffix, monkeypatch
):
    pytest.importorskip("pyarrow")
    monkeypatch.setattr("sk_ctr.cli.predict.PREDICT_CHUNK", 120)
    data = tmp_path / "many_groups.parquet"
    pd.read_csv(files / "train.csv").to_parquet(data, index=False, row_group_size=50)
    argv = [
        "predict",
        "--model",
        str(model_file),
        "--data",
        str(data),
        "--keep",
        "row_id",
        "--label",
        "clicked",
    ]
    whole, streamed = tmp_path / f"whole{suffix}", tmp_path / f"streamed{suffix}"
    assert main([*argv, "--out", str(whole)]) == 0
    whole_err = capsys.readouterr().err
    # 8 row groups of 50 rows, read and written in 3 chunks (150, 150, 100: whole row groups
    # until at least PREDICT_CHUNK rows)
    assert main([*argv, "--out", str(streamed), "--stream"]) == 0
    streamed_err = capsys.readouterr().err
    read = pd.read_csv if suffix == ".csv" else pd.read_parquet
    pd.testing.assert_frame_equal(read(streamed), read(whole), atol=1e-6)
    assert whole_err.splitlines()[-2] == streamed_err.splitlines()[-2]  # the AUC line
    assert "400 probabilities written" in streamed_err
    err = error_of(
        capsys, [*argv[:-4], "--keep", "nope", "--out", str(streamed), "--stream", "--force"]
    )
    assert "no column(s) ['nope']" in err


def test_fit_is_verbose_by_default_and_reports_early_stopping(files, tmp_path, capsys):
    out = tmp_path / "model.joblib"
    assert (
        main(
            [
                "fit",
                "--model",
                "lr",
                "--data",
                str(files / "train.csv"),
                "--label",
                "clicked",
                "--out",
                str(out),
                "--param",
                "max_epochs=2",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "train_loss" in captured.out and "valid_auc" in captured.out  # the epoch table
    # "lr" is the benchmark's LR: early stopping on a validation split.
    assert "validation AUC" in captured.err and f"saved to {out}" in captured.err


def test_threads_are_restored_after_the_command(files, model_file):
    before = torch.get_num_threads()  # 1 in the test session (conftest.py): ask for another
    assert (
        main(
            [
                "predict",
                "--model",
                str(model_file),
                "--data",
                str(files / "test.csv"),
                "--out",
                "-",
                "--threads",
                str(before + 1),
            ]
        )
        == 0
    )
    assert torch.get_num_threads() == before


def test_predict_to_stdout(files, model_file, capsys):
    assert (
        main(
            ["predict", "--model", str(model_file), "--data", str(files / "test.csv"), "--out", "-"]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "probability" and len(lines) == 101


# ------------------------------------------------------------------ errors: exit status 2
def test_missing_label_column(files, tmp_path, capsys):
    err = error_of(
        capsys,
        [
            "fit",
            "--model",
            "fm",
            "--data",
            str(files / "train.csv"),
            "--label",
            "click",
            "--out",
            str(tmp_path / "m.joblib"),
        ],
    )
    assert "train.csv has no label column 'click'" in err and "clicked" in err
    assert not (tmp_path / "m.joblib").exists()


def test_unreadable_files(files, tmp_path, capsys):
    common = ["--label", "clicked", "--out", str(tmp_path / "m.joblib")]
    err = error_of(capsys, ["fit", "--model", "fm", "--data", str(tmp_path / "no.csv"), *common])
    assert "no.csv: no such file" in err
    (tmp_path / "broken.parquet").write_bytes(b"not a parquet file at all")
    err = error_of(
        capsys, ["fit", "--model", "fm", "--data", str(tmp_path / "broken.parquet"), *common]
    )
    assert "cannot read" in err and "broken.parquet" in err
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 4)
    err = error_of(
        capsys, ["fit", "--model", "fm", "--data", str(tmp_path / "binary.csv"), *common]
    )
    assert "cannot read" in err and "binary.csv" in err
    (tmp_path / "empty.csv").write_text("clicked,C1\n")
    err = error_of(capsys, ["fit", "--model", "fm", "--data", str(tmp_path / "empty.csv"), *common])
    assert "empty.csv has no rows" in err
    err = error_of(
        capsys,
        [
            "predict",
            "--model",
            str(files / "test.csv"),
            "--data",
            str(files / "test.csv"),
            "--out",
            "-",
        ],
    )
    assert "cannot load a model from" in err


def test_parquet_without_pyarrow_says_what_to_install(files, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # importing it raises ImportError
    err = error_of(
        capsys,
        [
            "fit",
            "--model",
            "fm",
            "--data",
            str(files / "train.parquet"),
            "--label",
            "clicked",
            "--out",
            str(tmp_path / "m.joblib"),
        ],
    )
    assert "needs pyarrow: pip install 'sk-ctr[parquet]'" in err


def test_unknown_model_lists_the_names(files, tmp_path, capsys):
    err = error_of(
        capsys,
        [
            "fit",
            "--model",
            "deepfmm",
            "--data",
            str(files / "train.csv"),
            "--label",
            "clicked",
            "--out",
            str(tmp_path / "m.joblib"),
        ],
    )
    assert "unknown model 'deepfmm'" in err and "Did you mean deepfm" in err
    assert "DINClassifier" in err and "fm&dnn" in err


def test_unknown_or_invalid_parameters(files, tmp_path, capsys):
    common = [
        "fit",
        "--model",
        "fm",
        "--data",
        str(tmp_path / "absent.csv"),
        "--label",
        "y",
        "--out",
        str(tmp_path / "m.joblib"),
    ]
    # Parameters are checked before the data is read (the file does not even exist).
    err = error_of(capsys, [*common, "--param", "embed_dimm=4"])
    assert "FMClassifier has no parameter(s) ['embed_dimm']" in err
    assert "did you mean embed_dim" in err
    err = error_of(capsys, [*common, "--param", "embed_dim=-4"])
    assert "invalid parameter for FMClassifier" in err and "'embed_dim'" in err
    err = error_of(capsys, [*common, "--param", "embed_dim"])
    assert "--param takes NAME=VALUE, got 'embed_dim'" in err
    err = error_of(capsys, [*common, "--param", "preprocessor__min_freq=3"])
    assert "CTRTransformer has no parameter(s) ['min_freq']" in err


def test_predict_errors_name_the_columns(files, model_file, tmp_path, capsys):
    test = pd.read_csv(files / "test.csv").drop(columns=["C2"])
    test.to_csv(tmp_path / "partial.csv", index=False)
    err = error_of(
        capsys,
        [
            "predict",
            "--model",
            str(model_file),
            "--data",
            str(tmp_path / "partial.csv"),
            "--out",
            "-",
        ],
    )
    assert "lacks column(s) the model was fitted on: ['C2']" in err
    err = error_of(
        capsys,
        [
            "predict",
            "--model",
            str(model_file),
            "--data",
            str(files / "test.csv"),
            "--out",
            "-",
            "--keep",
            "user",
        ],
    )
    assert "has no column(s) ['user']" in err


def test_help_and_usage(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("fit", "predict", "export", "benchmark", "demo"):
        assert command in out
    assert main([]) == 2
    assert main(["fit", "--model", "fm"]) == 2  # argparse: required arguments
    assert "required" in capsys.readouterr().err


# ------------------------------------------------------------------ building blocks
def test_parse_params_reads_literals_and_bare_words():
    assert parse_params(
        [
            "hidden_units=(200, 200)",
            "behavior={'h': 'i'}",
            "dropout=0.5",
            "activation=relu",
            "early_stopping=True",
            "interactions=None",
        ]
    ) == {
        "hidden_units": (200, 200),
        "behavior": {"h": "i"},
        "dropout": 0.5,
        "activation": "relu",
        "early_stopping": True,
        "interactions": None,
    }
    with pytest.raises(UsageError, match="given twice"):
        parse_params(["lr=0.1", "lr=0.2"])


def test_model_names_resolve_to_benchmark_settings_or_classes():
    benchmark_deepfm = build_estimator(resolve_model("DeepFM"), {}, n_rows=1000)
    assert benchmark_deepfm.hidden_units == (400, 400, 400) and benchmark_deepfm.early_stopping
    assert benchmark_deepfm.batch_size == 256
    assert build_estimator(resolve_model("deepfm"), {}, n_rows=200_000).batch_size == 2000
    assert resolve_model("DeepFMClassifier") == ("class", DeepFMClassifier)
    assert resolve_model("din") == ("class", DINClassifier)
    est = build_estimator(resolve_model("pnn*"), {"embed_dim": 4}, n_rows=10)
    assert est.product == "both" and est.embed_dim == 4
    din = build_estimator(
        resolve_model("din"),
        parse_params(["behavior={'hist_item_id': 'item_id'}", "preprocessor__min_frequency=2"]),
        n_rows=10,
    )
    assert din.behavior == {"hist_item_id": "item_id"}
    assert isinstance(din.preprocessor, CTRTransformer) and din.preprocessor.min_frequency == 2


# ------------------------------------------------------------------ export, benchmark, demo
def test_export_command_writes_torchscript_and_onnx(model_file, tmp_path, capsys):
    assert main(["export", "--model", str(model_file), "--out", str(tmp_path / "m.pt")]) == 0
    assert "m.pt (torchscript)" in capsys.readouterr().err
    with pytest.warns(DeprecationWarning, match="torch.jit.load"):  # torch's, not ours
        scripted = torch.jit.load(tmp_path / "m.pt")
    assert scripted.code.startswith("def forward")
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    assert main(["export", "--model", str(model_file), "--out", str(tmp_path / "m.onnx")]) == 0
    session = onnxruntime.InferenceSession(tmp_path / "m.onnx")
    assert [i.name for i in session.get_inputs()] == ["ids", "values"]


def test_benchmark_and_demo_are_delegated(files, capsys):
    assert (
        main(
            [
                "benchmark",
                "--data",
                str(files / "train.csv"),
                "--label",
                "clicked",
                "--models",
                "lr,fm",
                "--max-epochs",
                "1",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["model", "AUC", "logloss"]
    assert "\nfm " in out
    assert main(["benchmark", "--data", "missing.csv", "--label", "clicked"]) == 2
    assert "missing.csv" in capsys.readouterr().err
    assert main(["demo", "--samples", "600", "--fields", "3"]) == 0
    assert "DeepFM" in capsys.readouterr().out


@pytest.mark.slow  # a fresh interpreter imports torch: about 3 s of CPU
def test_python_dash_m_runs_the_command_line(files, model_file, tmp_path):
    """The installed entry point, in a fresh interpreter: ``python -m sk_ctr``."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sk_ctr",
            "predict",
            "--model",
            str(model_file),
            "--data",
            str(files / "test.csv"),
            "--out",
            str(tmp_path / "scores.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    scores = pd.read_csv(tmp_path / "scores.csv")
    expected = joblib.load(model_file).predict_proba(
        pd.read_csv(files / "test.csv").drop(columns=["row_id", "clicked"])
    )[:, 1]
    np.testing.assert_allclose(scores["probability"], expected, rtol=1e-6)
    assert "ignoring column(s) not seen in fit: row_id, clicked" in result.stderr
