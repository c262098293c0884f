"""Floor 2: tensor-in, tensor-out building blocks (no device arguments, no seeding)."""

from sk_ctr.layers.embedding import FieldEmbedding, LinearTerm
from sk_ctr.layers.interaction import FactorizationMachine
from sk_ctr.layers.mlp import MLP, make_activation

__all__ = ["MLP", "FactorizationMachine", "FieldEmbedding", "LinearTerm", "make_activation"]
