"""The two-tower (DSSM) model: a user tower and an item tower meet only in an inner product."""

import torch
from torch import nn

from sk_ctr.layers import FieldEmbedding
from sk_ctr.layers.tower import Tower
from sk_ctr.models.base import CTRNetwork


def split_fields(fields, user_fields, item_fields):
    """Positions of the user and the item fields in the schema, checked.

    Parameters
    ----------
    fields : sequence of Field
        The schema; field names are the column names of the raw input.
    user_fields, item_fields : sequence of str or None
        Column names of each tower. ``None`` for one of them means every field the other does
        not list; both ``None`` is an error.

    Returns
    -------
    user_index, item_index : list of int
        Positions in ``fields``, which is also the order of the field axis of
        :class:`~sk_ctr.layers.FieldEmbedding`'s output (categorical fields, then numeric).

    Raises
    ------
    ValueError
        Naming the offending columns: an empty group, a name that is not a field, a name
        listed twice or in both groups, or a field that belongs to neither group (an unused
        column is refused rather than silently ignored).
    """
    names = [f.name for f in fields]
    if user_fields is None and item_fields is None:
        raise ValueError(
            "A two-tower model needs user_fields or item_fields (the other defaults to the "
            f"remaining columns); the columns are {names}."
        )
    groups = {"user_fields": user_fields, "item_fields": item_fields}
    for key, other in (("user_fields", "item_fields"), ("item_fields", "user_fields")):
        if groups[key] is None:
            listed = {str(n) for n in groups[other]}
            groups[key] = [n for n in names if n not in listed]
    for key, group in groups.items():
        group = [str(n) for n in group]
        groups[key] = group
        if not group:
            raise ValueError(
                f"{key} is empty: each tower needs at least one column; X has "
                f"{len(names)} feature(s): {names}."
            )
        unknown = [n for n in group if n not in names]
        if unknown:
            raise ValueError(f"{key} names column(s) not in X: {unknown}; X has {names}.")
        repeated = sorted({n for n in group if group.count(n) > 1})
        if repeated:
            raise ValueError(f"{key} lists column(s) more than once: {repeated}.")
    both = [n for n in groups["user_fields"] if n in groups["item_fields"]]
    if both:
        raise ValueError(f"Column(s) in both user_fields and item_fields: {both}.")
    listed = set(groups["user_fields"]) | set(groups["item_fields"])
    neither = [n for n in names if n not in listed]
    if neither:
        raise ValueError(
            f"Column(s) in neither user_fields nor item_fields: {neither}; assign each to a "
            "tower or drop it from X."
        )
    position = {n: i for i, n in enumerate(names)}
    return (
        [position[n] for n in groups["user_fields"]],
        [position[n] for n in groups["item_fields"]],
    )


class TwoTowerNet(CTRNetwork):
    """y = <u, v> / temperature + b with u = Tower_user([e_i, i in user fields]) and
    v = Tower_item([e_j, j in item fields]) (DSSM-style retrieval model).

    The towers share one :class:`~sk_ctr.layers.FieldEmbedding` (so ``l2`` covers every row)
    but each reads only the embeddings of its own fields: u never depends on an item field and
    v never on a user field, which is what lets item vectors be computed once for retrieval.
    ``temperature`` is fixed, not learned: the towers' last linear layers can rescale u and v
    freely, so a learned scale would be redundant. ``bias`` is the model's only constant term.
    """

    def __init__(
        self,
        fields,
        user_fields=None,
        item_fields=None,
        embed_dim=16,
        hidden_units=(128, 64),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        init_std=0.01,
        temperature=1.0,
    ):
        super().__init__(fields)
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}.")
        user_index, item_index = split_fields(fields, user_fields, item_fields)
        self.register_buffer("user_index", torch.tensor(user_index), persistent=False)
        self.register_buffer("item_index", torch.tensor(item_index), persistent=False)
        self.embedding = FieldEmbedding(self.vocab_sizes, self.n_numeric, embed_dim, init_std)
        self.user_tower = Tower(
            len(user_index) * embed_dim, hidden_units, activation, dropout, batch_norm
        )
        self.item_tower = Tower(
            len(item_index) * embed_dim, hidden_units, activation, dropout, batch_norm
        )
        self.temperature = float(temperature)
        self.bias = nn.Parameter(torch.zeros(()))

    def user_embedding(self, ids, values):
        """u of shape (batch_size, hidden_units[-1]) from the user fields of the batch."""
        embeddings = self.embedding(ids, values)[:, self.user_index]
        return self.user_tower(embeddings.flatten(start_dim=1))

    def item_embedding(self, ids, values):
        """v of shape (batch_size, hidden_units[-1]) from the item fields of the batch."""
        embeddings = self.embedding(ids, values)[:, self.item_index]
        return self.item_tower(embeddings.flatten(start_dim=1))

    def forward(self, ids, values):
        embeddings = self.embedding(ids, values)  # one lookup for both towers
        users = self.user_tower(embeddings[:, self.user_index].flatten(start_dim=1))
        items = self.item_tower(embeddings[:, self.item_index].flatten(start_dim=1))
        return (users * items).sum(dim=1) / self.temperature + self.bias
