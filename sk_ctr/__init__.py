"""sk_ctr: click-through-rate models as scikit-learn estimators on skorch / PyTorch."""

from sk_ctr.estimators import (
    AFMClassifier,
    AutoFISClassifier,
    CTRClassifier,
    DCNClassifier,
    DeepFMClassifier,
    DINClassifier,
    DNNClassifier,
    EmbeddingMLPClassifier,
    FFMClassifier,
    FMClassifier,
    FNNClassifier,
    FwFMClassifier,
    GBDTFFMClassifier,
    GBDTLRClassifier,
    LRClassifier,
    PNNClassifier,
    TwoTowerClassifier,
    WideDeepClassifier,
)
from sk_ctr.preprocessing import CrossProductFeatures, CTRTransformer, Field, FieldData
from sk_ctr.training.streaming import ParquetSource

__version__ = "0.1.0"

__all__ = [
    "AFMClassifier",
    "AutoFISClassifier",
    "CTRClassifier",
    "CrossProductFeatures",
    "DCNClassifier",
    "DINClassifier",
    "CTRTransformer",
    "DNNClassifier",
    "DeepFMClassifier",
    "EmbeddingMLPClassifier",
    "FFMClassifier",
    "FNNClassifier",
    "FMClassifier",
    "FwFMClassifier",
    "Field",
    "FieldData",
    "GBDTFFMClassifier",
    "GBDTLRClassifier",
    "LRClassifier",
    "PNNClassifier",
    "ParquetSource",
    "TwoTowerClassifier",
    "WideDeepClassifier",
]
