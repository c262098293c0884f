"""Saved models carry the sk_ctr version and artifact format, checked before anything else of
the pickle is read (issue 14, item 4)."""

import copy
import io
import pickle
import warnings

import joblib
import numpy as np
import pytest

import sk_ctr
from sk_ctr import FMClassifier, GBDTLRClassifier
from sk_ctr.artifact import ArtifactVersionError, ArtifactVersionWarning
from sk_ctr.cli import main
from sk_ctr.datasets import make_ctr_classification


class Gone:
    """A class the loading side no longer has (deleted from this module before loading)."""


@pytest.fixture(scope="module")
def fitted():
    X, y = make_ctr_classification(n_samples=200, n_fields=3, cardinality=8, random_state=0)
    return FMClassifier(max_epochs=1, random_state=0).fit(X, y), X, y


def test_a_model_round_trips_without_warning(fitted):
    estimator, X, y = fitted
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for loaded in (pickle.loads(pickle.dumps(estimator)), copy.deepcopy(estimator)):
            np.testing.assert_array_equal(loaded.predict_proba(X), estimator.predict_proba(X))
        gbdt = GBDTLRClassifier(n_estimators=3).fit(X, y)
        np.testing.assert_array_equal(
            pickle.loads(pickle.dumps(gbdt)).predict_proba(X), gbdt.predict_proba(X)
        )


def test_another_artifact_format_is_refused_before_the_state_is_read(fitted, monkeypatch):
    estimator, X, _ = fitted
    tampered = copy.deepcopy(estimator)
    tampered.extra_ = Gone()  # unpickling this would raise AttributeError once Gone is gone
    monkeypatch.setattr("sk_ctr.artifact.ARTIFACT_FORMAT", 2)
    monkeypatch.setattr(sk_ctr, "__version__", "9.0")
    saved = pickle.dumps(tampered)
    monkeypatch.undo()
    monkeypatch.delattr(f"{__name__}.Gone")
    with pytest.raises(ArtifactVersionError) as error:
        pickle.loads(saved)
    assert str(error.value) == (
        f"This FMClassifier was saved by sk_ctr 9.0 (artifact format 2); sk_ctr "
        f"{sk_ctr.__version__} reads artifact format 1. Load it with the sk_ctr that saved it, "
        "or refit it with this one."
    )


def test_another_sk_ctr_version_of_the_same_format_loads_with_a_warning(fitted, monkeypatch):
    estimator, X, _ = fitted
    monkeypatch.setattr(sk_ctr, "__version__", "0.0.1")
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    monkeypatch.undo()
    buffer.seek(0)
    with pytest.warns(ArtifactVersionWarning, match="saved by sk_ctr 0.0.1 and is loaded by"):
        loaded = joblib.load(buffer)
    np.testing.assert_array_equal(loaded.predict_proba(X), estimator.predict_proba(X))


def test_the_command_line_names_the_version_problem(fitted, tmp_path, capsys, monkeypatch):
    estimator, X, _ = fitted
    monkeypatch.setattr("sk_ctr.artifact.ARTIFACT_FORMAT", 0)
    joblib.dump(estimator, tmp_path / "old.joblib")
    monkeypatch.undo()
    X.to_csv(tmp_path / "rows.csv", index=False)
    assert (
        main(
            [
                "predict",
                "--model",
                str(tmp_path / "old.joblib"),
                "--data",
                str(tmp_path / "rows.csv"),
                "--out",
                "-",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "ArtifactVersionError" in err and "artifact format 0" in err


def test_help_says_models_are_pickles(capsys):
    for command in ("predict", "export"):
        assert main([command, "--help"]) == 0
        assert "load only files you trust" in " ".join(capsys.readouterr().out.split())
