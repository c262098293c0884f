"""Floor 2: tensor-in, tensor-out building blocks (no device arguments, no seeding)."""

from sk_ctr.layers.activation import Dice, make_activation
from sk_ctr.layers.attention import (
    ActivationUnit,
    AttentionPooling,
    SequencePooling,
    sequence_mask,
)
from sk_ctr.layers.bilinear import BilinearInteraction
from sk_ctr.layers.cin import CompressedInteractionNetwork
from sk_ctr.layers.cross import CrossNetwork, MatrixCrossNetwork, MixtureCrossNetwork
from sk_ctr.layers.embedding import FieldEmbedding, LinearTerm
from sk_ctr.layers.field_aware import (
    AttentionalInteraction,
    FieldAwareEmbedding,
    FieldAwareInteraction,
    FieldWeightedInteraction,
)
from sk_ctr.layers.field_products import FieldProducts
from sk_ctr.layers.gating import GatedInteraction
from sk_ctr.layers.interaction import (
    BiInteractionPooling,
    FactorizationMachine,
    SelectedFactorizationMachine,
)
from sk_ctr.layers.interest_evolution import AttentionalGRUCell, InterestEvolution
from sk_ctr.layers.mlp import MLP
from sk_ctr.layers.product import InnerProduct, OuterProduct, ProductLayer
from sk_ctr.layers.self_attention import InteractingLayer
from sk_ctr.layers.sequence_embedding import SequenceEmbedding
from sk_ctr.layers.sequence_transformer import BehaviorTransformer, TransformerBlock
from sk_ctr.layers.squeeze_excitation import SENETLayer
from sk_ctr.layers.tower import Tower

__all__ = [
    "ActivationUnit",
    "AttentionPooling",
    "AttentionalGRUCell",
    "AttentionalInteraction",
    "BehaviorTransformer",
    "BiInteractionPooling",
    "BilinearInteraction",
    "CompressedInteractionNetwork",
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
    "InteractingLayer",
    "InterestEvolution",
    "LinearTerm",
    "MLP",
    "MatrixCrossNetwork",
    "MixtureCrossNetwork",
    "OuterProduct",
    "ProductLayer",
    "SENETLayer",
    "SelectedFactorizationMachine",
    "SequenceEmbedding",
    "SequencePooling",
    "Tower",
    "TransformerBlock",
    "make_activation",
    "sequence_mask",
]
