"""Floor 3: whole networks composed of layers; each returns logits of shape (batch_size,)."""

from sk_ctr.models.autofis import AutoFISNet
from sk_ctr.models.base import CTRNetwork
from sk_ctr.models.dcn import DCNNet
from sk_ctr.models.deepfm import DeepFMNet
from sk_ctr.models.din import DINNet, EmbeddingMLPNet
from sk_ctr.models.dnn import DNNNet
from sk_ctr.models.field_aware import AFMNet, FFMNet, FwFMNet
from sk_ctr.models.fm import FactorizationMachineNet
from sk_ctr.models.fnn import FNNNet
from sk_ctr.models.linear import LogisticRegressionNet
from sk_ctr.models.pnn import DeepFMPNet, PNNNet
from sk_ctr.models.two_tower import TwoTowerNet
from sk_ctr.models.widedeep import WideDeepNet

__all__ = [
    "AFMNet",
    "AutoFISNet",
    "CTRNetwork",
    "DCNNet",
    "DINNet",
    "DNNNet",
    "DeepFMNet",
    "DeepFMPNet",
    "EmbeddingMLPNet",
    "FFMNet",
    "FNNNet",
    "FactorizationMachineNet",
    "FwFMNet",
    "LogisticRegressionNet",
    "PNNNet",
    "TwoTowerNet",
    "WideDeepNet",
]
