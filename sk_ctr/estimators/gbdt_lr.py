"""GBDT + LR: the leaf each boosted tree sends a sample to becomes a categorical field of a
logistic regression (He et al., "Practical Lessons from Predicting Clicks on Ads at Facebook",
ADKDD 2014; a baseline of the AutoFIS paper, Table 1)."""

from functools import partial

from sk_ctr.estimators.gbdt import (
    BOOSTING_PARAMS,
    COMMON_ATTRIBUTES,
    FITTED_INPUT_ATTRIBUTES,
    INPUT_PARAMS,
    TREE_CONSTRAINTS,
    BaseLeafFieldsClassifier,
    FinalStage,
)
from sk_ctr.estimators.models import LRClassifier

__all__ = ["GBDTLRClassifier"]


class GBDTLRClassifier(BaseLeafFieldsClassifier):
    __doc__ = f"""Gradient-boosted trees as a feature transformation for a logistic regression.

    ``fit`` encodes ``X`` with a :class:`~sk_ctr.CTRTransformer`, trains scikit-learn's
    :class:`~sklearn.ensemble.GradientBoostingClassifier` on the encoded fields (categorical
    ids, numbered by decreasing training frequency, and bucket ids or standardized values used
    as ordinal numbers), then turns each sample into the index of the leaf it reaches in every
    tree: ``n_estimators`` categorical fields ``tree_0 .. tree_{{n-1}}``. A
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
        limits apply: set ``max_depth=None`` to bound the trees by their leaves
        alone.{BOOSTING_PARAMS}
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
        features plus the leaves.{INPUT_PARAMS}

    Attributes
    ----------{COMMON_ATTRIBUTES}
    lr_ : estimator
        The fitted linear model on the leaf fields.{FITTED_INPUT_ATTRIBUTES}

    Examples
    --------
    >>> from sk_ctr.estimators.gbdt_lr import GBDTLRClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, random_state=0)
    >>> est = GBDTLRClassifier(n_estimators=20, random_state=0).fit(X, y)
    >>> est.apply(X).shape, est.predict_proba(X).shape
    ((2000, 20), (2000, 2))
    """

    _final_stage = FinalStage(
        model="linear_model",
        fraction="linear_fraction",
        attribute="lr_",
        default=partial(LRClassifier, lr=1e-2, max_epochs=10, batch_size=256),
    )
    _parameter_constraints = {**TREE_CONSTRAINTS, **_final_stage.constraints()}

    def __init__(
        self,
        *,
        n_estimators=100,
        learning_rate=0.1,
        max_depth=3,
        max_leaf_nodes=None,
        min_samples_leaf=1,
        subsample=1.0,
        linear_model=None,
        linear_fraction=None,
        keep_original=False,
        preprocessor=None,
        random_state=None,
    ):
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
