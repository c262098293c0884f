"""Floor 4: scikit-learn estimators."""

from sk_ctr.estimators.base import CTRClassifier
from sk_ctr.estimators.models import DeepFMClassifier, DNNClassifier, FMClassifier, LRClassifier

__all__ = ["CTRClassifier", "DNNClassifier", "DeepFMClassifier", "FMClassifier", "LRClassifier"]
