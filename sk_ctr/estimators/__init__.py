"""Floor 4: scikit-learn estimators (each imported on first use, see :mod:`sk_ctr._lazy`).

Each module names its estimator classes in ``__all__``; :mod:`sk_ctr.utils.discovery` finds
them there, so no list of the estimators is kept here.
"""

from sk_ctr._lazy import attach
from sk_ctr.utils.discovery import estimator_modules


def _public_modules():
    # The base class trains a network of one's own (``module=``): public, but not a model.
    return {**estimator_modules(), "CTRClassifier": "sk_ctr.estimators.base"}


__getattr__, __dir__ = attach(__name__, _public_modules)
