"""Counts of a column's values, whole (``fit``) or merged over chunks (``partial_fit``): the
value counts, a uniform sample of numeric values for the bucket edges and their moments."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pandas as pd

#: Values per numeric column that :meth:`CTRTransformer.partial_fit` keeps to place the bucket
#: edges: quantiles of a uniform sample of this size are within about 0.2% (in rank) of the
#: data's (standard error sqrt(q (1 - q) / n) <= 0.0016).
QUANTILE_SAMPLE = 100_000
#: What :meth:`CTRTransformer.partial_fit` computes from its counts when next read.
_FITTED_FROM_COUNTS = (
    "fields_",
    "vocabularies_",
    "bin_edges_",
    "scaling_",
    "frequencies_",
    "sequence_length_",
)


class _RunningCounts:
    """What :meth:`CTRTransformer.partial_fit` has counted so far.

    ``counts[name]``: Series of the counts of each value (items for a sequence column), in
    order of first appearance, as runs (older first) whose concatenation, summed per value,
    keeps that order, so that a stable sort gives ``fit``'s order of ties;
    ``missing[name]``: missing cells (items); ``samples[name]`` and ``observed[name]``: the
    reservoir of a bucketized column and the number of non-missing values it was drawn from;
    ``moments[name]``: (count, mean, sum of squared deviations) of a numeric-value column.
    """

    def __init__(self, columns, categorical, numeric, sequence, bucketize, crosses):
        self.columns, self.bucketize, self.crosses = columns, bucketize, crosses
        self.categorical, self.numeric, self.sequence = categorical, numeric, sequence
        self.counts, self.missing, self.samples, self.observed, self.moments = {}, {}, {}, {}, {}
        self.longest, self.n_samples = 0, 0

    def add(self, chunk, longest, n_samples):
        """Merge one chunk's statistics: (counts, missing) of the columns with a vocabulary,
        the float values of the numeric ones."""
        for name, stats in chunk.items():
            if name in self.categorical or name in self.sequence:
                counts, missing = stats
                runs = self.counts.setdefault(name, [])
                runs.append(counts)
                # A binary counter: merge the newest runs while the older is at most twice
                # the size of the newer, so that runs grow geometrically.
                while len(runs) > 1 and len(runs[-2]) <= 2 * len(runs[-1]):
                    newer = runs.pop()
                    runs[-1] = _merged_counts([runs[-1], newer])
                self.missing[name] = self.missing.get(name, 0) + missing
            elif self.bucketize:
                observed = stats[~np.isnan(stats)]
                self.missing[name] = self.missing.get(name, 0) + stats.size - observed.size
                self.samples[name] = _reservoir_sample(
                    self.samples.get(name, np.empty(0)), self.observed.get(name, 0), observed
                )
                self.observed[name] = self.observed.get(name, 0) + observed.size
            else:
                self.moments[name] = _merged_moments(self.moments.get(name, (0, 0.0, 0.0)), stats)
        self.longest = max(self.longest, longest)
        self.n_samples += n_samples


def _merged_counts(parts):
    """Sum of value counts, in order of first appearance (groupby keeps it with sort=False)."""
    if len(parts) == 1:
        return parts[0]
    return pd.concat(parts).groupby(level=0, sort=False).sum()


def _reservoir_sample(sample, seen, values, size=QUANTILE_SAMPLE):
    """Vitter's algorithm R over one chunk, vectorised: ``sample`` (a uniform sample of the
    ``seen`` values before) becomes a uniform sample of at most ``size`` of all the values.

    The draws are seeded by ``seen``: the same chunks give the same sample in every run.
    """
    free = max(size - sample.size, 0)
    sample = np.concatenate([sample, values[:free]])
    rest, first = values[free:], seen + min(free, values.size)
    if not rest.size:
        return sample
    # The i-th value of the stream (0-based) replaces slot j, uniform in [0, i], if j < size.
    positions = first + np.arange(rest.size)
    slots = (np.random.default_rng(first).random(rest.size) * (positions + 1)).astype(np.int64)
    replace = np.flatnonzero(slots < size)
    # The last value drawn for a slot is the one left there, as in the sequential algorithm.
    _, last = np.unique(slots[replace][::-1], return_index=True)
    chosen = replace[::-1][last]
    sample[slots[chosen]] = rest[chosen]
    return sample


def _merged_moments(moments, values):
    """(count, mean, sum of squared deviations) of the values before and ``values``
    (Chan, Golub and LeVeque 1979, the pairwise update)."""
    n, mean, sum_of_squares = moments
    if not values.size:
        return moments
    n_chunk, mean_chunk = values.size, float(values.mean())
    chunk_squares = float(((values - mean_chunk) ** 2).sum())
    total = n + n_chunk
    delta = mean_chunk - mean
    return (
        total,
        mean + delta * n_chunk / total,
        sum_of_squares + chunk_squares + delta**2 * n * n_chunk / total,
    )


def _count_values(name, column, sort):
    """Counts of the values of ``column`` (decreasing with ``sort``, else in order of first
    appearance) and the number of missing cells.

    Raises
    ------
    TypeError
        If a cell is unhashable (a list in a categorical column); the message names the column.
    """
    try:
        # One pass counts values and missing cells alike (dropna=True costs a second pass).
        counts = column.value_counts(dropna=False, sort=sort)
    except TypeError:  # older pandas refuse unhashable cells outright
        counts = None
    missing = 0
    if counts is not None:
        is_missing = counts.index.isna()
        missing, counts = int(counts[is_missing].sum()), counts[~is_missing]
    # pandas 3 counts lists as values: check the distinct values (not every row) instead.
    unhashable = (
        None
        if counts is not None and column.dtype != object
        else next(
            (
                v
                for v in (counts.index if counts is not None else column.dropna())
                if not isinstance(v, Hashable)
            ),
            None,
        )
    )
    if counts is None or unhashable is not None:
        kind = type(unhashable).__name__ if unhashable is not None else "unhashable value"
        raise TypeError(
            f"Column {name!r} holds {kind} cells; each cell of a categorical column (each "
            "item of a sequence column) must be a single value (string, number or bool). "
            "List a column of lists or delimited strings in sequence_features."
        )
    return counts, missing
