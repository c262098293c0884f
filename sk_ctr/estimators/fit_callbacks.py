"""The callbacks around a fit's epochs (losses, scoring, early stopping, calibration, importance,
the log) and the fitted attributes read from what they record in the history."""

import sys
from numbers import Integral

import numpy as np
from skorch.callbacks import (
    EpochTimer,
    PassthroughScoring,
    ProgressBar,
)

from sk_ctr.estimators.calibration import (
    ISOTONIC_KEY,
    TEMPERATURE_KEY,
    ValidationTemperature,
)
from sk_ctr.estimators.early_stopping import (
    BEST_EPOCH_KEY,
    scoring_callbacks,
    stopping_callback,
)
from sk_ctr.estimators.importance import HeldOutImportance, importances_by_column
from sk_ctr.training.callbacks import EpochTable, StopOnNonFiniteLoss, is_interactive


class FitCallbacksMixin:
    """skorch's default callbacks of ``CTRClassifier``, and what a fit reads from them."""

    def _read_training_outcome(self, valid=None):
        """``best_epoch_``: the epoch whose weights the network has (the last one without
        early stopping); ``temperature_``: the calibration fitted at the end of training;
        ``held_out_importance_``: the validation rows ``valid`` (a dataset in memory) that
        ``feature_importances_`` is computed on when first read."""
        self.__dict__.pop("held_out_importance_", None)
        if not len(self.history_):  # no training epoch (AutoFIS's search_only)
            self.best_epoch_, self.temperature_ = 0, 1.0
            return
        improved = [row["epoch"] for row in self.history_ if row.get(BEST_EPOCH_KEY)]
        self.best_epoch_ = improved[-1] if improved else self.history_[-1, "epoch"]
        self.temperature_ = float(self.history_[-1].get(TEMPERATURE_KEY, 1.0))
        knots = self.history_[-1].get(ISOTONIC_KEY)
        if knots is None:
            self.__dict__.pop("isotonic_knots_", None)
        else:
            self.isotonic_knots_ = (np.asarray(knots[0]), np.asarray(knots[1]))
        seed = self.random_state if isinstance(self.random_state, Integral) else None
        held_out = HeldOutImportance.of(valid, self.classes_, seed)
        if held_out is not None:
            self.held_out_importance_ = held_out

    @property
    def feature_importances_(self):
        """Mean drop of the validation ROC AUC when a column's values are shuffled across the
        held-out rows; computed on the first read (see :class:`CTRClassifier`)."""
        held_out = self.__dict__.get("held_out_importance_")
        if held_out is None:
            raise AttributeError(
                f"{type(self).__name__} has no feature_importances_: they are computed on "
                "the validation rows of a fit in memory (early stopping or X_val) without "
                "behaviour histories; use sk_ctr.inspection.permutation_importance on rows "
                "of your own."
            )
        return importances_by_column(
            held_out.values(self), self.schema_, getattr(self, "feature_names_in_", None)
        )

    @property
    def _default_callbacks(self):
        callbacks = [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            *scoring_callbacks(self.scoring),
            ("stop_on_nan", StopOnNonFiniteLoss()),
        ]
        if self.early_stopping is not False:  # acts on the epochs that have validation rows
            callbacks.append(
                ("early_stopping", stopping_callback(self.scoring, self.n_iter_no_change, self.tol))
            )
        if self.calibration is not None:  # after early stopping restored the best weights
            callbacks.append(("calibration", ValidationTemperature(self.calibration)))
        if self.verbose and is_interactive(sys.stderr):  # no carriage returns in a log file
            callbacks.append(("progress_bar", ProgressBar()))
        callbacks.append(("print_log", EpochTable()))
        return callbacks
