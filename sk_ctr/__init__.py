"""sk_ctr: click-through-rate models as scikit-learn estimators on skorch / PyTorch.

The public names are imported on first use (:mod:`sk_ctr._lazy`): ``import sk_ctr`` does not
import torch; ``sk_ctr.DeepFMClassifier`` or ``from sk_ctr import DeepFMClassifier`` does.
"""

from sk_ctr._lazy import attach
from sk_ctr.estimators import _public_modules as _estimator_modules

#: The public names besides the estimators (which :mod:`sk_ctr.utils.discovery` finds).
_PUBLIC_MODULES = {
    "CrossProductFeatures": "sk_ctr.preprocessing.crosses",
    "CTRTransformer": "sk_ctr.preprocessing.transformer",
    "Field": "sk_ctr.preprocessing.fields",
    "FieldData": "sk_ctr.preprocessing.fields",
    "ParquetSource": "sk_ctr.io.parquet",
    "__version__": "sk_ctr._version",
}


def _public_modules():
    return {**_estimator_modules(), **_PUBLIC_MODULES}


__getattr__, __dir__ = attach(__name__, _public_modules)
