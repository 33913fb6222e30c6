r"""Sequence models for next-item prediction: GRU4Rec, Caser and SASRec, with two baselines.

A user's history is an *ordered* list of items. Matrix factorisation forgets the order;
the models here read it, and predict the item that comes next:

.. math:: \hat p(i_{t+1} = j \mid i_1, \dots, i_t) = \operatorname{softmax}_j\bigl(
          \langle h_t, e_j \rangle + b_j\bigr),

where :math:`h_t` summarises the prefix (an RNN state, a convolution of the last
:math:`L` items, or a causal self-attention output) and :math:`e_j` is item
:math:`j`'s output embedding.

==========================  ===============================================================
:func:`user_sequences`      each user's items in time order, as codes ``1..I`` (0 = padding)
:func:`pad_sequences`       the last ``max_len`` items of each sequence, left-padded with 0
:func:`training_windows`    (input, target) windows for "predict every next item" training
:func:`caser_examples`      (user, last L items, next item) examples for Caser
:class:`MostPopularNext`    baseline: the most popular training items
:class:`LastItemNext`       baseline: what most often followed the user's last item
:class:`GRU4Rec`            recurrent model (Hidasi et al., ICLR 2016)
:class:`Caser`              convolutional model (Tang and Wang, WSDM 2018)
:class:`SASRec`             causal self-attention (Kang and McAuley, ICDM 2018)
:func:`evaluate_next_item`  full-catalogue Recall / NDCG / MRR at k of the held-out next item
==========================  ===============================================================

Protocol (:func:`~recfeat_ref.splits.leave_last_one_out`): per user, ordered by time
(ties: original row order), the last item is the test target, the second to last the
validation target, the rest is training. A model is fitted on the training sequences;
validation ranks the next item after the training sequence, test ranks the next item
after training + validation item (that item is *input*, never trained on). Every
catalogue item is ranked, except those already in the user's input history (a MovieLens
user rates a film once, so a repeat is never the answer). Targets whose item never
occurs in training cannot be scored by any model and are dropped, as in
:func:`~recfeat_ref.recommender.evaluate_topn`.

The neural models share one training loop: seeded, a tqdm bar over epochs, full-softmax
cross-entropy over the catalogue at every position (for SASRec optionally the paper's
binary cross-entropy with one sampled negative), Adam, validation NDCG@k every
``eval_every`` epochs with early stopping and the best weights restored, and a
``history_`` frame with the seconds of every epoch.

Features for later chapters: ``item_embeddings_`` (the learned item table, one row per
``item_ids_`` entry) and :meth:`NeuralSequentialRecommender.user_states` (the vector a
model dots with the item table: the last hidden state of GRU4Rec and SASRec, Caser's
``[z; P_u]``).

References
----------
.. [1] B. Hidasi, A. Karatzoglou, L. Baltrunas and D. Tikk, "Session-based
   Recommendations with Recurrent Neural Networks", ICLR 2016.
.. [2] J. Tang and K. Wang, "Personalized Top-N Sequential Recommendation via
   Convolutional Sequence Embedding", WSDM 2018.
.. [3] W.-C. Kang and J. McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018.
.. [4] A. Klenitskiy and A. Vasilev, "Turning Dross Into Gold Loss: is BERT4Rec really
   better than SASRec?", RecSys 2023 (full-softmax cross-entropy for SASRec).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from recfeat_ref import (
    DEFAULT_ITEM_COL,
    DEFAULT_TIMESTAMP_COL,
    DEFAULT_USER_COL,
    metrics,
)
from recfeat_ref._validation import (
    _LOOP_INTS,
    DataValidationError,
    _check_fields,
    _check_positive_int,
    _make_config,
    check_columns,
    check_dataframe,
    check_ids,
    check_no_nan,
)
from recfeat_ref.preprocessing import IdEncoder
from recfeat_ref.recommender import Recommender
from recfeat_ref.exceptions import NotFittedError
from recfeat_ref.training import _nonfinite_loss, get_device, seed_everything

__all__ = [
    "user_sequences",
    "pad_sequences",
    "training_windows",
    "caser_examples",
    "SequentialRecommender",
    "MostPopularNext",
    "LastItemNext",
    "SequenceConfig",
    "GRU4RecConfig",
    "CaserConfig",
    "SASRecConfig",
    "NeuralSequentialRecommender",
    "GRU4Rec",
    "Caser",
    "SASRec",
    "GRU4RecNet",
    "CaserNet",
    "SASRecNet",
    "causal_mask",
    "evaluate_next_item",
]


# ---------------------------------------------------------------------------
# sequences
# ---------------------------------------------------------------------------


def user_sequences(
    df: pd.DataFrame,
    encoder: IdEncoder | None = None,
    user_col: str = DEFAULT_USER_COL,
    item_col: str = DEFAULT_ITEM_COL,
    timestamp_col: str = DEFAULT_TIMESTAMP_COL,
) -> tuple[np.ndarray, list[np.ndarray], IdEncoder]:
    """Each user's items in time order, encoded as ``1..I`` (0 is kept for padding).

    Rows are ordered by ``timestamp_col`` with a *stable* sort, so equal timestamps keep
    the frame's row order, the tie rule of :func:`~recfeat_ref.splits.leave_last_one_out`
    (whose parts keep the original order, so ``pd.concat([train, valid])`` orders as the
    full frame). Items unknown to ``encoder`` (code 0) are dropped from the sequences.

    Parameters
    ----------
    df : pandas.DataFrame
        Interactions with user, item and timestamp columns. Never modified.
    encoder : IdEncoder, optional
        Item encoder fitted on training items; if None one is fitted on ``df``.
    user_col, item_col, timestamp_col : str

    Returns
    -------
    users : numpy.ndarray
        The raw user ids, sorted.
    sequences : list of int64 arrays
        ``sequences[k]`` holds the item codes of ``users[k]``, oldest first.
    encoder : IdEncoder
        The item encoder used (``encoder.classes_[c - 1]`` is the raw id of code ``c``).

    Examples
    --------
    >>> df = pd.DataFrame({"user_id": [1, 1, 1, 2], "item_id": [30, 10, 20, 10],
    ...                    "timestamp": [3, 1, 2, 5]})
    >>> users, seqs, enc = user_sequences(df)
    >>> users.tolist(), [s.tolist() for s in seqs], enc.classes_.tolist()
    ([1, 2], [[1, 2, 3], [1]], [10, 20, 30])
    """
    what = "user_sequences(df)"
    check_dataframe(df, what)
    check_columns(df, [user_col, item_col, timestamp_col], what)
    check_no_nan(df, [user_col, item_col, timestamp_col], what)
    if encoder is None:
        encoder = IdEncoder().fit(df[item_col])
    codes = encoder.transform(df[item_col]).astype(np.int64)
    users, user_codes = np.unique(df[user_col].to_numpy(), return_inverse=True)
    t_codes, _ = pd.factorize(df[timestamp_col], sort=True)
    by_time = np.argsort(t_codes, kind="stable")
    order = by_time[np.argsort(user_codes[by_time], kind="stable")]  # by user, then time, then row
    bounds = np.cumsum(np.bincount(user_codes, minlength=len(users)))[:-1]
    seqs = [s[s > 0] for s in np.split(codes[order], bounds)]
    return users, seqs, encoder


def pad_sequences(sequences, max_len: int) -> np.ndarray:
    """The last ``max_len`` items of each sequence, left-padded with 0.

    Left padding puts every sequence's most recent item in the last column, the position
    whose output predicts the next item.

    Shapes: ``len(sequences)`` sequences -> (n, max_len) int64.

    Examples
    --------
    >>> pad_sequences([[1, 2, 3], [4], [5, 6, 7, 8, 9]], max_len=4)
    array([[0, 1, 2, 3],
           [0, 0, 0, 4],
           [6, 7, 8, 9]])
    """
    _check_positive_int("max_len", max_len)
    out = np.zeros((len(sequences), max_len), dtype=np.int64)
    for row, seq in enumerate(sequences):
        tail = np.asarray(seq, dtype=np.int64)[-max_len:]
        if len(tail):
            out[row, max_len - len(tail):] = tail
    return out


def training_windows(sequences, max_len: int, max_windows: int | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Cut sequences into (input, target) windows for next-item training at every position.

    A sequence :math:`s_1, \dots, s_n` becomes windows of ``max_len + 1`` items taken
    from its end, stepping back ``max_len`` each time (consecutive windows share one
    item), so every transition :math:`s_{t} \to s_{t+1}` is a target exactly once.
    Within a window the input is all but the last item and the target is the input
    shifted by one; the earliest window is left-padded with 0. (Kang and McAuley keep
    only the last window per user; cutting the whole history, the sub-sequence
    augmentation of Tan et al. 2016, gives ML-100K's short catalogue more examples.)
    ``max_windows`` keeps only the most recent windows of each sequence (1: the paper's
    choice; None: all).

    Returns
    -------
    rows : (W,) int64, the index of each window's sequence
    inputs, targets : (W, max_len) int64; ``targets[w, t]`` follows ``inputs[w, t]``,
        0 where there is nothing to predict.

    Examples
    --------
    >>> rows, x, y = training_windows([[1, 2, 3, 4, 5, 6]], max_len=3)
    >>> rows.tolist(), x.tolist(), y.tolist()
    ([0, 0], [[3, 4, 5], [0, 1, 2]], [[4, 5, 6], [0, 2, 3]])
    """
    _check_positive_int("max_len", max_len)
    if max_windows is not None:
        _check_positive_int("max_windows", max_windows)
    rows, xs, ys = [], [], []
    for row, seq in enumerate(sequences):
        seq = np.asarray(seq, dtype=np.int64)
        end = len(seq)
        stop = 0 if max_windows is None else len(seq) - max_windows * max_len
        while end >= 2 and end > stop:
            chunk = seq[max(0, end - max_len - 1):end]
            x, y = np.zeros(max_len, np.int64), np.zeros(max_len, np.int64)
            x[max_len - len(chunk) + 1:] = chunk[:-1]
            y[max_len - len(chunk) + 1:] = chunk[1:]
            rows.append(row), xs.append(x), ys.append(y)
            end -= max_len
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, max_len), np.int64), np.zeros((0, max_len), np.int64)
    return np.asarray(rows, np.int64), np.stack(xs), np.stack(ys)


def caser_examples(sequences, L: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sequence index, previous ``L`` items left-padded, next item) for every position ``t >= 2``.

    Returns ``rows`` (N,), ``inputs`` (N, L) and ``targets`` (N,), all int64.

    Examples
    --------
    >>> rows, x, y = caser_examples([[1, 2, 3]], L=2)
    >>> rows.tolist(), x.tolist(), y.tolist()
    ([0, 0], [[0, 1], [1, 2]], [2, 3])
    """
    _check_positive_int("L", L)
    rows, xs, ys = [], [], []
    for row, seq in enumerate(sequences):
        seq = np.asarray(seq, dtype=np.int64)
        if len(seq) < 2:
            continue
        padded = np.concatenate([np.zeros(L, np.int64), seq])
        idx = np.arange(1, len(seq))[:, None] + np.arange(L)[None, :]  # (n-1, L) windows ending before t
        rows.append(np.full(len(seq) - 1, row)), xs.append(padded[idx]), ys.append(seq[1:])
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, L), np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(xs), np.concatenate(ys)


# ---------------------------------------------------------------------------
# the interface and the baselines
# ---------------------------------------------------------------------------


class SequentialRecommender(Recommender):
    """Base class: a recommender whose scores depend on the ordered history.

    ``fit(train, valid=None)`` takes a frame of raw ids *with timestamps*. Scoring takes a
    history frame: :meth:`score_next` returns, for every user of the frame, the scores
    of every training item (columns in the order of ``item_ids_``) as the next item after
    that user's history. :meth:`score_items` (the :class:`~recfeat_ref.recommender.Recommender`
    method) scores the next item after the *training* history, so
    :func:`~recfeat_ref.recommender.evaluate_topn` ``(model, train, valid)`` also works.

    Subclasses implement ``_fit_sequences(user_idx, sequences)`` and
    ``_score_sequences(user_idx, sequences)`` on training user indices (-1: unseen user)
    and item codes ``1..I``; a user whose history holds no known item is scored by
    training popularity.

    Examples
    --------
    A concrete subclass, :class:`LastItemNext`, scoring the next item after a new history:

    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [5, 6, 5, 6], "timestamp": [1, 2, 1, 2]})
    >>> model = LastItemNext().fit(train)
    >>> users, scores = model.score_next(pd.DataFrame({"user_id": [9], "item_id": [5], "timestamp": [1]}))
    >>> isinstance(model, SequentialRecommender), users.tolist(), model.item_ids_[scores.argmax(axis=1)].tolist()
    (True, [9], [6])
    """

    target_col = None

    def __init__(self, *, user_col: str = DEFAULT_USER_COL, item_col: str = DEFAULT_ITEM_COL,
                 timestamp_col: str = DEFAULT_TIMESTAMP_COL):
        super().__init__(user_col=user_col, item_col=item_col)
        self.timestamp_col = timestamp_col

    def _sequences(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        users, seqs, _ = user_sequences(df, self._item_enc, self.user_col, self.item_col, self.timestamp_col)
        return users, self._user_enc.transform(pd.Series(users, name=self.user_col)) - 1, seqs

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None):
        """Fit on the ordered training interactions; ``valid`` (one next item per user) for early stopping."""
        what = f"{type(self).__name__}.fit(train)"
        check_dataframe(train, what)
        check_columns(train, [self.user_col, self.item_col, self.timestamp_col], what)
        for col in (self.user_col, self.item_col):
            check_ids(train, col, what)
        check_no_nan(train, [self.timestamp_col], what)  # a NaN time would order its row arbitrarily
        if valid is not None:
            check_dataframe(valid, f"{type(self).__name__}.fit(valid)")
            check_columns(valid, [self.user_col, self.item_col], f"{type(self).__name__}.fit(valid)")
        start = time.perf_counter()
        self._user_enc = IdEncoder().fit(train[self.user_col])
        self._item_enc = IdEncoder().fit(train[self.item_col])
        self.user_ids_, self.item_ids_ = self._user_enc.classes_, self._item_enc.classes_
        self.n_users_, self.n_items_ = len(self.user_ids_), len(self.item_ids_)
        _, user_idx, seqs = self._sequences(train)
        self.train_sequences_ = seqs  # by user index (the users are the sorted training users)
        self.popularity_ = np.bincount(np.concatenate(seqs) - 1, minlength=self.n_items_).astype(np.float64)
        self._fit_sequences(user_idx, seqs, valid)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def score_next(self, history: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Scores of every training item as the next item after each user's ``history``.

        Returns
        -------
        users : (n,) the raw user ids of ``history``, sorted
        scores : (n, ``n_items_``) float64, columns in the order of ``item_ids_``
        """
        self._check_fitted()
        users, user_idx, seqs = self._sequences(history)
        return users, self._scores(user_idx, seqs)

    def _scores(self, user_idx, seqs) -> np.ndarray:
        scores = np.asarray(self._score_sequences(np.asarray(user_idx), seqs), dtype=np.float64)
        empty = np.array([len(s) == 0 for s in seqs], dtype=bool)
        if empty.any():
            scores[empty] = self.popularity_
        return scores

    def _score_all(self, users):
        return self._scores(users, [self.train_sequences_[u] for u in users])

    def _fallback(self, users, items):
        return np.where(items >= 0, self.popularity_[np.maximum(items, 0)], 0.0)

    def _fit_sequences(self, user_idx, seqs, valid) -> None:
        raise NotImplementedError

    def _score_sequences(self, user_idx, seqs) -> np.ndarray:
        raise NotImplementedError


class MostPopularNext(SequentialRecommender):
    r"""Baseline: score every item by its number of training interactions, whatever the history.

    .. math:: s_j = \lvert\{(u, t) : i_{u,t} = j\}\rvert

    Examples
    --------
    >>> train = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [5, 6, 6], "timestamp": [1, 2, 1]})
    >>> MostPopularNext().fit(train).score_items([1]).tolist()
    [[1.0, 2.0]]
    """

    def _fit_sequences(self, user_idx, seqs, valid):
        pass

    def _score_sequences(self, user_idx, seqs):
        return np.broadcast_to(self.popularity_, (len(seqs), self.n_items_)).copy()


class LastItemNext(SequentialRecommender):
    r"""Baseline: score items by how often they directly followed the user's last item.

    With :math:`C_{ab}` the number of times item :math:`b` came right after item
    :math:`a` in a training sequence, and :math:`n_b` the popularity of :math:`b`, a user
    whose last item is :math:`a` gets

    .. math:: s_b = C_{ab} + \frac{n_b}{1 + \max_j n_j},

    a first-order Markov chain whose ties (and rows without any transition) are broken by
    popularity: the second term is below 1, so it never overturns a count.

    Shapes: ``transitions_`` is a (I, I) sparse matrix, rows = previous item.

    Examples
    --------
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [5, 6, 5, 6],
    ...                       "timestamp": [1, 2, 1, 2]})
    >>> model = LastItemNext().fit(train)
    >>> model.transitions_.toarray().tolist()
    [[0.0, 2.0], [0.0, 0.0]]
    """

    def _fit_sequences(self, user_idx, seqs, valid):
        import scipy.sparse as sp

        prev = np.concatenate([s[:-1] for s in seqs]) - 1
        nxt = np.concatenate([s[1:] for s in seqs]) - 1
        self.transitions_ = sp.csr_matrix(
            (np.ones(len(prev)), (prev, nxt)), shape=(self.n_items_, self.n_items_)
        )  # duplicates summed
        self.transitions_.sum_duplicates()

    def _score_sequences(self, user_idx, seqs):
        out = np.broadcast_to(self.popularity_ / (1.0 + self.popularity_.max()), (len(seqs), self.n_items_)).copy()
        last = np.array([s[-1] - 1 if len(s) else -1 for s in seqs], dtype=np.int64)
        has = last >= 0
        if has.any():
            out[has] += self.transitions_[last[has]].toarray()
        return out


# ---------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------


def evaluate_next_item(model: SequentialRecommender, history: pd.DataFrame, target: pd.DataFrame,
                       k: int = 10, per_user: bool = False) -> dict:
    r"""Full-catalogue Recall@k, NDCG@k and MRR@k of each user's held-out next item.

    For every user of ``target`` (one row: the next item), all training items are ranked
    by ``model.score_next(history)``, *excluding the items already in the user's
    history* (a film is rated once, so a repeat is never the answer). With one relevant
    item at rank :math:`r`, Recall@k is the hit rate :math:`[r \le k]`, NDCG@k is
    :math:`[r \le k] / \log_2(r + 1)` and MRR@k is :math:`[r \le k] / r`; each is averaged
    over users (:mod:`recfeat_ref.metrics`). Targets unseen in training, or whose user
    has no history, are dropped and counted in ``n_dropped``. No negative sampling
    (Krichene and Rendle, 2020).

    Parameters
    ----------
    model : a fitted SequentialRecommender
    history : frame of the inputs (for test: train + validation rows)
    target : frame with one row per evaluated user: the next item
    k : list length
    per_user : bool
        Also return the per-user values (for paired bootstraps between models).

    Returns
    -------
    dict with ``recall_at_k``, ``ndcg_at_k``, ``mrr_at_k``, ``n_users``, ``n_dropped``, and
    with ``per_user=True`` a ``per_user`` frame (``user_id``, ``recall``, ``ndcg``, ``rr``)
    indexed like the evaluated users, sorted by user id.

    Examples
    --------
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 2, 2], "item_id": [5, 6, 5, 6, 7],
    ...                       "timestamp": [1, 2, 1, 2, 3]})
    >>> target = pd.DataFrame({"user_id": [1], "item_id": [7]})
    >>> evaluate_next_item(MostPopularNext().fit(train), train, target, k=1)["recall_at_k"]
    1.0
    """
    model._check_fitted()
    check_dataframe(target, "evaluate_next_item(target)")
    check_columns(target, [model.user_col, model.item_col], "evaluate_next_item(target)")
    dup = target[model.user_col].duplicated()
    if dup.any():
        raise DataValidationError(
            f"evaluate_next_item(target): users {target.loc[dup, model.user_col].head(5).tolist()} have "
            "more than one target row; pass one next item per user"
        )
    users, scores = model.score_next(history)
    _, seqs, _ = user_sequences(history, model._item_enc, model.user_col, model.item_col, model.timestamp_col)
    pos = pd.Series(np.arange(len(users)), index=users)
    t_codes = model._item_enc.transform(target[model.item_col])
    rows = pos.reindex(target[model.user_col].to_numpy()).to_numpy()
    ok = (t_codes > 0) & ~np.isnan(rows)
    rows = rows[ok].astype(np.int64)
    ok_rows = np.array([len(seqs[r]) > 0 for r in rows], dtype=bool)
    rows, t_items = rows[ok_rows], (t_codes[ok] - 1)[ok_rows]
    if len(rows) == 0:
        raise DataValidationError("evaluate_next_item: no target user has a known next item and a history")
    top = metrics.topk_items(scores[rows], k, exclude=[seqs[r] - 1 for r in rows])
    relevant = [{int(i)} for i in t_items]
    values = {name: fn(top, relevant, k, per_user=True) for name, fn in
              (("recall", metrics.recall_at_k), ("ndcg", metrics.ndcg_at_k), ("rr", metrics.mrr_at_k))}
    report = {
        "recall_at_k": float(np.mean(values["recall"])),
        "ndcg_at_k": float(np.mean(values["ndcg"])),
        "mrr_at_k": float(np.mean(values["rr"])),
        "n_users": len(rows),
        "n_dropped": int(len(target) - len(rows)),
    }
    if per_user:
        frame = pd.DataFrame({"user_id": users[rows], **values})
        report["per_user"] = frame.sort_values("user_id", kind="stable").reset_index(drop=True)
    return report


# ---------------------------------------------------------------------------
# networks
# ---------------------------------------------------------------------------


def causal_mask(seq: torch.Tensor) -> torch.Tensor:
    r"""Boolean attention mask ``allowed[b, t, s]``: position ``t`` may attend to ``s``.

    .. math:: \text{allowed}_{ts} = [s \le t] \wedge \bigl([x_s \ne 0] \vee [s = t]\bigr)

    Causal (no peeking at later items) and blind to padding; a padded query attends to
    itself only, so no softmax row is empty (no NaN). Shapes: (B, L) -> (B, L, L).

    Examples
    --------
    >>> causal_mask(torch.tensor([[0, 3, 4]]))[0].int().tolist()
    [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    """
    L = seq.shape[1]
    lower = torch.ones(L, L, dtype=torch.bool, device=seq.device).tril()  # (L, L)
    real_key = (seq != 0)[:, None, :]  # (B, 1, L)
    eye = torch.eye(L, dtype=torch.bool, device=seq.device)
    return lower & (real_key | eye)


class GRU4RecNet(nn.Module):
    r"""Embedding, GRU, and a dot product with the item table (tied input/output embeddings).

    The GRU update of Cho et al. (2014), used by Hidasi et al. (2016):

    .. math:: z_t = \sigma(W_z x_t + U_z h_{t-1}), \quad r_t = \sigma(W_r x_t + U_r h_{t-1}),
    .. math:: \tilde h_t = \tanh(W x_t + U (r_t \odot h_{t-1})), \quad
              h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t

    (biases omitted). Score of item :math:`j`: :math:`\langle W_o h_t, e_j\rangle + b_j`.
    Padding (code 0) embeds to the zero vector; left padding means the state drifts only
    through the biases before the first real item, identically for every sequence.

    Shapes: ``hidden(users, seq)`` (B,), (B, L) -> (B, L, d); ``logits`` (..., d) -> (..., I + 1).

    Examples
    --------
    >>> net = GRU4RecNet(n_items=5, d=4, n_layers=1, dropout=0.0)
    >>> h = net.hidden(torch.tensor([1, 2]), torch.tensor([[0, 1, 2], [3, 1, 4]]))   # left-padded
    >>> h.shape, net.logits(h).shape   # scores of the 5 items and the padding code
    (torch.Size([2, 3, 4]), torch.Size([2, 3, 6]))
    """

    def __init__(self, n_items: int, d: int, n_layers: int, dropout: float):
        super().__init__()
        self.item_emb = nn.Embedding(n_items + 1, d, padding_idx=0)
        self.gru = nn.GRU(d, d, num_layers=n_layers, batch_first=True,
                          dropout=dropout if n_layers > 1 else 0.0)
        self.proj = nn.Linear(d, d)
        self.out_bias = nn.Parameter(torch.zeros(n_items + 1))
        self.drop = nn.Dropout(dropout)
        nn.init.normal_(self.item_emb.weight, std=d ** -0.5)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def hidden(self, users, seq):
        out, _ = self.gru(self.drop(self.item_emb(seq)))  # (B, L, d)
        return self.proj(self.drop(out))

    def logits(self, h):
        return h @ self.item_emb.weight.T + self.out_bias  # (..., I + 1)


class CaserNet(nn.Module):
    r"""Caser: horizontal and vertical convolutions over the last ``L`` item embeddings.

    With :math:`E \in \mathbb{R}^{L \times d}` the embeddings of the last :math:`L` items
    (Tang and Wang, 2018, eqs. 2-7):

    * horizontal filters :math:`F^k \in \mathbb{R}^{h \times d}`, :math:`h = 1..L`,
      ``n_h`` of each height: :math:`c^k_i = \phi_c(E_{i:i+h-1} \cdot F^k)`, max-pooled
      over :math:`i` (union-level and point-level patterns of :math:`h` items);
    * vertical filters :math:`\tilde F^k \in \mathbb{R}^{L \times 1}`: :math:`\tilde c^k =
      \sum_l \tilde F^k_l E_l`, a learned weighted sum of the :math:`L` embeddings;
    * :math:`z = \phi_a(W [o; \tilde o] + b)`, and the score of item :math:`j` is
      :math:`y_j = W'_j [z; P_u] + b'_j` with the user embedding :math:`P_u`.

    :math:`\phi_c = \phi_a = \mathrm{ReLU}`; dropout 0.5 on :math:`[z; P_u]` as in the paper.
    Unseen users (index 0) have the zero user vector.

    Shapes: ``hidden(users, seq)`` (B,), (B, L) -> (B, 2d); ``logits`` (B, 2d) -> (B, I + 1).

    Examples
    --------
    >>> net = CaserNet(n_users=3, n_items=5, d=4, L=3, n_h=2, n_v=2, dropout=0.0)
    >>> h = net.hidden(torch.tensor([1, 2]), torch.tensor([[0, 1, 2], [3, 1, 4]]))
    >>> h.shape, net.logits(h).shape
    (torch.Size([2, 8]), torch.Size([2, 6]))
    """

    def __init__(self, n_users: int, n_items: int, d: int, L: int, n_h: int, n_v: int, dropout: float):
        super().__init__()
        self.item_emb = nn.Embedding(n_items + 1, d, padding_idx=0)
        self.user_emb = nn.Embedding(n_users + 1, d, padding_idx=0)
        self.horizontal = nn.ModuleList([nn.Conv2d(1, n_h, (h, d)) for h in range(1, L + 1)])
        self.vertical = nn.Conv2d(1, n_v, (L, 1))
        self.fc = nn.Linear(n_h * L + n_v * d, d)
        self.out_emb = nn.Embedding(n_items + 1, 2 * d)
        self.out_bias = nn.Parameter(torch.zeros(n_items + 1))
        self.drop = nn.Dropout(dropout)
        nn.init.normal_(self.item_emb.weight, std=d ** -0.5)
        nn.init.normal_(self.user_emb.weight, std=d ** -0.5)
        nn.init.normal_(self.out_emb.weight, std=(2 * d) ** -0.5)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()
            self.user_emb.weight[0].zero_()

    def hidden(self, users, seq):
        E = self.item_emb(seq).unsqueeze(1)  # (B, 1, L, d)
        o_h = [F.relu(conv(E).squeeze(3)).max(dim=2).values for conv in self.horizontal]  # L x (B, n_h)
        o_v = self.vertical(E).flatten(1)  # (B, n_v * d)
        z = F.relu(self.fc(self.drop(torch.cat([*o_h, o_v], dim=1))))  # (B, d)
        return self.drop(torch.cat([z, self.user_emb(users)], dim=1))  # (B, 2d)

    def logits(self, h):
        return h @ self.out_emb.weight.T + self.out_bias


class _CausalSelfAttention(nn.Module):
    def __init__(self, d: int, n_heads: int, dropout: float):
        super().__init__()
        if d % n_heads:
            raise ValueError(f"d={d} must be divisible by n_heads={n_heads}")
        self.n_heads = n_heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, allowed):
        B, L, d = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)  # (B, H, L, dh) each
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.n_heads)  # (B, H, L, L)
        scores = scores.masked_fill(~allowed[:, None], float("-inf"))
        weights = scores.softmax(dim=-1)  # (B, H, L, L)
        out = (self.drop(weights) @ v).transpose(1, 2).reshape(B, L, d)
        return self.out(out), weights


class SASRecNet(nn.Module):
    r"""SASRec: item + learned position embeddings, causal self-attention blocks, tied output.

    Input :math:`\hat E_t = \sqrt{d}\, M_{s_t} + P_t` (Kang and McAuley, 2018, sec. III-B),
    then ``n_blocks`` pre-LN blocks (Xiong et al., 2020; stable without warm-up):

    .. math:: X \leftarrow X + \mathrm{Attn}(\mathrm{LN}(X)), \qquad
              X \leftarrow X + \mathrm{FFN}(\mathrm{LN}(X)),
    .. math:: \mathrm{Attn}(X) = \operatorname{softmax}\!\Bigl(\frac{Q K^\top}{\sqrt{d_h}}
              + M\Bigr) V, \quad M_{ts} = \begin{cases} 0 & \text{allowed}_{ts} \\
              -\infty & \text{otherwise} \end{cases}

    with :math:`Q, K, V = X W_Q, X W_K, X W_V` per head and the mask of :func:`causal_mask`;
    :math:`\mathrm{FFN}(x) = W_2\,\mathrm{ReLU}(W_1 x + b_1) + b_2`. A final LN gives
    :math:`F_t`, and the score of item :math:`j` is :math:`\langle F_t, M_j\rangle` (the
    shared item table, as in the paper). Padded positions are zeroed after every block.

    Shapes: ``hidden(users, seq)`` (B,), (B, L) -> (B, L, d); ``logits`` (..., d) -> (..., I + 1);
    ``attention(seq)`` -> list of ``n_blocks`` tensors (B, heads, L, L).

    Examples
    --------
    >>> net = SASRecNet(n_items=5, d=4, max_len=3, n_blocks=1, n_heads=1, dropout=0.0).eval()
    >>> h = net.hidden(torch.tensor([1, 2]), torch.tensor([[0, 1, 2], [3, 1, 4]]))
    >>> h.shape, net.logits(h).shape
    (torch.Size([2, 3, 4]), torch.Size([2, 3, 6]))
    """

    def __init__(self, n_items: int, d: int, max_len: int, n_blocks: int, n_heads: int, dropout: float):
        super().__init__()
        self.d = d
        self.item_emb = nn.Embedding(n_items + 1, d, padding_idx=0)
        self.pos_emb = nn.Embedding(max_len, d)
        self.drop = nn.Dropout(dropout)
        self.ln_attn = nn.ModuleList([nn.LayerNorm(d) for _ in range(n_blocks)])
        self.attn = nn.ModuleList([_CausalSelfAttention(d, n_heads, dropout) for _ in range(n_blocks)])
        self.ln_ffn = nn.ModuleList([nn.LayerNorm(d) for _ in range(n_blocks)])
        self.ffn = nn.ModuleList([
            nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d, d)) for _ in range(n_blocks)
        ])
        self.ln_out = nn.LayerNorm(d)
        nn.init.normal_(self.item_emb.weight, std=d ** -0.5)
        nn.init.normal_(self.pos_emb.weight, std=d ** -0.5)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def _forward(self, seq):
        L = seq.shape[1]
        keep = (seq != 0).unsqueeze(-1).float()  # (B, L, 1)
        pos = torch.arange(L, device=seq.device)
        x = self.drop(self.item_emb(seq) * math.sqrt(self.d) + self.pos_emb(pos)) * keep
        allowed = causal_mask(seq)
        maps = []
        for ln_a, attn, ln_f, ffn in zip(self.ln_attn, self.attn, self.ln_ffn, self.ffn):
            a, w = attn(ln_a(x), allowed)
            x = x + self.drop(a)
            x = (x + self.drop(ffn(ln_f(x)))) * keep
            maps.append(w)
        return self.ln_out(x), maps

    def hidden(self, users, seq):
        return self._forward(seq)[0]

    def attention(self, seq):
        return self._forward(seq)[1]

    def logits(self, h):
        return h @ self.item_emb.weight.T


# ---------------------------------------------------------------------------
# configurations
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SequenceConfig:
    r"""Settings shared by the neural sequence models; every default says why.

    Tuned on the validation items of ``leave_last_one_out(ML-100K)`` (never on the test
    items), one thread of a shared CPU; validation NDCG@10 of the best epoch:

    =====================================================  =============================
    run (others at their defaults)                           valid NDCG@10 (best epoch)
    =====================================================  =============================
    SASRec, all windows, ``lr=3e-3``, 25 epochs              0.117 (25, still rising)
    SASRec, all windows, ``lr=3e-3``, ``loss="bce"``         0.076 (8, stopped at 11)
    SASRec, ``max_windows=1``, ``lr=3e-3``, 20 epochs        0.102 (18)
    GRU4Rec, all windows, ``lr=3e-3``                        0.106 (13, stopped at 16)
    LastItemNext / MostPopularNext (no training)             0.075 / 0.035
    =====================================================  =============================

    Attributes
    ----------
    d : int
        64: the SASRec paper's size for sparse data (it uses 50); one size for all three
        encoders isolates the architecture.
    max_len : int
        50: the last 50 items; the median ML-100K training history has 63 items, so this
        covers most of most histories at a fifth of the paper's ML-1M length (200).
    lr : float
        3e-3, Adam: with 1e-3 SASRec had reached only 0.037 after three epochs (0.069
        with 3e-3); 3e-3 converged in 15-25 epochs without instability.
    weight_decay : float
        0: dropout is the regulariser, as in the papers.
    dropout : float
        0.2, in [0, 1): SASRec's rate for ML-1M (0.2); Caser overrides it with 0.5.
    num_epochs : int
        50: an upper bound; validation NDCG was still rising slowly at epoch 25 with all
        windows.
    batch_size : int
        128 windows of ``max_len`` positions (6,400 targets per step).
    eval_every : int
        1: a validation ranking costs about 0.2 s, a few percent of an epoch.
    patience : int
        5 evaluations: validation NDCG (943 users, one target each) moves by about
        0.003-0.005 between epochs, and stalls of 2-3 epochs occurred before new bests.
    k : int
        10: the list length of the validation NDCG.
    seed : int
        0: weights, batch order and negatives are reproducible.
    device : str or None
        None: :func:`~recfeat_ref.training.get_device` chooses.
    progress : bool
        True: a tqdm bar over epochs.
    cpu_threads : int or None
        1: torch threads during ``fit`` on the CPU (deterministic, and fair on a shared machine).
    max_windows : int or None
        None (all): training windows per user, the most recent first
        (:func:`training_windows`); all windows validated better than one (0.117 against
        0.102 for SASRec) at three times the cost per epoch, so the book's CPU path uses 1
        and its GPU path all. For Caser: the examples of the last
        ``max_windows * max_len`` targets of each user.

    Examples
    --------
    >>> cfg = SequenceConfig(d=32)
    >>> cfg.d, cfg.max_len, cfg.max_windows
    (32, 50, None)
    >>> SequenceConfig(dropout=1.0)
    Traceback (most recent call last):
    ...
    ValueError: dropout must be in [0, 1), got 1.0
    """

    d: int = 64
    max_len: int = 50
    lr: float = 3e-3
    weight_decay: float = 0.0
    dropout: float = 0.2
    num_epochs: int = 50
    batch_size: int = 128
    eval_every: int = 1
    patience: int = 5
    k: int = 10
    seed: int = 0
    device: str | None = None
    progress: bool = True
    cpu_threads: int | None = 1
    max_windows: int | None = None

    def __post_init__(self):
        if self.max_windows is not None:
            _check_positive_int("max_windows", self.max_windows)
        if not (isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1):
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        _check_fields(self, ("d", "max_len", *_LOOP_INTS), positive=("lr",), non_negative=("weight_decay",))


@dataclass(frozen=True)
class GRU4RecConfig(SequenceConfig):
    r"""Settings of :class:`GRU4Rec`.

    The shared settings of :class:`SequenceConfig` (tuned on validation, table there) are
    kept, so that the comparison with SASRec isolates the encoder.

    Attributes
    ----------
    n_layers : int
        1: Hidasi et al. found a single GRU layer best; more layers were not tried here.

    Examples
    --------
    >>> cfg = GRU4RecConfig(n_layers=2)
    >>> cfg.n_layers, cfg.d
    (2, 64)
    >>> GRU4RecConfig(n_layers=0)
    Traceback (most recent call last):
    ...
    ValueError: n_layers must be a positive int, got 0
    """

    n_layers: int = 1

    def __post_init__(self):
        super().__post_init__()
        _check_positive_int("n_layers", self.n_layers)


@dataclass(frozen=True)
class CaserConfig(SequenceConfig):
    r"""Settings of :class:`Caser` (Tang and Wang, 2018).

    Attributes
    ----------
    L : int
        5: the paper's choice for MovieLens (Markov order).
    n_h : int
        16 horizontal filters of each height 1..L (paper: 16).
    n_v : int
        4 vertical filters (paper: 4).
    dropout : float
        0.5, the paper's rate on :math:`[z; P_u]`.
    d : int
        50 in the paper; 64 here to match the other models.
    batch_size : int
        512: one example per position (about 78,000 on ML-100K) instead of per window.

    Examples
    --------
    >>> cfg = CaserConfig(L=3)
    >>> cfg.L, cfg.dropout, cfg.batch_size   # two shared defaults overridden
    (3, 0.5, 512)
    >>> CaserConfig(n_v=0)
    Traceback (most recent call last):
    ...
    ValueError: n_v must be a positive int, got 0
    """

    dropout: float = 0.5
    batch_size: int = 512
    L: int = 5
    n_h: int = 16
    n_v: int = 4

    def __post_init__(self):
        super().__post_init__()
        for name in ("L", "n_h", "n_v"):
            _check_positive_int(name, getattr(self, name))


@dataclass(frozen=True)
class SASRecConfig(SequenceConfig):
    r"""Settings of :class:`SASRec` (Kang and McAuley, 2018).

    Attributes
    ----------
    n_blocks : int
        2, the paper's default.
    n_heads : int
        1, the paper's default (it found more heads no better).
    loss : {"ce", "bce"}
        "ce": softmax cross-entropy over the whole catalogue at every position; "bce": the
        paper's binary cross-entropy of the positive against one uniformly sampled
        negative. CE won clearly on validation (0.117 against 0.076, table in
        :class:`SequenceConfig`), as Klenitskiy and Vasilev (2023) found on larger data.

    Examples
    --------
    >>> cfg = SASRecConfig(n_heads=2)
    >>> cfg.n_heads, cfg.n_blocks, cfg.loss
    (2, 2, 'ce')
    >>> SASRecConfig(n_heads=3)
    Traceback (most recent call last):
    ...
    ValueError: d=64 must be divisible by n_heads=3
    """

    n_blocks: int = 2
    n_heads: int = 1
    loss: str = "ce"

    def __post_init__(self):
        super().__post_init__()
        _check_positive_int("n_blocks", self.n_blocks)
        _check_positive_int("n_heads", self.n_heads)
        if self.loss not in ("ce", "bce"):
            raise ValueError(f"loss must be 'ce' or 'bce', got {self.loss!r}")
        if self.d % self.n_heads:
            raise ValueError(f"d={self.d} must be divisible by n_heads={self.n_heads}")


# ---------------------------------------------------------------------------
# the neural recommenders and their training loop
# ---------------------------------------------------------------------------


class NeuralSequentialRecommender(SequentialRecommender):
    """The training loop and feature export shared by GRU4Rec, Caser and SASRec.

    Each epoch shuffles the training examples (seeded), takes Adam steps on the loss
    (full-softmax cross-entropy over items ``1..I`` at every non-padded position, the
    padding logit excluded), and every ``eval_every`` epochs ranks the validation next
    items (:func:`evaluate_next_item` on the training history). After ``patience``
    evaluations without a better NDCG@k it stops and restores the best weights. Without
    ``valid`` all ``num_epochs`` run.

    Attributes
    ----------
    net_ : torch.nn.Module (on the CPU after fit, eval mode)
    history_ : pandas.DataFrame
        ``epoch``, ``train_loss``, ``seconds`` (training time of the epoch, evaluation
        excluded), ``valid_ndcg_at_k``, ``valid_recall_at_k`` (NaN when not evaluated).
    best_epoch_ : int
    item_embeddings_ : (``n_items_``, d) ndarray, row ``j`` = item ``item_ids_[j]``

    Examples
    --------
    A concrete subclass, :class:`GRU4Rec`, trained for one epoch:

    >>> train = pd.DataFrame({"user_id": [1] * 4 + [2] * 4, "item_id": [1, 2, 3, 4] * 2,
    ...                       "timestamp": list(range(4)) * 2})
    >>> model = GRU4Rec(d=8, max_len=4, num_epochs=1, progress=False, device="cpu").fit(train)
    >>> isinstance(model, NeuralSequentialRecommender), model.history_["epoch"].tolist(), model.item_embeddings_.shape
    (True, [1], (4, 8))
    """

    config_class = SequenceConfig

    def __init__(self, config=None, *, user_col: str = DEFAULT_USER_COL, item_col: str = DEFAULT_ITEM_COL,
                 timestamp_col: str = DEFAULT_TIMESTAMP_COL, **params):
        super().__init__(user_col=user_col, item_col=item_col, timestamp_col=timestamp_col)
        self.config = _make_config(self.config_class, config, params)

    # -- to implement -----------------------------------------------------------
    def _build_net(self) -> nn.Module:
        raise NotImplementedError

    def _input_len(self) -> int:
        return self.config.max_len

    def _examples(self, user_idx, seqs):
        """(users (N,), inputs (N, L), targets (N, L) or (N,)) as int64 arrays."""
        rows, x, y = training_windows(seqs, self.config.max_len, self.config.max_windows)
        return np.asarray(user_idx)[rows], x, y

    def _last_hidden(self, users, seq):
        return self.net_.hidden(users, seq)[:, -1]  # (B, d)

    def _loss(self, users, x, y, gen):
        h = self.net_.hidden(users, x)  # (B, L, d) or (B, d')
        keep = y != 0
        logits = self.net_.logits(h[keep])  # (M, I + 1)
        logits[:, 0] = float("-inf")  # never predict padding
        return F.cross_entropy(logits, y[keep])

    # -- training ---------------------------------------------------------------
    def _fit_sequences(self, user_idx, seqs, valid):
        cfg = self.config
        device = get_device(cfg.device)
        threads = torch.get_num_threads()
        if cfg.cpu_threads is not None and device.type == "cpu":
            torch.set_num_threads(cfg.cpu_threads)
        try:
            self._train_loop(user_idx, seqs, valid, device)
        finally:
            torch.set_num_threads(threads)

    def _train_loop(self, user_idx, seqs, valid, device):
        cfg = self.config
        seed_everything(cfg.seed)
        self.net_ = self._build_net().to(device)
        self._device = device
        users, x, y = (torch.as_tensor(a).to(device) for a in self._examples(user_idx + 1, seqs))
        if len(x) == 0:
            raise DataValidationError("train: no user has two or more known items; nothing to learn")
        optimizer = torch.optim.Adam(self.net_.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        gen = torch.Generator().manual_seed(cfg.seed)
        if valid is not None:
            v_users, v_seqs = np.arange(self.n_users_), self.train_sequences_
        n = len(x)
        rows, best, best_state, stale = [], -math.inf, None, 0
        self.best_epoch_ = cfg.num_epochs
        bar = tqdm(range(1, cfg.num_epochs + 1), desc=type(self).__name__, disable=not cfg.progress, leave=True)
        for epoch in bar:
            start = time.perf_counter()
            self.net_.train()
            perm = torch.randperm(n, generator=gen).to(device)
            total = torch.zeros((), device=device)
            for lo in range(0, n, cfg.batch_size):
                idx = perm[lo:lo + cfg.batch_size]
                loss = self._loss(users[idx], x[idx], y[idx], gen)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach() * len(idx)
            row = {"epoch": epoch, "train_loss": float(total) / n, "seconds": time.perf_counter() - start}
            if not math.isfinite(row["train_loss"]):
                raise _nonfinite_loss(row["train_loss"], epoch, None, None, " (the epoch's mean over its batches)")
            if valid is not None and (epoch % cfg.eval_every == 0 or epoch == cfg.num_epochs):
                report = self._evaluate_valid(v_users, v_seqs, valid)
                row[f"valid_ndcg_at_{cfg.k}"] = report["ndcg_at_k"]
                row[f"valid_recall_at_{cfg.k}"] = report["recall_at_k"]
                if report["ndcg_at_k"] > best:
                    best, stale, self.best_epoch_ = report["ndcg_at_k"], 0, epoch
                    best_state = copy.deepcopy(self.net_.state_dict())
                else:
                    stale += 1
            rows.append(row)
            bar.set_postfix({k: f"{v:.4f}" for k, v in row.items() if k not in ("epoch", "seconds")})
            if stale >= cfg.patience:
                break
        bar.close()
        if best_state is not None:
            self.net_.load_state_dict(best_state)
        self.history_ = pd.DataFrame(rows)

    def _evaluate_valid(self, v_users, v_seqs, valid):
        """Validation ranking from the cached training sequences (no frame rebuilt per epoch)."""
        cfg = self.config
        codes = self._item_enc.transform(valid[self.item_col])
        u = self._user_enc.transform(valid[self.user_col]) - 1
        ok = (codes > 0) & (u >= 0)
        u, t = u[ok], codes[ok] - 1
        scores = self._scores(u, [v_seqs[i] for i in u])
        top = metrics.topk_items(scores, cfg.k, exclude=[v_seqs[i] - 1 for i in u])
        relevant = [{int(i)} for i in t]
        return {"ndcg_at_k": metrics.ndcg_at_k(top, relevant, cfg.k),
                "recall_at_k": metrics.recall_at_k(top, relevant, cfg.k)}

    # -- scoring and features ----------------------------------------------------
    @torch.no_grad()
    def _states(self, user_idx, seqs) -> torch.Tensor:
        self.net_.eval()
        device = next(self.net_.parameters()).device
        x = torch.as_tensor(pad_sequences(seqs, self._input_len()), device=device)
        u = torch.as_tensor(np.asarray(user_idx, dtype=np.int64) + 1, device=device)  # 0: unseen user
        out = [self._last_hidden(u[lo:lo + 1024], x[lo:lo + 1024]) for lo in range(0, len(x), 1024)]
        return torch.cat(out) if out else torch.zeros(0, device=device)

    @torch.no_grad()
    def _score_sequences(self, user_idx, seqs):
        if len(seqs) == 0:
            return np.zeros((0, self.n_items_))
        return self.net_.logits(self._states(user_idx, seqs))[:, 1:].float().cpu().numpy()

    def user_states(self, history: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The user-state vector after each user's ``history``: a feature for later models.

        It is what the model dots with the item table to score the next item (the last
        hidden state for GRU4Rec and SASRec, :math:`[z; P_u]` for Caser).

        Returns ``users`` (n,) raw ids, sorted, and ``states`` (n, d) float32.
        """
        self._check_fitted()
        users, user_idx, seqs = self._sequences(history)
        return users, self._states(user_idx, seqs).float().cpu().numpy()

    @property
    def item_embeddings_(self) -> np.ndarray:
        """The learned input item table without the padding row: (``n_items_``, d), rows in ``item_ids_`` order."""
        self._check_fitted()
        return self.net_.item_emb.weight[1:].detach().float().cpu().numpy().copy()

    def _check_fitted(self) -> None:
        super()._check_fitted()
        if not hasattr(self, "net_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit(train) first")


class GRU4Rec(NeuralSequentialRecommender):
    r"""GRU4Rec (Hidasi et al., ICLR 2016), trained as modern implementations do.

    A GRU reads the item embeddings (:class:`GRU4RecNet`); its output at position
    :math:`t` scores the item at :math:`t+1` against the whole catalogue, and the loss is
    the softmax cross-entropy at every position of windows cut from each user's history
    (:func:`training_windows`), rather than the paper's session-parallel mini-batches with
    sampled negatives (Hidasi et al. themselves found cross-entropy competitive; full
    softmax is affordable for 1,682 items).

    Examples
    --------
    >>> train = pd.DataFrame({"user_id": [1] * 4 + [2] * 4, "item_id": [1, 2, 3, 4] * 2,
    ...                       "timestamp": list(range(4)) * 2})
    >>> model = GRU4Rec(d=8, max_len=4, num_epochs=2, progress=False, device="cpu").fit(train)
    >>> model.score_items([1, 2]).shape, model.item_embeddings_.shape
    ((2, 4), (4, 8))
    """

    config_class = GRU4RecConfig

    def _build_net(self):
        cfg = self.config
        return GRU4RecNet(self.n_items_, cfg.d, cfg.n_layers, cfg.dropout)


class Caser(NeuralSequentialRecommender):
    r"""Caser (Tang and Wang, WSDM 2018): convolutions over the last ``L`` items plus a user vector.

    One training example per position :math:`t \ge 2` of each training sequence: the
    previous ``L`` items (left-padded) and the user predict item :math:`t`
    (:func:`caser_examples`), with the full-softmax cross-entropy (the paper predicts
    ``T = 3`` next items with sampled negatives; one target with the full softmax keeps
    the comparison with the other models on the same loss).
    The network is :class:`CaserNet`.

    Examples
    --------
    >>> train = pd.DataFrame({"user_id": [1] * 4 + [2] * 4, "item_id": [1, 2, 3, 4] * 2,
    ...                       "timestamp": list(range(4)) * 2})
    >>> model = Caser(d=8, L=2, n_h=2, n_v=2, num_epochs=2, progress=False, device="cpu").fit(train)
    >>> model.score_items([1]).shape, model.user_states(train)[1].shape
    ((1, 4), (2, 16))
    """

    config_class = CaserConfig

    def _build_net(self):
        cfg = self.config
        return CaserNet(self.n_users_, self.n_items_, cfg.d, cfg.L, cfg.n_h, cfg.n_v, cfg.dropout)

    def _input_len(self):
        return self.config.L

    def _examples(self, user_idx, seqs):
        cfg = self.config
        rows, x, y = caser_examples(seqs, cfg.L)
        if cfg.max_windows is not None:  # the same most recent targets as the other models' windows
            n_targets = np.array([max(len(s) - 1, 0) for s in seqs])  # examples per sequence
            first = np.concatenate([[0], np.cumsum(n_targets)[:-1]])
            from_end = n_targets[rows] - 1 - (np.arange(len(rows)) - first[rows])  # 0 = the last target
            keep = from_end < cfg.max_windows * cfg.max_len
            rows, x, y = rows[keep], x[keep], y[keep]
        return np.asarray(user_idx)[rows], x, y

    def _last_hidden(self, users, seq):
        return self.net_.hidden(users, seq)

    def _loss(self, users, x, y, gen):
        logits = self.net_.logits(self.net_.hidden(users, x))  # (B, I + 1)
        logits[:, 0] = float("-inf")
        return F.cross_entropy(logits, y)


class SASRec(NeuralSequentialRecommender):
    r"""SASRec (Kang and McAuley, ICDM 2018): causal self-attention over the last ``max_len`` items.

    The network is :class:`SASRecNet`. Two losses, chosen by ``loss`` in
    :class:`SASRecConfig`:

    * ``"ce"`` (default): :math:`-\log \operatorname{softmax}_{s_{t+1}}(F_t M^\top)` at
      every non-padded position;
    * ``"bce"`` (the paper, eq. 9): :math:`-\log\sigma(\langle F_t, M_{s_{t+1}}\rangle)
      - \log(1 - \sigma(\langle F_t, M_j\rangle))` with one negative :math:`j` drawn
      uniformly from the catalogue per position (the paper draws it outside the user's
      history; at 1,682 items a collision with the positive is rare and is redrawn).

    :meth:`attention_weights` returns the attention maps of one user, for inspection.

    Examples
    --------
    >>> train = pd.DataFrame({"user_id": [1] * 4 + [2] * 4, "item_id": [1, 2, 3, 4] * 2,
    ...                       "timestamp": list(range(4)) * 2})
    >>> model = SASRec(d=8, max_len=4, num_epochs=2, progress=False, device="cpu").fit(train)
    >>> model.score_items([1]).shape, model.attention_weights(train, 1)[0].shape
    ((1, 4), (2, 1, 4, 4))
    """

    config_class = SASRecConfig

    def _build_net(self):
        cfg = self.config
        if cfg.loss == "bce" and self.n_items_ < 2:  # the negative draw below would never end
            raise DataValidationError(
                f"train: SASRec(loss='bce') draws a negative item other than the target, which needs at least "
                f"2 training items, got {self.n_items_}; add items or use loss='ce'"
            )
        return SASRecNet(self.n_items_, cfg.d, cfg.max_len, cfg.n_blocks, cfg.n_heads, cfg.dropout)

    def _loss(self, users, x, y, gen):
        if self.config.loss == "ce":
            return super()._loss(users, x, y, gen)
        h = self.net_.hidden(users, x)  # (B, L, d)
        keep = y != 0
        h, pos = h[keep], y[keep]  # (M, d), (M,)
        neg = torch.randint(1, self.n_items_ + 1, pos.shape, generator=gen).to(pos.device)
        clash = neg == pos
        while clash.any():
            neg[clash] = torch.randint(1, self.n_items_ + 1, (int(clash.sum()),), generator=gen).to(pos.device)
            clash = neg == pos
        emb = self.net_.item_emb
        s_pos = (h * emb(pos)).sum(-1)
        s_neg = (h * emb(neg)).sum(-1)
        return F.softplus(-s_pos).mean() + F.softplus(s_neg).mean()

    @torch.no_grad()
    def attention_weights(self, history: pd.DataFrame, user) -> tuple[np.ndarray, np.ndarray]:
        """Attention maps of ``user`` after ``history``.

        Returns
        -------
        weights : (n_blocks, n_heads, max_len, max_len) float array; row ``t`` sums to 1
        items : (max_len,) the raw item ids of the input, ``None`` for padding
        """
        self._check_fitted()
        users, _, seqs = self._sequences(history)
        hit = np.flatnonzero(users == user)
        if len(hit) == 0:
            raise DataValidationError(f"attention_weights: user {user!r} has no row in history")
        self.net_.eval()
        x = pad_sequences([seqs[hit[0]]], self.config.max_len)
        maps = self.net_.attention(torch.as_tensor(x, device=next(self.net_.parameters()).device))
        weights = torch.stack([m[0] for m in maps]).float().cpu().numpy()
        return weights, self._item_enc.inverse_transform(x[0])
