"""``feature_importances_`` after every fit with validation rows: permutation importances
(:func:`sk_ctr.inspection.field_permutation_importance`) on the rows early stopping held out.

A LightGBM user looks at ``feature_importances_`` next. Permuting one field of the held-out
rows and measuring the drop in ROC AUC costs one forward pass per field and repeat, on at
most :data:`IMPORTANCE_ROWS` rows, and needs no rows the model trained on.
"""

from __future__ import annotations

import numpy as np

from sk_ctr.preprocessing.batch import network_inputs
from sk_ctr.training.callbacks import AfterTrainingOnValidation
from sk_ctr.training.loader import unwrap_dataset
from sk_ctr.training.streaming import StreamingDataset

#: History key of the importances (a dict field -> mean AUC drop), read back by the estimator.
IMPORTANCE_KEY = "feature_importances"
#: Held-out rows scored for the importances (a sample when there are more).
IMPORTANCE_ROWS = 5_000
#: Shuffles per field.
IMPORTANCE_REPEATS = 2


def held_out_rows(dataset):
    """``(FieldData, encoded labels)`` of an in-memory validation dataset (a skorch
    ``Dataset`` or a ``Subset`` of one), else ``None`` (a stream)."""
    if isinstance(dataset, StreamingDataset):
        return None
    X, y, indices = unwrap_dataset(dataset)
    if y is None or not hasattr(X, "schema"):
        return None
    y = np.asarray(y)
    return (X, y) if indices is None else (X[indices], y[indices])


class ValidationImportance(AfterTrainingOnValidation):
    """Permutation importances of the fields on the validation rows, once training ends
    (after early stopping restored the best weights), recorded in the history."""

    def __init__(self, random_state=0):
        self.random_state = random_state

    def on_validation_rows(self, net, dataset):
        from sk_ctr.inspection import field_permutation_importance

        rows = held_out_rows(dataset)
        if rows is None or np.unique(rows[1]).size < 2:
            return
        X, y = rows
        if any(field.kind == "sequence" for field in X.schema):
            # a history shuffled alone breaks its alignment with the histories it is
            # concatenated with (DIN's behavior_grouping="concat"): left to
            # sk_ctr.inspection.permutation_importance, which moves whole rows of cells
            return
        X = type(X)(network_inputs(X), X.schema)
        labels = net.classes_[y.astype(np.int64)]
        result = field_permutation_importance(
            net, X, labels, scoring="roc_auc", n_repeats=IMPORTANCE_REPEATS,
            random_state=self.random_state, max_rows=IMPORTANCE_ROWS,
        )  # fmt: skip
        net.history.record(IMPORTANCE_KEY, result.importances_mean.to_dict())


def importances_by_column(importances, schema, feature_names):
    """The recorded importances as an array over ``feature_names`` (the input columns;
    a column without a field of its own gets 0), or over the schema's fields."""
    if feature_names is None:
        return np.asarray([importances.get(field.name, 0.0) for field in schema])
    return np.asarray([importances.get(str(name), 0.0) for name in feature_names])
