"""Helpers shared by the layer and network tests (imported as ``helpers``; pytest puts the
tests folder on the path)."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import skorch
import torch

import sk_ctr


def randomize_(module):
    """Draw every parameter from N(0, 1), in place.

    LinearTerm and biases start at zero; random parameters make every term visible in the
    comparisons with the brute-force references.
    """
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_()
    return module


def raw_frame(n_samples=40, seed=0):
    """A small raw frame: two string columns and two float columns."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "site": rng.choice(["a", "b", "c", "d"], n_samples),
            "device": rng.choice(["phone", "tablet", "pc"], n_samples),
            "price": rng.normal(size=n_samples),
            "age": rng.uniform(18, 80, n_samples),
        }
    )


def fit_time_state(estimator):
    """The private attributes of ``estimator`` beyond skorch's own bookkeeping (those of an
    initialised skorch net): state a fit stashed for a hook to read later, which a pickle
    carries and an exception or a refit can leave stale. Parameters and fitted attributes
    (ending in ``_``) are not private."""
    net = skorch.NeuralNetBinaryClassifier(torch.nn.Linear(1, 1)).initialize()
    own = {name for name in vars(net) if name.startswith("_")}
    return {name for name in vars(estimator) if name.startswith("_") and name not in own}


def child_env(**variables):
    """The environment of a Python child process that imports this checkout's sk_ctr (not an
    installed one), with one torch thread."""
    repository = str(Path(sk_ctr.__file__).resolve().parents[1])
    path = os.pathsep.join([repository, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path, **variables}
