r"""The interface every recommender in the book implements, and the evaluation protocols.

A recommender is fitted on a training frame of raw ids and answers two questions:

* :meth:`Recommender.predict` -- a score (a rating, or a preference) for given
  (user, item) rows, in the frame's raw ids; users or items unseen in training get the
  model's documented fallback (biases, popularity, or the global mean);
* :meth:`Recommender.score_items` -- the scores of *every* training item for given users,
  shape ``(n_users, n_items)``, columns in the order of ``item_ids_``; this is what
  full-catalogue ranking needs.

Everything else (ranking, exclusion of training items, metrics, cross-validation) is done
once, here, so that models stay short and are compared under identical protocols.

Protocols
---------
* :func:`evaluate_ratings` -- RMSE and MAE on held-out ratings.
* :func:`evaluate_topn` -- full-catalogue top-k ranking excluding each user's training
  items (Cremonesi et al., 2010), with Recall, NDCG, Hit rate, MRR, Precision and MAP at k.
* :func:`cross_validate_ratings` -- k-fold cross-validation of :func:`evaluate_ratings`,
  one row per fold.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from . import DEFAULT_ITEM_COL, DEFAULT_RATING_COL, DEFAULT_USER_COL, metrics
from ._validation import IndexedDataError, _preview, check_columns, check_dataframe, check_ids, check_target
from .exceptions import DataValidationError, NotFittedError
from .preprocessing import IdEncoder, interactions_to_csr
from .splits import kfold_split

__all__ = ["Recommender", "evaluate_ratings", "evaluate_topn", "cross_validate_ratings"]


class Recommender:
    """Base class: id bookkeeping shared by every recommender.

    Subclasses implement ``_fit(users, items, values)`` on integer *indices*
    (``0..n_users_-1``, ``0..n_items_-1``) and ``_score(users, items)`` /
    ``_score_all(users)`` on indices, and declare how unseen ids are handled by
    overriding ``_fallback`` if needed. Raw ids are mapped here, once.

    Input contract, checked here once for every subclass: ``fit`` takes a non-empty
    frame with the id columns (no missing id; text and numbers not mixed in one
    column) and, for models with a target (``target_col``), a numeric target column
    without NaN or infinity, within ``target_range`` where the family declares one.
    A violation raises :class:`~recfeat_ref.exceptions.DataValidationError` naming
    the column, the offending values and their rows, and the fix. Errors about
    training indices raised inside ``_fit`` (``IndexedDataError``, e.g. a user who
    met every item, so no negative can be sampled) are re-raised naming the raw ids.
    The input frame is never modified.

    Attributes
    ----------
    user_ids_, item_ids_ : numpy arrays
        The raw ids seen in training, sorted; index ``j`` of a score row is item ``item_ids_[j]``.
    n_users_, n_items_ : int
    fit_seconds_ : float
        Wall time of the last :meth:`fit`.

    Examples
    --------
    A concrete subclass, :class:`~recfeat_ref.baselines.Popularity`, on raw ids:

    >>> from recfeat_ref.baselines import Popularity
    >>> train = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 20, 20], "rating": [4, 5, 3]})
    >>> model = Popularity().fit(train)
    >>> isinstance(model, Recommender), model.item_ids_.tolist(), model.score_items([1, 2]).tolist()
    (True, [10, 20], [[1.0, 2.0], [1.0, 2.0]])
    """

    #: Column holding the training target; None for models of implicit feedback.
    target_col: str | None = DEFAULT_RATING_COL

    #: Closed interval ``(low, high)`` the target must lie in; None: no bound. No
    #: family of the book restricts ratings (centred or scaled ratings are fine);
    #: a subclass that needs a range declares it here.
    target_range: tuple[float | None, float | None] = (None, None)

    def __init__(self, user_col: str = DEFAULT_USER_COL, item_col: str = DEFAULT_ITEM_COL):
        self.user_col = user_col
        self.item_col = item_col

    # -- id bookkeeping -----------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "item_ids_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit(train) first")

    def _indices(self, df: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Training indices of the frame's users and items; -1 marks ids unseen in training."""
        check_columns(df, [self.user_col, self.item_col], name)
        return self._user_enc.transform(df[self.user_col]) - 1, self._item_enc.transform(df[self.item_col]) - 1

    def user_index(self, user_ids) -> np.ndarray:
        """Training indices of raw user ids (-1 for unseen users)."""
        self._check_fitted()
        return self._user_enc.transform(pd.Series(np.asarray(user_ids), name=self.user_col)) - 1

    # -- public API -----------------------------------------------------------
    def fit(self, train: pd.DataFrame) -> "Recommender":
        """Fit on a training frame of raw ids (and the target column, where the model has one)."""
        check_dataframe(train, "train")
        cols = [self.user_col, self.item_col] + ([self.target_col] if self.target_col else [])
        check_columns(train, cols, "train")
        for col in (self.user_col, self.item_col):
            check_ids(train, col, "train")
        if self.target_col:
            low, high = self.target_range
            values = check_target(train, self.target_col, low, high, name="train")
        else:
            values = np.ones(len(train))
        start = time.perf_counter()
        self._user_enc = IdEncoder().fit(train[self.user_col])
        self._item_enc = IdEncoder().fit(train[self.item_col])
        self.user_ids_, self.item_ids_ = self._user_enc.classes_, self._item_enc.classes_
        self.n_users_, self.n_items_ = len(self.user_ids_), len(self.item_ids_)
        users, items = self._indices(train, "train")
        try:
            self._fit(users, items, values)
        except IndexedDataError as exc:  # an error about indices: name the caller's raw ids
            raise exc.in_ids(self.user_ids_, self.item_ids_, "train") from None
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Scores of the frame's (user, item) rows, shape (len(df),), float64."""
        self._check_fitted()
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"predict: expected a pandas DataFrame with columns {self.user_col!r} and "
                            f"{self.item_col!r}, got {type(df).__name__}")
        users, items = self._indices(df, "predict")
        out = np.empty(len(df), dtype=np.float64)
        known = (users >= 0) & (items >= 0)
        if known.any():
            out[known] = self._score(users[known], items[known])
        if (~known).any():
            out[~known] = self._fallback(users[~known], items[~known])
        return out

    def score_items(self, user_ids=None) -> np.ndarray:
        """Scores of every training item for ``user_ids`` (default: all training users).

        Returns an array of shape (len(user_ids), ``n_items_``); unseen users get the
        fallback row.
        """
        self._check_fitted()
        users = np.arange(self.n_users_) if user_ids is None else self.user_index(user_ids)
        out = np.empty((len(users), self.n_items_), dtype=np.float64)
        known = users >= 0
        if known.any():
            out[known] = self._score_all(users[known])
        if (~known).any():
            n = int((~known).sum())
            out[~known] = self._fallback(np.full(n * self.n_items_, -1), np.tile(np.arange(self.n_items_), n)).reshape(n, -1)
        return out

    # -- to implement ---------------------------------------------------------
    def _fit(self, users: np.ndarray, items: np.ndarray, values: np.ndarray) -> None:
        raise NotImplementedError

    def _score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._score_all(users)[np.arange(len(users)), items]

    def _score_all(self, users: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _fallback(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Scores for rows with an unseen user (-1) or item (-1); default: raise."""
        raise DataValidationError(
            f"{type(self).__name__} cannot score users or items unseen in training "
            f"({int(np.sum(users < 0))} unseen user rows, {int(np.sum(items < 0))} unseen item rows); "
            "filter them with recfeat_ref.splits.filter_cold"
        )

    def __repr__(self) -> str:
        params = {k: v for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_") and k not in ("user_col", "item_col")}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in params.items())})"


def evaluate_ratings(model: Recommender, test: pd.DataFrame, rating_col: str = DEFAULT_RATING_COL) -> dict[str, float]:
    """RMSE and MAE of ``model.predict`` on held-out ratings (unseen ids use the model's fallback).

    Examples
    --------
    >>> from recfeat_ref.baselines import BiasBaseline
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 1, 3], "rating": [5, 3, 4, 2]})
    >>> test = pd.DataFrame({"user_id": [1, 2], "item_id": [3, 2], "rating": [4, 3]})
    >>> {k: round(v, 3) for k, v in evaluate_ratings(BiasBaseline().fit(train), test).items()}
    {'rmse': 0.493, 'mae': 0.484}
    """
    check_dataframe(test, "test")
    check_columns(test, [rating_col], "test")
    pred = model.predict(test)
    y = test[rating_col].to_numpy(np.float64)
    return {"rmse": metrics.rmse(y, pred), "mae": metrics.mae(y, pred)}


def evaluate_topn(
    model: Recommender,
    train: pd.DataFrame,
    test: pd.DataFrame,
    k: int = 10,
    relevance: Callable[[pd.DataFrame], pd.Series] | None = None,
) -> dict[str, float]:
    """Full-catalogue top-k evaluation, excluding each user's training items.

    Every training item not in the user's training interactions is a candidate
    (Cremonesi et al., 2010); no negative sampling, which biases metrics
    (Krichene and Rendle, 2020). Test rows whose item is unseen in training cannot be
    ranked and are dropped; users with no relevant test item do not count
    (see :mod:`recfeat_ref.metrics`).

    Parameters
    ----------
    model : a fitted Recommender
    train, test : frames of raw ids; ``train`` must be the model's training data
        (or a superset, e.g. train + validation, to exclude those items too).
    k : list length.
    relevance : optional function of the test frame returning a boolean mask of relevant
        rows (e.g. ``lambda df: df.rating >= 4``); default: every test row is relevant.

    Returns
    -------
    dict with ``precision_at_k``, ``recall_at_k``, ``ndcg_at_k``, ``map_at_k``,
    ``hit_rate_at_k``, ``mrr_at_k``, plus ``n_users`` evaluated and ``seconds``.

    Examples
    --------
    >>> from recfeat_ref.baselines import Popularity
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 1, 3], "rating": [5, 3, 4, 2]})
    >>> test = pd.DataFrame({"user_id": [1, 2], "item_id": [3, 2], "rating": [4, 3]})
    >>> result = evaluate_topn(Popularity().fit(train), train, test, k=1)
    >>> result["hit_rate_at_k"], result["n_users"]
    (1.0, 2)
    """
    model._check_fitted()
    start = time.perf_counter()
    rel = test if relevance is None else test[np.asarray(relevance(test), dtype=bool)]
    users = np.unique(model.user_index(rel[model.user_col]))
    users = users[users >= 0]
    if len(users) == 0:
        raise DataValidationError("evaluate_topn: no test user was seen in training; nothing to rank")
    tu, ti = model._indices(train, "train")
    keep = (tu >= 0) & (ti >= 0)
    seen = interactions_to_csr(pd.DataFrame({"u": tu[keep], "i": ti[keep]}), model.n_users_, model.n_items_, "u", "i")
    scores = model.score_items(model.user_ids_[users])
    # The two ways topk_items can fail on a model's scores, named here by raw user ids
    # (topk_items only knows row positions).
    broken = ~np.isfinite(scores).all(axis=1)
    if broken.any():
        raise DataValidationError(
            f"evaluate_topn: {type(model).__name__} gives NaN or infinite scores to users "
            f"{_preview(model.user_ids_[users[broken]])}; refit the model (a training that diverged "
            "raises NonFiniteLossError) or check its inputs"
        )
    if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
        left = model.n_items_ - np.asarray((seen[users] != 0).sum(axis=1)).ravel()
        short = left < k
        if short.any() and k <= model.n_items_:
            raise DataValidationError(
                f"evaluate_topn: users {_preview(model.user_ids_[users[short]])} have fewer than k={k} "
                f"items left to rank once their training items are excluded (as few as {int(left.min())}); "
                "lower k or leave these users out of the test frame"
            )
    top = metrics.topk_items(scores, k, exclude=seen[users])
    ru, ri = model._indices(rel, "test")
    ok = (ru >= 0) & (ri >= 0)
    position = np.full(model.n_users_, -1)
    position[users] = np.arange(len(users))
    relevant = metrics.relevant_from_frame(pd.DataFrame({"u": position[ru[ok]], "i": ri[ok]}), len(users), "u", "i")
    report = metrics.ranking_report(top, relevant, k=k)
    report["n_users"] = int(sum(len(r) > 0 for r in relevant))
    report["seconds"] = time.perf_counter() - start
    return report


def cross_validate_ratings(
    make_model: Callable[[], Recommender],
    ratings: pd.DataFrame,
    n_splits: int = 5,
    seed: int = 0,
    rating_col: str = DEFAULT_RATING_COL,
    progress: bool = True,
) -> pd.DataFrame:
    """k-fold cross-validation of rating prediction: one row per fold (rmse, mae, fit_seconds).

    ``make_model`` builds a fresh, unfitted model for each fold, so no state leaks
    between folds.

    Examples
    --------
    >>> from recfeat_ref.baselines import BiasBaseline
    >>> ratings = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 2], "item_id": [1, 2, 3, 1, 2, 3],
    ...                         "rating": [5, 3, 4, 4, 2, 3]})
    >>> cv = cross_validate_ratings(BiasBaseline, ratings, n_splits=2, progress=False)
    >>> cv.shape, list(cv.columns)
    ((2, 4), ['fold', 'rmse', 'mae', 'fit_seconds'])
    """
    from tqdm import tqdm

    rows = []
    folds = kfold_split(ratings, n_splits=n_splits, seed=seed)
    for fold, (train, test) in enumerate(tqdm(folds, total=n_splits, desc="folds", disable=not progress)):
        model = make_model().fit(train)
        rows.append({"fold": fold, **evaluate_ratings(model, test, rating_col), "fit_seconds": model.fit_seconds_})
    return pd.DataFrame(rows)
