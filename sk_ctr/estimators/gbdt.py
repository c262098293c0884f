"""The two-stage design shared by GBDT + LR and GBDT + FFM: boosted trees turn each sample into
the leaves it reaches, one categorical field per tree, and a second model learns from those
fields (He et al., ADKDD 2014; the AutoFIS paper's baselines, Table 1)."""

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import _check_sample_weight

from sk_ctr.artifact import SavedVersionMixin
from sk_ctr.estimators.inputs import RawFrameInputMixin
from sk_ctr.preprocessing.batch import IDS, VALUES

#: Docstring of the parameters the two-stage estimators share, after their tree-size ones.
BOOSTING_PARAMS = """
    min_samples_leaf : int, default=1
        Minimum number of training samples in a leaf.
    subsample : float, default=1.0
        Fraction of the rows each tree is fitted on (stochastic gradient boosting when < 1)."""

INPUT_PARAMS = """
    preprocessor : CTRTransformer, default=None
        Unfitted transformer to clone and fit on raw input; ``None`` uses ``CTRTransformer()``.
    random_state : int, RandomState instance or None, default=None
        Seeds the boosting, the hold-out split and the second-stage model (whose own
        ``random_state`` it then overrides). ``None`` leaves the second-stage model's own
        setting."""

COMMON_ATTRIBUTES = """
    classes_ : ndarray of shape (2,)
    preprocessor_ : CTRTransformer
        The fitted transformer (absent when ``fit`` got a ``FieldData``).
    schema_ : tuple of Field
    gbdt_ : GradientBoostingClassifier
        The fitted trees, on the columns ``[ids, values]`` of the encoded input."""

FITTED_INPUT_ATTRIBUTES = """
    final_estimator_ : estimator
        The fitted second stage (the same object as the attribute above), under the name
        scikit-learn's stacking estimators use.
    n_features_in_ : int
    feature_names_in_ : ndarray of str"""

#: Constraints shared by the two-stage estimators (each adds its second-stage model and share).
TREE_CONSTRAINTS = {
    "n_estimators": [Interval(Integral, 1, None, closed="left")],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "max_depth": [Interval(Integral, 1, None, closed="left"), None],
    "max_leaf_nodes": [Interval(Integral, 2, None, closed="left"), None],
    "min_samples_leaf": [Interval(Integral, 1, None, closed="left")],
    "subsample": [Interval(Real, 0, 1, closed="right")],
    "keep_original": ["boolean"],
    "preprocessor": [HasMethods(["fit", "transform"]), None],
    "random_state": ["random_state"],
}


@dataclass(frozen=True)
class FinalStage:
    """What distinguishes one two-stage estimator from another: its second-stage model.

    Parameters
    ----------
    model : str
        The ``__init__`` parameter that holds the unfitted second-stage model (or ``None``).
    fraction : str
        The ``__init__`` parameter that holds the share of rows held out of the boosting for
        the second stage alone (or ``None``: all rows train both).
    attribute : str
        The attribute of the fitted second stage (``"lr_"``, ``"ffm_"``).
    default : callable
        Returns the second-stage model used when the ``model`` parameter is ``None``.
    """

    model: str
    fraction: str
    attribute: str
    default: object

    def constraints(self):
        """The parameter constraints of the two parameters."""
        return {
            self.model: [HasMethods(["fit", "predict_proba"]), None],
            self.fraction: [Interval(Real, 0, 1, closed="neither"), None],
        }


class BaseLeafFieldsClassifier(
    SavedVersionMixin, RawFrameInputMixin, ClassifierMixin, BaseEstimator
):
    """Gradient-boosted trees as a feature transformation for a second-stage classifier.

    ``fit`` encodes ``X`` with a :class:`~sk_ctr.CTRTransformer`, trains scikit-learn's
    :class:`~sklearn.ensemble.GradientBoostingClassifier` on the encoded fields (categorical
    ids, numbered by decreasing training frequency, and bucket ids or standardized values used
    as ordinal numbers), then turns each sample into the index of the leaf it reaches in every
    tree: ``n_estimators`` categorical fields ``tree_0 .. tree_{n-1}``, given (with the
    encoded original fields when ``keep_original``) to a clone of the second-stage model.

    This is a composite, not a :class:`~sk_ctr.estimators.base.CTRClassifier`: it holds two
    fitted models and no network of its own, so it follows the scikit-learn pattern of
    meta-estimators (the second-stage model is a nested estimator whose parameters
    ``GridSearchCV`` reaches as ``<parameter>__<name>``).

    A configuration (GBDT + LR, GBDT + FFM) is a subclass that declares its second stage as a
    :class:`FinalStage` (``_final_stage``), its ``_parameter_constraints``
    (``{**TREE_CONSTRAINTS, **_final_stage.constraints()}``) and its ``__init__`` parameters
    (the tree ones of :data:`TREE_CONSTRAINTS`, ``keep_original``, ``preprocessor``,
    ``random_state`` and the two of its :class:`FinalStage`), stored unchanged; nothing else.
    """

    #: The second stage of the configuration (set by each subclass).
    _final_stage = None

    def fit(self, X, y, sample_weight=None):
        """Fit the transformer, the trees on the encoded fields, then the second-stage model on
        the trees' leaves.

        Parameters
        ----------
        X : pandas.DataFrame, array-like of shape (n_samples, n_features) or FieldData
        y : array-like of shape (n_samples,)
            Two classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to both stages.

        Returns
        -------
        self
        """
        self._validate_params()
        stage = self._final_stage
        final_model, final_fraction = getattr(self, stage.model), getattr(self, stage.fraction)
        encoded = self._encode(X, fit=True)
        self._check_sequence_support(encoded)  # the trees read one value per column
        y = self._encode_labels(y, fit=True)
        if len(encoded) != len(y):
            raise ValueError(
                f"X and y have inconsistent numbers of samples: {len(encoded)} and {len(y)}."
            )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, y, ensure_non_negative=True)
        rng = check_random_state(self.random_state)
        gbdt_seed, split_seed, final_seed = rng.randint(np.iinfo(np.int32).max, size=3)
        tree_rows = final_rows = np.arange(len(y))
        if final_fraction is not None:
            tree_rows, final_rows = train_test_split(
                tree_rows, test_size=final_fraction, stratify=y, random_state=split_seed
            )

        self.gbdt_ = GradientBoostingClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            subsample=self.subsample,
            random_state=gbdt_seed,
        )
        self.gbdt_.fit(
            _tree_features(encoded[tree_rows]),
            y[tree_rows],
            sample_weight=None if sample_weight is None else sample_weight[tree_rows],
        )

        final = clone(stage.default() if final_model is None else final_model)
        if self.random_state is not None and "random_state" in final.get_params():
            final.set_params(random_state=int(final_seed))
        final_input = self._final_input(encoded[final_rows])
        if sample_weight is None:
            final.fit(final_input, y[final_rows])
        else:
            final.fit(final_input, y[final_rows], sample_weight=sample_weight[final_rows])
        setattr(self, stage.attribute, final)
        return self

    @property
    def final_estimator_(self):
        """The fitted second-stage model (``lr_`` of GBDT+LR, ``ffm_`` of GBDT+FFM)."""
        return getattr(self, self._final_stage.attribute)

    def apply(self, X):
        """The leaf each tree sends each sample to: the leaf fields of the second stage.

        Returns
        -------
        pandas.DataFrame of shape (n_samples, n_estimators)
            int64 columns ``tree_0 .. tree_{n_estimators - 1}``; the values are node indices
            of ``gbdt_.estimators_[t, 0].tree_``.
        """
        return self._leaves(self._encode_for_prediction(X))

    def predict_proba(self, X):
        """Click probabilities of the second-stage model on the leaves.

        Returns
        -------
        ndarray of shape (n_samples, 2)
            Column 1 is the probability of ``classes_[1]``.
        """
        final_input = self._final_input(self._encode_for_prediction(X))
        return self.final_estimator_.predict_proba(final_input)

    def decision_function(self, X):
        """Logits of the second-stage model on the leaves.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        final_input = self._final_input(self._encode_for_prediction(X))
        return self.final_estimator_.decision_function(final_input)

    def predict(self, X):
        """Labels, with the second-stage model's decision rule (its ``threshold``).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        final_input = self._final_input(self._encode_for_prediction(X))
        labels = self.final_estimator_.predict(final_input)
        return self.classes_[np.asarray(labels, dtype=np.int64)]

    # ------------------------------------------------------------------ helpers
    def _leaves(self, encoded):
        leaves = self.gbdt_.apply(_tree_features(encoded))[:, :, 0].astype(np.int64)
        columns = [f"tree_{t}" for t in range(leaves.shape[1])]
        return pd.DataFrame(leaves, columns=columns)

    def _final_input(self, encoded):
        leaves = self._leaves(encoded)
        if not self.keep_original:
            return leaves
        names = [f.name for f in encoded.categorical_fields] + [
            f.name for f in encoded.numeric_fields
        ]
        clash = [name for name in names if name in leaves.columns]
        if clash:
            raise ValueError(
                f"keep_original=True, but column(s) {clash} of X have the names of leaf fields."
            )
        original = np.hstack([encoded[IDS], encoded[VALUES]])
        original = pd.DataFrame({name: original[:, j] for j, name in enumerate(names)}).astype(
            {f.name: np.int64 for f in encoded.categorical_fields}
        )
        return pd.concat([original, leaves], axis=1)

    def __sklearn_is_fitted__(self):
        return hasattr(self, self._final_stage.attribute)


def _tree_features(encoded):
    """The encoded fields as one float matrix for the trees: ids as ordinal numbers, then
    values."""
    return np.hstack([encoded[IDS], encoded[VALUES]]).astype(np.float32)
