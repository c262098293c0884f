"""The optimizers of a CTRClassifier: ``optimizer`` by name or class for the dense parameters,
SparseAdam for sparse embedding tables, a model's own (AutoFIS's GRDA), one forward/backward per
batch for all of them."""

import torch

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "adagrad": torch.optim.Adagrad,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}


class OptimizerMixin:
    """skorch's optimizer hooks for ``CTRClassifier``."""

    def initialize_optimizer(self, triggered_directly=None):
        """``optimizer_``: the ``optimizer`` (by name or class, with ``lr`` and
        ``optimizer__*``) over the dense parameters; ``optimizer_sparse_``: SparseAdam over
        the embedding tables with ``sparse_embeddings``; and the optimizers
        :meth:`_own_optimizers` returns, over the parameters they claim."""
        named_parameters = list(self.get_all_learnable_params())
        own = self._own_optimizers(named_parameters)
        claimed = {name for names, _ in own.values() for name in names}
        sparse = self._sparse_table_names() - claimed
        optimizers = {
            "optimizer": self._make_optimizer(
                [
                    (name, param)
                    for name, param in named_parameters
                    if name not in sparse and name not in claimed
                ]
            )
        }
        tables = [param for name, param in named_parameters if name in sparse]
        if tables:
            lr = self.get_params_for_optimizer("optimizer", [])[1]["lr"]
            optimizers["optimizer_sparse"] = torch.optim.SparseAdam(tables, lr=lr)
        optimizers.update({name: optimizer for name, (_, optimizer) in own.items()})
        for name in [name for name in self._optimizers if name not in optimizers]:
            delattr(self, name + "_")  # e.g. a previous stage's: never stepped again
        for name, optimizer in optimizers.items():
            setattr(self, name + "_", optimizer)
        return self

    def _own_optimizers(self, named_parameters):
        """Hook: optimizers of a model's own for some of its parameters (AutoFIS's GRDA for
        the gates under search), next to ``optimizer_`` and ``optimizer_sparse_``.

        Parameters
        ----------
        named_parameters : list of (str, torch.nn.Parameter)
            Every learnable parameter of the network.

        Returns
        -------
        dict of str to (set of str, torch.optim.Optimizer)
            By name (the attribute is the name plus ``"_"``, e.g. ``"optimizer_alpha"``):
            the names of the parameters it steps, which no other optimizer gets, and the
            optimizer.
        """
        return {}

    def _sparse_table_names(self):
        """Switch every ``nn.Embedding`` of the network to sparse gradients when
        ``sparse_embeddings`` is on, and return the names of their weights."""
        if not self.sparse_embeddings:
            return set()
        names = set()
        for name, module in self.module_.named_modules():
            if isinstance(module, torch.nn.Embedding):
                module.sparse = True  # read by every forward, so no rebuild is needed
                names.add(f"{name}.weight" if name else "weight")
        return names

    def _make_optimizer(self, named_parameters):
        """The ``optimizer`` (by name or class) over the given parameters, with ``lr`` and
        ``optimizer__*``."""
        args, kwargs = self.get_params_for_optimizer("optimizer", named_parameters)
        optimizer = OPTIMIZERS.get(self.optimizer, self.optimizer)
        if optimizer in (torch.optim.Adam, torch.optim.AdamW):
            # One fused kernel instead of a loop over parameter tensors: 9 % of a DeepFM step
            # on CPU (measured), and 2-3x on a 1e6-row table (notes/skorch-study.md, 8).
            kwargs.setdefault("fused", True)
        return optimizer(*args, **kwargs)

    def _step_optimizer(self, step_fn):
        """One forward/backward per batch, then a step of every optimizer.

        skorch passes the closure to each optimizer's ``step``, so two optimizers (AutoFIS's
        GRDA next to Adam) would run the forward and backward pass twice per batch, the second
        time at already-updated weights (notes/skorch-study.md, section 8).
        """
        if len(self._optimizers) == 1:
            return super()._step_optimizer(step_fn)
        step_fn()
        for name in self._optimizers:
            getattr(self, name + "_").step()
        return None
