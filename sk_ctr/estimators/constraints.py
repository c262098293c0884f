"""Constraints of the parameters that several models share (scikit-learn's declarative
``_parameter_constraints``, validated once in ``fit``)."""

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from sk_ctr.layers.activation import ACTIVATIONS

#: Constraints of the embedding parameters, shared by every model with embeddings.
EMBEDDING_CONSTRAINTS = {
    "embed_dim": [Interval(Integral, 1, None, closed="left")],
    "init_std": [Interval(Real, 0, None, closed="left")],
}
#: Constraints of the parameters of a deep component (an MLP).
MLP_CONSTRAINTS = {
    "hidden_units": [list, tuple],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "batch_norm": ["boolean"],
}
