"""The README's main job and the examples run end to end (on small data)."""

import importlib.util
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from sk_ctr import demo

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_demo_prints_all_four_models(capsys):
    demo.main(["--samples", "3000", "--fields", "4"])
    out = capsys.readouterr().out
    for name in ("LR", "FM", "DNN", "DeepFM"):
        assert f"\n{name} " in out


@pytest.mark.slow
def test_criteo_example_runs(shared_data_file, capsys, monkeypatch):
    data = shared_data_file("criteo_kaggle_10k", "train_examples.txt")
    monkeypatch.setattr(sys, "argv", ["criteo_deepfm.py", "--data", str(data), "--rows", "2000"])
    runpy.run_path(str(EXAMPLES / "criteo_deepfm.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "DeepFM  test AUC" in out and "grid search best" in out


def test_online_simulation_example_runs(tmp_path, capsys):
    figure = tmp_path / "simulation.png"
    example = runpy.run_path(str(EXAMPLES / "online_simulation.py"))  # not as __main__
    results = example["main"](["--small", "--threads", "1", "--plot", str(figure)])
    out = capsys.readouterr().out
    assert "personalization" in out and "popularity_var" in out
    assert list(results["model"].unique()) == ["click model", "LR", "LR+cross", "DeepFM"]
    assert list(results["L"]) == [5, 10, 20] * 4
    metrics = results[["personalization", "coverage", "popularity", "popularity_var"]]
    assert metrics.apply(lambda column: column.between(0, 1)).all().all()
    # Plain LR ranks the catalogue the same way for every user (60 apps in --small).
    lr = results[results["model"] == "LR"]
    assert (lr["personalization"] == 0).all()
    np.testing.assert_allclose(lr["popularity_var"], 0, atol=1e-12)  # the same list 120 times
    np.testing.assert_allclose(lr["coverage"], np.array([5, 10, 20]) / 60)
    if importlib.util.find_spec("matplotlib") is not None:
        assert figure.stat().st_size > 0
    else:
        assert "matplotlib is not installed" in out


def run_example(name, argv, monkeypatch):
    monkeypatch.setattr(sys, "argv", [name, *argv])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")


@pytest.mark.slow  # an AutoFIS search and four transfers: about 6 s of CPU
def test_autofis_selection_example_runs(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "alpha.png"
    run_example("autofis_selection.py", ["--small", "--plot", str(plot)], monkeypatch)
    out = capsys.readouterr().out
    assert "planted pairs found: 3 of 3" in out
    assert "DeepFM, AutoFIS pairs" in out and "test AUC" in out
    assert plot.read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow  # three behaviour models: about 5 s of CPU
def test_din_behavior_example_runs(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "attention.png"
    run_example("din_behavior.py", ["--small", "--plot", str(plot)], monkeypatch)
    out = capsys.readouterr().out
    for name in ("EmbeddingMLP (sum pooling)", "DIN (paper: no softmax)", "DIN (softmax"):
        assert name in out
    assert "GAUC" in out and plot.read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow  # a 3-value GridSearchCV of DeepFM, 2 folds: about 6 s of CPU
def test_grid_search_study_example_runs(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "dropout.png"
    # --data pointing nowhere: the synthetic data, so the test needs no ../shared.
    run_example(
        "grid_search_study.py",
        ["--small", "--data", str(tmp_path / "absent.txt"), "--plot", str(plot)],
        monkeypatch,
    )
    out = capsys.readouterr().out
    assert "synthetic data" in out and "DeepFM: best keep probability" in out
    assert len([line for line in out.splitlines() if line.startswith("DeepFM ")]) == 3
    assert plot.read_bytes().startswith(b"\x89PNG")
