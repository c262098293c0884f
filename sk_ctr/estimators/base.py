"""CTRClassifier: the scikit-learn face of every network, built on skorch.

A subclass only declares its hyper-parameters (plain ``__init__`` parameters with constraints)
and the network class; this base fits the transformer, encodes the labels, builds the network
from the learned schema and runs skorch's training loop over sliced batches. The other jobs of
the estimator are mixins, one module each (``parameters``, ``inputs``, ``fit_inputs``,
``stream_fit``, ``loss``, ``optimizers``, ``fit_callbacks``, ``runtime``, ``prediction``).
"""

from __future__ import annotations

import inspect
from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from skorch import NeuralNetBinaryClassifier
from skorch.dataset import Dataset

from sk_ctr.artifact import SavedVersionMixin

# re-exported: the models import their shared constraints from here
from sk_ctr.estimators.constraints import EMBEDDING_CONSTRAINTS, MLP_CONSTRAINTS  # noqa: F401
from sk_ctr.estimators.early_stopping import hold_out_validation, wants_early_stopping
from sk_ctr.estimators.fit_callbacks import FitCallbacksMixin
from sk_ctr.estimators.fit_inputs import FitInputMixin, _label_column, _validation_set
from sk_ctr.estimators.inputs import RawFrameInputMixin
from sk_ctr.estimators.loss import LossMixin
from sk_ctr.estimators.optimizers import OPTIMIZERS, OptimizerMixin
from sk_ctr.estimators.parameter_docs import parameters, training_parameters
from sk_ctr.estimators.parameters import (
    SK_CTR_SKORCH_SETTINGS,
    ParametersMixin,
    forwarded_signature,
    skorch_defaults,
)
from sk_ctr.estimators.prediction import PredictionMixin
from sk_ctr.estimators.runtime import RuntimeMixin
from sk_ctr.estimators.stream_fit import StreamFitMixin
from sk_ctr.io.parquet import ParquetSource, as_source, is_paths
from sk_ctr.training.distributed import (
    LR_SCALINGS,
    STRATEGIES,
    plan_parallelism,
)
from sk_ctr.training.strategies import FitContext, choose_loader, train_network


class CTRClassifier(
    SavedVersionMixin,
    ParametersMixin,
    PredictionMixin,
    RawFrameInputMixin,
    FitInputMixin,
    StreamFitMixin,
    LossMixin,
    OptimizerMixin,
    FitCallbacksMixin,
    RuntimeMixin,
    NeuralNetBinaryClassifier,
):
    __doc__ = f"""Base of the sk_ctr estimators: a skorch ``NeuralNetBinaryClassifier`` that
    takes a raw DataFrame.

    ``fit`` fits a :class:`~sk_ctr.CTRTransformer` (a clone of ``preprocessor``) on ``X``,
    builds the network from the learned field schema and trains it with mini-batches sliced
    from pre-built tensors. ``X`` may also be a :class:`~sk_ctr.FieldData` already encoded by
    a ``CTRTransformer`` earlier in a ``Pipeline``.

    Parameters
    ----------
{parameters(*training_parameters())}

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two labels; ``classes_[1]`` is the positive class (the larger in sorted order).
    preprocessor_ : CTRTransformer
        The fitted transformer (absent when ``fit`` got a ``FieldData``).
    schema_ : tuple of Field
        The fields the network was built from.
    module_ : torch.nn.Module
        The trained network, returning logits.
    history_ : skorch.History
        Per-epoch training log (``train_loss``, ``valid_loss``, ``valid_auc``, ``dur``,
        ``improved``: the epochs early stopping counted as its best).
    best_epoch_ : int
        The epoch whose weights the network has (restored by early stopping).
    batch_size_ : int
        The training batch size (``batch_size="auto"`` resolved).
    temperature_ : float
        The calibration temperature dividing the logits (1 without calibration).
    isotonic_knots_ : tuple of ndarray
        ``(scaled logits, probabilities)``: the knots of the isotonic map
        (``calibration="isotonic"``).
    feature_importances_ : ndarray of shape (n_features_in_,)
        Mean drop of the validation ROC AUC when a column's values are shuffled across the
        held-out rows (permutation importance, 2 shuffles on at most 5,000 rows; see
        :func:`sk_ctr.inspection.permutation_importance` for more). Computed when first read
        (2 forward passes per column), so a fit whose importances nobody reads does not pay
        for them. Set when the fit had validation rows in memory and no behaviour histories.
    held_out_importance_ : HeldOutImportance
        The encoded validation rows (at most 5,000) ``feature_importances_`` is computed on,
        and then its values; a pickle carries it.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
    """

    #: The network class (a ``CTRNetwork`` subclass); its keyword arguments are estimator params.
    _network = None
    _parameter_constraints = {
        "preprocessor": [HasMethods(["fit", "transform"]), None],
        "l2": [Interval(Real, 0, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), callable],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "scoring": [str, callable],
        "tol": [Interval(Real, 0, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "calibration": [StrOptions({"auto", "temperature", "isotonic"}), None],
        "threshold": [Interval(Real, 0, 1, closed="both")],
        "negative_sampling_rate": [Interval(Real, 0, 1, closed="right"), None],
        "device": [str, torch.device, None],
        "devices": [Interval(Integral, 1, None, closed="left"), list, tuple, None],
        "strategy": [StrOptions(set(STRATEGIES))],
        "lr_scaling": [StrOptions(set(LR_SCALINGS)), None],
        "ddp_timeout": [Interval(Real, 0, None, closed="neither")],
        "sparse_embeddings": ["boolean"],
        "prefetch": ["boolean"],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "callbacks": [list, tuple, StrOptions({"disable"}), None],
    }

    def __init__(
        self,
        *,
        preprocessor=None,
        l2=0.0,
        optimizer="adam",
        lr=3e-3,
        batch_size="auto",
        max_epochs=50,
        early_stopping="auto",
        scoring="roc_auc",
        validation_fraction=0.1,
        n_iter_no_change=5,
        tol=1e-4,
        calibration="auto",
        threshold=0.5,
        negative_sampling_rate=None,
        device="cpu",
        devices=None,
        strategy="auto",
        lr_scaling="sqrt",
        ddp_timeout=600,
        sparse_embeddings=False,
        prefetch=False,
        n_threads=None,
        random_state=None,
        verbose=0,
        warm_start=False,
        callbacks=None,
        **skorch_params,
    ):
        defaults = skorch_defaults(type(self))
        unknown = sorted(
            name for name in skorch_params if name not in defaults and "__" not in name
        )
        if unknown:  # what a plain signature would raise; skorch's kwargs accept typos
            raise TypeError(
                f"{type(self).__name__}.__init__() got unexpected keyword argument(s) "
                f"{unknown}; its parameters are listed by help({type(self).__name__})."
            )
        settings = {**SK_CTR_SKORCH_SETTINGS, **skorch_params}
        super().__init__(
            settings.pop("module"),
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            callbacks=callbacks,
            warm_start=warm_start,
            verbose=verbose,
            device=device,
            threshold=threshold,
            **settings,
        )
        self.preprocessor = preprocessor
        self.l2 = l2
        self.early_stopping = early_stopping
        self.scoring = scoring
        self.tol = tol
        self.calibration = calibration
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.negative_sampling_rate = negative_sampling_rate
        self.devices = devices
        self.strategy = strategy
        self.lr_scaling = lr_scaling
        self.ddp_timeout = ddp_timeout
        self.sparse_embeddings = sparse_embeddings
        self.prefetch = prefetch
        self.n_threads = n_threads
        self.random_state = random_state

    def __init_subclass__(cls, **kwargs):
        """A subclass's ``__init__`` names its own parameters and passes the others on in
        ``**kwargs``; its signature, which ``help()``, ``inspect.signature``, ``get_params``,
        ``clone`` and the repr read, lists both (:func:`forwarded_signature`). So every
        estimator shows every parameter, and the training parameters are declared once."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None:
            init.__signature__ = forwarded_signature(init, super(cls, cls).__init__)

    # ------------------------------------------------------------ fitting
    def fit(
        self,
        X,
        y=None,
        sample_weight=None,
        *,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
        **fit_params,
    ):
        """Fit the transformer (on raw input) and train the network.

        A fit either completes or leaves the estimator as it was before the call (unfitted, or
        with its previous model): an error, a diverging loss or a Ctrl-C
        (``KeyboardInterrupt``, re-raised) never leaves a half-trained network behind.

        Parameters
        ----------
        X : pandas.DataFrame, array-like of shape (n_samples, n_features), FieldData, \
ParquetSource or path
            A :class:`~sk_ctr.ParquetSource` streams Parquet files larger than memory through
            the transformer (fitted on a sample or chunk by chunk) in shuffled batches. A path
            (a file or a directory) or a list of paths is ``ParquetSource(X, label=y)`` with
            the default settings.
        y : array-like of shape (n_samples,) or str, default=None
            Two classes: 0/1, bool or two strings. ``None`` for a ParquetSource, whose
            ``label`` column holds them; the name of that column when ``X`` is a path.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples in the loss.
        X_val, y_val : like X and y, default=None
            Validation rows for early stopping instead of a ``validation_fraction`` held out
            of ``X`` (as ``HistGradientBoostingClassifier.fit`` takes them). With a
            ParquetSource ``X``, ``X_val`` may be a ParquetSource too.
        sample_weight_val : array-like of shape (n_val_samples,), default=None
            Weights of the validation rows in the validation log-loss.
        **fit_params
            None are accepted: an unknown argument (``eval_set=`` ...) raises a TypeError
            that names ``X_val``.

        Returns
        -------
        self
        """
        if fit_params:  # e.g. LightGBM's eval_set=: say where validation rows go
            raise TypeError(
                f"{type(self).__name__}.fit got unexpected argument(s) {sorted(fit_params)}; "
                "validation rows are given as fit(X, y, X_val=..., y_val=...)."
            )
        refit = not (self.warm_start and self.__sklearn_is_fitted__())
        validation = _validation_set(X_val, y_val, sample_weight_val)
        return self._train(X, y, sample_weight, refit=refit, validation=validation)

    def partial_fit(self, X, y=None, classes=None, sample_weight=None):
        """Continue training for ``max_epochs`` epochs without re-initialising the network or
        refitting the transformer (a first call fits them).

        Parameters
        ----------
        X, y, sample_weight : see :meth:`fit`
        classes : ignored
            The classes are learned from ``y`` on the first call.

        Returns
        -------
        self
        """
        return self._train(X, y, sample_weight, refit=not self.__sklearn_is_fitted__())

    def _train(self, X, y, sample_weight, refit, validation=None):
        with self._fit_transaction(refit):
            X, y = _label_column(X, y)
            if is_paths(X):  # fit("days/", y="clicked"): the files' label column names y
                X, y = as_source(X, label=y), None
                if X.label is None:
                    raise ValueError(
                        "fit(X, y) with X naming Parquet files needs y, the name "
                        "of their label column: fit(path, y='click')."
                    )
            if isinstance(X, ParquetSource):
                if type(self)._pretrain is not CTRClassifier._pretrain:
                    raise ValueError(
                        f"{type(self).__name__} runs a first training stage on the rows in "
                        "memory, so it cannot train on a ParquetSource; load the rows "
                        "(pandas.read_parquet) instead."
                    )
                return self._fit_stream(X, y, sample_weight, refit, validation)
            self._validate_params()
            X_encoded = self._encode(X, fit=refit)
            if refit and self.verbose:
                self._print_column_roles()
            self._check_sequence_support(X_encoded)
            y_encoded = self._encode_labels(y, fit=refit)
            if len(X_encoded) != len(y_encoded):
                raise ValueError(
                    f"X and y have inconsistent numbers of samples: {len(X_encoded)} and "
                    f"{len(y_encoded)}."
                )
            X_encoded = self._with_sample_weight(X_encoded, y_encoded, sample_weight)
            wants_early_stopping(
                self.early_stopping, y_encoded, self.validation_fraction, validation is not None
            )  # raises for X_val without stopping
            valid = None if validation is None else self._encode_validation(validation)
            plan = plan_parallelism(self.device, self.devices, self.strategy)
            self.temperature_ = 1.0  # validation scores during training see the raw logits
            self.__dict__.pop("isotonic_knots_", None)
            with self._runtime(seeded=True, n_rows=len(y_encoded)):
                context = self._fit_context(X_encoded, y_encoded, valid, plan)
                if refit or not self.initialized_:
                    self.initialize()
                    self._prepare_network(context)
                    self._pretrain(*context.training_rows())
                if self._trains_network():
                    train_network(self, context)
            self._read_training_outcome(context.valid)
        return self

    def _fit_context(self, X_encoded, y_encoded, valid, plan):
        """The :class:`~sk_ctr.training.strategies.FitContext` of a fit on rows in memory:
        the rows to train on and the validation rows (``valid``, from ``X_val``, or a
        stratified ``validation_fraction`` held out when early stopping is on)."""
        dataset = self.get_dataset(X_encoded, y_encoded)
        if valid is None:
            train, valid = hold_out_validation(
                dataset,
                y_encoded,
                self.early_stopping,
                self.validation_fraction,
                self.scoring,
                self.random_state,
            )
        else:
            train = dataset
        return FitContext(X=X_encoded, y=y_encoded, train=train, valid=valid, plan=plan)

    def _prepare_network(self, context):
        """Hook: give the network just built what it needs from the fit's data (DIN's id
        frequencies), before :meth:`_pretrain`, for rows in memory and streamed ones alike.

        Parameters
        ----------
        context : FitContext
            The fit's data; ``context.X`` is all of the encoded ``X`` (validation rows
            included), or a ``StreamingDataset``.
        """

    def _pretrain(self, X_train, y_train):
        """Hook: a stage run once after the network is built and before training (FNN's FM,
        AutoFIS's search), on the training rows (never the validation rows)."""

    def _trains_network(self):
        """Hook: whether ``fit`` trains the network after :meth:`_pretrain` (AutoFIS's
        ``search_only``: no)."""
        return True

    def _print_column_roles(self):
        """The role the transformer gave each column (``preprocessor_.column_roles_``)."""
        roles = getattr(getattr(self, "preprocessor_", None), "column_roles_", None)
        if roles is not None:
            print(f"Column roles ({len(roles)} columns):\n{roles.to_string()}", flush=True)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "le_") and bool(getattr(self, "initialized_", False))

    # ------------------------------------------------------ skorch hooks
    def initialize_module(self):
        """Build the network from the fitted schema and this estimator's hyper-parameters."""
        self.module_ = self._build_network()
        return self

    def _build_network(self, **stage):
        """The network of the fitted schema, with this estimator's parameters of the names of
        its arguments, overridden by :meth:`_network_params`, then by ``stage``: the arguments
        of a later training stage, given by the method that runs it (AutoFIS's stages)."""
        network = self.module if self.module is not None else self._network
        names = [n for n in inspect.signature(network).parameters if n != "fields"]
        params = {name: getattr(self, name) for name in names if hasattr(self, name)}
        params.update(self._network_params())
        params.update(stage)
        return network(self.schema_, **params)

    def _network_params(self):
        """Hook: arguments of the network that are not this estimator's parameters of the same
        names (AutoFIS's first search stage); they take precedence over those.

        Returns
        -------
        dict of str to object
        """
        return {}

    def _set_training(self, training=True):
        """skorch's mode switch, skipping networks already in that mode: ``train(False)``
        visits every submodule, 0.2 ms of a 1-row ``predict_proba`` (benchmarks/serving.py).
        The networks are only ever switched as a whole, so the root's flag is every
        submodule's."""
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and module.training != training:
                module.train(training)

    def get_iterator(self, dataset, training=False):
        """The loader :func:`~sk_ctr.training.strategies.choose_loader` picks (prediction and
        validation scoring; a fit's loaders come from its context)."""
        return choose_loader(self, dataset, training)

    def get_dataset(self, X, y=None):
        return X if isinstance(X, torch.utils.data.Dataset) else Dataset(X, y)

    def _batch_penalty(self, network, inputs, loss_scale):
        """Hook: a term added to a training batch's loss that is not a mean over its samples
        (DIN's penalty on the distinct rows the mini-batch uses), so not weighed by a DDP
        rank's share of the batch.

        Parameters
        ----------
        network : torch.nn.Module
            The network (unwrapped from DDP).
        inputs : dict of str to torch.Tensor
            The batch's network inputs.
        loss_scale : torch.Tensor or None
            The batch's ``"_loss_scale"`` when it is a DDP rank's share of a global batch (0
            for a rank left without rows), else None.

        Returns
        -------
        torch.Tensor or float
        """
        return 0.0

    # ---------------------------------------------------------- validation
    def _validate_params(self):
        """scikit-learn's declarative checks, then skorch's check for unknown arguments."""
        validate_parameter_constraints(
            self._parameter_constraints,
            self.get_params(deep=False),
            caller_name=type(self).__name__,
        )
        self._check_no_network_arguments()
        if self.train_split is not None:
            raise ValueError(
                f"{type(self).__name__} does not use skorch's train_split: give validation rows "
                "as fit(X, y, X_val=..., y_val=...), or set validation_fraction."
            )
        hidden_units = getattr(self, "hidden_units", ())
        if not all(isinstance(u, Integral) and u > 0 for u in hidden_units):
            raise ValueError(
                f"The 'hidden_units' parameter of {type(self).__name__} must be a sequence of "
                f"positive ints. Got {hidden_units!r} instead."
            )
        device = str(self.device)
        if device.startswith("cuda") and not torch.cuda.is_available():  # GPU-only branch
            raise ValueError(
                f"device={self.device!r}, but this machine has no CUDA device available "
                "(torch.cuda.is_available() is False); use device='cpu' or 'auto'."
            )
        plan_parallelism(self.device, self.devices, self.strategy)  # raises naming the param
        # skorch's own check of unknown arguments (it needs a real torch device, and knows the
        # module / criterion / optimizer prefixes only once they are initialised: fit validates
        # before, so ``optimizer__weight_decay=`` would look unknown)
        known = self.prefixes_
        self.prefixes_ = list(dict.fromkeys([*known, "module", "criterion", "optimizer"]))
        try:
            with self._resolved_device():
                super()._validate_params()
        finally:
            self.prefixes_ = known

    def _check_no_network_arguments(self):
        """``module__<name>=`` would build the network with another value than the
        estimator's parameter of that name says (and ``get_params`` shows): refuse it."""
        routed = sorted(name for name in vars(self) if name.startswith("module__"))
        if not routed:
            return
        params = self.get_params(deep=False)
        hints = [
            f"set {name.removeprefix('module__')}= instead of {name}="
            if name.removeprefix("module__") in params
            else f"{type(self).__name__} has no parameter {name.removeprefix('module__')!r}"
            " (a custom network's argument is declared as a parameter of a subclass)"
            for name in routed
        ]
        raise ValueError(
            f"{type(self).__name__} builds its network from its own parameters, so it takes "
            f"no module__<name> arguments ({routed}): {'; '.join(hints)}."
        )
