"""The input's columns as the transformer reads them: stored arrays, numeric values checked."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _stored_columns(frame):
    """``{name: values}`` of the columns of ``frame`` as pandas stores them (numpy arrays or
    extension arrays such as ``Categorical`` and Arrow strings), without boxing each in a Series.

    Boxing costs about 12 us per column under pandas 3 (``frame[name]``), most of the time of a
    one-row request over 39 columns; the stored arrays cost well under 1 us each.
    ``DataFrame._get_column_array`` is private (pandas >= 1.3), hence the public fallback.
    """
    stored = getattr(frame, "_get_column_array", None)
    if stored is None:
        return {name: column.values for name, column in frame.items()}
    return {name: stored(position) for position, name in enumerate(frame.columns)}


def _numeric_values(name, column):
    """Float64 values of a Series or stored column, NaN where missing."""
    try:
        if isinstance(column, np.ndarray) and column.dtype.kind == "f":
            values = column.astype(np.float64)  # a copy, as the caller may write into it
        else:
            column = column if isinstance(column, pd.Series) else pd.Series(column, copy=False)
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"Column {name!r} was numeric during fit but now holds non-numeric values "
            f"(dtype {column.dtype})."
        ) from exc
    if np.isinf(values).any():
        raise ValueError(
            f"Column {name!r} contains infinity; replace it with a finite value or NaN "
            "(NaN is encoded as missing)."
        )
    return values


def _reject_nan(name, values):
    if np.isnan(values).any():
        raise ValueError(
            f"Column {name!r} contains NaN, which numeric='value' cannot encode; impute it or "
            "use numeric='bucketize', where NaN gets its own bucket."
        )
