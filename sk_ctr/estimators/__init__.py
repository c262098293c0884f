"""Floor 4: scikit-learn estimators (each imported on first use, see :mod:`sk_ctr._lazy`)."""

from sk_ctr._lazy import attach

#: Each estimator class and the module defining it.
ESTIMATOR_MODULES = {
    "AutoFISClassifier": "sk_ctr.estimators.autofis",
    "AFMClassifier": "sk_ctr.estimators.field_aware",
    "CTRClassifier": "sk_ctr.estimators.base",
    "DCNClassifier": "sk_ctr.estimators.dcn",
    "DINClassifier": "sk_ctr.estimators.din",
    "DNNClassifier": "sk_ctr.estimators.models",
    "DeepFMClassifier": "sk_ctr.estimators.models",
    "EmbeddingMLPClassifier": "sk_ctr.estimators.din",
    "FFMClassifier": "sk_ctr.estimators.field_aware",
    "FNNClassifier": "sk_ctr.estimators.fnn",
    "FMClassifier": "sk_ctr.estimators.models",
    "FwFMClassifier": "sk_ctr.estimators.field_aware",
    "GBDTFFMClassifier": "sk_ctr.estimators.gbdt_ffm",
    "GBDTLRClassifier": "sk_ctr.estimators.gbdt_lr",
    "LRClassifier": "sk_ctr.estimators.models",
    "PNNClassifier": "sk_ctr.estimators.pnn",
    "TwoTowerClassifier": "sk_ctr.estimators.two_tower",
    "WideDeepClassifier": "sk_ctr.estimators.widedeep",
}

__all__ = list(ESTIMATOR_MODULES)

__getattr__, __dir__ = attach(__name__, ESTIMATOR_MODULES)
