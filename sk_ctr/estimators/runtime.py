"""What a CTRClassifier sets for one call and restores after: torch's thread count and random
state, ``device="auto"`` and ``batch_size="auto"`` resolved, and the whole estimator when a
fit fails."""

import copy
from contextlib import ExitStack, contextmanager

import numpy as np
import torch
from sklearn.utils import check_random_state

from sk_ctr.estimators.defaults import PREDICTION_BATCH_SIZE, auto_batch_size
from sk_ctr.training.distributed import resolve_device, unwrap
from sk_ctr.training.strategies import on_cuda


class RuntimeMixin:
    """Per-call runtime settings of ``CTRClassifier``, its fit transaction, and its pickling
    of ``device="auto"``."""

    @contextmanager
    def _resolved_device(self):
        """``device="auto"`` as a real device for the duration of a call: skorch moves
        tensors with ``self.device`` itself."""
        if str(self.device) != "auto":
            yield
            return
        self.device = resolve_device("auto")
        try:
            yield
        finally:
            self.device = "auto"

    @contextmanager
    def _resolved_batch_size(self, n_rows):
        """``batch_size="auto"`` as a number for the duration of a call: skorch and the
        loaders read ``self.batch_size``. Training sets ``batch_size_``."""
        if not isinstance(self.batch_size, str):
            if n_rows is not None:
                self.batch_size_ = self.batch_size
            yield
            return
        if n_rows is None:
            self.batch_size = PREDICTION_BATCH_SIZE
        else:
            self.batch_size = self.batch_size_ = auto_batch_size(n_rows)
        try:
            yield
        finally:
            self.batch_size = "auto"

    def __getstate__(self):
        with self._resolved_device():  # skorch stores the device to map the tensors on load
            state = super().__getstate__()
        if str(self.device) == "auto":
            state["_device_parameter"] = "auto"
        return state

    def __setstate__(self, state):
        parameter = state.pop("_device_parameter", None)
        super().__setstate__(state)
        if parameter is not None:
            self.device = parameter

    @contextmanager
    def _runtime(self, seeded=False, n_rows=None):
        """Set torch's thread count (and seed its RNG) for one call, restoring both after;
        resolve ``device="auto"`` and ``batch_size="auto"`` (for training on ``n_rows`` rows,
        or for prediction without them)."""
        previous_threads = torch.get_num_threads()
        if self.n_threads is not None:
            torch.set_num_threads(self.n_threads)
        try:
            with ExitStack() as stack:
                stack.enter_context(self._resolved_device())
                stack.enter_context(self._resolved_batch_size(n_rows))
                if seeded and self.random_state is not None:
                    seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
                    on_gpu = on_cuda(self.device)
                    devices = [torch.device(self.device).index or 0] if on_gpu else []
                    stack.enter_context(torch.random.fork_rng(devices=devices))
                    if torch.device(self.device).type == "cpu":
                        # torch.manual_seed would also queue a seed for each accelerator torch
                        # has not initialised, formatting the caller's stack: ~10 ms a fit
                        torch.random.default_generator.manual_seed(int(seed))
                    else:
                        torch.manual_seed(int(seed))
                yield
        finally:
            if self.n_threads is not None:
                torch.set_num_threads(previous_threads)

    @contextmanager
    def _fit_transaction(self, refit):
        """Leave the estimator exactly as it was if the fit raises (or is interrupted).

        A refit builds a new transformer, network and optimizers, so keeping references to
        the old ones is enough; continued training (``warm_start``, ``partial_fit``) changes
        the network in place, so its weights and optimizer states are copied first.
        """
        saved = dict(self.__dict__)
        states = {}
        if not refit and self.__sklearn_is_fitted__():
            states = {
                name: copy.deepcopy(getattr(self, name + "_").state_dict())
                for name in ("module", *self._optimizers)
            }
            saved["history_"] = copy.deepcopy(self.history_)
        try:
            yield
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            for name, state in states.items():
                target = unwrap(self.module_) if name == "module" else getattr(self, name + "_")
                target.load_state_dict(state)
            raise
