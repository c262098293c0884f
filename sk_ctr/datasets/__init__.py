"""Synthetic CTR data and loaders for public CTR benchmark files.

Every function returns ``(X, y)``: ``X`` is a :class:`pandas.DataFrame` of *raw* columns
(categorical values as ``object`` strings with ``NaN`` for missing, numeric values as
``float64``) and ``y`` is an ``int64`` array of 0/1 click labels. Encoding is left to the
estimators' preprocessing, exactly as with real logs.

This module only needs numpy and pandas (no torch).
"""

__all__ = [
    "load_amazon_din",
    "load_avazu",
    "load_criteo",
    "load_frappe",
    "load_ipinyou",
    "load_libfm",
    "load_libsvm_fields",
    "load_taobao_dmr",
    "load_taobao_fuxictr",
    "make_behavior_dataset",
    "make_ctr_classification",
]

# Readers of the field-indexed libFM / libSVM files (Frappe, iPinYou) and of impressions with
# behaviour histories (DIN: Amazon, Taobao) live in their own modules; they are re-exported here
# so that every loader is found in ``sk_ctr.datasets``.
from sk_ctr.datasets._behavior import (
    load_amazon_din,
    load_taobao_dmr,
    load_taobao_fuxictr,
    make_behavior_dataset,
)
from sk_ctr.datasets._criteo_avazu import load_avazu, load_criteo
from sk_ctr.datasets._fieldwise import (
    load_frappe,
    load_ipinyou,
    load_libfm,
    load_libsvm_fields,
)
from sk_ctr.datasets._interactions import make_interaction_dataset  # noqa: F401
from sk_ctr.datasets._synthetic import make_ctr_classification
