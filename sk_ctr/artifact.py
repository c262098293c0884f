"""The version of a saved model, recorded in its pickle and checked first when it is loaded.

A fitted estimator is saved with pickle (``joblib.dump``, ``sk-ctr fit --out``). Loading a
pickle runs code chosen by whoever wrote the file: **load only models you trust**. Loading one
written by another version of sk_ctr used to fail deep inside unpickling (an ``AttributeError``
on a renamed attribute) or, worse, to load an estimator that predicted wrongly.
:class:`SavedVersionMixin` writes the sk_ctr version and :data:`ARTIFACT_FORMAT` at the head of
the pickle, so that they are read, and checked, before the rest of the estimator.
"""

from __future__ import annotations

import importlib
import warnings

#: Version of what a pickled estimator holds (attributes, their meaning, the classes they
#: refer to). Bump it with any change after which a model saved before would fail to load or
#: predict differently; a model of another format is refused with :class:`ArtifactVersionError`.
ARTIFACT_FORMAT = 1


class ArtifactVersionError(ValueError):
    """A saved model's artifact format is not the one this version of sk_ctr reads."""


class ArtifactVersionWarning(UserWarning):
    """A saved model was written by another version of sk_ctr with the same artifact format."""


class SavedVersionMixin:
    """Pickles record the sk_ctr version and artifact format, checked before the estimator loads.

    The mixin changes only how the estimator is rebuilt from a pickle (``__reduce_ex__``): the
    state is the estimator's own ``__getstate__``. On load, :func:`restore` runs before any of
    the state is read, so a model of another :data:`ARTIFACT_FORMAT` is refused with a message
    naming both versions, and one of another sk_ctr version with the same format loads with an
    :class:`ArtifactVersionWarning`. Pickles written before this check existed load unchecked.
    """

    def __reduce_ex__(self, protocol):
        # object's reduction is (constructor, args, state, ...): keep the state and what
        # follows, rebuild the (empty) instance through restore(), which checks first.
        _, _, *rest = super().__reduce_ex__(protocol)
        cls = type(self)
        return (restore, (cls.__module__, cls.__qualname__, ARTIFACT_FORMAT, _version()), *rest)


def restore(module, qualname, artifact_format, sk_ctr_version):
    """An empty instance of the saved class, after checking the versions it was saved with.

    Pickle calls it with the values :class:`SavedVersionMixin` recorded, then sets the state.

    Parameters
    ----------
    module, qualname : str
        Where the estimator's class is defined.
    artifact_format : int
        The :data:`ARTIFACT_FORMAT` of the sk_ctr that saved it.
    sk_ctr_version : str
        The version of the sk_ctr that saved it.

    Returns
    -------
    object
        ``cls.__new__(cls)``, its state to be set by pickle.

    Raises
    ------
    ArtifactVersionError
        If ``artifact_format`` is not :data:`ARTIFACT_FORMAT`.
    """
    check_saved_version(artifact_format, sk_ctr_version, qualname)
    cls = importlib.import_module(module)
    for name in qualname.split("."):
        cls = getattr(cls, name)
    return cls.__new__(cls)


def check_saved_version(artifact_format, sk_ctr_version, what="model"):
    """Refuse another artifact format; warn for another sk_ctr version of the same format.

    Raises
    ------
    ArtifactVersionError
        If ``artifact_format`` is not :data:`ARTIFACT_FORMAT`.
    """
    current = _version()
    if artifact_format != ARTIFACT_FORMAT:
        raise ArtifactVersionError(
            f"This {what} was saved by sk_ctr {sk_ctr_version} (artifact format "
            f"{artifact_format}); sk_ctr {current} reads artifact format {ARTIFACT_FORMAT}. "
            "Load it with the sk_ctr that saved it, or refit it with this one."
        )
    if sk_ctr_version != current:
        warnings.warn(
            f"This {what} was saved by sk_ctr {sk_ctr_version} and is loaded by sk_ctr "
            f"{current}; the artifact format ({artifact_format}) is the same, but check its "
            "predictions (or refit it) before relying on them.",
            ArtifactVersionWarning,
            stacklevel=2,
        )


def _version():
    import sk_ctr

    return sk_ctr.__version__
