"""The AutoInt estimator (and AutoInt+, with ``hidden_units``)."""

from numbers import Integral

from sklearn.utils._param_validation import Interval

from sk_ctr.estimators.base import EMBEDDING_CONSTRAINTS, MLP_CONSTRAINTS, CTRClassifier
from sk_ctr.estimators.parameter_docs import (
    ACTIVATION,
    BATCH_NORM,
    DROPOUT,
    INIT_STD,
    parameters,
    training_parameters,
)
from sk_ctr.models.autoint import AutoIntNet

__all__ = ["AutoIntClassifier"]

EMBED_DIM = """\
embed_dim : int, default=16
    Size d of the field embeddings (the paper's d = 16, section 5.1, implementation
    details).
"""

N_ATTENTION_LAYERS = """\
n_attention_layers : int, default=3
    Number of stacked interacting layers (the paper's 3; in its study of the depth,
    section 5.3, the AUC rises with the first layers and is stable from 3). Layer l combines
    up to l + 1 fields; 0 puts the output layer on the raw embeddings, a model without
    interactions.
"""

N_HEADS = """\
n_heads : int, default=2
    Attention heads H per interacting layer (the paper's 2).
"""

ATTENTION_DIM = """\
attention_dim : int, default=32
    Size d' of each head's query, key and value vectors (the paper's 32); a layer outputs
    ``n_heads * attention_dim`` entries per field.
"""

ATTENTION_RESIDUAL = """\
attention_residual : bool, default=True
    The residual connection of eq. 9, e^Res_m = ReLU(ẽ_m + W_Res e_m); ``False`` gives
    ReLU(ẽ_m) (the paper's ablation of the residual connection, section 5.3).
"""

LINEAR = """\
linear : bool, default=False
    Add order-1 weights <w, x> to the logit. The paper's AutoInt has none (eq. 10); the
    authors' code has it as ``has_wide`` (off) and DeepCTR makes it optional too.
"""

HIDDEN_UNITS = """\
hidden_units : tuple of int, default=()
    Widths of the hidden layers of an MLP on the concatenated embeddings beside the
    attention: AutoInt+ (section 5.5), e.g. ``(400, 400, 400)``. Empty (the default): no
    MLP: the paper's AutoInt, the model of its main comparison (Table 2), of its efficiency
    and of its explainability claims (an MLP's implicit interactions have no attention map);
    AutoInt+ is presented as an extension, evaluated on its own in section 5.5.
"""


class AutoIntClassifier(CTRClassifier):
    __doc__ = f"""AutoInt: multi-head self-attention across the field embeddings.

    AutoInt (Song et al., CIKM 2019, arXiv:1810.11921). Every field, categorical or numeric
    (e_m = v_m x_m, eq. 4), is embedded in the same d-dimensional space; each interacting
    layer lets every field attend to all fields, in each head h separately:
    α^(h)_(m,k) = softmax_k <W^(h)_Query e_m, W^(h)_Key e_k> (eq. 5-6, an inner product *not*
    scaled by sqrt(d')), ẽ^(h)_m = Σ_k α^(h)_(m,k) W^(h)_Value e_k (eq. 7), the heads
    concatenated (eq. 8) and e^Res_m = ReLU(ẽ_m + W_Res e_m) (eq. 9). Stacking layers builds
    higher-order combinations; the logit is one linear unit on all fields' final vectors
    concatenated (eq. 10). With ``hidden_units`` an MLP beside it makes AutoInt+
    (section 5.5). Attention weights of a batch: ``module_.interacting[l].attention_weights``
    on the previous layer's output (see :class:`~sk_ctr.layers.self_attention.InteractingLayer`).

    Defaults are the paper's (section 5.1: d = 16, three layers, two heads, d' = 32, no
    linear part, no MLP); training follows the house's defaults (Adam, ``lr=3e-3``). The MLP
    of AutoInt+ takes the house's activation and dropout (DeepFM journal Table III: relu,
    dropout 0.5), as every deep model here; the authors' released script runs AutoInt+ on
    Criteo with a 400-400 MLP without dropout.

    Parameters
    ----------
{
        parameters(
            EMBED_DIM,
            INIT_STD,
            N_ATTENTION_LAYERS,
            N_HEADS,
            ATTENTION_DIM,
            ATTENTION_RESIDUAL,
            LINEAR,
            HIDDEN_UNITS,
            ACTIVATION,
            DROPOUT,
            BATCH_NORM,
            *training_parameters(),
        )
    }

    Examples
    --------
    >>> from sk_ctr.estimators.autoint import AutoIntClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, random_state=0)
    >>> est = AutoIntClassifier(
    ...     embed_dim=4, n_attention_layers=2, attention_dim=4, max_epochs=2, random_state=0
    ... ).fit(X, y)
    >>> est.predict_proba(X).shape
    (2000, 2)
    >>> est.module_.interacting[0]
    InteractingLayer(
      (query): Linear(in_features=4, out_features=8, bias=False)
      (key): Linear(in_features=4, out_features=8, bias=False)
      (value): Linear(in_features=4, out_features=8, bias=False)
      (residual): Linear(in_features=4, out_features=8, bias=False)
    )
    """

    _network = AutoIntNet
    _parameter_constraints = {
        **CTRClassifier._parameter_constraints,
        **EMBEDDING_CONSTRAINTS,
        **MLP_CONSTRAINTS,
        "n_attention_layers": [Interval(Integral, 0, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "attention_dim": [Interval(Integral, 1, None, closed="left")],
        "attention_residual": ["boolean"],
        "linear": ["boolean"],
    }

    def __init__(
        self,
        *,
        embed_dim=16,
        init_std=0.01,
        n_attention_layers=3,
        n_heads=2,
        attention_dim=32,
        attention_residual=True,
        linear=False,
        hidden_units=(),
        activation="relu",
        dropout=0.5,
        batch_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.embed_dim = embed_dim
        self.init_std = init_std
        self.n_attention_layers = n_attention_layers
        self.n_heads = n_heads
        self.attention_dim = attention_dim
        self.attention_residual = attention_residual
        self.linear = linear
        self.hidden_units = hidden_units
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
