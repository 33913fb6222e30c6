r"""The click-through-rate (CTR) protocol's data: one row per rating, many sparse fields.

The CTR chapter turns MovieLens-100K into the kind of table that click-through-rate
models are built for (Guo et al. [1]_; Wang et al. [2]_): every rating is an
*impression* described by a handful of categorical *fields* (who, what, and the
side information of both), and its label is whether the user liked the film.

Four steps, each one function or object here:

1. :func:`ctr_frame` joins the ratings with the user and item tables, buckets age
   and release year, and adds the binary label :math:`y = [\,r \ge 4\,]`.
2. :func:`ctr_split` cuts the rows 80/10/10 at random (seeded) into train,
   validation and test.
3. :class:`CTRFeaturizer` learns one vocabulary per field *on the training rows
   only* and turns any frame into tensors (a :class:`CTRBatch`).
4. :func:`build_ctr_features` does 1-3 in one call.

Conventions
-----------
* Index 0 of every categorical field is the out-of-vocabulary slot ("not seen in
  training"), as for :class:`~recfeat_ref.preprocessing.IdEncoder`: a value first met
  in the validation or test rows maps to 0, whose embedding is zero in every model of
  :mod:`recfeat_ref.neural`.
* A multi-hot field (the genres) becomes one 0/1 column per value seen in training;
  values never seen in training are dropped (the row keeps its other values).
* Nothing here modifies its input or touches global random state.

References
----------
.. [1] H. Guo, R. Tang, Y. Ye, Z. Li and X. He, "DeepFM: A Factorization-Machine
   based Neural Network for CTR Prediction", IJCAI 2017.
.. [2] R. Wang, R. Shivanna, D. Cheng, S. Jain, D. Lin, L. Hong and E. Chi,
   "DCN V2: Improved Deep & Cross Network and Practical Lessons for Web-scale
   Learning to Rank Systems", WWW 2021.
.. [3] F. M. Harper and J. A. Konstan, "The MovieLens Datasets: History and
   Context", ACM TiiS 5(4), 2015 (the MovieLens-1M age groups used by
   :func:`age_bucket`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from recfeat_ref import DEFAULT_ITEM_COL, DEFAULT_RATING_COL, DEFAULT_USER_COL
from recfeat_ref._validation import (
    DataValidationError,
    _preview,
    check_columns,
    check_dataframe,
)
from recfeat_ref.preprocessing import IdEncoder, NotFittedError
from recfeat_ref.splits import random_split

__all__ = [
    "AGE_BINS",
    "UNKNOWN",
    "CTRBatch",
    "CTRData",
    "CTRFeaturizer",
    "add_dense",
    "age_bucket",
    "build_ctr_features",
    "ctr_frame",
    "ctr_split",
    "fit_ctr",
    "lookup_rows",
    "year_bucket",
]

#: The value that a missing age or year becomes: a category of its own.
UNKNOWN = "unknown"

#: Lower edges of the MovieLens-1M age groups (Harper and Konstan, 2015): a bucket holds
#: ``edge <= age < next edge``; the first holds every age below 18, the last every age from 56.
AGE_BINS: tuple[int, ...] = (0, 18, 25, 35, 45, 50, 56)
_AGE_LABELS = ("<18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+")

#: The user and item columns that :func:`ctr_frame` brings in.
_USER_SIDE = ("age", "gender", "occupation")
_ITEM_SIDE = ("year", "genres")


# ---------------------------------------------------------------------------
# 1. Buckets and the joined frame
# ---------------------------------------------------------------------------


def age_bucket(age) -> pd.Series:
    """Age in years -> the MovieLens-1M age group, as a string.

    ====== ======= ======= ======= ======= ======= =====
    <18    18-24   25-34   35-44   45-49   50-55   56+
    ====== ======= ======= ======= ======= ======= =====

    A bucket is closed on the left: 18 is in ``"18-24"``, 24 too, 25 is in
    ``"25-34"``. A missing age becomes ``"unknown"``, a category of its own.

    Parameters
    ----------
    age : array-like or pandas.Series of numbers (NaN/NA allowed)

    Returns
    -------
    pandas.Series of str
        Same length (and index, for a Series) as ``age``.

    Raises
    ------
    DataValidationError
        If an age is negative or not a number.

    Examples
    --------
    >>> age_bucket([17, 18, 24, 25, 55, 56, None]).tolist()
    ['<18', '18-24', '18-24', '25-34', '50-55', '56+', 'unknown']
    """
    s = age if isinstance(age, pd.Series) else pd.Series(age, dtype=object)
    values = pd.to_numeric(s, errors="coerce").astype("float64")
    bad = values.isna() & s.notna()
    if bad.any() or (values < 0).any():
        shown = pd.unique(s[bad | (values < 0)])
        raise DataValidationError(f"age_bucket: ages must be non-negative numbers, found {_preview(shown)}")
    codes = np.searchsorted(np.asarray(AGE_BINS[1:]), values.to_numpy(na_value=np.nan), side="right")
    labels = np.asarray(_AGE_LABELS, dtype=object)[np.minimum(codes, len(_AGE_LABELS) - 1)]
    labels[values.isna().to_numpy()] = UNKNOWN
    return pd.Series(labels, index=s.index, dtype="str", name=s.name)


def year_bucket(year) -> pd.Series:
    """Release year -> its decade, e.g. ``1995 -> "1990s"``; missing -> ``"unknown"``.

    A decade runs from ``..0`` to ``..9`` (1990-1999 is ``"1990s"``).

    Parameters
    ----------
    year : array-like or pandas.Series of whole numbers (NA allowed), e.g. the
        nullable ``Int64`` column ``MovieLens100K.items["year"]``.

    Returns
    -------
    pandas.Series of str

    Examples
    --------
    >>> year_bucket(pd.array([1989, 1990, 1999, 2000, None], dtype="Int64")).tolist()
    ['1980s', '1990s', '1990s', '2000s', 'unknown']
    """
    s = year if isinstance(year, pd.Series) else pd.Series(year, dtype=object)
    values = pd.to_numeric(s, errors="coerce").astype("float64")
    bad = (values.isna() & s.notna()) | (values != np.floor(values)) & values.notna()
    if bad.any():
        raise DataValidationError(f"year_bucket: years must be whole numbers, found {_preview(pd.unique(s[bad]))}")
    missing = values.isna().to_numpy()
    decades = (np.floor(values.fillna(0).to_numpy() / 10) * 10).astype(np.int64)
    labels = np.array([f"{d}s" for d in decades], dtype=object)
    labels[missing] = UNKNOWN
    return pd.Series(labels, index=s.index, dtype="str", name=s.name)


def ctr_frame(ml, threshold: float = 4) -> pd.DataFrame:
    r"""Join ratings with users and items: one CTR row per rating.

    The label is :math:`y = [\,r \ge \text{threshold}\,]` ("liked"; 55% of the
    ML-100K ratings are 4 or 5 stars). Two bucketed columns are added:
    ``age_bucket`` (:func:`age_bucket`) and ``year_bucket`` (:func:`year_bucket`).

    Parameters
    ----------
    ml : MovieLens100K or any object with ``ratings``, ``users`` and ``items`` frames
        ``ratings``: ``user_id, item_id, rating`` (+ anything else, kept);
        ``users``: ``user_id, age, gender, occupation``;
        ``items``: ``item_id, year, genres`` (a list of genre names per item).
        None of them is modified.
    threshold : float, default=4
        Ratings at or above it are positives.

    Returns
    -------
    pandas.DataFrame
        The ratings' columns in their order and index, then ``age, gender,
        occupation, year, genres, age_bucket, year_bucket, label`` (``label`` int64 0/1).

    Raises
    ------
    DataValidationError
        A missing column (named, with the table), or a rating whose user or item
        is absent from the users or items table (the ids are named).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> ml = SimpleNamespace(
    ...     ratings=pd.DataFrame({"user_id": [1, 2], "item_id": [10, 10], "rating": [5, 2]}),
    ...     users=pd.DataFrame({"user_id": [1, 2], "age": [17, 40], "gender": ["F", "M"],
    ...                         "occupation": ["student", "writer"]}),
    ...     items=pd.DataFrame({"item_id": [10], "year": [1995], "genres": [["Comedy"]]}))
    >>> ctr_frame(ml)[["user_id", "age_bucket", "year_bucket", "label"]].values.tolist()
    [[1, '<18', '1990s', 1], [2, '35-44', '1990s', 0]]
    """
    ratings, users, items = ml.ratings, ml.users, ml.items
    for frame, name, cols in (
        (ratings, "ratings", (DEFAULT_USER_COL, DEFAULT_ITEM_COL, DEFAULT_RATING_COL)),
        (users, "users", (DEFAULT_USER_COL, *_USER_SIDE)),
        (items, "items", (DEFAULT_ITEM_COL, *_ITEM_SIDE)),
    ):
        check_dataframe(frame, name)
        check_columns(frame, cols, name)
    out = ratings.copy()
    for key, side, cols, name in (
        (DEFAULT_USER_COL, users, _USER_SIDE, "users"),
        (DEFAULT_ITEM_COL, items, _ITEM_SIDE, "items"),
    ):
        if side[key].duplicated().any():
            dup = pd.unique(side.loc[side[key].duplicated(), key])
            raise DataValidationError(f"{name}: column {key!r} repeats ids {_preview(dup)}; keep one row per id")
        table = side.set_index(key)
        pos = table.index.get_indexer(ratings[key])
        if (pos < 0).any():
            absent = pd.unique(ratings[key].to_numpy()[pos < 0])
            raise DataValidationError(
                f"ratings: {len(absent)} {key} value(s) {_preview(absent.tolist())} are not in the {name} "
                f"table; add them to {name} or drop their ratings"
            )
        for col in cols:
            out[col] = table[col].iloc[pos].to_numpy()
    out["year"] = pd.array(out["year"], dtype="Int64")
    out["age_bucket"] = age_bucket(out["age"]).to_numpy()
    out["year_bucket"] = year_bucket(out["year"]).to_numpy()
    out["label"] = (out[DEFAULT_RATING_COL] >= threshold).astype(np.int64)
    return out


def ctr_split(frame: pd.DataFrame, seed=0, ratios=(0.8, 0.1, 0.1)) -> tuple[pd.DataFrame, ...]:
    """Random 80/10/10 train/validation/test split of the CTR rows.

    A global random holdout (:func:`recfeat_ref.splits.random_split`): each rating
    lands in a part independently of its user and item, the way impressions of the
    same day are split in CTR benchmarks. So a few validation/test users or items
    are absent from train; the featurizer maps them to the OOV index 0 (on ML-100K
    with seed 0, 15 of the 10,000 test rows have an item unseen in training).

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows (ratings, or :func:`ctr_frame`'s output). Never modified.
    seed : int or numpy.random.Generator, default=0
    ratios : tuple of float, default=(0.8, 0.1, 0.1)
        Fractions of (train, valid, test); cut points rounded half up.

    Returns
    -------
    (train, valid, test) : tuple of pandas.DataFrame
        Original index labels and row order kept.

    Examples
    --------
    >>> train, valid, test = ctr_split(pd.DataFrame({"x": range(10)}), seed=0)
    >>> len(train), len(valid), len(test)
    (8, 1, 1)
    """
    return random_split(frame, ratios=ratios, seed=seed)


# ---------------------------------------------------------------------------
# 2. Tensors
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CTRBatch:
    """The tensors of a CTR frame, ready for :class:`~recfeat_ref.training.Trainer`.

    Attributes
    ----------
    x_cat : torch.Tensor, (n, F) int64
        Field-wise codes, column ``f`` for ``fields[f]``; 0 = unseen in training.
    x_multi : torch.Tensor, (n, G) float32
        Multi-hot blocks side by side (``G = sum(multi_dims)``); 0/1 entries.
    y : torch.Tensor (n,) float32, or None
        Labels, when the frame has the label column.
    index : numpy.ndarray (n,)
        The frame's index labels, to trace a row back.

    Examples
    --------
    >>> batch = CTRBatch(torch.tensor([[1, 2], [2, 1]]), torch.zeros(2, 1), torch.tensor([1.0, 0.0]), np.arange(2))
    >>> len(batch), batch.pair[1].tolist()
    (2, [1.0, 0.0])
    """

    x_cat: torch.Tensor
    x_multi: torch.Tensor
    y: torch.Tensor | None
    index: np.ndarray

    def __len__(self) -> int:
        return self.x_cat.shape[0]

    @property
    def inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x_cat, x_multi)``: what every model of :mod:`recfeat_ref.neural` is called with."""
        return self.x_cat, self.x_multi

    @property
    def pair(self) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        """``((x_cat, x_multi), y)``, the pair :meth:`Trainer.fit` takes."""
        if self.y is None:
            raise DataValidationError("CTRBatch.pair: this batch has no labels (the frame had no label column)")
        return self.inputs, self.y


def add_dense(batch: CTRBatch, *blocks) -> CTRBatch:
    """A copy of ``batch`` with dense feature blocks appended to ``x_multi``.

    Each block is an array of shape ``(len(batch), d)`` (e.g. the embedding of each row's
    user, looked up with :func:`lookup_rows`); pass ``dense_dims=(d1, d2, ...)`` in the
    same order to the model's config (:class:`~recfeat_ref.neural.LRConfig`).

    Raises
    ------
    DataValidationError
        If a block is not 2-D with one row per batch row, or holds NaN or infinity.

    Examples
    --------
    >>> batch = CTRBatch(torch.tensor([[1, 2], [2, 1]]), torch.zeros(2, 1), None, np.arange(2))
    >>> add_dense(batch, np.ones((2, 3))).x_multi.shape
    torch.Size([2, 4])
    """
    arrays = [batch.x_multi]
    for k, block in enumerate(blocks):
        block = torch.as_tensor(np.asarray(block, dtype=np.float32))
        if block.dim() != 2 or block.shape[0] != len(batch):
            raise DataValidationError(
                f"add_dense: block {k} must have shape ({len(batch)}, d), got {tuple(block.shape)}"
            )
        if not torch.isfinite(block).all():
            raise DataValidationError(f"add_dense: block {k} holds NaN or infinite values")
        arrays.append(block)
    return CTRBatch(x_cat=batch.x_cat, x_multi=torch.cat(arrays, dim=1), y=batch.y, index=batch.index)


def lookup_rows(keys, ids, matrix, default=None) -> np.ndarray:
    """Row ``j`` of ``matrix`` for each key equal to ``ids[j]``; ``default`` (zeros) for unknown keys.

    Turns a per-user or per-item feature table (``matrix`` of shape ``(len(ids), d)``, e.g.
    ``model.user_factors_`` with ``model.user_ids_``) into one row per CTR row.

    Shapes: keys (n,), ids (m,), matrix (m, d) -> (n, d) float32.

    Examples
    --------
    >>> lookup_rows([3, 1, 9], ids=[1, 3], matrix=np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([[3., 4.],
           [1., 2.],
           [0., 0.]], dtype=float32)
    """
    matrix = np.asarray(matrix, dtype=np.float32)
    ids = np.asarray(ids)
    if matrix.ndim != 2 or len(matrix) != len(ids):
        raise DataValidationError(f"lookup_rows: matrix must have shape ({len(ids)}, d), got {matrix.shape}")
    pos = pd.Index(ids).get_indexer(np.asarray(keys))  # (n,) -1 = unknown
    out = np.empty((len(pos), matrix.shape[1]), dtype=np.float32)
    out[:] = 0.0 if default is None else np.asarray(default, dtype=np.float32)
    out[pos >= 0] = matrix[pos[pos >= 0]]
    return out


class CTRFeaturizer:
    """Encode categorical and multi-hot fields, learning every vocabulary on training rows.

    Each field in ``fields`` gets its own :class:`~recfeat_ref.preprocessing.IdEncoder`
    (codes ``1..n`` for the values seen in ``fit``, 0 for any other); each column in
    ``multi_hot`` (lists of values per row) gets one 0/1 column per value seen in
    ``fit``, sorted, and unseen values are dropped.

    Parameters
    ----------
    fields : tuple of str
        Categorical columns. Default: user and item ids, the user's age group,
        gender and occupation, and the film's decade (the columns of :func:`ctr_frame`).
    multi_hot : tuple of str
        Columns holding a list (or tuple) of values per row; default ``("genres",)``.
    label_col : str or None
        The label column; when present in a frame, :meth:`transform` returns it as ``y``.

    Attributes
    ----------
    encoders_ : dict of str to IdEncoder
        One per field, fitted on the training rows.
    vocabularies_ : dict of str to numpy.ndarray
        The sorted values of each multi-hot column seen in training.
    field_dims_ : tuple of int
        ``encoders_[f].n_classes_`` per field: embedding table sizes, OOV row included.
    multi_dims_ : tuple of int
        Number of 0/1 columns per multi-hot column.

    Examples
    --------
    >>> train = pd.DataFrame({"user_id": [1, 2, 2], "genres": [["Drama"], ["Comedy", "Drama"], []],
    ...                       "label": [1, 0, 1]})
    >>> feat = CTRFeaturizer(fields=("user_id",)).fit(train)
    >>> feat.field_dims_, feat.multi_dims_
    ((3,), (2,))
    >>> batch = feat.transform(pd.DataFrame({"user_id": [2, 99], "genres": [["Drama", "Horror"], []]}))
    >>> batch.x_cat.tolist(), batch.x_multi.tolist(), batch.y
    ([[2], [0]], [[0.0, 1.0], [0.0, 0.0]], None)
    """

    def __init__(
        self,
        fields: Sequence[str] = (
            DEFAULT_USER_COL, DEFAULT_ITEM_COL, "age_bucket", "gender", "occupation", "year_bucket",
        ),  # fmt: skip
        multi_hot: Sequence[str] = ("genres",),
        label_col: str | None = "label",
    ):
        self.fields = tuple(fields)
        self.multi_hot = tuple(multi_hot)
        self.label_col = label_col

    def _check_params(self) -> None:
        names = self.fields + self.multi_hot
        if not self.fields:
            raise ValueError("fields must name at least one categorical column")
        if not all(isinstance(c, str) for c in names):
            raise ValueError(f"fields and multi_hot must be column names (str), got {names}")
        if len(set(names)) != len(names):
            raise ValueError(f"fields and multi_hot must not repeat a column, got {names}")

    def _check_frame(self, frame: pd.DataFrame, method: str) -> None:
        check_dataframe(frame, f"CTRFeaturizer.{method}")
        missing = [c for c in self.fields + self.multi_hot if c not in frame.columns]
        if missing:
            hint = ""
            if {"age_bucket", "year_bucket"} & set(missing):
                hint = " (ctr_frame adds age_bucket and year_bucket from age and year)"
            raise DataValidationError(
                f"CTRFeaturizer.{method}: missing column(s) {missing}; the frame has {list(frame.columns)}{hint}"
            )

    def _lists(self, frame: pd.DataFrame, col: str, method: str) -> pd.Series:
        values = frame[col]
        bad = ~values.map(lambda v: isinstance(v, (list, tuple, np.ndarray)))
        if bad.any():
            raise DataValidationError(
                f"CTRFeaturizer.{method}: column {col!r} must hold a list of values per row (multi-hot); "
                f"found {_preview(values[bad].head(5).tolist())} at rows {_preview(frame.index[bad.to_numpy()])}"
            )
        return values.reset_index(drop=True).explode().dropna()  # one row per (row position, value)

    def fit(self, frame: pd.DataFrame, y=None) -> CTRFeaturizer:
        """Learn one vocabulary per field from the training rows ``frame``."""
        self._check_params()
        self._check_frame(frame, "fit")
        self.encoders_ = {f: IdEncoder().fit(frame[f]) for f in self.fields}
        self.vocabularies_ = {}
        for col in self.multi_hot:
            values = self._lists(frame, col, "fit")
            self.vocabularies_[col] = np.unique(values.to_numpy()) if len(values) else np.array([], dtype=object)
        self.field_dims_ = tuple(self.encoders_[f].n_classes_ for f in self.fields)
        self.multi_dims_ = tuple(len(self.vocabularies_[c]) for c in self.multi_hot)
        return self

    def transform(self, frame: pd.DataFrame) -> CTRBatch:
        """Encode ``frame`` with the training vocabularies; unseen values -> 0 / dropped."""
        if not hasattr(self, "encoders_"):
            raise NotFittedError(
                "This CTRFeaturizer instance is not fitted yet. Call 'fit' with the training rows first."
            )
        self._check_frame(frame, "transform")
        n = len(frame)
        codes = [self.encoders_[f].transform(frame[f]) for f in self.fields]
        x_cat = torch.from_numpy(np.stack(codes, axis=1).astype(np.int64))  # (n, F)
        blocks = []
        for col in self.multi_hot:
            vocab = self.vocabularies_[col]
            block = np.zeros((n, len(vocab)), dtype=np.float32)  # (n, G_col)
            values = self._lists(frame, col, "transform")
            if len(vocab) and len(values):
                pos = pd.Index(vocab).get_indexer(values.to_numpy())  # -1 = unseen value
                keep = pos >= 0
                block[values.index.to_numpy()[keep], pos[keep]] = 1.0
            blocks.append(block)
        x_multi = torch.from_numpy(np.concatenate(blocks, axis=1) if blocks else np.zeros((n, 0), np.float32))
        y = None
        if self.label_col is not None and self.label_col in frame.columns:
            y = torch.from_numpy(frame[self.label_col].to_numpy(dtype=np.float32))  # (n,)
        return CTRBatch(x_cat=x_cat, x_multi=x_multi, y=y, index=frame.index.to_numpy())

    def fit_transform(self, frame: pd.DataFrame, y=None) -> CTRBatch:
        """``fit(frame)`` then ``transform(frame)``."""
        return self.fit(frame).transform(frame)

    def __repr__(self) -> str:
        dims = ""
        if hasattr(self, "encoders_"):
            dims = f", field_dims_={self.field_dims_}, multi_dims_={self.multi_dims_}"
        return f"CTRFeaturizer(fields={self.fields}, multi_hot={self.multi_hot}{dims})"


@dataclass(frozen=True, eq=False)
class CTRData:
    """What :func:`build_ctr_features` returns: the fitted featurizer and three batches.

    Examples
    --------
    Built by hand from one tiny batch (:func:`build_ctr_features` builds it from the data):

    >>> batch = CTRBatch(torch.tensor([[1, 2], [2, 1]]), torch.zeros(2, 1), torch.tensor([1.0, 0.0]), np.arange(2))
    >>> data = CTRData(CTRFeaturizer(), train=batch, valid=batch, test=batch)
    >>> len(data.train), data.valid.pair[1].tolist()
    (2, [1.0, 0.0])
    """

    featurizer: CTRFeaturizer
    train: CTRBatch
    valid: CTRBatch
    test: CTRBatch


def build_ctr_features(ml, seed=0, featurizer: CTRFeaturizer | None = None, threshold: float = 4) -> CTRData:
    """The whole CTR protocol's data in one call: join, split 80/10/10, fit on train, encode.

    Parameters
    ----------
    ml : MovieLens100K or any object with ``ratings``, ``users``, ``items`` (see :func:`ctr_frame`)
    seed : int, default=0
        Seed of the split.
    featurizer : CTRFeaturizer, optional
        Unfitted; default ``CTRFeaturizer()`` (six fields plus the genres).
    threshold : float, default=4
        Label threshold on the rating.

    Returns
    -------
    CTRData
        ``featurizer`` fitted on the training rows only; ``train``, ``valid``, ``test``
        batches.

    Examples
    --------
    Any object with the three MovieLens tables will do; ten ratings (each user rates each
    film once) split 8/1/1:

    >>> from types import SimpleNamespace
    >>> ml = SimpleNamespace(
    ...     ratings=pd.DataFrame({"user_id": [1, 2] * 5, "item_id": [10, 10, 11, 11, 12, 12, 13, 13, 14, 14],
    ...                           "rating": [5, 2] * 5}),
    ...     users=pd.DataFrame({"user_id": [1, 2], "age": [17, 40], "gender": ["F", "M"],
    ...                         "occupation": ["student", "writer"]}),
    ...     items=pd.DataFrame({"item_id": [10, 11, 12, 13, 14], "year": [1995] * 5, "genres": [["Comedy"]] * 5}))
    >>> data = build_ctr_features(ml, seed=0)
    >>> len(data.train), len(data.valid), len(data.test), data.train.x_cat.shape[1]
    (8, 1, 1, 6)
    """
    train, valid, test = ctr_split(ctr_frame(ml, threshold=threshold), seed=seed)
    feat = (featurizer if featurizer is not None else CTRFeaturizer()).fit(train)
    return CTRData(feat, feat.transform(train), feat.transform(valid), feat.transform(test))


def fit_ctr(model, train: CTRBatch, valid: CTRBatch, *, lr: float = 1e-2, weight_decay: float = 1e-4,
            num_epochs: int = 30, patience: int = 5, seed: int = 0, loss_fn=None, device: str | None = None):
    """Train a CTR model the book's way: Adam, BCE on logits, early stopping on validation AUC.

    The protocol of chapter 5 in one call, so that later chapters train their CTR models
    identically: :class:`~recfeat_ref.training.Trainer` with ``monitor="valid_auc"``, the
    best epoch's weights restored.

    Parameters
    ----------
    model : torch.nn.Module, or a callable that builds one
        Called as ``model(*batch.inputs)``, returning logits (B,). Pass a *builder*
        (``lambda: DeepFM(config)``) to have the initial weights drawn after seeding, so
        that a run is reproducible; a module built beforehand keeps whatever weights the
        global random state gave it (call :func:`~recfeat_ref.training.seed_everything`
        before building it).
    train, valid : CTRBatch
        With labels.
    loss_fn : callable, optional
        ``loss(logits, target)`` during training; default :class:`torch.nn.BCEWithLogitsLoss`.
    device : str, optional
        As :func:`~recfeat_ref.training.get_device`.

    Returns
    -------
    Trainer
        The fitted trainer (``model``, ``history_``, ``best_epoch_``, ``predict``).

    Examples
    --------
    >>> from recfeat_ref.neural import LogisticRegression, LRConfig
    >>> x = torch.tensor([[1, 1], [1, 2], [2, 1], [2, 2]])
    >>> batch = CTRBatch(x, torch.zeros(4, 0), torch.tensor([1.0, 1.0, 0.0, 0.0]), np.arange(4))
    >>> trainer = fit_ctr(lambda: LogisticRegression(LRConfig(field_dims=(3, 3))), batch, batch,
    ...                   num_epochs=2, device="cpu")
    >>> trainer.history_["epoch"].tolist(), "valid_auc" in trainer.history_
    ([1, 2], True)
    """
    from torch import nn

    from . import metrics
    from .training import TrainConfig, Trainer, seed_everything

    seed_everything(seed)
    if not isinstance(model, nn.Module):
        model = model()  # built after seeding: reproducible initial weights
    config = TrainConfig(num_epochs=num_epochs, lr=lr, weight_decay=weight_decay, patience=patience,
                         monitor="valid_auc", mode="max", seed=seed, progress=False, device=device)
    trainer = Trainer(model, loss_fn or nn.BCEWithLogitsLoss(), config, metrics={"auc": metrics.roc_auc},
                      output_transform=torch.sigmoid)
    trainer.fit(train.pair, valid.pair)
    return trainer
