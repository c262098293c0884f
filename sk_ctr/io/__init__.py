"""Reading and writing tables: Parquet files streamed in row-group chunks
(:class:`~sk_ctr.io.parquet.ParquetSource`) and whole CSV / Parquet tables
(:mod:`sk_ctr.io.tables`, the command line's input and output).

Nothing here knows torch; the names load on first use, so that ``sk-ctr --help`` imports
neither numpy nor scikit-learn through this package.
"""

from sk_ctr._lazy import attach

_PUBLIC_MODULES = {
    "ParquetSource": "sk_ctr.io.parquet",
    "TableError": "sk_ctr.io.tables",
    "chunk_writer": "sk_ctr.io.tables",
    "read_table": "sk_ctr.io.tables",
    "write_table": "sk_ctr.io.tables",
}

__all__ = sorted(_PUBLIC_MODULES)

__getattr__, __dir__ = attach(__name__, _PUBLIC_MODULES)
