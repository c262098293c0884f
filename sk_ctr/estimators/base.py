"""CTRClassifier: the scikit-learn face of every network, built on skorch.

A subclass only declares its hyper-parameters (plain ``__init__`` parameters with constraints)
and the network class; this base fits the transformer, encodes the labels, builds the network
from the learned schema and runs skorch's training loop over sliced batches.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import _check_sample_weight
from skorch import NeuralNet, NeuralNetBinaryClassifier
from skorch.callbacks import (
    EarlyStopping,
    EpochScoring,
    EpochTimer,
    PassthroughScoring,
    PrintLog,
    ProgressBar,
)
from skorch.dataset import Dataset, ValidSplit
from skorch.utils import to_tensor

from sk_ctr.estimators.inputs import RawFrameInputMixin
from sk_ctr.layers.mlp import ACTIVATIONS
from sk_ctr.preprocessing import FieldData
from sk_ctr.training.callbacks import StopOnNonFiniteLoss, validation_auc
from sk_ctr.training.loader import SliceLoader

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "adagrad": torch.optim.Adagrad,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}

#: Constraints of the embedding parameters, shared by every model with embeddings.
EMBEDDING_CONSTRAINTS = {
    "embed_dim": [Interval(Integral, 1, None, closed="left")],
    "init_std": [Interval(Real, 0, None, closed="left")],
}
#: Constraints of the parameters of a deep component (an MLP).
MLP_CONSTRAINTS = {
    "hidden_units": [list, tuple],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "batch_norm": ["boolean"],
}


def sigmoid_then_2d(logits):
    """Logits of shape (n,) to class probabilities of shape (n, 2).

    Set as skorch's ``predict_nonlinearity`` explicitly: with the default ``'auto'``,
    ``trim_for_prediction()`` drops the criterion and ``predict_proba`` returns raw logits.
    """
    positive = torch.sigmoid(logits)
    return torch.stack((1 - positive, positive), dim=1)


class CTRClassifier(RawFrameInputMixin, NeuralNetBinaryClassifier):
    """Base of the sk_ctr estimators: a skorch ``NeuralNetBinaryClassifier`` that takes a raw
    DataFrame.

    ``fit`` fits a :class:`~sk_ctr.CTRTransformer` (a clone of ``preprocessor``) on ``X``,
    builds the network from the learned field schema and trains it with mini-batches sliced
    from pre-built tensors. ``X`` may also be a :class:`~sk_ctr.FieldData` already encoded by
    a ``CTRTransformer`` earlier in a ``Pipeline``.

    Parameters
    ----------
    preprocessor : CTRTransformer, default=None
        Unfitted transformer to clone and fit on raw input; ``None`` uses ``CTRTransformer()``.
    l2 : float, default=0.0
        L2 penalty on the embedding rows and order-1 weights used by each sample (DeepFM
        journal, section III-B: L2 on the FM component), averaged over the batch.
    optimizer : {"adam", "adamw", "adagrad", "sgd", "rmsprop"} or torch optimizer class, \
default="adam"
        The optimizer; its extra arguments go in ``optimizer__<name>=``.
    lr : float, default=1e-3
        Learning rate.
    batch_size : int, default=1024
        Mini-batch size, for training and prediction.
    max_epochs : int, default=10
        Number of passes over the training data (fewer with early stopping).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified), score its ROC AUC
        after each epoch, stop when it has not improved for ``n_iter_no_change`` epochs and
        restore the weights of the best epoch.
    validation_fraction : float, default=0.1
        Share of the training data held out when ``early_stopping=True``.
    n_iter_no_change : int, default=3
        Patience of early stopping, in epochs.
    threshold : float, default=0.5
        Probability above which ``predict`` returns the positive class.
    device : str, default="cpu"
        Torch device, e.g. ``"cpu"``, ``"cuda"``, ``"cuda:1"``.
    n_threads : int, default=None
        Torch threads inside ``fit`` and ``predict``; the previous value is restored after.
        ``None`` leaves torch's setting alone (which respects joblib's limits under
        ``GridSearchCV(n_jobs=...)``; raising it there oversubscribes the cores).
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, dropout and shuffling for reproducible fits. Torch's
        global random state is restored afterwards.
    verbose : int, default=0
        ``>0`` shows a progress bar and a table of train loss, validation AUC and validation
        log-loss (``valid_loss``) per epoch.
    warm_start : bool, default=False
        ``fit`` continues training the fitted network with the fitted transformer and
        labels instead of starting over.
    **kwargs
        skorch parameters (``callbacks``, ``iterator_train__shuffle``, ``optimizer__*``,
        ``module`` for a custom network class ...). Unknown names raise at ``fit``.

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
        Per-epoch training log (``train_loss``, ``valid_loss``, ``valid_auc``, ``dur``).
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
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "threshold": [Interval(Real, 0, 1, closed="both")],
        "device": [str, torch.device, None],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        *,
        preprocessor=None,
        l2=0.0,
        optimizer="adam",
        lr=1e-3,
        batch_size=1024,
        max_epochs=10,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=3,
        threshold=0.5,
        device="cpu",
        n_threads=None,
        random_state=None,
        verbose=0,
        warm_start=False,
        module=None,
        criterion=torch.nn.BCEWithLogitsLoss,
        train_split=None,
        iterator_train=SliceLoader,
        iterator_valid=SliceLoader,
        predict_nonlinearity=sigmoid_then_2d,
        **kwargs,
    ):
        kwargs.setdefault("iterator_train__shuffle", True)
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            iterator_train=iterator_train,
            iterator_valid=iterator_valid,
            train_split=train_split,
            predict_nonlinearity=predict_nonlinearity,
            warm_start=warm_start,
            verbose=verbose,
            device=device,
            threshold=threshold,
            **kwargs,
        )
        self.preprocessor = preprocessor
        self.l2 = l2
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.n_threads = n_threads
        self.random_state = random_state

    # ------------------------------------------------------------ fitting
    def fit(self, X, y, sample_weight=None):
        """Fit the transformer (on raw input) and train the network.

        Parameters
        ----------
        X : pandas.DataFrame, array-like of shape (n_samples, n_features) or FieldData
        y : array-like of shape (n_samples,)
            Two classes: 0/1, bool or two strings.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples in the loss.

        Returns
        -------
        self
        """
        refit = not (self.warm_start and self.__sklearn_is_fitted__())
        return self._train(X, y, sample_weight, refit=refit)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
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

    def _train(self, X, y, sample_weight, refit):
        self._validate_params()
        X_encoded = self._encode(X, fit=refit)
        y_encoded = self._encode_labels(y, fit=refit)
        if len(X_encoded) != len(y_encoded):
            raise ValueError(
                f"X and y have inconsistent numbers of samples: {len(X_encoded)} and "
                f"{len(y_encoded)}."
            )
        if sample_weight is not None:
            weights = _check_sample_weight(
                sample_weight, y_encoded, dtype=np.float32, ensure_non_negative=True
            )
            if not weights.sum() > 0:
                raise ValueError("sample_weight sums to zero; at least one weight must be > 0.")
            X_encoded = FieldData({**X_encoded, "sample_weight": weights}, X_encoded.schema)
        self.__dict__.pop("_split", None)  # never a split left by a fit that failed
        with self._runtime(seeded=True):
            if refit or not self.initialized_:
                self.initialize()
                self._pretrain(X_encoded, y_encoded)
            NeuralNet.partial_fit(self, X_encoded, y_encoded)
        return self

    def _pretrain(self, X_encoded, y_encoded):
        """Hook run once after the network is built and before training (FNN's FM stage)."""

    # ---------------------------------------------------------- prediction
    def predict_proba(self, X):
        """Click probabilities.

        Parameters
        ----------
        X : pandas.DataFrame, array-like or FieldData

        Returns
        -------
        ndarray of shape (n_samples, 2)
            Column 1 is the probability of ``classes_[1]``.
        """
        X_encoded = self._encode_for_prediction(X)
        with self._runtime():
            return super().predict_proba(X_encoded).astype(np.float64)

    def decision_function(self, X):
        """Logits (log-odds of ``classes_[1]``).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        X_encoded = self._encode_for_prediction(X)
        with self._runtime():
            return self.forward(X_encoded, training=False).numpy().astype(np.float64)

    def predict(self, X):
        """Labels: ``classes_[1]`` where its probability exceeds ``threshold``.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        positive = self.predict_proba(X)[:, 1] > self.threshold
        return self.classes_[positive.astype(np.int64)]

    def _encode_for_prediction(self, X):
        if isinstance(X, torch.utils.data.Dataset) and self.__sklearn_is_fitted__():
            return X  # skorch's own scoring passes its validation split, already encoded
        return super()._encode_for_prediction(X)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "le_") and bool(getattr(self, "initialized_", False))

    # ------------------------------------------------------ skorch hooks
    def initialize_module(self):
        """Build the network from the fitted schema and this estimator's hyper-parameters."""
        network = self.module if self.module is not None else self._network
        names = [n for n in inspect.signature(network).parameters if n != "fields"]
        params = {name: getattr(self, name) for name in names if hasattr(self, name)}
        params.update(self.get_params_for("module"))
        self.module_ = network(self.schema_, **params)
        return self

    def initialize_criterion(self):
        """The criterion gives per-sample losses; :meth:`get_loss` weights and averages them."""
        params = {"reduction": "none", **self.get_params_for("criterion")}
        self.criterion_ = self.criterion(**params)
        return self

    def initialize_optimizer(self, triggered_directly=None):
        """Resolve the optimizer by name; ``optimizer__*`` parameters reach its constructor."""
        self.optimizer_ = self._make_optimizer(self.get_all_learnable_params())
        return self

    def _make_optimizer(self, named_parameters):
        """The ``optimizer`` (by name or class) over the given parameters, with ``lr`` and
        ``optimizer__*``."""
        args, kwargs = self.get_params_for_optimizer("optimizer", named_parameters)
        return OPTIMIZERS.get(self.optimizer, self.optimizer)(*args, **kwargs)

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

    def _pretraining_rows(self, X_encoded, y_encoded):
        """The rows training will use: all of them, or without early stopping's validation rows.

        For a stage run before the main training (FNN's FM, AutoFIS's search): the split is
        made now, exactly as training will make it, and kept for :meth:`get_split_datasets`,
        so the stage never sees the rows early stopping scores.
        """
        train, valid = self._split = self.get_split_datasets(X_encoded, y_encoded)
        if valid is None:
            return X_encoded, y_encoded
        rows = np.asarray(train.indices)
        return X_encoded[rows], y_encoded[rows]

    def get_split_datasets(self, X, y=None, **fit_params):
        """Hold out a stratified validation split only when early stopping needs one (the
        split :meth:`_pretraining_rows` made, if any)."""
        split = self.__dict__.pop("_split", None)
        if split is not None:
            return split
        dataset = self.get_dataset(X, y)
        if not self.early_stopping:
            return dataset, None
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        split = ValidSplit(self.validation_fraction, stratified=True, random_state=seed)
        return split(dataset, y)

    def get_dataset(self, X, y=None):
        return X if isinstance(X, torch.utils.data.Dataset) else Dataset(X, y)

    def infer(self, x, **fit_params):
        """Forward a batch; the sample weights travel in ``x`` but are not network inputs."""
        if isinstance(x, Mapping) and "sample_weight" in x:
            x = {key: value for key, value in x.items() if key != "sample_weight"}
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Mean (or sample-weighted mean) log-loss, plus ``l2`` times the mean squared norm of
        the embedding rows the batch used (DeepFM journal eq. 10-11 and section III-B)."""
        per_sample = self.criterion_(y_pred, to_tensor(y_true, self.device).to(y_pred.dtype))
        weights = X.get("sample_weight") if isinstance(X, Mapping) else None
        if weights is None:
            loss = per_sample.mean()
        else:
            weights = to_tensor(weights, self.device).to(per_sample.dtype)
            loss = (per_sample * weights).sum() / weights.sum()
        if training and self.l2 > 0:
            inputs = to_tensor({k: X[k] for k in ("ids", "values")}, self.device)
            loss = loss + self.l2 * self.module_.penalty(**inputs).mean()
        return loss

    @property
    def _default_callbacks(self):
        callbacks = [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            ("valid_auc", EpochScoring(validation_auc, name="valid_auc", lower_is_better=False)),
            ("stop_on_nan", StopOnNonFiniteLoss()),
        ]
        if self.early_stopping:
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="valid_auc",
                        lower_is_better=False,
                        patience=self.n_iter_no_change,
                        load_best=True,
                    ),
                )
            )
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        callbacks.append(("print_log", PrintLog()))
        return callbacks

    # ---------------------------------------------------------- validation
    def _validate_params(self):
        """scikit-learn's declarative checks, then skorch's check for unknown arguments."""
        validate_parameter_constraints(
            self._parameter_constraints,
            self.get_params(deep=False),
            caller_name=type(self).__name__,
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
                "(torch.cuda.is_available() is False); use device='cpu'."
            )
        super()._validate_params()

    def _get_param_names(self):
        # skorch lists every attribute without a trailing underscore; its private bookkeeping
        # (``_params_to_validate``) must not look like a parameter to sklearn's clone.
        return [name for name in super()._get_param_names() if not name.startswith("_")]

    @contextmanager
    def _runtime(self, seeded=False):
        """Set torch's thread count (and seed its RNG) for one call, restoring both after."""
        previous_threads = torch.get_num_threads()
        if self.n_threads is not None:
            torch.set_num_threads(self.n_threads)
        try:
            if seeded and self.random_state is not None:
                seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
                devices = [torch.device(self.device).index or 0] if _on_cuda(self.device) else []
                with torch.random.fork_rng(devices=devices):
                    torch.manual_seed(int(seed))
                    yield
            else:
                yield
        finally:
            if self.n_threads is not None:
                torch.set_num_threads(previous_threads)

    def __repr__(self):
        # skorch's repr prints the whole module; show the parameters that differ from the
        # defaults, as scikit-learn does.
        defaults = type(self)().get_params(deep=False)
        changed = [
            f"{name}={value!r}"
            for name, value in sorted(self.get_params(deep=False).items())
            if name not in defaults or repr(value) != repr(defaults[name])
        ]
        return f"{type(self).__name__}({', '.join(changed)})"


def _on_cuda(device):
    return device is not None and torch.device(device).type == "cuda"
