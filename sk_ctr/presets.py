"""Ready-made configurations of every model: the benchmark's (from the papers) and a fast one.

:data:`PAPER`
    The benchmark protocol's configuration of each model, by its spelling in the DeepFM
    journal's Table IV (``"deepfm"``, ``"ipnn"``, ``"fm&dnn"`` ...): Table III's settings,
    described in :mod:`sk_ctr.benchmark`, which runs them. ``sk-ctr fit --model deepfm`` builds
    the same estimators.
:data:`FAST`
    A small configuration of every estimator of :func:`~sk_ctr.utils.discovery.all_estimators`,
    by class name, that trains in about a second on 1,000 rows: what the common tests fit.

A new model adds its entry to :data:`FAST` (a test fails until it does) and, if it belongs in
the benchmark table, to :data:`PAPER`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sk_ctr import (
    AFMClassifier,
    AutoFISClassifier,
    AutoIntClassifier,
    DCNClassifier,
    DeepFMClassifier,
    DNNClassifier,
    FFMClassifier,
    FiBiNETClassifier,
    FMClassifier,
    FNNClassifier,
    FwFMClassifier,
    GBDTFFMClassifier,
    GBDTLRClassifier,
    LRClassifier,
    NFMClassifier,
    PNNClassifier,
    WideDeepClassifier,
    XDeepFMClassifier,
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
#: AutoInt's embedding size (its paper, section 5.1).
AUTOINT_EMBED = 16


@dataclass(frozen=True)
class Protocol:
    """The training settings every model of one benchmark fit shares (see
    :mod:`sk_ctr.benchmark`)."""

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
PAPER = {
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
    # DCN-V2: the full-matrix cross, and DCN-Mix with DeepCTR-Torch's rank 32 and 4 experts,
    # in DCN's parallel structure so that the cross is the only difference from "dcn".
    "dcn-v2": lambda p: DCNClassifier(cross="matrix", **p.deep(DEEP_EMBED)),
    "dcn-mix": lambda p: DCNClassifier(cross="mix", **p.deep(DEEP_EMBED)),
    # The paper's CIN (200 maps per layer on Criteo, identity, split in half) and embedding 10.
    "xdeepfm": lambda p: XDeepFMClassifier(**p.deep(FM_EMBED)),
    "ffm": lambda p: FFMClassifier(**p.training(SHALLOW_LR)),
    "fwfm": lambda p: FwFMClassifier(**p.training(SHALLOW_LR)),
    "afm": lambda p: AFMClassifier(**p.training(SHALLOW_LR)),
    # NFM: the protocol's deep component (without batch norm, as every model here) on the
    # Bi-Interaction vector of FM-sized embeddings; the paper's batch norm and dropout 0.5 on
    # that vector (NFM section 3.2) stay, as they are what the Bi-Interaction layer adds.
    "nfm": lambda p: NFMClassifier(batch_norm=False, **p.deep(FM_EMBED)),
    # FiBiNET: its defaults are the protocol's deep part; reduction ratio 3, field_interaction.
    "fibinet": lambda p: FiBiNETClassifier(**p.deep(FM_EMBED)),
    "gbdt+lr": lambda p: GBDTLRClassifier(random_state=p.random_state),
    "gbdt+ffm": lambda p: GBDTFFMClassifier(random_state=p.random_state),
    # AutoFIS: its own search defaults (grda_c and search_epochs "auto"), the base's settings.
    "autofm": lambda p: AutoFISClassifier(base="fm", embed_dim=FM_EMBED, **p.training(SHALLOW_LR)),
    "autodeepfm": lambda p: AutoFISClassifier(base="deepfm", **p.deep(FM_EMBED)),
    # AutoInt: the paper's d = 16, 3 layers of 2 heads of d' = 32, no MLP (section 5.1);
    # AutoInt+ adds the protocol's MLP beside the attention (section 5.5).
    "autoint": lambda p: AutoIntClassifier(**p.deep(AUTOINT_EMBED, hidden_units=())),
    "autoint+": lambda p: AutoIntClassifier(**p.deep(AUTOINT_EMBED)),
    # Gradient boosting at its defaults, its own early stopping on 10 % of the training part.
    "lightgbm": lambda p: GradientBoostingReference("lightgbm", random_state=p.random_state),
    "catboost": lambda p: GradientBoostingReference("catboost", random_state=p.random_state),
}

# A few epochs of large steps on small batches, and the smallest layers that still learn the
# order-2 structure of make_ctr_classification.
_FAST_TRAINING = {"max_epochs": 3, "batch_size": 128, "lr": 1e-2, "random_state": 0}
_FAST_EMBEDDING = {**_FAST_TRAINING, "embed_dim": 4}
_FAST_DEEP = {**_FAST_EMBEDDING, "hidden_units": (16,), "dropout": 0.0}
_FAST_TREES = {"n_estimators": 10, "random_state": 0}

#: Class name -> parameters of a configuration that trains in about a second on 1,000 rows of
#: ``make_ctr_classification(n_fields=4, n_numeric=2)`` (columns C1..C4, I1, I2; the two-tower
#: model names them).
FAST = {
    "AFMClassifier": _FAST_EMBEDDING,
    "AutoFISClassifier": _FAST_DEEP,
    "AutoIntClassifier": {**_FAST_EMBEDDING, "n_attention_layers": 2, "attention_dim": 4},
    "BSTClassifier": {**_FAST_DEEP, "n_heads": 2},
    "DCNClassifier": _FAST_DEEP,
    "DIENClassifier": _FAST_DEEP,
    "DINClassifier": _FAST_DEEP,
    "DNNClassifier": _FAST_DEEP,
    "DeepFMClassifier": _FAST_DEEP,
    "EmbeddingMLPClassifier": _FAST_DEEP,
    "FFMClassifier": _FAST_EMBEDDING,
    "FiBiNETClassifier": _FAST_DEEP,
    "FMClassifier": _FAST_EMBEDDING,
    "FNNClassifier": _FAST_DEEP,
    "FwFMClassifier": _FAST_EMBEDDING,
    "GBDTFFMClassifier": _FAST_TREES,
    "GBDTLRClassifier": _FAST_TREES,
    "LRClassifier": _FAST_TRAINING,
    # f_BI without its batch norm: normalised over 64-row batches it needed a 4th epoch to
    # pass the common checks' training-accuracy check (its own tests cover the batch norm).
    "NFMClassifier": {**_FAST_DEEP, "bi_dropout": 0.0, "bi_batch_norm": False},
    "PNNClassifier": _FAST_DEEP,
    "TwoTowerClassifier": {
        **_FAST_DEEP,
        "hidden_units": (8,),
        "user_fields": ["C1", "C2"],
        "item_fields": ["C3", "C4", "I1", "I2"],
    },
    "WideDeepClassifier": _FAST_DEEP,
    "XDeepFMClassifier": {**_FAST_DEEP, "cin_layer_sizes": (4, 4)},
}


def fast_estimator(estimator_class, **params):
    """An estimator in its :data:`FAST` configuration.

    Parameters
    ----------
    estimator_class : type or str
        An estimator class of sk_ctr, or its name.
    **params
        Parameters set on top of the fast ones.

    Returns
    -------
    estimator
        Unfitted.

    Raises
    ------
    KeyError
        For a class without a fast configuration (add it to :data:`FAST`).

    Examples
    --------
    >>> from sk_ctr.presets import fast_estimator
    >>> fast_estimator("FMClassifier", max_epochs=1)
    FMClassifier(batch_size=128, embed_dim=4, max_epochs=1, random_state=0)
    """
    import sk_ctr

    if isinstance(estimator_class, str):
        estimator_class = getattr(sk_ctr, estimator_class)
    name = estimator_class.__name__
    if name not in FAST:
        raise KeyError(f"{name} has no fast configuration: add one to sk_ctr.presets.FAST.")
    return estimator_class(**{**FAST[name], **params})
