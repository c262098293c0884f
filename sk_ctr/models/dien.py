"""The Deep Interest Evolution Network (Zhou et al., AAAI 2019)."""

import torch

from sk_ctr.layers.interest_evolution import (
    EVOLUTION_MODES,
    InterestEvolution,
    auxiliary_loss,
)
from sk_ctr.models.din import DINNet
from sk_ctr.preprocessing.fields import FIRST_VALUE_ID


class DIENNet(DINNet):
    """Deep Interest Evolution Network (section 4, Fig. 1): DIN's network with each behaviour
    group pooled by :class:`~sk_ctr.layers.interest_evolution.InterestEvolution` (an interest
    extractor GRU, attention a_t = softmax(h_t W e_a) to the candidate, and an attentional GRU
    whose last state is the interest vector) instead of DIN's attention pooling. The interest
    vector takes the place of the group's pooled histories in the MLP input, next to the other
    fields and the candidate (Fig. 1).

    Behaviour groups are DIN's (``behavior_grouping``): with ``"concat"`` (the paper: item and
    category of each past click) one GRU runs over the concatenated goods vectors.

    Parameters
    ----------
    fields, embed_dim, hidden_units, activation, dropout, batch_norm, init_std, \
sequence_pooling, behavior_grouping
        As :class:`~sk_ctr.models.din.DINNet`.
    attention_hidden_units, attention_normalization
        Accepted for the shared constructor and unused: DIEN's attention is the bilinear
        softmax of eq. 7.
    evolution : {"augru", "agru", "aigru"}, default="augru"
        How the attention drives the interest evolving GRU (eq. 8-10).

    Attributes
    ----------
    behavior_groups : list of tuple of str
        The history columns of each interest evolution module, in order.
    """

    def __init__(
        self,
        fields,
        embed_dim=16,
        hidden_units=(200, 80),
        activation="dice",
        dropout=0.0,
        batch_norm=False,
        init_std=0.01,
        sequence_pooling="sum",
        attention_hidden_units=(36,),
        attention_normalization=None,
        behavior_grouping="concat",
        evolution="augru",
    ):
        if evolution not in EVOLUTION_MODES:
            raise ValueError(f"evolution must be one of {EVOLUTION_MODES}, got {evolution!r}.")
        # read by _make_pooling while DINNet.__init__ builds one module per behaviour group
        self.evolution = evolution
        super().__init__(
            fields,
            embed_dim,
            hidden_units,
            activation,
            dropout,
            batch_norm,
            init_std,
            sequence_pooling,
            attention_hidden_units,
            attention_normalization,
            behavior_grouping,
        )
        # Negatives of the auxiliary loss: ids 2..vocab_size - 1 of each history's vocabulary
        # (0 is padding, 1 "other"); a vocabulary without any real id falls back to "other".
        self.register_buffer(
            "negative_low",
            torch.tensor([min(FIRST_VALUE_ID, f.vocab_size - 1) for f in self.sequence_fields]),
            persistent=False,
        )
        self.register_buffer(
            "negative_high",
            torch.tensor([f.vocab_size for f in self.sequence_fields]),
            persistent=False,
        )

    def _make_pooling(self, embed_dim, hidden_units, activation, normalization):
        return InterestEvolution(embed_dim, self.evolution)

    def sample_negatives(self, sequences, generator=None):
        """Negative items of the auxiliary loss: for every position of every sequence, an id
        drawn uniformly from its vocabulary's real ids (the paper samples "from the item
        set"), by ``generator`` (default: torch's global one, which the estimator seeds).

        Parameters
        ----------
        sequences : torch.Tensor of shape (batch_size, n_sequences, L), int64
        generator : torch.Generator, default=None

        Returns
        -------
        torch.Tensor of shape (batch_size, n_sequences, L), int64
        """
        uniform = torch.rand(sequences.shape, generator=generator, device=sequences.device)
        low = self.negative_low.unsqueeze(-1)
        span = (self.negative_high - self.negative_low).unsqueeze(-1)
        return low + (uniform * span).long().clamp(max=span - 1)

    def forward(self, ids, values, sequences=None, lengths=None, auxiliary=False, negatives=None):
        """The click logits, and with ``auxiliary=True`` the auxiliary loss of the batch from
        the same interest states h_t (the extractor GRU runs once per batch).

        Parameters
        ----------
        ids, values, sequences, lengths : torch.Tensor
            See :class:`~sk_ctr.models.din.EmbeddingMLPNet`.
        auxiliary : bool, default=False
            Also return the auxiliary loss (:meth:`auxiliary_loss`); what training asks for.
        negatives : torch.Tensor of shape (batch_size, n_sequences, L), int64, default=None
            The negative ids of the auxiliary loss; ``None``: :meth:`sample_negatives`, drawn
            after the logits are computed.

        Returns
        -------
        logits : torch.Tensor of shape (batch_size,)
        auxiliary_loss : torch.Tensor of shape ()
            Only with ``auxiliary=True``.
        """
        if not auxiliary:
            return super().forward(ids, values, sequences, lengths)
        fields = self.embedding(ids, values)
        if self.groups:
            pooled, extracted = self._evolve(fields, self._sequence_vectors(sequences), lengths)
        else:  # no history paired with a candidate: no interest states
            pooled, extracted = self.pool(fields, sequences, lengths), []
        logits = self.mlp(torch.cat([fields, pooled], dim=1).flatten(start_dim=1))
        if not extracted:
            return logits, fields.sum() * 0  # zero, with a graph, so backward still runs
        if negatives is None:
            negatives = self.sample_negatives(sequences)
        negative_behaviors = self._sequence_vectors(negatives)
        losses = []
        for group, (keys, states, group_lengths) in zip(self.groups, extracted, strict=True):
            negative_keys = self._group_inputs(fields, negative_behaviors, lengths, group)[0]
            losses.append(auxiliary_loss(states, keys, negative_keys, group_lengths))
        return logits, torch.stack(losses).mean()

    def _pool(self, fields, behaviors, lengths):
        return self._evolve(fields, behaviors, lengths)[0]

    def _evolve(self, fields, behaviors, lengths):
        """The pooled sequences, as DIN's ``_pool`` gives them, and per behaviour group the
        goods vectors (batch, L, m k), the interest states h_t and the group's lengths."""
        interests, extracted = [], []
        for group, evolution in zip(self.groups, self.attention, strict=True):
            keys, query, group_lengths = self._group_inputs(fields, behaviors, lengths, group)
            states = evolution.interests(keys, group_lengths)
            interests.append(evolution.evolve(states, query, group_lengths))
            extracted.append((keys, states, group_lengths))
        return self._place_interests(fields, behaviors, lengths, interests), extracted

    def auxiliary_loss(self, ids, values, sequences=None, lengths=None, negatives=None):
        """DIEN's auxiliary loss (eq. 6) of the batch, averaged over the behaviour groups:
        each interest state h_t against the next behaviour and a negative item
        (``forward(..., auxiliary=True)[1]``).

        With ``behavior_grouping="concat"`` the negative goods vector concatenates a negative
        drawn for each history independently (an item and a category that need not belong
        together; the authors' code takes the category of the sampled item).

        Parameters
        ----------
        ids, values, sequences, lengths : torch.Tensor
            The batch, as :meth:`forward` takes it.
        negatives : torch.Tensor of shape (batch_size, n_sequences, L), int64, default=None
            The negative ids (position t + 1 for step t); ``None``: :meth:`sample_negatives`.

        Returns
        -------
        torch.Tensor of shape ()
        """
        return self.forward(ids, values, sequences, lengths, True, negatives)[1]
