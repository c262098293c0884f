"""Floor 3: whole networks composed of layers; each returns logits of shape (batch_size,)."""

from sk_ctr.models.base import CTRNetwork
from sk_ctr.models.deepfm import DeepFMNet
from sk_ctr.models.dnn import DNNNet
from sk_ctr.models.fm import FactorizationMachineNet
from sk_ctr.models.linear import LogisticRegressionNet

__all__ = ["CTRNetwork", "DNNNet", "DeepFMNet", "FactorizationMachineNet", "LogisticRegressionNet"]
