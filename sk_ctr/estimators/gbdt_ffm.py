"""GBDT + FFM: the leaf each boosted tree sends a sample to becomes an extra categorical field of
a field-aware factorization machine (the FFM authors' Criteo Kaggle solution; a baseline of the
AutoFIS paper, Table 1, with Table 9's settings)."""

from functools import partial

from sk_ctr.estimators.field_aware import FFMClassifier
from sk_ctr.estimators.gbdt import (
    BOOSTING_PARAMS,
    COMMON_ATTRIBUTES,
    FITTED_INPUT_ATTRIBUTES,
    INPUT_PARAMS,
    TREE_CONSTRAINTS,
    BaseLeafFieldsClassifier,
    FinalStage,
)

__all__ = ["GBDTFFMClassifier"]


class GBDTFFMClassifier(BaseLeafFieldsClassifier):
    __doc__ = f"""Gradient-boosted trees whose leaves are extra fields of a field-aware FM.

    ``fit`` encodes ``X`` with a :class:`~sk_ctr.CTRTransformer`, trains scikit-learn's
    :class:`~sklearn.ensemble.GradientBoostingClassifier` on the encoded fields (categorical
    ids as ordinal numbers, bucket ids or standardized values), and turns each sample into the
    index of the leaf it reaches in every tree: ``n_estimators`` categorical fields
    ``tree_0 .. tree_{{n-1}}``. A :class:`~sk_ctr.estimators.field_aware.FFMClassifier` (a
    clone of ``ffm_model``) is trained on the encoded original fields plus the leaf fields, so
    each leaf (a conjunction of conditions the trees found) gets a vector per field and
    interacts with every original feature and every other leaf, field-aware. It is the recipe
    of the FFM authors' Criteo-winning Kaggle solution (30 trees of depth 7 beside the raw
    features; FFM itself: Juan et al., "Field-aware Factorization Machines for CTR
    Prediction", RecSys 2016).

    The AutoFIS paper's Table 1 puts GBDT+FFM level with DeepFM on Avazu and Criteo, above
    FFM alone (0.7988 vs 0.7980 AUC on Criteo) and well above GBDT+LR (0.7871). Its Table 9
    grows 20 trees of 512 leaves ("#child") on Criteo and 50 of 1024 on Avazu, for tens of
    millions of rows. The defaults here keep the 20 trees but cap them at 8 leaves: a leaf
    field is a categorical field whose FFM vectors need enough rows per leaf, and the data an
    sk_ctr user meets in a test or a notebook has 10^3 - 10^5 rows, where 512-leaf trees leave a
    handful of rows in most leaves (and take minutes to grow with scikit-learn's exact
    splits). On 6,000 - 15,000 training rows of ``make_ctr_classification`` (4 fields), 4 or 8
    leaves scored 0.005 - 0.02 more test AUC than 32. Set ``max_leaf_nodes=512`` for the
    paper's trees on data of the paper's size.

    scikit-learn's ``GradientBoostingClassifier`` stands in for the LightGBM of the AutoFIS
    baseline (it has ``apply``; see :class:`~sk_ctr.estimators.gbdt_lr.GBDTLRClassifier`):
    its trees split ordinal ids with thresholds, which suits low-cardinality categorical
    fields and numeric columns.

    This is a composite, not a :class:`~sk_ctr.estimators.base.CTRClassifier`: it holds two
    fitted models (``gbdt_`` and ``ffm_``) and no network of its own; ``ffm_model`` is a
    nested estimator whose parameters ``GridSearchCV`` reaches as ``ffm_model__embed_dim``.

    Parameters
    ----------
    n_estimators : int, default=20
        Number of boosting stages, hence of leaf fields (AutoFIS Table 9: 20 trees on Criteo,
        50 on Avazu). The FFM's table holds n_fields vectors per id, so every tree adds a field
        to each id's vectors and m(m-1)/2 grows with the m fields.
    learning_rate : float, default=0.1
        Shrinkage of each tree's contribution.
    max_depth : int or None, default=None
        Maximum depth of each tree; ``None`` bounds the trees by ``max_leaf_nodes`` alone.
    max_leaf_nodes : int or None, default=8
        Grow trees best-first with at most this many leaves (AutoFIS Table 9's "#child": 512
        on Criteo, 1024 on Avazu; see above for the smaller default).{BOOSTING_PARAMS}
    ffm_model : estimator, default=None
        Unfitted classifier trained on the leaf fields (and the original ones when
        ``keep_original``); it must take a DataFrame of integer (and float) columns.
        ``None`` uses ``FFMClassifier(lr=1e-2, max_epochs=10, batch_size=256)``
        (``embed_dim=4``, AutoFIS Table 9).
    ffm_fraction : float or None, default=None
        ``None`` trains the trees and the FFM on all the rows, as the FFM authors do. A float
        in (0, 1) holds out that stratified share of the rows from the boosting; only they
        train the FFM, whose leaf vectors then see how the leaves behave on rows the trees
        did not fit.
    keep_original : bool, default=True
        Give the FFM the encoded original fields (categorical ids as integer columns named
        after them, numeric values as float columns) beside the leaves, so the leaves are
        extra fields, as in the FFM authors' recipe. ``False`` trains the FFM on the leaves
        alone.{INPUT_PARAMS}

    Attributes
    ----------{COMMON_ATTRIBUTES}
    ffm_ : estimator
        The fitted FFM on the original and leaf fields.{FITTED_INPUT_ATTRIBUTES}

    See Also
    --------
    GBDTLRClassifier : the same trees feeding a logistic regression.

    Examples
    --------
    >>> from sk_ctr.estimators.gbdt_ffm import GBDTFFMClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, n_fields=4, random_state=0)
    >>> est = GBDTFFMClassifier(n_estimators=5, random_state=0).fit(X, y)
    >>> est.apply(X).shape, est.predict_proba(X).shape
    ((2000, 5), (2000, 2))
    >>> [field.name for field in est.ffm_.schema_]
    ['C1', 'C2', 'C3', 'C4', 'tree_0', 'tree_1', 'tree_2', 'tree_3', 'tree_4']
    """

    _final_stage = FinalStage(
        model="ffm_model",
        fraction="ffm_fraction",
        attribute="ffm_",
        default=partial(FFMClassifier, lr=1e-2, max_epochs=10, batch_size=256),
    )
    _parameter_constraints = {**TREE_CONSTRAINTS, **_final_stage.constraints()}

    def __init__(
        self,
        *,
        n_estimators=20,
        learning_rate=0.1,
        max_depth=None,
        max_leaf_nodes=8,
        min_samples_leaf=1,
        subsample=1.0,
        ffm_model=None,
        ffm_fraction=None,
        keep_original=True,
        preprocessor=None,
        random_state=None,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.subsample = subsample
        self.ffm_model = ffm_model
        self.ffm_fraction = ffm_fraction
        self.keep_original = keep_original
        self.preprocessor = preprocessor
        self.random_state = random_state
