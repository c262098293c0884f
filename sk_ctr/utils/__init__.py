"""Tools about the package itself (discovery of its estimators)."""
