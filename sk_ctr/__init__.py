"""sk_ctr: click-through-rate models as scikit-learn estimators on skorch / PyTorch.

The public names are imported on first use (:mod:`sk_ctr._lazy`): ``import sk_ctr`` does not
import torch; ``sk_ctr.DeepFMClassifier`` or ``from sk_ctr import DeepFMClassifier`` does.
"""

from importlib.metadata import PackageNotFoundError, version

from sk_ctr._lazy import attach
from sk_ctr.estimators import ESTIMATOR_MODULES

try:
    # pyproject.toml is the one place the version is written.
    __version__ = version("sk-ctr")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

_PUBLIC_MODULES = {
    **ESTIMATOR_MODULES,
    "CrossProductFeatures": "sk_ctr.preprocessing.crosses",
    "CTRTransformer": "sk_ctr.preprocessing.transformer",
    "Field": "sk_ctr.preprocessing.fields",
    "FieldData": "sk_ctr.preprocessing.fields",
    "ParquetSource": "sk_ctr.training.streaming",
}

__all__ = sorted(_PUBLIC_MODULES)

__getattr__, __dir__ = attach(__name__, _PUBLIC_MODULES)
