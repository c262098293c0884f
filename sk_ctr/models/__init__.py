"""Floor 3: whole networks composed of layers; each returns logits of shape (batch_size,)."""

from sk_ctr.models.autofis import AutoFISNet
from sk_ctr.models.autoint import AutoIntNet
from sk_ctr.models.base import CTRNetwork
from sk_ctr.models.bst import BSTNet
from sk_ctr.models.dcn import DCNNet
from sk_ctr.models.deepfm import DeepFMNet
from sk_ctr.models.dien import DIENNet
from sk_ctr.models.din import DINNet, EmbeddingMLPNet
from sk_ctr.models.dnn import DNNNet
from sk_ctr.models.fibinet import FiBiNETNet
from sk_ctr.models.field_aware import AFMNet, FFMNet, FwFMNet
from sk_ctr.models.fm import FactorizationMachineNet
from sk_ctr.models.fnn import FNNNet
from sk_ctr.models.linear import LogisticRegressionNet
from sk_ctr.models.nfm import NFMNet
from sk_ctr.models.pnn import DeepFMPNet, PNNNet
from sk_ctr.models.two_tower import TwoTowerNet
from sk_ctr.models.widedeep import WideDeepNet
from sk_ctr.models.xdeepfm import XDeepFMNet

__all__ = [
    "AFMNet",
    "AutoFISNet",
    "AutoIntNet",
    "BSTNet",
    "CTRNetwork",
    "DCNNet",
    "DIENNet",
    "DINNet",
    "DNNNet",
    "DeepFMNet",
    "DeepFMPNet",
    "EmbeddingMLPNet",
    "FFMNet",
    "FNNNet",
    "FactorizationMachineNet",
    "FiBiNETNet",
    "FwFMNet",
    "LogisticRegressionNet",
    "NFMNet",
    "PNNNet",
    "TwoTowerNet",
    "WideDeepNet",
    "XDeepFMNet",
]
