"""What :meth:`CTRTransformer.partial_fit` does between chunks: count each chunk, and compute
the fitted attributes from the running counts when they are next read."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sk_ctr.preprocessing.columns import _numeric_values, _reject_nan
from sk_ctr.preprocessing.counting import _FITTED_FROM_COUNTS, _count_values, _merged_counts
from sk_ctr.preprocessing.field_arrays import bucket_ids
from sk_ctr.preprocessing.fields import FIRST_VALUE_ID, MISSING_ID
from sk_ctr.preprocessing.sequences import _check_history_types, keep_most_recent, split_cells


class ChunkedFitMixin:
    """The running counts of ``CTRTransformer.partial_fit`` (``_partial``), and the fitted
    attributes computed from them on first read."""

    def __getattr__(self, name):
        # Only reached for attributes not set: after partial_fit, the fitted ones, computed
        # from the running counts on their first read.
        state = self.__dict__.get("_partial")
        if state is not None and name in _FITTED_FROM_COUNTS:
            self._fit_from_counts(state)
            return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _add_chunk(self, state, frame, first):
        """Count ``frame`` into ``state``; every check runs before ``state`` changes, so a
        chunk that raises leaves the counts of the previous chunks intact."""
        chunk, longest, items_of = {}, 0, {}
        for name in state.columns:
            column = frame[name]
            if name in state.sequence:
                items, lengths = split_cells(name, column, self.sequence_delimiter)
                if self.max_sequence_length is not None:  # None keeps all: L is the longest
                    items, lengths = keep_most_recent(items, lengths, self.max_sequence_length)
                longest = max(longest, int(lengths.max(initial=0)))
                items_of[name] = items
                chunk[name] = _count_values(name, pd.Series(items, dtype=object), sort=False)
            elif name in state.categorical:
                chunk[name] = _count_values(name, column, sort=False)
            else:
                values = _numeric_values(name, column)
                if not state.bucketize:
                    _reject_nan(name, values)
                chunk[name] = values
        if first:
            for candidate, histories in self._histories_by_candidate(
                {name: (items, None) for name, items in items_of.items()}
            ).items():
                _check_history_types(candidate, frame[candidate], histories)
        state.add(chunk, longest, len(frame))

    def _fit_from_counts(self, state):
        """Every fitted attribute from the running counts of :meth:`partial_fit`."""
        self.vocabularies_, self.bin_edges_, self.scaling_, self.frequencies_ = {}, {}, {}, {}
        self.sequence_length_ = None
        if state.sequence:
            longest = max(state.longest, 1)
            self.sequence_length_ = int(self.max_sequence_length or longest)
        histories = {}
        for history, candidate in (self.behavior or {}).items():
            histories.setdefault(candidate, []).append(history)

        def fit_ids(name, source):
            if source == "bucketized":
                return self._set_buckets_from_sample(name, state)
            # A candidate counts its histories' items too, after its own values, as in fit.
            sources = [name, *histories.get(name, [])] if source == "categorical" else [name]
            counts = _merged_counts([runs for s in sources for runs in state.counts[s]])
            missing = sum(state.missing[s] for s in sources)
            return self._set_vocabulary(
                name, counts.sort_values(ascending=False, kind="stable"), missing
            )

        def scaling(name):
            n, mean, sum_of_squares = state.moments[name]
            std = float(np.sqrt(sum_of_squares / n)) if n else 1.0
            return (float(mean) if n else 0.0), (std if std > 0 else 1.0)

        roles = (state.categorical, state.numeric, state.sequence)
        self.fields_ = self._assemble_fields(
            state.columns, roles, fit_ids, scaling, bucketize=state.bucketize, crosses=state.crosses
        )

    def _set_buckets_from_sample(self, name, state):
        sample = state.samples[name]
        edges = self._quantile_edges(sample)
        self.bin_edges_[name] = edges
        counts = np.bincount(bucket_ids(sample, edges), minlength=len(edges) + 1 + FIRST_VALUE_ID)
        if state.observed[name] > sample.size:  # a sample: scale its counts to all the values
            counts = np.rint(counts * (state.observed[name] / sample.size)).astype(np.int64)
        counts[MISSING_ID] = state.missing[name]
        self.frequencies_[name] = counts
        return len(counts)
