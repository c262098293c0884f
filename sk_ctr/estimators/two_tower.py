"""The two-tower (DSSM) estimator: a CTR classifier whose towers also embed users and items."""

from numbers import Real

import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import Interval

from sk_ctr.estimators.base import EMBEDDING_CONSTRAINTS, MLP_CONSTRAINTS, CTRClassifier
from sk_ctr.estimators.parameter_docs import (
    BATCH_NORM,
    INIT_STD,
    parameters,
    training_parameters,
)
from sk_ctr.models.two_tower import TwoTowerNet

__all__ = ["TwoTowerClassifier"]


class TwoTowerClassifier(CTRClassifier):
    __doc__ = f"""Two-tower (DSSM) model: logit = <u, v> / temperature + b.

    A user tower maps the embeddings of the user columns to a vector u, an item tower maps
    those of the item columns to v, and the click logit is their inner product plus one bias
    (the survey note's "Two-Tower (DSSM)": independent towers, dot-product similarity). User
    and item features meet only in that inner product, so the model is built for retrieval:
    :meth:`transform_items` embeds a catalogue once, :meth:`transform_users` a user, and the
    best items are the largest inner products (an approximate-nearest-neighbour index). As a
    ranker it is limited: a user feature and an item feature interact only through <u, v>,
    never through an explicit cross or a shared hidden layer. It is trained here with the
    pointwise log-loss on the labelled pairs of ``X`` (no in-batch or sampled negatives), with
    the plain inner product the survey note names rather than the original DSSM's cosine
    similarity and softmax over candidates.

    Parameters
    ----------
    user_fields : list of str, default=None
        Columns of ``X`` read by the user tower. ``None``: every column ``item_fields`` does
        not list.
    item_fields : list of str, default=None
        Columns of ``X`` read by the item tower. ``None``: every column ``user_fields`` does
        not list. At least one of the two must be given. At ``fit`` both groups must be
        non-empty, disjoint and together cover the columns of ``X`` exactly; otherwise a
        ``ValueError`` names the offending columns (a column in neither group is refused, not
        silently dropped).
    embed_dim : int, default=16
        Size k of the field embeddings, shared by both towers.
    hidden_units : tuple of int, default=(128, 64)
        Widths of each tower's layers; the last is the size d of u and v. The last layer is
        linear (no activation), so <u, v> can be negative. Must not be empty.
    activation : {{"relu", "tanh", "sigmoid", "prelu", "dice"}}, default="relu"
        Activation of the hidden layers (all but the last).
    dropout : float, default=0.0
        Probability of dropping a unit of a hidden layer (not of u or v).
{parameters(BATCH_NORM, INIT_STD)}
    temperature : float, default=1.0
        Fixed divisor of the inner product, logit = <u, v> / temperature + b. Not learned: the
        towers' last linear layers already set the scale of u and v.
{parameters(*training_parameters())}

    Examples
    --------
    >>> from sk_ctr.estimators.two_tower import TwoTowerClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> X, y = make_ctr_classification(n_samples=2000, random_state=0)
    >>> est = TwoTowerClassifier(user_fields=["C1", "C2", "C3", "C4", "C5"], embed_dim=4,
    ...                          hidden_units=(16, 8), max_epochs=2, random_state=0).fit(X, y)
    >>> est.transform_users(X).shape, est.transform_items(X).shape
    ((2000, 8), (2000, 8))
    """

    _network = TwoTowerNet
    _parameter_constraints = {
        **CTRClassifier._parameter_constraints,
        **EMBEDDING_CONSTRAINTS,
        **MLP_CONSTRAINTS,
        "user_fields": [list, tuple, None],
        "item_fields": [list, tuple, None],
        "temperature": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        user_fields=None,
        item_fields=None,
        embed_dim=16,
        hidden_units=(128, 64),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        init_std=0.01,
        temperature=1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.user_fields = user_fields
        self.item_fields = item_fields
        self.embed_dim = embed_dim
        self.hidden_units = hidden_units
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.init_std = init_std
        self.temperature = temperature

    def transform_users(self, X):
        """User-tower vectors u, for retrieval.

        Parameters
        ----------
        X : pandas.DataFrame or FieldData
            Must hold the user columns; item columns that are absent are filled with a
            placeholder (they do not reach the user tower).

        Returns
        -------
        ndarray of shape (n_samples, hidden_units[-1])
        """
        return self._tower_vectors(X, "user")

    def transform_items(self, X):
        """Item-tower vectors v, for retrieval: ``decision_function`` is
        ``((transform_users(X) * transform_items(X)).sum(1) / temperature + module_.bias)
        / temperature_`` (``temperature_``: the calibration fitted after training).

        Parameters
        ----------
        X : pandas.DataFrame or FieldData
            Must hold the item columns; user columns that are absent are filled with a
            placeholder (they do not reach the item tower).

        Returns
        -------
        ndarray of shape (n_samples, hidden_units[-1])
        """
        return self._tower_vectors(X, "item")

    def _tower_vectors(self, X, side):
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' first."
            )
        index = getattr(self.module_, f"{side}_index").tolist()
        if isinstance(X, pd.DataFrame) and hasattr(self, "preprocessor_"):
            X = self._fill_other_tower(X.rename(columns=str), [self.schema_[i].name for i in index])
        return self._map_batches(
            X, lambda network, ids, values: getattr(network, f"{side}_embedding")(ids, values)
        )

    def _fill_other_tower(self, X, tower_columns):
        """Add the other tower's absent columns with values its encoding accepts (NaN, or the
        training mean of a numeric-value column) so that a catalogue of items or a table of
        users can be embedded on its own."""
        missing = [name for name in tower_columns if name not in X.columns]
        if missing:
            raise ValueError(f"X lacks the tower's column(s) {missing}.")
        fitted = [str(name) for name in getattr(self, "feature_names_in_", [])]
        absent = [name for name in fitted if name not in X.columns]
        if not absent:
            return X
        kinds = {field.name: field.kind for field in self.schema_}
        scaling = getattr(self.preprocessor_, "scaling_", {})
        fillers = {
            name: scaling.get(name, (0.0,))[0] if kinds.get(name) == "numeric" else np.nan
            for name in absent
        }
        return X.assign(**fillers)[fitted]
