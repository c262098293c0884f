"""Write a file whole or not at all: a temporary file beside the target, renamed on success.

Every writer of sk_ctr (saved models, prediction files, exported networks) goes through
:func:`atomic_path`, so a write that fails or is interrupted part-way leaves the previous file
as it was and no partial or temporary file behind.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

#: Prefix of the temporary files: hidden, so that Parquet dataset discovery (which skips names
#: starting with "." or "_") never reads a half-written file of a directory as data.
TEMPORARY_PREFIX = ".sk_ctr-"


@contextmanager
def atomic_path(path):
    """A temporary path in ``path``'s directory, renamed to ``path`` when the block succeeds.

    The temporary file is created private (mode 0600, by :func:`tempfile.mkstemp`), so nobody
    else can read or swap it while it is written; it is flushed to disk, given the mode a new
    file would get (or the mode of the file it replaces) and moved over ``path`` with
    :func:`os.replace`, which is atomic on POSIX and Windows within one file system: readers
    see the old file or the new one, never a mix. If the block raises anything, including
    ``KeyboardInterrupt``, the temporary file is removed and ``path`` is left untouched.

    Parameters
    ----------
    path : str or path-like
        The file to write; through a symlink, the file it points to.

    Yields
    ------
    pathlib.Path
        Where the block writes (it may write the file anew, truncating it: it exists, empty).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> target = Path(tempfile.mkdtemp()) / "scores.csv"
    >>> with atomic_path(target) as temporary:
    ...     _ = temporary.write_text("probability\\n0.5\\n")
    >>> target.read_text()
    'probability\\n0.5\\n'
    """
    # Through a symlink, the file it points to is replaced (as open(path, "w") would write it).
    path = Path(os.path.realpath(path))
    # The temporary name ends with the target's, so that writers which pick a compression from
    # the suffix (pandas' to_csv, joblib.dump) pick the same one.
    descriptor, name = tempfile.mkstemp(
        dir=path.parent, prefix=TEMPORARY_PREFIX, suffix=f"-{path.name}"
    )
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        _flush_to_disk(temporary)
        os.chmod(temporary, _final_mode(path))
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _flush_to_disk(path):
    # Without fsync a crash right after the rename can leave an empty file under the new name.
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _final_mode(path):
    """The mode of the file being replaced, else what ``open(path, "w")`` would give."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask():
    # Linux reports the umask in /proc; elsewhere the only way to read it is to set it (and set
    # it back), which another thread could observe for an instant.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
