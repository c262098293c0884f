"""One embedding table for categorical fields and the sequence fields that read it."""

import torch

from sk_ctr.layers.attention import sequence_mask
from sk_ctr.layers.embedding import FieldEmbedding


class SequenceEmbedding(FieldEmbedding):
    """:class:`FieldEmbedding` whose table also holds the rows of sequence fields.

    A sequence field either shares a categorical field's rows (a behaviour history and its
    candidate, e.g. ``hist_item_id`` and ``item_id``: the same item has the same vector in
    both) or owns rows appended after every categorical field's, in order. Item ``j`` of a
    sequence of field ``s`` is row ``sequence_offsets[s] + j``, the layout of
    :class:`~sk_ctr.CTRTransformer`'s schema, so a batch still costs one gather per tensor.

    Parameters
    ----------
    vocab_sizes : sequence of int
        Number of ids of each categorical field, reserved ids included.
    n_numeric : int
        Number of numeric-value fields.
    embed_dim : int
        Size ``k`` of every vector.
    sequence_vocab_sizes : sequence of int, default=()
        Number of ids of each sequence field (for a shared one, its categorical field's).
    shares : sequence of (int or None), default=None
        For each sequence field, the position among the categorical fields of the field whose
        rows it reads, or ``None`` for rows of its own. ``None``: no field shares.
    init_std : float, default=0.01
        Standard deviation of the normal initialisation.

    Shapes
    ------
    :meth:`forward` as :class:`FieldEmbedding`: ids (batch_size, n_categorical) int64,
    values (batch_size, n_numeric) -> (batch_size, n_categorical + n_numeric, embed_dim).
    :meth:`sequence`: sequences (batch_size, n_sequences, L) int64 ->
    (batch_size, n_sequences, L, embed_dim).
    """

    def __init__(
        self, vocab_sizes, n_numeric, embed_dim, sequence_vocab_sizes=(), shares=None, init_std=0.01
    ):
        vocab_sizes = [int(v) for v in vocab_sizes]
        sequence_vocab_sizes = [int(v) for v in sequence_vocab_sizes]
        shares = [None] * len(sequence_vocab_sizes) if shares is None else list(shares)
        if len(shares) != len(sequence_vocab_sizes):
            raise ValueError(
                f"shares has {len(shares)} entries for {len(sequence_vocab_sizes)} sequence fields."
            )
        own = [
            size for size, share in zip(sequence_vocab_sizes, shares, strict=True) if share is None
        ]
        super().__init__(vocab_sizes + own, n_numeric, embed_dim, init_std)
        table_offsets = self.offsets
        self.offsets = table_offsets[: len(vocab_sizes)]  # what FieldEmbedding.forward adds
        sequence_offsets, n_own = [], 0
        for size, share in zip(sequence_vocab_sizes, shares, strict=True):
            if share is None:
                sequence_offsets.append(int(table_offsets[len(vocab_sizes) + n_own]))
                n_own += 1
                continue
            if not 0 <= share < len(vocab_sizes) or vocab_sizes[share] != size:
                raise ValueError(
                    f"A sequence field of {size} ids cannot share the rows of categorical field "
                    f"{share} (vocab_sizes={vocab_sizes})."
                )
            sequence_offsets.append(int(table_offsets[share]))
        self.register_buffer(
            "sequence_offsets",
            torch.tensor(sequence_offsets, dtype=torch.long),
            persistent=False,
        )

    def sequence(self, sequences):
        """Vectors of every position of every sequence field, padding included (mask it)."""
        return self.rows(sequences + self.sequence_offsets.unsqueeze(-1))

    def squared_norm(self, ids, values, sequences=None, lengths=None):
        """Per-sample sum of squared norms of the rows a sample uses: its categorical rows, every
        numeric vector and the row of each real item of its sequences (padding excluded).

        Returns
        -------
        torch.Tensor of shape (batch_size,)
        """
        total = super().squared_norm(ids, values)
        if sequences is None or sequences.shape[1] == 0:
            return total
        squares = self.sequence(sequences).pow(2).sum(dim=-1)
        mask = sequence_mask(lengths, sequences.shape[-1])
        return total + torch.where(mask, squares, torch.zeros_like(squares)).sum(dim=(1, 2))

    def rows_used(self, ids, sequences=None, lengths=None):
        """The distinct table rows a batch looks up (the I_i = 1 of DIN eq. 9), padding excluded.

        Returns
        -------
        torch.Tensor of shape (n_rows,), int64, sorted
        """
        rows = [(ids + self.offsets).flatten()]
        if sequences is not None and sequences.shape[1] > 0:
            mask = sequence_mask(lengths, sequences.shape[-1])
            rows.append((sequences + self.sequence_offsets.unsqueeze(-1))[mask])
        return torch.unique(torch.cat(rows))
