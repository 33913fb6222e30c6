"""Classification, rating, ranking and beyond-accuracy metrics, from scratch in NumPy.

Each metric is a short, vectorised NumPy function whose docstring gives the
formula, the convention (normalisation, log base, what 0/0 gives) and the
range. The tests check every one against scikit-learn or a plain Python loop.

Families and their signatures
-----------------------------
===============  ========================================================================
classification   ``f(y_true, y_pred)`` or ``f(y_true, y_score)``:
                 :func:`accuracy`, :func:`precision`, :func:`recall`, :func:`f1`,
                 :func:`roc_auc`, :func:`log_loss`
rating           ``f(y_true, y_pred)``: :func:`rmse`, :func:`mae`
ranking          ``metric(topk, relevant, k=10, per_user=False)``:
                 :func:`precision_at_k`, :func:`recall_at_k`, :func:`ndcg_at_k`,
                 :func:`map_at_k`, :func:`hit_rate_at_k`, :func:`mrr_at_k`;
                 all six at once with :func:`ranking_report`
beyond accuracy  :func:`catalog_coverage`, :func:`intra_list_diversity`, :func:`novelty`
===============  ========================================================================

Ranking notation
----------------
``U`` users, ``I`` items, list length ``k``. ``topk`` is a ``(U, >=k)`` integer
array of item indices, best first (build it with :func:`topk_items`);
``relevant[u]`` is the collection of items user ``u`` really interacted with in
the test set (build it with :func:`relevant_from_frame`). ``hit(u, j)`` is 1 if
the item at (1-based) rank ``j`` of ``u``'s list is relevant, else 0; ``R_u`` is
the number of distinct relevant items of ``u``.

Users with no relevant item have no defined recall, NDCG, AP or MRR, so every
ranking metric leaves them out of the mean (``per_user=True`` gives them NaN);
if no user has a relevant item the metrics raise ``DataValidationError``.

References
----------
.. [1] Herlocker, J. L., Konstan, J. A., Terveen, L. G. & Riedl, J. T. (2004).
   Evaluating collaborative filtering recommender systems. ACM TOIS 22(1), 5-53.
.. [2] Manning, C. D., Raghavan, P. & Schuetze, H. (2008). Introduction to
   Information Retrieval, ch. 8. Cambridge University Press.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recfeat_ref import DEFAULT_ITEM_COL, DEFAULT_USER_COL
from recfeat_ref._validation import _preview
from recfeat_ref.exceptions import InvalidParameterError
from recfeat_ref._validation import (
    DataValidationError,
    check_binary,
    check_columns,
    check_finite_array,
    check_dataframe,
    check_no_nan,
    check_probability,
    check_range,
    check_same_length,
    check_vector,
)


__all__ = [
    # classification
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
    # rating
    "rmse",
    "mae",
    # ranking
    "topk_items",
    "relevant_from_frame",
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "map_at_k",
    "hit_rate_at_k",
    "mrr_at_k",
    "ranking_report",
    # beyond accuracy
    "catalog_coverage",
    "intra_list_diversity",
    "novelty",
]


# --- Classification -------------------------------------------------------------


def _labels_pair(y_true, y_pred, pred_name: str = "y_pred") -> tuple[np.ndarray, np.ndarray]:
    """Validate two 1-D 0/1 label arrays of the same length."""
    y_true = check_vector(y_true, "y_true")
    y_pred = check_vector(y_pred, pred_name)
    check_same_length(y_true, y_pred, ("y_true", pred_name))
    check_binary(y_true, "y_true")
    check_binary(y_pred, pred_name)
    return y_true, y_pred


def _check_zero_division(zero_division: float) -> float:
    numeric = isinstance(zero_division, (int, float, np.integer, np.floating)) and not isinstance(zero_division, bool)
    if not numeric or not (zero_division in (0, 1) or np.isnan(zero_division)):
        raise DataValidationError(
            f"zero_division={zero_division!r} is invalid; use 0.0 (the default), 1.0 or np.nan"
        )
    return float(zero_division)


def _confusion(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[int, int, int, int]:
    """Return (TP, FP, FN, TN) for 0/1 float arrays."""
    tp = int(np.sum((y_true == 1) & (y_pred == 1)))
    fp = int(np.sum((y_true == 0) & (y_pred == 1)))
    fn = int(np.sum((y_true == 1) & (y_pred == 0)))
    tn = int(np.sum((y_true == 0) & (y_pred == 0)))
    return tp, fp, fn, tn


def accuracy(y_true, y_pred) -> float:
    r"""Fraction of samples whose predicted label equals the true label.

    .. math:: \mathrm{accuracy} = \frac{1}{n}\sum_{i=1}^{n} [\hat y_i = y_i]
              = \frac{TP + TN}{TP + FP + FN + TN}

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels, 0 or 1.
    y_pred : array-like of shape (n,)
        Predicted hard labels, 0 or 1 (threshold scores first, e.g. ``p >= 0.5``).

    Returns
    -------
    float
        In [0, 1]; higher is better.

    References
    ----------
    Manning, Raghavan & Schuetze (2008), Introduction to Information Retrieval, sec. 8.3.

    Examples
    --------
    >>> accuracy([1, 0, 1, 1], [1, 0, 0, 1])
    0.75
    """
    y_true, y_pred = _labels_pair(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def precision(y_true, y_pred, zero_division: float = 0.0) -> float:
    r"""Fraction of predicted positives that are truly positive.

    .. math:: \mathrm{precision} = \frac{TP}{TP + FP}

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels, 0 or 1.
    y_pred : array-like of shape (n,)
        Predicted hard labels, 0 or 1.
    zero_division : {0.0, 1.0, nan}, default 0.0
        Returned when nothing is predicted positive (TP + FP = 0), as with
        scikit-learn's ``zero_division=0`` (but without a warning).

    Returns
    -------
    float
        In [0, 1]; higher is better.

    References
    ----------
    Manning, Raghavan & Schuetze (2008), Introduction to Information Retrieval, sec. 8.3.

    Examples
    --------
    >>> precision([1, 0, 1, 1], [1, 1, 0, 1])   # TP=2, FP=1
    0.6666666666666666
    >>> precision([1, 0], [0, 0])               # nothing predicted positive
    0.0
    """
    zero_division = _check_zero_division(zero_division)
    tp, fp, _, _ = _confusion(*_labels_pair(y_true, y_pred))
    return tp / (tp + fp) if tp + fp else zero_division


def recall(y_true, y_pred, zero_division: float = 0.0) -> float:
    r"""Fraction of true positives that are predicted positive (sensitivity).

    .. math:: \mathrm{recall} = \frac{TP}{TP + FN}

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels, 0 or 1.
    y_pred : array-like of shape (n,)
        Predicted hard labels, 0 or 1.
    zero_division : {0.0, 1.0, nan}, default 0.0
        Returned when there is no true positive sample (TP + FN = 0), as with
        scikit-learn's ``zero_division=0`` (but without a warning).

    Returns
    -------
    float
        In [0, 1]; higher is better.

    References
    ----------
    Manning, Raghavan & Schuetze (2008), Introduction to Information Retrieval, sec. 8.3.

    Examples
    --------
    >>> recall([1, 0, 1, 1], [1, 1, 0, 1])      # TP=2, FN=1
    0.6666666666666666
    """
    zero_division = _check_zero_division(zero_division)
    tp, _, fn, _ = _confusion(*_labels_pair(y_true, y_pred))
    return tp / (tp + fn) if tp + fn else zero_division


def f1(y_true, y_pred, zero_division: float = 0.0) -> float:
    r"""Harmonic mean of precision and recall.

    .. math:: F_1 = \frac{2\,PR}{P + R} = \frac{2\,TP}{2\,TP + FP + FN}

    The second form is used, so F1 is defined (and 0) whenever there is at
    least one false positive or false negative, even if P or R is 0/0.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels, 0 or 1.
    y_pred : array-like of shape (n,)
        Predicted hard labels, 0 or 1.
    zero_division : {0.0, 1.0, nan}, default 0.0
        Returned when TP + FP + FN = 0 (no positive anywhere), as with
        scikit-learn's ``zero_division=0`` (but without a warning).

    Returns
    -------
    float
        In [0, 1]; higher is better.

    References
    ----------
    van Rijsbergen, C. J. (1979). Information Retrieval, 2nd ed., ch. 7. Butterworths.

    Examples
    --------
    >>> f1([1, 0, 1, 1], [1, 1, 0, 1])          # 2*2 / (2*2 + 1 + 1)
    0.6666666666666666
    """
    zero_division = _check_zero_division(zero_division)
    tp, fp, fn, _ = _confusion(*_labels_pair(y_true, y_pred))
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else zero_division


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` in ascending order; tied values share their average rank."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts_group = np.r_[True, xs[1:] != xs[:-1]]          # (n,) first of a run of ties
    group = np.cumsum(starts_group) - 1                     # (n,) run id of each sorted value
    first = np.flatnonzero(starts_group)                    # (g,) 0-based start of each run
    last = np.r_[first[1:], len(xs)]                        # (g,) 0-based end (exclusive)
    mean_rank = (first + 1 + last) / 2                      # (g,) mean of ranks first+1..last
    ranks = np.empty(len(x))
    ranks[order] = mean_rank[group]
    return ranks


def roc_auc(y_true, y_score) -> float:
    r"""Area under the ROC curve, by the rank-sum (Mann-Whitney U) formula.

    The AUC is the probability that a random positive is scored above a
    random negative, counting ties as one half:

    .. math:: \mathrm{AUC} = \frac{\sum_{i:\,y_i=1} r_i - n_+(n_+ + 1)/2}{n_+\,n_-}

    where :math:`r_i` is the 1-based rank of :math:`s_i` among all scores in
    ascending order, tied scores sharing their average rank, and
    :math:`n_+, n_-` count the positives and negatives.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels, 0 or 1; both classes must occur.
    y_score : array-like of shape (n,)
        Scores, probabilities or logits (only their order matters); finite.

    Returns
    -------
    float
        In [0, 1]; 0.5 is chance, 1 a perfect ranking.

    Raises
    ------
    DataValidationError
        If ``y_true`` holds only one class (the AUC is then undefined).

    References
    ----------
    Hanley, J. A. & McNeil, B. J. (1982). The meaning and use of the area under
    a receiver operating characteristic (ROC) curve. Radiology 143(1), 29-36.

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> roc_auc([0, 1], [0.5, 0.5])             # a tie counts one half
    0.5
    """
    y_true = check_vector(y_true, "y_true")
    y_score = check_vector(y_score, "y_score")
    check_same_length(y_true, y_score, ("y_true", "y_score"))
    check_binary(y_true, "y_true")
    n_pos = int(y_true.sum())
    n_neg = len(y_true) - n_pos
    if n_pos == 0 or n_neg == 0:
        only = 1 if n_pos else 0
        raise DataValidationError(
            f"y_true: only class {only} is present ({len(y_true)} samples), so ROC AUC is "
            "undefined; evaluate on data that holds both positives and negatives"
        )
    ranks = _average_ranks(y_score)
    u_pos = ranks[y_true == 1].sum() - n_pos * (n_pos + 1) / 2
    return float(u_pos / (n_pos * n_neg))


def log_loss(y_true, y_prob, eps: float = 1e-15) -> float:
    r"""Mean binary cross-entropy (negative log-likelihood), natural log.

    .. math:: \mathrm{LL} = -\frac{1}{n}\sum_{i=1}^{n}
              \bigl[y_i \ln p_i + (1 - y_i)\ln(1 - p_i)\bigr],
              \quad p_i \leftarrow \operatorname{clip}(p_i, \varepsilon, 1 - \varepsilon)

    Clipping keeps a confident wrong prediction finite: it costs at most
    :math:`-\ln\varepsilon \approx 34.5` nats for the default
    :math:`\varepsilon = 10^{-15}`. (scikit-learn clips at the float's machine
    epsilon instead, so the two differ only for probabilities within 1e-15 of 0 or 1.)

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels, 0 or 1.
    y_prob : array-like of shape (n,)
        Predicted probabilities of class 1, in [0, 1] (not logits).
    eps : float, default 1e-15
        Clipping bound, in (0, 0.5).

    Returns
    -------
    float
        In [0, -ln eps]; lower is better; ln 2 ~ 0.693 for always predicting 0.5.

    References
    ----------
    Bishop, C. M. (2006). Pattern Recognition and Machine Learning, sec. 4.3.2. Springer.

    Examples
    --------
    >>> round(log_loss([1, 0], [0.9, 0.2]), 6)  # -(ln 0.9 + ln 0.8) / 2
    0.164252
    """
    if not 0 < eps < 0.5:
        raise DataValidationError(
            f"eps={eps!r} is invalid; use a small positive number such as 1e-15"
        )
    y_true = check_vector(y_true, "y_true")
    y_prob = check_vector(y_prob, "y_prob")
    check_same_length(y_true, y_prob, ("y_true", "y_prob"))
    check_binary(y_true, "y_true")
    check_probability(y_prob, "y_prob")
    p = np.clip(y_prob, eps, 1 - eps)
    return float(-np.mean(y_true * np.log(p) + (1 - y_true) * np.log1p(-p)))


# --- Rating ---------------------------------------------------------------------


def _rating_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true = check_vector(y_true, "y_true")
    y_pred = check_vector(y_pred, "y_pred")
    check_same_length(y_true, y_pred, ("y_true", "y_pred"))
    return y_true, y_pred


def rmse(y_true, y_pred) -> float:
    r"""Root mean squared error of predicted ratings.

    .. math:: \mathrm{RMSE} = \sqrt{\frac{1}{n}\sum_{i=1}^{n} (\hat r_i - r_i)^2}

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True ratings.
    y_pred : array-like of shape (n,)
        Predicted ratings, same scale.

    Returns
    -------
    float
        In [0, inf), in rating units; lower is better.

    References
    ----------
    Herlocker et al. (2004), Evaluating collaborative filtering recommender
    systems, ACM TOIS 22(1), sec. 3.1.

    Examples
    --------
    >>> rmse([4, 3, 5], [3, 3, 3])              # sqrt((1 + 0 + 4) / 3)
    1.2909944487358056
    """
    y_true, y_pred = _rating_pair(y_true, y_pred)
    return float(np.sqrt(np.mean((y_pred - y_true) ** 2)))


def mae(y_true, y_pred) -> float:
    r"""Mean absolute error of predicted ratings.

    .. math:: \mathrm{MAE} = \frac{1}{n}\sum_{i=1}^{n} \lvert\hat r_i - r_i\rvert

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True ratings.
    y_pred : array-like of shape (n,)
        Predicted ratings, same scale.

    Returns
    -------
    float
        In [0, inf), in rating units; lower is better; MAE <= RMSE always.

    References
    ----------
    Herlocker et al. (2004), Evaluating collaborative filtering recommender
    systems, ACM TOIS 22(1), sec. 3.1.

    Examples
    --------
    >>> mae([4, 3, 5], [3, 3, 3])
    1.0
    """
    y_true, y_pred = _rating_pair(y_true, y_pred)
    return float(np.mean(np.abs(y_pred - y_true)))


# --- Ranking: building top-k lists and relevance sets -------------------------------


def _to_numpy(x) -> np.ndarray:
    """A NumPy view of ``x``; torch tensors are detached and moved to the CPU.

    torch is not imported here: a tensor is recognised by its module name.
    """
    if type(x).__module__.split(".")[0] == "torch":
        x = x.detach().cpu()
        if x.is_floating_point():
            x = x.double()  # bfloat16/half have no NumPy twin; float64 keeps order and ties
        x = x.numpy()
    return np.asarray(x)


def _check_k(k, width: int, what: str) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InvalidParameterError(f"k must be an integer, got {k!r} ({type(k).__name__}); pass e.g. k=10")
    if k < 1:
        raise DataValidationError(f"k={k} is invalid; k must be at least 1")
    if k > width:
        raise DataValidationError(f"k={k} exceeds {what} ({width}); pass k <= {width}")
    return int(k)


def _item_array(items, name: str) -> np.ndarray:
    """One user's collection of item indices (set, list, tuple, array) as int64."""
    if items is None or isinstance(items, (str, bytes, Mapping)):
        raise DataValidationError(
            f"{name}: expected a collection of item indices, got {items!r}; "
            "use an empty set for a user with no items"
        )
    if isinstance(items, (set, frozenset)):
        items = list(items)
    arr = np.asarray(items)
    if arr.ndim != 1:
        raise DataValidationError(
            f"{name}: expected a flat collection of item indices, got {items!r} (shape {arr.shape})"
        )
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise DataValidationError(
            f"{name}: item indices must be integers, got dtype {arr.dtype} "
            f"(values {_preview(arr)}); encode items as 0..n_items-1 first"
        )
    if arr.min() < 0:
        raise DataValidationError(
            f"{name}: item indices must be >= 0, found {_preview(np.unique(arr[arr < 0]))}"
        )
    return arr.astype(np.int64, copy=False)


def _exclusion_mask(exclude, shape: tuple[int, int]) -> np.ndarray:
    """Boolean (U, I) mask of the items to exclude, from a sparse matrix or per-user lists."""
    n_users, n_items = shape
    if sp.issparse(exclude):
        if exclude.shape != shape:
            raise DataValidationError(
                f"exclude: sparse matrix has shape {exclude.shape} but scores has shape {shape}; "
                "build both over the same user and item encoders"
            )
        coo = sp.coo_matrix(exclude)
        keep = coo.data != 0                       # stored explicit zeros are not interactions
        rows, cols = coo.row[keep], coo.col[keep]
    else:
        if isinstance(exclude, (str, bytes, Mapping)) or not hasattr(exclude, "__len__"):
            raise TypeError(
                "exclude must be a scipy.sparse matrix of shape (n_users, n_items) or a list "
                f"of item-index arrays, one per user; got {type(exclude).__name__}"
            )
        if len(exclude) != n_users:
            raise DataValidationError(
                f"exclude has {len(exclude)} entries but scores has {n_users} rows (users); "
                "pass one collection of item indices per user"
            )
        per_user = [_item_array(items, f"exclude[{u}]") for u, items in enumerate(exclude)]
        lengths = np.array([len(a) for a in per_user], dtype=np.int64)
        rows = np.repeat(np.arange(n_users), lengths)
        cols = np.concatenate(per_user) if lengths.sum() else np.empty(0, dtype=np.int64)
        if cols.size and cols.max() >= n_items:
            bad = np.unique(cols[cols >= n_items])
            raise DataValidationError(
                f"exclude: item indices {_preview(bad)} are out of range for {n_items} items "
                f"(valid: 0..{n_items - 1})"
            )
    mask = np.zeros(shape, dtype=bool)
    mask[rows, cols] = True
    return mask


def topk_items(scores, k: int, exclude=None) -> np.ndarray:
    r"""Rank the whole catalogue for every user and return the ``k`` best items.

    Full-catalogue ranking: every item the user has not interacted with in
    training is a candidate, as in Cremonesi et al. (2010). Excluded items
    (the training interactions) get the score :math:`-\infty` first, so they
    can never be recommended.

    Ties are broken deterministically by the lower item index: the result
    equals a stable sort of the items by descending score. ``np.argpartition``
    alone would pick an arbitrary item among those tied at the k-th place, so
    the function partitions to find the k-th largest score, admits tied items
    in index order, then sorts only those ``k`` items. It is :math:`O(UI)`;
    943 x 1682 (MovieLens-100K) takes a few milliseconds.

    Parameters
    ----------
    scores : numpy.ndarray or torch.Tensor of shape (n_users, n_items)
        Predicted preference scores; finite (remove items with ``exclude``,
        not with ``-inf``).
    k : int
        List length, 1 <= k <= n_items.
    exclude : scipy.sparse matrix of shape (n_users, n_items) or sequence, optional
        Items never to recommend: the non-zero entries of a sparse matrix (e.g.
        the training interaction matrix), or one collection of item indices
        per user (list of arrays, lists or sets).

    Returns
    -------
    numpy.ndarray of shape (n_users, k), dtype int64
        Item indices ordered by descending score, ties by ascending index.

    Raises
    ------
    DataValidationError
        If scores is not 2-D or not finite, if k is out of range, or if a user
        has fewer than ``k`` items left after exclusion.

    References
    ----------
    Cremonesi, P., Koren, Y. & Turrin, R. (2010). Performance of recommender
    algorithms on top-N recommendation tasks. RecSys '10, 39-46.

    Examples
    --------
    >>> scores = np.array([[0.1, 0.9, 0.5, 0.9],
    ...                    [0.3, 0.2, 0.8, 0.7]])
    >>> topk_items(scores, k=2)                  # user 0: items 1 and 3 tie; 1 first
    array([[1, 3],
           [2, 3]])
    >>> topk_items(scores, k=2, exclude=[[1], [2, 3]])
    array([[3, 2],
           [0, 1]])
    """
    s = _to_numpy(scores)
    if s.ndim != 2:
        raise DataValidationError(
            f"scores: expected a 2-D array (n_users, n_items), got shape {s.shape}"
        )
    if s.size == 0:
        raise DataValidationError(f"scores: the array is empty (shape {s.shape}); nothing to rank")
    try:
        s = np.array(s, dtype=np.float64)          # a copy: the caller's array stays untouched
    except (TypeError, ValueError):
        raise DataValidationError(f"scores: expected numbers, got dtype {s.dtype}") from None
    bad_rows = np.flatnonzero(~np.isfinite(s).all(axis=1))
    if bad_rows.size:
        raise DataValidationError(
            f"scores: users {_preview(bad_rows)} have NaN or infinite scores; scores must be "
            "finite "
            "(to keep items out of the lists pass them in exclude instead of scoring them -inf)"
        )
    n_users, n_items = s.shape
    k = _check_k(k, n_items, "the number of items")

    if exclude is not None:
        mask = _exclusion_mask(exclude, s.shape)          # (U, I) bool
        n_left = n_items - mask.sum(axis=1)                # (U,) candidates per user
        short = np.flatnonzero(n_left < k)
        if short.size:
            raise DataValidationError(
                f"exclude leaves users {_preview(short)} with fewer than k={k} items "
                f"(as few as {int(n_left.min())}); lower k or exclude fewer items"
            )
        s[mask] = -np.inf

    # Step 1: the k-th largest score of each user is the bar a top-k item must reach.
    kth = np.partition(s, n_items - k, axis=1)[:, n_items - k]        # (U,)
    above = s > kth[:, None]                                           # (U, I) surely in the top k
    at_bar = s == kth[:, None]                                         # (U, I) tied at the bar
    places_left = k - above.sum(axis=1)                                # (U,) >= 1
    # Step 2: admit tied items in index order until the k places are full.
    chosen = above | (at_bar & (np.cumsum(at_bar, axis=1) <= places_left[:, None]))  # (U, I)
    cols = np.nonzero(chosen)[1].reshape(n_users, k)   # (U, k), exactly k per row, ascending index
    # Step 3: sort the k chosen items by descending score; stable, so ties keep index order.
    order = np.argsort(-np.take_along_axis(s, cols, axis=1), axis=1, kind="stable")  # (U, k)
    return np.take_along_axis(cols, order, axis=1).astype(np.int64)


def relevant_from_frame(
    df: pd.DataFrame,
    n_users: int,
    user_col: str = DEFAULT_USER_COL,
    item_col: str = DEFAULT_ITEM_COL,
) -> list[set[int]]:
    """Collect each user's relevant (test) items from an interaction frame.

    Parameters
    ----------
    df : pandas.DataFrame
        Interactions with integer user indices in ``0..n_users-1`` and integer
        item indices >= 0 (encode raw IDs first); every row counts as relevant,
        so filter first if relevance needs a threshold (e.g. rating >= 4).
    n_users : int
        Number of users; the result has one entry per user index.
    user_col, item_col : str
        Column names (package defaults ``"user_id"``, ``"item_id"``).

    Returns
    -------
    list of set of int, length n_users
        ``result[u]`` holds the items of user ``u``; users absent from ``df``
        get an empty set (the ranking metrics leave them out of the mean).

    Examples
    --------
    >>> test = pd.DataFrame({"user_id": [0, 0, 2], "item_id": [5, 1, 3]})
    >>> relevant_from_frame(test, n_users=3)
    [{1, 5}, set(), {3}]
    """
    check_dataframe(df, "df")
    check_columns(df, [user_col, item_col], "df")
    check_no_nan(df, [user_col, item_col], "df")
    if isinstance(n_users, bool) or not isinstance(n_users, (int, np.integer)) or n_users < 1:
        raise DataValidationError(f"n_users={n_users!r} is invalid; pass a positive integer")
    for col in (user_col, item_col):
        if not pd.api.types.is_integer_dtype(df[col]):
            raise DataValidationError(
                f"df: column {col!r} has dtype {df[col].dtype}, expected integer indices; "
                "encode IDs as 0..n-1 first (recfeat_ref.preprocessing)"
            )
    check_range(df, user_col, 0, n_users - 1, "df")
    check_range(df, item_col, 0, np.inf, "df")
    users = df[user_col].to_numpy(dtype=np.int64)
    items = df[item_col].to_numpy(dtype=np.int64)
    order = np.argsort(users, kind="stable")
    bounds = np.cumsum(np.bincount(users, minlength=n_users))[:-1]
    return [set(chunk.tolist()) for chunk in np.split(items[order], bounds)]


# --- Ranking: the shared machinery ---------------------------------------------------


def _check_topk(topk, k) -> np.ndarray:
    """Validate ``topk`` and ``k``; return the first ``k`` columns as int64 (U, k)."""
    topk = _to_numpy(topk)
    if topk.ndim != 2:
        raise DataValidationError(
            f"topk: expected a 2-D array (n_users, n_recommended), got shape {topk.shape}; "
            "build it with topk_items(scores, k)"
        )
    if topk.shape[0] == 0:
        raise DataValidationError("topk: the array has no rows (0 users); nothing to evaluate")
    if not np.issubdtype(topk.dtype, np.integer):
        raise DataValidationError(
            f"topk: expected integer item indices, got dtype {topk.dtype}; "
            "build it with topk_items(scores, k)"
        )
    k = _check_k(k, topk.shape[1], "the width of topk (recommended items per user)")
    top = topk[:, :k].astype(np.int64)
    if top.min() < 0:
        raise DataValidationError(
            f"topk: item indices must be >= 0, found {_preview(np.unique(top[top < 0]))}"
        )
    srt = np.sort(top, axis=1)
    dup_users = np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1))
    if dup_users.size:
        raise DataValidationError(
            f"topk: users {_preview(dup_users)} have an item twice in their first k={k} "
            "recommendations; a list must not repeat items"
        )
    return top


def _hits(topk, relevant, k) -> tuple[np.ndarray, np.ndarray]:
    """Return hits (U, k) bool, hit[u, j] = topk[u, j] in relevant[u], and R_u (U,)."""
    top = _check_topk(topk, k)
    n_users = top.shape[0]
    if isinstance(relevant, (str, bytes, Mapping)) or not hasattr(relevant, "__len__"):
        raise TypeError(
            "relevant must be a sequence with one collection of item indices per user "
            f"(see relevant_from_frame), got {type(relevant).__name__}"
        )
    if len(relevant) != n_users:
        raise DataValidationError(
            f"relevant has {len(relevant)} entries but topk has {n_users} rows (users); "
            "pass one collection per user, e.g. relevant_from_frame(test, n_users)"
        )
    per_user = [_item_array(items, f"relevant[{u}]") for u, items in enumerate(relevant)]
    lengths = np.array([len(a) for a in per_user], dtype=np.int64)
    rel_users = np.repeat(np.arange(n_users), lengths)
    rel_items = np.concatenate(per_user) if lengths.sum() else np.empty(0, dtype=np.int64)
    if rel_items.size == 0:
        raise DataValidationError(
            f"relevant: none of the {n_users} users has a relevant item, so no ranking metric "
            "is defined; check the test split (and any relevance threshold)"
        )
    # Encode (user, item) pairs as single integers so membership is one np.isin call.
    base = int(max(top.max(), rel_items.max())) + 1
    rel_keys = np.unique(rel_users * base + rel_items)                 # deduplicates repeats
    n_rel = np.bincount(rel_keys // base, minlength=n_users)           # (U,) R_u
    hits = np.isin(np.arange(n_users)[:, None] * base + top, rel_keys)  # (U, k)
    return hits, n_rel


def _reduce(values: np.ndarray, n_rel: np.ndarray, per_user: bool):
    """NaN for users without relevant items; their mean over the others, or the array."""
    values = np.where(n_rel > 0, values, np.nan)
    return values if per_user else float(np.nanmean(values))


def _precision_u(hits, n_rel, k):
    return hits.sum(axis=1) / k


def _recall_u(hits, n_rel, k):
    return hits.sum(axis=1) / np.maximum(n_rel, 1)


def _ndcg_u(hits, n_rel, k):
    discount = 1.0 / np.log2(np.arange(2, k + 2))                  # (k,) 1 / log2(rank + 1)
    dcg = hits @ discount                                           # (U,)
    idcg = np.cumsum(discount)[np.clip(np.minimum(n_rel, k) - 1, 0, None)]  # (U,) min(k, R_u) hits
    return dcg / idcg


def _ap_u(hits, n_rel, k):
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, k + 1)  # (U, k) P@j
    return (precision_at_rank * hits).sum(axis=1) / np.maximum(np.minimum(n_rel, k), 1)


def _hit_u(hits, n_rel, k):
    return hits.any(axis=1).astype(np.float64)


def _rr_u(hits, n_rel, k):
    first = hits.argmax(axis=1)                                     # (U,) 0-based first hit
    return np.where(hits.any(axis=1), 1.0 / (first + 1), 0.0)


# --- Ranking metrics ---------------------------------------------------------------


def precision_at_k(topk, relevant, k: int = 10, per_user: bool = False):
    r"""Precision@k: the share of the top-k recommendations that are relevant.

    .. math:: P@k(u) = \frac{1}{k}\sum_{j=1}^{k} \mathrm{hit}(u, j)

    The denominator is always ``k``, so a user with fewer than ``k`` relevant
    items cannot reach 1.

    Parameters
    ----------
    topk : array-like of shape (n_users, >=k), int
        Recommended item indices, best first (see :func:`topk_items`).
    relevant : sequence of length n_users
        ``relevant[u]``: a set, list or array of user ``u``'s relevant items.
    k : int, default 10
        List length; 1 <= k <= ``topk.shape[1]``.
    per_user : bool, default False
        Return the (n_users,) array of per-user values instead of their mean.

    Returns
    -------
    float or numpy.ndarray of shape (n_users,)
        In [0, 1]; the mean over users with at least one relevant item (users
        without any are NaN in the per-user array and left out of the mean).

    Raises
    ------
    DataValidationError
        If k is out of range, the inputs disagree in length or no user has a
        relevant item.

    References
    ----------
    Manning, Raghavan & Schuetze (2008), Introduction to Information Retrieval, sec. 8.4.

    Examples
    --------
    >>> precision_at_k([[5, 1, 7, 3, 9]], [{1, 3, 4}], k=5)   # 2 hits of 5
    0.4
    """
    hits, n_rel = _hits(topk, relevant, k)
    return _reduce(_precision_u(hits, n_rel, hits.shape[1]), n_rel, per_user)


def recall_at_k(topk, relevant, k: int = 10, per_user: bool = False):
    r"""Recall@k: the share of a user's relevant items found in the top k.

    .. math:: R@k(u) = \frac{1}{R_u}\sum_{j=1}^{k} \mathrm{hit}(u, j)

    Convention: the denominator is the number of relevant items :math:`R_u`,
    **not** :math:`\min(k, R_u)`; a user with more than ``k`` relevant items
    cannot reach 1.

    Parameters
    ----------
    topk : array-like of shape (n_users, >=k), int
        Recommended item indices, best first (see :func:`topk_items`).
    relevant : sequence of length n_users
        ``relevant[u]``: a set, list or array of user ``u``'s relevant items.
    k : int, default 10
        List length; 1 <= k <= ``topk.shape[1]``.
    per_user : bool, default False
        Return the (n_users,) array of per-user values instead of their mean.

    Returns
    -------
    float or numpy.ndarray of shape (n_users,)
        In [0, 1]; users without relevant items are NaN per user and left out
        of the mean.

    References
    ----------
    Cremonesi, Koren & Turrin (2010), Performance of recommender algorithms on
    top-N recommendation tasks, RecSys '10.

    Examples
    --------
    >>> recall_at_k([[5, 1, 7, 3, 9]], [{1, 3, 4}], k=5)      # 2 of 3 found
    0.6666666666666666
    """
    hits, n_rel = _hits(topk, relevant, k)
    return _reduce(_recall_u(hits, n_rel, hits.shape[1]), n_rel, per_user)


def ndcg_at_k(topk, relevant, k: int = 10, per_user: bool = False):
    r"""Normalised discounted cumulative gain at k, with binary relevance.

    .. math::
        \mathrm{DCG}@k(u) = \sum_{j=1}^{k} \frac{\mathrm{hit}(u, j)}{\log_2(j + 1)}, \qquad
        \mathrm{IDCG}@k(u) = \sum_{j=1}^{\min(k, R_u)} \frac{1}{\log_2(j + 1)}, \qquad
        \mathrm{nDCG}@k(u) = \frac{\mathrm{DCG}@k(u)}{\mathrm{IDCG}@k(u)}

    Convention: the gain is 1 for a relevant item and 0 otherwise; every rank
    is discounted by :math:`\log_2(j + 1)` (the form scikit-learn's
    ``ndcg_score`` uses, rather than Järvelin & Kekäläinen's original, which
    leaves ranks below the log base undiscounted); the ideal list puts
    :math:`\min(k, R_u)` relevant items first, so a perfect list scores 1.

    Parameters
    ----------
    topk : array-like of shape (n_users, >=k), int
        Recommended item indices, best first (see :func:`topk_items`).
    relevant : sequence of length n_users
        ``relevant[u]``: a set, list or array of user ``u``'s relevant items.
    k : int, default 10
        List length; 1 <= k <= ``topk.shape[1]``.
    per_user : bool, default False
        Return the (n_users,) array of per-user values instead of their mean.

    Returns
    -------
    float or numpy.ndarray of shape (n_users,)
        In [0, 1]; users without relevant items are NaN per user and left out
        of the mean.

    References
    ----------
    Järvelin, K. & Kekäläinen, J. (2002). Cumulated gain-based evaluation of IR
    techniques. ACM TOIS 20(4), 422-446.

    Examples
    --------
    >>> # DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3) + 1/log2(4)
    >>> round(ndcg_at_k([[5, 1, 7, 3, 9]], [{1, 3, 4}], k=5), 4)
    0.4982
    """
    hits, n_rel = _hits(topk, relevant, k)
    return _reduce(_ndcg_u(hits, n_rel, hits.shape[1]), n_rel, per_user)


def map_at_k(topk, relevant, k: int = 10, per_user: bool = False):
    r"""Mean average precision at k.

    .. math:: \mathrm{AP}@k(u) = \frac{1}{\min(k, R_u)}
              \sum_{j=1}^{k} P@j(u)\,\mathrm{hit}(u, j)

    and MAP@k is the mean of AP@k over users. Convention: AP is normalised by
    :math:`\min(k, R_u)` (as in the widely used ``ml_metrics.apk``), so a list
    whose k items are all relevant scores 1 even when :math:`R_u > k`.
    Microsoft Recommenders divides by :math:`R_u` instead, which gives lower
    values whenever :math:`R_u > k`.

    Parameters
    ----------
    topk : array-like of shape (n_users, >=k), int
        Recommended item indices, best first (see :func:`topk_items`).
    relevant : sequence of length n_users
        ``relevant[u]``: a set, list or array of user ``u``'s relevant items.
    k : int, default 10
        List length; 1 <= k <= ``topk.shape[1]``.
    per_user : bool, default False
        Return the (n_users,) array of AP@k values instead of their mean.

    Returns
    -------
    float or numpy.ndarray of shape (n_users,)
        In [0, 1]; users without relevant items are NaN per user and left out
        of the mean.

    References
    ----------
    Manning, Raghavan & Schuetze (2008), Introduction to Information Retrieval, sec. 8.4.

    Examples
    --------
    >>> map_at_k([[5, 1, 7, 3, 9]], [{1, 3, 4}], k=5)         # (1/2 + 2/4) / min(5, 3)
    0.3333333333333333
    """
    hits, n_rel = _hits(topk, relevant, k)
    return _reduce(_ap_u(hits, n_rel, hits.shape[1]), n_rel, per_user)


def hit_rate_at_k(topk, relevant, k: int = 10, per_user: bool = False):
    r"""Hit rate at k: the share of users with at least one relevant item in the top k.

    .. math:: \mathrm{HR}@k(u) = \bigl[\textstyle\sum_{j=1}^{k} \mathrm{hit}(u, j) > 0\bigr]

    Parameters
    ----------
    topk : array-like of shape (n_users, >=k), int
        Recommended item indices, best first (see :func:`topk_items`).
    relevant : sequence of length n_users
        ``relevant[u]``: a set, list or array of user ``u``'s relevant items.
    k : int, default 10
        List length; 1 <= k <= ``topk.shape[1]``.
    per_user : bool, default False
        Return the (n_users,) array of 0/1 values instead of their mean.

    Returns
    -------
    float or numpy.ndarray of shape (n_users,)
        In [0, 1]; users without relevant items are NaN per user and left out
        of the mean.

    References
    ----------
    Deshpande, M. & Karypis, G. (2004). Item-based top-N recommendation
    algorithms. ACM TOIS 22(1), 143-177.

    Examples
    --------
    >>> hit_rate_at_k([[5, 1, 7], [2, 4, 6]], [{1}, {9}], k=3)
    0.5
    """
    hits, n_rel = _hits(topk, relevant, k)
    return _reduce(_hit_u(hits, n_rel, hits.shape[1]), n_rel, per_user)


def mrr_at_k(topk, relevant, k: int = 10, per_user: bool = False):
    r"""Mean reciprocal rank at k: one over the rank of the first relevant item.

    .. math:: \mathrm{RR}@k(u) = \frac{1}{\min\{j \le k : \mathrm{hit}(u, j) = 1\}},
              \quad 0 \text{ if there is no hit in the top } k

    Parameters
    ----------
    topk : array-like of shape (n_users, >=k), int
        Recommended item indices, best first (see :func:`topk_items`).
    relevant : sequence of length n_users
        ``relevant[u]``: a set, list or array of user ``u``'s relevant items.
    k : int, default 10
        List length; 1 <= k <= ``topk.shape[1]``.
    per_user : bool, default False
        Return the (n_users,) array of reciprocal ranks instead of their mean.

    Returns
    -------
    float or numpy.ndarray of shape (n_users,)
        In [0, 1]; users without relevant items are NaN per user and left out
        of the mean.

    References
    ----------
    Voorhees, E. M. (1999). The TREC-8 question answering track report. TREC-8, 77-82.

    Examples
    --------
    >>> mrr_at_k([[5, 1, 7, 3, 9]], [{1, 3, 4}], k=5)         # first hit at rank 2
    0.5
    """
    hits, n_rel = _hits(topk, relevant, k)
    return _reduce(_rr_u(hits, n_rel, hits.shape[1]), n_rel, per_user)


_RANKING = {
    "precision_at_k": _precision_u,
    "recall_at_k": _recall_u,
    "ndcg_at_k": _ndcg_u,
    "map_at_k": _ap_u,
    "hit_rate_at_k": _hit_u,
    "mrr_at_k": _rr_u,
}


def ranking_report(topk, relevant, k: int = 10) -> dict[str, float]:
    """All six ranking metrics at once, sharing one relevance lookup.

    Parameters
    ----------
    topk : array-like of shape (n_users, >=k), int
        Recommended item indices, best first (see :func:`topk_items`).
    relevant : sequence of length n_users
        ``relevant[u]``: a set, list or array of user ``u``'s relevant items.
    k : int, default 10
        List length; 1 <= k <= ``topk.shape[1]``.

    Returns
    -------
    dict of str to float
        Keys are the metric function names (``"precision_at_k"``,
        ``"recall_at_k"``, ``"ndcg_at_k"``, ``"map_at_k"``, ``"hit_rate_at_k"``,
        ``"mrr_at_k"``); each value equals that function's result.

    Examples
    --------
    >>> report = ranking_report([[5, 1, 7, 3, 9]], [{1, 3, 4}], k=5)
    >>> for name, value in report.items():
    ...     print(f"{name:15s} {value:.3f}")
    precision_at_k  0.400
    recall_at_k     0.667
    ndcg_at_k       0.498
    map_at_k        0.333
    hit_rate_at_k   1.000
    mrr_at_k        0.500
    """
    hits, n_rel = _hits(topk, relevant, k)
    k = hits.shape[1]
    return {name: _reduce(fn(hits, n_rel, k), n_rel, False) for name, fn in _RANKING.items()}


# --- Beyond accuracy --------------------------------------------------------------


def _check_items_in_catalogue(top: np.ndarray, n_items: int, what: str) -> None:
    if top.max() >= n_items:
        bad = np.unique(top[top >= n_items])
        raise DataValidationError(
            f"topk: item indices {_preview(bad)} are out of range for {what} "
            f"({n_items} items, valid 0..{n_items - 1})"
        )


def catalog_coverage(topk, n_items: int, k: int = 10) -> float:
    r"""Catalogue coverage: the share of the catalogue recommended to anyone.

    .. math:: \mathrm{coverage}@k = \frac{\bigl|\bigcup_u \mathrm{top}_k(u)\bigr|}{I}

    Parameters
    ----------
    topk : array-like of shape (n_users, >=k), int
        Recommended item indices (see :func:`topk_items`).
    n_items : int
        Catalogue size :math:`I`.
    k : int, default 10
        List length; 1 <= k <= ``topk.shape[1]``.

    Returns
    -------
    float
        In (0, 1]; higher means more of the catalogue is exposed.

    References
    ----------
    Ge, M., Delgado-Battenfeld, C. & Jannach, D. (2010). Beyond accuracy:
    evaluating recommender systems by coverage and serendipity. RecSys '10, 257-260.

    Examples
    --------
    >>> catalog_coverage([[0, 1], [1, 2]], n_items=5, k=2)    # items {0, 1, 2}
    0.6
    """
    top = _check_topk(topk, k)
    if isinstance(n_items, bool) or not isinstance(n_items, (int, np.integer)) or n_items < 1:
        raise DataValidationError(f"n_items={n_items!r} is invalid; pass the catalogue size (> 0)")
    _check_items_in_catalogue(top, n_items, "n_items")
    return np.unique(top).size / int(n_items)


def intra_list_diversity(topk, item_features, k: int = 10) -> float:
    r"""Intra-list diversity: mean pairwise cosine distance within each list.

    .. math:: \mathrm{ILD}@k(u) = \frac{2}{k(k-1)} \sum_{a < b \le k}
              \Bigl(1 - \frac{\mathbf f_{i_a}\cdot\mathbf f_{i_b}}
              {\lVert\mathbf f_{i_a}\rVert\,\lVert\mathbf f_{i_b}\rVert}\Bigr),
              \qquad \mathrm{ILD}@k = \frac{1}{U}\sum_u \mathrm{ILD}@k(u)

    where :math:`i_a` is the item at rank ``a`` of user ``u``'s list and
    :math:`\mathbf f_i` its feature row (e.g. genre one-hot, embedding).
    Every user counts equally.

    Parameters
    ----------
    topk : array-like of shape (n_users, >=k), int
        Recommended item indices (see :func:`topk_items`).
    item_features : array-like of shape (n_items, d)
        Dense, finite item features; every recommended item needs a non-zero row.
    k : int, default 10
        List length; 2 <= k <= ``topk.shape[1]`` (a pair needs two items).

    Returns
    -------
    float
        In [0, 2], and in [0, 1] for non-negative features; 0 means every
        list holds items with parallel features.

    References
    ----------
    Ziegler, C.-N., McNee, S. M., Konstan, J. A. & Lausen, G. (2005). Improving
    recommendation lists through topic diversification. WWW '05, 22-32.

    Examples
    --------
    >>> features = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> intra_list_diversity([[0, 1], [0, 2]], features, k=2)  # (1 + (1 - 1/sqrt 2)) / 2
    0.6464466094067263
    """
    top = _check_topk(topk, k)
    if top.shape[1] < 2:
        raise DataValidationError("k=1 is invalid for intra_list_diversity: a pair needs k >= 2")
    feats = _to_numpy(item_features)
    if feats.ndim != 2:
        raise DataValidationError(
            f"item_features: expected a 2-D array (n_items, d), got shape {feats.shape}"
        )
    feats = check_finite_array(feats, "item_features")
    _check_items_in_catalogue(top, feats.shape[0], "item_features")
    norms = np.linalg.norm(feats, axis=1)                            # (I,)
    zero = np.unique(top[norms[top] == 0])
    if zero.size:
        raise DataValidationError(
            f"item_features: recommended items {_preview(zero)} have all-zero features, so "
            "their cosine similarity is undefined; give them a non-zero row "
            "(e.g. an 'unknown' flag)"
        )
    unit = feats / np.where(norms > 0, norms, 1.0)[:, None]          # (I, d) unit rows
    lists = unit[top]                                                # (U, k, d)
    cos = lists @ lists.transpose(0, 2, 1)                           # (U, k, k)
    k = top.shape[1]
    off_diagonal = cos.sum(axis=(1, 2)) - np.einsum("ujj->u", cos)   # (U,) twice the pair sum
    return float(np.mean(1.0 - off_diagonal / (k * (k - 1))))


def novelty(topk, item_popularity, k: int = 10, n_users: int | None = None) -> float:
    r"""Novelty: mean self-information (surprisal) of the recommended items, in bits.

    .. math:: \mathrm{novelty}@k = \frac{1}{U k}\sum_u \sum_{j=1}^{k} -\log_2 p_{i_{u,j}},
              \qquad p_i = \frac{\mathrm{pop}_i}{N}

    Convention (Zhou et al. 2010; Vargas & Castells 2011): :math:`\mathrm{pop}_i`
    is the number of training users who interacted with item ``i`` and
    :math:`N` the number of training users, so :math:`p_i` is the probability
    that a random user has seen the item. An item everyone has seen carries 0
    bits; one seen by a single user :math:`\log_2 N` bits.

    Parameters
    ----------
    topk : array-like of shape (n_users, >=k), int
        Recommended item indices (see :func:`topk_items`).
    item_popularity : array-like of shape (n_items,)
        Per-item count of training users who interacted with the item; every
        recommended item needs a count >= 1 (its surprisal is infinite otherwise).
    k : int, default 10
        List length; 1 <= k <= ``topk.shape[1]``.
    n_users : int, optional
        :math:`N`, the number of users the counts were taken over. Defaults to
        ``topk.shape[0]``, right when every training user gets a list.

    Returns
    -------
    float
        In [0, log2 N] bits; higher means less popular, more surprising items.

    References
    ----------
    Zhou, T., Kuscsik, Z., Liu, J.-G., Medo, M., Wakeling, J. R. & Zhang, Y.-C.
    (2010). Solving the apparent diversity-accuracy dilemma of recommender
    systems. PNAS 107(10), 4511-4515.
    Vargas, S. & Castells, P. (2011). Rank and relevance in novelty and
    diversity metrics for recommender systems. RecSys '11, 109-116.

    Examples
    --------
    >>> popularity = [4, 2, 1, 1]                    # p = 1, 1/2, 1/4, 1/4
    >>> novelty([[0, 1], [2, 3]], popularity, k=2, n_users=4)  # mean of 0, 1, 2, 2 bits
    1.25
    """
    top = _check_topk(topk, k)
    pop = check_vector(item_popularity, "item_popularity")
    if n_users is None:
        n_users = top.shape[0]
    if isinstance(n_users, bool) or not isinstance(n_users, (int, np.integer)) or n_users < 1:
        raise DataValidationError(f"n_users={n_users!r} is invalid; pass a positive integer")
    _check_items_in_catalogue(top, len(pop), "item_popularity")
    counts = pop[top]                                                 # (U, k)
    if (counts < 1).any():
        bad = np.unique(top[counts < 1])
        raise DataValidationError(
            f"item_popularity: recommended items {_preview(bad)} have popularity < 1, so their "
            "self-information is infinite; add-one smooth the counts or do not recommend them"
        )
    if (counts > n_users).any():
        bad = np.unique(top[counts > n_users])
        raise DataValidationError(
            f"item_popularity: items {_preview(bad)} have counts above n_users={n_users}; pass "
            "the number of training users as n_users (counts must be users per item)"
        )
    return float(np.mean(-np.log2(counts / n_users)))
