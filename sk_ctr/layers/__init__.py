"""Floor 2: tensor-in, tensor-out building blocks (no device arguments, no seeding)."""

from sk_ctr.layers.activation import Dice, make_activation
from sk_ctr.layers.attention import (
    ActivationUnit,
    AttentionPooling,
    SequencePooling,
    sequence_mask,
)
from sk_ctr.layers.cross import CrossNetwork
from sk_ctr.layers.embedding import FieldEmbedding, LinearTerm
from sk_ctr.layers.field_aware import (
    AttentionalInteraction,
    FieldAwareEmbedding,
    FieldAwareInteraction,
    FieldWeightedInteraction,
)
from sk_ctr.layers.field_products import FieldProducts
from sk_ctr.layers.gating import GatedInteraction
from sk_ctr.layers.interaction import FactorizationMachine, SelectedFactorizationMachine
from sk_ctr.layers.mlp import MLP
from sk_ctr.layers.product import InnerProduct, OuterProduct, ProductLayer
from sk_ctr.layers.sequence_embedding import SequenceEmbedding
from sk_ctr.layers.tower import Tower

__all__ = [
    "MLP",
    "ActivationUnit",
    "AttentionPooling",
    "AttentionalInteraction",
    "CrossNetwork",
    "Dice",
    "FactorizationMachine",
    "FieldAwareEmbedding",
    "FieldAwareInteraction",
    "FieldEmbedding",
    "FieldProducts",
    "FieldWeightedInteraction",
    "GatedInteraction",
    "InnerProduct",
    "LinearTerm",
    "OuterProduct",
    "ProductLayer",
    "SequenceEmbedding",
    "SequencePooling",
    "SelectedFactorizationMachine",
    "Tower",
    "make_activation",
    "sequence_mask",
]
