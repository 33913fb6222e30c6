"""Input validation shared by every module: one place, one style of message.

Every error says *where* (the frame or file name, the column) and *what* (the
offending values) and, where there is one, *how to fix it*.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd


class DataValidationError(ValueError):
    """Raised when a data frame or file breaks the contract a function needs.

    Subclasses :class:`ValueError` so ``except ValueError`` keeps working.

    Examples
    --------
    >>> issubclass(DataValidationError, ValueError)
    True
    >>> check_columns(pd.DataFrame({"user_id": [1]}), ["user_id", "item_id"], "train")
    Traceback (most recent call last):
    ...
    recfeat_ref._validation.DataValidationError: train: missing column(s) ['item_id']; the frame has ['user_id']
    """


def _preview(values, limit: int = 5) -> str:
    if isinstance(values, np.ndarray):
        values = values.ravel()
    values = [v.item() if isinstance(v, np.generic) else v for v in values]  # np.int64(2) -> 2
    shown = ", ".join(repr(v) for v in values[:limit])
    more = f", ... ({len(values)} in all)" if len(values) > limit else ""
    return f"[{shown}{more}]"


def check_dataframe(df, name: str = "data") -> pd.DataFrame:
    """Check that ``df`` is a non-empty :class:`pandas.DataFrame`."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name}: expected a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise DataValidationError(f"{name}: the frame is empty (0 rows); nothing to work on")
    return df


def check_columns(df: pd.DataFrame, columns: Iterable[str], name: str = "data") -> None:
    """Raise if any of ``columns`` is missing, naming each missing column."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataValidationError(
            f"{name}: missing column(s) {missing}; the frame has {list(df.columns)}"
        )


def check_no_nan(df: pd.DataFrame, columns: Iterable[str], name: str = "data") -> None:
    """Raise if any of ``columns`` holds a missing value, naming column and rows."""
    for col in columns:
        bad = df.index[df[col].isna().to_numpy()]
        if len(bad):
            raise DataValidationError(
                f"{name}: column {col!r} has {len(bad)} missing value(s) at rows {_preview(bad)}; "
                "drop or impute them first (see recfeat_ref.preprocessing.clean_interactions)"
            )


def check_range(
    df: pd.DataFrame, column: str, low: float, high: float, name: str = "data"
) -> None:
    """Raise if values of ``column`` fall outside the closed interval [low, high]."""
    values = df[column].to_numpy()
    bad = (values < low) | (values > high)
    if np.any(bad):
        raise DataValidationError(
            f"{name}: column {column!r} has {int(bad.sum())} value(s) outside [{low}, {high}]: "
            f"{_preview(np.unique(values[bad]))}"
        )


def check_unique_pairs(
    df: pd.DataFrame, columns: tuple[str, str], name: str = "data"
) -> None:
    """Raise if the (user, item) pairs in ``columns`` repeat, naming the first pairs."""
    dup = df.duplicated(list(columns), keep=False)
    if dup.any():
        pairs = df.loc[dup, list(columns)].drop_duplicates().head(5).itertuples(index=False)
        raise DataValidationError(
            f"{name}: {int(dup.sum())} rows repeat a ({columns[0]}, {columns[1]}) pair, e.g. "
            f"{[tuple(p) for p in pairs]}; deduplicate with "
            "recfeat_ref.preprocessing.clean_interactions(keep='last')"
        )


def check_random_state(seed) -> np.random.Generator:
    """Return a fresh :class:`numpy.random.Generator`; never touch global RNG state."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be an int, None or numpy Generator, got {type(seed).__name__}")


# --- Arrays (metrics, losses) -------------------------------------------------


def check_vector(values, name: str) -> np.ndarray:
    """Return ``values`` as a non-empty, finite, 1-D float array; raise naming ``name``."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        shown = _preview(np.ravel(np.asarray(values, dtype=object)).tolist())
        raise DataValidationError(
            f"{name}: expected numbers, got {shown} ({exc}); convert the values to numbers first"
        ) from None
    if arr.ndim != 1:
        raise DataValidationError(
            f"{name}: expected a 1-D array, got shape {arr.shape}; pass one value per sample "
            "(flatten with np.ravel if the extra axes have length 1)"
        )
    if arr.size == 0:
        raise DataValidationError(f"{name}: the array is empty (0 values); nothing to evaluate")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataValidationError(
            f"{name}: {int(bad.sum())} value(s) are NaN or infinite, at positions "
            f"{_preview(np.flatnonzero(bad).tolist())}: {_preview(arr[bad].tolist())}; "
            "drop or impute them first"
        )
    return arr


def check_same_length(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    """Raise if the 1-D arrays ``a`` and ``b`` differ in length, naming both."""
    if len(a) != len(b):
        raise DataValidationError(
            f"{names[0]} has {len(a)} values but {names[1]} has {len(b)}; "
            "pass one value of each per sample"
        )


def check_binary(values: np.ndarray, name: str) -> None:
    """Raise if a float array holds anything other than 0 and 1, naming the values."""
    bad = (values != 0) & (values != 1)
    if bad.any():
        raise DataValidationError(
            f"{name}: labels must be 0 or 1, found "
            f"{_preview(np.unique(values[bad]).tolist())}; "
            "binarise first, e.g. (rating >= 4).astype(int)"
        )


def check_probability(values: np.ndarray, name: str) -> None:
    """Raise if a float array holds values outside [0, 1], naming the values."""
    bad = (values < 0) | (values > 1)
    if bad.any():
        raise DataValidationError(
            f"{name}: probabilities must lie in [0, 1], found "
            f"{_preview(np.unique(values[bad]).tolist())}; "
            "if these are logits, apply a sigmoid first"
        )


# --- configuration checks shared by the config dataclasses ------------------------


def _check_positive_int(name: str, value) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _is_number(value) -> bool:
    numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return numeric and math.isfinite(value)


def _check_non_negative(name: str, value) -> None:
    if not (_is_number(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _check_positive(name: str, value) -> None:
    if not (_is_number(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _check_seed(value) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
        raise ValueError(f"seed must be a non-negative int, got {value!r}")


#: The epoch-loop fields of the top-N recommenders' configs (ImplicitRecommender's).
_LOOP_INTS = ("num_epochs", "batch_size", "eval_every", "patience", "k")


def _check_fields(config, positive_ints=(), positive=(), non_negative=(), flags=()) -> None:
    """The checks config dataclasses share, by field name, then ``cpu_threads`` (None or a
    positive int) and ``seed`` when the config has them."""
    for name in positive_ints:
        _check_positive_int(name, getattr(config, name))
    for name in positive:
        _check_positive(name, getattr(config, name))
    for name in non_negative:
        _check_non_negative(name, getattr(config, name))
    for name in flags:
        if not isinstance(getattr(config, name), bool):
            raise ValueError(f"{name} must be True or False, got {getattr(config, name)!r}")
    if getattr(config, "cpu_threads", None) is not None:
        _check_positive_int("cpu_threads", config.cpu_threads)
    if hasattr(config, "seed"):
        _check_seed(config.seed)


def _make_config(cls, config, params: dict):
    """``config`` (or the defaults) with ``params`` replaced; unknown names raise naming them."""
    base = cls() if config is None else config
    if not isinstance(base, cls):
        raise TypeError(f"config must be a {cls.__name__}, got {type(base).__name__}")
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - fields)
    if unknown:
        raise TypeError(f"unknown {cls.__name__} field(s) {unknown}; valid fields are {sorted(fields)}")
    return dataclasses.replace(base, **params)
