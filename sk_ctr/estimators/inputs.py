"""Input handling shared by the estimators: raw frames through a fitted CTRTransformer, labels
through a LabelEncoder, with the errors scikit-learn users expect."""

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, column_or_1d

from sk_ctr.preprocessing import CTRTransformer, FieldData


class RawFrameInputMixin:
    """Encode ``X`` (raw frame, array or FieldData) and binary labels ``y`` for a classifier.

    The host estimator has a ``preprocessor`` parameter; fitting sets ``preprocessor_`` (absent
    for FieldData input), ``schema_``, ``n_features_in_``, ``feature_names_in_`` and ``le_``.
    """

    #: Whether the model takes sequence / multi-valued fields (``sequences``, ``lengths``).
    _accepts_sequences = False

    def _check_sequence_support(self, X_encoded):
        """A clear error, naming the columns, for multi-valued columns the model cannot take."""
        columns = [f.name for f in X_encoded.schema if f.kind == "sequence"]
        if columns and not self._accepts_sequences:
            raise ValueError(
                f"{type(self).__name__} takes one value per column, but {columns} hold several "
                "per row (lists or delimited strings). Use DINClassifier or "
                "EmbeddingMLPClassifier, which pool them, or drop those columns."
            )

    def _encode(self, X, fit, fitted_preprocessor=None):
        """Raw input -> FieldData with the fitted transformer; FieldData passes through.

        With ``fit`` the transformer is fitted on ``X``, unless ``fitted_preprocessor`` (already
        fitted elsewhere, e.g. chunk by chunk on a ParquetSource) is given to adopt instead.
        """
        if isinstance(X, FieldData):
            if fit:
                self.__dict__.pop("preprocessor_", None)
                self.schema_ = X.schema
            elif X.schema != self.schema_:
                raise ValueError("X was encoded with a different schema than the one seen in fit.")
            return X.check()
        if fit:
            if fitted_preprocessor is None:
                self.preprocessor_ = self._make_preprocessor()
                encoded = self.preprocessor_.fit_transform(X)
            else:
                self.preprocessor_ = fitted_preprocessor
                encoded = fitted_preprocessor.transform(X)
            self.schema_ = encoded.schema
            self.n_features_in_ = self.preprocessor_.n_features_in_
            if hasattr(self.preprocessor_, "feature_names_in_"):
                self.feature_names_in_ = self.preprocessor_.feature_names_in_
            else:
                self.__dict__.pop("feature_names_in_", None)
            return encoded
        if not hasattr(self, "preprocessor_"):
            raise ValueError(
                f"This {type(self).__name__} was fitted on encoded FieldData; pass data encoded "
                "by the same CTRTransformer (or fit it on the raw frame)."
            )
        return self.preprocessor_.transform(X)

    def _make_preprocessor(self):
        """The unfitted preprocessing of raw input (a subclass may prepend steps)."""
        return clone(CTRTransformer() if self.preprocessor is None else self.preprocessor)

    def _encode_labels(self, y, fit):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if fit:
            if type_of_target(y) not in ("binary", "unknown"):
                raise ValueError(
                    "Only binary classification is supported; y has "
                    f"{np.unique(y).size} classes: {np.unique(y)[:10].tolist()}."
                )
            self.le_ = LabelEncoder().fit(y)
            if len(self.le_.classes_) < 2:
                raise ValueError(
                    f"y contains only 1 class ({self.le_.classes_[0]!r}); a classifier needs "
                    "samples of both classes."
                )
        unseen = np.setdiff1d(np.unique(y), self.le_.classes_)
        if unseen.size:
            raise ValueError(f"y has labels {unseen.tolist()} not seen in the first fit.")
        return self.le_.transform(y).astype(np.float32)

    def _encode_for_prediction(self, X):
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' first."
            )
        return self._encode(X, fit=False)

    @property
    def classes_(self):
        if not hasattr(self, "le_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet.")
        return self.le_.classes_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True  # NaN is a value of its own: the missing id
        tags.classifier_tags.multi_class = False
        return tags
