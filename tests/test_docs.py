"""Docstring examples are part of the documentation, so they run as tests; the code is linted."""

import doctest
import importlib
import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import sk_ctr.estimators

MODULES_WITH_EXAMPLES = [
    "sk_ctr.preprocessing.transformer",
    "sk_ctr.estimators.models",
    "sk_ctr.estimators.field_aware",
    "sk_ctr.estimators.pnn",
    "sk_ctr.estimators.two_tower",
    "sk_ctr.estimators.gbdt_lr",
    "sk_ctr.estimators.dcn",
    "sk_ctr.estimators.widedeep",
    "sk_ctr.estimators.fnn",
    "sk_ctr.preprocessing.crosses",
    "sk_ctr.datasets",
    "sk_ctr.datasets_behavior",
    "sk_ctr.estimators.din",
    "sk_ctr.metrics",
    "sk_ctr.ranking",
    "sk_ctr.training.streaming",
    "sk_ctr.export",
    "sk_ctr.training.prefetch",
    "sk_ctr.cli",
    "sk_ctr.estimators.gbdt_ffm",
    "sk_ctr.datasets_interactions",
    "sk_ctr.estimators.autofis",
    "sk_ctr.training.optim",
    "sk_ctr._atomic",
]
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", MODULES_WITH_EXAMPLES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def test_ruff_is_clean():
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (it comes with the test extra)")
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "sk_ctr", "tests", "benchmarks",
                          "examples"],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_documentation_site_builds_without_warnings(tmp_path):
    """docs/ with the API reference rendered from the docstrings: ``mkdocs build --strict``
    fails on any warning (a broken link, a docstring griffe cannot parse)."""
    pytest.importorskip("mkdocs", reason="mkdocs is in the test extra: pip install -e '.[test]'")
    pytest.importorskip("mkdocstrings", reason="mkdocstrings is in the test extra")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "DeepFM journal eq. 1" in (tmp_path / "api" / "index.html").read_text()


def documented_parameters(docstring):
    """``(name, documented default or None)`` of each entry of a numpydoc Parameters section."""
    lines = inspect.cleandoc(docstring).splitlines()
    start = lines.index("Parameters") + 2
    entries = []
    for line, next_line in zip(lines[start:], [*lines[start + 1 :], ""], strict=True):
        if set(next_line) == {"-"}:  # the next section's title
            break
        if line and not line[0].isspace():
            default = re.search(r"default=(.+)$", line)
            entries.append((line.split(" : ")[0], default and default.group(1)))
    return entries


@pytest.mark.parametrize("name", sk_ctr.estimators.__all__)
def test_docstring_documents_the_signature(name):
    """Every parameter of an estimator's signature is documented in its docstring, in the
    signature's order and with the signature's default: the composed signatures of the
    CTRClassifier subclasses and the docs composed from parameter_docs cannot drift apart."""
    cls = getattr(sk_ctr.estimators, name)
    documented = documented_parameters(cls.__doc__)
    signature = inspect.signature(cls).parameters.values()
    expected = [f"**{p.name}" if p.kind is p.VAR_KEYWORD else p.name for p in signature]
    assert [entry for entry, _ in documented] == expected
    for (entry, default), parameter in zip(documented, signature, strict=True):
        if parameter.default is not parameter.empty:
            assert default is not None, f"{name}: {entry} documents no default"
            assert eval(default, {"__builtins__": {}}) == parameter.default, entry
