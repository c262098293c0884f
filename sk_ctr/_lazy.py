"""Public names imported on first use (PEP 562), so that importing a package is cheap.

``import sk_ctr`` used to import every estimator, hence torch, skorch and scikit-learn (2.3 s);
the command line's ``--help``, a spawned worker or a user who only wants
``sk_ctr.datasets`` paid for all of it. With :func:`attach` a package's ``__init__`` names
where each public name lives, and the module is imported when the name is first read.
"""

from __future__ import annotations

import importlib
import importlib.util


def attach(package, names):
    """``__getattr__`` and ``__dir__`` for a package whose public names load on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : dict or callable
        Public name to the module that defines it (``{"DeepFMClassifier":
        "sk_ctr.estimators.models"}``), or a function returning that dict, called when a name
        is first looked up (:func:`sk_ctr.utils.discovery.estimator_modules` reads files).

    Returns
    -------
    __getattr__, __dir__ : callable
        To assign in the package's namespace. ``__getattr__`` also serves the package's
        ``__all__`` (the public names not starting with ``_``) and imports a submodule read as
        an attribute (``sk_ctr.datasets`` after ``import sk_ctr``), as the eager imports did.
    """
    namespace = importlib.import_module(package).__dict__
    find_names = names if callable(names) else lambda: names

    def __getattr__(name):
        names = find_names()
        if name == "__all__":
            namespace[name] = sorted(n for n in names if not n.startswith("_"))
            return namespace[name]
        if name in names:
            value = getattr(importlib.import_module(names[name]), name)
            namespace[name] = value  # the next read is a plain attribute lookup
            return value
        if not name.startswith("_") and importlib.util.find_spec(f"{package}.{name}"):
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted({*namespace, *find_names(), "__all__"})

    return __getattr__, __dir__
