"""Multi-head self-attention across the fields of one sample (AutoInt's interacting layer)."""

import torch
from torch import nn


class InteractingLayer(nn.Module):
    """AutoInt's interacting layer (Song et al., CIKM 2019, arXiv:1810.11921, section 4.4).

    Every field m attends to every field k (itself included), in each head h separately:

    - eq. 5-6: α^(h)_{m,k} = softmax_k ψ^(h)(e_m, e_k), with the plain inner product
      ψ^(h)(e_m, e_k) = <W^(h)_Query e_m, W^(h)_Key e_k> ("we use inner product due to its
      simplicity and effectiveness"): the paper does *not* divide by sqrt(d') as the
      Transformer's scaled dot-product does (the authors' TensorFlow code does, and adds a
      ReLU on each projection and a layer norm; this layer follows the paper);
    - eq. 7: ẽ^(h)_m = Σ_k α^(h)_{m,k} W^(h)_Value e_k;
    - eq. 8: ẽ_m = ẽ^(1)_m ⊕ ... ⊕ ẽ^(H)_m, the heads concatenated (no output projection);
    - eq. 9: e^Res_m = ReLU(ẽ_m + W_Res e_m), the residual connection, a *sum*
      (W_Res maps e_m to the d' H entries of ẽ_m); without it, ReLU(ẽ_m).

    ``nn.MultiheadAttention`` cannot express this: it scales by 1/sqrt(d'), applies an output
    projection to the concatenated heads and returns vectors of its input's size, while the
    first interacting layer maps d-vectors to d' H-vectors. All heads and fields go through
    one batched matrix product each; no Python loop over them. The weights have no bias (the
    paper's W matrices) and start Glorot-uniform (the authors' ``tf.layers.dense``).

    Parameters
    ----------
    input_dim : int
        Size d of the input vectors e_m (the embedding size, or d' H after a first layer).
    attention_dim : int
        Size d' of each head's query, key and value vectors.
    n_heads : int
        Number of heads H.
    residual : bool, default=True
        Add W_Res e_m before the ReLU (eq. 9).

    Shapes
    ------
    inputs : (batch_size, n_fields, input_dim)
    returns (batch_size, n_fields, n_heads * attention_dim)
    """

    def __init__(self, input_dim, attention_dim, n_heads, residual=True):
        super().__init__()
        self.n_heads = n_heads
        self.attention_dim = attention_dim
        self.output_dim = n_heads * attention_dim
        # W^(h) of every head stacked by rows: row block h of ``query.weight`` is W^(h)_Query.
        self.query = nn.Linear(input_dim, self.output_dim, bias=False)
        self.key = nn.Linear(input_dim, self.output_dim, bias=False)
        self.value = nn.Linear(input_dim, self.output_dim, bias=False)
        self.residual = nn.Linear(input_dim, self.output_dim, bias=False) if residual else None
        for projection in (self.query, self.key, self.value, self.residual):
            if projection is not None:
                nn.init.xavier_uniform_(projection.weight)

    def _heads(self, projected):
        """(B, M, H d') to (B, H, M, d'): head h holds entries h d' .. (h + 1) d' - 1."""
        batch_size, n_fields, _ = projected.shape
        heads = projected.view(batch_size, n_fields, self.n_heads, self.attention_dim)
        return heads.transpose(1, 2)

    def attention_weights(self, inputs):
        """α^(h)_{m,k} of eq. 5: how much field m draws on field k in head h.

        Parameters
        ----------
        inputs : torch.Tensor of shape (batch_size, n_fields, input_dim)

        Returns
        -------
        torch.Tensor of shape (batch_size, n_heads, n_fields, n_fields)
            Rows (over k) sum to 1.
        """
        queries = self._heads(self.query(inputs))
        keys = self._heads(self.key(inputs))
        return torch.softmax(queries @ keys.transpose(-1, -2), dim=-1)

    def forward(self, inputs):
        values = self._heads(self.value(inputs))
        attended = self.attention_weights(inputs) @ values  # (B, H, M, d'), eq. 7
        combined = attended.transpose(1, 2).flatten(start_dim=2)  # (B, M, H d'), eq. 8
        if self.residual is not None:
            combined = combined + self.residual(inputs)
        return torch.relu(combined)
