"""How an estimator's parameters look to scikit-learn: the signature a subclass's ``__init__``
composes with the base's, skorch's settings that sk_ctr chooses, and ``get_params``,
``set_params`` and the repr over a skorch net."""

import functools
import inspect

import torch
from sklearn.base import BaseEstimator
from skorch import NeuralNet, NeuralNetBinaryClassifier

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


@functools.cache
def skorch_defaults(estimator_class):
    """The default of every skorch setting that is not a parameter of ``estimator_class``:
    skorch's own defaults, and sk_ctr's choices in :data:`SK_CTR_SKORCH_SETTINGS`.

    Parameters
    ----------
    estimator_class : type
        A ``CTRClassifier`` (sub)class; its signature names the settings it takes as
        parameters of its own (``lr``, ``batch_size`` ...).

    Returns
    -------
    dict of str to object
    """
    parameters = inspect.signature(estimator_class).parameters
    return {
        name: parameter.default
        for init in (NeuralNet.__init__, NeuralNetBinaryClassifier.__init__)
        for name, parameter in inspect.signature(init).parameters.items()
        if name not in parameters
        and parameter.kind is not parameter.VAR_POSITIONAL
        and parameter.kind is not parameter.VAR_KEYWORD
        and name != "self"
    } | SK_CTR_SKORCH_SETTINGS


class ParametersMixin:
    """scikit-learn's parameter protocol for ``CTRClassifier``, a skorch net: ``get_params``
    lists the signature's parameters and the skorch settings given beside them, ``set_params``
    stores settings before the net is initialised, and the repr is scikit-learn's."""

    def _get_param_names(self):
        """The parameters of the signature (composed for subclasses, see
        ``CTRClassifier.__init_subclass__``) and the skorch settings given beside them
        (``optimizer__weight_decay``, ``module`` ...), so that ``clone`` and ``GridSearchCV``
        carry those on; skorch's bookkeeping and sk_ctr's own defaults are not listed."""
        signature = inspect.signature(type(self)).parameters.values()
        defaults = skorch_defaults(type(self))
        names = {p.name for p in signature if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        names.update(
            name
            for name, value in vars(self).items()
            if _is_skorch_setting(name, defaults) and not _is_default(name, value, defaults)
        )
        return sorted(names)

    def get_params(self, deep=True):
        """Parameters of this estimator (scikit-learn's ``get_params``).

        skorch's ``get_params`` adds the parameters of each callback
        (``callbacks__print_log__sink`` ...): they are not the estimator's, so they are not
        listed (``set_params`` still reaches them).

        Parameters
        ----------
        deep : bool, default=True
            Also the parameters of ``preprocessor`` (``preprocessor__min_frequency`` ...).

        Returns
        -------
        dict of str to object
        """
        return BaseEstimator.get_params(self, deep=deep)

    def set_params(self, **params):
        """Set the parameters (scikit-learn's ``set_params``, with skorch's routing of
        ``optimizer__<name>``, ``callbacks__<name>__<param>`` ...).

        Before the estimator is fitted, ``callbacks`` and skorch's settings (``module``,
        ``criterion`` ...) are stored as given and checked by ``fit``, as every parameter is.
        skorch builds the callbacks at once (so that a fitted estimator's next
        ``partial_fit`` runs the new ones), raising on an invalid value, and knows its
        settings' names only once the network is initialised.

        Parameters
        ----------
        **params
            Parameters of :meth:`get_params`, and skorch's settings.

        Returns
        -------
        self
        """
        if not self.initialized_:
            defaults = skorch_defaults(type(self))
            for name in [name for name in params if name == "callbacks" or name in defaults]:
                setattr(self, name, params.pop(name))
        return super().set_params(**params)

    # scikit-learn's repr (the parameters that differ from the signature's defaults), not
    # skorch's (the whole module). The same function, so that sklearn's pretty-printer knows it
    # inside a Pipeline or a GridSearchCV as well.
    __repr__ = BaseEstimator.__repr__


def _is_skorch_setting(name, defaults):
    """Whether an attribute is a skorch setting (``module``, ``optimizer__<name>`` ...), not a
    learned attribute (``module_``) or private state (``_params_to_validate``)."""
    if name.startswith("_") or name.endswith("_"):
        return False
    return name in defaults or "__" in name


def _is_default(name, value, defaults):
    if name not in defaults:
        return False
    default = defaults[name]
    return value is default or (type(value) is type(default) and value == default)
