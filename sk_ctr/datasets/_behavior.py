"""Impressions with user behaviour histories (the DIN setting): a synthetic set and readers.

Every function returns ``(X, y)`` as the other loaders of :mod:`sk_ctr.datasets` do: ``X`` a
DataFrame of raw columns (``object`` string ids, NaN where missing) in which a history is a
column of Python lists of ids, oldest first, and ``y`` an ``int64`` array of 0/1 labels. A
history column is named after the candidate column whose ids it holds (``hist_item_id`` holds
``item_id`` values), so ``CTRTransformer(behavior={"hist_item_id": "item_id", ...})`` shares
their vocabulary.

This module only needs numpy and pandas (no torch).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sk_ctr.datasets._utils import (
    _as_generator,
    _check_float,
    _check_int,
    _check_path,
    _first_line,
    _read_csv,
    _sigmoid,
    _solve_bias,
)

__all__ = ["load_amazon_din", "load_taobao_dmr", "load_taobao_fuxictr", "make_behavior_dataset"]

# The generative model of make_behavior_dataset (documented in its docstring).
# Many interests per user make a history span many categories, more than a small embedding of
# their sum can tell apart (whether the candidate's category is among them), while attention
# compares each behaviour with the candidate (DIN section 3.1: "diversity").
_N_INTERESTS = 20  # draws of interest categories per user
_STAY = 0.3  # probability that the next behaviour stays in the current category (a session)
_RECENT_WEIGHT = 3.0  # logit of a candidate whose category is among the recent behaviours
_OLDER_WEIGHT = 0.5  # ... whose category is only among older behaviours
_GLOBAL_STD = 0.3  # item and user effects, independent of the history
_POSITION_EFFECT = np.array([0.0, -0.3, -0.6, -0.9])  # context: lower slots are clicked less

# Amazon Electronics in the DIN sample format (PaddleRec's DIN reader): 5 ';'-separated fields.
_AMAZON_FIELDS = ["hist_item_id", "hist_cate_id", "item_id", "cate_id", "label"]

# Taobao display ads as prepared by DMR (PaddleRec models/rank/dmr/net.py, parse_feature):
# five blocks of 50 history slots, then the user, the ad, the price, the position and the label.
_DMR_SLOTS = 50
_DMR_HISTORIES = ["hist_btag", "hist_cate_id", "hist_brand"]  # blocks 0-2; 3 is the mask
_DMR_SCALARS = [
    "user_id", "cms_segid", "cms_group_id", "final_gender_code", "age_level", "pvalue_level",
    "shopping_level", "occupation", "new_user_class_level",
    "adgroup_id", "cate_id", "campaign_id", "customer", "brand",
]  # fmt: skip
_DMR_COLUMNS = 5 * _DMR_SLOTS + len(_DMR_SCALARS) + 3  # + price, pid, label = 267

# FuxiCTR's tiny Taobao-ad csv (reczoo/FuxiCTR data/tiny_csv): raw columns with a header.
_FUXICTR_TAOBAO_COLUMNS = [
    "clk", "time_stamp", "userid", "adgroup_id", "pid", "cate_id", "campaign_id", "customer",
    "brand", "price", "cms_segid", "cms_group_id", "final_gender_code", "age_level",
    "pvalue_level", "shopping_level", "occupation", "new_user_class_level", "click_sequence",
]  # fmt: skip


# --------------------------------------------------------------------------------------
# Synthetic data
# --------------------------------------------------------------------------------------


def make_behavior_dataset(
    n_samples=10000,
    n_users=1000,
    n_items=2000,
    n_categories=200,
    max_history=50,
    recent_window=20,
    positive_rate=None,
    random_state=None,
    return_logit=False,
):
    """Generate ad impressions with behaviour histories whose clicks are locally activated.

    The data has the two structures DIN is built for (section 3.1): *diversity* (a user is
    interested in several categories) and *local activation* (whether a user clicks depends
    on the part of the history that is related to the candidate). Generative model:

    * Items have fixed categories: item ``k`` belongs to one category, every category has
      ``n_items // n_categories`` or one more items.
    * Each user has 20 draws of interest categories (with Zipf popularity over categories)
      and a timeline of ``max_history`` behaviours: a walk over the interests that stays in
      the current category with probability 0.3 at each step (short browsing sessions), each
      behaviour an item of its category drawn uniformly. A history therefore spans many
      categories, and its recent part differs from its older part.
    * An impression shows a user a candidate after the first ``h`` behaviours of the timeline,
      ``h`` uniform in ``0..max_history`` (``h = 0``: a user without history). The history
      columns hold those ``h`` items and their categories, oldest first.
    * The candidate's category is, with probability 1/3 each, the category of one of the
      last ``recent_window`` behaviours, one of the user's interests, or any category; the
      candidate is an item of that category, drawn uniformly. ``position`` is a context
      column, uniform in 1..4.
    * The click is drawn from ``sigmoid(logit)`` with::

        logit = bias
              + 3.0 * [candidate category in the last recent_window history categories]
              + 0.5 * [candidate category only in older history categories]
              + item_effect[item] + user_effect[user]     # N(0, 0.3^2): global effects
              + position_effect[position]                 # 0, -0.3, -0.6, -0.9

    The first two terms are the local activation: a model that weighs each behaviour by its
    relevance to the candidate (DIN eq. 3) can read them off the history, while sum pooling
    blurs them into one vector of many categories. ``CTRTransformer`` keeps the last
    ``max_sequence_length`` items, so ``max_sequence_length=recent_window`` shows a model
    exactly the recent behaviours.

    Parameters
    ----------
    n_samples : int, default=10000
        Number of impressions (rows).
    n_users : int, default=1000
    n_items : int, default=2000
        At least ``n_categories``.
    n_categories : int, default=200
    max_history : int, default=50
        Length of each user's timeline: the longest history.
    recent_window : int, default=20
        Number of most recent behaviours that make a candidate's category "recent".
    positive_rate : float or None, default=None
        Target fraction of clicks, in (0, 1); the bias is solved for it. None means 0.25.
    random_state : int, numpy Generator, RandomState or None, default=None
        Seed for reproducible output. Items, users and timelines are drawn before the
        impressions.
    return_logit : bool, default=False
        If True, also return the true logit (the Bayes-optimal score).

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, 6)
        ``user_id``, ``position``, ``item_id``, ``cate_id`` (object strings) and
        ``hist_item_id``, ``hist_cate_id`` (lists of strings of equal lengths, oldest first;
        empty for a user without history).
    y : ndarray of shape (n_samples,), dtype int64
    logit : ndarray of shape (n_samples,), dtype float64
        Only if ``return_logit=True``.

    Raises
    ------
    ValueError
        If a parameter is out of range; the message names the parameter.

    Examples
    --------
    >>> from sk_ctr.datasets import make_behavior_dataset
    >>> X, y = make_behavior_dataset(n_samples=1000, random_state=0)
    >>> list(X.columns)
    ['user_id', 'position', 'item_id', 'cate_id', 'hist_item_id', 'hist_cate_id']
    >>> X.loc[0, "item_id"], X.loc[0, "cate_id"], len(X.loc[0, "hist_item_id"])
    ('i1233', 'c16', 16)
    >>> X.loc[0, "hist_cate_id"][-3:]  # the most recent behaviours come last
    ['c92', 'c42', 'c92']
    >>> bool(0.2 < y.mean() < 0.3)
    True
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_users = _check_int(n_users, "n_users", 1)
    n_categories = _check_int(n_categories, "n_categories", 1)
    n_items = _check_int(n_items, "n_items", n_categories)
    max_history = _check_int(max_history, "max_history", 1)
    recent_window = _check_int(recent_window, "recent_window", 1)
    positive_rate = _check_float(
        0.25 if positive_rate is None else positive_rate,
        "positive_rate",
        0.0,
        1.0,
        low_inclusive=False,
    )
    rng = _as_generator(random_state)

    # --- items, users and their timelines (independent of n_samples) ---
    item_category = rng.permutation(np.arange(n_items) % n_categories)
    items_by_category = np.argsort(item_category, kind="stable")
    category_sizes = np.bincount(item_category, minlength=n_categories)
    category_starts = np.cumsum(category_sizes) - category_sizes

    def item_of(categories):
        """An item of each given category, uniformly."""
        rank = (rng.random(categories.shape) * category_sizes[categories]).astype(np.int64)
        return items_by_category[category_starts[categories] + rank]

    popularity = rng.permutation(1.0 / np.arange(1, n_categories + 1))
    interests = rng.choice(
        n_categories, size=(n_users, _N_INTERESTS), p=popularity / popularity.sum()
    )
    timeline_categories = np.empty((n_users, max_history), dtype=np.int64)
    current = rng.integers(0, _N_INTERESTS, n_users)
    for step in range(max_history):  # a loop over positions, not over users
        switch = rng.random(n_users) > _STAY
        current = np.where(switch, rng.integers(0, _N_INTERESTS, n_users), current)
        timeline_categories[:, step] = interests[np.arange(n_users), current]
    timeline_items = item_of(timeline_categories)
    item_effect = rng.normal(0.0, _GLOBAL_STD, n_items)
    user_effect = rng.normal(0.0, _GLOBAL_STD, n_users)

    # --- impressions ---
    users = rng.integers(0, n_users, n_samples)
    lengths = rng.integers(0, max_history + 1, n_samples)
    positions = rng.integers(0, len(_POSITION_EFFECT), n_samples)
    recent_start = np.maximum(lengths - recent_window, 0)
    recent_pick = recent_start + (rng.random(n_samples) * (lengths - recent_start)).astype(np.int64)
    source = rng.integers(0, 3, n_samples)  # 0: recent history, 1: interests, 2: anything
    source[(source == 0) & (lengths == 0)] = 1
    candidate_category = np.select(
        [source == 0, source == 1],
        [
            timeline_categories[users, recent_pick],
            interests[users, rng.integers(0, _N_INTERESTS, n_samples)],
        ],
        rng.integers(0, n_categories, n_samples),
    )
    candidate = item_of(candidate_category)

    slot = np.arange(max_history)
    same = timeline_categories[users] == candidate_category[:, None]
    seen = slot < lengths[:, None]
    recent = (same & seen & (slot >= recent_start[:, None])).any(axis=1)
    older = ~recent & (same & (slot < recent_start[:, None])).any(axis=1)
    logit = (
        _RECENT_WEIGHT * recent
        + _OLDER_WEIGHT * older
        + item_effect[candidate]
        + user_effect[users]
        + _POSITION_EFFECT[positions]
    )
    bias = _solve_bias(logit, positive_rate)
    y = (rng.random(n_samples) < _sigmoid(logit + bias)).astype(np.int64)

    history_rows = np.repeat(users, lengths)
    history_slots = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    X = pd.DataFrame(
        {
            "user_id": _names("u", users),
            "position": _names("", positions + 1),
            "item_id": _names("i", candidate),
            "cate_id": _names("c", candidate_category),
            "hist_item_id": _lists(
                _names("i", timeline_items[history_rows, history_slots]), lengths
            ),
            "hist_cate_id": _lists(
                _names("c", timeline_categories[history_rows, history_slots]), lengths
            ),
        }
    )
    if return_logit:
        return X, y, logit + bias
    return X, y


def _names(prefix, codes):
    """``prefix + str(code)`` for each code, as an object Series (pandas >= 3 would infer its
    "str" dtype, unlike the other loaders' object columns)."""
    return pd.Series(np.char.add(prefix, codes.astype(str)), dtype=object)


def _lists(items, lengths):
    """Cut the flat ``items`` into one Python list per row of ``lengths`` items."""
    values = np.asarray(items, dtype=object)
    cells = np.empty(len(lengths), dtype=object)
    cells[:] = [part.tolist() for part in np.split(values, np.cumsum(lengths)[:-1])]
    return pd.Series(cells, dtype=object)


# --------------------------------------------------------------------------------------
# Readers
# --------------------------------------------------------------------------------------


def _split_lists(column, separator):
    """Cells of ``separator``-joined ids to lists; an empty cell is an empty list."""
    return pd.Series(
        [text.split(separator) if text else [] for text in column.fillna("")],
        index=column.index,
        dtype=object,
    )


def _labels(path, fmt, label, valid=("0", "1")):
    bad = ~label.isin(valid)
    if bad.any():
        raise ValueError(
            f"{path} is not in {fmt} format: the label must be 0 or 1, found "
            f"{label[bad].iloc[0]!r} in data row {bad.to_numpy().argmax() + 1}."
        )
    return label.to_numpy().astype(np.int64)


def load_amazon_din(path):
    """Load Amazon Electronics samples in the DIN format ``hist;hist_cate;item;cate;label``.

    One sample per line, five ``;``-separated fields: the space-separated ids of the items the
    user reviewed (oldest first) and their categories, the candidate item and its category,
    and the label (1 = the item the user reviewed next, 0 = a sampled negative, as in the DIN
    paper's public experiments). This is the format of PaddleRec's DIN sample data, built by
    the preprocessing of the DIN authors' repository.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, 4)
        ``item_id``, ``cate_id`` (object strings) and ``hist_item_id``, ``hist_cate_id``
        (lists of strings), ready for
        ``CTRTransformer(behavior={"hist_item_id": "item_id", "hist_cate_id": "cate_id"})``.
    y : ndarray of shape (n_samples,), dtype int64

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If a line does not have 5 fields, a label is not 0/1 or a history's items and
        categories differ in length.

    Examples
    --------
    >>> from sk_ctr.datasets import load_amazon_din
    >>> X, y = load_amazon_din("paddlerec_din_sample_data.txt")  # doctest: +SKIP
    """
    path = _check_path(path)
    # pandas would read 6 fields as an index column plus 5: count them on the first line.
    n_fields = len(_first_line(path).split(";"))
    df = _read_csv(
        path,
        "DIN (hist;hist_cate;item;cate;label)",
        sep=";",
        header=None,
        names=_AMAZON_FIELDS,
        dtype=object,
    )
    incomplete = df[["item_id", "cate_id", "label"]].isna().to_numpy().any()
    if n_fields != len(_AMAZON_FIELDS) or incomplete:
        raise ValueError(
            f"{path} is not in DIN format: every line needs 5 ';'-separated fields "
            "hist;hist_cate;item;cate;label with a candidate and a label."
        )
    y = _labels(path, "DIN", df.pop("label"))
    for name in ("hist_item_id", "hist_cate_id"):
        df[name] = _split_lists(df[name], " ")
    uneven = df["hist_item_id"].str.len() != df["hist_cate_id"].str.len()
    if uneven.any():
        raise ValueError(
            f"{path} is not in DIN format: the item and category histories differ in length "
            f"in data row {uneven.to_numpy().argmax() + 1}."
        )
    return df[["item_id", "cate_id", "hist_item_id", "hist_cate_id"]], y


def load_taobao_dmr(path):
    """Load Taobao display-ad impressions in the DMR format (267 numeric columns, no header).

    The format of ``alimama_sampled.txt`` of Deep Match to Rank (DMR, AAAI 2020), read by
    PaddleRec's ``models/rank/dmr``: per line five blocks of 50 slots for the user's last 50
    behaviours (behaviour type, category, brand, the filled-slot mask and DMR's match mask),
    then the user id and 8 profile columns, the ad group, its category, campaign, customer
    and brand, the normalised price, the position id ``pid`` and the click label. Ids are
    integers remapped by the preprocessing.

    The histories keep the filled slots (mask 1) in the file's order. The file pads on the
    left, so the last slot is taken to be the most recent behaviour: the order is oldest
    first, as :class:`~sk_ctr.CTRTransformer` expects. ``0`` inside a filled slot (a brand
    the log did not know) is kept as the id ``"0"``, as in the candidate ``brand`` column.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, 19)
        ``user_id``, the profile columns, ``adgroup_id``, ``cate_id``, ``campaign_id``,
        ``customer``, ``brand``, ``pid`` (object strings), ``price`` (float64) and the lists
        ``hist_btag``, ``hist_cate_id``, ``hist_brand``, ready for
        ``CTRTransformer(behavior={"hist_cate_id": "cate_id", "hist_brand": "brand"})``
        (``hist_btag``, the behaviour types, gets a vocabulary of its own).
    y : ndarray of shape (n_samples,), dtype int64

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If a line does not have 267 numeric columns or a label is not 0/1.

    Examples
    --------
    >>> from sk_ctr.datasets import load_taobao_dmr
    >>> X, y = load_taobao_dmr("alimama_sampled_train.txt")  # doctest: +SKIP
    """
    path = _check_path(path)
    df = _read_csv(path, "DMR (267 comma-separated numbers)", header=None, dtype=np.float64)
    if df.shape[1] != _DMR_COLUMNS:
        raise ValueError(
            f"{path} is not in DMR format: expected {_DMR_COLUMNS} comma-separated columns, "
            f"found {df.shape[1]}."
        )
    values = df.to_numpy()
    if np.isnan(values).any():
        raise ValueError(f"{path} is not in DMR format: some fields are empty.")
    y = _labels(path, "DMR", df[_DMR_COLUMNS - 1], valid=(0.0, 1.0))
    ids = values.astype(np.int64)
    filled = ids[:, 3 * _DMR_SLOTS : 4 * _DMR_SLOTS] == 1
    scalars = ids[:, 5 * _DMR_SLOTS : 5 * _DMR_SLOTS + len(_DMR_SCALARS)]
    X = pd.DataFrame({name: _names("", scalars[:, j]) for j, name in enumerate(_DMR_SCALARS)})
    X["price"] = values[:, -3]
    X["pid"] = _names("", ids[:, -2])
    lengths = filled.sum(axis=1)
    for block, name in enumerate(_DMR_HISTORIES):
        slots = ids[:, block * _DMR_SLOTS : (block + 1) * _DMR_SLOTS]
        X[name] = _lists(_names("", slots[filled]), lengths)  # row-major: rows stay in order
    return X, y


def load_taobao_fuxictr(path):
    """Load Taobao display-ad impressions in the csv format of FuxiCTR's tiny Taobao sample.

    Comma-separated with the header ``clk, time_stamp, userid, adgroup_id, pid, cate_id,
    campaign_id, customer, brand, price, cms_segid, cms_group_id, final_gender_code,
    age_level, pvalue_level, shopping_level, occupation, new_user_class_level,
    click_sequence``: raw Taobao (Tianchi) ad-impression columns and ``click_sequence``, the
    ``^``-separated ad groups the user clicked before, oldest first.

    ``clk`` becomes ``y``. ``time_stamp`` (``YYYY-MM-DD HH:MM:SS``) is replaced, at its
    position, by ``hour_of_day`` (``"00"``..``"23"``) and ``weekday`` (``"0"`` = Monday), as
    :func:`~sk_ctr.datasets.load_avazu` does: the raw time would only identify the moment.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, 19)
        Object strings (NaN where empty), ``price`` as float64, and ``click_sequence`` as
        lists of ad-group ids, ready for
        ``CTRTransformer(behavior={"click_sequence": "adgroup_id"})``.
    y : ndarray of shape (n_samples,), dtype int64

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the header lacks one of the columns, a label is not 0/1 or a time stamp is invalid.

    Examples
    --------
    >>> from sk_ctr.datasets import load_taobao_fuxictr
    >>> X, y = load_taobao_fuxictr("train_sample.csv")  # doctest: +SKIP
    """
    path = _check_path(path)
    df = _read_csv(path, "FuxiCTR Taobao csv", dtype=object)
    missing = [name for name in _FUXICTR_TAOBAO_COLUMNS if name not in df.columns]
    if missing:
        raise ValueError(f"{path} is not in FuxiCTR Taobao format: missing column(s) {missing}.")
    y = _labels(path, "FuxiCTR Taobao", df.pop("clk"))
    stamps = pd.to_datetime(df["time_stamp"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    if stamps.isna().any():
        bad = df["time_stamp"][stamps.isna()].iloc[0]
        raise ValueError(
            f"{path} is not in FuxiCTR Taobao format: time_stamp must be YYYY-MM-DD HH:MM:SS, "
            f"found {bad!r}."
        )
    position = df.columns.get_loc("time_stamp")
    df = df.drop(columns="time_stamp")
    df.insert(position, "weekday", pd.Series(stamps.dt.day_of_week.astype(str), dtype=object))
    df.insert(position, "hour_of_day", pd.Series(stamps.dt.strftime("%H"), dtype=object))
    df["price"] = df["price"].astype(np.float64)
    df["click_sequence"] = _split_lists(df["click_sequence"], "^")
    return df, y
