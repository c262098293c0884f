"""The README's main job and the examples run end to end (on small data)."""

import runpy
import sys
from pathlib import Path

from sk_ctr import demo

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_demo_prints_all_four_models(capsys):
    demo.main(["--samples", "3000", "--fields", "4"])
    out = capsys.readouterr().out
    for name in ("LR", "FM", "DNN", "DeepFM"):
        assert f"\n{name} " in out


def test_criteo_example_runs(shared_data_file, capsys, monkeypatch):
    data = shared_data_file("criteo_kaggle_10k", "train_examples.txt")
    monkeypatch.setattr(sys, "argv", ["criteo_deepfm.py", "--data", str(data), "--rows", "2000"])
    runpy.run_path(str(EXAMPLES / "criteo_deepfm.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "DeepFM  test AUC" in out and "grid search best" in out
