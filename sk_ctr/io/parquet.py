"""Parquet files read in row-group chunks: :class:`ParquetSource` and the schema checks
behind it (one column set and types across files, which columns hold nulls)."""

from __future__ import annotations

import math
import os
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state

from sk_ctr.io.tables import PARQUET_SUFFIXES, arrow_to_pandas


def import_pyarrow():
    """``pyarrow`` and ``pyarrow.parquet``, imported on first use (an optional dependency).

    Raises
    ------
    ImportError
        Saying how to install it.
    """
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise ImportError(
            "Reading Parquet files needs pyarrow, which is not installed. Install it with "
            "`pip install 'sk-ctr[parquet]'` (or `pip install pyarrow`)."
        ) from exc
    return pyarrow, pyarrow.parquet


class ParquetSource:
    """Parquet files to train on without loading them: ``est.fit(ParquetSource(...))``.

    The files are read with pyarrow (the ``parquet`` extra: ``pip install 'sk-ctr[parquet]'``),
    one row group at a time. Only the footers are read when the source is made: it checks that
    every file has the label and the feature columns and counts the rows.

    Parameters
    ----------
    paths : str, path-like or list of them
        A Parquet file, a directory (its ``.parquet``, ``.parq`` and ``.pq`` files, searched
        recursively and taken in sorted order; partition values encoded in directory names
        are not read; files and folders whose name starts with "." or "_" are skipped, as
        Spark and pyarrow's dataset discovery skip them: ``_temporary/``, ``_SUCCESS``,
        hidden ``.crc`` checksums) or a list of files. Types that differ harmlessly between
        files (``string`` and ``large_string``, ``int32`` and ``int64`` ...) are unified as
        ``pyarrow.unify_schemas(promote_options="permissive")`` does. Other formats (CSV)
        are refused: read them with pandas and pass the DataFrame.
    label : str or None, default=None
        The label column: two classes, as ``y`` of an in-memory fit. It may not hold nulls.
        ``None`` for files without labels, which can be predicted on
        (``est.predict_proba(source)``) but not trained on.
    columns : list of str, default=None
        The feature columns. ``None``: every column but ``label`` (and an index pandas stored
        in the file).
    batch_rows : int, default=65536
        Rows read and encoded at a time.
    shuffle_buffer : int, default=262144
        Rows held to shuffle the training batches. When the data have at most this many rows,
        an epoch's batches are those of an in-memory fit (one ``torch.randperm`` of all the
        rows, so a seeded fit gives the same model). Otherwise the row groups are read in a
        random order and every row waits in the buffer until a random later row takes its
        place (a shuffle buffer): a batch mixes rows of the last row groups read, about
        ``shuffle_buffer`` rows, so a larger buffer shuffles better.
    transformer_rows : int or None, default=100000
        Rows the transformer is fitted on: all of them when the data have at most this many;
        otherwise a sample (row groups at evenly spaced positions from a random start, then a
        random subset of their rows) that is fitted as if it were the data, so counts and
        ``min_frequency`` are the sample's and values absent from it become "other". ``None``:
        one extra pass over all the rows with ``CTRTransformer.partial_fit`` (exact counts;
        bucket edges from a sample of ``QUANTILE_SAMPLE`` values per column).
    random_state : int, RandomState instance or None, default=None
        Seeds the transformer's sample. The batches follow the estimator's ``random_state``.
    validation : ParquetSource or tuple (X, y), default=None
        Held-out rows scored in full after every epoch (``valid_loss``, ``valid_auc``), read
        from files or given in memory; ``early_stopping=True`` needs them.

    Attributes
    ----------
    files : tuple of pathlib.Path
        The files, in reading order.
    n_rows : int
        Rows over all files.
    feature_names : tuple of str
        The feature columns, in the order the transformer sees them.
    row_groups : tuple of tuple of int
        ``(file index, row group index, rows)`` of every row group.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sk_ctr import FMClassifier
    >>> from sk_ctr.datasets import make_ctr_classification
    >>> from sk_ctr.io.parquet import ParquetSource
    >>> X, y = make_ctr_classification(n_samples=2000, n_fields=3, cardinality=10,
    ...                                random_state=0)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "train.parquet"
    >>> X.assign(click=y).to_parquet(path, row_group_size=500)
    >>> source = ParquetSource(path, label="click", shuffle_buffer=1000, random_state=0)
    >>> source.n_rows, len(source.row_groups)
    (2000, 4)
    >>> est = FMClassifier(max_epochs=2, random_state=0, n_threads=1).fit(source)
    >>> est.predict_proba(X).shape
    (2000, 2)
    """

    def __init__(
        self,
        paths,
        label=None,
        columns=None,
        batch_rows=65536,
        shuffle_buffer=262144,
        transformer_rows=100000,
        random_state=None,
        validation=None,
    ):
        self.paths = paths
        self.label = label
        self.columns = columns
        self.batch_rows = batch_rows
        self.shuffle_buffer = shuffle_buffer
        self.transformer_rows = transformer_rows
        self.random_state = random_state
        self.validation = validation
        import_pyarrow()  # first: without it nothing else can be checked
        _check_count("batch_rows", batch_rows)
        _check_count("shuffle_buffer", shuffle_buffer)
        if transformer_rows is not None:
            _check_count("transformer_rows", transformer_rows)
        if label is not None and not isinstance(label, str):
            raise TypeError(f"label must be the name of a column (a str) or None; got {label!r}.")
        if (
            validation is not None
            and not isinstance(validation, ParquetSource)
            and not (isinstance(validation, tuple) and len(validation) == 2)
        ):
            raise TypeError(
                "validation must be a ParquetSource or a tuple (X, y) of held-out rows; got "
                f"{type(validation).__name__}."
            )
        self.files = _find_files(paths)
        self._read_footers()

    def _read_footers(self):
        pa, pq = import_pyarrow()
        groups, schemas, has_nulls = [], [], set()
        for index, path in enumerate(self.files):
            try:
                metadata, file_schema = pq.read_metadata(path), pq.read_schema(path)
            except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
                raise ValueError(
                    f"{path} is not a readable Parquet file ({exc}). Paths given to fit and "
                    "predict are read as Parquet; read other formats with pandas (e.g. "
                    "df = pandas.read_csv(path)) and pass the DataFrame: "
                    "fit(df.drop(columns=label), df[label])."
                ) from exc
            if not schemas:
                self.feature_names = self._features(file_schema)
            columns = (*self._label_columns(), *self.feature_names)
            missing = [c for c in columns if c not in file_schema.names]
            if missing:
                raise ValueError(
                    f"{path} has no column(s) {missing}; its columns are {file_schema.names}."
                )
            schemas.append(
                pa.schema([file_schema.field(c) for c in columns], metadata=file_schema.metadata)
            )
            groups += [
                (index, g, metadata.row_group(g).num_rows) for g in range(metadata.num_row_groups)
            ]
            has_nulls |= _columns_with_nulls(path, metadata, file_schema, self.feature_names)
        self._schema = _unify_schemas(schemas, self.files)
        self.row_groups = tuple(g for g in groups if g[2] > 0)
        self.n_rows = sum(g[2] for g in self.row_groups)
        if not self.n_rows:
            raise ValueError(f"The Parquet files of {self.paths!r} hold no rows.")
        # An integer (bool) column with a null anywhere is nullable Int64 (boolean) in every
        # chunk, one without is int64 (bool): the transformer sees one type per column, the
        # one read_table gives the whole data.
        self._has_nulls = has_nulls

    def _features(self, schema):
        if self.columns is not None:
            columns = list(self.columns)
            if self.label in columns:
                raise ValueError(f"The label {self.label!r} is among the feature columns.")
            if len(set(columns)) != len(columns) or not columns:
                raise ValueError(f"columns must name distinct columns; got {columns!r}.")
            return tuple(columns)
        index = (schema.pandas_metadata or {}).get("index_columns", [])
        skipped = {*self._label_columns(), *[c for c in index if isinstance(c, str)]}
        columns = tuple(name for name in schema.names if name not in skipped)
        if not columns:
            raise ValueError(f"The Parquet files hold no feature column besides {self.label!r}.")
        return columns

    def _label_columns(self):
        return () if self.label is None else (self.label,)

    def require_label(self, purpose):
        """Raise a ValueError saying ``purpose`` needs labels when this source has none."""
        if self.label is None:
            raise ValueError(
                f"{purpose} needs labels, and {self!r} has none: give "
                "ParquetSource(..., label=<the label column>)."
            )

    def __repr__(self):
        shown = (
            self.paths
            if isinstance(self.paths, str | os.PathLike)
            else (f"[{len(self.files)} files]")
        )
        return (
            f"ParquetSource({str(shown)!r}, label={self.label!r}, n_rows={self.n_rows}, "
            f"n_features={len(self.feature_names)})"
        )

    # ---------------------------------------------------------------- reading
    def iter_frames(self, groups=None, with_label=False):
        """The feature columns as pandas DataFrames of about ``batch_rows`` rows.

        Parameters
        ----------
        groups : sequence of int, default=None
            Positions in :attr:`row_groups` to read, in this order; ``None``: all, in file
            order.
        with_label : bool, default=False
            Also yield the labels.

        Yields
        ------
        frame : pandas.DataFrame
            The columns of :attr:`feature_names`, dtypes as an in-memory read would give.
        labels : numpy.ndarray
            Only with ``with_label``.
        """
        if with_label:
            self.require_label("Reading rows with their labels")
        columns = [*self.feature_names, self.label] if with_label else list(self.feature_names)
        pending, n_pending = [], 0
        for batch in self._record_batches(groups, columns):
            pending.append(batch)
            n_pending += batch.num_rows
            if n_pending >= self.batch_rows:
                yield self._to_pandas(pending, with_label)
                pending, n_pending = [], 0
        if pending:
            yield self._to_pandas(pending, with_label)

    def head(self, n_rows=1000):
        """The feature columns of the first ``n_rows`` rows (or fewer), as a DataFrame."""
        frame = next(self.iter_frames([0]))
        return frame.iloc[:n_rows]

    def sample(self, n_rows, random_state=None):
        """The feature columns of ``n_rows`` rows, to fit a transformer on.

        All rows, in order, when there are at most ``n_rows``. Otherwise row groups at evenly
        spaced positions of the data (from a random start), fewest enough to hold ``n_rows``
        rows, and a uniform random subset of their rows: few row groups are read, and they
        come from the whole data (days, files), not from its start.

        Parameters
        ----------
        n_rows : int
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        pandas.DataFrame
        """
        pa, _ = import_pyarrow()
        features = list(self.feature_names)
        if n_rows >= self.n_rows:  # one table, converted at once, as pandas.read_parquet does
            return self._to_pandas(list(self._record_batches(None, features)), with_label=False)
        rng = check_random_state(random_state)
        sizes = np.array([rows for *_, rows in self.row_groups])
        starts = np.cumsum(sizes) - sizes
        start, n_picks = rng.uniform(), math.ceil(n_rows * len(sizes) / self.n_rows)
        while True:
            positions = (np.arange(n_picks) + start) * (self.n_rows / n_picks)
            picked = np.unique(np.searchsorted(starts, positions, side="right") - 1)
            if sizes[picked].sum() >= n_rows:
                break
            n_picks = n_picks + max(1, n_picks // 4)
        kept = np.sort(rng.choice(int(sizes[picked].sum()), n_rows, replace=False))
        batches, offset = [], 0
        for batch in self._record_batches(picked.tolist(), features):
            first, stop = np.searchsorted(kept, [offset, offset + batch.num_rows])
            batches.append(batch.take(pa.array(kept[first:stop] - offset)))
            offset += batch.num_rows
        return self._to_pandas(batches, with_label=False)

    def label_values(self):
        """The distinct labels, reading the label column only.

        Returns
        -------
        numpy.ndarray

        Raises
        ------
        ValueError
            If the label column holds nulls.
        """
        import pandas as pd

        self.require_label("Reading the labels")
        uniques, missing = [], 0
        for batch in self._record_batches(None, [self.label]):
            column = batch.column(0)
            missing += column.null_count
            uniques.append(pd.unique(column.to_pandas().to_numpy()))
        if missing:
            raise ValueError(
                f"Input y contains NaN. The label column {self.label!r} of {self!r} "
                f"has {missing} missing value(s)."
            )
        return pd.unique(np.concatenate(uniques))

    def _record_batches(self, groups, columns):
        """pyarrow record batches of the row groups ``groups`` (positions in
        :attr:`row_groups`), in that order, with the types of the files' unified schema."""
        pa, pq = import_pyarrow()
        target = pa.schema([self._schema.field(c) for c in columns], metadata=self._schema.metadata)
        opened, reader = None, None
        try:
            for position in range(len(self.row_groups)) if groups is None else groups:
                index, group, _ = self.row_groups[position]
                path = self.files[index]
                if index != opened:  # one file open at a time, however many files there are
                    if reader is not None:
                        reader.close()
                    reader, opened = _read_or_name(path, pq.ParquetFile, path), index
                # One row group per call: pyarrow pre-buffers every row group of a call (with
                # all columns asked for, measured: the whole 140 MB file at once).
                batches = reader.iter_batches(
                    batch_size=self.batch_rows, row_groups=[group], columns=columns
                )
                while (batch := _read_or_name(path, next, batches, None)) is not None:
                    if not batch.schema.equals(target):
                        # string vs large_string, int32 vs int64 ... between files
                        batch = pa.RecordBatch.from_arrays(
                            [
                                column.cast(field.type)
                                for column, field in zip(batch.columns, target, strict=True)
                            ],
                            schema=target,
                        )
                    yield batch
        finally:
            if reader is not None:
                reader.close()

    def _to_pandas(self, batches, with_label):
        pa, _ = import_pyarrow()
        frame = arrow_to_pandas(pa.Table.from_batches(batches), self._has_nulls)
        if not with_label:
            return frame
        return frame[list(self.feature_names)], frame[self.label].to_numpy()


def is_paths(X):
    """Whether ``X`` names files: a path (str or path-like) or a non-empty list or tuple of them.

    What ``fit(X, y="label")`` and ``predict_proba(X)`` take as shorthand for a
    :class:`ParquetSource`; no array-like scikit-learn accepts as ``X`` looks like this.
    """
    if isinstance(X, str | os.PathLike):
        return True
    return (
        isinstance(X, list | tuple)
        and bool(X)
        and all(isinstance(path, str | os.PathLike) for path in X)
    )


def as_source(X, label=None, columns=None):
    """``X`` itself when it is a :class:`ParquetSource`, ``ParquetSource(X, label, columns)``
    (default settings otherwise) when it names files, else ``None``.

    Raises
    ------
    TypeError
        When ``X`` names files and ``label`` is neither a column name nor ``None``.
    """
    if isinstance(X, ParquetSource):
        return X
    if not is_paths(X):
        return None
    if label is not None and not isinstance(label, str):
        raise TypeError(
            "With X naming Parquet files, y is the name of their label column (fit(path, "
            f"y='click')); got {type(label).__name__}. For other source settings pass "
            "ParquetSource(path, label=...)."
        )
    return ParquetSource(X, label=label, columns=columns)


def _check_count(name, value):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an int >= 1; got {value!r}.")


def _find_files(paths):
    given = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not given:
        raise ValueError("paths names no file.")
    files = []
    for path in map(Path, given):
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in PARQUET_SUFFIXES
                and not _hidden(p.relative_to(path))
            )
            if not found:
                raise ValueError(
                    f"The directory {path} holds no Parquet file ({', '.join(PARQUET_SUFFIXES)})."
                )
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"No such file or directory: {str(path)!r}")
    return tuple(files)


def _hidden(relative_path):
    """Whether a file below a directory is not data: a file or folder on its path starts with
    "." or "_" (Spark's ``_temporary/`` attempts and ``_SUCCESS``, Hadoop's hidden ``.crc``
    checksums), what pyarrow's dataset discovery and Spark skip (``ignore_prefixes``)."""
    return any(part.startswith((".", "_")) for part in relative_path.parts)


def _unify_schemas(schemas, files):
    """One schema for the files: types that differ harmlessly (string and large_string, int32
    and int64 ...) are promoted as ``pandas.read_parquet`` of a directory would; others raise
    naming the column and two files."""
    pa, _ = import_pyarrow()
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        for name in schemas[0].names:
            types = [schema.field(name).type for schema in schemas]
            for other, kind in enumerate(types):
                try:
                    pa.unify_schemas(
                        [pa.schema([(name, types[0])]), pa.schema([(name, kind)])],
                        promote_options="permissive",
                    )
                except (pa.ArrowInvalid, pa.ArrowTypeError):
                    raise ValueError(
                        f"Column {name!r} is {types[0]} in {files[0]} but {kind} in "
                        f"{files[other]}; the files must agree on its type."
                    ) from exc
        raise


def _read_or_name(path, read, *args):
    """``read(*args)``, with an error from a damaged file saying which file it is."""
    try:
        return read(*args)
    except (OSError, ValueError) as exc:  # ArrowIOError is an OSError, ArrowInvalid a ValueError
        raise ValueError(f"Reading {path} failed: {exc}") from exc


def _columns_with_nulls(path, metadata, schema, names):
    """The integer and boolean columns among ``names`` holding a null in this file: from the
    row groups' statistics, or by reading the column where a writer left them out."""
    pa, pq = import_pyarrow()
    leaves = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    found = set()
    for name in names:
        kind = schema.field(name).type
        if not (pa.types.is_integer(kind) or pa.types.is_boolean(kind)):
            continue
        nulls, known = 0, True
        for g in range(metadata.num_row_groups):
            statistics = metadata.row_group(g).column(leaves[name]).statistics
            if statistics is None or not statistics.has_null_count:
                known = False
                break
            nulls += statistics.null_count
        if not known:
            with pq.ParquetFile(path, pre_buffer=False) as reader:  # not the whole column
                nulls = sum(b.column(0).null_count for b in reader.iter_batches(columns=[name]))
        if nulls:
            found.add(name)
    return found
