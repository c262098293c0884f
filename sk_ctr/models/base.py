"""What every CTR network shares: the field schema it is built from, and L2 on looked-up rows."""

from numbers import Integral

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
        # Rows of the (batch, fields, k) embedding tensor: categorical fields, then numeric ones.
        self.field_names = [f.name for f in fields if f.kind == "categorical"] + [
            f.name for f in fields if f.kind == "numeric"
        ]

    def field_positions(self, interactions):
        """Field tuples named by column (or by position) to positions in the embedding tensor.

        Parameters
        ----------
        interactions : sequence of tuple of str or int

        Returns
        -------
        list of tuple of int

        Raises
        ------
        ValueError
            Naming a field that is not in the schema.
        """
        positions = {name: position for position, name in enumerate(self.field_names)}
        resolved = []
        for interaction in interactions:
            if isinstance(interaction, (str, bytes)) or not hasattr(interaction, "__iter__"):
                raise ValueError(
                    f"Each interaction is a tuple of field names; got {interaction!r}."
                )
            fields = []
            for field in interaction:
                if field in positions:
                    fields.append(positions[field])
                elif isinstance(field, Integral) and 0 <= field < self.n_fields:
                    fields.append(field)
                else:
                    raise ValueError(
                        f"Interaction {tuple(interaction)!r} names {field!r}, which is not a "
                        f"field of the fitted data; fields: {self.field_names}."
                    )
            resolved.append(tuple(fields))
        return resolved

    def _pairs(self, interactions):
        """Positions of the named field tuples, or None (every pair) for None."""
        return None if interactions is None else self.field_positions(interactions)

    def penalty(self, ids, values, **sequence_inputs):
        """Per-sample squared L2 norm of every embedding row and order-1 weight the sample uses.

        Penalising only the looked-up rows keeps the cost O(batch) and, unlike weight decay
        under Adam, does not shrink the rows of ids that are absent from the batch. Networks
        with sequence fields also count the rows of ``sequences`` (``sequence_inputs``).

        Returns
        -------
        torch.Tensor of shape (batch_size,)
        """
        tables = [m for m in self.modules() if isinstance(m, FieldEmbedding)]
        return sum(table.squared_norm(ids, values) for table in tables)
