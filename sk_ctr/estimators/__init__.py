"""Floor 4: scikit-learn estimators."""

from sk_ctr.estimators.autofis import AutoFISClassifier
from sk_ctr.estimators.base import CTRClassifier
from sk_ctr.estimators.dcn import DCNClassifier
from sk_ctr.estimators.din import DINClassifier, EmbeddingMLPClassifier
from sk_ctr.estimators.field_aware import AFMClassifier, FFMClassifier, FwFMClassifier
from sk_ctr.estimators.fnn import FNNClassifier
from sk_ctr.estimators.gbdt_ffm import GBDTFFMClassifier
from sk_ctr.estimators.gbdt_lr import GBDTLRClassifier
from sk_ctr.estimators.models import DeepFMClassifier, DNNClassifier, FMClassifier, LRClassifier
from sk_ctr.estimators.pnn import PNNClassifier
from sk_ctr.estimators.two_tower import TwoTowerClassifier
from sk_ctr.estimators.widedeep import WideDeepClassifier

__all__ = [
    "AutoFISClassifier",
    "AFMClassifier",
    "CTRClassifier",
    "DCNClassifier",
    "DINClassifier",
    "DNNClassifier",
    "DeepFMClassifier",
    "EmbeddingMLPClassifier",
    "FFMClassifier",
    "FNNClassifier",
    "FMClassifier",
    "FwFMClassifier",
    "GBDTFFMClassifier",
    "GBDTLRClassifier",
    "LRClassifier",
    "PNNClassifier",
    "TwoTowerClassifier",
    "WideDeepClassifier",
]
