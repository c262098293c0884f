"""Callbacks that DDP worker processes import by name (tests/training/test_ddp_workers.py): the
workers of a spawned fit load the estimator, callbacks included, from a pickle."""

import os
import signal
import time
from pathlib import Path

from skorch.callbacks import Callback


class MarkTraining(Callback):
    """Create ``folder/training-<pid>`` when this process has trained a batch, so a test
    knows the workers (and their pids) are in the middle of a fit."""

    def __init__(self, folder):
        self.folder = folder

    def on_batch_end(self, net, training=False, **kwargs):
        marker = Path(self.folder) / f"training-{os.getpid()}"
        if training and not marker.exists():
            marker.touch()


class StallAtEpoch(Callback):
    """Hang (sleep for an hour) at the start of epoch ``epoch`` (1-based), in every process."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == self.epoch:
            time.sleep(3600)


class FailOnRank(Callback):
    """Raise a ValueError after the first batch of the DDP rank ``rank``."""

    def __init__(self, rank):
        self.rank = rank

    def on_batch_end(self, net, **kwargs):
        import torch.distributed as dist

        if dist.is_initialized() and dist.get_rank() == self.rank:
            raise ValueError(f"rank {self.rank} cannot go on")


class KillOnRank(Callback):
    """Kill the process of the DDP rank ``rank`` with SIGKILL after its first batch (as the
    OOM killer would): it dies without a word."""

    def __init__(self, rank):
        self.rank = rank

    def on_batch_end(self, net, **kwargs):
        import torch.distributed as dist

        if dist.is_initialized() and dist.get_rank() == self.rank:
            os.kill(os.getpid(), signal.SIGKILL)


class SlowToLoad(Callback):
    """Sleep ``seconds`` when unpickled: a worker process, which loads the estimator from a
    pickle, starts training that much later (as after slow imports on a busy machine)."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __setstate__(self, state):
        self.__dict__.update(state)
        time.sleep(self.seconds)
