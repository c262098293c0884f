"""sk_ctr: click-through-rate models as scikit-learn estimators on skorch / PyTorch."""

from sk_ctr.estimators import (
    AFMClassifier,
    CTRClassifier,
    DeepFMClassifier,
    DNNClassifier,
    FFMClassifier,
    FMClassifier,
    FwFMClassifier,
    GBDTLRClassifier,
    LRClassifier,
    PNNClassifier,
    TwoTowerClassifier,
)
from sk_ctr.preprocessing import CTRTransformer, Field, FieldData

__version__ = "0.1.0"

__all__ = [
    "AFMClassifier",
    "CTRClassifier",
    "CTRTransformer",
    "DNNClassifier",
    "DeepFMClassifier",
    "FFMClassifier",
    "FMClassifier",
    "FwFMClassifier",
    "Field",
    "FieldData",
    "GBDTLRClassifier",
    "LRClassifier",
    "PNNClassifier",
    "TwoTowerClassifier",
]
