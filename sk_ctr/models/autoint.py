"""AutoInt: stacked multi-head self-attention over the field embeddings (and AutoInt+)."""

from torch import nn

from sk_ctr.layers import MLP, FieldEmbedding, LinearTerm
from sk_ctr.layers.self_attention import InteractingLayer
from sk_ctr.models.base import CTRNetwork


class AutoIntNet(CTRNetwork):
    """AutoInt (Song et al., CIKM 2019, arXiv:1810.11921): the field embeddings e_m (eq. 2-4)
    go through ``n_attention_layers`` interacting layers (eq. 5-9); the output layer is one
    linear unit on all fields' final vectors concatenated, y = w^T (e^Res_1 ⊕ ... ⊕ e^Res_M)
    + b (eq. 10).

    AutoInt+ (section 5.5): with ``hidden_units``, an MLP on the concatenated embeddings sits
    beside the attention, and its output unit (without bias) adds to the logit, i.e. one
    linear unit on both outputs. ``linear=True`` adds order-1 weights (the authors' code's
    ``has_wide``, off in the paper), which then own the model's only bias.
    """

    def __init__(
        self,
        fields,
        embed_dim=16,
        n_attention_layers=3,
        n_heads=2,
        attention_dim=32,
        attention_residual=True,
        linear=False,
        hidden_units=(),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        init_std=0.01,
    ):
        super().__init__(fields)
        self.embedding = FieldEmbedding(self.vocab_sizes, self.n_numeric, embed_dim, init_std)
        layers, width = [], embed_dim
        for _ in range(n_attention_layers):
            layers.append(InteractingLayer(width, attention_dim, n_heads, attention_residual))
            width = layers[-1].output_dim
        self.interacting = nn.Sequential(*layers)
        self.linear = LinearTerm(self.vocab_sizes, self.n_numeric) if linear else None
        self.attention_output = nn.Linear(self.n_fields * width, 1, bias=not linear)
        self.mlp = None
        if hidden_units:
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
        interacted = self.interacting(embeddings).flatten(start_dim=1)
        logits = self.attention_output(interacted).squeeze(-1)
        if self.mlp is not None:
            logits = logits + self.mlp(embeddings.flatten(start_dim=1))
        if self.linear is not None:
            logits = logits + self.linear(ids, values)
        return logits
