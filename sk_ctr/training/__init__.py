"""What the estimators use around the training loop (loaders, callbacks)."""
