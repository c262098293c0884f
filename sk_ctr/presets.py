"""The benchmark protocol's configuration of each model (DeepFM journal Table III).

The settings and the protocol are described in :mod:`sk_ctr.benchmark`, which runs them; the
command line (``sk-ctr fit --model deepfm``) builds the same estimators from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sk_ctr import (
    AFMClassifier,
    AutoFISClassifier,
    DCNClassifier,
    DeepFMClassifier,
    DNNClassifier,
    FFMClassifier,
    FMClassifier,
    FNNClassifier,
    FwFMClassifier,
    GBDTFFMClassifier,
    GBDTLRClassifier,
    LRClassifier,
    PNNClassifier,
    WideDeepClassifier,
)
from sk_ctr.reference_models import GradientBoostingReference

#: Batch size 256 below this many training rows, 2000 from it on.
LARGE_DATA_ROWS = 100_000
#: Learning rates: models with a multi-layer perceptron, and the shallow factorization models.
DEEP_LR, SHALLOW_LR = 1e-3, 1e-2
#: The deep component of every deep model (journal Table III, Criteo-Random).
DEEP = {"hidden_units": (400, 400, 400), "activation": "relu", "dropout": 0.5}
#: Embedding sizes (journal section III-C-1): 10 with an FM component, 11 without.
FM_EMBED, DEEP_EMBED = 10, 11


@dataclass(frozen=True)
class Protocol:
    """The training settings every model of one fit shares (see the module docstring)."""

    batch_size: int
    max_epochs: int = 20
    random_state: int = 0
    l2: float = 1e-3
    cross_features: tuple = ()

    def training(self, lr):
        """The ``CTRClassifier`` training parameters, with the model family's learning rate."""
        return {
            "lr": lr, "l2": self.l2, "batch_size": self.batch_size,
            "max_epochs": self.max_epochs, "early_stopping": True, "validation_fraction": 0.1,
            "n_iter_no_change": 3, "random_state": self.random_state,
        }  # fmt: skip

    def deep(self, embed_dim, **overrides):
        """Embedding size, the Table III deep component and the deep models' training."""
        return {"embed_dim": embed_dim, **DEEP, **overrides, **self.training(DEEP_LR)}


#: Model spelling -> factory ``Protocol -> unfitted estimator``. The order is the table's.
MODELS = {
    "lr": lambda p: LRClassifier(**p.training(SHALLOW_LR)),
    "fm": lambda p: FMClassifier(embed_dim=FM_EMBED, **p.training(SHALLOW_LR)),
    "dnn": lambda p: DNNClassifier(**p.deep(DEEP_EMBED)),
    # FNN's k is its FM's; the MLP reads [w_i, v_i], k + 1 = 11 values per field.
    "fnn": lambda p: FNNClassifier(**p.deep(FM_EMBED)),
    "ipnn": lambda p: PNNClassifier(product="inner", **p.deep(DEEP_EMBED, activation="tanh")),
    "opnn": lambda p: PNNClassifier(product="outer", **p.deep(DEEP_EMBED)),
    "pnn*": lambda p: PNNClassifier(product="both", **p.deep(DEEP_EMBED)),
    "lr&dnn": lambda p: WideDeepClassifier(
        wide="lr", cross_features=list(p.cross_features) or None, **p.deep(DEEP_EMBED)
    ),
    "fm&dnn": lambda p: WideDeepClassifier(wide="fm", **p.deep(FM_EMBED)),
    "deepfm": lambda p: DeepFMClassifier(deep="dnn", **p.deep(FM_EMBED)),
    "deepfm-ip": lambda p: DeepFMClassifier(deep="inner", **p.deep(FM_EMBED)),
    "deepfm-op": lambda p: DeepFMClassifier(deep="outer", **p.deep(FM_EMBED)),
    "deepfm-*p": lambda p: DeepFMClassifier(deep="both", **p.deep(FM_EMBED)),
    "dcn": lambda p: DCNClassifier(**p.deep(DEEP_EMBED)),
    "ffm": lambda p: FFMClassifier(**p.training(SHALLOW_LR)),
    "fwfm": lambda p: FwFMClassifier(**p.training(SHALLOW_LR)),
    "afm": lambda p: AFMClassifier(**p.training(SHALLOW_LR)),
    "gbdt+lr": lambda p: GBDTLRClassifier(random_state=p.random_state),
    "gbdt+ffm": lambda p: GBDTFFMClassifier(random_state=p.random_state),
    # AutoFIS: its own search defaults (grda_c and search_epochs "auto"), the base's settings.
    "autofm": lambda p: AutoFISClassifier(base="fm", embed_dim=FM_EMBED, **p.training(SHALLOW_LR)),
    "autodeepfm": lambda p: AutoFISClassifier(base="deepfm", **p.deep(FM_EMBED)),
    # Gradient boosting at its defaults, its own early stopping on 10 % of the training part.
    "lightgbm": lambda p: GradientBoostingReference("lightgbm", random_state=p.random_state),
    "catboost": lambda p: GradientBoostingReference("catboost", random_state=p.random_state),
}
