"""The xDeepFM estimator."""

from sklearn.utils._param_validation import StrOptions

from sk_ctr.estimators.base import EMBEDDING_CONSTRAINTS, MLP_CONSTRAINTS, CTRClassifier
from sk_ctr.estimators.parameter_docs import INIT_STD, MLP, parameters, training_parameters
from sk_ctr.layers.cin import CIN_ACTIVATIONS, cin_map_counts
from sk_ctr.models.xdeepfm import XDeepFMNet

__all__ = ["XDeepFMClassifier"]


class XDeepFMClassifier(CTRClassifier):
    __doc__ = f"""xDeepFM: a linear part, a Compressed Interaction Network and a DNN.

    xDeepFM (Lian et al., KDD 2018, arXiv:1803.05170). The Compressed Interaction Network
    (CIN) learns explicit, vector-wise interactions of bounded degree from the field
    embeddings X^0 (m x D): layer k has H_k feature maps

        X^k_(h,*) = sum_(i=1..H_(k-1)) sum_(j=1..m) W^(k,h)_(ij) (X^(k-1)_(i,*) o X^0_(j,*))

    (eq. 6, o the Hadamard product), so layer k holds interactions of degree k + 1; each map
    is sum-pooled over the embedding dimension (eq. 7) and the pooled vectors of all layers,
    p+, feed one output unit. A DNN on the same embeddings learns implicit interactions, and
    the logit adds the linear part (eq. 8):
    y = sigmoid(w_linear^T a + w_dnn^T x_dnn + w_cin^T p+ + b). See
    :class:`~sk_ctr.layers.cin.CompressedInteractionNetwork`.

    Defaults: the paper's CIN (section 4.1.3: 200 feature maps per CIN layer on Criteo,
    identity activation, embedding size 10; the authors' code splits the maps in half and
    has no CIN bias) with three layers; the DNN of the DeepFM journal's protocol (Table III:
    400-400-400, relu, dropout 0.5; the paper uses 400 units per DNN layer too).
    DeepCTR-Torch's defaults differ: CIN (256, 128) with relu, DNN (256, 256), embedding 4.

    Parameters
    ----------
    embed_dim : int, default=10
        Size D of the field embeddings (the paper fixes 10 for every model).
{parameters(INIT_STD)}
    cin_layer_sizes : tuple of int, default=(200, 200, 200)
        Feature maps H_k of each CIN layer; the number of layers is the highest interaction
        degree minus one. Empty leaves the linear part and the DNN. With ``split_half``, every
        size but the last must be even. A layer costs O(H_k H_(k-1) m D) per sample.
    split_half : bool, default=True
        As the authors' implementation: each CIN layer but the last sends half its feature
        maps to the output and the other half to the next layer (which then reads
        H_k / 2 maps); the last sends all to the output. ``False``: every map goes to both.
    cin_activation : {{{", ".join(f'"{name}"' for name in sorted(CIN_ACTIVATIONS))}}}, \
default="identity"
        Activation of the CIN's feature maps; the paper's is the identity (a linear CIN),
        DeepCTR-Torch's relu.
{parameters(*MLP, *training_parameters())}

    Examples
    --------
    >>> from sk_ctr import XDeepFMClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, random_state=0)
    >>> est = XDeepFMClassifier(
    ...     cin_layer_sizes=(8, 8), hidden_units=(16,), max_epochs=2, random_state=0
    ... ).fit(X, y)
    >>> est.predict_proba(X).shape
    (2000, 2)
    >>> est.module_.cin.output_dim  # 8 / 2 maps of the first layer, 8 of the last
    12
    """

    _network = XDeepFMNet
    _parameter_constraints = {
        **CTRClassifier._parameter_constraints,
        **EMBEDDING_CONSTRAINTS,
        **MLP_CONSTRAINTS,
        "cin_layer_sizes": [list, tuple],
        "split_half": ["boolean"],
        "cin_activation": [StrOptions(set(CIN_ACTIVATIONS))],
    }

    def __init__(
        self,
        *,
        embed_dim=10,
        init_std=0.01,
        cin_layer_sizes=(200, 200, 200),
        split_half=True,
        cin_activation="identity",
        hidden_units=(400, 400, 400),
        activation="relu",
        dropout=0.5,
        batch_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.embed_dim = embed_dim
        self.init_std = init_std
        self.cin_layer_sizes = cin_layer_sizes
        self.split_half = split_half
        self.cin_activation = cin_activation
        self.hidden_units = hidden_units
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm

    def _validate_params(self):
        super()._validate_params()
        try:
            cin_map_counts(self.cin_layer_sizes, self.split_half)
        except ValueError as error:
            raise ValueError(
                f"The 'cin_layer_sizes' parameter of {type(self).__name__} is invalid: {error}"
            ) from None
