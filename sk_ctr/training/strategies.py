"""How ``fit`` trains: the context of one training run, the loader of its batches, and one
strategy per :class:`~sk_ctr.training.distributed.ParallelPlan`.

An estimator encodes its data, holds out its validation rows and builds a :class:`FitContext`;
:func:`train_network` hands it to the strategy of ``context.plan.kind``:

- ``"single"``: :func:`train_in_process`, skorch's epochs in this process;
- ``"dp"``: :func:`train_data_parallel`, ``nn.DataParallel`` over GPUs of this process;
- ``"spawn"``: :func:`train_spawned`, DDP in worker processes that ``fit`` starts, each running
  :func:`train_rank`;
- ``"joined"``: :func:`train_in_process_group`, DDP in the process group ``torchrun`` made.

Rows in memory and rows streamed from Parquet (a ``StreamingDataset``) go through the same
strategies; only their loader differs (:func:`choose_loader`). Every strategy ends in
:func:`run_epochs`, which runs skorch's epochs (callbacks, history, early stopping) on the
estimator.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from skorch.history import History
from torch.utils.data import Subset

from sk_ctr.training.callbacks import StopTraining
from sk_ctr.training.distributed import (
    ParallelPlan,
    ShardedSliceLoader,
    check_sparse_gradients,
    lr_multiplier,
    share_random_state,
    unwrap,
)
from sk_ctr.training.loader import SliceLoader
from sk_ctr.training.prefetch import PrefetchLoader
from sk_ctr.training.streaming import StreamingDataset, StreamLoader
from sk_ctr.training.workers import spawn_fit


@dataclass(frozen=True)
class FitContext:
    """What one training run trains on, and how.

    Attributes
    ----------
    X, y : FieldData and ndarray, or StreamingDataset and None
        The fit's encoded data, as skorch's ``on_train_begin`` / ``on_train_end`` callbacks
        receive it (and as a spawned fit shares it with its workers).
    train : torch.utils.data.Dataset
        The rows the network trains on: ``X`` and ``y``, or a ``Subset`` of them without the
        held-out validation rows.
    valid : torch.utils.data.Dataset or None
        The rows scored after every epoch (early stopping, calibration), or None.
    plan : ParallelPlan
        How the run is parallel; picks the strategy.
    shard : tuple of (int, int) or None
        ``(rank, world_size)`` while a DDP rank trains: its loader yields its share of every
        global batch, every epoch starts from rank 0's random state, the logged loss is the
        mean over ranks.
    """

    X: Any
    y: Any
    train: Any
    valid: Any = None
    plan: ParallelPlan = ParallelPlan("single")
    shard: tuple | None = None

    def training_rows(self):
        """``(X, y)`` of the rows in ``train``, for a stage run before training (FNN's FM,
        AutoFIS's search), which must never see the rows early stopping scores."""
        if isinstance(self.train, Subset):
            rows = np.asarray(self.train.indices)
            return self.X[rows], self.y[rows]
        return self.X, self.y


def choose_loader(net, dataset, training, shard=None):
    """The loader of ``dataset``, the only place that chooses one.

    A ``StreamingDataset`` is read by a :class:`StreamLoader`; a DDP rank's training rows
    (``shard``) by a :class:`ShardedSliceLoader`; with ``prefetch`` the default
    :class:`SliceLoader` becomes a :class:`PrefetchLoader`; else the estimator's
    ``iterator_train`` / ``iterator_valid`` with their ``iterator_*__`` parameters.

    Parameters
    ----------
    net : CTRClassifier
    dataset : torch.utils.data.Dataset
    training : bool
        Training batches (shuffled with ``iterator_train__shuffle``), or validation and
        prediction batches.
    shard : tuple of (int, int) or None
        ``(rank, world_size)`` of a DDP rank; used for training batches only.
    """
    shuffle = training and net.get_params_for("iterator_train").get("shuffle", False)
    rank, world_size = shard if training and shard is not None else (0, 1)
    if isinstance(dataset, StreamingDataset):
        return StreamLoader(
            dataset, net.batch_size, shuffle=shuffle, rank=rank, world_size=world_size
        )
    if training and shard is not None:
        return ShardedSliceLoader(
            dataset, batch_size=net.batch_size, shuffle=shuffle, rank=rank, world_size=world_size
        )
    slot = "iterator_train" if training else "iterator_valid"
    kwargs = {"batch_size": net.batch_size, **net.get_params_for(slot)}
    if net.prefetch and getattr(net, slot) is SliceLoader:
        device = net.device if on_cuda(net.device) else None
        return PrefetchLoader(dataset, device=device, **kwargs)
    if kwargs["batch_size"] == -1:  # skorch's convention: the whole dataset in one batch
        kwargs["batch_size"] = len(dataset)
    return getattr(net, slot)(dataset, **kwargs)


def train_network(net, context):
    """Train ``net`` (initialised) as ``context.plan`` says."""
    check_sparse_gradients(context.plan, net.sparse_embeddings)
    STRATEGY_OF_PLAN[context.plan.kind](net, context)


def run_epochs(net, context):
    """skorch's ``fit_loop`` on the context's datasets and loaders, between the train-begin and
    train-end notifications; early stopping ends it with :class:`StopTraining`, and unlike
    skorch's ``partial_fit`` a user's interrupt propagates."""
    net.notify("on_train_begin", X=context.X, y=context.y)
    try:
        _epochs(net, context)
    except StopTraining:
        pass
    net.notify("on_train_end", X=context.X, y=context.y)


def _epochs(net, context):
    net.check_data(context.X, context.y)
    net.check_training_readiness()
    datasets = {"dataset_train": context.train, "dataset_valid": context.valid}
    train = choose_loader(net, context.train, training=True, shard=context.shard)
    valid = None if context.valid is None else choose_loader(net, context.valid, training=False)
    step = net.train_step
    if context.shard is not None:
        step = _mean_over_ranks(step, world_size=context.shard[1])
    for _ in range(net.max_epochs):
        net.notify("on_epoch_begin", **datasets)
        if context.shard is not None:  # the same shuffle on every rank
            share_random_state(*context.shard)
        net.run_single_epoch(train, training=True, prefix="train", step_fn=step)
        net.run_single_epoch(valid, training=False, prefix="valid", step_fn=net.validation_step)
        net.notify("on_epoch_end", **datasets)


def _mean_over_ranks(train_step, world_size):
    """``train_step`` logging the mean loss over the ranks, so every rank's history is the
    same."""

    def step(batch, **fit_params):
        result = train_step(batch, **fit_params)
        loss = result["loss"].detach().clone()
        dist.all_reduce(loss)
        result["loss"] = loss / world_size
        return result

    return step


# ----------------------------------------------------------------------------- strategies
def train_in_process(net, context):
    """One process, one device."""
    run_epochs(net, context)


def train_data_parallel(net, context):  # GPU-only branch
    """``nn.DataParallel`` over ``plan.device_ids``: each batch of ``batch_size * world_size``
    rows is split across the GPUs."""
    plan = context.plan
    net.module_ = torch.nn.DataParallel(unwrap(net.module_), device_ids=plan.device_ids)
    scale = lr_multiplier(net.lr_scaling, plan.world_size)
    net.batch_size, per_device = net.batch_size * plan.world_size, net.batch_size
    _scale_learning_rates(net, scale)
    try:
        run_epochs(net, context)
    finally:
        _scale_learning_rates(net, 1 / scale)
        net.batch_size = per_device
        net.module_ = unwrap(net.module_)


def train_spawned(net, context):
    """DDP over ``plan.world_size`` worker processes (each runs :func:`train_rank` on the same
    context); rank 0's weights, optimizer states and history are loaded here."""
    result = spawn_fit(net, context, torch.get_rng_state(), net.ddp_timeout)
    unwrap(net.module_).load_state_dict(result["module"])
    for name, state in result["optimizers"].items():
        getattr(net, name + "_").load_state_dict(state)
    net.history_ = History(result["history"])


def train_in_process_group(net, context):
    """Join the process group ``torchrun`` made: rank 0's validation split and random state on
    every rank, then DDP; every rank ends with the same model."""
    shared = [(context.train, context.valid), torch.get_rng_state()]
    dist.broadcast_object_list(shared, src=0)
    torch.set_rng_state(shared[1])
    train, valid = shared[0]
    context = dataclasses.replace(context, train=train, valid=valid)
    train_rank(net, context, dist.get_rank(), dist.get_world_size())


def train_rank(net, context, rank, world_size):
    """Train one rank of a DDP group: the network wrapped in DistributedDataParallel, the
    rank's shard of every global batch, the learning rate scaled to the global batch."""
    network = unwrap(net.module_).to(net.device)
    device_ids = [torch.device(net.device).index] if on_cuda(net.device) else None
    net.module_ = torch.nn.parallel.DistributedDataParallel(network, device_ids=device_ids)
    scale = lr_multiplier(net.lr_scaling, world_size)
    _scale_learning_rates(net, scale)
    try:
        run_epochs(net, dataclasses.replace(context, shard=(rank, world_size)))
    finally:
        _scale_learning_rates(net, 1 / scale)
        net.module_ = unwrap(net.module_)


def rank_result(net):
    """What rank 0 of a spawned fit hands back to the parent process."""
    return {
        "module": unwrap(net.module_).state_dict(),
        "optimizers": {name: getattr(net, name + "_").state_dict() for name in net._optimizers},
        "history": net.history_.to_list(),
    }


#: The strategy of each ``ParallelPlan.kind``.
STRATEGY_OF_PLAN = {
    "single": train_in_process,
    "dp": train_data_parallel,
    "spawn": train_spawned,
    "joined": train_in_process_group,
}


def _scale_learning_rates(net, factor):
    for name in net._optimizers:
        for group in getattr(net, name + "_").param_groups:
            group["lr"] *= factor


def on_cuda(device):
    """Whether ``device`` (a string, ``torch.device`` or None) is a CUDA device."""
    return device is not None and torch.device(device).type == "cuda"
