"""The Behavior Sequence Transformer network (Chen et al., DLP-KDD 2019)."""

import torch
from torch import nn

from sk_ctr.layers.attention import sequence_mask
from sk_ctr.layers.mlp import MLP
from sk_ctr.layers.sequence_transformer import BehaviorTransformer
from sk_ctr.models.din import EmbeddingMLPNet, group_behaviors


class BSTNet(EmbeddingMLPNet):
    """Behavior Sequence Transformer (Fig. 1): a Transformer encoder over the user's
    behaviours followed by the candidate, then an MLP over its pooled output and the other
    fields' embeddings.

    Sequence of a row with n behaviours (histories grouped as in :class:`DINNet`: with
    ``behavior_grouping="concat"`` the item, category ... vectors of one past event are
    concatenated into one goods vector of m k values):
    positions 0..n-1 hold the behaviours oldest first, position L (the last slot of the
    padded width L + 1) the candidate, whose goods vector concatenates the candidate columns'
    embeddings (the same rows the histories read). Positions n..L-1 are padding: masked out
    of every key and every pooling, so they never change the output, and n = 0 (no history)
    leaves the candidate alone.

    Every position adds a position vector p to each of its m embeddings (section 2.2: the
    paper adds the position feature pos(v_i) = t(v_t) - t(v_i) to the item's):

    * by order (default): p = P[n - i] for behaviour i, a learned row per recency rank,
      1 for the most recent behaviour, and P[0] for the candidate;
    * by time gap (``position_column={history: gap_field}``): p is the embedding row (in the
      shared table) of the id the gap field gives behaviour i, the bucketized gap, and a
      learned vector of its own for the candidate (whose gap is 0 by definition).

    Pooling: the paper concatenates the encoder's outputs of its fixed 20 + 1 positions; with
    variable lengths a concatenation would give the MLP slots whose meaning depends on the
    padding. Here the MLP reads the output at the candidate's position (which attended to
    every behaviour) and the mean of the outputs at the real behaviour positions (the zero
    vector for an empty history): 2 m k values per group, in place of the group's m pooled
    histories of the base model. Multi-valued fields that are neither histories nor gap
    fields are sum / mean pooled as in the base model.

    Parameters
    ----------
    fields, embed_dim, hidden_units, activation, dropout, batch_norm, init_std, \
sequence_pooling
        As :class:`EmbeddingMLPNet` (the paper's MLP: 1024-512-256, LeakyReLU).
    behavior_grouping : {"concat", "separate"}, default="concat"
        As :class:`DINNet`: one encoder over the concatenated histories, or one per history.
    n_transformer_layers : int, default=1
        Transformer blocks b (Table 3: b = 1 was best).
    n_heads : int, default=8
        Heads h of each block (Table 2: 8).
    feedforward_dim : int, default=None
        Width of the point-wise feed-forward layer; ``None``: 4 times the goods vector's.
    transformer_dropout : float, default=0.2
        Dropout of eq. 4-5 (Table 2: 0.2).
    position_column : dict of str to str, default=None
        ``{history field: gap field}``; a gap field is a sequence field with a vocabulary of
        its own, aligned item by item with the history. A group of concatenated histories
        uses the gap field of its histories (they must name one at most). ``None``: positions
        by order.

    Attributes
    ----------
    behavior_groups : list of tuple of str
        The history columns each encoder reads, in order.
    """

    def __init__(
        self,
        fields,
        embed_dim=16,
        hidden_units=(1024, 512, 256),
        activation="leaky_relu",
        dropout=0.0,
        batch_norm=False,
        init_std=0.01,
        sequence_pooling="sum",
        behavior_grouping="concat",
        n_transformer_layers=1,
        n_heads=8,
        feedforward_dim=None,
        transformer_dropout=0.2,
        position_column=None,
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
        names = [f.name for f in self.sequence_fields]
        self.groups, self.behavior_groups = group_behaviors(self, behavior_grouping)
        histories = [s for group in self.groups for s in group]
        self.gap_fields = self._gap_fields(position_column or {}, names)
        used = set(histories) | {s for s in self.gap_fields if s is not None}
        self.others = [s for s in range(len(names)) if s not in used]
        self.order_positions = nn.ModuleList()
        self.candidate_positions = nn.ParameterList()
        for gap in self.gap_fields:
            if gap is None:  # rank 0 (the candidate) .. L (the oldest of a full history)
                table = nn.Embedding(self._max_length(fields) + 1, embed_dim)
                nn.init.normal_(table.weight, std=init_std)
                self.order_positions.append(table)
            else:
                vector = nn.Parameter(torch.empty(embed_dim).normal_(std=init_std))
                self.candidate_positions.append(vector)
        self.encoders = nn.ModuleList(
            BehaviorTransformer(
                len(group) * embed_dim,
                n_transformer_layers,
                n_heads,
                feedforward_dim,
                transformer_dropout,
            )
            for group in self.groups
        )
        n_inputs = self.n_fields + len(self.others) + 2 * len(histories)
        self.mlp = MLP(n_inputs * embed_dim, hidden_units, activation, dropout, batch_norm)

    def _gap_fields(self, position_column, names):
        """Per group: the index of its gap field, or None (positions by order)."""
        for history, gap in position_column.items():
            if history not in names or self.candidates[names.index(history)] is None:
                histories = [
                    n for n, c in zip(names, self.candidates, strict=True) if c is not None
                ]
                raise ValueError(
                    f"position_column names {history!r}, which is not a behaviour history; "
                    f"histories: {histories}."
                )
            if gap not in names or self.candidates[names.index(gap)] is not None:
                raise ValueError(
                    f"position_column maps {history!r} to {gap!r}, which is not a sequence "
                    f"column with a vocabulary of its own (a list of bucketized time gaps); "
                    f"sequence columns: {names}."
                )
        gap_fields = []
        for group_names in self.behavior_groups:
            gaps = {position_column[n] for n in group_names if n in position_column}
            if len(gaps) > 1:
                raise ValueError(
                    f"The histories {list(group_names)} are concatenated into one sequence "
                    f"(behavior_grouping='concat') but position_column gives them different "
                    f"gap columns {sorted(gaps)}; name one, or use behavior_grouping='separate'."
                )
            gap_fields.append(names.index(gaps.pop()) if gaps else None)
        return gap_fields

    @staticmethod
    def _max_length(fields):
        """The padded length L, which bounds the recency ranks."""
        lengths = {f.max_length for f in fields if f.kind == "sequence"}
        if None in lengths:
            names = [f.name for f in fields if f.kind == "sequence" and f.max_length is None]
            raise ValueError(
                f"Positions by order need the padded length of the sequence fields, which the "
                f"schema does not give for {names} (Field.max_length); encode with a "
                "CTRTransformer of this version, or pass position_column."
            )
        return max(lengths)

    def _pool(self, fields, behaviors, lengths):
        batch_size = fields.shape[0]
        pooled = [fields.new_zeros(batch_size, 0, self.embed_dim)]
        if self.others:  # multi-valued fields: the base model's sum / mean
            pooled = [super()._pool(fields, behaviors[:, self.others], lengths[:, self.others])]
        positions = iter(self.order_positions)
        candidate_positions = iter(self.candidate_positions)
        for group, gap, encoder in zip(self.groups, self.gap_fields, self.encoders, strict=True):
            table = next(positions) if gap is None else None
            candidate_position = None if gap is None else next(candidate_positions)
            sequence, mask, history_mask = self._sequence(
                fields, behaviors, lengths, group, gap, table, candidate_position
            )
            outputs = encoder(sequence, mask)
            candidate = outputs[:, -1]
            history = outputs[:, :-1].sum(dim=1)  # padding outputs are 0
            count = history_mask.sum(dim=1, keepdim=True).clamp(min=1).to(history.dtype)
            group_output = torch.cat([candidate, history / count], dim=1)
            pooled.append(group_output.view(batch_size, 2 * len(group), self.embed_dim))
        return torch.cat(pooled, dim=1)

    def _sequence(self, fields, behaviors, lengths, group, gap, table, candidate_position):
        """The encoder's input (batch, L + 1, m k), its mask and the behaviours' mask."""
        length = lengths[:, group].amax(dim=1)
        max_length = behaviors.shape[2]
        history_mask = sequence_mask(length, max_length)
        goods = behaviors[:, group]  # (batch, m, L, k)
        candidate = fields[:, [self.candidates[s] for s in group]]  # (batch, m, k)
        if gap is None:
            # behaviour i of n has rank n - i (1 = the most recent); padding, masked, gets 0
            ranks = length.unsqueeze(1) - torch.arange(max_length, device=length.device)
            history_positions = table(ranks.clamp(min=0))
            candidate_position = table.weight[0]
        else:
            history_positions = behaviors[:, gap]
        goods = goods + history_positions.unsqueeze(1)
        candidate = candidate + candidate_position
        sequence = torch.cat([goods, candidate.unsqueeze(2)], dim=2)  # (batch, m, L + 1, k)
        sequence = sequence.transpose(1, 2).flatten(start_dim=2)
        mask = torch.cat([history_mask, history_mask.new_ones(len(length), 1)], dim=1)
        return sequence, mask, history_mask
