"""Hand-made cross-product features, the wide input of Wide & Deep (no torch here).

Each cross becomes one hashed column: every column of the cross is hashed per value by pandas
(``hash_pandas_object``, vectorised, the same value always giving the same hash), the hashes of
the columns are combined per row and the result is taken modulo ``n_buckets``. Nothing loops
over rows.

The new columns are marked as crosses in the frame's ``attrs`` (pandas keeps them through
selection, concatenation and Parquet files), so that a :class:`~sk_ctr.CTRTransformer` fitted
on the frame records the role in its schema (:attr:`Field.cross_of
<sk_ctr.preprocessing.fields.Field.cross_of>`) whatever the columns are named.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

#: Separator of the column names in the name of a cross ("a_x_b"). Only a name: what makes a
#: field a cross is its mark (:data:`CROSSES_ATTR`), not its name.
CROSS_SEPARATOR = "_x_"
#: Key of ``DataFrame.attrs`` holding ``{cross column: the columns it crosses}`` for every
#: column a :class:`CrossProductFeatures` added to the frame.
CROSSES_ATTR = "sk_ctr.crosses"


def cross_name(columns):
    """Name of the cross of ``columns``: ``("a", "b")`` gives ``"a_x_b"``."""
    return CROSS_SEPARATOR.join(str(c) for c in columns)


class CrossProductFeatures(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Add one hashed column per cross product of categorical columns (Wide & Deep's
    cross-product transformation phi(x), Cheng et al. 2016, section 3.1).

    The cross of columns (a, b) takes one value per pair of values (a_i, b_i) seen in a row, the
    hand-made "AND(a=a_i, b=b_i)" features of the wide part. The value is a hash of the pair
    modulo ``n_buckets``: deterministic (the same pair always gets the same bucket, at fit, at
    transform and in another process), with distinct pairs colliding only by chance. Missing
    values take part in the hash like any value. The new columns are categorical, so a
    :class:`~sk_ctr.CTRTransformer` that follows learns a vocabulary of the buckets seen in
    training, like any categorical column, and are marked as crosses in the output's ``attrs``
    (:data:`CROSSES_ATTR`), so that its fields carry ``cross_of``: Wide & Deep feeds them to
    its wide part only.

    Numeric (non-boolean) columns are hashed as float64, so an integer column that arrives as
    float (e.g. because it holds NaN at predict time) gives the same buckets.

    Parameters
    ----------
    cross_features : list of tuple of str
        The crosses, each a tuple of two or more column names, e.g.
        ``[("site", "device"), ("site", "device", "hour")]``. The order of the names within a
        tuple changes the buckets, not the information.
    n_buckets : int, default=2**20
        Number of hash buckets per cross. It bounds the vocabulary of each cross column; with
        n distinct pairs, about n^2 / (2 n_buckets) of them share a bucket with another.

    Attributes
    ----------
    crosses_ : tuple of tuple of str
        The validated crosses.
    cross_names_ : tuple of str
        The names of the added columns, ``"a_x_b"`` for ``("a", "b")``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> import pandas as pd
    >>> from sk_ctr.preprocessing.crosses import CrossProductFeatures
    >>> X = pd.DataFrame({"site": ["a", "b", "a"], "device": ["pc", "pc", "pc"]})
    >>> out = CrossProductFeatures([("site", "device")], n_buckets=1000).fit_transform(X)
    >>> list(out.columns), out["site_x_device"].dtype.name
    (['site', 'device', 'site_x_device'], 'category')
    >>> bool(out["site_x_device"][0] == out["site_x_device"][2])
    True
    """

    _parameter_constraints = {
        "cross_features": [list, tuple],
        "n_buckets": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, cross_features=(), n_buckets=2**20):
        self.cross_features = cross_features
        self.n_buckets = n_buckets

    def fit(self, X, y=None):
        """Check the crosses against the columns of ``X``.

        Parameters
        ----------
        X : pandas.DataFrame
        y : ignored

        Returns
        -------
        self : CrossProductFeatures
        """
        self._validate_params()
        _check_frame(X, type(self).__name__)
        crosses = []
        for cross in self.cross_features:
            if isinstance(cross, str) or not hasattr(cross, "__iter__") or len(cross) < 2:
                raise ValueError(
                    "Each cross of cross_features must be a tuple of two or more column names; "
                    f"got {cross!r}."
                )
            crosses.append(tuple(cross))
        names = [cross_name(cross) for cross in crosses]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"cross_features lists the same cross twice: {duplicated}")
        clashing = [n for n in names if n in set(X.columns)]
        if clashing:
            raise ValueError(f"X already has columns named like the crosses: {clashing}")
        self.crosses_ = tuple(crosses)
        self.cross_names_ = tuple(names)
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        _check_columns(X, self.crosses_)
        return self

    def transform(self, X):
        """Return a copy of ``X`` with one categorical column per cross appended.

        The crosses are ``category`` columns whose categories are the bucket numbers
        ``0 .. n_buckets - 1``: they are ids by construction, whatever the share of rare values
        (which would make a plain integer column numeric in :class:`CTRTransformer`).

        Parameters
        ----------
        X : pandas.DataFrame
            Must hold every column named in ``cross_features``.

        Returns
        -------
        pandas.DataFrame of shape (n_samples, n_features + n_crosses)
            With ``attrs[CROSSES_ATTR]`` naming the crosses (those of earlier cross steps
            kept).
        """
        check_is_fitted(self, "crosses_")
        _check_frame(X, type(self).__name__)
        _check_columns(X, self.crosses_)
        columns = {
            name: self._hash(X, cross)
            for name, cross in zip(self.cross_names_, self.crosses_, strict=True)
        }
        out = X.assign(**columns)
        out.attrs[CROSSES_ATTR] = {
            **crossed_columns(X),
            **dict(zip(self.cross_names_, self.crosses_, strict=True)),
        }
        return out

    def _hash(self, X, cross):
        parts = {}
        for position, column in enumerate(cross):
            values = X[column]
            if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
                values.dtype
            ):
                values = values.astype(np.float64)
            parts[position] = values.reset_index(drop=True)  # any index, duplicates too
        # hash_pandas_object combines the per-column hashes of each row in column order.
        hashed = pd.util.hash_pandas_object(pd.DataFrame(parts), index=False)
        buckets = (hashed.to_numpy() % np.uint64(self.n_buckets)).astype(np.int64)
        return pd.Categorical.from_codes(buckets, categories=pd.RangeIndex(self.n_buckets))

    def get_feature_names_out(self, input_features=None):
        """The input columns followed by the cross names.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "crosses_")
        return np.asarray([*self.feature_names_in_, *self.cross_names_], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = []
        return tags


def crossed_columns(frame):
    """The columns of ``frame`` that a :class:`CrossProductFeatures` added, from the frame's
    mark (:data:`CROSSES_ATTR`).

    Parameters
    ----------
    frame : pandas.DataFrame or array-like
        Anything but a DataFrame has no cross.

    Returns
    -------
    dict of str to tuple of str
        ``{cross column: the columns it crosses}``, for the marked columns still in ``frame``.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"site": ["a", "b"], "box_x_size": [1, 2]})
    >>> crossed_columns(CrossProductFeatures([("site", "box_x_size")]).fit_transform(X))
    {'site_x_box_x_size': ('site', 'box_x_size')}
    """
    if not isinstance(frame, pd.DataFrame):
        return {}
    marked = frame.attrs.get(CROSSES_ATTR) or {}
    return {
        str(name): tuple(map(str, cross)) for name, cross in marked.items() if name in frame.columns
    }


def _check_frame(X, caller):
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"{caller} needs a pandas DataFrame (crosses are named by column); got "
            f"{type(X).__name__}."
        )


def _check_columns(X, crosses):
    present = set(X.columns)
    missing = sorted({c for cross in crosses for c in cross if c not in present}, key=str)
    if missing:
        raise ValueError(f"cross_features names columns that are not in X: {missing}")
