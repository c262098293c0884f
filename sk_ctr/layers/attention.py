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


def real_positions(mask):
    """Indices of the real items of a (batch, L) mask in the flattened (batch * L) grid, and
    the row of each, both int64 of shape (n_real,), in row-major order."""
    real = mask.flatten().nonzero().squeeze(1)
    return real, torch.div(real, mask.shape[1], rounding_mode="floor")


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

    The first linear layer is applied by blocks, W [e, c, e - c, e * c] = (W_1 + W_3) e +
    W_4 (e * c) + (W_2 - W_3) c, so the candidate's term is computed once per row instead of
    once per position and the 4 d-wide concatenation is never built (same parameters, equal
    to float rounding). A batch with padding runs the MLP on its real positions only, picked
    with ``index_select`` on the flattened (batch * L) grid (its backward is an ``index_add``,
    far cheaper than advanced indexing's), so with ``"dice"`` the mini-batch statistics of
    eq. 6 are taken over real behaviours. A batch without padding is scored on the grid as it
    is, with one matrix per row, (W_1 + W_3) + W_4 diag(c): a bmm with d inputs per position
    instead of 2 d, and no gather or scatter. Measured (docs/benchmarks.md, "DIN training
    speed"), scoring the grid and dropping the padding afterwards was at best level with the
    gather (10 % padding) and slower with more, so the rule is simply: the grid when nothing
    is padding.

    Padding never changes the score of a real one, and padding positions get a score of
    exactly 0.

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
        self.embed_dim = embed_dim

    def forward(self, behaviors, candidate, mask):
        if not self.training:
            return self.masked_scores(behaviors, candidate, mask)
        if bool(mask.all()):
            return self.grid_scores(behaviors, candidate)
        real, rows = real_positions(mask)
        items = behaviors.flatten(end_dim=1).index_select(0, real)
        scores = behaviors.new_zeros(mask.numel())
        return scores.index_copy(0, real, self.item_scores(items, candidate, rows)).view(mask.shape)

    def masked_scores(self, behaviors, candidate, mask):
        """Scores (batch, L) of the whole grid with padding zeroed, 0 at padding: the form of
        evaluation and export (no data-dependent branch or scatter for a trace to freeze;
        padding changes no statistic, Dice using its running ones then)."""
        behaviors = behaviors.masked_fill(~mask.unsqueeze(-1), 0.0)
        return self.grid_scores(behaviors, candidate).masked_fill(~mask, 0.0)

    def grid_scores(self, behaviors, candidate):
        """Scores (batch, L) of every position of ``behaviors``, none of them padding."""
        hidden = self._grid_first_layer(behaviors, candidate)
        return self._score(hidden.flatten(end_dim=1)).view(hidden.shape[:2])

    def item_scores(self, items, candidate, rows):
        """Scores (n,) of the real items (n, d) gathered from the grid, of rows ``rows``."""
        query_term, key_weight, product = self._blocks(candidate)
        pairs = torch.cat([items, items * candidate.index_select(0, rows)], dim=-1)
        weight = torch.cat([key_weight, product], dim=1).t()
        return self._score(torch.addmm(query_term.index_select(0, rows), pairs, weight))

    def _blocks(self, candidate):
        """The candidate's term (W_2 - W_3) c + b (batch, h) and the blocks W_1 + W_3 and W_4
        of the first layer's weight, each (h, d)."""
        first = self._layers()[0]
        key, query, difference, product = first.weight.split(self.embed_dim, dim=1)
        return (
            torch.addmm(first.bias, candidate, (query - difference).t()),
            key + difference,
            product,
        )

    def _grid_first_layer(self, behaviors, candidate):
        """Pre-activations (batch, L, h) of the first layer at every position: one matrix per
        row, (W_1 + W_3) + W_4 diag(c), so e * c is never formed and the product is a bmm
        with d inputs instead of 2 d."""
        query_term, key_weight, product = self._blocks(candidate)
        weights = key_weight.t() + candidate.unsqueeze(-1) * product.t()  # (batch, d, h)
        return torch.baddbmm(query_term.unsqueeze(1), behaviors, weights)

    def _score(self, hidden):
        """The rest of the unit's MLP on the first layer's pre-activations."""
        return self._layers()[1](hidden).squeeze(-1)

    def _layers(self):
        """The MLP's first linear layer and the modules after it, in order."""
        if len(self.mlp.hidden) == 0:  # no hidden layer: the output unit is the first
            return self.mlp.output, nn.Identity()
        return self.mlp.hidden[0], nn.Sequential(*self.mlp.hidden[1:], self.mlp.output)


class AttentionPooling(nn.Module):
    """DIN's weighted sum pooling V_u = sum_i g(V_i, V_a) V_i over the real behaviours (eq. 3).

    With ``normalization=None`` (the paper) the weights are the raw outputs of the
    :class:`ActivationUnit`: they do not sum to one, so the norm of V_u keeps the intensity of
    the user's interest in the candidate. ``"softmax"`` normalises them over the real
    behaviours of each row (the authors' released code and most libraries do this). Either
    way a padding position has weight exactly 0 and its vector never enters the sum, and
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
        if not self.training:  # the dense form, as ActivationUnit's, for evaluation and export
            behaviors = behaviors.masked_fill(~mask.unsqueeze(-1), 0.0)
            weights = self._normalize(self.unit.masked_scores(behaviors, candidate, mask), mask)
            return torch.bmm(weights.unsqueeze(1), behaviors).squeeze(1)
        if bool(mask.all()):
            weights = self._normalize(self.unit.grid_scores(behaviors, candidate), mask)
            return torch.bmm(weights.unsqueeze(1), behaviors).squeeze(1)
        # The real items only, gathered once for the unit and the sum: a weight of 0 would not
        # cancel a NaN or inf padding vector, and no pass over the whole grid is needed.
        real, rows = real_positions(mask)
        items = behaviors.flatten(end_dim=1).index_select(0, real)
        weights = self.unit.item_scores(items, candidate, rows)
        if self.normalization is not None:
            scores = weights.new_zeros(mask.numel()).index_copy(0, real, weights)
            weights = self._normalize(scores.view(mask.shape), mask).flatten().index_select(0, real)
        terms = weights.unsqueeze(1) * items
        return behaviors.new_zeros(mask.shape[0], behaviors.shape[-1]).index_add(0, rows, terms)

    def _weights(self, behaviors, candidate, mask):
        return self._normalize(self.unit(behaviors, candidate, mask), mask)

    def _normalize(self, scores, mask):
        """The weights (batch, L) from the unit's scores, 0 at padding."""
        if self.normalization is None:
            return scores
        # -inf at padding gives it probability 0; an empty row would be all -inf (NaN in the
        # softmax and in its gradient), so its scores are left at 0 and zeroed by the mask.
        empty = ~mask.any(dim=1, keepdim=True)
        scores = scores.masked_fill(~mask & ~empty, float("-inf"))
        return torch.softmax(scores, dim=1) * mask

    def extra_repr(self):
        return f"normalization={self.normalization!r}"
