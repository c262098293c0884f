"""How an estimator's parameters look to scikit-learn: the signature a subclass's ``__init__``
composes with the base's, and skorch's settings that sk_ctr chooses."""

import inspect

import torch

from sk_ctr.estimators.prediction import sigmoid_then_2d
from sk_ctr.training.loader import SliceLoader

#: skorch's settings that sk_ctr chooses (the others keep skorch's defaults). They are not
#: estimator parameters; given as ``**skorch_params`` they replace these, and ``get_params``
#: lists them (as it lists ``optimizer__<name>``) so that ``clone`` carries them on.
SK_CTR_SKORCH_SETTINGS = {
    "module": None,  # the estimator's ``_network``, built from its parameters
    "criterion": torch.nn.BCEWithLogitsLoss,
    "train_split": None,  # early stopping holds out its own rows (or takes X_val)
    "iterator_train": SliceLoader,
    "iterator_valid": SliceLoader,
    "iterator_train__shuffle": True,
    "predict_nonlinearity": sigmoid_then_2d,
}


def forwarded_signature(init, forwarded_to):
    """The signature of an ``__init__`` that passes its ``**kwargs`` on to ``forwarded_to``:
    its own parameters, then those of ``forwarded_to`` (with the defaults ``init`` gives the
    ones it names itself, in their place).

    Parameters
    ----------
    init, forwarded_to : callable

    Returns
    -------
    inspect.Signature
        ``init``'s own signature when it has no ``**kwargs``.

    Examples
    --------
    >>> def base(self, *, lr=0.1, batch_size=32): ...
    >>> def model(self, *, embed_dim=10, lr=0.01, **kwargs): ...
    >>> print(forwarded_signature(model, base))
    (self, *, embed_dim=10, lr=0.01, batch_size=32)
    """
    own = inspect.signature(init).parameters
    *named, last = own.values()
    if last.kind is not inspect.Parameter.VAR_KEYWORD:
        return inspect.signature(init)
    _, *inherited = inspect.signature(forwarded_to).parameters.values()  # without self
    inherited_names = {parameter.name for parameter in inherited}
    new = [parameter for parameter in named if parameter.name not in inherited_names]
    return inspect.Signature([*new, *(own.get(p.name, p) for p in inherited)])
