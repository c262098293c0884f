"""sk_ctr: click-through-rate models as scikit-learn estimators on skorch / PyTorch."""

from sk_ctr.estimators import (
    CTRClassifier,
    DeepFMClassifier,
    DNNClassifier,
    FMClassifier,
    LRClassifier,
)
from sk_ctr.preprocessing import CTRTransformer, Field, FieldData

__version__ = "0.1.0"

__all__ = [
    "CTRClassifier",
    "CTRTransformer",
    "DNNClassifier",
    "DeepFMClassifier",
    "FMClassifier",
    "Field",
    "FieldData",
    "LRClassifier",
]
