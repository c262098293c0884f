"""Floor 1: from a raw DataFrame to per-field ids and values (no torch here)."""

from sk_ctr.preprocessing.crosses import CrossProductFeatures
from sk_ctr.preprocessing.fields import Field, FieldData
from sk_ctr.preprocessing.transformer import CTRTransformer

__all__ = ["CTRTransformer", "CrossProductFeatures", "Field", "FieldData"]
