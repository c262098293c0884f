"""FiBiNET: SENET field re-weighting and bilinear pair interactions feeding an MLP."""

import torch

from sk_ctr.layers import MLP, FieldEmbedding, LinearTerm
from sk_ctr.layers.bilinear import BilinearInteraction
from sk_ctr.layers.squeeze_excitation import SENETLayer
from sk_ctr.models.base import CTRNetwork


class FiBiNETNet(CTRNetwork):
    """Deep FiBiNET (Huang et al., RecSys 2019): y = w_0 + sum_i w_i x_i + y_DNN.

    The SENET layer re-weights the embeddings E into V; the Bilinear-Interaction layer turns E
    into the pair vectors p and V into q; the combination layer concatenates them,
    c = [p_1, ..., p_n, q_1, ..., q_n], and the MLP reads c (sections "Combination Layer",
    "Deep Network", "Output Layer"). One Bilinear-Interaction layer (the same matrices) serves
    E and V, as the paper describes one layer with two outputs and DeepCTR implements it. The
    order-1 part owns the model's only bias.
    """

    def __init__(
        self,
        fields,
        embed_dim=10,
        reduction_ratio=3,
        bilinear="field_interaction",
        hidden_units=(400, 400, 400),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        init_std=0.01,
    ):
        super().__init__(fields)
        # [p, q]: two k-vectors per field pair.
        input_dim = self.n_fields * (self.n_fields - 1) * embed_dim
        self.linear = LinearTerm(self.vocab_sizes, self.n_numeric)
        self.embedding = FieldEmbedding(self.vocab_sizes, self.n_numeric, embed_dim, init_std)
        self.senet = SENETLayer(self.n_fields, reduction_ratio)
        self.bilinear = BilinearInteraction(self.n_fields, embed_dim, bilinear)
        self.mlp = MLP(input_dim, hidden_units, activation, dropout, batch_norm, output_bias=False)

    def forward(self, ids, values):
        embeddings = self.embedding(ids, values)
        original = self.bilinear(embeddings).flatten(start_dim=1)
        reweighted = self.bilinear(self.senet(embeddings)).flatten(start_dim=1)
        combined = torch.cat([original, reweighted], dim=1)
        return self.linear(ids, values) + self.mlp(combined)
