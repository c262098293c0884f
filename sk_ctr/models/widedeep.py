"""Wide & Deep: a wide linear (LR) or FM part and a deep MLP, each on its own embeddings."""

import torch

from sk_ctr.layers import MLP, FieldEmbedding, LinearTerm
from sk_ctr.layers.interaction import make_fm_interaction
from sk_ctr.models.base import CTRNetwork

WIDE_PARTS = ("lr", "fm")


class WideDeepNet(CTRNetwork):
    """y = y_wide + y_deep (Wide & Deep, Cheng et al. 2016, section 3.3; DeepFM journal section
    III-C-3 and IV-A-3).

    - ``wide="lr"`` (LR & DNN): y_wide = w^T [x, phi(x)] + b, order-1 weights of the raw fields
      and of the hand-made cross products phi(x).
    - ``wide="fm"`` (FM & DNN): y_wide adds an FM, sum_{i<j} <v_i, v_j> (DeepFM journal eq. 4),
      over all fields (crosses included) on the wide part's own embedding table.
    - y_deep = MLP([e_1, ..., e_m]) (eq. 5-8) over the raw fields only, on a second embedding
      table: unlike DeepFM, the two parts share no embedding, so a gradient of one part never
      reaches the other's table. Both train jointly with one optimizer (journal footnote 7).

    Cross-product fields feed only the wide part, as in the original model. They are the
    fields in ``wide_fields`` or, when it is None, the fields the schema marks as crosses
    (``Field.cross_of``, set for the columns ``CrossProductFeatures`` adds), whatever their
    names.
    The wide LinearTerm owns the model's only bias; the MLP's output unit has none.

    Parameters
    ----------
    fields : sequence of Field
    wide : {"lr", "fm"}
    wide_fields : sequence of str or None
        Names of the fields only the wide part sees; None: the cross-product fields.
    interactions : sequence of tuple of str, default=None
        With ``wide="fm"``: the field pairs (and triples) the FM term is restricted to.
    """

    def __init__(
        self,
        fields,
        wide="lr",
        wide_fields=None,
        embed_dim=11,
        hidden_units=(400, 400, 400),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        init_std=0.01,
        interactions=None,
    ):
        super().__init__(fields)
        if wide not in WIDE_PARTS:
            raise ValueError(f"Unknown wide part {wide!r}; choose from {list(WIDE_PARTS)}")
        categorical = [f for f in fields if f.kind == "categorical"]
        numeric = [f for f in fields if f.kind == "numeric"]
        wide_only = _wide_only_names(fields, wide_fields)
        deep_categorical = [j for j, f in enumerate(categorical) if f.name not in wide_only]
        deep_numeric = [j for j, f in enumerate(numeric) if f.name not in wide_only]
        if not deep_categorical and not deep_numeric:
            raise ValueError(
                f"Every field is wide-only ({sorted(wide_only)}); the deep part needs at least "
                "one field."
            )
        # Column positions of the deep part's fields in ``ids`` and ``values``.
        self.register_buffer(
            "deep_categorical", torch.tensor(deep_categorical, dtype=torch.long), persistent=False
        )
        self.register_buffer(
            "deep_numeric", torch.tensor(deep_numeric, dtype=torch.long), persistent=False
        )

        self.linear = LinearTerm(self.vocab_sizes, self.n_numeric)
        if wide == "fm":
            self.wide_embedding = FieldEmbedding(
                self.vocab_sizes, self.n_numeric, embed_dim, init_std
            )
            self.fm = make_fm_interaction(self._pairs(interactions), self.n_fields)
        elif interactions is not None:
            raise ValueError("interactions restrict the FM of the wide part: use wide='fm'.")
        else:
            self.wide_embedding, self.fm = None, None
        self.deep_embedding = FieldEmbedding(
            [self.vocab_sizes[j] for j in deep_categorical],
            len(deep_numeric),
            embed_dim,
            init_std,
        )
        n_deep_fields = len(deep_categorical) + len(deep_numeric)
        self.mlp = MLP(
            n_deep_fields * embed_dim,
            hidden_units,
            activation,
            dropout,
            batch_norm,
            output_bias=False,
        )

    def wide_logit(self, ids, values):
        """y_wide: order-1 weights and bias (plus the FM term for ``wide="fm"``), all fields."""
        logit = self.linear(ids, values)
        if self.fm is not None:
            logit = logit + self.fm(self.wide_embedding(ids, values))
        return logit

    def deep_logit(self, ids, values):
        """y_deep: the MLP on the deep embeddings of the raw (not wide-only) fields."""
        embeddings = self.deep_embedding(*self._deep_inputs(ids, values))
        return self.mlp(embeddings.flatten(start_dim=1))

    def forward(self, ids, values):
        return self.wide_logit(ids, values) + self.deep_logit(ids, values)

    def penalty(self, ids, values):
        """Per-sample squared L2 norm of the rows used in every table (the deep table is looked
        up with the deep part's columns only).

        Returns
        -------
        torch.Tensor of shape (batch_size,)
        """
        penalty = self.linear.squared_norm(ids, values)
        if self.wide_embedding is not None:
            penalty = penalty + self.wide_embedding.squared_norm(ids, values)
        return penalty + self.deep_embedding.squared_norm(*self._deep_inputs(ids, values))

    def _deep_inputs(self, ids, values):
        return ids[:, self.deep_categorical], values[:, self.deep_numeric]


def _wide_only_names(fields, wide_fields):
    names = [f.name for f in fields]
    if wide_fields is None:
        return {f.name for f in fields if f.cross_of is not None}
    if isinstance(wide_fields, str):
        raise ValueError(
            f"wide_fields must be a list of field names, got the string {wide_fields!r}."
        )
    unknown = [name for name in wide_fields if name not in set(names)]
    if unknown:
        raise ValueError(f"wide_fields names fields that are not in the data: {unknown}")
    return set(wide_fields)
