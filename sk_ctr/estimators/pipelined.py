"""Prediction from a large raw frame in row chunks, encoding the next chunk in a background
thread while the network runs on this one.

Encoding a raw frame is a fifth to a quarter of a DeepFM ``predict_proba`` on it
(``benchmarks/throughput.py``, prediction from raw frames); done one chunk ahead, it overlaps the
forward passes, which release the GIL inside torch's operators. Each chunk is a whole number of
prediction batches, so the network sees exactly the batches of a one-piece prediction and the
logits are the same; the encoding is row by row, so the ids are too. One background thread, joined
before the call returns (also on an error or an interrupt), encodes at most one chunk ahead:
the memory held is two chunks' encodings, not the frame's.

Off unless :data:`PIPELINE_CHUNK_ROWS` is set: measured on a shared 2-core machine, the overlap
paid only with an idle core (see there).
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pandas as pd
import torch

from sk_ctr.estimators.defaults import PREDICTION_BATCH_SIZE
from sk_ctr.estimators.inference import network_logits

#: Rows of a raw frame per encoded chunk (rounded down to whole prediction batches), or
#: ``None``: the default, every frame encoded in one piece. Off by default because on this
#: shared 2-core machine the overlap paid only when a core was idle (1 torch thread, load 1.4:
#: 1.13x) and cost when another process held it (1 thread, load 2-3: 0.56-0.93x per round:
#: chunks factorize and look up their distinct values again, 28 % more encoding CPU at 16k
#: rows); docs/benchmarks.md, Training speed. 16k rows (``16_384``) is the measured size to
#: enable it with on an otherwise idle machine: 8k and 32k chunks ran as fast, 4k slower.
PIPELINE_CHUNK_ROWS = None
#: The interpreter's thread switch interval (seconds) while chunks are encoded in the
#: background. At Python's default 5 ms, the network's thread waits that long for the GIL after
#: each torch operator while the encoding thread runs Python code: a 16k-row DeepFM forward on
#: one torch thread took 336 ms next to a busy encoder against 148 ms alone; at 0.1 ms, 169 ms.
SWITCH_INTERVAL = 1e-4

_switching = threading.Lock()
_switching_calls = [0, None]  # calls inside short_switch_interval, the interval they replaced


def chunk_rows(net, X):
    """Rows per chunk to predict ``X`` in, or ``None`` to encode and predict it in one piece.

    Only when :data:`PIPELINE_CHUNK_ROWS` is set, and only a pandas DataFrame of more than one
    chunk, given to a fitted estimator that encodes raw frames, is chunked, and only when
    torch's threads leave a core for the encoder: with
    as many torch threads as cores the encoder takes CPU from the network, and on this 2-core
    machine 2 threads ran as fast chunked as in one piece (0.84-1.07x per round), while 1
    thread ran 1.13x faster chunked on an idle machine (docs/benchmarks.md, Training speed).
    Anything else (FieldData, arrays, an unfitted estimator) takes the one-piece path and its
    errors.
    """
    if PIPELINE_CHUNK_ROWS is None:
        return None
    if not isinstance(X, pd.DataFrame) or not net.__sklearn_is_fitted__():
        return None
    threads = torch.get_num_threads() if net.n_threads is None else net.n_threads
    if threads >= available_cores():
        return None
    if getattr(net, "preprocessor_", None) is None:
        return None
    batch_size = PREDICTION_BATCH_SIZE if net.batch_size == "auto" else net.batch_size
    if batch_size <= 0:  # skorch's -1: the whole input in one batch
        return None
    rows = max(1, PIPELINE_CHUNK_ROWS // batch_size) * batch_size
    return rows if len(X) > rows else None


def available_cores():
    """The CPUs this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def pipelined_logits(net, X, rows):
    """The network's outputs on ``X``, encoded ``rows`` rows at a time one chunk ahead.

    Parameters
    ----------
    net : CTRClassifier
        Fitted, inside its ``_runtime()``.
    X : pandas.DataFrame
    rows : int
        Rows per chunk, a multiple of the prediction batch size.

    Returns
    -------
    torch.Tensor
        What ``net.forward`` returns on the whole encoded ``X``.

    Raises
    ------
    Exception
        Whatever encoding a chunk raises (a bad value in a later chunk included), from the
        calling thread, after the background thread has finished.
    """
    starts = range(0, len(X), rows)

    def encode(start):
        return net._encode_for_prediction(X.iloc[start : start + rows])

    outputs = []
    # Leaving the block (returning, or an error or KeyboardInterrupt in this thread) waits for
    # the chunk being encoded, so no thread outlives the call.
    with (
        short_switch_interval(),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="sk_ctr-encode") as encoder,
    ):
        pending = encoder.submit(encode, starts[0])
        for following in [*starts[1:], None]:
            encoded = pending.result()  # re-raises the encoding's exception here
            if following is not None:
                pending = encoder.submit(encode, following)
            outputs.append(network_logits(net, encoded))
    return torch.cat(outputs)


@contextmanager
def short_switch_interval():
    """:data:`SWITCH_INTERVAL` as the interpreter's switch interval inside the block, the
    previous one restored when the last of the calls inside such blocks (from any thread)
    leaves it."""
    with _switching:
        if _switching_calls[0] == 0:
            _switching_calls[1] = sys.getswitchinterval()
            sys.setswitchinterval(min(SWITCH_INTERVAL, _switching_calls[1]))
        _switching_calls[0] += 1
    try:
        yield
    finally:
        with _switching:
            _switching_calls[0] -= 1
            if _switching_calls[0] == 0:
                sys.setswitchinterval(_switching_calls[1])
