"""The Transformer encoder of the Behavior Sequence Transformer (BST), with key-padding masks.

Chen et al., "Behavior Sequence Transformer for E-commerce Recommendation in Alibaba",
DLP-KDD 2019 (arXiv:1905.06874), section 2.3, eq. 1-5. The sequence is a user's behaviours
plus the candidate item; the mask says which positions are real (a row's padding positions
are never attended to, whatever they hold).

Why not ``torch.nn.TransformerEncoderLayer``: its post-norm block is eq. 4-5 (with a callable
LeakyReLU as ``activation``), but its multi-head attention splits the width d into h heads of
d / h, where BST's heads each project to the full d (eq. 2: W^Q, W^K, W^V in R^{d x d}, so
MH concatenates h vectors of d and W^H maps h d back to d) and scale by sqrt(d) (eq. 1). With
the paper's 8 heads and item + category vectors of 2 x 16 that is 8 heads of 32 against 8 of
4; the block here follows the paper.
"""

import math

import torch
from torch import nn

from sk_ctr.layers.dropout import Dropout


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention of BST (eq. 1-3), keys restricted to the real positions.

    head_i = softmax(E W^Q_i (E W^K_i)^T / sqrt(d)) E W^V_i  (eq. 1-2, one d x d projection of
    each kind per head), MH(E) = [head_1, ..., head_h] W^H  (eq. 3, W^H in R^{h d x d}). The
    paper writes no biases; none are used.

    Parameters
    ----------
    dim : int
        Width d of a position's vector.
    n_heads : int, default=8
        Number of heads h (the paper: 8, Table 2).

    Shapes
    ------
    inputs : (batch_size, T, d), mask : (batch_size, T) bool, True at real positions (each row
    needs one); returns (batch_size, T, d). Padding positions get an output too (they attend
    to the real ones), which the caller ignores.
    """

    def __init__(self, dim, n_heads=8):
        super().__init__()
        self.query = nn.Parameter(torch.empty(n_heads, dim, dim))
        self.key = nn.Parameter(torch.empty(n_heads, dim, dim))
        self.value = nn.Parameter(torch.empty(n_heads, dim, dim))
        self.output = nn.Linear(n_heads * dim, dim, bias=False)
        for weight in (self.query, self.key, self.value):
            for head in weight:  # each head's d x d matrix as nn.Linear would initialise it
                nn.init.kaiming_uniform_(head, a=math.sqrt(5))
        self.scale = 1 / math.sqrt(dim)

    def forward(self, inputs, mask):
        queries = torch.einsum("btd,hde->bhte", inputs, self.query)
        keys = torch.einsum("btd,hde->bhte", inputs, self.key)
        values = torch.einsum("btd,hde->bhte", inputs, self.value)
        scores = queries @ keys.transpose(-1, -2) * self.scale  # (batch, h, T, T)
        scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
        heads = torch.softmax(scores, dim=-1) @ values  # (batch, h, T, d)
        return self.output(heads.transpose(1, 2).flatten(start_dim=2))


class TransformerBlock(nn.Module):
    """One post-norm Transformer block of BST (eq. 4-5).

    S' = LayerNorm(S + Dropout(MH(S)))  (eq. 4),
    F = LayerNorm(S' + Dropout(LeakyReLU(S' W1 + b1) W2 + b2))  (eq. 5).

    Parameters
    ----------
    dim : int
        Width d.
    n_heads : int, default=8
    feedforward_dim : int, default=None
        Width of W1 (the paper does not give it); ``None``: 4 d, the Transformer's (Vaswani
        et al. 2017) that BST builds on.
    dropout : float, default=0.2
        The paper's dropout rate (Table 2).

    Shapes
    ------
    inputs : (batch_size, T, d), mask : (batch_size, T) bool; returns (batch_size, T, d)
    """

    def __init__(self, dim, n_heads=8, feedforward_dim=None, dropout=0.2):
        super().__init__()
        hidden = 4 * dim if feedforward_dim is None else feedforward_dim
        self.attention = MultiHeadSelfAttention(dim, n_heads)
        self.attention_dropout = Dropout(dropout)
        self.attention_norm = nn.LayerNorm(dim)
        self.feedforward = nn.Sequential(
            nn.Linear(dim, hidden), nn.LeakyReLU(), nn.Linear(hidden, dim), Dropout(dropout)
        )
        self.feedforward_norm = nn.LayerNorm(dim)

    def forward(self, inputs, mask):
        attended = self.attention_dropout(self.attention(inputs, mask))
        hidden = self.attention_norm(inputs + attended)
        return self.feedforward_norm(hidden + self.feedforward(hidden))


class BehaviorTransformer(nn.Module):
    """A stack of :class:`TransformerBlock` over right- or otherwise-padded sequences.

    Each block sees only the real positions as keys, so the outputs at real positions do not
    depend on what padding positions hold; the outputs at padding positions are set to 0.

    Parameters
    ----------
    dim : int
    n_layers : int, default=1
        Number of blocks b (the paper finds b = 1 best, Table 3).
    n_heads : int, default=8
    feedforward_dim : int, default=None
    dropout : float, default=0.2

    Shapes
    ------
    inputs : (batch_size, T, d), mask : (batch_size, T) bool, True at real positions (at least
    one per row); returns (batch_size, T, d), 0 where ``mask`` is False
    """

    def __init__(self, dim, n_layers=1, n_heads=8, feedforward_dim=None, dropout=0.2):
        super().__init__()
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, n_heads, feedforward_dim, dropout) for _ in range(n_layers)
        )

    def forward(self, inputs, mask):
        if not mask.any(dim=1).all():
            raise ValueError("Every sequence needs a real position (the candidate's).")
        # Zeroed, so not even a NaN in padding reaches a real position (0 * NaN is NaN).
        outputs = torch.where(mask.unsqueeze(-1), inputs, torch.zeros_like(inputs))
        for block in self.blocks:
            outputs = block(outputs, mask)
        return torch.where(mask.unsqueeze(-1), outputs, torch.zeros_like(outputs))
