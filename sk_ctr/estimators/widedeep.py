"""The Wide & Deep estimator: LR & DNN (with hand-made crosses) and FM & DNN."""

from numbers import Integral

from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval, StrOptions

from sk_ctr.estimators.base import EMBEDDING_CONSTRAINTS, MLP_CONSTRAINTS, CTRClassifier
from sk_ctr.estimators.parameter_docs import INIT_STD, MLP, parameters, training_parameters
from sk_ctr.models.widedeep import WIDE_PARTS, WideDeepNet
from sk_ctr.preprocessing import CTRTransformer, FieldData
from sk_ctr.preprocessing.crosses import CrossProductFeatures, cross_name

__all__ = ["WideDeepClassifier"]


class WideDeepClassifier(CTRClassifier):
    __doc__ = f"""Wide & Deep: a wide linear (or FM) part and a deep MLP trained jointly.

    y = sigmoid(w_wide^T [x, phi(x)] + MLP(e) + b) (Cheng et al. 2016, section 3.3). The wide
    part sees the raw fields and the hand-made cross products phi(x) given in
    ``cross_features``; the deep part sees the raw fields only. The two parts have separate
    embeddings (the difference from DeepFM, DeepFM journal section III-C-3) and share one
    optimizer (journal footnote 7). ``wide="lr"`` is the journal's LR & DNN, ``wide="fm"`` its
    FM & DNN, where an FM on the wide part's own embedding replaces the need for crosses
    (section IV-A-3).

    With ``cross_features``, ``fit`` on a raw DataFrame fits
    ``Pipeline([CrossProductFeatures, preprocessor])`` as ``preprocessor_``, so prediction on a
    raw frame adds the same crosses. Cross fields (or those listed in ``wide_fields``) feed
    only the wide part, also when the crosses were added earlier in a user's pipeline; a raw
    column named like a cross (``"box_x_size"``) is not one.

    Parameters
    ----------
    wide : {{"lr", "fm"}}, default="lr"
        The wide part: order-1 weights (LR), or order-1 weights plus an FM.
    cross_features : list of tuple of str, default=None
        Crosses of raw columns added as wide-only fields by
        :class:`~sk_ctr.preprocessing.crosses.CrossProductFeatures`, e.g.
        ``[("site", "device")]``. ``fit`` then needs a DataFrame.
    n_buckets : int, default=2**20
        Hash buckets per cross (bounds each cross's vocabulary).
    wide_fields : list of str, default=None
        Names of the fields that only the wide part sees. None means the crosses: the fields
        the schema marks as such (``Field.cross_of``, set for the columns
        :class:`~sk_ctr.preprocessing.crosses.CrossProductFeatures` adds), whatever their
        names.
    interactions : list of tuple of str, default=None
        With ``wide="fm"``: restrict the wide FM to these field pairs (and triples), e.g. an
        AutoFIS selection (``selected_interactions_``); ``None`` keeps every pair.
    embed_dim : int, default=11
        Size of the embeddings of the deep part (and of the wide FM). The journal uses 11 for
        Wide & Deep, the FNN's k + 1 (section III-C-1 and Table III).
{parameters(INIT_STD, *MLP, *training_parameters())}

    Examples
    --------
    >>> from sk_ctr.estimators.widedeep import WideDeepClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, random_state=0)
    >>> est = WideDeepClassifier(cross_features=[("C1", "C2")], hidden_units=(32,),
    ...                          max_epochs=2, random_state=0).fit(X, y)
    >>> [f.name for f in est.schema_][-1]
    'C1_x_C2'
    >>> est.predict_proba(X).shape
    (2000, 2)
    """

    _network = WideDeepNet
    _parameter_constraints = {
        **CTRClassifier._parameter_constraints,
        **EMBEDDING_CONSTRAINTS,
        **MLP_CONSTRAINTS,
        "wide": [StrOptions(set(WIDE_PARTS))],
        "cross_features": [list, tuple, None],
        "n_buckets": [Interval(Integral, 1, None, closed="left")],
        "wide_fields": [list, tuple, None],
        "interactions": [list, tuple, None],
    }

    def __init__(
        self,
        *,
        wide="lr",
        cross_features=None,
        n_buckets=2**20,
        wide_fields=None,
        interactions=None,
        embed_dim=11,
        init_std=0.01,
        hidden_units=(400, 400, 400),
        activation="relu",
        dropout=0.5,
        batch_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.interactions = interactions
        self.wide = wide
        self.cross_features = cross_features
        self.n_buckets = n_buckets
        self.wide_fields = wide_fields
        self.embed_dim = embed_dim
        self.hidden_units = hidden_units
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.init_std = init_std

    def _encode(self, X, fit, fitted_preprocessor=None):
        if fit and self.cross_features and isinstance(X, FieldData):
            raise ValueError(
                "cross_features needs the raw DataFrame, but X is already encoded FieldData; "
                "put CrossProductFeatures before the CTRTransformer of your pipeline and leave "
                "cross_features=None."
            )
        return super()._encode(X, fit, fitted_preprocessor)

    def _make_preprocessor(self):
        """With ``cross_features``, the crosses are added before the transformer, as one
        ``Pipeline`` that ``predict`` applies again to raw frames."""
        encoder = super()._make_preprocessor()
        if not self.cross_features:
            return encoder
        if isinstance(encoder, CTRTransformer) and encoder.categorical_features is not None:
            # An explicit categorical list would make the crosses numeric ("every other column").
            names = [cross_name(columns) for columns in self.cross_features]
            encoder.set_params(categorical_features=[*encoder.categorical_features, *names])
        crosses = CrossProductFeatures(self.cross_features, self.n_buckets)
        return Pipeline([("crosses", crosses), ("encoder", encoder)])
