r"""Strong simple baselines for top-N: EASE (closed form) and iALS (alternating least squares).

Two models that every deep recommender should be set beside. Neither has a neural
network, a sampled negative or a learning rate; on the book's per-user 8:1:1 split of
ML-100K, tuned on the validation part, both reach the test NDCG@10 of the book's best
deep model (``benchmarks/bench_linear.py``, ``benchmarks/results/linear_ml100k_811.json``).

======================  =============================================  ==============================
model                   what it learns                                 how
======================  =============================================  ==============================
:class:`EASE`           an item-item weight matrix :math:`B`           one matrix inverse
:class:`IALS`           user and item factors :math:`x_u, y_i`         alternating weighted ridge
                                                                       regressions (Cholesky)
======================  =============================================  ==============================

Notation and shapes
-------------------
``U``/``I`` numbers of training users/items, ``K`` latent factors, ``N`` training rows,
``n_u`` the number of items of user :math:`u`, ``B`` users scored at once.
:math:`X \in \mathbb{R}^{U \times I}` is the training interaction matrix,
:math:`X_{ui} = r_{ui}` the number of training rows of the pair :math:`(u, i)` (ratings
are ignored, as in every top-N model of the package; on ML-100K every pair occurs once,
so :math:`X` is binary).

======================================  ==========================================
array                                   shape
======================================  ==========================================
``X`` (interactions, sparse)            (U, I)
``EASE.weights_`` :math:`B`             (I, I), zero diagonal
``IALS.user_factors_`` :math:`x_u`      (U, K)
``IALS.item_factors_`` :math:`y_i`      (I, K)
``score_items(users)``                  (B, I)
``predict(df)``                         (len(df),)
======================================  ==========================================

EASE (Steck, 2019)
------------------
A linear item-item model :math:`\hat X = X B` whose weights solve the ridge regression
of every item column on all the *other* columns:

.. math::
    \min_B \; \lVert X - X B \rVert_F^2 + \lambda \lVert B \rVert_F^2
    \quad \text{subject to} \quad \operatorname{diag}(B) = 0 .

The constraint forbids the trivial solution :math:`B = I` (an item predicting itself).
With the Lagrangian, the solution is closed form:

.. math::
    P = (X^\top X + \lambda I)^{-1}, \qquad
    B = I - P \operatorname{diag}(1 / \operatorname{diag}(P)), \quad
    \text{i.e.} \quad B_{ij} = -P_{ij} / P_{jj} \; (i \ne j), \quad B_{jj} = 0 .

A user's scores are :math:`s_u = x_u B`, the sum of the rows of :math:`B` of the items
they interacted with. Column :math:`j` of :math:`B` is the same as the plain ridge
regression of :math:`x_{:j}` on the other columns,
:math:`b_{-j,j} = (X_{-j}^\top X_{-j} + \lambda I)^{-1} X_{-j}^\top x_{:j}`
(tested). Cost: :math:`O(N \bar n)` for the Gram matrix and :math:`O(I^3)` for the
inverse, :math:`O(I^2)` memory: 1,652 items on ML-100K take about 0.3 s and 22 MB;
for catalogues beyond a few tens of thousands of items use a sparse approximation.

iALS (Hu, Koren and Volinsky, 2008)
-----------------------------------
Matrix factorisation of implicit feedback in which *every* (user, item) cell is a
training example: a preference :math:`p_{ui} = [r_{ui} > 0]` with a confidence

.. math:: c_{ui} = 1 + \alpha\, r_{ui}

(1 for the unobserved cells, :math:`1 + \alpha` for an observed pair on ML-100K), and
the objective

.. math::
    L(X, Y) = \sum_{u, i} c_{ui} \big(p_{ui} - x_u^\top y_i\big)^2
    + \lambda \Big(\sum_u \lVert x_u \rVert^2 + \sum_i \lVert y_i \rVert^2\Big).

With :math:`Y` fixed, :math:`L` is a weighted ridge regression per user, solved exactly
by its normal equations (and symmetrically per item with :math:`X` fixed):

.. math::
    x_u = \big(Y^\top C^u Y + \lambda I\big)^{-1} Y^\top C^u p(u), \qquad
    y_i = \big(X^\top C^i X + \lambda I\big)^{-1} X^\top C^i p(i),

with :math:`C^u = \operatorname{diag}(c_{u\cdot})`. The trick that makes it cheap
(Hu et al., section 4): :math:`Y^\top C^u Y = Y^\top Y + Y^\top (C^u - I) Y`, where
:math:`Y^\top Y` is shared by all users and :math:`C^u - I` is non-zero only on the
:math:`n_u` observed items; likewise :math:`Y^\top C^u p(u) = \sum_{i \in R(u)} c_{ui}
y_i`. Each :math:`K \times K` system is positive definite and solved by a Cholesky
factorisation (:func:`solve_factors`). A *sweep* solves all users, then all items; each
half-sweep minimises :math:`L` exactly over one block, so :math:`L` never increases
(tested). Cost per sweep :math:`O(N K^2 + (U + I) K^3)`.

The sweeps run through :class:`~recfeat_ref.training.ImplicitRecommender`'s epoch loop:
with ``fit(train, valid=...)`` the validation NDCG@k is computed after every
``eval_every`` sweeps (the per-sweep validation callback), training stops after
``patience`` evaluations without improvement, the best sweep's factors are kept, and
``history_`` / ``best_epoch_`` record it. ``num_epochs`` is a cap, set far above the
best sweep; a run that reaches it was not stopped by validation (the benchmark checks).

Conventions of other libraries: ``implicit`` (0.7) takes the confidence itself as the
matrix it factorises and multiplies it by its ``alpha``, so its confidence is
:math:`c_{ui} = \alpha\, r_{ui}`, not :math:`1 + \alpha r_{ui}`; to reproduce this module,
pass it the matrix :math:`1 + \alpha R` (on the observed cells) with ``alpha=1``
(``benchmarks/peers/run_implicit.py``). Rendle et al. (2022) scale the unobserved
weight and the penalty differently again; the equations above are Hu et al.'s.

Unseen users and items
----------------------
Both models score an unseen user as the *average training user*: the mean of the
training users' score rows (:math:`\bar x B` for EASE, :math:`\bar x^\top y_i` for iALS),
a learned popularity on the model's own scale. An unseen item gets the user's mean
score over the catalogue; both unseen, the mean of the average user's row.
(:func:`~recfeat_ref.recommender.evaluate_topn` never meets an unseen user: it drops them.)

Tuning
------
:func:`grid_search` fits one model per point of a grid on the training part, scores it
on the *validation* part with :func:`~recfeat_ref.recommender.evaluate_topn` (NDCG@k,
training items excluded), keeps the best, and flags every hyper-parameter whose best
value lies on the edge of its grid: such a grid has not finished tuning.

References
----------
.. [1] H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019.
.. [2] Y. Hu, Y. Koren and C. Volinsky, "Collaborative Filtering for Implicit Feedback
   Datasets", ICDM 2008.
.. [3] S. Rendle, W. Krichene, L. Zhang and Y. Koren, "Revisiting the Performance of
   iALS on Item Recommendation Benchmarks", RecSys 2022.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp

from ._validation import DataValidationError, _check_fields, _check_non_negative, _check_positive, _make_config
from .recommender import Recommender, evaluate_topn
from .training import ImplicitRecommender

__all__ = [
    "EASE",
    "EASEConfig",
    "IALS",
    "IALSConfig",
    "GridSearchResult",
    "ease_weights",
    "grid_search",
    "ials_loss",
    "solve_factors",
]


def _interactions(users: np.ndarray, items: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """(U, I) CSR matrix of the training rows, repeated pairs summed (r_ui = count)."""
    x = sp.csr_matrix((np.asarray(values, dtype=np.float64), (users, items)), shape=shape)
    x.sum_duplicates()
    return x


class _MeanRowFallback:
    """Unseen users scored as the average training user, unseen items as the user's mean score.

    Needs ``average_user_scores_`` (I,), the mean of the training users' score rows.
    """

    def _fallback(self, users, items):
        out = np.empty(len(users), dtype=np.float64)
        cold = users < 0
        if cold.any():
            avg = self.average_user_scores_  # (I,)
            it = items[cold]
            out[cold] = np.where(it >= 0, avg[np.maximum(it, 0)], avg.mean())
        warm = ~cold  # a known user with an unseen item
        if warm.any():
            first, inverse = np.unique(users[warm], return_inverse=True)
            out[warm] = self._score_all(first).mean(axis=1)[inverse]
        return out


# --- EASE -------------------------------------------------------------------------


def ease_weights(x, reg: float) -> np.ndarray:
    r"""EASE's closed-form item-item weights :math:`B = I - P \operatorname{diag}(1/\operatorname{diag} P)`.

    :math:`P = (X^\top X + \lambda I)^{-1}`; the result has a zero diagonal.

    Parameters
    ----------
    x : scipy.sparse matrix or numpy.ndarray of shape (U, I)
        The interaction matrix :math:`X`.
    reg : float
        :math:`\lambda > 0`.

    Returns
    -------
    numpy.ndarray of shape (I, I), float64

    Examples
    --------
    >>> x = np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1], [1, 0, 1], [1, 1, 0]])  # 5 users, 3 items
    >>> b = ease_weights(x, reg=1.0)
    >>> b.round(3)
    array([[0.  , 0.5 , 0.25],
           [0.5 , 0.  , 0.25],
           [0.25, 0.25, 0.  ]])
    >>> np.diag(b).tolist()
    [0.0, 0.0, 0.0]
    """
    _check_positive("reg", reg)
    gram = x.T @ x  # (I, I) X^T X
    gram = gram.toarray() if sp.issparse(gram) else np.array(gram, dtype=np.float64)
    gram = gram.astype(np.float64, copy=False)
    gram[np.diag_indices_from(gram)] += reg
    p = np.linalg.inv(gram)  # (I, I) P, symmetric positive definite
    b = -p / np.diag(p)[None, :]  # B_ij = -P_ij / P_jj
    np.fill_diagonal(b, 0.0)
    return b


@dataclass(frozen=True)
class EASEConfig:
    r"""Settings of :class:`EASE`: one hyper-parameter.

    Attributes
    ----------
    reg : float
        500: the L2 weight :math:`\lambda`, chosen on the validation part of the book's
        per-user 8:1:1 split of ML-100K from the grid 10 .. 10,000
        (``benchmarks/bench_linear.py``; the best on split seeds 0, 1 and 2). Validation
        NDCG@10 on seed 0:

        =================  ====  =====  =====  =====  =====  =====  =====  =====  =====
        :math:`\lambda`    10    50     100    200    300    500    1,000  2,000  10,000
        NDCG@10            .219  .249   .261   .265   .266   .266   .263   .252   .223
        =================  ====  =====  =====  =====  =====  =====  =====  =====  =====

        The curve is flat from 200 to 1,000 (within 0.001). Steck (2019) used 200 to
        1,000 on ML-20M, Netflix and MSD; the best :math:`\lambda` grows with the
        number of users, because :math:`X^\top X` does.

    Examples
    --------
    >>> EASEConfig().reg
    500.0
    >>> EASEConfig(reg=0)
    Traceback (most recent call last):
    ...
    ValueError: reg must be a finite number > 0, got 0
    """

    reg: float = 500.0  # lambda, tuned on validation (table above)

    def __post_init__(self):
        _check_positive("reg", self.reg)


class EASE(_MeanRowFallback, Recommender):
    r"""Embarrassingly Shallow Autoencoder (Steck, 2019): a closed-form item-item linear model.

    .. math::
        B = I - P \operatorname{diag}(1/\operatorname{diag} P), \quad
        P = (X^\top X + \lambda I)^{-1}, \qquad s_u = x_u B

    Every training row is a positive (ratings, if present, are ignored); see
    :mod:`recfeat_ref.linear` for the derivation. There is no training loop: ``fit`` is
    one Gram matrix and one inverse. Choose :math:`\lambda` (``reg``) on validation data,
    e.g. with :func:`grid_search`.

    Parameters
    ----------
    config : EASEConfig, optional
    **params
        Fields of :class:`EASEConfig` that override ``config`` (``reg``).
    user_col, item_col : str
        Column names (keyword only).

    Attributes
    ----------
    weights_ : numpy.ndarray of shape (I, I)
        :math:`B`, zero diagonal; ``weights_[j, i]`` is how much having item ``j``
        raises the score of item ``i``.
    average_user_scores_ : numpy.ndarray of shape (I,)
        The mean training user's scores, the fallback for unseen users.
    fit_seconds_ : float

    Notes
    -----
    Unseen users: the average training user's scores :math:`\bar x B`; unseen items:
    the user's mean score (module notes). Memory :math:`O(I^2)`.

    Shapes
    ------
    ``score_items(users)``: (len(users), I); ``predict(df)``: (len(df),).

    Examples
    --------
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 2, 2, 3, 3, 4, 4, 5],
    ...                       "item_id": [10, 20, 10, 20, 30, 20, 30, 10, 40, 40]})
    >>> model = EASE(reg=1.0).fit(train)
    >>> model.weights_.shape, model.score_items([1]).round(2)  # user 1 has 10 and 20: 30 comes next
    ((4, 4), array([[0.5 , 0.4 , 0.5 , 0.17]]))
    >>> model.predict(pd.DataFrame({"user_id": [99], "item_id": [30]})).round(3)  # an unseen user
    array([0.3])
    """

    target_col = None

    def __init__(self, config: EASEConfig | None = None, *, user_col: str | None = None,
                 item_col: str | None = None, **params):
        kwargs = {k: v for k, v in (("user_col", user_col), ("item_col", item_col)) if v is not None}
        super().__init__(**kwargs)
        self.config = _make_config(EASEConfig, config, params)

    def _fit(self, users, items, values):
        self._x = _interactions(users, items, values, (self.n_users_, self.n_items_))  # (U, I)
        self.weights_ = ease_weights(self._x, self.config.reg)  # (I, I)
        mean_row = np.asarray(self._x.mean(axis=0)).ravel()  # (I,) the average user's x
        self.average_user_scores_ = mean_row @ self.weights_  # (I,)

    def _score_all(self, users):
        return np.asarray(self._x[users] @ self.weights_)  # (B, I)


# --- iALS -------------------------------------------------------------------------


def solve_factors(confidence: sp.csr_matrix, fixed: np.ndarray, reg: float) -> np.ndarray:
    r"""One half-sweep of iALS: every row's factors given the other side's, by Cholesky.

    For each row :math:`u` of ``confidence`` (observed cells :math:`R(u)` with
    confidences :math:`c_{ui}`, preference 1; every other cell confidence 1, preference 0):

    .. math::
        x_u = \Big(F^\top F + \lambda I + \sum_{i \in R(u)} (c_{ui} - 1)\, f_i f_i^\top\Big)^{-1}
              \sum_{i \in R(u)} c_{ui}\, f_i ,

    the exact minimiser of :math:`\sum_i c_{ui}(p_{ui} - x^\top f_i)^2 + \lambda \lVert
    x \rVert^2`, with :math:`F` = ``fixed``. A row without observations gets
    :math:`x_u = 0`. Pass the transposed matrix and the user factors for the item step.

    Parameters
    ----------
    confidence : scipy.sparse.csr_matrix of shape (n, m)
        :math:`c_{ui} = 1 + \alpha r_{ui}` on the observed cells, nothing stored elsewhere.
    fixed : numpy.ndarray of shape (m, K)
        The other side's factors :math:`F`.
    reg : float
        :math:`\lambda > 0`.

    Returns
    -------
    numpy.ndarray of shape (n, K), float64

    Examples
    --------
    >>> conf = sp.csr_matrix(np.array([[3.0, 0.0, 3.0]]))  # one user, alpha=2, items 0 and 2
    >>> y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> solve_factors(conf, y, reg=0.5).round(3)
    array([[0.889, 0.074]])
    """
    _check_positive("reg", reg)
    fixed = np.asarray(fixed, dtype=np.float64)
    n, k = confidence.shape[0], fixed.shape[1]
    base = fixed.T @ fixed + reg * np.eye(k)  # (K, K) F^T F + lambda I, shared by all rows
    out = np.zeros((n, k))
    indptr, indices, data = confidence.indptr, confidence.indices, confidence.data
    for u in range(n):
        lo, hi = indptr[u], indptr[u + 1]
        if lo == hi:
            continue  # no observations: the minimiser is 0
        f = fixed[indices[lo:hi]]  # (n_u, K) the observed items' factors
        c = data[lo:hi]  # (n_u,)
        a = base + f.T @ ((c - 1.0)[:, None] * f)  # (K, K) F^T C^u F + lambda I
        b = f.T @ c  # (K,) F^T C^u p(u)
        out[u] = scipy.linalg.cho_solve(scipy.linalg.cho_factor(a, check_finite=False), b, check_finite=False)
    return out


def ials_loss(confidence: sp.csr_matrix, user_factors: np.ndarray, item_factors: np.ndarray, reg: float) -> float:
    r"""The iALS objective :math:`\sum_{u,i} c_{ui}(p_{ui} - x_u^\top y_i)^2 + \lambda(\lVert X\rVert^2 + \lVert Y\rVert^2)`.

    Computed without the dense :math:`U \times I` matrix: the sum over all cells with
    confidence 1 is :math:`\operatorname{tr}(X^\top X\, Y^\top Y)`, and the observed
    cells add :math:`c_{ui}(1 - s_{ui})^2 - s_{ui}^2`, :math:`s_{ui} = x_u^\top y_i`.

    Shapes: confidence (U, I) CSR; user_factors (U, K); item_factors (I, K) -> float.

    Examples
    --------
    >>> conf = sp.csr_matrix(np.array([[2.0, 0.0], [0.0, 2.0]]))
    >>> ials_loss(conf, np.zeros((2, 1)), np.zeros((2, 1)), reg=1.0)  # two cells of weight 2, error 1
    4.0
    """
    x, y = np.asarray(user_factors, np.float64), np.asarray(item_factors, np.float64)
    coo = confidence.tocoo()
    s = np.einsum("nk,nk->n", x[coo.row], y[coo.col])  # (nnz,) observed scores
    all_cells = float(np.sum((x.T @ x) * (y.T @ y)))  # sum over every cell of s^2
    observed = float(np.sum(coo.data * (1.0 - s) ** 2 - s**2))
    return all_cells + observed + reg * float(np.sum(x * x) + np.sum(y * y))


@dataclass(frozen=True)
class IALSConfig:
    r"""Settings of :class:`IALS`; every default says why.

    The defaults were chosen on the validation part of the book's per-user 8:1:1 split of
    ML-100K (seed 0), never on its test part, by ``benchmarks/bench_linear.py``: the
    Cartesian grid factors 16 .. 128 x :math:`\lambda` 1 .. 300 x :math:`\alpha` 0.3 .. 30
    (120 points), extended to 256 factors around the best because 128 won on that edge;
    every point early-stopped on validation NDCG@10 (the full table is in
    ``benchmarks/results/linear_ml100k_811.json``). Validation NDCG@10 at 128 factors:

    ==================================  =====  =====  =====  =====  =====
    :math:`\lambda` / :math:`\alpha`     0.3    1      3      10     30
    ==================================  =====  =====  =====  =====  =====
    10                                  .265   .260   .229   .209   .197
    30                                  .229   .253   .272   .252   .225
    100                                 .196   .196   .197   .245   .263
    ==================================  =====  =====  =====  =====  =====

    and at :math:`\lambda = 30, \alpha = 3`, factors 16 / 32 / 64 / 128 / 256:
    .264 / .267 / .271 / .272 / .272. The best :math:`\lambda` grows with :math:`\alpha`
    (the weight of the observed cells), and a too large :math:`\lambda` collapses the
    factors to a popularity ranking (.16 to .20 in the table's corners).

    Attributes
    ----------
    n_factors : int
        128: :math:`K`, the best of the grid; 64 validated 0.001 lower (within the noise
        between sweeps) at half the cost per sweep, 256 no better (.2720 against .2721) at several times it.
    reg : float
        30: the L2 weight :math:`\lambda` (Hu et al.'s, not scaled by frequency).
    alpha : float
        3: confidence :math:`c_{ui} = 1 + \alpha r_{ui}`, so an observed pair weighs as
        much as four unobserved ones; 0 gives every cell weight 1 (a plain least-squares
        fit of the binary matrix).
    num_epochs : int
        100: the cap on sweeps, far above the best sweep (8 with the defaults; no point of
        the grid ran more than 53 sweeps); with validation data, early stopping ends the run.
    eval_every : int
        1: one validation ranking per sweep (a sweep costs more than an evaluation).
    patience : int
        5: evaluations without improvement before stopping; on its plateau the
        validation NDCG moves by up to 0.0005 per sweep (sweeps 5 to 13 with the defaults:
        .2708 to .2721).
    k : int
        10: the list length of the validation NDCG.
    init_std : float
        0.01: the item factors start as :math:`\mathcal{N}(0, 0.01^2)` draws
        (``np.random.default_rng(seed)``); the user factors need no start, they are
        solved first.
    seed : int
        0: the initial item factors; nothing else is random.
    progress : bool
        True: a tqdm bar over sweeps.

    Examples
    --------
    >>> cfg = IALSConfig(n_factors=32)
    >>> cfg.n_factors, cfg.alpha
    (32, 3.0)
    >>> IALSConfig(alpha=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: alpha must be a finite number >= 0, got -1.0
    """

    n_factors: int = 128  # tuned; 64 within 0.001 at half the cost
    reg: float = 30.0  # tuned
    alpha: float = 3.0  # tuned
    num_epochs: int = 100  # cap, far above the best sweep
    eval_every: int = 1
    patience: int = 5  # evaluations
    k: int = 10
    init_std: float = 0.01
    seed: int = 0
    progress: bool = True

    def __post_init__(self):
        _check_fields(self, ("n_factors", "num_epochs", "eval_every", "patience", "k"),
                      positive=("reg", "init_std"), flags=("progress",))
        _check_non_negative("alpha", self.alpha)


class _FactorState:
    """The arrays :class:`~recfeat_ref.training.ImplicitRecommender` keeps from the best sweep."""

    def __init__(self, user_factors: np.ndarray, item_factors: np.ndarray):
        self.user_factors, self.item_factors = user_factors, item_factors

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        self.user_factors, self.item_factors = state["user_factors"], state["item_factors"]


class IALS(_MeanRowFallback, ImplicitRecommender):
    r"""Implicit-feedback matrix factorisation by alternating least squares (Hu et al., 2008).

    .. math::
        \min_{X, Y} \sum_{u, i} (1 + \alpha r_{ui}) \big([r_{ui} > 0] - x_u^\top y_i\big)^2
        + \lambda \big(\lVert X \rVert_F^2 + \lVert Y \rVert_F^2\big), \qquad
        \hat s_{ui} = x_u^\top y_i

    Each sweep solves every user's normal equations, then every item's, exactly
    (Cholesky, :func:`solve_factors`); the objective never increases. Early stopping:
    pass held-out positives as ``fit(train, valid=...)``; every ``eval_every`` sweeps the
    validation NDCG@k is computed with :func:`~recfeat_ref.recommender.evaluate_topn`,
    after ``patience`` evaluations without improvement training stops and the best
    sweep's factors are kept. Without ``valid`` all ``num_epochs`` sweeps run.

    Parameters
    ----------
    config : IALSConfig, optional
    **params
        Fields of :class:`IALSConfig` that override ``config``.
    user_col, item_col : str
        Column names (keyword only).

    Attributes
    ----------
    user_factors_, item_factors_ : numpy.ndarray of shape (U, K), (I, K)
    confidence_ : scipy.sparse.csr_matrix of shape (U, I)
        :math:`c_{ui} = 1 + \alpha r_{ui}` on the training pairs.
    average_user_scores_ : numpy.ndarray of shape (I,)
        :math:`\bar x^\top y_i`, the fallback for unseen users.
    history_ : pandas.DataFrame
        ``epoch`` (the sweep), ``train_loss`` (:func:`ials_loss` after the sweep),
        ``seconds``, and ``valid_ndcg_at_k`` / ``valid_recall_at_k`` on evaluated sweeps.
    best_epoch_ : int
        The sweep whose factors were kept (the last one without ``valid``).

    Notes
    -----
    Deterministic: the only randomness is the initial item factors, drawn from
    ``np.random.default_rng(seed)``. Unseen users: the average training user
    :math:`\bar x^\top y_i`; unseen items: the user's mean score (module notes). On
    ML-100K (80,000 positives, 1,652 items, K = 64) a sweep takes about 0.2 s on one
    CPU thread.

    Shapes
    ------
    ``score_items(users)``: (len(users), I); ``predict(df)``: (len(df),).

    Examples
    --------
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 2, 2, 3, 3], "item_id": [10, 20, 10, 20, 30, 20, 30]})
    >>> model = IALS(n_factors=2, reg=0.1, alpha=2.0, num_epochs=5, progress=False).fit(train)
    >>> model.user_factors_.shape, model.item_factors_.shape, model.best_epoch_
    ((3, 2), (3, 2), 5)
    >>> bool(model.history_["train_loss"].is_monotonic_decreasing)
    True
    >>> model.score_items([1]).round(2)  # user 1 has items 10 and 20
    array([[0.99, 0.82, 0.21]])
    """

    def __init__(self, config: IALSConfig | None = None, *, user_col: str | None = None,
                 item_col: str | None = None, **params):
        kwargs = {k: v for k, v in (("user_col", user_col), ("item_col", item_col)) if v is not None}
        super().__init__(**kwargs)
        self.config = _make_config(IALSConfig, config, params)

    def _fit(self, users, items, values):  # NumPy only: no torch device or threads
        cfg = self.config
        r = _interactions(users, items, values, (self.n_users_, self.n_items_))  # (U, I) r_ui
        conf = r.copy()
        conf.data = 1.0 + cfg.alpha * conf.data  # c_ui = 1 + alpha r_ui on the observed cells
        conf_t = conf.T.tocsr()  # (I, U)
        self.confidence_ = conf
        rng = np.random.default_rng(cfg.seed)
        y0 = rng.normal(0.0, cfg.init_std, size=(self.n_items_, cfg.n_factors))  # (I, K)
        state = _FactorState(np.zeros((self.n_users_, cfg.n_factors)), y0)

        def sweep(_):
            state.user_factors = solve_factors(conf, state.item_factors, cfg.reg)  # (U, K)
            state.item_factors = solve_factors(conf_t, state.user_factors, cfg.reg)  # (I, K)
            return {"train_loss": ials_loss(conf, state.user_factors, state.item_factors, cfg.reg)}

        def export():
            self.user_factors_, self.item_factors_ = state.user_factors, state.item_factors
            self.average_user_scores_ = self.item_factors_ @ self.user_factors_.mean(axis=0)  # (I,)

        self._run_epochs(sweep, state, export)

    def _score_all(self, users):
        return self.user_factors_[users] @ self.item_factors_.T  # (B, I)


# --- tuning on validation ------------------------------------------------------------


@dataclass
class GridSearchResult:
    """What :func:`grid_search` found.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per grid point: the parameters, ``valid_ndcg_at_k``,
        ``valid_recall_at_k``, ``fit_seconds`` and, for models trained sweep by sweep,
        ``best_epoch`` and ``epochs_run``.
    best_params : dict
        The parameters of the row with the highest validation NDCG@k (the first such
        row on ties).
    best_score : float
        That NDCG@k.
    on_edge : dict
        Every parameter with at least two grid values whose best value is the smallest
        or largest of its grid, mapped to that value; empty when the optimum is inside
        the grid in every direction.
    model : Recommender
        The best model, fitted on the training part.
    """

    table: pd.DataFrame
    best_params: dict
    best_score: float
    on_edge: dict
    model: Recommender


def grid_search(
    make_model: Callable[..., Recommender],
    grid: Mapping[str, Sequence],
    train: pd.DataFrame,
    valid: pd.DataFrame,
    k: int = 10,
    progress: bool = False,
) -> GridSearchResult:
    r"""Choose hyper-parameters on validation data: fit every grid point, keep the best NDCG@k.

    For each point of the Cartesian product of ``grid``, ``make_model(**point)`` is fitted
    on ``train`` (as ``fit(train, valid)`` for an
    :class:`~recfeat_ref.training.ImplicitRecommender`, which then stops early on the
    same validation NDCG@k) and scored on ``valid`` with
    :func:`~recfeat_ref.recommender.evaluate_topn` (training items excluded). The test
    part is never touched. A best value on the border of its grid is reported in
    ``on_edge``: widen the grid in that direction and search again.

    Parameters
    ----------
    make_model : callable
        ``make_model(**params) -> Recommender``, e.g. ``EASE`` or
        ``lambda **p: IALS(progress=False, **p)``.
    grid : mapping of str to sequence
        Candidate values per parameter; a sequence of one value fixes it.
    train, valid : pandas.DataFrame
        Raw-id interaction frames.
    k : int
        List length of the validation NDCG and Recall.
    progress : bool
        Print one line per grid point.

    Returns
    -------
    GridSearchResult

    Examples
    --------
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3, 4, 4], "item_id": [1, 2, 1, 3, 2, 3, 1, 2]})
    >>> valid = pd.DataFrame({"user_id": [1, 2, 3, 4], "item_id": [3, 2, 1, 3]})
    >>> result = grid_search(EASE, {"reg": [0.1, 1.0, 10.0]}, train, valid, k=1)
    >>> result.table.columns.tolist()
    ['reg', 'valid_ndcg_at_k', 'valid_recall_at_k', 'fit_seconds']
    >>> result.best_params, result.on_edge  # the smallest reg won: not finished tuning
    ({'reg': 0.1}, {'reg': 0.1})
    """
    if not isinstance(grid, Mapping) or not grid:
        raise DataValidationError("grid: expected a non-empty mapping of parameter name to a sequence of values")
    names = list(grid)
    values = []
    for name in names:
        vals = list(grid[name]) if isinstance(grid[name], Sequence) and not isinstance(grid[name], str) else None
        if not vals:
            raise DataValidationError(f"grid[{name!r}]: expected a non-empty list of values, got {grid[name]!r}")
        values.append(vals)
    rows, best, best_model = [], None, None
    for point in itertools.product(*values):
        params = dict(zip(names, point))
        model = make_model(**params)
        start = time.perf_counter()
        model.fit(train, valid) if isinstance(model, ImplicitRecommender) else model.fit(train)
        fit_seconds = time.perf_counter() - start
        report = evaluate_topn(model, train, valid, k=k)
        row = {**params, "valid_ndcg_at_k": report["ndcg_at_k"], "valid_recall_at_k": report["recall_at_k"],
               "fit_seconds": fit_seconds}
        if hasattr(model, "best_epoch_"):
            row["best_epoch"] = int(model.best_epoch_)
            row["epochs_run"] = int(len(model.history_))
        rows.append(row)
        if progress:
            print(" ".join(f"{k_}={v}" for k_, v in params.items()),
                  f"NDCG@{k} {report['ndcg_at_k']:.4f}  {fit_seconds:.1f} s", flush=True)
        if best is None or report["ndcg_at_k"] > best["valid_ndcg_at_k"]:
            best, best_model = row, model
    best_params = {name: best[name] for name in names}
    on_edge = {}
    for name, vals in zip(names, values):
        if len(vals) >= 2:
            try:
                low, high = min(vals), max(vals)
            except TypeError:  # unordered values: the first and last are the edges
                low, high = vals[0], vals[-1]
            if best_params[name] in (low, high):
                on_edge[name] = best_params[name]
    return GridSearchResult(pd.DataFrame(rows), best_params, float(best["valid_ndcg_at_k"]), on_edge, best_model)
