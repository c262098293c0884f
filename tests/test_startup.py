"""Start-up (issue 16, item 4): the command line's help and argument errors, and ``import
sk_ctr``, import no heavy dependency until a name that needs it is used. Checked on the modules
imported, in a fresh interpreter, not on time."""

import ast
import pickle
import subprocess
import sys

import pytest

import sk_ctr

HEAVY = ("torch", "skorch", "sklearn", "pandas", "pyarrow", "matplotlib", "onnx", "scipy")


def modules_after(code, candidates=HEAVY):
    """Which of ``candidates`` are imported after ``code`` runs in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint(sorted(m for m in {candidates!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.splitlines()[-1])


def test_help_and_argument_errors_import_no_heavy_dependency():
    code = """
from sk_ctr.cli import main
for argv in (["--help"], ["predict", "--help"], ["export", "--help"], ["--version"],
             ["fit", "--model", "fm"], ["predict", "--bogus"], ["nope"]):
    try:
        main(argv)
    except SystemExit:
        pass
"""
    assert modules_after(code) == []


def test_import_sk_ctr_imports_no_heavy_dependency():
    assert modules_after("import sk_ctr, sk_ctr.estimators; dir(sk_ctr); sk_ctr.__version__") == []


@pytest.mark.slow  # a fresh interpreter importing scikit-learn, then torch: seconds of CPU
def test_public_names_load_on_first_use():
    # one estimator: torch, but not the other estimators, plotting, export or the benchmark
    candidates = (
        "torch",
        "sklearn",
        "matplotlib",
        "onnx",
        "sk_ctr.benchmark",
        "sk_ctr.plotting",
        "sk_ctr.export",
        "sk_ctr.estimators.autofis",
        "sk_ctr.estimators.din",
    )
    listing = f"print(sorted(m for m in {candidates!r} if m in sys.modules))"
    # the transformer, then an estimator, in one interpreter: the modules after each
    code = "\n".join(
        ["import sys, sk_ctr", "sk_ctr.CTRTransformer", listing]
        + ["from sk_ctr import DeepFMClassifier", listing]
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    transformer_only, one_estimator = map(ast.literal_eval, result.stdout.splitlines()[-2:])
    assert transformer_only == ["sklearn"]
    assert one_estimator == ["sklearn", "torch"]


def test_lazy_names_are_the_classes_and_pickle():
    from sk_ctr.estimators.models import DeepFMClassifier

    assert sk_ctr.DeepFMClassifier is DeepFMClassifier
    assert set(sk_ctr.__all__) <= set(dir(sk_ctr)) and "ParquetSource" in sk_ctr.__all__
    assert all(isinstance(getattr(sk_ctr, name), type) for name in sk_ctr.__all__)
    assert sk_ctr.datasets.make_ctr_classification  # a submodule, imported when read
    estimator = pickle.loads(pickle.dumps(sk_ctr.DeepFMClassifier(embed_dim=3)))
    assert type(estimator) is DeepFMClassifier and estimator.embed_dim == 3
    try:
        sk_ctr.DeepFMClasifier  # noqa: B018
    except AttributeError as error:
        assert "has no attribute 'DeepFMClasifier'" in str(error)
    else:
        raise AssertionError("a misspelt name must raise AttributeError")
