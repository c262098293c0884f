"""Where the named data sets' files are looked for (as :func:`sklearn.datasets.get_data_home`)."""

from __future__ import annotations

import os
from pathlib import Path

#: The environment variable that names the data home when no folder is passed.
DATA_HOME_VARIABLE = "SK_CTR_DATA"


def get_data_home(data_home=None):
    """Return the folder that holds the data sets read by name (``--data criteo`` ...).

    The folder is never guessed from where sk_ctr is installed: an installed package has no
    data beside it. A source checkout points it at its ``../shared/data`` with
    ``SK_CTR_DATA=../shared/data`` (the tests' ``conftest.py`` does so).

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder. ``None``: the environment variable ``SK_CTR_DATA`` if it is set and not
        empty, else ``~/sk_ctr_data``. A leading ``~`` is expanded.

    Returns
    -------
    pathlib.Path
        The folder (not created: sk_ctr only reads from it).

    Examples
    --------
    >>> from sk_ctr.datasets import get_data_home
    >>> get_data_home("/data/ctr").as_posix()
    '/data/ctr'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_VARIABLE) or Path("~") / "sk_ctr_data"
    return Path(os.fspath(data_home)).expanduser()


def data_home_path(*parts, data_home=None):
    """The path of a file or folder of the data home, which must exist.

    Parameters
    ----------
    *parts : str
        Its path relative to the data home (``"criteo_kaggle_10k", "train_examples.txt"``).
    data_home : str or path-like, default=None
        As in :func:`get_data_home`.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileNotFoundError
        If it does not exist; the message names the data home and how to set it.
    """
    home = get_data_home(data_home)
    path = home.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: data sets named by a word are read from the data home "
            f"{home}. Set the environment variable {DATA_HOME_VARIABLE} to the folder that holds "
            f"{parts[0]}/ (in a source checkout: ../shared/data)."
        )
    return path
