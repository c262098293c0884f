"""DIEN's layers (Zhou et al., "Deep Interest Evolution Network for Click-Through Rate
Prediction", AAAI 2019): the interest extractor GRU with its auxiliary loss (section 4.2,
eq. 1-6) and the interest evolving layer, a GRU whose update is driven by attention to the
candidate (section 4.3, eq. 7-10).

Sequences are right-padded (positions ``lengths[b]..L-1`` of row ``b``), the layout of
:class:`~sk_ctr.CTRTransformer`; every mask is built from ``lengths``, never from the data. A
row of length 0 (an empty history) has no interest states, zero attention, the zero interest
vector and no auxiliary term.
"""

import torch
from torch import nn

from sk_ctr.layers.attention import sequence_mask

EVOLUTION_MODES = ("augru", "agru", "aigru")


class AttentionalGRUCell(nn.Module):
    """One step of the interest evolving GRU, with the attention score a_t of the step.

    The GRU of eq. 1-4, in the paper's notation (u the update gate, r the reset gate)::

        u_t = sigma(W_u i_t + U_u h_{t-1} + b_u)
        r_t = sigma(W_r i_t + U_r h_{t-1} + b_r)
        h~_t = tanh(W_h i_t + r_t * (U_h h_{t-1}) + b_h)
        h_t = (1 - u_t) * h_{t-1} + u_t * h~_t

    and the three ways of section 4.3 to let a_t drive it:

    * ``"augru"`` (eq. 9-10, DIEN's choice): the update gate is scaled, u'_t = a_t u_t, so a
      behaviour unrelated to the candidate (a_t near 0) barely moves the hidden state;
    * ``"agru"`` (eq. 8): the attention replaces the update gate,
      h_t = (1 - a_t) h_{t-1} + a_t h~_t (no u_t, so no W_u, U_u, b_u);
    * ``"aigru"``: the attention scales the input, i'_t = a_t i_t, of a plain GRU.

    Parameters
    ----------
    input_dim : int
        Size of i_t.
    hidden_dim : int
        Size of h_t.
    mode : {"augru", "agru", "aigru"}, default="augru"

    Shapes
    ------
    inputs : (batch_size, input_dim), hidden : (batch_size, hidden_dim),
    attention : (batch_size,); returns (batch_size, hidden_dim)
    """

    def __init__(self, input_dim, hidden_dim, mode="augru"):
        super().__init__()
        if mode not in EVOLUTION_MODES:
            raise ValueError(f"mode must be one of {EVOLUTION_MODES}, got {mode!r}.")
        self.mode = mode
        self.n_maps = 2 if mode == "agru" else 3  # [r, h~] or [u, r, h~]
        self.input_map = nn.Linear(input_dim, self.n_maps * hidden_dim)  # W_*, b_*
        self.hidden_map = nn.Linear(hidden_dim, self.n_maps * hidden_dim, bias=False)  # U_*

    def forward(self, inputs, hidden, attention):
        return self.step(self.project(inputs, attention), hidden, attention)

    def project(self, inputs, attention):
        """The input terms W_* i_t + b_* of the gates, for one step or for all steps at once
        (one matrix product outside the loop over time).

        Parameters
        ----------
        inputs : torch.Tensor of shape (..., input_dim)
        attention : torch.Tensor of shape (...)

        Returns
        -------
        torch.Tensor of shape (..., n_maps * hidden_dim)
        """
        if self.mode == "aigru":
            inputs = attention.unsqueeze(-1) * inputs
        return self.input_map(inputs)

    def step(self, projected, hidden, attention):
        """h_t from h_{t-1} and the step's :meth:`project` output.

        Parameters
        ----------
        projected : torch.Tensor of shape (batch_size, n_maps * hidden_dim)
        hidden : torch.Tensor of shape (batch_size, hidden_dim)
        attention : torch.Tensor of shape (batch_size,)

        Returns
        -------
        torch.Tensor of shape (batch_size, hidden_dim)
        """
        from_input = projected.chunk(self.n_maps, dim=1)
        from_hidden = self.hidden_map(hidden).chunk(self.n_maps, dim=1)
        reset = torch.sigmoid(from_input[-2] + from_hidden[-2])
        candidate = torch.tanh(from_input[-1] + reset * from_hidden[-1])
        attention = attention.unsqueeze(-1)
        if self.mode == "agru":
            update = attention
        else:
            update = torch.sigmoid(from_input[0] + from_hidden[0])
            if self.mode == "augru":
                update = attention * update
        return hidden + update * (candidate - hidden)

    def extra_repr(self):
        return f"mode={self.mode!r}"


def auxiliary_loss(interests, behaviors, negatives, lengths):
    """DIEN's auxiliary loss (eq. 6): each interest state h_t should predict the next real
    behaviour e_{t+1} against a sampled negative item ê_{t+1}.

    L_aux = -mean over the steps t with t + 1 < length of
    [log sigma(<h_t, e_{t+1}>) + log(1 - sigma(<h_t, ê_{t+1}>))].

    The paper scores a pair by the inner product (eq. 6, "[x1, x2] is the inner product");
    the authors' released code and DeepCTR score it with a small MLP over the concatenation.
    The paper sums over steps and averages over users; the mean over steps used here keeps the
    term's scale independent of the history length, as the click loss is a mean. A batch
    without any such step (every history shorter than 2) gives 0.

    Parameters
    ----------
    interests : torch.Tensor of shape (batch_size, L, d)
        h_t of the interest extractor.
    behaviors : torch.Tensor of shape (batch_size, L, d)
        e_t, the embedded history (the positives are positions 1..L-1).
    negatives : torch.Tensor of shape (batch_size, L, d)
        ê_t, the embedded negatives (position t + 1 is the negative of step t; position 0 is
        unused).
    lengths : torch.Tensor of shape (batch_size,), int64

    Returns
    -------
    torch.Tensor of shape ()
    """
    steps = sequence_mask(lengths - 1, interests.shape[1] - 1)  # t + 1 < length
    states = interests[:, :-1][steps]
    positive = (states * behaviors[:, 1:][steps]).sum(dim=-1)
    negative = (states * negatives[:, 1:][steps]).sum(dim=-1)
    if states.shape[0] == 0:
        return interests.sum() * 0  # zero, with a graph, so backward still runs
    # log(1 - sigma(x)) = log sigma(-x), the stable form of both terms
    return -(nn.functional.logsigmoid(positive) + nn.functional.logsigmoid(-negative)).mean()


class InterestEvolution(nn.Module):
    """DIEN's interest extractor and interest evolving layers: the user's interest in one
    candidate, read from one behaviour history (section 4, Fig. 1).

    1. Interest extractor (eq. 1-4): a GRU over the behaviour vectors e_t gives the interest
       states h_t (:class:`torch.nn.GRU`, run over the padded sequence: it is causal, so the
       states of real positions never see the right padding, which is zeroed). PyTorch's GRU
       is eq. 1-4 with its gate z = 1 - u, and b_h split into a bias inside and one outside
       the reset product.
    2. Attention (eq. 7): a_t = exp(h_t W e_a) / sum_j exp(h_j W e_a) over the row's real steps,
       e_a the candidate's vector.
    3. Interest evolving layer: an :class:`AttentionalGRUCell` (AUGRU by default, eq. 9-10)
       over h_t, driven by a_t; its state after the row's last real step, h'_T, is the
       interest vector (zero for an empty history).

    The hidden size is the behaviour size d, as in the paper, where h_t and e_{t+1} meet in
    the inner product of the auxiliary loss (:meth:`auxiliary_loss`).

    Parameters
    ----------
    embed_dim : int
        Size d of a behaviour vector, of the candidate vector and of every hidden state.
    mode : {"augru", "agru", "aigru"}, default="augru"
        How the attention drives the evolving GRU (:class:`AttentionalGRUCell`).

    Shapes
    ------
    behaviors : (batch_size, L, d), candidate : (batch_size, d), lengths : (batch_size,) int64;
    :meth:`forward` returns (batch_size, d), :meth:`weights` (batch_size, L)
    """

    def __init__(self, embed_dim, mode="augru"):
        super().__init__()
        self.extractor = nn.GRU(embed_dim, embed_dim, batch_first=True)
        # W of eq. 7 as W e_a (a linear map of the candidate), then <h_t, W e_a>: one product
        # per row instead of one per step, and ONNX has no bilinear operator
        self.attention = nn.Linear(embed_dim, embed_dim, bias=False)
        self.evolution = AttentionalGRUCell(embed_dim, embed_dim, mode)

    def interests(self, behaviors, lengths):
        """The interest states h_t (eq. 1-4), zero at padding positions.

        Returns
        -------
        torch.Tensor of shape (batch_size, L, d)
        """
        mask = sequence_mask(lengths, behaviors.shape[1]).unsqueeze(-1)
        behaviors = torch.where(mask, behaviors, torch.zeros_like(behaviors))
        states, _ = self.extractor(behaviors)
        return torch.where(mask, states, torch.zeros_like(states))

    def weights(self, behaviors, candidate, lengths):
        """The attention a_t of eq. 7 of every step.

        Returns
        -------
        torch.Tensor of shape (batch_size, L)
            Sums to 1 over a row's real steps; exactly 0 at padding and on empty rows.
        """
        return self._weights(self.interests(behaviors, lengths), candidate, lengths)

    def _weights(self, interests, candidate, lengths):
        mask = sequence_mask(lengths, interests.shape[1])
        scores = (interests * self.attention(candidate).unsqueeze(1)).sum(dim=-1)
        # an empty row would be all -inf (NaN in the softmax): its scores stay, then are zeroed
        empty = ~mask.any(dim=1, keepdim=True)
        scores = scores.masked_fill(~mask & ~empty, float("-inf"))
        return torch.softmax(scores, dim=1) * mask

    def forward(self, behaviors, candidate, lengths):
        return self.evolve(self.interests(behaviors, lengths), candidate, lengths)

    def evolve(self, interests, candidate, lengths):
        """The interest vector h'_T from the interest states (steps 2-3): :meth:`forward` on
        the output of :meth:`interests`, which a caller that also needs h_t (the auxiliary
        loss) computes once.

        Parameters
        ----------
        interests : torch.Tensor of shape (batch_size, L, d)
            h_t, as :meth:`interests` returns them.
        candidate : torch.Tensor of shape (batch_size, d)
        lengths : torch.Tensor of shape (batch_size,), int64

        Returns
        -------
        torch.Tensor of shape (batch_size, d)
        """
        attention = self._weights(interests, candidate, lengths)
        projected = self.evolution.project(interests, attention)
        hidden = interests.new_zeros(interests.shape[0], interests.shape[2])
        # A Python loop over time is inherent to a recurrent layer; each step is one batched
        # cell step (the input terms of all steps are one product above), and a row stops
        # moving after its last real step. The loop ends at the batch's longest history,
        # except in a trace (TorchScript / ONNX export), which must hold every step of L.
        steps = interests.shape[1]
        if not torch.jit.is_tracing() and lengths.numel():
            steps = min(steps, int(lengths.max()))
        for t in range(steps if lengths.numel() else 0):
            step = self.evolution.step(projected[:, t], hidden, attention[:, t])
            hidden = torch.where((t < lengths).unsqueeze(-1), step, hidden)
        return hidden

    def auxiliary_loss(self, behaviors, negatives, lengths):
        """The auxiliary loss of eq. 6 on the interest states of ``behaviors``
        (:func:`auxiliary_loss`).

        Parameters
        ----------
        behaviors, negatives : torch.Tensor of shape (batch_size, L, d)
            The embedded history and the embedded negative items (position t + 1 is the
            negative of step t).
        lengths : torch.Tensor of shape (batch_size,), int64

        Returns
        -------
        torch.Tensor of shape ()
        """
        interests = self.interests(behaviors, lengths)
        return auxiliary_loss(interests, behaviors, negatives, lengths)
