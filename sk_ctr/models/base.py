"""What every CTR network shares: the field schema it is built from, and L2 on looked-up rows."""

from torch import nn

from sk_ctr.layers import FieldEmbedding


class CTRNetwork(nn.Module):
    """Base of the networks: ``forward(ids, values)`` returns logits of shape (batch_size,).

    Parameters
    ----------
    fields : sequence of Field
        The schema learned by :class:`~sk_ctr.CTRTransformer`.
    """

    def __init__(self, fields):
        super().__init__()
        self.vocab_sizes = [f.vocab_size for f in fields if f.kind == "categorical"]
        self.n_numeric = sum(f.kind == "numeric" for f in fields)
        self.n_fields = len(self.vocab_sizes) + self.n_numeric

    def penalty(self, ids, values):
        """Per-sample squared L2 norm of every embedding row and order-1 weight the sample uses.

        Penalising only the looked-up rows keeps the cost O(batch) and, unlike weight decay
        under Adam, does not shrink the rows of ids that are absent from the batch.

        Returns
        -------
        torch.Tensor of shape (batch_size,)
        """
        tables = [m for m in self.modules() if isinstance(m, FieldEmbedding)]
        return sum(table.squared_norm(ids, values) for table in tables)
