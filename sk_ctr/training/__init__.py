"""What the estimators use around the training loop (loaders, callbacks)."""

from sk_ctr.training.prefetch import PrefetchLoader, prefetch

__all__ = ["PrefetchLoader", "prefetch"]
