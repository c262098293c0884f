"""Pooling of variable-length sequences: masked sum / mean, and DIN's attention (eq. 3).

Every layer here takes the padded embeddings (batch, L, d) together with the true ``lengths``
and builds its mask from them, never from the data: a padding position can hold any id and any
vector (even a real item's) and still contributes nothing. Padding is on the right
(positions ``lengths[b]..L-1`` of row ``b``), the layout :class:`~sk_ctr.CTRTransformer`
produces.
"""

import torch
from torch import nn

from sk_ctr.layers.mlp import MLP

POOLING_MODES = ("sum", "mean")
NORMALIZATIONS = (None, "softmax")


def sequence_mask(lengths, max_length):
    """Boolean mask of the real items of right-padded sequences.

    Parameters
    ----------
    lengths : torch.Tensor of shape (batch_size,) or (batch_size, n_sequences), int64
        Number of real items per row, 0..``max_length``.
    max_length : int
        L, the padded length.

    Returns
    -------
    torch.Tensor of shape (*lengths.shape, max_length), bool
        ``True`` at positions ``< lengths``.
    """
    positions = torch.arange(max_length, device=lengths.device)
    return positions < lengths.unsqueeze(-1)


class SequencePooling(nn.Module):
    """Sum or mean of the real items of each sequence: the pooling layer of DIN's base model
    (section 4.1, "e.g. sum operation").

    Padding positions are replaced by zeros before the sum, so neither their ids nor their
    vectors (not even NaN) reach the output. The mean divides by the true length; the mean
    of an empty sequence is the zero vector, like its sum.

    Parameters
    ----------
    mode : {"sum", "mean"}, default="sum"

    Shapes
    ------
    embeddings : (batch_size, L, d), lengths : (batch_size,) int64
    returns (batch_size, d)
    """

    def __init__(self, mode="sum"):
        super().__init__()
        if mode not in POOLING_MODES:
            raise ValueError(f"mode must be one of {POOLING_MODES}, got {mode!r}.")
        self.mode = mode

    def forward(self, embeddings, lengths):
        mask = sequence_mask(lengths, embeddings.shape[1]).unsqueeze(-1)
        total = torch.where(mask, embeddings, torch.zeros_like(embeddings)).sum(dim=1)
        if self.mode == "sum":
            return total
        return total / lengths.clamp(min=1).unsqueeze(-1).to(total.dtype)

    def extra_repr(self):
        return f"mode={self.mode!r}"


class ActivationUnit(nn.Module):
    """The activation unit g(V_i, V_a) of DIN (eq. 3, Fig. 2): one scalar score per behaviour.

    An MLP over ``[V_i, V_a, V_i - V_a, V_i * V_a]`` (behaviour, candidate, their difference and
    their element-wise product), then a linear unit without activation.

    Fig. 2 (as drawn in the KDD 2018 version of the paper; the stored text has only its
    caption) feeds the unit the behaviour, the candidate and their *outer* product ("Out
    Product"), then Linear(36), PReLU/Dice and Linear(1). We use the inputs of the authors'
    released code instead (difference and element-wise product): the element-wise product is
    the diagonal of the outer product, whose sum is the inner product <V_i, V_a>, the
    relevance signal the unit must learn, and the difference adds a distance. The outer
    product alone has d^2 entries per position (576 for a 24-dimensional goods vector, against
    4 d = 96 inputs here), and its off-diagonal terms compare unrelated embedding dimensions.

    The MLP runs on the real positions only (gathered with the mask), so with ``"dice"`` the
    mini-batch statistics of eq. 6 are taken over real behaviours, and padding never changes
    the score of a real one. Padding positions get a score of exactly 0.

    Parameters
    ----------
    embed_dim : int
        Size d of a behaviour vector and of the candidate vector.
    hidden_units : sequence of int, default=(36,)
        Widths of the unit's hidden layers (Fig. 2: one layer of 36).
    activation : str, default="dice"
        Activation of the hidden layers (Fig. 2: PReLU or Dice), see
        :func:`~sk_ctr.layers.make_activation`.

    Shapes
    ------
    behaviors : (batch_size, L, d), candidate : (batch_size, d), mask : (batch_size, L) bool
    returns (batch_size, L), 0 where ``mask`` is False
    """

    def __init__(self, embed_dim, hidden_units=(36,), activation="dice"):
        super().__init__()
        self.mlp = MLP(4 * embed_dim, hidden_units, activation)

    def forward(self, behaviors, candidate, mask):
        rows, positions = mask.nonzero(as_tuple=True)
        keys = behaviors[rows, positions]
        query = candidate[rows]
        features = torch.cat([keys, query, keys - query, keys * query], dim=-1)
        scores = behaviors.new_zeros(mask.shape)
        scores[rows, positions] = self.mlp(features)
        return scores


class AttentionPooling(nn.Module):
    """DIN's weighted sum pooling V_u = sum_i g(V_i, V_a) V_i over the real behaviours (eq. 3).

    With ``normalization=None`` (the paper) the weights are the raw outputs of the
    :class:`ActivationUnit`: they do not sum to one, so the norm of V_u keeps the intensity of
    the user's interest in the candidate. ``"softmax"`` normalises them over the real
    behaviours of each row (the authors' released code and most libraries do this). Either
    way a padding position has weight exactly 0 and its vector is zeroed before the sum, and
    a row without any behaviour gets the zero interest vector and zero weights (no NaN: the
    softmax of an empty row is never taken).

    Parameters
    ----------
    embed_dim : int
        Size d of a behaviour vector and of the candidate vector.
    hidden_units : sequence of int, default=(36,)
        Hidden widths of the activation unit.
    activation : str, default="dice"
        Activation of the activation unit.
    normalization : {None, "softmax"}, default=None

    Shapes
    ------
    behaviors : (batch_size, L, d), candidate : (batch_size, d), lengths : (batch_size,) int64
    returns (batch_size, d)
    """

    def __init__(self, embed_dim, hidden_units=(36,), activation="dice", normalization=None):
        super().__init__()
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}."
            )
        self.unit = ActivationUnit(embed_dim, hidden_units, activation)
        self.normalization = normalization

    def weights(self, behaviors, candidate, lengths):
        """The weights w_i of eq. 3.

        Returns
        -------
        torch.Tensor of shape (batch_size, L)
            Exactly 0 at padding positions and on rows of length 0.
        """
        return self._weights(behaviors, candidate, sequence_mask(lengths, behaviors.shape[1]))

    def forward(self, behaviors, candidate, lengths):
        mask = sequence_mask(lengths, behaviors.shape[1])
        weights = self._weights(behaviors, candidate, mask)
        mask = mask.unsqueeze(-1)
        behaviors = torch.where(mask, behaviors, torch.zeros_like(behaviors))
        return (weights.unsqueeze(-1) * behaviors).sum(dim=1)

    def _weights(self, behaviors, candidate, mask):
        scores = self.unit(behaviors, candidate, mask)
        if self.normalization is None:
            return scores
        # -inf at padding gives it probability 0; an empty row would be all -inf (NaN in the
        # softmax and in its gradient), so its scores are left at 0 and zeroed by the mask.
        empty = ~mask.any(dim=1, keepdim=True)
        scores = scores.masked_fill(~mask & ~empty, float("-inf"))
        return torch.softmax(scores, dim=1) * mask

    def extra_repr(self):
        return f"normalization={self.normalization!r}"
