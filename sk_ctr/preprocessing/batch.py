"""The encoded-batch contract: the arrays, by key, that go from the transformer to a network.

A :class:`~sk_ctr.preprocessing.FieldData`, and every batch a loader slices from it, maps these
keys to arrays with one row per sample. The fields lie along axis 1, in the order of the
schema's fields of the array's kind (:data:`ARRAYS_OF_KIND`).

==================  =======  ==========================================  =======================
key                 dtype    shape                                       holds
==================  =======  ==========================================  =======================
``ids``             int64    (n_samples, n_categorical_fields)           local id per field: 0
                                                                         missing, 1 other /
                                                                         unseen, 2.. vocabulary
``values``          float32  (n_samples, n_numeric_fields)               standardized value per
                                                                         numeric field
``sequences``       int64    (n_samples, n_sequence_fields, max_length)  local ids, oldest
                                                                         first, right-padded
                                                                         with 0
``lengths``         int64    (n_samples, n_sequence_fields)              real items per row and
                                                                         field
``sample_weight``   float32  (n_samples,)                                side channel: the
                                                                         loss's sample weights
``_loss_scale``     float32  (n_samples,)                                side channel: a DDP
                                                                         rank's share of an
                                                                         uneven global batch
==================  =======  ==========================================  =======================

``sequences`` and ``lengths`` are present only when the schema has sequence fields;
``max_length`` is the sequence fields' :attr:`Field.max_length
<sk_ctr.preprocessing.fields.Field.max_length>`.

The network inputs are the keyword arguments of every network's ``forward``:
``forward(ids, values)``, and ``forward(ids, values, sequences, lengths)`` for the behaviour
models, so a batch reaches a network as ``network(**network_inputs(batch))``. The side-channel
keys travel with the rows (slicing, shuffling and sharding keep them aligned with the inputs)
to the loss, never to the network.
"""

from __future__ import annotations

import numpy as np

IDS = "ids"
VALUES = "values"
SEQUENCES = "sequences"
LENGTHS = "lengths"
#: Per-sample weights of the loss (``fit(..., sample_weight=...)``).
SAMPLE_WEIGHT = "sample_weight"
#: Set by the distributed loader: n_rank * world_size / n_global, constant over a batch.
LOSS_SCALE = "_loss_scale"

#: The network inputs of every model, in ``forward``'s argument order.
FIELD_INPUTS = (IDS, VALUES)
#: The two more inputs of the models that take sequence fields (DIN, EmbeddingMLP).
SEQUENCE_INPUTS = (SEQUENCES, LENGTHS)
#: The dtype of each network input.
INPUT_DTYPES = {IDS: np.int64, VALUES: np.float32, SEQUENCES: np.int64, LENGTHS: np.int64}
#: The arrays holding the fields of each :attr:`Field.kind
#: <sk_ctr.preprocessing.fields.Field.kind>`, at the field's position on axis 1.
ARRAYS_OF_KIND = {"categorical": (IDS,), "numeric": (VALUES,), "sequence": SEQUENCE_INPUTS}
#: Keys that travel with the rows to the loss but are not network inputs.
SIDE_CHANNEL_KEYS = (SAMPLE_WEIGHT, LOSS_SCALE)


def input_keys(schema):
    """The network inputs of data encoded with ``schema``, in ``forward``'s argument order.

    Parameters
    ----------
    schema : sequence of Field

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> from sk_ctr.preprocessing import CTRTransformer
    >>> import pandas as pd
    >>> input_keys(CTRTransformer().fit(pd.DataFrame({"site": ["a", "b"]})).fields_)
    ('ids', 'values')
    """
    if any(field.kind == "sequence" for field in schema):
        return FIELD_INPUTS + SEQUENCE_INPUTS
    return FIELD_INPUTS


def network_inputs(batch):
    """``batch`` without its side-channel keys: the keyword arguments of the network.

    Parameters
    ----------
    batch : mapping of str to array or tensor

    Returns
    -------
    dict of str to array or tensor

    Examples
    --------
    >>> sorted(network_inputs({"ids": 1, "values": 2, "sample_weight": 3}))
    ['ids', 'values']
    """
    return {key: value for key, value in batch.items() if key not in SIDE_CHANNEL_KEYS}
