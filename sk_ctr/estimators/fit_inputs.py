"""What ``fit`` takes besides ``X`` and ``y``: a label column named by ``y``, validation rows,
sample weights."""

import numpy as np
from sklearn.utils.validation import _check_sample_weight
from skorch.dataset import Dataset

from sk_ctr.estimators.early_stopping import check_validation_classes
from sk_ctr.io.parquet import ParquetSource, is_paths
from sk_ctr.preprocessing import FieldData
from sk_ctr.preprocessing.batch import SAMPLE_WEIGHT


class FitInputMixin:
    """Sample weights and validation rows of ``CTRClassifier.fit``, checked and encoded."""

    def _with_sample_weight(self, X_encoded, y_encoded, sample_weight, name="sample_weight"):
        """``X_encoded`` carrying the checked, non-negative ``sample_weight`` to the loss."""
        if sample_weight is None:
            return X_encoded
        weights = _check_sample_weight(
            sample_weight, y_encoded, dtype=np.float32, ensure_non_negative=True
        )
        if not weights.sum() > 0:
            raise ValueError(f"{name} sums to zero; at least one weight must be > 0.")
        return FieldData({**X_encoded, SAMPLE_WEIGHT: weights}, X_encoded.schema)

    def _encode_validation(self, validation):
        """``(X_val, y_val, sample_weight_val)`` encoded with the fitted transformer and
        labels, as the dataset early stopping scores."""
        X_val, y_val, weights = validation
        X_encoded = self._encode(X_val, fit=False)
        y_encoded = self._encode_labels(y_val, fit=False)
        if len(X_encoded) != len(y_encoded):
            raise ValueError(
                f"X_val and y_val have inconsistent numbers of samples: {len(X_encoded)} and "
                f"{len(y_encoded)}."
            )
        check_validation_classes(y_encoded, self.scoring)
        X_encoded = self._with_sample_weight(X_encoded, y_encoded, weights, "sample_weight_val")
        return Dataset(X_encoded, y_encoded)


def _label_column(X, y):
    """``fit(frame, y="clicked")``: the frame's column named by ``y`` is the label, as it is
    for Parquet paths; a name that is not a column is an error naming the columns."""
    if not isinstance(y, str) or is_paths(X) or isinstance(X, ParquetSource):
        return X, y
    columns = getattr(X, "columns", None)
    if columns is None or y not in columns:
        shown = [] if columns is None else list(columns)[:20]
        raise ValueError(
            f"y={y!r} names a label column, but X has no such column (its "
            f"columns: {shown}); pass the labels as an array, or name a column."
        )
    return X.drop(columns=y), X[y].to_numpy()


def _validation_set(X_val, y_val, sample_weight_val):
    """``(X_val, y_val, sample_weight_val)``, or ``None`` when no validation rows are given."""
    if X_val is None:
        if y_val is not None or sample_weight_val is not None:
            raise ValueError("y_val / sample_weight_val were given without X_val.")
        return None
    if y_val is None and not isinstance(X_val, ParquetSource):
        raise ValueError("X_val was given without y_val; pass both.")
    return X_val, y_val, sample_weight_val
