"""``feature_importances_``: permutation importances
(:func:`sk_ctr.inspection.field_permutation_importance`) on the rows early stopping held out,
computed when first read.

A LightGBM user looks at ``feature_importances_`` next. Permuting one field of the held-out
rows and measuring the drop in ROC AUC needs no rows the model trained on, but costs one
forward pass over them per field and repeat: on Criteo's 39 fields, 78 passes, more than
the epochs of a DeepFM fit on 10k rows and 19 of the 25 s of an xDeepFM fit on 5k. So a fit
keeps a sample of the encoded held-out rows (at most :data:`IMPORTANCE_ROWS`) and the first
read of ``feature_importances_`` scores them; fits whose importances nobody reads (a grid
search, a cross-validation) never pay.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.random import sample_without_replacement

from sk_ctr.preprocessing.batch import network_inputs
from sk_ctr.training.loader import unwrap_dataset
from sk_ctr.training.streaming import StreamingDataset

#: Held-out rows scored for the importances (a sample when there are more).
IMPORTANCE_ROWS = 5_000
#: Shuffles per field.
IMPORTANCE_REPEATS = 2


class HeldOutImportance:
    """The held-out rows ``feature_importances_`` is computed on, then its values.

    Parameters
    ----------
    X : FieldData
        The encoded rows (network inputs only: no sample weights).
    y : ndarray of shape (n_samples,)
        Their labels, as values of the estimator's ``classes_``.
    random_state : int or None
        Seeds the shuffles.
    """

    def __init__(self, X, y, random_state):
        self.X, self.y, self.random_state = X, y, random_state
        self.importances = None

    @classmethod
    def of(cls, dataset, classes, random_state):
        """The sample of an in-memory validation dataset (a skorch ``Dataset`` or a
        ``Subset`` of one) to score, or ``None`` where importances are not computed: a
        stream, one class only, or behaviour histories (a history shuffled alone breaks its
        alignment with the histories it is concatenated with, DIN's
        ``behavior_grouping="concat"``: left to :func:`sk_ctr.inspection.permutation_importance`,
        which moves whole rows of cells)."""
        if dataset is None or isinstance(dataset, StreamingDataset):
            return None
        X, y, rows = unwrap_dataset(dataset)
        if y is None or not hasattr(X, "schema"):
            return None
        if any(field.kind == "sequence" for field in X.schema):
            return None
        rows = np.arange(len(y)) if rows is None else rows
        if len(rows) > IMPORTANCE_ROWS:  # a sample without replacement, seeded by random_state
            generator = check_random_state(random_state)
            rows = rows[
                np.sort(
                    sample_without_replacement(len(rows), IMPORTANCE_ROWS, random_state=generator)
                )
            ]
        labels = np.asarray(y)[rows]
        if np.unique(labels).size < 2:
            return None
        X = X[rows]
        return cls(
            type(X)(network_inputs(X), X.schema), classes[labels.astype(np.int64)], random_state
        )

    def values(self, estimator):
        """``{field: mean AUC drop}``, computed on the first call (the rows are then let go)."""
        if self.importances is None:
            from sk_ctr.inspection import field_permutation_importance

            result = field_permutation_importance(
                estimator, self.X, self.y, scoring="roc_auc", n_repeats=IMPORTANCE_REPEATS,
                random_state=self.random_state, max_rows=None,
            )  # fmt: skip
            self.importances = result.importances_mean.to_dict()
            self.X = self.y = None
        return self.importances


def importances_by_column(importances, schema, feature_names):
    """The importances as an array over ``feature_names`` (the input columns; a column
    without a field of its own gets 0), or over the schema's fields."""
    if feature_names is None:
        return np.asarray([importances.get(field.name, 0.0) for field in schema])
    return np.asarray([importances.get(str(name), 0.0) for name in feature_names])
