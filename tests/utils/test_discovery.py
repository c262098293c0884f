"""The estimators are found, not listed: every class is discovered, and the package, the
command line and the API reference offer exactly the discovered ones."""

import importlib
import inspect
import pkgutil
import sys
import textwrap
from pathlib import Path

import pytest
from sklearn.base import BaseEstimator

import sk_ctr
import sk_ctr.estimators
from sk_ctr.utils.discovery import all_estimators, estimator_modules

ROOT = Path(__file__).resolve().parents[2]


def defined_estimator_classes():
    """Every public estimator class defined in a module of sk_ctr.estimators, found by
    importing them all (what discovery avoids doing: it reads ``__all__``)."""
    classes = set()
    for info in pkgutil.iter_modules(sk_ctr.estimators.__path__):
        module = importlib.import_module(f"sk_ctr.estimators.{info.name}")
        classes |= {
            cls
            for name, cls in inspect.getmembers(module, inspect.isclass)
            if cls.__module__ == module.__name__ and not name.startswith("_")
            and issubclass(cls, BaseEstimator)
        }  # fmt: skip
    return classes


def test_every_estimator_class_is_discovered_or_a_base_of_discovered_ones():
    discovered = {cls for _, cls in all_estimators()}
    bases = {base for cls in discovered for base in cls.__mro__[1:]}
    forgotten = defined_estimator_classes() - discovered - bases
    assert not forgotten, f"add {sorted(c.__name__ for c in forgotten)} to their module's __all__"
    assert len(discovered) >= 17
    assert [name for name, _ in all_estimators()] == sorted(cls.__name__ for cls in discovered)


def test_lazy_names_are_the_discovered_estimators():
    for name, cls in all_estimators():
        assert getattr(sk_ctr, name) is cls and getattr(sk_ctr.estimators, name) is cls
        assert estimator_modules()[name] == cls.__module__
    assert set(sk_ctr.estimators.__all__) == {*estimator_modules(), "CTRClassifier"}
    assert set(estimator_modules()) < set(sk_ctr.__all__)


def test_a_new_estimator_module_is_picked_up(tmp_path, monkeypatch):
    package = tmp_path / "zoo"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text("class Callback:\n    pass\n")
    (package / "linear.py").write_text(
        textwrap.dedent("""
        from sklearn.base import BaseEstimator, ClassifierMixin

        __all__ = [
            "NewClassifier",
        ]


        class NewClassifier(ClassifierMixin, BaseEstimator):
            pass
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "zoo", raising=False)
    assert estimator_modules("zoo") == {"NewClassifier": "zoo.linear"}
    assert [(name, cls.__module__) for name, cls in all_estimators("zoo")] == [
        ("NewClassifier", "zoo.linear")
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("__all__ = list(NAMES)\n", "must be a literal list"),
        ("__all__ = ['Callback']\nclass Callback:\n    pass\n", "not an estimator class"),
    ],
)
def test_discovery_rejects_what_it_cannot_read(tmp_path, monkeypatch, source, message):
    package = tmp_path / f"bad_{len(source)}"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises((ValueError, TypeError), match=message):
        all_estimators(package.name)


def test_every_estimator_is_in_the_api_reference():
    api = (ROOT / "docs" / "api.md").read_text()
    missing = [name for name, _ in all_estimators() if f"::: sk_ctr.{name}\n" not in api]
    assert not missing, f"docs/api.md has no '::: sk_ctr.NAME' for {missing}"


def test_command_line_offers_every_estimator():
    from sk_ctr.cli import _format_models_help, resolve_model

    listed = " ".join(_format_models_help().split())
    for name, cls in all_estimators():
        assert resolve_model(name) == ("class", cls)
        assert resolve_model(name.lower()) == ("class", cls)
        assert f" {name}," in listed or listed.endswith(f" {name}")
