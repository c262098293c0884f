"""A tower of the two-tower (DSSM) model: an MLP whose output is a vector, not a logit."""

from torch import nn

from sk_ctr.layers.activation import make_activation
from sk_ctr.layers.dropout import Dropout


class Tower(nn.Module):
    """Fully connected layers a^(l+1) = sigma(W^(l) a^(l) + b^(l)) (DeepFM journal eq. 7) for
    every width but the last, then a linear map to the tower's output vector of size
    ``hidden_units[-1]``.

    Each hidden layer is Linear -> [BatchNorm1d] -> activation -> Dropout, as in
    :class:`~sk_ctr.layers.MLP`. The last layer is linear (no normalisation, activation or
    dropout): after a ReLU the user and item vectors would both be non-negative, so their inner
    product could never lower the logit below the bias.

    Parameters
    ----------
    input_dim : int
    hidden_units : sequence of int
        Width of each layer; the last one is the size d of the output vector. Must not be
        empty.
    activation : str
        One of ``relu``, ``tanh``, ``sigmoid``, ``prelu``, ``dice``.
    dropout : float
        Probability of dropping a unit of a hidden layer.
    batch_norm : bool

    Shapes
    ------
    inputs : (batch_size, input_dim); returns (batch_size, hidden_units[-1])
    """

    def __init__(self, input_dim, hidden_units, activation="relu", dropout=0.0, batch_norm=False):
        super().__init__()
        make_activation(activation, 1)  # reject a misspelt name even with a single layer
        hidden_units = list(hidden_units)
        if not hidden_units:
            raise ValueError("A tower needs at least one layer: hidden_units is empty.")
        layers, width = [], input_dim
        for units in hidden_units[:-1]:
            layers.append(nn.Linear(width, units))
            if batch_norm:
                layers.append(nn.BatchNorm1d(units))
            # In place: the linear or normalisation layer's output is read by nothing else.
            layers += [make_activation(activation, units, in_place=True), Dropout(dropout)]
            width = units
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Linear(width, hidden_units[-1])
        self.output_dim = hidden_units[-1]

    def forward(self, inputs):
        return self.output(self.hidden(inputs))
