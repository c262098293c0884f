"""DIN's base model (embedding & MLP with sum pooling) and the Deep Interest Network."""

import numpy as np
import torch

from sk_ctr.layers.attention import AttentionPooling, SequencePooling
from sk_ctr.layers.mlp import MLP
from sk_ctr.layers.sequence_embedding import SequenceEmbedding
from sk_ctr.models.base import CTRNetwork

BEHAVIOR_GROUPINGS = ("concat", "separate")


class EmbeddingMLPNet(CTRNetwork):
    """The base model of DIN (section 4.1, Fig. 2 left): every id feature is embedded, every
    sequence (behaviour history or multi-valued column) is pooled to one vector by a masked
    sum (or mean), and the concatenation goes through an MLP.

    One :class:`~sk_ctr.layers.SequenceEmbedding` table holds the categorical fields and the
    sequence fields with a vocabulary of their own; a behaviour history (``Field.shares``)
    reads its candidate's rows.

    Parameters
    ----------
    fields : sequence of Field
        The schema of :class:`~sk_ctr.CTRTransformer` (categorical, numeric, sequence fields).
    embed_dim : int, default=16
    hidden_units : sequence of int, default=(200, 80)
        Widths of the MLP (Fig. 2: 200-80, then the output unit).
    activation : str, default="dice"
    dropout : float, default=0.0
    batch_norm : bool, default=False
    init_std : float, default=0.01
    sequence_pooling : {"sum", "mean"}, default="sum"

    Shapes
    ------
    ids : (batch_size, n_categorical) int64, values : (batch_size, n_numeric) float,
    sequences : (batch_size, n_sequences, L) int64, lengths : (batch_size, n_sequences) int64;
    returns logits of shape (batch_size,)
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
    ):
        super().__init__(fields)
        self.categorical_names = categorical = [f.name for f in fields if f.kind == "categorical"]
        self.sequence_fields = [f for f in fields if f.kind == "sequence"]
        for field in self.sequence_fields:
            if field.shares is not None and field.shares not in categorical:
                raise ValueError(
                    f"Sequence field {field.name!r} shares the vocabulary of {field.shares!r}, "
                    f"which is not a categorical field; categorical fields: {categorical}."
                )
        self.candidates = [
            None if f.shares is None else categorical.index(f.shares) for f in self.sequence_fields
        ]
        self.embedding = SequenceEmbedding(
            self.vocab_sizes,
            self.n_numeric,
            embed_dim,
            [f.vocab_size for f in self.sequence_fields],
            self.candidates,
            init_std,
        )
        self.pooling = SequencePooling(sequence_pooling)
        n_inputs = self.n_fields + len(self.sequence_fields)
        self.mlp = MLP(n_inputs * embed_dim, hidden_units, activation, dropout, batch_norm)
        self.embed_dim = embed_dim
        self.register_buffer("inverse_frequencies", None)  # set by set_frequencies

    def forward(self, ids, values, sequences=None, lengths=None):
        fields = self.embedding(ids, values)
        pooled = self.pool(fields, sequences, lengths)
        return self.mlp(torch.cat([fields, pooled], dim=1).flatten(start_dim=1))

    def pool(self, fields, sequences, lengths):
        """One vector per sequence field.

        Parameters
        ----------
        fields : torch.Tensor of shape (batch_size, n_categorical + n_numeric, embed_dim)
            The field embeddings (the candidates' vectors are the queries of DIN).
        sequences, lengths : torch.Tensor
            See the class docstring.

        Returns
        -------
        torch.Tensor of shape (batch_size, n_sequences, embed_dim)
        """
        if not self.sequence_fields:
            return fields.new_zeros(fields.shape[0], 0, self.embed_dim)
        if sequences is None or lengths is None:
            names = [f.name for f in self.sequence_fields]
            raise ValueError(
                f"The network has sequence fields {names}; pass sequences and lengths."
            )
        return self._pool(fields, self._sequence_vectors(sequences), lengths)

    def _sequence_vectors(self, sequences):
        """Hook: the vectors (batch, n_sequences, L, k) of every position, padding included."""
        return self.embedding.sequence(sequences)

    def _pool(self, fields, behaviors, lengths):
        # behaviors: (batch, n_sequences, L, k); pool every sequence by sum / mean.
        batch_size, n_sequences = lengths.shape
        pooled = self.pooling(behaviors.flatten(end_dim=1), lengths.flatten())
        return pooled.view(batch_size, n_sequences, -1)

    def penalty(self, ids, values, sequences=None, lengths=None):
        """Per-sample squared L2 norm of every row the sample uses, each real history item
        included (the ``l2`` of the estimators, on looked-up rows only).

        Returns
        -------
        torch.Tensor of shape (batch_size,)
        """
        return self.embedding.squared_norm(ids, values, sequences, lengths)

    def adaptive_penalty(self, ids, values=None, sequences=None, lengths=None, row_weights=None):
        """DIN's adaptive regularisation (eq. 9-10) as a loss term:
        1/2 sum_{i : I_i = 1} ||w_i||^2 / n_i.

        Each distinct embedding row the mini-batch uses counts once (I_i of eq. 9), however
        often it appears; n_i is the id's training frequency (at least 1: an id never seen in
        training, e.g. "missing" in a column without missing values, is treated as seen once).
        The gradient with respect to w_i is w_i / n_i, the bracketed term of eq. 10 for
        lambda = 1. Numeric fields carry no id and are not penalised.

        Parameters
        ----------
        ids, values, sequences, lengths : torch.Tensor
            The batch, as :meth:`forward` takes it.
        row_weights : callable, default=None
            Maps the distinct rows used (int64 tensor of shape (n_rows,)) to a weight of each
            row's term, e.g. the share of a data-parallel rank in a row several ranks use;
            ``None``: 1.

        Returns
        -------
        torch.Tensor of shape ()
        """
        if self.inverse_frequencies is None:
            raise ValueError("adaptive_penalty needs the id frequencies: call set_frequencies.")
        rows = self.embedding.rows_used(ids, sequences, lengths)
        squares = self.embedding.table(rows).pow(2).sum(dim=1)
        terms = squares * self.inverse_frequencies[rows].to(squares.dtype)
        if row_weights is not None:
            terms = terms * row_weights(rows).to(terms.dtype)
        return 0.5 * terms.sum()

    def set_frequencies(self, frequencies):
        """Store 1 / n_i for every row of the embedding table, for :meth:`adaptive_penalty`.

        Parameters
        ----------
        frequencies : dict of str to array-like
            Training count of every local id of each categorical field and each sequence
            field with a vocabulary of its own (``CTRTransformer.frequencies_``: a candidate's
            counts include the items of the histories that share its rows).

        Returns
        -------
        self
        """
        counts = self._row_counts(frequencies).clamp(min=1)
        self.inverse_frequencies = (1 / counts).to(self.embedding.table.weight)
        return self

    def _row_counts(self, frequencies):
        """Per-field counts (local ids) laid out along the rows of the embedding table."""
        tables = list(
            zip(
                self.categorical_names,
                self.embedding.offsets.tolist(),
                self.vocab_sizes,
                strict=True,
            )
        )
        tables += [
            (f.name, offset, f.vocab_size)
            for f, offset, share in zip(
                self.sequence_fields,
                self.embedding.sequence_offsets.tolist(),
                self.candidates,
                strict=True,
            )
            if share is None
        ]
        counts = torch.zeros(self.embedding.table.num_embeddings, dtype=torch.float64)
        for name, offset, size in tables:
            if name not in frequencies:
                raise ValueError(f"frequencies has no counts for field {name!r}.")
            field_counts = np.asarray(frequencies[name], dtype=np.float64)
            if field_counts.shape != (size,):
                raise ValueError(
                    f"frequencies[{name!r}] has shape {field_counts.shape}; the field has "
                    f"{size} ids."
                )
            counts[offset : offset + size] = torch.from_numpy(field_counts)
        return counts


def group_behaviors(network, grouping):
    """The behaviour groups of a network with sequence fields: one group of every history
    that has a candidate (``"concat"``, aligned item by item) or one group per history
    (``"separate"``).

    Parameters
    ----------
    network : EmbeddingMLPNet
        Its ``candidates`` (the candidate of each sequence field, or None) and
        ``sequence_fields``.
    grouping : {"concat", "separate"}

    Returns
    -------
    groups : list of list of int
        Positions of each group's sequence fields.
    names : list of tuple of str
        Their column names.
    """
    if grouping not in BEHAVIOR_GROUPINGS:
        raise ValueError(
            f"behavior_grouping must be one of {BEHAVIOR_GROUPINGS}, got {grouping!r}."
        )
    histories = [s for s, share in enumerate(network.candidates) if share is not None]
    if grouping == "concat":
        groups = [histories] if histories else []
    else:
        groups = [[s] for s in histories]
    names = [tuple(network.sequence_fields[s].name for s in group) for group in groups]
    return groups, names


class DINNet(EmbeddingMLPNet):
    """Deep Interest Network (section 4.2, Fig. 2 right): the base model with each behaviour
    history pooled by attention, V_u = sum_i g(V_i, V_a) V_i (eq. 3), the query V_a being the
    embedding of the history's candidate.

    With ``behavior_grouping="concat"`` (the paper) all behaviour histories describe the same
    events position by position (``hist_item_id[t]`` and ``hist_cate_id[t]`` are the item and
    the category of the t-th click): their vectors are concatenated per position into one
    goods vector, and the candidates' into one query, so a single activation unit scores each
    past goods from its item *and* category, and one weight w_t scales the whole goods vector.
    A row's histories must then have the same length (the estimator checks it); the network
    masks with the longest. ``"separate"`` gives every history its own activation unit and
    weights. Multi-valued fields without a candidate are sum / mean pooled as in the base
    model.

    Parameters
    ----------
    fields, embed_dim, hidden_units, activation, dropout, batch_norm, init_std, \
sequence_pooling
        As :class:`EmbeddingMLPNet`.
    attention_hidden_units : sequence of int, default=(36,)
        Hidden widths of the activation unit (Fig. 2: 36).
    attention_normalization : {None, "softmax"}, default=None
        None keeps the raw weights of eq. 3 (the paper); "softmax" normalises them.
    behavior_grouping : {"concat", "separate"}, default="concat"

    Attributes
    ----------
    behavior_groups : list of tuple of str
        The history columns pooled together by each attention module, in order.
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
    ):
        super().__init__(
            fields,
            embed_dim,
            hidden_units,
            activation,
            dropout,
            batch_norm,
            init_std,
            sequence_pooling,
        )
        self.groups, self.behavior_groups = group_behaviors(self, behavior_grouping)
        self.attention = torch.nn.ModuleList(
            self._make_pooling(
                len(group) * embed_dim, attention_hidden_units, activation, attention_normalization
            )
            for group in self.groups
        )

    def _make_pooling(self, embed_dim, hidden_units, activation, normalization):
        """Hook: the module pooling one behaviour group, called once per group in
        ``__init__``: ``pooling(keys, query, lengths)`` returns the group's interest vector
        (batch, embed_dim) and ``pooling.weights(keys, query, lengths)`` its weights
        (batch, L). DIN's is :class:`AttentionPooling` (eq. 3)."""
        return AttentionPooling(embed_dim, hidden_units, activation, normalization)

    def _sequence_vectors(self, sequences):
        # Looked up position-major, (batch, L, n_sequences, k), and returned as its transposed
        # view: the keys (batch, L, m k) of a behaviour group are then a view, not a copy
        # (the copy and its backward were ~9 % of a full-length training step).
        ids = sequences.transpose(1, 2) + self.embedding.sequence_offsets
        return self.embedding.rows(ids).transpose(1, 2)

    def _group_inputs(self, fields, behaviors, lengths, group):
        """Keys (batch, L, m k), query (batch, m k) and lengths (batch,) of a group of m."""
        keys = _select(behaviors, group).transpose(1, 2).flatten(start_dim=2)
        query = _select(fields, [self.candidates[s] for s in group]).flatten(start_dim=1)
        return keys, query, lengths[:, group].amax(dim=1)

    def _pool(self, fields, behaviors, lengths):
        # The histories' slots get their attention pooling, the other sequences the base
        # model's sum / mean, so the MLP input keeps the base model's layout.
        interests = [
            attention(*self._group_inputs(fields, behaviors, lengths, group))
            for group, attention in zip(self.groups, self.attention, strict=True)
        ]
        return self._place_interests(fields, behaviors, lengths, interests)

    def _place_interests(self, fields, behaviors, lengths, interests):
        """The pooled sequences (batch, n_sequences, k): each group's interest vector (batch,
        m k) split over the slots of its m histories, the other sequences sum / mean pooled."""
        pooled = [None] * len(self.sequence_fields)
        for group, interest in zip(self.groups, interests, strict=True):
            for j, s in enumerate(group):
                pooled[s] = interest[:, j * self.embed_dim : (j + 1) * self.embed_dim]
        plain = [s for s, vector in enumerate(pooled) if vector is None]
        if plain:
            sums = super()._pool(fields, behaviors[:, plain], lengths[:, plain]).unbind(dim=1)
            for s, vector in zip(plain, sums, strict=True):
                pooled[s] = vector
        return torch.stack(pooled, dim=1)

    def attention_weights(self, ids, values, sequences, lengths):
        """The weights w_i of eq. 3 of every behaviour group.

        Returns
        -------
        torch.Tensor of shape (batch_size, n_groups, L)
            Exactly 0 at padding positions; group g pools ``behavior_groups[g]``.
        """
        fields = self.embedding(ids, values)
        behaviors = self.embedding.sequence(sequences)
        weights = [
            attention.weights(*self._group_inputs(fields, behaviors, lengths, group))
            for group, attention in zip(self.groups, self.attention, strict=True)
        ]
        if not weights:
            return fields.new_zeros(fields.shape[0], 0, sequences.shape[-1])
        return torch.stack(weights, dim=1)


def _select(tensor, indices):
    """``tensor[:, indices]`` by a slice when the indices are consecutive, else by
    ``index_select``: the backward of advanced indexing (an accumulating ``index_put``) cost
    6 % of DIN's training step on full-length histories."""
    start = indices[0]
    if list(indices) == list(range(tensor.shape[1])):
        return tensor  # not even a narrow: its backward would copy the gradient into zeros
    if list(indices) == list(range(start, start + len(indices))):
        return tensor.narrow(1, start, len(indices))
    return tensor.index_select(1, torch.tensor(indices, device=tensor.device))
