"""Batches sliced from pre-built tensors: the data path of the training hot loop.

skorch's default path indexes one sample per ``__getitem__`` and collates them back into a
batch; measured on 1e6 x 39 ids that is 2.9x slower to train and 34x slower to predict than
slicing whole tensors (notes/skorch-study.md, section 2). ``SliceLoader`` takes skorch's
``iterator_train`` / ``iterator_valid`` slot and yields ``(X_batch, y_batch)`` with one gather
per array per batch.
"""

from collections.abc import Mapping

import numpy as np
import torch


def unwrap_dataset(dataset):
    """Follow nested torch ``Subset`` objects (skorch's validation split) to the skorch
    ``Dataset`` and return its ``X``, ``y`` and the selected row indices (``None`` = all)."""
    indices = None
    while isinstance(dataset, torch.utils.data.Subset):
        subset = np.asarray(dataset.indices, dtype=np.int64)
        indices = subset if indices is None else subset[indices]
        dataset = dataset.dataset
    return dataset.X, dataset.y, indices


def _as_tensor(data):
    if data is None:
        return None
    if isinstance(data, Mapping):
        return {key: _as_tensor(value) for key, value in data.items()}
    if isinstance(data, torch.Tensor):
        return data
    array = np.asarray(data)
    if not array.flags.writeable:  # read-only pandas 3 / memmap views: torch wants writable
        array = array.copy()
    return torch.from_numpy(array)


def _take(data, rows):
    if data is None:
        return None
    if isinstance(data, Mapping):
        return {key: _take(value, rows) for key, value in data.items()}
    return data[rows]


class SliceLoader:
    """Iterate over mini-batches of a skorch dataset by slicing its tensors.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset or torch.utils.data.Subset of one
        Its ``X`` is a mapping of arrays (a :class:`~sk_ctr.FieldData`) or an array.
    batch_size : int
    shuffle : bool
        Draw a new permutation (from torch's current random state) on every iteration.
    drop_last : bool
    **_ignored
        DataLoader arguments (``num_workers`` ...) that have no meaning here.
    """

    def __init__(self, dataset, batch_size=128, shuffle=False, drop_last=False, **_ignored):
        X, y, indices = unwrap_dataset(dataset)
        self.X, self.y = _as_tensor(X), _as_tensor(y)
        self.indices = None if indices is None else torch.from_numpy(indices)
        self.n_samples = len(dataset)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last

    def __len__(self):
        return len(self._bounds())

    def _bounds(self):
        """``(start, end)`` rows of each batch. Without ``drop_last`` a last batch of one row
        joins the one before: batch normalisation cannot train on a single row ("Expected
        more than 1 value per channel"), and dropping the row would lose data."""
        stop = self.n_samples - self.n_samples % self.batch_size if self.drop_last else None
        stop = self.n_samples if stop is None else stop
        starts = list(range(0, stop, self.batch_size))
        if not self.drop_last and len(starts) > 1 and stop - starts[-1] == 1:
            starts.pop()
        return list(zip(starts, [*starts[1:], stop], strict=True))

    def __iter__(self):
        order = torch.randperm(self.n_samples) if self.shuffle else None
        if order is not None and self.indices is not None:
            order = self.indices[order]
        elif order is None:
            order = self.indices
        for start, end in self._bounds():
            rows = slice(start, end) if order is None else order[start:end]
            y = _take(self.y, rows)
            yield _take(self.X, rows), (torch.zeros(end - start) if y is None else y)
