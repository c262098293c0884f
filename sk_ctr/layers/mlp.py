"""Multi-layer perceptron."""

from torch import nn

from sk_ctr.layers.activation import make_activation
from sk_ctr.layers.dropout import Dropout


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
        One of ``relu``, ``tanh``, ``sigmoid``, ``prelu``, ``dice``
        (:class:`~sk_ctr.layers.activation.Dice`, DIN eq. 5).
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

    def __init__(
        self,
        input_dim,
        hidden_units,
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        output_bias=True,
    ):
        super().__init__()
        make_activation(activation, 1)  # reject a misspelt name even without hidden layers
        layers, width = [], input_dim
        for units in hidden_units:
            layers.append(nn.Linear(width, units))
            if batch_norm:
                layers.append(nn.BatchNorm1d(units))
            # In place: the linear or normalisation layer's output is read by nothing else.
            layers += [make_activation(activation, units, in_place=True), Dropout(dropout)]
            width = units
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Linear(width, 1, bias=output_bias)

    def forward(self, inputs):
        return self.output(self.hidden(inputs)).squeeze(-1)
