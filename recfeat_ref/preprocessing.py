"""Cleaning rules, ID encoders, scalers and one-hot encoding.

The feature-engineering chapter builds every input a model sees from four
small, separately tested steps:

1. :func:`clean_interactions` drops rows that no model can use (missing ids,
   impossible ratings) and resolves repeated (user, item) pairs by a stated rule.
2. :class:`IdEncoder` turns raw user/item ids into contiguous integers
   ``1..n`` with ``0`` reserved for ids never seen in training, so the codes
   index an embedding table of ``n + 1`` rows directly.
3. :class:`StandardScaler` / :class:`MinMaxScaler` put numeric side features
   on a common scale, and :class:`OneHotEncoder` expands categorical ones.
4. :func:`interactions_to_csr` builds the user x item matrix that ranking
   code uses to exclude training items from a top-k list.

The encoders and scalers are teaching versions written from scratch; the
tests check each one equal to its scikit-learn counterpart [1]_. They follow
scikit-learn's contract: ``fit`` learns from training data only and returns
``self``, learned attributes end in ``_``, ``transform`` refuses to run before
``fit`` (raising :class:`NotFittedError`), and no method modifies its input.

References
----------
.. [1] F. Pedregosa et al., "Scikit-learn: Machine Learning in Python",
   JMLR 12, pp. 2825-2830, 2011.
"""

from __future__ import annotations

import datetime
import numbers

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from recfeat_ref import DEFAULT_ITEM_COL, DEFAULT_USER_COL
from recfeat_ref._validation import (
    DataValidationError,
    _preview,
    check_columns,
    check_dataframe,
    check_no_nan,
    check_unique_pairs,
)
from recfeat_ref.exceptions import NotFittedError

__all__ = [
    "NotFittedError",
    "clean_interactions",
    "IdEncoder",
    "StandardScaler",
    "MinMaxScaler",
    "OneHotEncoder",
    "interactions_to_csr",
]


# NotFittedError is recfeat_ref.exceptions.NotFittedError (a DataValidationError and a
# sklearn.exceptions.NotFittedError), imported above: one class for the whole package, so
# ``except recfeat_ref.preprocessing.NotFittedError`` also catches the models' errors.


def _check_fitted(estimator, attribute: str) -> None:
    if not hasattr(estimator, attribute):
        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
            "appropriate arguments before using this estimator."
        )


def _stable_order(values: pd.Series) -> np.ndarray:
    """Positions that sort ``values`` ascending; equal values keep row order."""
    return np.asarray(values.array.argsort(kind="stable"))


# ---------------------------------------------------------------------------
# 1. Cleaning
# ---------------------------------------------------------------------------

_KEEP_RULES = ("last", "first", "mean")


def clean_interactions(
    df: pd.DataFrame,
    user_col: str = DEFAULT_USER_COL,
    item_col: str = DEFAULT_ITEM_COL,
    rating_col: str | None = None,
    rating_range: tuple[float, float] | None = None,
    timestamp_col: str | None = None,
    keep: str = "last",
    name: str = "interactions",
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop unusable interaction rows and resolve repeated (user, item) pairs.

    The rules run in this order, and each removed row is counted once, under
    the first rule it breaks:

    ``missing_id``
        user or item id is missing (``NaN``/``None``);
    ``missing_rating``
        the rating is missing (only when ``rating_col`` is given);
    ``missing_timestamp``
        the timestamp is missing (only when ``timestamp_col`` is given: such a
        row can neither be deduplicated by time nor placed in a temporal split);
    ``out_of_range``
        the rating lies outside the closed interval
        ``rating_range = (low, high)`` (only when ``rating_range`` is given);
    ``duplicates``
        the row repeats a (user, item) pair of another surviving row and is
        merged away by the ``keep`` rule below.

    Keep rules for a repeated (user, item) pair:

    ``"last"`` (default)
        keep the latest row by ``timestamp_col`` if given, otherwise the last
        row in frame order; equal timestamps are broken by frame order (the
        later row wins). A user's latest rating is their current opinion.
    ``"first"``
        keep the earliest row by ``timestamp_col`` if given, otherwise the
        first row; equal timestamps: the earlier row wins.
    ``"mean"``
        keep the row that ``"last"`` would keep, with its rating replaced by
        the mean rating of the pair (the rating column becomes ``float64``).
        Needs ``rating_col``.

    Parameters
    ----------
    df : pandas.DataFrame
        Interactions, one row per event. Never modified.
    user_col, item_col : str
        Id columns.
    rating_col : str, optional
        Rating column; needed for ``rating_range`` and ``keep="mean"``.
    rating_range : (float, float), optional
        Closed interval of valid ratings, e.g. ``(1, 5)`` for MovieLens.
    timestamp_col : str, optional
        Time column (numbers or datetimes) used by the ``"last"``/``"first"``
        rules.
    keep : {"last", "first", "mean"}
        Rule for repeated (user, item) pairs, see above.
    name : str
        Name of the frame in error messages.

    Returns
    -------
    clean_df : pandas.DataFrame
        A new frame with the surviving rows in their original order and with
        their original index labels (so every row can be traced back).
    report : dict[str, int]
        Keys ``n_input``, ``missing_id``, ``missing_rating``,
        ``missing_timestamp``, ``out_of_range``, ``duplicates``, ``n_output``.
        Always ``n_input - (sum of the five rule counts) == n_output``.

    Raises
    ------
    DataValidationError
        Empty frame, missing column, non-numeric rating column where numbers
        are needed.
    ValueError
        Bad ``keep`` or ``rating_range``, or an option that needs
        ``rating_col`` without it.

    References
    ----------
    F. M. Harper and J. A. Konstan, "The MovieLens Datasets: History and
    Context", ACM TiiS 5(4), 2015 (the rating scale and the one-rating-per-pair
    convention of the data this book uses).

    Examples
    --------
    >>> df = pd.DataFrame({"user_id": [1, 1, 2, None], "item_id": [10, 10, 20, 30],
    ...                    "rating": [3, 5, 9, 4], "timestamp": [1, 2, 3, 4]})
    >>> clean, report = clean_interactions(df, rating_col="rating", rating_range=(1, 5),
    ...                                    timestamp_col="timestamp")
    >>> clean["rating"].tolist(), report["duplicates"], report["out_of_range"]
    ([5], 1, 1)
    """
    check_dataframe(df, name)
    if keep not in _KEEP_RULES:
        raise ValueError(f"keep must be one of {list(_KEEP_RULES)}, got {keep!r}")
    if rating_col is None and (rating_range is not None or keep == "mean"):
        what = "rating_range" if rating_range is not None else "keep='mean'"
        raise ValueError(f"{what} needs rating_col; pass the name of the rating column")
    columns = [user_col, item_col]
    columns += [c for c in (rating_col, timestamp_col) if c is not None]
    check_columns(df, columns, name)
    if rating_range is not None:
        if len(rating_range) != 2 or not rating_range[0] <= rating_range[1]:
            raise ValueError(f"rating_range must be (low, high) with low <= high, got {rating_range!r}")
    if rating_col is not None and (rating_range is not None or keep == "mean"):
        if not pd.api.types.is_numeric_dtype(df[rating_col]):
            raise DataValidationError(
                f"{name}: column {rating_col!r} has dtype {df[rating_col].dtype}, not numeric; "
                f"convert it with pd.to_numeric(df[{rating_col!r}], errors='coerce') first"
            )

    report = {"n_input": len(df)}
    alive = np.ones(len(df), dtype=bool)

    def _drop(rule: str, bad: np.ndarray) -> None:
        nonlocal alive
        report[rule] = int(np.sum(alive & bad))
        alive = alive & ~bad

    _drop("missing_id", (df[user_col].isna() | df[item_col].isna()).to_numpy())
    _drop("missing_rating", df[rating_col].isna().to_numpy() if rating_col else np.zeros(len(df), bool))
    _drop(
        "missing_timestamp",
        df[timestamp_col].isna().to_numpy() if timestamp_col else np.zeros(len(df), bool),
    )
    if rating_range is not None:
        r = df[rating_col].to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            out = (r < rating_range[0]) | (r > rating_range[1])
        _drop("out_of_range", out)
    else:
        report["out_of_range"] = 0

    positions = np.flatnonzero(alive)
    sub = df.iloc[positions]
    pair = [user_col, item_col]
    # Put the rows in the order in which "keep the last one" is the rule.
    order = _stable_order(sub[timestamp_col]) if timestamp_col else np.arange(len(sub))
    ordered = sub.iloc[order]
    rule = "first" if keep == "first" else "last"
    is_dup = ordered.duplicated(pair, keep=rule).to_numpy()
    kept_local = np.sort(order[~is_dup])
    report["duplicates"] = int(is_dup.sum())

    clean = sub.iloc[kept_local]
    if keep == "mean":
        means = sub.groupby(pair, sort=False, dropna=False)[rating_col].transform("mean")
        clean = clean.assign(**{rating_col: means.to_numpy(dtype=float)[kept_local]})
    else:
        clean = clean.copy()
    report["n_output"] = len(clean)
    return clean, report


# ---------------------------------------------------------------------------
# 2. Id encoding
# ---------------------------------------------------------------------------


#: The kind of value a numpy dtype holds (``dtype.kind`` -> kind); ``object`` arrays are
#: inspected value by value (:func:`_kind_of_type`).
_KIND_OF_DTYPE = {"b": "bool", "i": "number", "u": "number", "f": "number", "c": "number",
                  "U": "str", "S": "bytes", "M": "datetime", "m": "timedelta"}  # fmt: skip


def _kind_of_type(t: type) -> str:
    """The kind of a Python or numpy scalar type: ints and floats are both ``"number"``."""
    if issubclass(t, (bool, np.bool_)):
        return "bool"
    if issubclass(t, (datetime.timedelta, np.timedelta64)):  # before numbers: timedelta64 is an integer
        return "timedelta"
    if issubclass(t, numbers.Number):
        return "number"
    if issubclass(t, (str, np.str_)):
        return "str"
    if issubclass(t, (bytes, np.bytes_)):
        return "bytes"
    if issubclass(t, (datetime.datetime, np.datetime64)):  # pandas.Timestamp included
        return "datetime"
    if issubclass(t, datetime.date):
        return "date"
    return t.__name__


def _value_kinds(arr: np.ndarray) -> dict[str, int]:
    """Each kind of value in the 1-D ``arr`` -> the position of its first value."""
    if arr.size == 0:
        return {}
    if arr.dtype != object:
        return {_KIND_OF_DTYPE.get(arr.dtype.kind, str(arr.dtype)): 0}
    types = dict.fromkeys(map(type, arr))  # distinct types, in order of appearance (C speed)
    kinds = {_kind_of_type(t) for t in types}
    if len(kinds) == 1:
        return {kinds.pop(): 0}
    first: dict[str, int] = {}
    for pos, value in enumerate(arr):  # only when the kinds are mixed: name where each starts
        first.setdefault(_kind_of_type(type(value)), pos)
    return first


def _check_one_kind(arr: np.ndarray, who: str, label: str, what: str = "value") -> str | None:
    """The single kind of the values of ``arr`` (None if empty); raise if kinds are mixed.

    Mixed kinds would be compared or coerced silently (``np.asarray([1, "a"])`` makes
    ``["1", "a"]``, so the int 1 and the text "1" would become one id; ``True == 1``).
    """
    kinds = _value_kinds(arr)
    if len(kinds) > 1:
        shown = ", ".join(f"{k} (e.g. {arr[pos]!r} at position {pos})" for k, pos in list(kinds.items())[:4])
        where = "the input" if label == who else f"column {label!r}"
        raise DataValidationError(
            f"{who}: {where} mixes {what} types: {shown}; cast it to one type, "
            "e.g. .astype(str), so that equal ids compare equal"
        )
    return next(iter(kinds), None)


def _check_fitted_kind(kind: str | None, fitted: str | None, who: str, label: str, what: str = "value") -> None:
    """Raise if ``transform`` gets another kind of value than ``fit`` saw (all would be unknown)."""
    if kind is None or fitted is None or kind == fitted:
        return
    where = "the input" if label == who else f"column {label!r}"
    cast = {"number": " (e.g. .astype(int))", "str": " (e.g. .astype(str))", "bool": " (e.g. .astype(bool))"}
    raise DataValidationError(
        f"{who}: {where} holds {kind} {what}s, but the encoder was fitted on {fitted} "
        f"{what}s, so none of them could be known; convert them to the fitted type first"
        f"{cast.get(fitted, '')}, as during fit"
    )


def _as_1d(values, what: str) -> tuple[np.ndarray, str, str | None]:
    """Return ``values`` as a 1-D numpy array, a name for messages and the kind of its values.

    Raises if the values are missing, not 1-D, or mix kinds (ints and text, say); a
    list is checked before numpy would coerce it (``[1, "a"]`` -> ``["1", "a"]``).
    """
    label = str(values.name) if isinstance(values, pd.Series) and values.name is not None else what
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise DataValidationError(
                f"{what}: expected one column of ids, got a frame with columns {list(values.columns)}; "
                "pass a single column, e.g. df['user_id']"
            )
        values = values.iloc[:, 0]
        label = str(values.name)
    raw = None  # the values before numpy coerces a list, to check their kinds
    if isinstance(values, (pd.Series, pd.Index)):
        missing = np.asarray(values.isna())
        arr = values.to_numpy()
    else:
        if not isinstance(values, np.ndarray):
            raw = np.asarray(values, dtype=object)
        arr = np.asarray(values)
        if arr.ndim == 0:
            raise DataValidationError(f"{what}: expected an array of ids, got the scalar {arr.item()!r}")
        if arr.ndim != 1:
            raise DataValidationError(f"{what}: expected a 1-D array of ids, got shape {arr.shape}")
        missing = np.asarray(pd.isna(arr))
    if missing.any():
        where = np.flatnonzero(missing)
        raise DataValidationError(
            f"{what}: column {label!r} has {len(where)} missing id(s) at positions {_preview(where.tolist())}; "
            "drop them first (recfeat_ref.preprocessing.clean_interactions)"
        )
    kind = _check_one_kind(raw if raw is not None else arr, what, label, "id")
    return arr, label, kind


class IdEncoder(TransformerMixin, BaseEstimator):
    r"""Map raw ids to contiguous integers, ``0`` reserved for unknown ids.

    Fitted on training ids only. The known ids, sorted, get the codes
    ``1, 2, ..., n``; every id not seen during ``fit`` gets code ``0``
    (out-of-vocabulary, OOV):

    .. math:: \mathrm{code}(v) = \begin{cases} 1 + \mathrm{rank}(v) & v \in \mathcal{V}_{train} \\
              0 & \text{otherwise} \end{cases}

    Why reserve 0: the codes index an embedding table
    ``torch.nn.Embedding(encoder.n_classes_, d)`` of ``n + 1`` rows directly.
    Row 0 is the "unknown user/item" row: a user who appears only in the test
    period still gets a valid (shared) vector instead of an index error or a
    silent collision with a real user. This is the convention of Covington et
    al. [2]_, where "out-of-vocabulary values are simply mapped to the zero
    embedding".

    Parameters
    ----------
    handle_unknown : {"oov", "error"}, default="oov"
        ``"oov"`` maps unknown ids to 0; ``"error"`` raises
        :class:`DataValidationError` naming the unknown ids.

    Attributes
    ----------
    classes_ : numpy.ndarray
        The known ids, sorted; ``classes_[k - 1]`` has code ``k``.
    n_classes_ : int
        ``len(classes_) + 1``, the OOV row included: the embedding table size.

    Notes
    -----
    * Ids may be ints or strings (one kind per encoder; mixing raises).
      Ints and floats count as one kind (numbers); text, booleans, bytes and
      datetimes are kinds of their own. ``fit`` raises
      :class:`DataValidationError` for ids of mixed kinds (a list included:
      ``[1, "a"]`` is checked before numpy would turn it into ``["1", "a"]``),
      and ``transform`` raises for ids of another kind than ``fit`` saw (text
      ids against an int vocabulary would all be unknown).
      Missing ids (``NaN``/``None``) raise :class:`DataValidationError`
      naming the column: clean them first.
    * Codes are ``int64``. Compared with :class:`sklearn.preprocessing.LabelEncoder`:
      ``IdEncoder().fit_transform(x) == LabelEncoder().fit_transform(x) + 1``.
    * ``inverse_transform`` maps code 0 to ``None`` (the unknown id cannot be
      recovered) and raises for codes outside ``0..n``.
    * Calling ``transform`` before ``fit`` raises :class:`NotFittedError`.

    References
    ----------
    .. [2] P. Covington, J. Adams and E. Sargin, "Deep Neural Networks for
       YouTube Recommendations", RecSys 2016.

    Examples
    --------
    >>> enc = IdEncoder().fit(pd.Series(["u7", "u3", "u7"], name="user_id"))
    >>> enc.classes_.tolist(), enc.n_classes_
    (['u3', 'u7'], 3)
    >>> enc.transform(["u7", "u3", "u999"]).tolist()
    [2, 1, 0]
    >>> enc.inverse_transform([2, 0]).tolist()
    ['u7', None]
    """

    def __init__(self, handle_unknown: str = "oov"):
        self.handle_unknown = handle_unknown

    def fit(self, ids, y=None) -> "IdEncoder":
        """Learn the vocabulary from training ids (1-D: Series, list or array)."""
        if self.handle_unknown not in ("oov", "error"):
            raise ValueError(f"handle_unknown must be 'oov' or 'error', got {self.handle_unknown!r}")
        arr, label, kind = _as_1d(ids, "IdEncoder.fit")  # mixed id types raise here
        try:
            classes = np.unique(arr)
        except TypeError as exc:
            kinds = sorted({type(v).__name__ for v in arr})
            raise DataValidationError(
                f"IdEncoder.fit: column {label!r} mixes id types {kinds}; cast it to one type, "
                "e.g. .astype(str)"
            ) from exc
        if len(classes) == 0:
            raise DataValidationError("IdEncoder.fit: no ids to learn from (empty input)")
        self._kind = kind
        self.classes_ = classes
        self.n_classes_ = len(classes) + 1
        self._index = pd.Index(classes)
        return self

    def transform(self, ids) -> np.ndarray:
        """Return the ``int64`` codes of ``ids``: ``1..n`` for known, ``0`` for unknown."""
        _check_fitted(self, "classes_")
        arr, label, kind = _as_1d(ids, "IdEncoder.transform")
        _check_fitted_kind(kind, getattr(self, "_kind", None), "IdEncoder.transform", label, "id")
        codes = self._index.get_indexer(arr).astype(np.int64) + 1
        if self.handle_unknown == "error" and np.any(codes == 0):
            unknown = pd.unique(arr[codes == 0])
            raise DataValidationError(
                f"IdEncoder.transform: column {label!r} has {len(unknown)} id(s) not seen during fit: "
                f"{_preview(unknown.tolist())}; refit on data that contains them, or use "
                "handle_unknown='oov' to map them to code 0"
            )
        return codes

    def fit_transform(self, ids, y=None) -> np.ndarray:
        """``fit(ids)`` then ``transform(ids)``."""
        return self.fit(ids).transform(ids)

    def inverse_transform(self, codes) -> np.ndarray:
        """Map codes back to ids; code 0 (OOV) becomes ``None``.

        The result has the dtype of ``classes_`` when no code is 0, ``object``
        otherwise.
        """
        _check_fitted(self, "classes_")
        codes = np.asarray(codes)
        if codes.ndim != 1 or not (np.issubdtype(codes.dtype, np.integer) or codes.size == 0):
            raise DataValidationError(
                f"IdEncoder.inverse_transform: expected a 1-D array of integer codes, got "
                f"shape {codes.shape} and dtype {codes.dtype}"
            )
        bad = (codes < 0) | (codes >= self.n_classes_)
        if bad.any():
            raise DataValidationError(
                f"IdEncoder.inverse_transform: codes {_preview(np.unique(codes[bad]).tolist())} are outside "
                f"0..{self.n_classes_ - 1} (0 is the OOV code, 1..{self.n_classes_ - 1} the known ids)"
            )
        if not np.any(codes == 0):
            return self.classes_[codes - 1]
        out = np.empty(len(codes), dtype=object)
        known = codes > 0
        out[known] = self.classes_[codes[known] - 1]
        return out


# ---------------------------------------------------------------------------
# 3. Scalers
# ---------------------------------------------------------------------------


class _TableMixin:
    """Input checks shared by the 2-D transformers (scalers, one-hot)."""

    def _feature_names(self, X) -> np.ndarray | None:
        if isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns):
            return np.asarray(X.columns, dtype=object)
        return None

    def _check_2d(self, X, method: str, reset: bool) -> tuple[list[np.ndarray], list[str]]:
        """Return the columns of ``X`` as 1-D arrays plus their names for messages."""
        who = f"{type(self).__name__}.{method}"
        if isinstance(X, pd.DataFrame):
            columns = [X.iloc[:, j] for j in range(X.shape[1])]
            labels = [str(c) for c in X.columns]
            names = self._feature_names(X)
        else:
            arr = np.asarray(X) if not sp.issparse(X) else None
            if arr is None:
                raise TypeError(f"{who}: sparse input is not supported; pass a dense array or DataFrame")
            if arr.ndim == 1:
                raise DataValidationError(
                    f"{who}: expected a 2-D array, got 1-D shape {arr.shape}; use X.reshape(-1, 1) "
                    "for a single feature"
                )
            if arr.ndim != 2:
                raise DataValidationError(f"{who}: expected a 2-D array, got shape {arr.shape}")
            columns = [pd.Series(arr[:, j]) for j in range(arr.shape[1])]
            labels = [f"x{j}" for j in range(arr.shape[1])]
            names = None
        n_rows = len(columns[0]) if columns else 0
        if n_rows == 0 or not columns:
            raise DataValidationError(f"{who}: got an empty array of shape ({n_rows}, {len(columns)})")
        if reset:
            self.n_features_in_ = len(columns)
            if names is not None:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            if len(columns) != self.n_features_in_:
                raise DataValidationError(
                    f"{who}: X has {len(columns)} feature(s), but {type(self).__name__} was fitted "
                    f"with {self.n_features_in_}"
                )
            fitted = getattr(self, "feature_names_in_", None)
            if fitted is not None and names is not None and list(names) != list(fitted):
                raise DataValidationError(
                    f"{who}: column names {list(names)} differ from those seen in fit "
                    f"{list(fitted)}; select and order the columns as during fit"
                )
        for col, label in zip(columns, labels):
            bad = np.flatnonzero(np.asarray(col.isna()))
            if len(bad):
                raise DataValidationError(
                    f"{who}: column {label!r} has {len(bad)} missing value(s) at rows "
                    f"{_preview(bad.tolist())}; impute or drop them first"
                )
        return [c.to_numpy() for c in columns], labels

    def _categorical_2d(self, X, method: str, reset: bool) -> tuple[list[np.ndarray], list[str]]:
        """:meth:`_check_2d` for encoders: each column holds one kind of value, the kind seen in fit.

        A list of rows is checked before numpy coerces it (``[[1], ["a"]]`` would become
        text), so ``fit`` raises for a column mixing ints and text, and ``transform`` for a
        column of another kind than in ``fit`` (every value would be unknown).
        """
        who = f"{type(self).__name__}.{method}"
        raw = None
        if not isinstance(X, (pd.DataFrame, np.ndarray)) and not sp.issparse(X):
            raw = np.asarray(X, dtype=object)
        columns, labels = self._check_2d(X, method, reset)
        kinds = []
        for j, (col, label) in enumerate(zip(columns, labels)):
            source = raw[:, j] if raw is not None and raw.ndim == 2 else col
            kinds.append(_check_one_kind(source, who, label))
        if reset:
            self._kinds_in = kinds
        else:
            fitted = getattr(self, "_kinds_in", None) or [None] * len(kinds)
            for kind, known, label in zip(kinds, fitted, labels):
                _check_fitted_kind(kind, known, who, label)
        return columns, labels

    def _numeric(self, X, method: str, reset: bool) -> np.ndarray:
        columns, labels = self._check_2d(X, method, reset)
        out = np.empty((len(columns[0]), len(columns)), dtype=np.float64)  # (n_samples, n_features)
        for j, (col, label) in enumerate(zip(columns, labels)):
            try:
                out[:, j] = col.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise DataValidationError(
                    f"{type(self).__name__}.{method}: column {label!r} is not numeric "
                    f"(dtype {col.dtype}); encode it (e.g. with OneHotEncoder) before scaling"
                ) from exc
            if not np.all(np.isfinite(out[:, j])):
                raise DataValidationError(
                    f"{type(self).__name__}.{method}: column {label!r} holds infinite values"
                )
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Output feature names: the input column names, or ``x0, x1, ...``."""
        _check_fitted(self, "n_features_in_")
        return self._input_names(input_features)

    def _input_names(self, input_features=None) -> np.ndarray:
        if input_features is not None:
            input_features = np.asarray(input_features, dtype=object)
            if len(input_features) != self.n_features_in_:
                raise ValueError(
                    f"input_features has {len(input_features)} names, expected {self.n_features_in_}"
                )
            fitted = getattr(self, "feature_names_in_", None)
            if fitted is not None and list(fitted) != list(input_features):
                raise ValueError(f"input_features {list(input_features)} differ from feature_names_in_")
            return input_features
        if hasattr(self, "feature_names_in_"):
            return self.feature_names_in_.copy()
        return np.asarray([f"x{j}" for j in range(self.n_features_in_)], dtype=object)


class StandardScaler(_TableMixin, TransformerMixin, BaseEstimator):
    r"""Standardise each feature to zero mean and unit variance.

    .. math:: z = \frac{x - \mu}{\sigma}, \qquad
              \mu = \frac{1}{n}\sum_i x_i, \qquad
              \sigma = \sqrt{\frac{1}{n}\sum_i (x_i - \mu)^2}

    with the population standard deviation (``ddof=0``), learned on the
    training rows only and reused unchanged on validation/test rows.

    Parameters
    ----------
    with_mean : bool, default=True
        Subtract :math:`\mu` (else use :math:`\mu = 0`).
    with_std : bool, default=True
        Divide by :math:`\sigma` (else use :math:`\sigma = 1`).

    Attributes
    ----------
    mean_ : numpy.ndarray of shape (n_features,)
    var_ : numpy.ndarray of shape (n_features,)
        Population variance (``ddof=0``).
    scale_ : numpy.ndarray of shape (n_features,)
        :math:`\sigma`, except 1 for a constant feature.
    n_features_in_ : int
    feature_names_in_ : numpy.ndarray, only when fitted on a DataFrame with string column names
    n_samples_seen_ : int

    Notes
    -----
    * Constant features (``max == min`` in training) get ``scale_ = 1``, as
      in scikit-learn, so they map to 0 instead of dividing by zero; their
      ``mean_`` is the constant itself and ``var_`` is exactly 0.
    * Output is always ``float64``. Missing values raise
      :class:`DataValidationError` naming the column (scikit-learn ignores
      them in ``fit``; here cleaning is a separate, explicit step).
    * Equal to :class:`sklearn.preprocessing.StandardScaler` up to floating
      point (tested).

    References
    ----------
    F. Pedregosa et al., "Scikit-learn: Machine Learning in Python", JMLR 12,
    2011 (``sklearn.preprocessing.StandardScaler``).

    Examples
    --------
    >>> X = np.array([[1.0, 5.0], [3.0, 5.0]])
    >>> StandardScaler().fit_transform(X)
    array([[-1.,  0.],
           [ 1.,  0.]])
    """

    def __init__(self, with_mean: bool = True, with_std: bool = True):
        self.with_mean = with_mean
        self.with_std = with_std

    def fit(self, X, y=None) -> "StandardScaler":
        """Learn ``mean_``, ``var_`` and ``scale_`` from the training rows ``X``."""
        X = self._numeric(X, "fit", reset=True)  # (n_samples, n_features)
        self.n_samples_seen_ = X.shape[0]
        constant = X.max(axis=0) == X.min(axis=0)
        # A constant column's mean is its value: take it exactly, so the column maps to 0.0
        # exactly (a floating-point sum of n copies of 0.1, divided by n, need not give 0.1).
        mean = np.where(constant, X[0], X.mean(axis=0))
        self.mean_ = mean if self.with_mean else np.zeros(X.shape[1])
        if self.with_std:
            self.var_ = np.where(constant, 0.0, X.var(axis=0))  # ddof=0
            self.scale_ = np.where(constant, 1.0, np.sqrt(self.var_))
        else:
            self.var_ = None
            self.scale_ = None
        return self

    def transform(self, X) -> np.ndarray:
        """Return :math:`(x - \\mu) / \\sigma` as a new ``float64`` array."""
        _check_fitted(self, "mean_")
        X = self._numeric(X, "transform", reset=False)
        Z = X - self.mean_
        if self.scale_ is not None:
            Z = Z / self.scale_
        return Z

    def inverse_transform(self, Z) -> np.ndarray:
        """Return :math:`z \\sigma + \\mu` (undo :meth:`transform`)."""
        _check_fitted(self, "mean_")
        Z = self._numeric(Z, "inverse_transform", reset=False)
        X = Z * self.scale_ if self.scale_ is not None else Z.copy()
        return X + self.mean_


class MinMaxScaler(_TableMixin, TransformerMixin, BaseEstimator):
    r"""Rescale each feature linearly into ``feature_range``.

    .. math:: x' = a + \frac{x - x_{\min}}{x_{\max} - x_{\min}}\,(b - a),
              \qquad (a, b) = \text{feature\_range}

    with :math:`x_{\min}, x_{\max}` learned on the training rows only.
    Implemented, as in scikit-learn, as ``x * scale_ + min_``.

    Parameters
    ----------
    feature_range : (float, float), default=(0, 1)
        Target interval ``(a, b)`` with ``a < b``.
    clip : bool, default=False
        Clip transformed values into ``feature_range``. Without clipping, a
        test value outside the training range maps outside ``(a, b)``.

    Attributes
    ----------
    data_min_, data_max_, data_range_ : numpy.ndarray of shape (n_features,)
    scale_ : numpy.ndarray of shape (n_features,)
        ``(b - a) / data_range_`` (a constant feature uses range 1).
    min_ : numpy.ndarray of shape (n_features,)
        ``a - data_min_ * scale_``.
    n_features_in_ : int
    feature_names_in_ : numpy.ndarray, only when fitted on a DataFrame with string column names
    n_samples_seen_ : int

    Notes
    -----
    Constant features (``max == min``) use a range of 1, as in scikit-learn,
    so they map to ``a``. Output is ``float64``; missing values raise.
    Equal to :class:`sklearn.preprocessing.MinMaxScaler` (tested).

    References
    ----------
    F. Pedregosa et al., "Scikit-learn: Machine Learning in Python", JMLR 12,
    2011 (``sklearn.preprocessing.MinMaxScaler``).

    Examples
    --------
    >>> MinMaxScaler().fit_transform(np.array([[1.0], [3.0], [5.0]])).ravel()
    array([0. , 0.5, 1. ])
    """

    def __init__(self, feature_range: tuple[float, float] = (0, 1), clip: bool = False):
        self.feature_range = feature_range
        self.clip = clip

    def fit(self, X, y=None) -> "MinMaxScaler":
        """Learn ``data_min_``, ``data_max_``, ``scale_`` and ``min_`` from ``X``."""
        a, b = self._range()
        X = self._numeric(X, "fit", reset=True)  # (n_samples, n_features)
        self.n_samples_seen_ = X.shape[0]
        self.data_min_ = X.min(axis=0)
        self.data_max_ = X.max(axis=0)
        self.data_range_ = self.data_max_ - self.data_min_
        safe_range = np.where(self.data_range_ == 0, 1.0, self.data_range_)
        self.scale_ = (b - a) / safe_range
        self.min_ = a - self.data_min_ * self.scale_
        return self

    def _range(self) -> tuple[float, float]:
        fr = self.feature_range
        if len(fr) != 2 or not fr[0] < fr[1]:
            raise ValueError(f"feature_range must be (a, b) with a < b, got {fr!r}")
        return float(fr[0]), float(fr[1])

    def transform(self, X) -> np.ndarray:
        """Return ``x * scale_ + min_`` as a new ``float64`` array."""
        _check_fitted(self, "scale_")
        X = self._numeric(X, "transform", reset=False)
        out = X * self.scale_ + self.min_
        if self.clip:
            out = np.clip(out, *self._range())
        return out

    def inverse_transform(self, Z) -> np.ndarray:
        """Return ``(z - min_) / scale_`` (undo :meth:`transform`)."""
        _check_fitted(self, "scale_")
        Z = self._numeric(Z, "inverse_transform", reset=False)
        return (Z - self.min_) / self.scale_


# ---------------------------------------------------------------------------
# 4. One-hot encoding
# ---------------------------------------------------------------------------


class OneHotEncoder(_TableMixin, TransformerMixin, BaseEstimator):
    r"""Expand each categorical feature into one 0/1 column per category.

    For feature :math:`j` with learned categories
    :math:`c_{j,1} < \dots < c_{j,K_j}`, a value :math:`v` becomes the row
    vector :math:`e_k \in \{0,1\}^{K_j}` with :math:`k` such that
    :math:`c_{j,k} = v`; the blocks of all features are concatenated into
    :math:`\sum_j K_j` columns.

    Parameters
    ----------
    handle_unknown : {"error", "ignore"}, default="error"
        A category not seen in ``fit``: ``"error"`` raises
        :class:`DataValidationError` naming the column and values;
        ``"ignore"`` encodes it as an all-zero block.
    sparse_output : bool, default=False
        Return a :class:`scipy.sparse.csr_matrix` instead of a dense array
        (the name scikit-learn uses since 1.2).
    dtype : numpy dtype, default=numpy.float32
        Dtype of the output; ``float32`` is what embedding/linear layers eat.

    Attributes
    ----------
    categories_ : list of numpy.ndarray
        Sorted categories of each feature, learned in ``fit``.
    n_features_in_ : int
    feature_names_in_ : numpy.ndarray, only when fitted on a DataFrame with string column names

    Notes
    -----
    * Output column names (:meth:`get_feature_names_out`) are
      ``"{feature}_{category}"``, e.g. ``"genre_Comedy"``, as in scikit-learn.
    * Missing values raise :class:`DataValidationError` (scikit-learn would
      make ``NaN`` a category of its own). So does a column mixing kinds of
      values (ints and text; ints and floats are one kind), in ``fit``, a list
      of rows included, and a column of another kind than in ``fit``, in
      ``transform``.
    * ``inverse_transform`` maps an all-zero block (an ignored unknown) to
      ``None`` and returns an ``object`` array.
    * Equal to :class:`sklearn.preprocessing.OneHotEncoder` with the same
      ``handle_unknown``, ``sparse_output`` and ``dtype`` (tested).

    References
    ----------
    F. Pedregosa et al., "Scikit-learn: Machine Learning in Python", JMLR 12,
    2011 (``sklearn.preprocessing.OneHotEncoder``).

    Examples
    --------
    >>> X = pd.DataFrame({"genre": ["Drama", "Comedy", "Drama"]})
    >>> enc = OneHotEncoder().fit(X)
    >>> enc.get_feature_names_out().tolist()
    ['genre_Comedy', 'genre_Drama']
    >>> enc.transform(X)
    array([[0., 1.],
           [1., 0.],
           [0., 1.]], dtype=float32)
    """

    def __init__(self, handle_unknown: str = "error", sparse_output: bool = False, dtype=np.float32):
        self.handle_unknown = handle_unknown
        self.sparse_output = sparse_output
        self.dtype = dtype

    def fit(self, X, y=None) -> "OneHotEncoder":
        """Learn the sorted categories of every column of ``X``."""
        if self.handle_unknown not in ("error", "ignore"):
            raise ValueError(f"handle_unknown must be 'error' or 'ignore', got {self.handle_unknown!r}")
        columns, labels = self._categorical_2d(X, "fit", reset=True)
        categories = []
        for col, label in zip(columns, labels):
            try:
                categories.append(np.unique(col))
            except TypeError as exc:
                raise DataValidationError(
                    f"OneHotEncoder.fit: column {label!r} mixes value types; cast it to one type, "
                    "e.g. .astype(str)"
                ) from exc
        self.categories_ = categories
        return self

    def transform(self, X):
        """Return the one-hot matrix of shape ``(n_samples, sum of len(categories_))``."""
        _check_fitted(self, "categories_")
        columns, labels = self._categorical_2d(X, "transform", reset=False)
        n = len(columns[0])
        rows, cols, offset = [], [], 0
        for col, label, cats in zip(columns, labels, self.categories_):
            code = pd.Index(cats).get_indexer(col)  # -1 where unknown
            unknown = code < 0
            if unknown.any() and self.handle_unknown == "error":
                raise DataValidationError(
                    f"OneHotEncoder.transform: found unknown categories "
                    f"{_preview(pd.unique(col[unknown]).tolist())} in column {label!r} during transform; "
                    "refit on data that contains them or use handle_unknown='ignore'"
                )
            known = np.flatnonzero(~unknown)
            rows.append(known)
            cols.append(code[known] + offset)
            offset += len(cats)
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        data = np.ones(len(rows), dtype=self.dtype)
        out = sp.csr_matrix((data, (rows, cols)), shape=(n, offset))  # (n_samples, n_outputs)
        return out if self.sparse_output else out.toarray()

    def inverse_transform(self, Xt) -> np.ndarray:
        """Return the original categories as an ``object`` array; all-zero blocks -> ``None``."""
        _check_fitted(self, "categories_")
        dense = Xt.toarray() if sp.issparse(Xt) else np.asarray(Xt)
        n_out = sum(len(c) for c in self.categories_)
        if dense.ndim != 2 or dense.shape[1] != n_out:
            raise DataValidationError(
                f"OneHotEncoder.inverse_transform: expected shape (n, {n_out}), got {dense.shape}"
            )
        out = np.empty((dense.shape[0], len(self.categories_)), dtype=object)
        offset = 0
        for j, cats in enumerate(self.categories_):
            block = dense[:, offset : offset + len(cats)]
            offset += len(cats)
            hot = block.sum(axis=1)
            if np.any((block != 0) & (block != 1)) or np.any(hot > 1):
                raise DataValidationError(
                    f"OneHotEncoder.inverse_transform: block of feature {j} is not one-hot "
                    "(values other than 0/1, or more than one 1 in a row)"
                )
            out[:, j] = cats[block.argmax(axis=1)]
            out[hot == 0, j] = None
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names ``"{feature}_{category}"`` of the output columns."""
        _check_fitted(self, "categories_")
        names = self._input_names(input_features)
        return np.asarray(
            [f"{f}_{c}" for f, cats in zip(names, self.categories_) for c in cats], dtype=object
        )


# ---------------------------------------------------------------------------
# 5. Sparse interaction matrix
# ---------------------------------------------------------------------------


def interactions_to_csr(
    df: pd.DataFrame,
    n_users: int,
    n_items: int,
    user_col: str = DEFAULT_USER_COL,
    item_col: str = DEFAULT_ITEM_COL,
    value_col: str | None = None,
    dtype=np.float32,
    name: str = "interactions",
) -> sp.csr_matrix:
    r"""Build the ``n_users x n_items`` interaction matrix :math:`R`.

    .. math:: R_{ui} = \begin{cases} r_{ui} & \text{(value\_col given)} \\
              1 & \text{(otherwise)} \end{cases}
              \quad\text{if } (u, i) \text{ occurs, else } 0.

    Ranking code uses the training matrix to exclude already-seen items from a
    top-k list: ``scores[R[u].indices] = -inf``.

    Parameters
    ----------
    df : pandas.DataFrame
        Interactions whose ``user_col``/``item_col`` hold integer indices in
        ``0..n_users-1`` / ``0..n_items-1`` (for :class:`IdEncoder` codes pass
        ``n_users=user_encoder.n_classes_``). Never modified.
    n_users, n_items : int
        Matrix shape.
    user_col, item_col : str
        Integer index columns.
    value_col : str, optional
        Values to store; ``None`` stores 1 (implicit feedback).
    dtype : numpy dtype, default=numpy.float32
    name : str
        Name of the frame in error messages.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_users, n_items)

    Notes
    -----
    Without ``value_col`` a repeated (user, item) pair still gives 1. With
    ``value_col`` repeated pairs raise :class:`DataValidationError` (summing
    two ratings is never what is meant); deduplicate with
    :func:`clean_interactions` first.

    References
    ----------
    Y. Hu, Y. Koren and C. Volinsky, "Collaborative Filtering for Implicit
    Feedback Datasets", ICDM 2008 (the binary preference matrix).

    Examples
    --------
    >>> df = pd.DataFrame({"user_id": [0, 0, 2], "item_id": [1, 3, 0]})
    >>> interactions_to_csr(df, n_users=3, n_items=4).toarray()
    array([[0., 1., 0., 1.],
           [0., 0., 0., 0.],
           [1., 0., 0., 0.]], dtype=float32)
    """
    check_dataframe(df, name)
    cols = [user_col, item_col] + ([value_col] if value_col is not None else [])
    check_columns(df, cols, name)
    check_no_nan(df, cols, name)
    for col, size, what in ((user_col, n_users, "n_users"), (item_col, n_items, "n_items")):
        if not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"{what} must be a positive int, got {size!r}")
        if not pd.api.types.is_integer_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            raise DataValidationError(
                f"{name}: column {col!r} has dtype {df[col].dtype}, not integer indices; "
                "encode raw ids with recfeat_ref.preprocessing.IdEncoder first"
            )
        values = df[col].to_numpy()
        bad = (values < 0) | (values >= size)
        if bad.any():
            raise DataValidationError(
                f"{name}: column {col!r} has indices {_preview(np.unique(values[bad]).tolist())} outside "
                f"0..{size - 1}; raise {what} (for IdEncoder codes use encoder.n_classes_)"
            )
    rows = df[user_col].to_numpy(dtype=np.int64)
    cols_ = df[item_col].to_numpy(dtype=np.int64)
    if value_col is None:
        data = np.ones(len(df), dtype=dtype)
    else:
        check_unique_pairs(df, (user_col, item_col), name)
        data = df[value_col].to_numpy(dtype=dtype)
    matrix = sp.csr_matrix((data, (rows, cols_)), shape=(n_users, n_items), dtype=dtype)
    matrix.sum_duplicates()
    if value_col is None:
        matrix.data[:] = 1
    return matrix
