"""Asynchronous data reading: the next batches are prepared in a background thread.

The DeepFM journal (section III-B-2, Fig. 7) reads mini-batches in a thread of their own while
the model updates on the current one, instead of reading and updating in turn, and measures
1.12x and 1.19x speed-ups over sequential reading (Table I). Here "reading" a batch is what
:class:`~sk_ctr.training.loader.SliceLoader` does for it (gathering its rows from the
pre-built tensors) plus, for a CUDA device, pinning the batch and starting its copy to the
device. :func:`prefetch` runs that for any iterable of batches; :class:`PrefetchLoader` is the
``SliceLoader`` that uses it, for skorch's ``iterator_train`` / ``iterator_valid`` slots.
"""

import queue
import threading
from collections.abc import Mapping
from numbers import Integral

import torch

from sk_ctr.training.loader import SliceLoader

#: Name of the producer threads, so that a test (or a user) can find one left running.
THREAD_NAME = "sk_ctr-prefetch"
# How often a producer blocked on a full queue checks whether the consumer has gone.
_POLL_SECONDS = 0.05
_DONE = object()


class _Failure:
    """An exception raised by the producer, carried to the consumer to be raised there."""

    def __init__(self, error):
        self.error = error


def _apply(data, function):
    if data is None:
        return None
    if isinstance(data, Mapping):
        return {key: _apply(value, function) for key, value in data.items()}
    if isinstance(data, tuple | list):
        return type(data)(_apply(value, function) for value in data)
    return function(data)


def to_device(batch, device):
    """Move every tensor of a batch to ``device`` without blocking the caller.

    Parameters
    ----------
    batch : torch.Tensor, or a mapping / tuple / list of them (nested)
    device : str or torch.device

    Returns
    -------
    batch : same structure as ``batch``
        Its tensors on ``device``.
    """
    device = torch.device(device)

    def move(tensor):
        if device.type == "cuda":  # GPU-only branch: pinned (page-locked) host memory is what
            tensor = tensor.pin_memory()  # lets the copy below run asynchronously.
        return tensor.to(device, non_blocking=True)

    return _apply(batch, move)


def _check_depth(depth):
    if not isinstance(depth, Integral) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be an int >= 1; got {depth!r}.")


def _put(slots, item, stop):
    """Put ``item`` in the queue unless the consumer stops first; ``False`` if it did."""
    while not stop.is_set():
        try:
            slots.put(item, timeout=_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False


def _produce(source, device, slots, stop):
    # The thread's whole state is its arguments: it holds no reference to the consumer's
    # generator, so dropping that generator (``break``, an exception) closes it and stops us.
    try:
        for batch in source:
            if not _put(slots, batch if device is None else to_device(batch, device), stop):
                return
        _put(slots, _DONE, stop)
    except BaseException as error:  # every failure must reach the consumer, or it waits forever
        _put(slots, _Failure(error), stop)


def prefetch(batches, device=None, depth=2):
    """Iterate over ``batches`` while a background thread prepares the next ``depth`` of them.

    The batches come out in the source's order. The first one is read in the caller's thread:
    a loader draws its random state when it starts (``SliceLoader``'s permutation, a
    ``DataLoader`` sampler's seed), and drawing it from the background thread would race with
    the model's dropout for torch's global generator; read here, it is drawn at the same point
    as without prefetching, so a seeded fit gives the same batches and the same weights. A
    source whose *later* batches draw from torch's global generator loses that guarantee.

    Leaving the loop early (``break``, an exception, a closed generator) stops and joins the
    thread; an exception raised by the source is raised here, at the batch it failed to read.

    Parameters
    ----------
    batches : iterable
        Batches, e.g. ``(X_batch, y_batch)`` tuples of tensors or of mappings of tensors.
    device : str, torch.device or None, default=None
        Where the thread moves each batch (pinning it first for a CUDA device); ``None``
        leaves the tensors where the source puts them.
    depth : int, default=2
        Batches prepared ahead at most (the queue's size): memory for ``depth + 2`` batches
        (the queue, the one being trained on and the one being prepared).

    Returns
    -------
    generator
        The batches of ``batches``, on ``device``.
    """
    _check_depth(depth)
    return _prefetched(batches, device, depth)


def _prefetched(batches, device, depth):
    source = iter(batches)
    try:
        first = next(source)
    except StopIteration:
        return
    slots, stop = queue.Queue(maxsize=depth), threading.Event()
    producer = threading.Thread(
        target=_produce, args=(source, device, slots, stop), name=THREAD_NAME, daemon=True
    )
    del source  # the producer owns the source from now on
    producer.start()
    try:
        yield first if device is None else to_device(first, device)
        del first  # not kept for the whole epoch
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        while True:  # drop the prepared batches now rather than with the queue
            try:
                slots.get_nowait()
            except queue.Empty:
                break
        producer.join()


class PrefetchLoader(SliceLoader):
    """A :class:`~sk_ctr.training.loader.SliceLoader` that reads asynchronously.

    Each batch is sliced from the same tensors, in the same order for the same torch random
    state, as ``SliceLoader`` slices it, but in a background thread while the previous batch
    trains (DeepFM journal, section III-B-2); see :func:`prefetch`. It takes skorch's
    ``iterator_train`` / ``iterator_valid`` slot; its own parameters are given as
    ``iterator_train__device=...``, ``iterator_train__depth=...``.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset or torch.utils.data.Subset of one
    batch_size : int, default=128
    shuffle : bool, default=False
    drop_last : bool, default=False
    device : str, torch.device or None, default=None
        Device the background thread moves each batch to (pinned first when it is CUDA), so
        that the copy overlaps training too; ``None`` leaves the batches on the CPU.
    depth : int, default=2
        Batches prepared ahead at most.
    **_ignored
        DataLoader arguments (``num_workers`` ...) that have no meaning here.

    Examples
    --------
    >>> from sk_ctr import DeepFMClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> from sk_ctr.training.prefetch import PrefetchLoader
    >>> X, y = make_ctr_classification(n_samples=500, n_fields=3, cardinality=10,
    ...                                random_state=0)
    >>> params = dict(hidden_units=(16,), max_epochs=2, n_threads=1, random_state=0)
    >>> sync = DeepFMClassifier(**params).fit(X, y)
    >>> est = DeepFMClassifier(iterator_train=PrefetchLoader, iterator_valid=PrefetchLoader,
    ...                        iterator_train__depth=2, **params).fit(X, y)
    >>> bool((est.predict_proba(X) == sync.predict_proba(X)).all())  # same seed, same weights
    True
    """

    def __init__(
        self,
        dataset,
        batch_size=128,
        shuffle=False,
        drop_last=False,
        device=None,
        depth=2,
        **_ignored,
    ):
        super().__init__(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)
        _check_depth(depth)
        self.device, self.depth = device, depth

    def __iter__(self):
        # SliceLoader's generator gathers a batch when asked for it: asked by the producer
        # thread, the gathering is what runs in the background.
        return prefetch(super().__iter__(), device=self.device, depth=self.depth)
