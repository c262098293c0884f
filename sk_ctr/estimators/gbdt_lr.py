"""GBDT + LR: the leaf each boosted tree sends a sample to becomes a categorical field of a
logistic regression (He et al., "Practical Lessons from Predicting Clicks on Ads at Facebook",
ADKDD 2014; a baseline of the AutoFIS paper, Table 1)."""

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import _check_sample_weight

from sk_ctr.estimators.inputs import RawFrameInputMixin
from sk_ctr.estimators.models import LRClassifier


class GBDTLRClassifier(RawFrameInputMixin, ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees as a feature transformation for a logistic regression.

    ``fit`` encodes ``X`` with a :class:`~sk_ctr.CTRTransformer`, trains scikit-learn's
    :class:`~sklearn.ensemble.GradientBoostingClassifier` on the encoded fields (categorical
    ids, numbered by decreasing training frequency, and bucket ids or standardized values used
    as ordinal numbers), then turns each sample into the index of the leaf it reaches in every
    tree: ``n_estimators`` categorical fields ``tree_0 .. tree_{n-1}``. A
    :class:`~sk_ctr.estimators.models.LRClassifier` (a clone of ``linear_model``) is trained on
    them, so the LR weighs the conjunctions of conditions that the trees found (one weight per
    leaf: a one-hot encoding of the leaves, as in the Facebook paper).

    LightGBM, used for the AutoFIS baseline, is not a dependency: scikit-learn's
    ``GradientBoostingClassifier`` is, and it has ``apply`` (``HistGradientBoostingClassifier``
    does not). Its trees split the ordinal ids with thresholds, which suits frequent categories
    and numeric columns; the AutoFIS paper notes that trees use high-cardinality categorical
    fields poorly, and its Table 1 ranks GBDT+LR below FM and DeepFM.

    By default both stages learn from all of the training data, as in the Facebook paper
    (where boosting and LR share the training days). The leaves then fit the training rows more
    tightly than unseen rows; ``linear_fraction`` holds a stratified share of the rows out of
    the boosting for the LR alone, as scikit-learn's tree-embedding example does.

    This is a composite, not a :class:`~sk_ctr.estimators.base.CTRClassifier`: it holds two
    fitted models (``gbdt_`` and ``lr_``) and no network of its own, so it follows the
    scikit-learn pattern of meta-estimators (``linear_model`` is a nested estimator whose
    parameters ``GridSearchCV`` reaches as ``linear_model__lr``).

    Parameters
    ----------
    n_estimators : int, default=100
        Number of boosting stages, hence of leaf fields. (AutoFIS, supplementary table:
        80 trees of 1024 leaves on Criteo, 50 of 2048 on Avazu.)
    learning_rate : float, default=0.1
        Shrinkage of each tree's contribution.
    max_depth : int or None, default=3
        Maximum depth of each tree (at most ``2 ** max_depth`` leaves).
    max_leaf_nodes : int or None, default=None
        Grow trees best-first with at most this many leaves (the papers' "#child"). Both
        limits apply: set ``max_depth=None`` to bound the trees by their leaves alone.
    min_samples_leaf : int, default=1
        Minimum number of training samples in a leaf.
    subsample : float, default=1.0
        Fraction of the rows each tree is fitted on (stochastic gradient boosting when < 1).
    linear_model : estimator, default=None
        Unfitted classifier trained on the leaf fields (and the original ones when
        ``keep_original``); it must take a DataFrame of integer columns.
        ``None`` uses ``LRClassifier(lr=1e-2, max_epochs=10, batch_size=256)``.
    linear_fraction : float or None, default=None
        ``None`` trains the trees and the linear model on all the rows. A float in (0, 1)
        holds out that stratified share of the rows from the boosting; only they train the
        linear model.
    keep_original : bool, default=False
        Also give the linear model the encoded original fields (categorical ids as integer
        columns named after them, numeric values as float columns), i.e. LR on the raw
        features plus the leaves.
    preprocessor : CTRTransformer, default=None
        Unfitted transformer to clone and fit on raw input; ``None`` uses ``CTRTransformer()``.
    random_state : int, RandomState instance or None, default=None
        Seeds the boosting, the ``linear_fraction`` split and the linear model (whose own
        ``random_state`` it then overrides). ``None`` leaves the linear model's own setting.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    preprocessor_ : CTRTransformer
        The fitted transformer (absent when ``fit`` got a ``FieldData``).
    schema_ : tuple of Field
    gbdt_ : GradientBoostingClassifier
        The fitted trees, on the columns ``[ids, values]`` of the encoded input.
    lr_ : estimator
        The fitted linear model on the leaf fields.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> from sk_ctr.estimators.gbdt_lr import GBDTLRClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, random_state=0)
    >>> est = GBDTLRClassifier(n_estimators=20, random_state=0).fit(X, y)
    >>> est.apply(X).shape, est.predict_proba(X).shape
    ((2000, 20), (2000, 2))
    """

    _parameter_constraints = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_depth": [Interval(Integral, 1, None, closed="left"), None],
        "max_leaf_nodes": [Interval(Integral, 2, None, closed="left"), None],
        "min_samples_leaf": [Interval(Integral, 1, None, closed="left")],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "linear_model": [HasMethods(["fit", "predict_proba"]), None],
        "linear_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "keep_original": ["boolean"],
        "preprocessor": [HasMethods(["fit", "transform"]), None],
        "random_state": ["random_state"],
    }

    def __init__(self, *, n_estimators=100, learning_rate=0.1, max_depth=3, max_leaf_nodes=None,
                 min_samples_leaf=1, subsample=1.0, linear_model=None, linear_fraction=None,
                 keep_original=False, preprocessor=None, random_state=None):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.subsample = subsample
        self.linear_model = linear_model
        self.linear_fraction = linear_fraction
        self.keep_original = keep_original
        self.preprocessor = preprocessor
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        """Fit the transformer, the trees on the encoded fields, then the linear model on the
        trees' leaves.

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
        encoded = self._encode(X, fit=True)
        y = self._encode_labels(y, fit=True)
        if len(encoded) != len(y):
            raise ValueError(
                f"X and y have inconsistent numbers of samples: {len(encoded)} and {len(y)}."
            )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, y, ensure_non_negative=True)
        rng = check_random_state(self.random_state)
        gbdt_seed, split_seed, linear_seed = rng.randint(np.iinfo(np.int32).max, size=3)
        tree_rows = linear_rows = np.arange(len(y))
        if self.linear_fraction is not None:
            tree_rows, linear_rows = train_test_split(
                tree_rows, test_size=self.linear_fraction, stratify=y, random_state=split_seed
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
            _tree_features(encoded[tree_rows]), y[tree_rows],
            sample_weight=None if sample_weight is None else sample_weight[tree_rows],
        )

        linear_model = self.linear_model
        if linear_model is None:
            linear_model = LRClassifier(lr=1e-2, max_epochs=10, batch_size=256)
        self.lr_ = clone(linear_model)
        if self.random_state is not None and "random_state" in self.lr_.get_params():
            self.lr_.set_params(random_state=int(linear_seed))
        linear_input = self._linear_input(encoded[linear_rows])
        if sample_weight is None:
            self.lr_.fit(linear_input, y[linear_rows])
        else:
            self.lr_.fit(linear_input, y[linear_rows], sample_weight=sample_weight[linear_rows])
        return self

    def apply(self, X):
        """The leaf each tree sends each sample to: the categorical fields of the LR.

        Returns
        -------
        pandas.DataFrame of shape (n_samples, n_estimators)
            int64 columns ``tree_0 .. tree_{n_estimators - 1}``; the values are node indices
            of ``gbdt_.estimators_[t, 0].tree_``.
        """
        return self._leaves(self._encode_for_prediction(X))

    def predict_proba(self, X):
        """Click probabilities of the linear model on the leaves.

        Returns
        -------
        ndarray of shape (n_samples, 2)
            Column 1 is the probability of ``classes_[1]``.
        """
        linear_input = self._linear_input(self._encode_for_prediction(X))
        return self.lr_.predict_proba(linear_input)

    def decision_function(self, X):
        """Logits of the linear model on the leaves.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        linear_input = self._linear_input(self._encode_for_prediction(X))
        return self.lr_.decision_function(linear_input)

    def predict(self, X):
        """Labels, with the linear model's decision rule (``threshold`` of ``LRClassifier``).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        linear_input = self._linear_input(self._encode_for_prediction(X))
        return self.classes_[np.asarray(self.lr_.predict(linear_input), dtype=np.int64)]

    # ------------------------------------------------------------------ helpers
    def _leaves(self, encoded):
        leaves = self.gbdt_.apply(_tree_features(encoded))[:, :, 0].astype(np.int64)
        columns = [f"tree_{t}" for t in range(leaves.shape[1])]
        return pd.DataFrame(leaves, columns=columns)

    def _linear_input(self, encoded):
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
        original = np.hstack([encoded["ids"], encoded["values"]])
        original = pd.DataFrame(
            {name: original[:, j] for j, name in enumerate(names)}
        ).astype({f.name: np.int64 for f in encoded.categorical_fields})
        return pd.concat([original, leaves], axis=1)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "lr_")


def _tree_features(encoded):
    """The encoded fields as one float matrix for the trees: ids as ordinal numbers, then
    values."""
    return np.hstack([encoded["ids"], encoded["values"]]).astype(np.float32)
