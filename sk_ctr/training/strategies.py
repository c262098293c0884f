"""How ``fit`` trains: in this process, with DataParallel, in spawned DDP workers or in a
process group torchrun made (moved out of estimators/base.py)."""

from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist
from sklearn.utils import check_random_state
from skorch.dataset import ValidSplit
from skorch.history import History

from sk_ctr.estimators.early_stopping import (
    StopTraining,
    check_validation_classes,
    wants_early_stopping,
)
from sk_ctr.preprocessing import FieldData
from sk_ctr.training.distributed import (
    ShardedSliceLoader,
    check_sparse_gradients,
    lr_multiplier,
    share_random_state,
    spawn_fit,
    unwrap,
)
from sk_ctr.training.loader import SliceLoader
from sk_ctr.training.prefetch import PrefetchLoader
from sk_ctr.training.streaming import StreamingDataset


class FitStrategiesMixin:
    """The training runs of ``CTRClassifier``."""

    def _run_epochs(self, X, y):
        """skorch's ``partial_fit`` without its ``except KeyboardInterrupt: pass``: early
        stopping ends the loop with :class:`StopTraining`, a user's interrupt propagates."""
        self.notify("on_train_begin", X=X, y=y)
        try:
            self.fit_loop(X, y)
        except StopTraining:
            pass
        self.notify("on_train_end", X=X, y=y)

    def _train_network(self, X, y, plan):
        """skorch's training loop in this process, or data-parallel as ``plan`` says."""
        check_sparse_gradients(plan, self.sparse_embeddings)
        if plan.kind == "single":
            self._run_epochs(X, y)
        elif plan.kind == "dp":  # GPU-only branch
            self._fit_data_parallel(X, y, plan)
        elif plan.kind == "joined":
            self._fit_in_process_group(X, y)
        elif isinstance(X, StreamingDataset):  # the rows travel in _split: every rank reads
            self._fit_spawned(FieldData({}, self.schema_), np.empty(0, np.float32), plan)
        else:
            self._fit_spawned(X, y, plan)

    # ------------------------------------------------------ data parallel
    def _fit_spawned(self, X_encoded, y_encoded, plan):
        """DDP over ``plan.world_size`` spawned processes; rank 0's result is loaded here."""
        if "_split" not in self.__dict__:  # one validation split for all ranks, made here
            self._split = self.get_split_datasets(X_encoded, y_encoded)
        try:
            result = spawn_fit(self, X_encoded, y_encoded, plan, torch.get_rng_state(),
                               self.ddp_timeout)
        finally:
            self.__dict__.pop("_split", None)
        unwrap(self.module_).load_state_dict(result["module"])
        for name, state in result["optimizers"].items():
            getattr(self, name + "_").load_state_dict(state)
        self.history_ = History(result["history"])

    def _fit_in_process_group(self, X_encoded, y_encoded):
        """Join the process group ``torchrun`` made: the same split, weights and shuffles on
        every rank (all from rank 0), then DDP training; every rank returns the same model."""
        if "_split" not in self.__dict__:
            self._split = self.get_split_datasets(X_encoded, y_encoded)
        shared = [self._split, torch.get_rng_state()]
        dist.broadcast_object_list(shared, src=0)
        self._split = shared[0]
        torch.set_rng_state(shared[1])
        self._fit_distributed(X_encoded, y_encoded, dist.get_rank(), dist.get_world_size())

    def _fit_distributed(self, X_encoded, y_encoded, rank, world_size):
        """Train this rank: DDP-wrapped network, sharded batches, scaled learning rate."""
        network = unwrap(self.module_).to(self.device)
        device_ids = [torch.device(self.device).index] if _on_cuda(self.device) else None
        self.module_ = torch.nn.parallel.DistributedDataParallel(network, device_ids=device_ids)
        self._shard = (rank, world_size)
        scale = lr_multiplier(self.lr_scaling, world_size)
        self._scale_learning_rates(scale)
        try:
            self._run_epochs(X_encoded, y_encoded)
        finally:
            self._scale_learning_rates(1 / scale)
            self.module_ = unwrap(self.module_)
            del self._shard

    def _distributed_result(self):
        """What rank 0 hands back to the parent process."""
        return {
            "module": unwrap(self.module_).state_dict(),
            "optimizers": {name: getattr(self, name + "_").state_dict()
                           for name in self._optimizers},
            "history": self.history_.to_list(),
        }

    def _fit_data_parallel(self, X_encoded, y_encoded, plan):  # GPU-only branch
        """``nn.DataParallel`` over ``plan.device_ids``: each batch is split across the GPUs."""
        self.module_ = torch.nn.DataParallel(unwrap(self.module_), device_ids=plan.device_ids)
        scale = lr_multiplier(self.lr_scaling, plan.world_size)
        self.batch_size, per_device = self.batch_size * plan.world_size, self.batch_size
        self._scale_learning_rates(scale)
        try:
            self._run_epochs(X_encoded, y_encoded)
        finally:
            self._scale_learning_rates(1 / scale)
            self.batch_size = per_device
            self.module_ = unwrap(self.module_)

    def _scale_learning_rates(self, factor):
        for name in self._optimizers:
            for group in getattr(self, name + "_").param_groups:
                group["lr"] *= factor

    def get_iterator(self, dataset, training=False):
        """A rank's shard of every global batch while training distributed."""
        if isinstance(dataset, StreamingDataset):
            return self._stream_iterator(dataset, training)
        shard = getattr(self, "_shard", None)
        if training and shard is not None:
            shuffle = self.get_params_for("iterator_train").get("shuffle", False)
            return ShardedSliceLoader(dataset, batch_size=self.batch_size, shuffle=shuffle,
                                      rank=shard[0], world_size=shard[1])
        slot = "iterator_train" if training else "iterator_valid"
        if self.prefetch and getattr(self, slot) is SliceLoader:
            kwargs = {"batch_size": self.batch_size, **self.get_params_for(slot)}
            device = self.device if _on_cuda(self.device) else None
            return PrefetchLoader(dataset, device=device, **kwargs)
        return super().get_iterator(dataset, training=training)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """One pass over ``iterator``; under DDP every rank shuffles from the same state."""
        shard = getattr(self, "_shard", None)
        if training and shard is not None:
            share_random_state(*shard)
        return super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)

    def train_step(self, batch, **fit_params):
        """One step; under DDP the logged loss is the mean over ranks, so every rank's history
        is the same."""
        step = super().train_step(batch, **fit_params)
        shard = getattr(self, "_shard", None)
        if shard is not None:
            loss = step["loss"].detach().clone()
            dist.all_reduce(loss)
            step["loss"] = loss / shard[1]
        return step

    def _pretraining_rows(self, X_encoded, y_encoded):
        """The rows training will use: all of them, or without early stopping's validation rows.

        For a stage run before the main training (FNN's FM, AutoFIS's search): the split is
        made now, exactly as training will make it, and kept for :meth:`get_split_datasets`,
        so the stage never sees the rows early stopping scores.
        """
        train, valid = self._split = self.get_split_datasets(X_encoded, y_encoded)
        if valid is None:
            return X_encoded, y_encoded
        rows = np.asarray(train.indices)
        return X_encoded[rows], y_encoded[rows]

    def get_split_datasets(self, X, y=None, **fit_params):
        """Hold out a stratified validation split when early stopping is on (the split
        :meth:`_pretraining_rows` made, or the explicit ``X_val``, if any)."""
        split = self.__dict__.pop("_split", None)
        if split is not None:
            return split
        dataset = self.get_dataset(X, y)
        if y is None or not wants_early_stopping(
            self.early_stopping, y, self.validation_fraction, explicit_validation=False
        ):
            return dataset, None
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        split = ValidSplit(self.validation_fraction, stratified=True, random_state=seed)
        try:
            train, valid = split(dataset, y)
        except ValueError as error:  # a class too rare to stratify
            raise ValueError(
                f"early_stopping=True cannot hold out a stratified validation_fraction="
                f"{self.validation_fraction} of these rows ({error}); pass X_val / y_val, a "
                "larger validation_fraction, or early_stopping=False."
            ) from error
        check_validation_classes(np.asarray(y)[valid.indices], self.scoring)
        return train, valid


def _on_cuda(device):
    return device is not None and torch.device(device).type == "cuda"
