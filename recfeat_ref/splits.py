"""Seeded train/validation/test splits of an interaction frame.

Which split a paper uses changes its numbers as much as which model it uses
(Meng et al. [1]_), so every protocol in the book is one small function here:

===========================  ==================================================
:func:`random_split`         global random holdout (rating prediction)
:func:`ratio_split_by_user`  per-user random holdout (every user in train)
:func:`temporal_split`       global cut in time (no peeking into the future)
:func:`leave_last_one_out`   per-user last item to test (NCF-style ranking)
:func:`kfold_split`          k-fold cross-validation over rows (Surprise-style)
:func:`filter_cold`          drop test rows whose user/item is unseen in train
===========================  ==================================================

Shared conventions
------------------
* The input frame is never modified; every part is a new frame that keeps
  the original index labels and the original relative row order, so a row
  can always be traced back (``part.index``) and parts can be checked for
  overlap and completeness.
* Randomness comes only from ``seed`` (an int, or a
  :class:`numpy.random.Generator`); the global NumPy RNG is never touched.
  Equal seeds give equal splits.
* ``ratios`` is a tuple of positive fractions summing to 1, one per part:
  ``(0.8, 0.2)`` gives ``(train, test)``, ``(0.8, 0.1, 0.1)`` gives
  ``(train, valid, test)``; a float ``r`` is short for ``(r, 1 - r)``.
* Cut points are rounded half up: with cumulative ratios
  :math:`c_k = \\sum_{j \\le k} r_j`, part :math:`k` ends at position
  :math:`\\lfloor c_k n + 1/2 \\rfloor`.
* **Repeated (user, item) pairs are refused.** A pair that occurs twice can
  land in two parts (train and test, or valid and test), so the model is
  evaluated on an answer it was trained on, or top-N evaluation drops the
  test item as "already seen". Every splitter therefore raises
  :class:`~recfeat_ref._validation.DataValidationError` naming the first
  repeated pairs (raw ids) and their rows when the frame has both
  ``user_col`` and ``item_col`` (default ``"user_id"``, ``"item_id"``).
  Deduplicate first with a stated rule, e.g.
  ``recfeat_ref.preprocessing.clean_interactions(df, timestamp_col="timestamp",
  keep="last")`` (the latest rating of a pair wins) or
  ``df.drop_duplicates(["user_id", "item_id"], keep="last")``. Where repeats
  are meant (a session log in which a user re-watches a film, for a sequential
  model), pass ``duplicates="allow"``: every row is then split as it is, and a
  pair may be in two parts. A frame without both columns has no pairs to check.
* **Timestamps must be numbers or datetimes** (``temporal_split``,
  ``leave_last_one_out``): text would be ordered as text (``"1000"`` before
  ``"998"``), so a text, categorical or boolean time column raises, with the
  explicit conversion to apply (``pd.to_numeric`` or ``pd.to_datetime``).
* Bad arguments raise :class:`ValueError`, and bad data
  :class:`~recfeat_ref._validation.DataValidationError`, naming the parameter
  or column.

References
----------
.. [1] Z. Meng, R. McCreadie, C. Macdonald and I. Ounis, "Exploring Data
   Splitting Strategies for the Evaluation of Recommendation Models",
   RecSys 2020.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from recfeat_ref import DEFAULT_ITEM_COL, DEFAULT_TIMESTAMP_COL, DEFAULT_USER_COL
from recfeat_ref._validation import (
    DataValidationError,
    _preview,
    check_columns,
    check_dataframe,
    check_no_nan,
    check_random_state,
)

__all__ = [
    "random_split",
    "ratio_split_by_user",
    "temporal_split",
    "leave_last_one_out",
    "kfold_split",
    "filter_cold",
]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _check_ratios(ratios) -> np.ndarray:
    """Validate ``ratios`` and return them as a float array."""
    if isinstance(ratios, (float, np.floating)):
        ratios = (float(ratios), 1.0 - float(ratios))
    if isinstance(ratios, (str, bytes)) or not isinstance(ratios, Sequence):
        raise ValueError(
            f"ratios must be a tuple of fractions such as (0.8, 0.2) or (0.8, 0.1, 0.1), got {ratios!r}"
        )
    r = np.asarray(ratios, dtype=float)
    if r.ndim != 1 or len(r) < 2:
        raise ValueError(f"ratios must hold at least two fractions (one per part), got {ratios!r}")
    if not np.all(np.isfinite(r)) or np.any(r <= 0):
        raise ValueError(f"ratios must all be positive, got {ratios!r}")
    if abs(r.sum() - 1.0) > 1e-6:
        raise ValueError(f"ratios must sum to 1, got {ratios!r} (sum {r.sum():.6g})")
    return r


def _cut_points(n, ratios: np.ndarray) -> np.ndarray:
    """End positions of all parts but the last: floor(cumsum(ratios) * n + 1/2)."""
    cum = np.cumsum(ratios)[:-1]
    return np.floor(np.multiply.outer(n, cum) + 0.5).astype(np.int64)


def _parts(df: pd.DataFrame, part_of_row: np.ndarray, n_parts: int) -> tuple[pd.DataFrame, ...]:
    """New frames, one per part label, rows in original order."""
    return tuple(df.iloc[np.flatnonzero(part_of_row == k)] for k in range(n_parts))


def _check_nonempty(parts, what: str, hint: str) -> None:
    for k, part in enumerate(parts):
        if len(part) == 0:
            raise DataValidationError(
                f"{what}: part {k} of {len(parts)} is empty ({[len(p) for p in parts]} rows); {hint}"
            )


def _time_codes(values: pd.Series) -> np.ndarray:
    """Dense integer ranks of timestamps (numbers or datetimes): equal time, equal code."""
    codes, _ = pd.factorize(values, sort=True)
    return codes.astype(np.int64)


#: What :func:`pandas.api.types.infer_dtype` may say of an ``object`` time column that
#: still orders as time: Python numbers, datetimes and dates.
_TIME_LIKE_OBJECTS = ("integer", "floating", "mixed-integer-float", "decimal", "datetime", "datetime64", "date")


def _check_timestamps(df: pd.DataFrame, col: str, what: str) -> None:
    """Raise unless ``df[col]`` holds numbers, datetimes or timedeltas: never order text as time."""
    values = df[col]
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        kind = "boolean"
    elif isinstance(dtype, pd.CategoricalDtype):
        kind = "categorical"
    elif (
        pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
    ):
        return
    elif dtype == object and pd.api.types.infer_dtype(values, skipna=True) in _TIME_LIKE_OBJECTS:
        return
    else:
        kind = "text" if pd.api.types.infer_dtype(values, skipna=True) in ("string", "bytes") else "non-numeric"
    example = _preview(pd.unique(values.to_numpy())[:3].tolist(), limit=3)
    raise DataValidationError(
        f"{what}: column {col!r} holds {kind} timestamps (dtype {dtype}), e.g. {example}; "
        "they would be ordered as text ('1000' before '998'), not as time. Convert them "
        f"explicitly first: pd.to_numeric(df[{col!r}]) for numbers such as unix seconds, "
        f"or pd.to_datetime(df[{col!r}]) for dates"
    )


_DUPLICATE_POLICIES = ("raise", "allow")


def _check_pairs(
    df: pd.DataFrame, user_col: str, item_col, duplicates, what: str, timestamp_col: str | None = None
) -> None:
    """Raise if a (user, item) pair repeats, unless ``duplicates="allow"`` (see the module notes)."""
    if duplicates not in _DUPLICATE_POLICIES:
        raise ValueError(f"duplicates must be 'raise' or 'allow', got {duplicates!r}")
    _check_column_name(user_col, "user_col")
    if item_col is not None:
        _check_column_name(item_col, "item_col")
    if duplicates == "allow" or item_col is None or user_col not in df.columns or item_col not in df.columns:
        return
    pair = [user_col, item_col]
    repeated = df.duplicated(pair, keep=False).to_numpy()
    if not repeated.any():
        return
    rows = df.iloc[np.flatnonzero(repeated)]
    first = rows[pair].drop_duplicates().head(3)
    examples = []
    for u, i in first.itertuples(index=False):
        at = rows.index[(rows[user_col] == u).to_numpy() & (rows[item_col] == i).to_numpy()]
        u, i = (v.item() if isinstance(v, np.generic) else v for v in (u, i))  # 3, not np.int64(3)
        examples.append(f"({u!r}, {i!r}) at rows {_preview(at.tolist(), limit=3)}")
    n_pairs = len(rows[pair].drop_duplicates())
    time_hint = f", timestamp_col={timestamp_col!r}" if timestamp_col in df.columns else ""
    raise DataValidationError(
        f"{what}: {n_pairs} ({user_col}, {item_col}) pair(s) occur more than once "
        f"({int(repeated.sum())} rows), e.g. {'; '.join(examples)}. A repeated pair can land in two "
        "parts, so a test pair would also be a training (or validation) pair. Deduplicate with a "
        f"stated rule first, e.g. recfeat_ref.preprocessing.clean_interactions(df, user_col={user_col!r}, "
        f"item_col={item_col!r}{time_hint}, keep='last') or df.drop_duplicates([{user_col!r}, {item_col!r}], "
        "keep='last'); or pass duplicates='allow' if the repeats are meant (e.g. re-consumption "
        "in a sequence log)"
    )


def _check_column_name(value, parameter: str) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{parameter} must be a column name (str), got {value!r}")


# ---------------------------------------------------------------------------
# splits
# ---------------------------------------------------------------------------


def random_split(
    df: pd.DataFrame,
    ratios=(0.8, 0.2),
    seed=0,
    *,
    user_col: str = DEFAULT_USER_COL,
    item_col: str | None = DEFAULT_ITEM_COL,
    duplicates: str = "raise",
) -> tuple[pd.DataFrame, ...]:
    r"""Global random holdout: shuffle all rows, cut them by ``ratios``.

    A row's part does not depend on its user, so a test user may be absent
    from train (use :func:`filter_cold` or :func:`ratio_split_by_user` if the
    protocol forbids that). Part sizes are the rounded cut points of the
    shuffled rows: part :math:`k` has
    :math:`\lfloor c_k n + 1/2\rfloor - \lfloor c_{k-1} n + 1/2\rfloor` rows.

    Parameters
    ----------
    df : pandas.DataFrame
        Interactions. Never modified.
    ratios : tuple of float, default=(0.8, 0.2)
        One positive fraction per part, summing to 1.
    seed : int or numpy.random.Generator, default=0
    user_col, item_col : str, default="user_id", "item_id"
        Only used to refuse repeated (user, item) pairs (see ``duplicates``).
    duplicates : {"raise", "allow"}, default="raise"
        ``"raise"``: a (user, item) pair that occurs twice raises
        :class:`~recfeat_ref._validation.DataValidationError` naming it (checked
        when the frame has both columns). ``"allow"``: split every row as it is;
        a pair may then be in two parts.

    Returns
    -------
    tuple of pandas.DataFrame
        ``len(ratios)`` new frames (train first), original index labels and
        row order kept.

    Raises
    ------
    ValueError
        Bad ``ratios`` or ``duplicates``.
    DataValidationError
        Empty frame, a repeated (user, item) pair, or a part would be empty.

    References
    ----------
    Z. Meng et al., "Exploring Data Splitting Strategies for the Evaluation of
    Recommendation Models", RecSys 2020 (random split by ratio).

    Examples
    --------
    >>> df = pd.DataFrame({"user_id": range(10), "item_id": range(10)})
    >>> train, test = random_split(df, ratios=(0.8, 0.2), seed=0)
    >>> len(train), len(test), set(train.index) & set(test.index)
    (8, 2, set())
    """
    check_dataframe(df, "random_split(df)")
    r = _check_ratios(ratios)
    rng = check_random_state(seed)
    _check_pairs(df, user_col, item_col, duplicates, "random_split(df)")
    n = len(df)
    bounds = np.concatenate([[0], _cut_points(n, r), [n]])
    part_of_position = np.repeat(np.arange(len(r)), np.diff(bounds))
    part_of_row = np.empty(n, dtype=np.int64)
    part_of_row[rng.permutation(n)] = part_of_position
    parts = _parts(df, part_of_row, len(r))
    _check_nonempty(parts, "random_split", f"{n} rows are too few for ratios {tuple(r)}")
    return parts


def ratio_split_by_user(
    df: pd.DataFrame,
    ratios=(0.8, 0.1, 0.1),
    seed=0,
    user_col: str = DEFAULT_USER_COL,
    min_ratings: int = 1,
    *,
    item_col: str | None = DEFAULT_ITEM_COL,
    duplicates: str = "raise",
) -> tuple[pd.DataFrame, ...]:
    r"""Per-user random holdout: split each user's interactions by ``ratios``.

    Each user's :math:`n_u` interactions are shuffled and cut at
    :math:`t_k = \min(n_u, \max(1, \lfloor c_k n_u + 1/2 \rfloor))` for the
    cumulative ratios :math:`c_k` (rounded half up, at least one row in
    train, cut points non-decreasing). Consequences:

    * every user keeps at least one interaction in train, so every valid/test
      user is a train user (no cold-start users);
    * a user with too few interactions for a held-out part keeps them in
      train; a user with 1 or 2 interactions is train-only. Because the cut
      points are cumulative (which keeps the overall ratios close to
      ``ratios``), small users fill the parts unevenly; with
      ``(0.8, 0.1, 0.1)`` the (train/valid/test) sizes are::

          n_u    1      2      3      4      5      6      7      8      9      10
          sizes  1/0/0  2/0/0  2/1/0  3/1/0  4/1/0  5/0/1  6/0/1  6/1/1  7/1/1  8/1/1

      and with ``(0.8, 0.2)`` a user needs 3 interactions for a test row;
    * users with fewer than ``min_ratings`` interactions are not split at all:
      all their rows go to train.

    Parameters
    ----------
    df : pandas.DataFrame
        Interactions. Never modified.
    ratios : tuple of float, default=(0.8, 0.1, 0.1)
        One positive fraction per part, summing to 1.
    seed : int or numpy.random.Generator, default=0
    user_col : str, default="user_id"
    min_ratings : int, default=1
        Users with fewer interactions go wholly to train.
    item_col : str, default="item_id"
        Only used to refuse repeated (user, item) pairs (see ``duplicates``).
    duplicates : {"raise", "allow"}, default="raise"
        ``"raise"``: a (user, item) pair that occurs twice raises
        :class:`~recfeat_ref._validation.DataValidationError` naming it (checked
        when the frame has both columns). ``"allow"``: split every row as it is;
        a pair may then be in two parts.

    Returns
    -------
    tuple of pandas.DataFrame
        ``len(ratios)`` new frames (train first), original index labels and
        row order kept. Held-out parts may be empty for tiny frames.

    References
    ----------
    Z. Meng et al., "Exploring Data Splitting Strategies for the Evaluation of
    Recommendation Models", RecSys 2020 (user-based split); the per-user
    ("stratified") splitter of Microsoft Recommenders.

    Examples
    --------
    >>> df = pd.DataFrame({"user_id": [1] * 10 + [2], "item_id": range(11)})
    >>> train, valid, test = ratio_split_by_user(df, seed=0)
    >>> len(train), len(valid), len(test)  # user 2 (1 row) is train-only
    (9, 1, 1)
    """
    check_dataframe(df, "ratio_split_by_user(df)")
    _check_column_name(user_col, "user_col")
    check_columns(df, [user_col], "ratio_split_by_user(df)")
    check_no_nan(df, [user_col], "ratio_split_by_user(df)")
    r = _check_ratios(ratios)
    if not isinstance(min_ratings, (int, np.integer)) or min_ratings < 1:
        raise ValueError(f"min_ratings must be an int >= 1, got {min_ratings!r}")
    rng = check_random_state(seed)
    _check_pairs(df, user_col, item_col, duplicates, "ratio_split_by_user(df)")

    n = len(df)
    users, _ = pd.factorize(df[user_col])
    # Shuffle all rows, then group them by user (stable: the shuffle survives).
    perm = rng.permutation(n)
    order = perm[np.argsort(users[perm], kind="stable")]
    counts = np.bincount(users)  # n_u for each user code
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(n, dtype=np.int64)  # position of each row in its user's shuffled list
    rank[order] = np.arange(n) - starts[users[order]]

    n_u = counts[users]  # (n,)
    cuts = np.clip(_cut_points(n_u, r), 1, n_u[:, None])  # (n, n_parts - 1)
    cuts = np.maximum.accumulate(cuts, axis=1)
    part_of_row = (rank[:, None] >= cuts).sum(axis=1)
    part_of_row[n_u < min_ratings] = 0
    return _parts(df, part_of_row, len(r))


def temporal_split(
    df: pd.DataFrame,
    ratios=(0.8, 0.2),
    timestamp_col: str = DEFAULT_TIMESTAMP_COL,
    *,
    user_col: str = DEFAULT_USER_COL,
    item_col: str | None = DEFAULT_ITEM_COL,
    duplicates: str = "raise",
) -> tuple[pd.DataFrame, ...]:
    r"""Global temporal split: the earliest rows train, the latest test.

    Rows are ordered by time and cut at the rounded positions
    :math:`\lfloor c_k n + 1/2 \rfloor`, which defines threshold times
    :math:`\tau_k` (the timestamp of the last row before the cut). Part
    :math:`k` holds the rows with :math:`\tau_{k-1} < t \le \tau_k`.

    Ties: a timestamp never straddles two parts. All rows sharing the
    threshold timestamp go to the *earlier* part, so that
    ``train[t].max() < test[t].min()`` holds strictly and nothing that happened
    "at the same moment" as a test event is hidden from training. With coarse
    timestamps (e.g. days) the sizes can therefore drift from ``ratios``.

    Parameters
    ----------
    df : pandas.DataFrame
        Interactions. Never modified.
    ratios : tuple of float, default=(0.8, 0.2)
        One positive fraction per part, summing to 1.
    timestamp_col : str, default="timestamp"
        Numbers (e.g. unix seconds), datetimes or timedeltas; no missing
        values. Text raises: convert it explicitly (``pd.to_numeric`` or
        ``pd.to_datetime``), since text orders as text.
    user_col, item_col : str, default="user_id", "item_id"
        Only used to refuse repeated (user, item) pairs (see ``duplicates``).
    duplicates : {"raise", "allow"}, default="raise"
        ``"raise"``: a (user, item) pair that occurs twice raises
        :class:`~recfeat_ref._validation.DataValidationError` naming it (checked
        when the frame has both columns). ``"allow"``: split every row as it is;
        a pair may then be in two parts.

    Returns
    -------
    tuple of pandas.DataFrame
        ``len(ratios)`` new frames, earliest first, original index labels and
        row order kept.

    Raises
    ------
    DataValidationError
        Missing column, missing or non-numeric (text) timestamps, a repeated
        (user, item) pair, or a part left empty (too few rows or too many ties
        at the end).

    Notes
    -----
    Deterministic: no ``seed``. Users in test may be absent from train (new
    users arrive over time); see :func:`filter_cold`.

    References
    ----------
    P. G. Campos, F. Díez and I. Cantador, "Time-aware recommender systems: a
    comprehensive survey and analysis of existing evaluation protocols",
    UMUAI 24, 2014.

    Examples
    --------
    >>> df = pd.DataFrame({"user_id": range(5), "timestamp": [5, 1, 4, 2, 3]})
    >>> train, test = temporal_split(df, ratios=(0.6, 0.4))
    >>> train["timestamp"].tolist(), test["timestamp"].tolist()
    ([1, 2, 3], [5, 4])
    """
    check_dataframe(df, "temporal_split(df)")
    _check_column_name(timestamp_col, "timestamp_col")
    check_columns(df, [timestamp_col], "temporal_split(df)")
    check_no_nan(df, [timestamp_col], "temporal_split(df)")
    _check_timestamps(df, timestamp_col, "temporal_split(df)")
    r = _check_ratios(ratios)
    _check_pairs(df, user_col, item_col, duplicates, "temporal_split(df)", timestamp_col)

    n = len(df)
    t = _time_codes(df[timestamp_col])
    sorted_t = np.sort(t)
    bounds = [0]
    for cut in _cut_points(n, r):
        if cut > 0:  # move the cut past every row tied with the last row before it
            cut = int(np.searchsorted(sorted_t, sorted_t[cut - 1], side="right"))
        bounds.append(max(cut, bounds[-1]))
    thresholds = [sorted_t[b - 1] if b > 0 else -1 for b in bounds[1:]]
    part_of_row = np.searchsorted(np.asarray(thresholds), t, side="left")
    parts = _parts(df, part_of_row, len(r))
    _check_nonempty(
        parts,
        "temporal_split",
        f"{n} rows in {len(np.unique(t))} distinct timestamps cannot be cut at ratios {tuple(r)} "
        "without splitting a timestamp; use finer timestamps or other ratios",
    )
    return parts


def leave_last_one_out(
    df: pd.DataFrame,
    user_col: str = DEFAULT_USER_COL,
    timestamp_col: str = DEFAULT_TIMESTAMP_COL,
    n_valid: int = 1,
    *,
    item_col: str | None = DEFAULT_ITEM_COL,
    duplicates: str = "raise",
) -> tuple[pd.DataFrame, ...]:
    r"""Per user: last interaction to test, the ``n_valid`` before it to valid.

    Each user's interactions are ordered by time with a stable sort, so equal
    timestamps are broken by original row order (the later row counts as the
    later event). Then, for a user with :math:`n_u` interactions:

    * test gets the last one, if :math:`n_u \ge 2`;
    * valid gets the up to ``n_valid`` before it, as long as one row is left
      for train;
    * train gets the rest, which is never empty.

    So with ``n_valid=1``: a user with 1 interaction is train-only, a user with
    2 gives one train and one test row (no valid row), 3 or more give one test,
    one valid and the rest train. Every valid/test user is a train user, and
    per user every test timestamp is >= every train/valid timestamp.

    Parameters
    ----------
    df : pandas.DataFrame
        Interactions. Never modified.
    user_col : str, default="user_id"
    timestamp_col : str, default="timestamp"
        Numbers (e.g. unix seconds), datetimes or timedeltas; no missing
        values. Text raises: convert it explicitly (``pd.to_numeric`` or
        ``pd.to_datetime``), since text orders as text.
    n_valid : int, default=1
        Interactions per user for validation; 0 means no validation part.
    item_col : str, default="item_id"
        Only used to refuse repeated (user, item) pairs (see ``duplicates``).
    duplicates : {"raise", "allow"}, default="raise"
        ``"raise"``: a (user, item) pair that occurs twice raises
        :class:`~recfeat_ref._validation.DataValidationError` naming it (checked
        when the frame has both columns). ``"allow"``: split every row as it is;
        a pair may then be in two parts (a re-watched film can be a user's test
        item and also in their training history, as sequential models expect).

    Returns
    -------
    (train, valid, test) if ``n_valid >= 1``, else (train, test)
        New frames, original index labels and row order kept.

    Raises
    ------
    ValueError
        Bad ``n_valid`` or ``duplicates``.
    DataValidationError
        Missing column, missing or non-numeric (text) timestamps, or a
        repeated (user, item) pair (with the default ``duplicates="raise"``:
        a user's repeated last interaction would be both their validation and
        their test row, and evaluation would then drop it as already seen).

    Notes
    -----
    Deterministic: no ``seed``. The protocol of He et al. (NCF), usually with
    sampled negatives at evaluation time (not done here).

    References
    ----------
    X. He, L. Liao, H. Zhang, L. Nie, X. Hu and T.-S. Chua, "Neural
    Collaborative Filtering", WWW 2017.

    Examples
    --------
    >>> df = pd.DataFrame({"user_id": [1, 1, 1, 2], "item_id": [10, 11, 12, 13],
    ...                    "timestamp": [3, 1, 2, 9]})
    >>> train, valid, test = leave_last_one_out(df)
    >>> train["item_id"].tolist(), valid["item_id"].tolist(), test["item_id"].tolist()
    ([11, 13], [12], [10])
    """
    what = "leave_last_one_out(df)"
    check_dataframe(df, what)
    _check_column_name(user_col, "user_col")
    _check_column_name(timestamp_col, "timestamp_col")
    check_columns(df, [user_col, timestamp_col], what)
    check_no_nan(df, [user_col, timestamp_col], what)
    _check_timestamps(df, timestamp_col, what)
    if not isinstance(n_valid, (int, np.integer)) or isinstance(n_valid, bool) or n_valid < 0:
        raise ValueError(f"n_valid must be an int >= 0, got {n_valid!r}")
    _check_pairs(df, user_col, item_col, duplicates, what, timestamp_col)

    n = len(df)
    users, _ = pd.factorize(df[user_col])
    t = _time_codes(df[timestamp_col])
    by_time = np.argsort(t, kind="stable")
    order = by_time[np.argsort(users[by_time], kind="stable")]  # by user, then time, then row
    counts = np.bincount(users)
    ends = np.cumsum(counts)
    from_end = np.empty(n, dtype=np.int64)  # 0 = user's last event, 1 = second to last, ...
    from_end[order] = ends[users[order]] - 1 - np.arange(n)
    n_u = counts[users]

    is_test = (from_end == 0) & (n_u >= 2)
    is_valid = (from_end >= 1) & (from_end <= n_valid) & (from_end <= n_u - 2)
    part_of_row = np.where(is_test, 2, np.where(is_valid, 1, 0))
    train, valid, test = _parts(df, part_of_row, 3)
    return (train, valid, test) if n_valid >= 1 else (train, test)


def kfold_split(
    df: pd.DataFrame,
    n_splits: int = 5,
    seed=0,
    *,
    user_col: str = DEFAULT_USER_COL,
    item_col: str | None = DEFAULT_ITEM_COL,
    duplicates: str = "raise",
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """K-fold cross-validation over a random permutation of the rows.

    The rows are shuffled once and cut into ``n_splits`` folds; fold ``k`` is
    the test part of split ``k`` and the other folds its train part. Every row
    is in exactly one test fold. The first ``n % n_splits`` folds have
    ``n // n_splits + 1`` rows, the others ``n // n_splits`` (as in
    :class:`sklearn.model_selection.KFold`), so fold sizes differ by at most 1.

    Parameters
    ----------
    df : pandas.DataFrame
        Interactions. Never modified.
    n_splits : int, default=5
        Number of folds, ``2 <= n_splits <= len(df)``.
    seed : int or numpy.random.Generator, default=0
    user_col, item_col : str, default="user_id", "item_id"
        Only used to refuse repeated (user, item) pairs (see ``duplicates``).
    duplicates : {"raise", "allow"}, default="raise"
        ``"raise"``: a (user, item) pair that occurs twice raises
        :class:`~recfeat_ref._validation.DataValidationError` naming it (checked
        when the frame has both columns). ``"allow"``: split every row as it is;
        a pair may then be in two parts.

    Yields
    ------
    (train, test) : tuple of pandas.DataFrame
        New frames, original index labels and row order kept.

    Notes
    -----
    Arguments are checked when the function is called, not at the first
    ``next()``. As in rating-prediction CV, a test user may be absent from
    train.

    References
    ----------
    N. Hug, "Surprise: A Python library for recommender systems", JOSS 5(52),
    2020 (``surprise.model_selection.KFold``).

    Examples
    --------
    >>> df = pd.DataFrame({"user_id": range(7)})
    >>> [len(test) for _, test in kfold_split(df, n_splits=3, seed=0)]
    [3, 2, 2]
    """
    check_dataframe(df, "kfold_split(df)")
    if not isinstance(n_splits, (int, np.integer)) or isinstance(n_splits, bool) or n_splits < 2:
        raise ValueError(f"n_splits must be an int >= 2, got {n_splits!r}")
    n = len(df)
    if n_splits > n:
        raise ValueError(f"n_splits={n_splits} is larger than the number of rows ({n})")
    rng = check_random_state(seed)
    _check_pairs(df, user_col, item_col, duplicates, "kfold_split(df)")
    sizes = np.full(n_splits, n // n_splits)
    sizes[: n % n_splits] += 1
    fold_of_row = np.empty(n, dtype=np.int64)
    fold_of_row[rng.permutation(n)] = np.repeat(np.arange(n_splits), sizes)

    def _folds():
        for k in range(n_splits):
            test = fold_of_row == k
            yield df.iloc[np.flatnonzero(~test)], df.iloc[np.flatnonzero(test)]

    return _folds()


def filter_cold(
    train: pd.DataFrame,
    test: pd.DataFrame,
    user_col: str = DEFAULT_USER_COL,
    item_col: str | None = DEFAULT_ITEM_COL,
) -> tuple[pd.DataFrame, int]:
    """Drop test rows whose user or item never occurs in train.

    For protocols that evaluate warm-start users/items only (a model with one
    embedding per id has nothing learned for an unseen id).

    Parameters
    ----------
    train, test : pandas.DataFrame
        Never modified. ``test`` may be empty.
    user_col : str, default="user_id"
    item_col : str or None, default="item_id"
        ``None`` checks users only.

    Returns
    -------
    filtered_test : pandas.DataFrame
        New frame with the test rows whose user (and item) is in train,
        original index labels and order kept.
    n_dropped : int
        ``len(test) - len(filtered_test)``.

    References
    ----------
    A. I. Schein, A. Popescul, L. H. Ungar and D. M. Pennock, "Methods and
    Metrics for Cold-Start Recommendations", SIGIR 2002.

    Examples
    --------
    >>> train = pd.DataFrame({"user_id": [1, 2], "item_id": [10, 20]})
    >>> test = pd.DataFrame({"user_id": [1, 3, 2], "item_id": [20, 10, 99]})
    >>> kept, n_dropped = filter_cold(train, test)
    >>> kept.index.tolist(), n_dropped
    ([0], 2)
    """
    check_dataframe(train, "filter_cold(train)")
    if not isinstance(test, pd.DataFrame):
        raise TypeError(f"filter_cold(test): expected a pandas DataFrame, got {type(test).__name__}")
    _check_column_name(user_col, "user_col")
    cols = [user_col] + ([item_col] if item_col is not None else [])
    if item_col is not None:
        _check_column_name(item_col, "item_col")
    check_columns(train, cols, "filter_cold(train)")
    check_columns(test, cols, "filter_cold(test)")
    keep = test[user_col].isin(train[user_col].unique()).to_numpy()
    if item_col is not None:
        keep = keep & test[item_col].isin(train[item_col].unique()).to_numpy()
    return test.iloc[np.flatnonzero(keep)], int((~keep).sum())
