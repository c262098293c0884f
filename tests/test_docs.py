"""Docstring examples are part of the documentation, so they run as tests; the code is linted."""

import ast
import doctest
import importlib
import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sklearn

import sk_ctr.estimators
from sk_ctr.utils.discovery import all_estimators

ROOT = Path(__file__).resolve().parents[1]


def modules_with_examples():
    """Every module of sk_ctr whose source holds a docstring example (found, not listed)."""
    package = ROOT / "sk_ctr"
    return sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in package.rglob("*.py")
        if ">>>" in path.read_text(encoding="utf-8")
    )


# sk_ctr.export's TorchScript example loads the file as a user would; torch 2.13 deprecates
# TorchScript (torch.export replaces it), which the export docs say: not ours to silence there.
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("name", modules_with_examples())
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def test_every_estimator_has_an_example():
    missing = [name for name, cls in all_estimators() if ">>>" not in (cls.__doc__ or "")]
    assert not missing, f"no Examples section in the docstring of {missing}"


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=" ".join)
def test_ruff_is_clean(command):
    """Lint and format (pyproject.toml's settings) hold over the package, tests, benchmarks
    and examples."""
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (it comes with the test extra)")
    run = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "sk_ctr", "tests", "benchmarks", "examples"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.slow
def test_documentation_site_builds_without_warnings(tmp_path):
    """docs/ with the API reference rendered from the docstrings: a strict build fails on any
    warning (a broken link, a docstring griffe cannot parse; they are in the captured log).
    Built in this process, which has imported what griffe inspects (torch, scikit-learn,
    sk_ctr): ``mkdocs build`` in a fresh interpreter spent 6 of its 10 s of CPU importing it."""
    pytest.importorskip("mkdocs", reason="mkdocs is in the test extra: pip install -e '.[test]'")
    pytest.importorskip("mkdocstrings", reason="mkdocstrings is in the test extra")
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    config = load_config(str(ROOT / "mkdocs.yml"), strict=True, site_dir=str(tmp_path))
    build(config)  # strict: mkdocs.exceptions.Abort after any warning
    assert "DeepFM journal eq. 1" in (tmp_path / "api" / "index.html").read_text()


# ----------------------------------------------------------------------------------------
# The code blocks of README.md and docs/*.md
# ----------------------------------------------------------------------------------------
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A ```python block, and the HTML comment (invisible on the site) that may precede it.
BLOCK = re.compile(
    r"(?:^<!-- not run: (?P<reason>.+?) -->\n)?^```python\n(?P<code>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
# Files the blocks read, by the name a user has them under: the real samples of ../shared/data
# (never copied into the repository) are linked into the block's working directory.
DATA_FILES = {"train.txt": ("criteo_kaggle_10k", "train_examples.txt")}


def documented_blocks():
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("code"))
            yield pytest.param(
                path, line, match["code"], match["reason"],
                id=f"{path.relative_to(ROOT)}:{line}",
            )  # fmt: skip


@pytest.mark.parametrize(("path", "line", "code", "not_run"), list(documented_blocks()))
def test_documented_code_runs(path, line, code, not_run, tmp_path, monkeypatch, shared_data_file):
    """Each block runs on its own, as pasted into a fresh interpreter, in an empty directory.

    A block marked ``<!-- not run: why -->`` (it needs GPUs, or minutes of training) is
    compiled and its imports run, so that a renamed or removed name still fails here."""
    tree = ast.parse("\n" * line + code, filename=str(path))
    if not_run:
        tree.body = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    monkeypatch.chdir(tmp_path)
    for name, parts in DATA_FILES.items():
        if not not_run and re.search(rf"\b{re.escape(name)}\b", code):
            (tmp_path / name).symlink_to(shared_data_file(*parts))
    if importlib.util.find_spec("matplotlib") is not None:
        import matplotlib

        matplotlib.use("Agg")  # no window: plots are drawn, not shown
    with sklearn.config_context():  # a block may set_config: restored after it
        exec(compile(tree, str(path), "exec"), {"__name__": "__main__"})
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


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
