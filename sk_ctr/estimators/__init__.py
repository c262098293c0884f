"""Floor 4: scikit-learn estimators."""

from sk_ctr.estimators.base import CTRClassifier
from sk_ctr.estimators.field_aware import AFMClassifier, FFMClassifier, FwFMClassifier
from sk_ctr.estimators.gbdt_lr import GBDTLRClassifier
from sk_ctr.estimators.models import DeepFMClassifier, DNNClassifier, FMClassifier, LRClassifier
from sk_ctr.estimators.pnn import PNNClassifier
from sk_ctr.estimators.two_tower import TwoTowerClassifier

__all__ = [
    "AFMClassifier",
    "CTRClassifier",
    "DNNClassifier",
    "DeepFMClassifier",
    "FFMClassifier",
    "FMClassifier",
    "FwFMClassifier",
    "GBDTLRClassifier",
    "LRClassifier",
    "PNNClassifier",
    "TwoTowerClassifier",
]
