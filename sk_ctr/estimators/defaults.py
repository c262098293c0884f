"""Training defaults that depend on the data: chosen on validation splits of the training parts
of the shared data sets (``benchmarks/defaults_selection.py``, tables in docs/defaults.md)."""

from __future__ import annotations

import math

#: ``batch_size="auto"`` grows with the square root of the training rows, so that an epoch has
#: about sqrt(n) / 1.5 steps: a fixed batch of 1024 makes one step per epoch on 200 rows and
#: under-trains every small data set, while on the Criteo sample (7,200 rows) batch 256 beat
#: 1024 by 0.007 validation AUC and on Frappe (41,000 rows) 256 is what reached the best AUCs.
AUTO_BATCH_SCALE = 1.5
#: Bounds of the automatic batch size: below 32 a step costs as much as a larger one on a CPU,
#: above 2048 (the DeepFM journal's batch on Criteo-45M is 2000) updates grow too rare.
AUTO_BATCH_SIZE_RANGE = (32, 2048)
#: Learning rate of the models without a multi-layer perceptron (LR, FM, FFM, FwFM, AFM). Their
#: few parameters per id learn slowly at the deep models' 1e-3: validation AUC on Frappe at
#: lr 1e-3 / 3e-3 / 1e-2, LR 0.9202 / 0.9256 / 0.9259, FM 0.9266 / 0.9314 / 0.9321
#: (docs/benchmarks.md, validation-only experiment).
SHALLOW_LR = 1e-2
#: Rows per forward pass when predicting with ``batch_size="auto"`` (no gradients: larger is
#: faster up to the cache size; the throughput benchmark predicts with 2000).
PREDICTION_BATCH_SIZE = 2048


def auto_batch_size(n_rows):
    """The training batch size of ``batch_size="auto"`` for ``n_rows`` training rows.

    The power of two nearest to ``1.5 * sqrt(n_rows)``, within :data:`AUTO_BATCH_SIZE_RANGE`.

    >>> auto_batch_size(200), auto_batch_size(7_200), auto_batch_size(41_000)
    (32, 128, 256)
    >>> auto_batch_size(1_000_000), auto_batch_size(45_000_000)
    (2048, 2048)
    """
    low, high = AUTO_BATCH_SIZE_RANGE
    target = AUTO_BATCH_SCALE * math.sqrt(max(n_rows, 1))
    return int(min(max(2 ** round(math.log2(target)), low), high))
