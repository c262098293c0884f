"""Training on Parquet files larger than memory: the loader that streams the row groups of a
:class:`~sk_ctr.io.parquet.ParquetSource` through a shuffle buffer.

``fit(ParquetSource(...))`` never holds the data. The transformer is fitted on a sample of
rows, or by one pass of ``CTRTransformer.partial_fit`` over all of them; the classes come from
the label column alone; each epoch reads the row groups again, encodes them chunk by chunk and
draws the mini-batches from a buffer of ``shuffle_buffer`` rows. Memory is the buffer of
encoded rows, a few copies of one chunk of ``batch_rows`` rows (Arrow, pandas, encoded, the
rows it pushes out of the buffer) and the row group being decoded, whatever the size of the
files: measured on 2,000,000 rows x 30 columns (tests/training/test_streaming.py), +81 MB of
peak RSS with a buffer of 65,536 rows against +568 MB to read the file into pandas.

Under DDP every rank reads the whole stream, builds the same global batches of
``batch_size * world_size`` rows (same files, same torch random state) and keeps its own slice
of each, as :class:`~sk_ctr.training.distributed.ShardedSliceLoader` does in memory: each rank
decodes and encodes the rows of all ranks, which is simple and gives exactly the batches of
one process, at the cost of W times the reading work.
"""

from __future__ import annotations

from itertools import chain

import numpy as np
import torch

from sk_ctr.training.distributed import own_stream_after_shuffle, rank_share
from sk_ctr.training.loader import _as_tensor, _take


class StreamingDataset(torch.utils.data.Dataset):
    """The rows of a :class:`~sk_ctr.io.parquet.ParquetSource`, encoded chunk by chunk as they
    are read.

    skorch's training loop takes it as its dataset; :class:`StreamLoader` iterates over it.
    It has a length (the number of rows) but no random access.

    Parameters
    ----------
    source : ParquetSource
    preprocessor : fitted transformer
        Raw frame to :class:`~sk_ctr.FieldData` (the estimator's ``preprocessor_``).
    label_encoder : sklearn.preprocessing.LabelEncoder
        Fitted on the two classes (the estimator's ``le_``).
    """

    def __init__(self, source, preprocessor, label_encoder):
        self.source, self.preprocessor, self.label_encoder = source, preprocessor, label_encoder

    def __len__(self):
        return self.source.n_rows

    def __getitem__(self, index):
        raise TypeError(
            "A StreamingDataset is read in order, chunk by chunk, by StreamLoader; it has no "
            "random access to single rows."
        )

    def chunks(self, groups=None):
        """Encoded chunks of the row groups ``groups`` (all by default), in that order.

        Yields
        ------
        X : dict of str to torch.Tensor
            The encoded fields of about ``source.batch_rows`` rows.
        y : torch.Tensor of shape (n_rows,), float32
            The encoded labels (1.0 for ``classes_[1]``).
        """
        for frame, labels in self.source.iter_frames(groups, with_label=True):
            encoded = self.preprocessor.transform(frame)
            y = self.label_encoder.transform(labels).astype(np.float32)
            yield _as_tensor(dict(encoded)), torch.from_numpy(y)


class StreamLoader:
    """Mini-batches of a :class:`StreamingDataset`, for skorch's ``fit_loop``: what
    :class:`~sk_ctr.training.loader.SliceLoader` is to data in memory.

    Without shuffling, the rows come in file order. With it, and when the data have at most
    ``source.shuffle_buffer`` rows, the batches are those of ``SliceLoader`` for the same torch
    random state: all rows are buffered and ``torch.randperm(n_rows)`` orders them. Otherwise
    the epoch draws one seed from torch's random state before its first batch (so that a
    seeded fit is reproducible, and ranks of a DDP fit, which share that state, read the same
    stream), reads the row groups in a random order, and every incoming row takes the place
    of a random row of the full buffer, which leaves it for the batches.

    Parameters
    ----------
    dataset : StreamingDataset
    batch_size : int
        Rows per batch of each rank.
    shuffle : bool, default=False
    rank, world_size : int, default=0, 1
        A rank's share of every global batch of ``batch_size * world_size`` rows, with the
        ``"_loss_scale"`` of :class:`~sk_ctr.training.distributed.ShardedSliceLoader`.
    """

    def __init__(self, dataset, batch_size, shuffle=False, rank=0, world_size=1):
        self.dataset, self.batch_size, self.shuffle = dataset, batch_size, shuffle
        self.rank, self.world_size = rank, world_size

    def __len__(self):
        size, n_rows = self.batch_size * self.world_size, len(self.dataset)
        n_batches = -(-n_rows // size)
        return n_batches - 1 if n_batches > 1 and n_rows % size == 1 else n_batches

    def __iter__(self):
        batches = _merge_single_row_tail(_cut(self._pieces(), self.batch_size * self.world_size))
        if self.world_size == 1:
            return batches
        return (
            rank_share(X, y, self.rank, self.world_size)
            for X, y in own_stream_after_shuffle(batches, self.rank)
        )

    def _pieces(self):
        source = self.dataset.source
        if not self.shuffle:
            yield from self.dataset.chunks()
            return
        groups, generator = list(range(len(source.row_groups))), None
        if source.n_rows > source.shuffle_buffer:
            seed = int(torch.randint(2**62, (1,)))  # the epoch's only draw from torch's state
            generator = torch.Generator().manual_seed(seed)
            groups = torch.randperm(len(groups), generator=generator).tolist()
        buffer = ShuffleBuffer(min(source.shuffle_buffer, source.n_rows), generator)
        pushed_out = (piece for X, y in self.dataset.chunks(groups) for piece in buffer.push(X, y))
        yield from chain(pushed_out, buffer.drain(self.batch_size * self.world_size))


class ShuffleBuffer:
    """Rows waiting in random slots: once the buffer is full, each new row takes the place
    of a uniformly drawn row, which leaves (TensorFlow's ``Dataset.shuffle`` semantics, a chunk
    of rows at a time).

    Parameters
    ----------
    capacity : int
        Rows held.
    generator : torch.Generator or None
        Source of the draws; ``None`` uses torch's global random state.
    """

    def __init__(self, capacity, generator=None):
        self.capacity, self.generator, self.size = capacity, generator, 0
        self.X = self.y = None

    def push(self, X, y):
        """Add a chunk of rows.

        Parameters
        ----------
        X : dict of str to torch.Tensor
        y : torch.Tensor

        Returns
        -------
        list of (dict, torch.Tensor)
            The rows pushed out of a full buffer, in random order (empty while it fills).
        """
        if self.X is None:  # allocated once, on the first chunk's shapes and dtypes
            self.X = {k: v.new_empty((self.capacity, *v.shape[1:])) for k, v in X.items()}
            self.y = y.new_empty(self.capacity)
        n_rows = len(y)
        fill = min(self.capacity - self.size, n_rows)
        for key, value in X.items():
            self.X[key][self.size : self.size + fill] = value[:fill]
        self.y[self.size : self.size + fill] = y[:fill]
        self.size += fill
        pushed_out = []
        for start in range(fill, n_rows, self.capacity):
            stop = min(start + self.capacity, n_rows)
            slots = torch.randperm(self.capacity, generator=self.generator)[: stop - start]
            pushed_out.append((_take(self.X, slots), self.y[slots]))
            for key, value in X.items():
                self.X[key][slots] = value[start:stop]
            self.y[slots] = y[start:stop]
        return pushed_out

    def drain(self, piece_rows):
        """Empty the buffer in a random order (``torch.randperm`` of the rows held), in
        pieces of ``piece_rows`` rows."""
        if not self.size:
            return
        order = torch.randperm(self.size, generator=self.generator)
        for start in range(0, self.size, piece_rows):
            rows = order[start : start + piece_rows]
            yield _take(self.X, rows), self.y[rows]
        self.size = 0


def _cut(pieces, size):
    """Batches of ``size`` rows (the last one may be smaller) from pieces of any length."""
    pending, n_pending = [], 0
    for X, y in pieces:
        pending.append((X, y))
        n_pending += len(y)
        if n_pending < size:
            continue
        X, y = _concat(pending)
        stop = n_pending - n_pending % size
        for start in range(0, stop, size):
            yield _take(X, slice(start, start + size)), y[start : start + size]
        pending = [(_take(X, slice(stop, None)), y[stop:])] if stop < n_pending else []
        n_pending -= stop
    if n_pending:
        yield _concat(pending)


def _merge_single_row_tail(batches):
    """The batches, with a last batch of one row joined to the one before, as
    :class:`~sk_ctr.training.loader.SliceLoader` does (batch normalisation cannot train on a
    single row)."""
    held = []
    for batch in batches:
        held.append(batch)
        if len(held) == 3:
            yield held.pop(0)
    if len(held) == 2 and len(held[1][1]) == 1:
        held = [_concat(held)]
    yield from held


def _concat(pieces):
    if len(pieces) == 1:
        return pieces[0]
    X = {key: torch.cat([X[key] for X, _ in pieces]) for key in pieces[0][0]}
    return X, torch.cat([y for _, y in pieces])
