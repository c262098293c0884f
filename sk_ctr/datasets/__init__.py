"""Synthetic CTR data and loaders for public CTR benchmark files.

Every function returns ``(X, y)``: ``X`` is a :class:`pandas.DataFrame` of *raw* columns
(categorical values as ``object`` strings with ``NaN`` for missing, numeric values as
``float64``) and ``y`` is an ``int64`` array of 0/1 click labels. Encoding is left to the
estimators' preprocessing, exactly as with real logs.

One module per kind of data: ``_synthetic`` (:func:`make_ctr_classification`),
``_interactions`` (:func:`make_interaction_dataset`, AutoFIS' planted pairs), ``_behavior``
(impressions with behaviour histories: :func:`make_behavior_dataset` and the DIN readers),
``_criteo_avazu`` (the two logs' readers), ``_fieldwise`` (field-indexed libFM / libSVM files:
Frappe, iPinYou) and ``_home`` (:func:`get_data_home`, where named data sets are looked for).

This package only needs numpy and pandas (no torch).
"""

from sk_ctr.datasets._behavior import (
    load_amazon_din,
    load_taobao_dmr,
    load_taobao_fuxictr,
    make_behavior_dataset,
)
from sk_ctr.datasets._criteo_avazu import load_avazu, load_criteo
from sk_ctr.datasets._fieldwise import load_frappe, load_ipinyou, load_libfm, load_libsvm_fields
from sk_ctr.datasets._home import get_data_home
from sk_ctr.datasets._interactions import make_interaction_dataset
from sk_ctr.datasets._synthetic import make_ctr_classification

__all__ = [
    "get_data_home",
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
    "make_interaction_dataset",
]
