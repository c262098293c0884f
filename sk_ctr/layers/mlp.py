"""Multi-layer perceptron and activations by name."""

from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "prelu": nn.PReLU}


def make_activation(name):
    """Return a fresh activation module for ``name`` (one of :data:`ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        choices = sorted(ACTIVATIONS)
        raise ValueError(f"Unknown activation {name!r}; choose from {choices}") from None


class MLP(nn.Module):
    """Fully connected layers a^(l+1) = sigma(W^(l) a^(l) + b^(l)) (DeepFM journal eq. 7), then a
    linear output unit (eq. 8).

    Each hidden layer is Linear -> [BatchNorm1d] -> activation -> Dropout. Dropout is a module,
    so ``eval()`` switches it off.

    Parameters
    ----------
    input_dim : int
    hidden_units : sequence of int
        Width of each hidden layer; empty gives a linear model of the input.
    activation : str
        One of ``relu``, ``tanh``, ``sigmoid``, ``prelu``.
    dropout : float
        Probability of *dropping* a unit (the journal's figures give the keep probability,
        1 - dropout).
    batch_norm : bool
    output_bias : bool
        False when the model's bias lives elsewhere (DeepFM: in the linear term), so the model
        has exactly one global bias.

    Shapes
    ------
    inputs : (batch_size, input_dim); returns (batch_size,)
    """

    def __init__(self, input_dim, hidden_units, activation="relu", dropout=0.0,
                 batch_norm=False, output_bias=True):
        super().__init__()
        make_activation(activation)  # reject a misspelt name even without hidden layers
        layers, width = [], input_dim
        for units in hidden_units:
            layers.append(nn.Linear(width, units))
            if batch_norm:
                layers.append(nn.BatchNorm1d(units))
            layers += [make_activation(activation), nn.Dropout(dropout)]
            width = units
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Linear(width, 1, bias=output_bias)

    def forward(self, inputs):
        return self.output(self.hidden(inputs)).squeeze(-1)
