"""Nothing a command writes may destroy data or be left half-written (issue 14, items 1-3):
outputs never overwrite inputs, replace a file only with --force, appear whole or not at all,
and an interrupted command exits 128 + signal with no output."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from helpers import read_until

from sk_ctr import FMClassifier
from sk_ctr._atomic import TEMPORARY_PREFIX, atomic_path
from sk_ctr.cli import main
from sk_ctr.datasets import make_ctr_classification

FAST = ["--param", "max_epochs=2", "--param", "random_state=0", "--threads", "1", "--quiet"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """train.csv, test.csv and test.parquet (8 row groups of 25 rows); a fitted fm.joblib."""
    folder = tmp_path_factory.mktemp("safety")
    X, y = make_ctr_classification(n_samples=400, n_fields=3, cardinality=10, random_state=0)
    frame = X.assign(clicked=y)
    frame.iloc[:200].to_csv(folder / "train.csv", index=False)
    frame.iloc[200:].to_csv(folder / "test.csv", index=False)
    pytest.importorskip("pyarrow")
    frame.iloc[200:].to_parquet(folder / "test.parquet", index=False, row_group_size=25)
    assert (
        main(
            [
                "fit",
                "--model",
                "FMClassifier",
                "--data",
                str(folder / "train.csv"),
                "--label",
                "clicked",
                "--out",
                str(folder / "fm.joblib"),
                *FAST,
            ]
        )
        == 0
    )
    return folder


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(TEMPORARY_PREFIX))


def error_of(capsys, argv):
    assert main(argv) == 2
    return capsys.readouterr().err


# ------------------------------------------------------------------ outputs that are inputs
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("spelling", ["same", "relative", "symlink", "hardlink"])
def test_predict_refuses_to_write_over_its_data(
    files, tmp_path, capsys, monkeypatch, stream, spelling
):
    name = "test.parquet" if stream else "test.csv"
    data = tmp_path / name
    data.write_bytes((files / name).read_bytes())
    before = data.read_bytes()
    out = {
        "same": str(data),
        "relative": f"./sub/../{name}",
        "symlink": str(tmp_path / "link"),
        "hardlink": str(tmp_path / "hard"),
    }[spelling]
    (tmp_path / "sub").mkdir()
    (tmp_path / "link").symlink_to(data)
    os.link(data, tmp_path / "hard")
    monkeypatch.chdir(tmp_path)
    err = error_of(
        capsys,
        [
            "predict",
            "--model",
            str(files / "fm.joblib"),
            "--data",
            str(data),
            "--out",
            out,
            *(["--stream"] if stream else []),
            "--force",
        ],
    )
    assert f"--out {Path(out)} is the --data file" in err and "destroy the input" in err
    assert data.read_bytes() == before


def test_fit_and_export_refuse_to_write_over_their_inputs(files, tmp_path, capsys):
    data = files / "train.csv"
    fit = ["fit", "--model", "fm", "--data", str(data), "--label", "clicked", *FAST, "--force"]
    err = error_of(capsys, [*fit, "--out", str(data)])
    assert "is the --data file" in err
    valid = files / "test.parquet"
    err = error_of(
        capsys,
        [
            *fit[:4],
            str(files / "test.parquet"),
            *fit[5:],
            "--stream",
            "--valid",
            str(valid),
            "--out",
            str(valid.parent / "." / valid.name),
        ],
    )
    assert "is the --data file" in err  # --data and --valid are the same file here
    err = error_of(
        capsys,
        [
            "predict",
            "--model",
            str(files / "fm.joblib"),
            "--data",
            str(files / "test.csv"),
            "--out",
            str(files / "fm.joblib"),
            "--force",
        ],
    )
    assert "is the --model file" in err
    err = error_of(
        capsys,
        [
            "export",
            "--model",
            str(files / "fm.joblib"),
            "--out",
            str(files / "fm.joblib"),
            "--force",
        ],
    )
    assert "is the --model file" in err
    assert joblib.load(files / "fm.joblib").predict_proba(
        pd.read_csv(files / "test.csv").drop(columns="clicked")
    ).shape == (200, 2)


def test_output_inside_a_streamed_data_directory_is_refused(files, tmp_path, capsys):
    folder = tmp_path / "days"
    folder.mkdir()
    (folder / "part-0.parquet").write_bytes((files / "test.parquet").read_bytes())
    err = error_of(
        capsys,
        [
            "predict",
            "--model",
            str(files / "fm.joblib"),
            "--data",
            str(folder),
            "--stream",
            "--out",
            str(folder / "scores.parquet"),
        ],
    )
    assert "inside the --data directory" in err
    assert sorted(p.name for p in folder.iterdir()) == ["part-0.parquet"]


def test_an_existing_output_is_replaced_only_with_force(files, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    out.write_text("precious\n")
    argv = [
        "predict",
        "--model",
        str(files / "fm.joblib"),
        "--data",
        str(files / "test.csv"),
        "--out",
        str(out),
    ]
    err = error_of(capsys, argv)
    assert f"--out {out} exists; give --force (or --overwrite)" in err
    assert out.read_text() == "precious\n"
    assert main([*argv, "--overwrite"]) == 0
    assert len(pd.read_csv(out)) == 200
    model = tmp_path / "model.joblib"
    model.write_text("precious\n")
    err = error_of(
        capsys,
        [
            "fit",
            "--model",
            "fm",
            "--data",
            str(files / "train.csv"),
            "--label",
            "clicked",
            "--out",
            str(model),
            *FAST,
        ],
    )
    assert "exists; give --force" in err and model.read_text() == "precious\n"


# ------------------------------------------------------------------ atomic writes
def test_atomic_path_keeps_the_old_file_on_any_failure(tmp_path):
    target = tmp_path / "model.joblib"
    target.write_text("old")
    for failure in (OSError("disk full"), KeyboardInterrupt()):
        with pytest.raises(type(failure)), atomic_path(target) as temporary:
            assert temporary.parent == tmp_path and temporary.name.endswith("-model.joblib")
            assert temporary.stat().st_mode & 0o777 == 0o600  # private while written
            temporary.write_text("half")
            raise failure
        assert target.read_text() == "old" and leftovers(tmp_path) == []
    target.chmod(0o640)
    with atomic_path(target) as temporary:
        temporary.write_text("new")
    assert target.read_text() == "new" and target.stat().st_mode & 0o777 == 0o640
    assert leftovers(tmp_path) == []


def test_atomic_path_gives_a_new_file_the_usual_mode_and_writes_through_symlinks(tmp_path):
    umask = os.umask(0o027)
    try:
        with atomic_path(tmp_path / "new.csv") as temporary:
            temporary.write_text("x")
    finally:
        os.umask(umask)
    assert (tmp_path / "new.csv").stat().st_mode & 0o777 == 0o640
    (tmp_path / "latest.csv").symlink_to(tmp_path / "new.csv")
    with atomic_path(tmp_path / "latest.csv") as temporary:
        temporary.write_text("y")
    assert (tmp_path / "latest.csv").is_symlink() and (tmp_path / "new.csv").read_text() == "y"


def test_outputs_keep_the_compression_their_name_asks_for(files, tmp_path):
    """The temporary file ends with the target's name, so pandas and joblib, which choose a
    compression from the suffix, compress it as they would the target."""
    out = tmp_path / "scores.csv.gz"
    assert (
        main(
            [
                "predict",
                "--model",
                str(files / "fm.joblib"),
                "--data",
                str(files / "test.csv"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert out.read_bytes()[:2] == b"\x1f\x8b"  # gzip's magic number
    assert len(pd.read_csv(out)) == 200


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt])
def test_predict_stream_failing_part_way_leaves_the_previous_file(
    files, tmp_path, capsys, monkeypatch, suffix, failure
):
    out = tmp_path / f"scores{suffix}"
    out.write_bytes(b"the previous scores")
    monkeypatch.setattr("sk_ctr.cli.predict.PREDICT_CHUNK", 50)  # 4 chunks of 2 row groups
    predict_proba, calls = FMClassifier.predict_proba, []

    def fails_on_third_chunk(self, X):
        calls.append(len(X))
        if len(calls) == 3:
            raise failure("injected")
        return predict_proba(self, X)

    monkeypatch.setattr(FMClassifier, "predict_proba", fails_on_third_chunk)
    argv = [
        "predict",
        "--model",
        str(files / "fm.joblib"),
        "--data",
        str(files / "test.parquet"),
        "--stream",
        "--out",
        str(out),
        "--force",
    ]
    if failure is KeyboardInterrupt:
        assert main(argv) == 130
        assert "stopped by SIGINT; no output file written" in capsys.readouterr().err
    else:
        with pytest.raises(RuntimeError, match="injected"):
            main(argv)
    assert calls == [50, 50, 50]  # two chunks were written before the failure
    assert out.read_bytes() == b"the previous scores" and leftovers(tmp_path) == []


def test_a_failed_model_save_leaves_the_previous_model(files, tmp_path, capsys, monkeypatch):
    good = tmp_path / "good.joblib"
    good.write_bytes((files / "fm.joblib").read_bytes())
    before = good.read_bytes()
    dump = joblib.dump

    def disk_full_half_way(value, filename, **kwargs):
        with open(filename, "wb") as handle:
            handle.write(dump.__name__.encode() * 100)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(joblib, "dump", disk_full_half_way)
    err = error_of(
        capsys,
        [
            "fit",
            "--model",
            "fm",
            "--data",
            str(files / "train.csv"),
            "--label",
            "clicked",
            "--out",
            str(good),
            *FAST,
            "--force",
        ],
    )
    assert f"cannot write {good}" in err and "No space left" in err
    assert good.read_bytes() == before and leftovers(tmp_path) == []


def test_a_failed_onnx_check_leaves_the_previous_export(files, tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from sk_ctr import export

    out = tmp_path / "model.onnx"
    out.write_bytes(b"the previous export")

    def wrong_scores(*args):
        raise RuntimeError("does not reproduce its network")

    monkeypatch.setattr(export, "_check_onnx_file", wrong_scores)
    with pytest.raises(RuntimeError, match="does not reproduce"):
        export.export_onnx(joblib.load(files / "fm.joblib"), out)
    assert out.read_bytes() == b"the previous export" and leftovers(tmp_path) == []


# ------------------------------------------------------------------ interrupts
@pytest.mark.slow  # a fresh interpreter imports torch: a few seconds of CPU
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_fit_exits_with_the_signal_and_saves_nothing(files, tmp_path, signum):
    out = tmp_path / "model.joblib"
    out.write_bytes(b"the previous model")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sk_ctr",
            "fit",
            "--model",
            "FMClassifier",
            "--data",
            str(files / "train.csv"),
            "--label",
            "clicked",
            "--out",
            str(out),
            "--force",
            "--param",
            "max_epochs=1000000",
            "--param",
            "early_stopping=False",  # else it may end the fit before the signal comes
            "--threads",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        # the epoch table's first row: training has started
        read_until(process, lambda line: line.split()[:1] == ["1"], timeout=300)
        process.send_signal(signum)
        _, err = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 128 + signum, err
    assert f"stopped by {signal.Signals(signum).name}; no output file written" in err
    assert out.read_bytes() == b"the previous model" and leftovers(tmp_path) == []


def test_epoch_table_in_a_redirected_log_has_no_colour_or_progress_bar(files, tmp_path, capsys):
    out = tmp_path / "model.joblib"
    # "lr", the benchmark's LR, scores a validation split: best scores skorch would colour
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
                "max_epochs=3",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "valid_auc" in captured.out
    for stream in (captured.out, captured.err):
        assert "\x1b[" not in stream and "\r" not in stream
    assert np.isfinite(joblib.load(out).history_[-1]["valid_loss"])
