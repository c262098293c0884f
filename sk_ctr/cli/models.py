"""Model names and ``--param`` values of ``sk-ctr fit`` to an estimator (importable: the
command line is a thin layer over these building blocks)."""

from __future__ import annotations

import ast
import difflib
import textwrap

from sk_ctr.cli._common import UsageError, _is_network


def estimator_classes():
    """The estimator classes of sk_ctr by name (``DeepFMClassifier`` ...)."""
    from sk_ctr.utils.discovery import all_estimators

    return dict(all_estimators())


def resolve_model(name):
    """A model name to ``("benchmark", spelling)`` or ``("class", estimator_class)``.

    Parameters
    ----------
    name : str
        A spelling of :data:`sk_ctr.presets.PAPER` (``"deepfm"``, ``"ipnn"``,
        ``"fm&dnn"`` ...), which takes precedence, or an estimator class name with or without
        ``Classifier``, in any case (``"DINClassifier"``, ``"din"``, ``"AutoFIS"``).

    Returns
    -------
    tuple

    Raises
    ------
    UsageError
        For an unknown name; the message lists the known ones.
    """
    from sk_ctr.presets import PAPER

    key = name.strip().lower()
    if key in PAPER:
        return ("benchmark", key)
    classes = {cls_name.lower(): cls for cls_name, cls in estimator_classes().items()}
    for candidate in (key, key + "classifier"):
        if candidate in classes:
            return ("class", classes[candidate])
    known = list(PAPER) + sorted(estimator_classes())
    close = difflib.get_close_matches(key, [k.lower() for k in known], n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UsageError(
        f"unknown model {name!r}.{hint} Benchmark spellings: {', '.join(PAPER)}; "
        f"estimators: {', '.join(sorted(estimator_classes()))}."
    )


def parse_params(pairs):
    """``NAME=VALUE`` strings to a dict, each value a Python literal or else a plain string.

    Parameters
    ----------
    pairs : list of str
        E.g. ``["embed_dim=16", "hidden_units=(200, 200)", "activation=relu"]``.

    Returns
    -------
    dict

    Raises
    ------
    UsageError
        For an item without ``=``, an empty name or a name given twice.

    Examples
    --------
    >>> parse_params(["embed_dim=16", "hidden_units=(200, 200)", "activation=relu"])
    {'embed_dim': 16, 'hidden_units': (200, 200), 'activation': 'relu'}
    """
    params = {}
    for pair in pairs:
        name, equals, text = pair.partition("=")
        name = name.strip()
        if not equals or not name:
            raise UsageError(f"--param takes NAME=VALUE, got {pair!r}.")
        if name in params:
            raise UsageError(f"--param {name} is given twice.")
        try:
            params[name] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            params[name] = text.strip()  # a bare word: relu, adam, softmax
    return params


def build_estimator(model, params, n_rows):
    """The unfitted estimator of a resolved model with ``params`` set, checked.

    Parameters
    ----------
    model : tuple
        From :func:`resolve_model`.
    params : dict
        Estimator parameters; ``preprocessor__NAME`` ones build a
        :class:`~sk_ctr.CTRTransformer` as its ``preprocessor``.
    n_rows : int
        Training rows: a benchmark spelling takes the benchmark's batch size for them.

    Returns
    -------
    estimator

    Raises
    ------
    UsageError
        For an unknown parameter (with the close matches) or a value the estimator rejects.
    """
    from sklearn.utils._param_validation import InvalidParameterError

    from sk_ctr.preprocessing import CTRTransformer
    from sk_ctr.presets import LARGE_DATA_ROWS, PAPER, Protocol

    kind, value = model
    if kind == "benchmark":
        estimator = PAPER[value](Protocol(batch_size=256 if n_rows < LARGE_DATA_ROWS else 2000))
    else:
        estimator = value()
    name = type(estimator).__name__
    own = {k: v for k, v in params.items() if not k.startswith("preprocessor__")}
    transformer = {
        k.split("__", 1)[1]: v for k, v in params.items() if k.startswith("preprocessor__")
    }
    valid = set(estimator.get_params(deep=False))
    # skorch routes module__*, criterion__*, optimizer__* and its prefixes_ (iterator_train__*,
    # callbacks__* ...) to the objects it builds at fit.
    prefixes = (
        {*getattr(estimator, "prefixes_", ()), "module", "criterion", "optimizer"}
        if _is_network(estimator)
        else set()
    )
    unknown = [k for k in own if k not in valid and k.split("__")[0] not in prefixes]
    if unknown:
        close = {k: difflib.get_close_matches(k, valid, n=2) for k in unknown}
        hints = "; ".join(f"{k}: did you mean {', '.join(c)}?" for k, c in close.items() if c)
        raise UsageError(
            f"{name} has no parameter(s) {unknown}."
            f"{' ' + hints if hints else ''} Its parameters: "
            f"{', '.join(sorted(valid))}."
        )
    try:
        if transformer:
            if "preprocessor" in own:
                raise UsageError("give either preprocessor= or preprocessor__NAME=, not both.")
            valid_transformer = CTRTransformer().get_params()
            bad = [k for k in transformer if k not in valid_transformer]
            if bad:
                raise UsageError(
                    f"CTRTransformer has no parameter(s) {bad}; its parameters: "
                    f"{', '.join(sorted(valid_transformer))}."
                )
            own["preprocessor"] = CTRTransformer(**transformer)
        # A new instance rather than set_params: skorch accepts routed parameters
        # (optimizer__weight_decay) as constructor arguments only, until it is initialized.
        estimator = type(estimator)(**{**estimator.get_params(deep=False), **own})
        if hasattr(estimator, "_validate_params"):
            estimator._validate_params()
    except (InvalidParameterError, ValueError, TypeError) as error:
        raise UsageError(f"invalid parameter for {name}: {error}") from error
    return estimator


_MODELS_HELP = """models:
  benchmark spellings (the settings of 'sk-ctr benchmark': the journal's Table III, early
  stopping on 10 %, l2=1e-3; quote those with & or *):
{benchmark}
  estimator classes (their own defaults), with or without 'Classifier', any case:
{classes}
""".strip()


def _format_models_help():
    from sk_ctr.presets import PAPER

    def wrapped(names):
        return textwrap.fill(
            ", ".join(names), width=88, initial_indent="    ", subsequent_indent="    "
        )

    return _MODELS_HELP.format(
        benchmark=wrapped(PAPER), classes=wrapped(sorted(estimator_classes()))
    )
