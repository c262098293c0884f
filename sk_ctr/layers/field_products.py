"""Explicit interactions over chosen field tuples: which tuples (pairs and triples, in one
canonical order) and their values <e_i, e_j> and <e_i, e_j, e_t>."""

from itertools import combinations

import torch
from torch import nn

#: Interaction orders the layers compute: pairs <e_i, e_j> and triples <e_i, e_j, e_t>.
ORDERS = (2, 3)


def all_interactions(n_fields, order=2):
    """Every field tuple of one order, in the order of nested loops i < j (< t).

    Parameters
    ----------
    n_fields : int
    order : {2, 3}

    Returns
    -------
    list of tuple of int
    """
    return list(combinations(range(n_fields), order))


def canonical_interactions(interactions, n_fields):
    """Validate field tuples and put them in the layers' column order.

    Each tuple is sorted (an interaction is a set of fields); the list is sorted by order, then
    lexicographically, so pairs come before triples.

    Raises
    ------
    ValueError
        For a tuple that is not 2 or 3 distinct fields in ``range(n_fields)``, or one given twice.
    """
    seen = set()
    for interaction in interactions:
        fields = tuple(sorted(int(f) for f in interaction))
        if len(fields) not in ORDERS or len(set(fields)) != len(fields):
            raise ValueError(
                f"An interaction is 2 or 3 distinct fields; got {tuple(interaction)!r}."
            )
        if fields[0] < 0 or fields[-1] >= n_fields:
            raise ValueError(
                f"Interaction {tuple(interaction)!r} names a field outside 0..{n_fields - 1}."
            )
        if fields in seen:
            raise ValueError(f"Interaction {tuple(interaction)!r} is given twice.")
        seen.add(fields)
    return sorted(seen, key=lambda fields: (len(fields), fields))


class FieldProducts(nn.Module):
    """The interaction value of each given field tuple: <e_i, e_j> = sum_k e_ik e_jk for a pair
    (AutoFIS eq. 2) and <e_i, e_j, e_t> = sum_k e_ik e_jk e_tk for a triple (eq. 4).

    Pairs come from the Gram matrix E E^T (one batched matrix product, m^2 k per sample) when
    there are at least m of them, and from gathering the two fields of each pair otherwise:
    gathering P pairs moves 2 P k values per sample through memory, which is slower than the
    matrix product once P reaches m (measured with m = 39, k = 10: 741 pairs 20x slower by
    gathering). Triples are gathered; only the listed ones are computed.

    Parameters
    ----------
    interactions : sequence of tuple of int
        Field positions; see :func:`canonical_interactions` for the column order.
    n_fields : int

    Attributes
    ----------
    interactions : tuple of tuple of int
        The tuples in output-column order.
    output_dim : int

    Shapes
    ------
    embeddings : (batch_size, n_fields, embed_dim)
    returns (batch_size, output_dim)
    """

    def __init__(self, interactions, n_fields):
        super().__init__()
        self.interactions = tuple(canonical_interactions(interactions, n_fields))
        self.output_dim = len(self.interactions)
        for order in ORDERS:
            rows = [fields for fields in self.interactions if len(fields) == order]
            index = torch.tensor(rows, dtype=torch.long).reshape(len(rows), order)
            self.register_buffer(f"index{order}", index, persistent=False)
        self.use_gram = len(self.index2) >= n_fields
        gram_index = self.index2[:, 0] * n_fields + self.index2[:, 1]
        self.register_buffer("gram_index", gram_index, persistent=False)

    def forward(self, embeddings):
        parts = []
        if self.use_gram:
            gram = torch.bmm(embeddings, embeddings.transpose(1, 2))
            parts.append(gram.flatten(start_dim=1)[:, self.gram_index])
        elif len(self.index2):
            parts.append(self._gathered(embeddings, self.index2))
        if len(self.index3):
            parts.append(self._gathered(embeddings, self.index3))
        if not parts:
            return embeddings.new_zeros(embeddings.shape[0], 0)  # traceable batch size
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    @staticmethod
    def _gathered(embeddings, index):
        product = embeddings[:, index[:, 0]]
        for column in range(1, index.shape[1]):
            product = product * embeddings[:, index[:, column]]
        return product.sum(dim=-1)
