"""Input validation shared by every module: one place, one style of message.

Every error says *where* (the frame or file name, the column) and *what* (the
offending values) and, where there is one, *how to fix it*. The exceptions raised are
those of :mod:`recfeat_ref.exceptions`.

Examples
--------
>>> check_columns(pd.DataFrame({"user_id": [1]}), ["user_id", "item_id"], "train")
Traceback (most recent call last):
...
recfeat_ref.exceptions.DataValidationError: train: missing column(s) ['item_id']; the frame has ['user_id']
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

# The public exceptions live in recfeat_ref.exceptions; re-exported here so that
# ``from recfeat_ref._validation import DataValidationError`` keeps working.
from .exceptions import DataValidationError, InvalidParameterError


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


def _is_text(value) -> bool:
    return isinstance(value, (str, bytes))


def _is_real(value) -> bool:
    """True for anything a float64 column can hold exactly as a number (not text, not a date)."""
    if _is_text(value) or isinstance(value, (complex, np.complexfloating)):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _range_text(low, high, low_open: bool = False, high_open: bool = False) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return ""


def check_target(
    df: pd.DataFrame, column: str, low: float | None = None, high: float | None = None, name: str = "data"
) -> np.ndarray:
    """Return the target ``column`` of ``df`` as float64 after checking it is usable for training.

    The column must hold numbers (a numeric dtype, or an object column whose values are
    all numbers; no text, no dates), no missing value, no infinity, and lie in
    ``[low, high]`` when bounds are given. Each failure raises
    :class:`~recfeat_ref.exceptions.DataValidationError` naming the frame, the column,
    the first offending values and their rows, and the fix.

    Examples
    --------
    >>> train = pd.DataFrame({"rating": [5, 3, "five"]})
    >>> check_target(train, "rating", name="train")
    Traceback (most recent call last):
    ...
    recfeat_ref.exceptions.DataValidationError: train: column 'rating' must hold numbers, found ['five'] at rows [2]; convert it first, e.g. train['rating'] = pd.to_numeric(train['rating']), or map the labels to numbers
    >>> check_target(pd.DataFrame({"rating": [5.0, float("inf")]}), "rating", name="train")
    Traceback (most recent call last):
    ...
    recfeat_ref.exceptions.DataValidationError: train: column 'rating' has 1 infinite value(s) at rows [1]: [inf]; drop those rows or replace the values with finite numbers
    >>> check_target(pd.DataFrame({"rating": [5, 3]}), "rating", low=1, high=5).tolist()
    [5.0, 3.0]
    """
    s = df[column]
    if isinstance(s, pd.DataFrame):
        raise DataValidationError(
            f"{name}: column {column!r} occurs {s.shape[1]} times; rename or drop the duplicates"
        )
    dtype = s.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise DataValidationError(
            f"{name}: column {column!r} holds dates or durations (dtype {dtype}), not numbers; "
            "pass a numeric target column"
        )
    if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_complex_dtype(dtype):
        values = s.to_numpy(dtype=object)
        missing = s.isna().to_numpy()
        bad = np.array([not m and not _is_real(v) for v, m in zip(values, missing)], dtype=bool)
        if bad.any():
            raise DataValidationError(
                f"{name}: column {column!r} must hold numbers, found {_preview(pd.unique(values[bad]))} "
                f"at rows {_preview(df.index[bad])}; convert it first, e.g. "
                f"{name}[{column!r}] = pd.to_numeric({name}[{column!r}]), or map the labels to numbers"
            )
    check_no_nan(df, [column], name)
    values = s.to_numpy(dtype=np.float64)
    inf = np.isinf(values)
    if inf.any():
        raise DataValidationError(
            f"{name}: column {column!r} has {int(inf.sum())} infinite value(s) at rows {_preview(df.index[inf])}: "
            f"{_preview(pd.unique(values[inf]))}; drop those rows or replace the values with finite numbers"
        )
    if low is not None or high is not None:
        bad = np.zeros(len(values), dtype=bool)
        if low is not None:
            bad |= values < low
        if high is not None:
            bad |= values > high
        if bad.any():
            raise DataValidationError(
                f"{name}: column {column!r} has {int(bad.sum())} value(s) outside the model's range "
                f"({_range_text(low, high)}) at rows {_preview(df.index[bad])}: {_preview(pd.unique(values[bad]))}; "
                "rescale the target or drop those rows"
            )
    return values


def check_ids(df: pd.DataFrame, column: str, name: str = "data") -> None:
    """Raise if an id ``column`` holds missing values or mixes text with numbers (ids must sort).

    Examples
    --------
    >>> check_ids(pd.DataFrame({"user_id": [1, "u2"]}), "user_id", "train")
    Traceback (most recent call last):
    ...
    recfeat_ref.exceptions.DataValidationError: train: column 'user_id' mixes text ids ['u2'] at rows [1] with numeric ids [1]; use one kind, e.g. train['user_id'] = train['user_id'].astype(str)
    """
    s = df[column]
    if isinstance(s, pd.DataFrame):
        raise DataValidationError(
            f"{name}: column {column!r} occurs {s.shape[1]} times; rename or drop the duplicates"
        )
    check_no_nan(df, [column], name)
    if s.dtype == object:
        values = s.to_numpy(dtype=object)
        text = np.array([_is_text(v) for v in values], dtype=bool)
        if text.any() and not text.all():
            raise DataValidationError(
                f"{name}: column {column!r} mixes text ids {_preview(pd.unique(values[text]))} at rows "
                f"{_preview(df.index[text])} with numeric ids {_preview(pd.unique(values[~text]))}; use one kind, "
                f"e.g. {name}[{column!r}] = {name}[{column!r}].astype(str)"
            )
    elif pd.api.types.is_float_dtype(s.dtype):
        values = s.to_numpy(dtype=np.float64)
        inf = np.isinf(values)
        if inf.any():
            raise DataValidationError(
                f"{name}: column {column!r} has infinite ids at rows {_preview(df.index[inf])}; ids must be "
                "finite numbers or strings: drop those rows"
            )


class IndexedDataError(DataValidationError):
    """A :class:`~recfeat_ref.exceptions.DataValidationError` about training *indices*.

    Raised by code that works on indices (e.g. :class:`~recfeat_ref.mf.NegativeSampler`);
    :meth:`recfeat_ref.recommender.Recommender.fit` re-raises it with the raw ids the
    caller passed (:meth:`in_ids`). ``template`` holds ``{users}`` and/or ``{items}``.
    """

    def __init__(self, template: str, users=None, items=None):
        self.template = template
        self.users = None if users is None else np.asarray(users)
        self.items = None if items is None else np.asarray(items)
        super().__init__(self._render(self.users, self.items))

    def _render(self, users, items) -> str:
        return self.template.format(users="" if users is None else _preview(users),
                                    items="" if items is None else _preview(items))

    def in_ids(self, user_ids, item_ids, name: str = "train") -> DataValidationError:
        """The same error, naming ``user_ids[users]`` and ``item_ids[items]`` (raw ids)."""
        users = None if self.users is None else np.asarray(user_ids)[self.users]
        items = None if self.items is None else np.asarray(item_ids)[self.items]
        return DataValidationError(f"{name}: {self._render(users, items)}")


def check_random_state(seed) -> np.random.Generator:
    """Return a fresh :class:`numpy.random.Generator`; never touch global RNG state."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        check_seed(seed)
        return np.random.default_rng(seed)
    raise InvalidParameterError(
        f"seed must be an int, None or numpy Generator, got {seed!r} (a {type(seed).__name__}); pass e.g. seed=0"
    )


# --- Arrays (metrics, losses) -------------------------------------------------


def _as_float_array(values, name: str) -> np.ndarray:
    """``values`` as a float64 array; text (even "5") or other non-numbers raise naming ``name``."""
    try:
        raw = np.asarray(values)
        if raw.dtype.kind in "USO" and any(_is_text(v) for v in raw.ravel().tolist()):
            raise ValueError("text is not a number")
        return np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        try:
            shown = _preview(np.ravel(np.asarray(values, dtype=object)).tolist())
        except (TypeError, ValueError):  # ragged nesting
            shown = repr(values)[:80]
        raise DataValidationError(
            f"{name}: expected numbers, got {shown} ({exc}); convert the values to numbers first"
        ) from None


def check_finite_array(values, name: str, allow_empty: bool = False) -> np.ndarray:
    """Return ``values`` as a float64 array of any shape; raise naming ``name`` if it holds
    text, is empty (unless ``allow_empty``), or holds NaN or infinity (with their positions).

    Examples
    --------
    >>> check_finite_array([[1.0, 2.0], [float("nan"), 0.0]], "item_features")
    Traceback (most recent call last):
    ...
    recfeat_ref.exceptions.DataValidationError: item_features: 1 value(s) are NaN or infinite, at positions [(1, 0)]: [nan]; drop or impute them first
    """
    arr = _as_float_array(values, name)
    if arr.size == 0 and not allow_empty:
        raise DataValidationError(f"{name}: the array is empty (0 values); nothing to work on")
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.argwhere(bad)
        positions = [int(p[0]) for p in where] if arr.ndim == 1 else [tuple(int(i) for i in p) for p in where]
        raise DataValidationError(
            f"{name}: {int(bad.sum())} value(s) are NaN or infinite, at positions "
            f"{_preview(positions)}: {_preview(arr[bad].tolist())}; drop or impute them first"
        )
    return arr


def check_vector(values, name: str) -> np.ndarray:
    """Return ``values`` as a non-empty, finite, 1-D float array; raise naming ``name``."""
    arr = _as_float_array(values, name)
    if arr.ndim != 1:
        raise DataValidationError(
            f"{name}: expected a 1-D array, got shape {arr.shape}; pass one value per sample "
            "(flatten with np.ravel if the extra axes have length 1)"
        )
    if arr.size == 0:
        raise DataValidationError(f"{name}: the array is empty (0 values); nothing to evaluate")
    return check_finite_array(arr, name)


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


def _is_number(value) -> bool:
    numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return numeric and math.isfinite(value)


def check_number(
    name: str,
    value,
    low: float | None = None,
    high: float | None = None,
    *,
    integer: bool = False,
    low_open: bool = False,
    high_open: bool = False,
    allow_none: bool = False,
    example=None,
):
    """Return ``value`` if it is a finite number (an int if ``integer``) within the bounds.

    Otherwise raise :class:`~recfeat_ref.exceptions.InvalidParameterError` naming the
    argument, the value (and its type when the type is wrong) and what to pass.
    ``low_open``/``high_open`` exclude the bound itself; ``allow_none`` accepts None.

    Examples
    --------
    >>> check_number("lr", 0.1, 0, low_open=True)
    0.1
    >>> check_number("weight_decay", None, 0, example=0.0)
    Traceback (most recent call last):
    ...
    recfeat_ref.exceptions.InvalidParameterError: weight_decay must be a finite number >= 0, got None (a NoneType); pass a number, e.g. weight_decay=0.0
    >>> check_number("num_epochs", 2.5, 1, integer=True)
    Traceback (most recent call last):
    ...
    recfeat_ref.exceptions.InvalidParameterError: num_epochs must be an int >= 1, got 2.5 (a float); pass an int
    """
    if value is None and allow_none:
        return value
    kind = "an int" if integer else "a finite number"
    bounds = _range_text(low, high, low_open, high_open)
    want = f"{kind} {bounds}".strip() + (" or None" if allow_none else "")
    hint = f"; pass {'an int' if integer else 'a number'}" + (f", e.g. {name}={example!r}" if example is not None else "")
    ok_type = isinstance(value, (int, np.integer) if integer else (int, float, np.integer, np.floating))
    if isinstance(value, bool) or not ok_type:
        raise InvalidParameterError(f"{name} must be {want}, got {value!r} (a {type(value).__name__}){hint}")
    if not math.isfinite(value):
        raise InvalidParameterError(f"{name} must be {want}, got {value!r}{hint}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise InvalidParameterError(f"{name} must be {want}, got {value!r}")
    return value


def check_seed(value, name: str = "seed") -> int:
    """Return ``value`` if it is a non-negative int (NumPy ints too, not bool); else raise naming it.

    Examples
    --------
    >>> check_seed(-1)
    Traceback (most recent call last):
    ...
    recfeat_ref.exceptions.InvalidParameterError: seed must be a non-negative int, got -1; pass e.g. seed=0 (any int >= 0)
    """
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
        typ = "" if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else f" (a {type(value).__name__})"
        raise InvalidParameterError(
            f"{name} must be a non-negative int, got {value!r}{typ}; pass e.g. {name}=0 (any int >= 0)"
        )
    return value


# The helpers below raise plain ValueError with these exact messages (doctests across the
# package print them); new code uses check_number / check_seed above.


def _check_positive_int(name: str, value) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _check_non_negative(name: str, value) -> None:
    if not (_is_number(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _check_positive(name: str, value) -> None:
    if not (_is_number(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _check_seed(value) -> None:
    check_seed(value)


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
