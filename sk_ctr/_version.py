"""``sk_ctr.__version__``: the installed package's version, so pyproject.toml is its one source.

A module of its own so that ``import sk_ctr`` does not pay for ``importlib.metadata`` (a third
of its import time) unless the version is read.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sk-ctr")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
