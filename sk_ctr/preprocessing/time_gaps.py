"""Time gaps of behaviour histories as bucket ids: BST's position feature (no torch here).

BST (Chen et al., DLP-KDD 2019, section 2.2) gives behaviour v_i the position
pos(v_i) = t(v_t) - t(v_i), the time between it and the recommendation, and embeds it. The
:class:`~sk_ctr.CTRTransformer` carries sequences of ids, not of numbers, so the gaps are
bucketized first, on a log scale (a gap of seconds and one of a few more seconds share a
bucket, as do a month and a month and a day): bucket(g) = floor(log2(1 + g)), and each
bucket id is then an item with a vocabulary (and embedding rows) of its own.
"""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from sk_ctr.preprocessing.sequences import split_cells


def gap_buckets(gaps):
    """floor(log2(1 + g)) of non-negative gaps.

    Parameters
    ----------
    gaps : array-like of float

    Returns
    -------
    numpy.ndarray of int64
    """
    return np.floor(np.log2(1 + np.asarray(gaps, dtype=np.float64))).astype(np.int64)


class TimeGapBuckets(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Replace each cell of the gap columns (a list of time gaps, oldest behaviour first) by
    the list of their buckets floor(log2(1 + gap)).

    Stateless: ``fit`` checks nothing but the input type. Put it before the
    :class:`~sk_ctr.CTRTransformer` (``BSTClassifier(position_column=...)`` does), which then
    encodes each gap column as a multi-valued column.

    Parameters
    ----------
    columns : list of str
        The gap columns: cells are lists, tuples, arrays or ``delimiter``-separated strings of
        non-negative numbers (any time unit: seconds, days ...); NaN, None and ``""`` are
        empty lists.
    delimiter : str, default="|"
        Separator of the items of string cells.

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of str
    """

    def __init__(self, columns, delimiter="|"):
        self.columns = columns
        self.delimiter = delimiter

    def fit(self, X, y=None):
        """Check that ``X`` is a DataFrame with the gap columns."""
        self._check_frame(X)
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X):
        """A copy of ``X`` whose gap columns hold lists of bucket ids."""
        check_is_fitted(self, "n_features_in_")
        self._check_frame(X)
        out = X.copy()
        for name in self.columns:
            items, lengths = split_cells(name, X[name], self.delimiter)
            try:
                gaps = np.asarray(items, dtype=np.float64)
            except (TypeError, ValueError) as error:
                raise ValueError(
                    f"Column {name!r} holds time gaps for BST's positions; its items must be "
                    f"numbers ({error})."
                ) from None
            if not (np.isfinite(gaps) & (gaps >= 0)).all():
                bad = gaps[~(np.isfinite(gaps) & (gaps >= 0))][0]
                raise ValueError(
                    f"Column {name!r} holds time gaps t(candidate) - t(behaviour), which must be "
                    f"finite and non-negative; found {float(bad)!r}."
                )
            cells = np.empty(len(X), dtype=object)
            cells[:] = np.split(gap_buckets(gaps), np.cumsum(lengths)[:-1])[: len(X)]
            out[name] = pd.Series(cells, index=X.index, dtype=object)
        return out

    def _check_frame(self, X):
        if not isinstance(X, pd.DataFrame):
            raise ValueError(
                f"position_column needs a pandas DataFrame with the gap columns {self.columns}; "
                f"got {type(X).__name__}."
            )
        missing = [name for name in self.columns if name not in X.columns]
        if missing:
            raise ValueError(f"The gap columns {missing} (position_column) are not in X.")

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "n_features_in_")
        return self.feature_names_in_
