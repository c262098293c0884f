"""Tables read and written whole or in chunks: CSV (tab-separated for ``.tsv`` / ``.tab``) or
Parquet, chosen by the file name's ending."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

from sk_ctr._atomic import atomic_path

#: File name endings read and written as Parquet (others are CSV).
PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
TAB_SUFFIXES = (".tsv", ".tab")


class TableError(ValueError):
    """A table file that is missing, unreadable, empty or cannot be written; the message names
    the file."""


def read_table(path, sep=None):
    """Read a CSV or Parquet file into a DataFrame, with errors that name the file.

    Parameters
    ----------
    path : str or path-like
        ``.parquet`` / ``.parq`` / ``.pq`` is Parquet (needs pyarrow; integer and boolean
        columns with nulls get nullable dtypes, see :func:`arrow_to_pandas`); anything else is
        CSV (tab-separated for ``.tsv``; pandas decompresses ``.gz``, ``.zip`` ...).
    sep : str, default=None
        CSV separator; ``None``: tab for ``.tsv`` / ``.tab``, else comma.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    TableError
        If the file is missing, unreadable, empty or pyarrow is needed and missing.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise TableError(f"{path}: no such file.")
    suffixes = [s.lower() for s in path.suffixes]
    try:
        if suffixes and suffixes[-1] in PARQUET_SUFFIXES:
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            frame = arrow_to_pandas(table, [c for c in table.column_names if table[c].null_count])
        else:
            if sep is None:
                sep = "\t" if any(s in TAB_SUFFIXES for s in suffixes) else ","
            frame = pd.read_csv(path, sep=sep)
    except ImportError as error:
        raise TableError(
            f"reading Parquet ({path}) needs pyarrow: pip install "
            f"'sk-ctr[parquet]' (or pyarrow). ({error})"
        ) from error
    except (OSError, ValueError, UnicodeDecodeError) as error:  # pandas' and pyarrow's errors
        raise TableError(f"cannot read {path}: {type(error).__name__}: {error}") from error
    if len(frame) == 0:
        raise TableError(f"{path} has no rows.")
    return frame


def arrow_to_pandas(table, nullable_columns):
    """``table.to_pandas()``, with pandas' nullable dtypes (``Int64``, ``boolean``...) for the
    integer and boolean columns of ``nullable_columns``.

    pyarrow turns an integer column with nulls into float64 and a boolean one into object;
    float64 merges the integers above 2**53 (2**53 + 1 reads as 2**53, so two ids become one)
    and makes an id column look like a quantity to CTRTransformer's role inference. The nullable
    dtypes keep every value, and the nulls as ``pd.NA``.

    Parameters
    ----------
    table : pyarrow.Table
    nullable_columns : iterable of str
        The columns that hold a null somewhere in the data (not only in ``table``: every chunk
        of a column then gets the same dtype). Columns of other types keep pyarrow's dtype.

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd
    import pyarrow as pa

    frame = table.to_pandas()
    for name in nullable_columns:
        arrow_type = table.schema.field(name).type
        if pa.types.is_integer(arrow_type):  # int8 -> Int8, uint64 -> UInt64 ...
            name_of_dtype = str(arrow_type).replace("uint", "UInt").replace("int", "Int")
            dtype = pd.api.types.pandas_dtype(name_of_dtype)
        elif pa.types.is_boolean(arrow_type):
            dtype = pd.BooleanDtype()
        else:
            continue
        frame[name] = table.column(name).to_pandas(types_mapper={arrow_type: dtype}.get).array
    return frame


def write_table(frame, path):
    """Write ``frame`` as Parquet (``.parquet`` / ``.pq``) or CSV (else; ``"-"``: stdout)."""
    if path == "-":
        frame.to_csv(sys.stdout, index=False)
        return
    path = Path(path)
    try:
        with atomic_path(path) as temporary:
            if path.suffix.lower() in PARQUET_SUFFIXES:
                frame.to_parquet(temporary, index=False)
            else:
                frame.to_csv(temporary, index=False, sep=_csv_separator(path.suffix))
    except ImportError as error:
        raise TableError(
            f"writing Parquet ({path}) needs pyarrow: pip install "
            f"'sk-ctr[parquet]' (or pyarrow). ({error})"
        ) from error
    except OSError as error:
        raise TableError(f"cannot write {path}: {error}") from error


@contextmanager
def chunk_writer(path):
    """A :class:`ChunkWriter` of ``path`` (``"-"``: stdout) whose file appears, whole, only
    when the block succeeds: chunks go to a temporary file beside it (see
    :func:`sk_ctr._atomic.atomic_path`), so a failure or an interrupt part-way leaves the
    previous file untouched and no partial one."""
    if path == "-":
        yield ChunkWriter("-")
        return
    with atomic_path(path) as temporary:
        writer = ChunkWriter(temporary, suffix=Path(path).suffix)
        try:
            yield writer
        finally:
            writer.close()


class ChunkWriter:
    """Write DataFrames one after another to one CSV (``"-"``: stdout) or Parquet file, as
    :func:`write_table` writes one; the format comes from ``suffix`` (default: ``path``'s).
    Use it through :func:`chunk_writer`, which makes the file appear whole or not at all."""

    def __init__(self, path, suffix=None):
        self.path, self.parquet, self.chunks = path, None, 0
        self.suffix = (Path(path).suffix if suffix is None else suffix).lower()

    def write(self, frame):
        if self.path == "-":
            frame.to_csv(sys.stdout, index=False, header=not self.chunks)
        elif self.suffix in PARQUET_SUFFIXES:
            self._write_parquet(frame)
        else:
            frame.to_csv(
                self.path,
                index=False,
                sep=_csv_separator(self.suffix),
                mode="a" if self.chunks else "w",
                header=not self.chunks,
            )
        self.chunks += 1

    def _write_parquet(self, frame):
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.parquet is None:
            self.parquet = pq.ParquetWriter(self.path, table.schema)
        self.parquet.write_table(table)

    def close(self):
        if self.parquet is not None:
            self.parquet.close()


def _csv_separator(suffix):
    return "\t" if suffix.lower() in TAB_SUFFIXES else ","
