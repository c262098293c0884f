"""The estimators of sk_ctr, found rather than listed (as ``sklearn.utils.discovery``).

Each module of :mod:`sk_ctr.estimators` names its estimator classes in its ``__all__``; no
other list of them exists. The package's lazy imports, the common tests, the command line's
model names, the docstring tests and the API reference check all read them from here, so a new
estimator is picked up by all of them, and one missing anywhere fails a test.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import pkgutil
import re
from pathlib import Path

__all__ = ["all_estimators", "estimator_modules"]

ESTIMATORS_PACKAGE = "sk_ctr.estimators"
# A module's ``__all__`` as a literal list of names, read from its source: the lazy imports
# need the names without importing the module (that would import torch).
_EXPORTS = re.compile(r"^__all__\s*=\s*(\[[^\]]*\])", re.MULTILINE)


@functools.cache
def _exports(package):
    path = importlib.import_module(package).__path__  # sk_ctr.estimators imports nothing heavy
    found = {}
    for info in sorted(pkgutil.iter_modules(path), key=lambda info: info.name):
        if info.name.startswith("_"):
            continue
        module = f"{package}.{info.name}"
        source = Path(importlib.util.find_spec(module).origin).read_text(encoding="utf-8")
        match = _EXPORTS.search(source)
        if match is None:
            if re.search(r"^__all__\b", source, re.MULTILINE):
                raise ValueError(f"{module}.__all__ must be a literal list of class names.")
            continue  # a helper module (callbacks, defaults, the base classes): no estimator
        for name in ast.literal_eval(match[1]):
            if name in found:
                raise ValueError(f"{name} is exported by both {found[name]} and {module}.")
            found[name] = module
    return found


def estimator_modules(package=ESTIMATORS_PACKAGE):
    """Each estimator class name and the module that defines it, without importing any.

    Parameters
    ----------
    package : str, default="sk_ctr.estimators"
        The package whose modules' ``__all__`` name the estimators.

    Returns
    -------
    dict of str to str
        ``{"AFMClassifier": "sk_ctr.estimators.field_aware", ...}``, sorted by module.

    Examples
    --------
    >>> from sk_ctr.utils.discovery import estimator_modules
    >>> estimator_modules()["DeepFMClassifier"]
    'sk_ctr.estimators.models'
    """
    return dict(_exports(package))


def all_estimators(package=ESTIMATORS_PACKAGE):
    """Every estimator class of sk_ctr, imported.

    The classes named by the ``__all__`` of the modules of :mod:`sk_ctr.estimators`: the
    models a user fits as they are. Their base classes (``CTRClassifier``, which trains a
    network passed as ``module``, and the GBDT stacking base) are not among them.

    Parameters
    ----------
    package : str, default="sk_ctr.estimators"

    Returns
    -------
    list of (str, type)
        ``(name, class)`` pairs sorted by name, as ``sklearn.utils.discovery.all_estimators``.

    Raises
    ------
    TypeError
        If an ``__all__`` names something that is not a scikit-learn estimator class.

    Examples
    --------
    >>> from sk_ctr.utils.discovery import all_estimators
    >>> names = [name for name, cls in all_estimators()]
    >>> names[0], "DINClassifier" in names, names == sorted(names)
    ('AFMClassifier', True, True)
    """
    from sklearn.base import BaseEstimator

    estimators = []
    for name, module in _exports(package).items():
        cls = getattr(importlib.import_module(module), name)
        if not (isinstance(cls, type) and issubclass(cls, BaseEstimator)):
            raise TypeError(f"{module}.__all__ names {name}, which is not an estimator class.")
        estimators.append((name, cls))
    return sorted(estimators)
