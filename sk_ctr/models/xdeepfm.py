"""xDeepFM: a linear part, a Compressed Interaction Network and a DNN on one shared embedding."""

from torch import nn

from sk_ctr.layers import MLP, FieldEmbedding, LinearTerm
from sk_ctr.layers.cin import CompressedInteractionNetwork
from sk_ctr.models.base import CTRNetwork


class XDeepFMNet(CTRNetwork):
    """xDeepFM (Lian et al., KDD 2018, arXiv:1803.05170), eq. 8:

        y = sigmoid(w_linear^T a + w_dnn^T x_dnn^k + w_cin^T p+ + b)

    a: the raw features (the order-1 weights of :class:`~sk_ctr.layers.LinearTerm`, which owns
    the model's only bias b); x_dnn^k: the last hidden layer of an MLP on the stacked field
    embeddings (its output unit w_dnn has no bias); p+: the sum-pooled feature maps of the
    CIN (eq. 6-7) on the same embeddings, read by one output unit w_cin without bias.
    """

    def __init__(
        self,
        fields,
        embed_dim=10,
        cin_layer_sizes=(200, 200, 200),
        split_half=True,
        cin_activation="identity",
        hidden_units=(400, 400, 400),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        init_std=0.01,
    ):
        super().__init__(fields)
        self.linear = LinearTerm(self.vocab_sizes, self.n_numeric)
        self.embedding = FieldEmbedding(self.vocab_sizes, self.n_numeric, embed_dim, init_std)
        self.cin = CompressedInteractionNetwork(
            self.n_fields, cin_layer_sizes, split_half, cin_activation
        )
        # Without CIN layers there is no w_cin (a 0-input Linear warns when initialised).
        self.cin_output = (
            nn.Linear(self.cin.output_dim, 1, bias=False) if self.cin.output_dim else None
        )
        self.mlp = MLP(
            self.n_fields * embed_dim,
            hidden_units,
            activation,
            dropout,
            batch_norm,
            output_bias=False,
        )

    def forward(self, ids, values):
        embeddings = self.embedding(ids, values)
        logits = self.linear(ids, values) + self.mlp(embeddings.flatten(start_dim=1))
        if self.cin_output is None:
            return logits
        return logits + self.cin_output(self.cin(embeddings)).squeeze(-1)
