"""Floor 1: from a raw DataFrame to per-field ids and values (no torch here).

The public names are imported on first use (:mod:`sk_ctr._lazy`), so that the modules that
need only numpy and pandas (``fields``, ``vocabulary``, ``sequences``, ``encoding``) can be
imported without scikit-learn, which the transformers need: the torch-free serving path
(:mod:`sk_ctr.serving`) imports those alone.
"""

from sk_ctr._lazy import attach

_PUBLIC_MODULES = {
    "CTRTransformer": "sk_ctr.preprocessing.transformer",
    "CrossProductFeatures": "sk_ctr.preprocessing.crosses",
    "Field": "sk_ctr.preprocessing.fields",
    "FieldData": "sk_ctr.preprocessing.fields",
}

__all__ = ["CTRTransformer", "CrossProductFeatures", "Field", "FieldData"]

__getattr__, __dir__ = attach(__name__, _PUBLIC_MODULES)
