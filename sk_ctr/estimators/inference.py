"""The network's logits on encoded rows in memory, without skorch's per-call machinery.

skorch's ``forward`` wraps every prediction in its general loop: a ``Dataset`` that measures
its input, the loader chosen from the estimator's parameters, and per batch
``evaluation_step`` (``check_is_fitted``, ``torch.set_grad_enabled``, the switch of the modules
to evaluation mode), ``to_device`` and a ``torch.cat`` even of one batch. For a 1-row request
of a DeepFM (39 fields, 400-400-400 MLP, one thread) ``forward`` took 0.43 ms of CPU, the
network itself 0.23 under ``torch.inference_mode``, and :func:`network_logits` 0.34 (most of
the difference is the estimator's ``infer``: its input conversion and the device move);
docs/benchmarks.md, Serving latency.

:func:`network_logits` runs the same batches (the default :class:`~sk_ctr.training.loader.
SliceLoader`'s bounds, so the network sees the rows grouped as in ``forward`` and returns the
same logits bit for bit) through the estimator's own ``infer``, under ``inference_mode``, with
the modules switched to evaluation mode once per call, and only where they are not already
(``CTRClassifier._set_training``). Whatever it cannot reproduce exactly goes through
``forward``: another loader or loader parameters, ``prefetch``, a ``Dataset`` instead of
encoded arrays, or a subclass that overrides a step of skorch's loop.
"""

from __future__ import annotations

import torch
from skorch.dataset import Dataset

from sk_ctr.preprocessing.fields import FieldData
from sk_ctr.training.loader import SliceLoader, _as_tensor

#: skorch's prediction loop, step by step: a subclass overriding one of them means it to run.
_LOOP_STEPS = ("forward", "forward_iter", "evaluation_step", "get_dataset", "get_iterator")


def network_logits(net, data):
    """What ``net.forward(data, training=False)`` returns, by the shortest path that returns
    the same tensor.

    Parameters
    ----------
    net : CTRClassifier
        Fitted, inside its ``_runtime()`` (``batch_size`` and ``device`` resolved).
    data : FieldData or torch.utils.data.Dataset
        Encoded rows.

    Returns
    -------
    torch.Tensor of shape (n_samples,)
        On the CPU.
    """
    if not _lean_path_applies(net, data):
        return net.forward(data, training=False)
    batch_size = len(data) if net.batch_size == -1 else net.batch_size
    if len(data) <= batch_size:  # one batch, all of the rows: the loader's only slice
        batches = [_as_tensor(data)]
    else:
        loader = SliceLoader(Dataset(data, length=len(data)), batch_size=batch_size)
        batches = (inputs for inputs, _ in loader)
    with torch.inference_mode():
        net._set_training(False)
        outputs = [net.infer(inputs).to("cpu") for inputs in batches]
    return outputs[0] if len(outputs) == 1 else torch.cat(outputs)


def _lean_path_applies(net, data):
    """Whether :func:`network_logits` may bypass ``forward``: encoded arrays in memory, the
    default prediction loader without parameters of its own, and skorch's loop as is."""
    if not isinstance(data, FieldData) or not len(data):
        return False
    if net.iterator_valid is not SliceLoader or net.prefetch:
        return False
    # Any attribute naming the prefix sends the call to skorch's loop: a substring search
    # (1-2 us) where testing each of the ~70 attributes' prefix took 20-25.
    if "iterator_valid__" in " ".join(vars(net)):
        return False
    base = _ctr_classifier_of(type(net))
    return base is not None and all(
        getattr(type(net), step) is getattr(base, step) for step in _LOOP_STEPS
    )


def _ctr_classifier_of(cls):
    """The ``CTRClassifier`` that ``cls`` derives from, found among its bases rather than
    imported by name: an import finds whichever copy of sk_ctr ``sys.modules`` holds at the
    time, and a process may have held two (benchmarks/checkout_comparison.py imports a
    checkout, drops its modules, imports another: the first one's estimators then failed this
    test and took skorch's loop, 0.1-0.2 ms more per request)."""
    for klass in cls.__mro__:
        if klass.__name__ == "CTRClassifier" and klass.__module__ == _BASE_MODULE:
            return klass
    return None


_BASE_MODULE = __name__.rpartition(".")[0] + ".base"
