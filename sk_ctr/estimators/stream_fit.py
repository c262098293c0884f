"""Training on a ParquetSource without loading it: the classes from the label column, the
transformer from a sample (or chunk by chunk), the rows streamed batch by batch."""

from __future__ import annotations

import numpy as np
import torch.distributed as dist
from sklearn.utils import check_random_state
from skorch.dataset import Dataset

from sk_ctr.estimators.early_stopping import wants_early_stopping
from sk_ctr.io.parquet import ParquetSource
from sk_ctr.training.distributed import plan_parallelism
from sk_ctr.training.strategies import FitContext, train_network
from sk_ctr.training.streaming import StreamingDataset


class StreamFitMixin:
    """``fit`` on a :class:`~sk_ctr.io.parquet.ParquetSource`, for ``CTRClassifier``."""

    def _fit_stream(self, source, y, sample_weight, refit, validation=None):
        """Train on a :class:`~sk_ctr.io.parquet.ParquetSource` without loading it.

        The classes come from the label column alone, the transformer from a sample of rows
        (or a ``partial_fit`` pass, ``transformer_rows=None``); then the strategy of the
        plan trains on a :class:`~sk_ctr.training.strategies.FitContext` of the stream and the
        source's ``validation``, batched by a :class:`~sk_ctr.training.streaming.StreamLoader`.
        """
        self._validate_params()
        source.require_label(f"{type(self).__name__}.fit")
        if y is not None or sample_weight is not None:
            raise ValueError(
                f"The labels of a ParquetSource are its column {source.label!r}: call fit(source) "
                "with y=None and without sample_weight."
            )
        validation_rows = source.validation
        if validation is not None:
            if validation_rows is not None:
                raise ValueError(
                    "Give the validation rows once: as fit(..., X_val=, y_val=) or "
                    "as ParquetSource(..., validation=), not both."
                )
            X_val, y_val, weights = validation
            if weights is not None:
                raise ValueError("sample_weight_val is not supported with a ParquetSource.")
            validation_rows = X_val if isinstance(X_val, ParquetSource) else (X_val, y_val)
        if self.early_stopping is True and validation_rows is None:
            raise ValueError(
                "early_stopping=True scores held-out rows, and a ParquetSource is not split: "
                "give them as fit(source, X_val=ParquetSource(...)), "
                "ParquetSource(..., validation=ParquetSource(...)) or "
                "ParquetSource(..., validation=(X_valid, y_valid))."
            )
        if self.early_stopping is False and validation_rows is not None:
            wants_early_stopping(False, None, self.validation_fraction, validation is not None)
        plan = plan_parallelism(self.device, self.devices, self.strategy)
        self._encode_labels(source.label_values(), fit=refit)
        if refit:
            self._fit_stream_preprocessor(source, plan)
        else:
            self._encode(source.head(), fit=False)  # the fitted columns, or _encode's error
        train = StreamingDataset(source, self.preprocessor_, self.le_)
        valid = self._stream_validation(validation_rows)
        self.temperature_ = 1.0
        self.__dict__.pop("isotonic_knots_", None)
        with self._runtime(seeded=True, n_rows=len(train)):
            context = FitContext(X=train, y=None, train=train, valid=valid, plan=plan)
            if refit or not self.initialized_:
                self.initialize()
                self._prepare_network(context)
            train_network(self, context)
        self._read_training_outcome()
        return self

    def _fit_stream_preprocessor(self, source, plan):
        """``preprocessor_`` fitted on ``source.sample`` or, with ``transformer_rows=None``, by
        ``partial_fit`` on every chunk; then the schema as :meth:`_encode` sets it."""
        if source.transformer_rows is not None:
            seed = check_random_state(source.random_state).randint(np.iinfo(np.int32).max)
            if plan.kind == "joined":  # torchrun: every rank fits rank 0's sample
                shared = [seed]
                dist.broadcast_object_list(shared, src=0)
                seed = shared[0]
            encoded = self._encode(source.sample(source.transformer_rows, seed), fit=True)
        else:
            preprocessor = self._make_preprocessor()
            if not hasattr(preprocessor, "partial_fit"):
                raise TypeError(
                    f"transformer_rows=None fits the preprocessor chunk by chunk, but "
                    f"{type(preprocessor).__name__} has no partial_fit; give "
                    "ParquetSource(..., transformer_rows=<rows>) to fit it on a sample."
                )
            for frame in source.iter_frames():
                preprocessor.partial_fit(frame)
            encoded = self._encode(source.head(), fit=True, fitted_preprocessor=preprocessor)
        self._check_sequence_support(encoded)

    def _stream_validation(self, validation):
        """The dataset scored after each epoch: a ParquetSource streamed in full, or in-memory
        ``(X, y)`` encoded once; None without validation rows."""
        if validation is None:
            return None
        if isinstance(validation, ParquetSource):
            self._encode_labels(validation.label_values(), fit=False)  # only the fit's classes
            self._encode(validation.head(), fit=False)  # the fitted columns, or _encode's error
            return StreamingDataset(validation, self.preprocessor_, self.le_)
        X_encoded = self._encode(validation[0], fit=False)
        y_encoded = self._encode_labels(validation[1], fit=False)
        if len(X_encoded) != len(y_encoded):
            raise ValueError(
                f"The validation X and y have inconsistent numbers of samples: "
                f"{len(X_encoded)} and {len(y_encoded)}."
            )
        return Dataset(X_encoded, y_encoded)
