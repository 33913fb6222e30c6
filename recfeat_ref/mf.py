r"""Matrix factorisation recommenders: biased MF for ratings, BPR-MF for implicit feedback.

Both models score a (user, item) pair with the same factor model,
:class:`recfeat_ref.models.BiasedMF`; they differ in the data and the loss.

======================  =================================  =============================
model                   data                               loss
======================  =================================  =============================
:class:`MFRecommender`  explicit ratings :math:`r_{ui}`    squared error (Koren et al.)
:class:`BPRMF`          implicit positives :math:`(u, i)`  pairwise log-sigmoid (Rendle)
======================  =================================  =============================

Notation: ``B`` batch size, ``K`` latent factors, ``U``/``I`` numbers of training
users/items; :math:`p_u, q_i \in \mathbb{R}^K` the factors, :math:`b_u, b_i` the biases,
:math:`\mu` the global mean. Recommender indices run over ``0..U-1``; the torch
model adds 1, because its row 0 is the out-of-vocabulary (OOV) slot of
:class:`recfeat_ref.preprocessing.IdEncoder` (zero and never trained).

Regularisation
--------------
Both models put the L2 penalty on the rows *looked up in the batch*,
:math:`\lambda (\lVert p_u \rVert^2 + \lVert q_i \rVert^2)` averaged over the batch:
the regulariser of the classic SGD matrix factorisation (Funk, 2006; Koren et al., 2009),
where a row is shrunk each time it is used, so frequent users and items are penalised
in proportion to their data. Adam's ``weight_decay`` instead shrinks every row of
the tables at every step, seen or not, and Adam's per-coordinate scaling distorts it. On
an inner validation split of ML-100K the per-batch penalty generalised better:
RMSE 0.892 after 20 epochs, against 0.901 for the best ``weight_decay``, which overfits
if trained longer and reached only 0.905 with early stopping (:class:`MFRecommenderConfig`).

References
----------
.. [1] Y. Koren, R. Bell and C. Volinsky, "Matrix Factorization Techniques for
   Recommender Systems", *Computer* 42(8), 2009.
.. [2] S. Rendle, C. Freudenthaler, Z. Gantner and L. Schmidt-Thieme, "BPR: Bayesian
   Personalized Ranking from Implicit Feedback", UAI 2009.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import metrics
from ._validation import (
    _LOOP_INTS,
    DataValidationError,
    IndexedDataError,
    _check_fields,
    _check_non_negative,
    _check_positive,
    _check_positive_int,
    _check_seed,
    _is_number,
    _make_config,
)
from .models import BiasedMF, MFConfig
from .recommender import Recommender
from .training import ImplicitRecommender, TrainConfig, Trainer, seed_everything

__all__ = [
    "BPRMF",
    "BPRConfig",
    "MFRecommender",
    "MFRecommenderConfig",
    "NegativeSampler",
    "bpr_loss",
    "bpr_objective",
]


def _export_factors(model: BiasedMF) -> dict[str, np.ndarray | float]:
    """The trained tables as float64 NumPy arrays, the OOV row 0 dropped."""
    with torch.no_grad():
        return {
            "global_mean_": float(model.global_mean.detach().cpu()),
            "user_bias_": model.user_bias.weight[1:, 0].detach().cpu().double().numpy(),  # (U,)
            "item_bias_": model.item_bias.weight[1:, 0].detach().cpu().double().numpy(),  # (I,)
            "user_factors_": model.user_factors.weight[1:].detach().cpu().double().numpy(),  # (U, K)
            "item_factors_": model.item_factors.weight[1:].detach().cpu().double().numpy(),  # (I, K)
        }


class _FactorScores:
    r"""Scoring shared by both recommenders: :math:`\mu + b_u + b_i + p_u^\top q_i` from NumPy copies."""

    def _score(self, users, items):
        dot = np.einsum("bk,bk->b", self.user_factors_[users], self.item_factors_[items])  # (B,)
        return self.global_mean_ + self.user_bias_[users] + self.item_bias_[items] + dot

    def _score_all(self, users):
        dot = self.user_factors_[users] @ self.item_factors_.T  # (len(users), I)
        return self.global_mean_ + self.user_bias_[users][:, None] + self.item_bias_[None, :] + dot


class _AverageUserFallback:
    """Unseen ids scored as the average training user (item): BPR-MF's rule, shared with the hybrid ranker."""

    def _fallback(self, users, items):
        p_bar, q_bar = self.user_factors_.mean(0), self.item_factors_.mean(0)  # (K,) the average user and item
        p = np.where((users >= 0)[:, None], self.user_factors_[np.maximum(users, 0)], p_bar)  # (B, K)
        q = np.where((items >= 0)[:, None], self.item_factors_[np.maximum(items, 0)], q_bar)  # (B, K)
        b = np.where(items >= 0, self.item_bias_[np.maximum(items, 0)], self.item_bias_.mean())  # (B,)
        return np.einsum("bk,bk->b", p, q) + b


# --- explicit ratings: biased MF --------------------------------------------------


@dataclass(frozen=True)
class MFRecommenderConfig:
    r"""Settings of :class:`MFRecommender`; every default says why.

    The defaults were tuned on an inner 90/10 split (``random_split(..., seed=1)``) of
    the *first 5-fold training part* of ML-100K, never on a test fold. RMSE on that inner
    validation part after training (rows without a batch size: the first tuning round,
    ``batch_size=1024, lr=5e-3``, 20 epochs, with the factor and penalty settings shown;
    the second round kept those and traded batch size, step and epochs for speed):

    =================================================  ==================================
    setting (others at their defaults)                 inner-validation RMSE
    =================================================  ==================================
    defaults (``reg=0.12, bias_reg=0.01``)             0.8923
    ``batch_size=1024, lr=5e-3, num_epochs=20``        0.8924 (the earlier defaults, 3x slower)
    ``batch_size=4096, lr=2e-2, num_epochs=12``        0.8939
    ``num_epochs=12``                                  0.8935
    ``reg=0.05 / 0.08 / 0.10 / 0.15 / 0.20``           0.924 / 0.900 / 0.894 / 0.897 / 0.912
    ``bias_reg=0 / 0.12``                              0.892 / 0.896
    ``n_factors=32 / 128``                             0.893 / 0.894
    ``batch_size=1024`` with ``lr=1e-2 / 3e-3``        0.896 / 0.894
    ``batch_size=1024, lr=5e-3, num_epochs=40``        0.893
    ``batch_size=2048, lr=1e-2, num_epochs=20``        0.894
    ``reg=0, bias_reg=0, weight_decay=1e-4 / 2e-4``    0.972 / 0.916
    ``reg=0, bias_reg=0, weight_decay=3e-4 / 5e-4``    0.901 / 0.916
    ``weight_decay=3e-4`` + ``valid_fraction=0.1``     0.905 (stopped at epoch 14)
    ``valid_fraction=0.1``                             0.900 (stopped at epoch 14)
    =================================================  ==================================

    Attributes
    ----------
    n_factors : int
        64: 32 and 128 are within 0.002 RMSE once ``reg`` is tuned; 64 is the
        :class:`~recfeat_ref.models.MFConfig` default.
    lr : float
        3e-2: Adam's step for batches of 8192; at ``batch_size=1024`` the best step was 5e-3
        (1e-2 noisier at the plateau, 3e-3 not there by epoch 20).
    reg : float
        0.12: L2 weight :math:`\lambda` on the batch's factor rows (see the module notes);
        below 0.1 the model overfits after a few epochs, above 0.15 it underfits.
    bias_reg : float
        0.01: L2 weight on the batch's biases. Biases overfit little (0 does as well), but
        an item rated once would otherwise fit that one rating; penalising the biases
        like the factors cost 0.004 RMSE.
    weight_decay : float
        0.0: Adam's decay of whole tables, the alternative to ``reg``; it generalised
        worse (table above).
    num_epochs : int
        15: 12 epochs lose 0.001 RMSE; at ``batch_size=1024`` the validation RMSE was flat
        (within 0.001) from epoch 15 to 40, so no early stopping is needed.
    batch_size : int
        8192: 10 Adam steps per ML-100K epoch. The cost of a step grows with the batch far
        less than in proportion, so large batches with a larger step fit as well
        (0.8923 vs 0.8924) about three times faster than ``batch_size=1024``; this is what
        brings the fit below Surprise's SVD (``benchmarks/``).
    valid_fraction : float
        0.0: off. A fraction in (0, 1) holds out that share of the training rows (a
        seeded random split) to early-stop on validation MSE; those rows are then not
        trained on, which cost 0.008 RMSE (table above).
    patience : int
        3: epochs without improvement of the validation MSE before stopping (used
        only with ``valid_fraction > 0``).
    init_std : float
        0.01: small factors, so training starts at the bias-only predictor.
    seed : int
        0: initial weights, batch order and the validation split are reproducible.
    device : str or None
        None: :func:`~recfeat_ref.training.get_device` chooses.
    progress : bool
        True: a tqdm bar over epochs (pass False inside cross-validation).

    Examples
    --------
    >>> cfg = MFRecommenderConfig(n_factors=32)
    >>> cfg.n_factors, cfg.reg
    (32, 0.12)
    >>> MFRecommenderConfig(valid_fraction=1.0)
    Traceback (most recent call last):
    ...
    ValueError: valid_fraction must lie in [0, 1), got 1.0
    """

    n_factors: int = 64  # 32..128 equal once reg is tuned
    lr: float = 3e-2  # Adam, for batches of 8192
    reg: float = 0.12  # per-batch L2 on factor rows; tuned (table above)
    bias_reg: float = 0.01  # biases overfit little
    weight_decay: float = 0.0  # the worse alternative to reg
    num_epochs: int = 15  # 12 lose 0.001 RMSE
    batch_size: int = 8192  # 10 steps per ML-100K epoch: fast, as accurate as 1024
    valid_fraction: float = 0.0  # early stopping off: the plateau makes it unnecessary
    patience: int = 3  # epochs, with valid_fraction > 0
    init_std: float = 0.01  # start at the bias-only predictor
    seed: int = 0
    device: str | None = None
    progress: bool = True

    def __post_init__(self):
        for name in ("n_factors", "num_epochs", "batch_size", "patience"):
            _check_positive_int(name, getattr(self, name))
        _check_positive("lr", self.lr)
        for name in ("reg", "bias_reg", "weight_decay"):
            _check_non_negative(name, getattr(self, name))
        if not (_is_number(self.valid_fraction) and 0 <= self.valid_fraction < 1):
            raise ValueError(f"valid_fraction must lie in [0, 1), got {self.valid_fraction!r}")
        _check_positive("init_std", self.init_std)
        _check_seed(self.seed)


def _scatter_rows(table: torch.Tensor, index: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """A zero gradient for ``table`` with ``rows[b]`` added at ``index[b]`` (repeats accumulate)."""
    return torch.zeros_like(table).index_add_(0, index, rows.to(table.dtype))


def _sq_norm(x: torch.Tensor) -> torch.Tensor:
    """Sum of squares of all entries, as one dot product (no temporary the size of ``x``)."""
    flat = x.reshape(-1)
    return torch.dot(flat, flat)


class _MFBatch(torch.autograd.Function):
    r"""Predictions and L2 penalty of a batch of (user, item) rows, with a hand-written backward.

    Forward: :math:`\hat r_b = \mu + b_{u_b} + b_{i_b} + p_{u_b}^\top q_{i_b}` and
    :math:`\Omega = \frac{1}{B}\sum_b [\lambda (\lVert p_{u_b}\rVert^2 + \lVert q_{i_b}\rVert^2)
    + \lambda_b (b_{u_b}^2 + b_{i_b}^2)]`.

    Backward: the gradients of Koren et al.'s SGD update, for a whole batch at once. With
    :math:`g_b = \partial L / \partial \hat r_b` and :math:`\gamma = \partial L / \partial \Omega`,

    .. math:: \frac{\partial L}{\partial p_u} = \sum_{b: u_b = u} \Big(g_b\, q_{i_b}
              + \frac{2 \gamma \lambda}{B} p_u\Big), \qquad
              \frac{\partial L}{\partial b_u} = \sum_{b: u_b = u} \Big(g_b + \frac{2 \gamma \lambda_b}{B} b_u\Big)

    (and the same for items), added into zero tables with ``index_add_``; :math:`\partial L /
    \partial \mu = \sum_b g_b`. Autograd computes the same numbers (tested), but through a
    dozen small graph nodes and torch's sort-based embedding backward; on ML-100K this
    version makes an epoch 1.5-2x faster on one CPU thread. The lookups bypass
    ``nn.Embedding``'s ``padding_idx``: training indices never hit the OOV row 0.
    """

    @staticmethod
    def forward(ctx, mu, P, Q, bu, bi, users, items, reg, bias_reg):
        p, q = P[users], Q[items]  # (B, K)
        b_u, b_i = bu[users, 0], bi[items, 0]  # (B,)
        n = len(users)
        pred = mu + b_u + b_i + torch.bmm(p.unsqueeze(1), q.unsqueeze(2)).view(-1)  # (B,) row-wise dot products
        sq = _sq_norm(p) + _sq_norm(q)  # sum of squares of every looked-up row
        penalty = (reg * sq + bias_reg * (_sq_norm(b_u) + _sq_norm(b_i))) / n
        ctx.save_for_backward(P, Q, bu, bi, p, q, b_u, b_i, users, items)
        ctx.reg, ctx.bias_reg = reg, bias_reg
        return pred, penalty

    @staticmethod
    def backward(ctx, g_pred, g_pen):
        P, Q, bu, bi, p, q, b_u, b_i, users, items = ctx.saved_tensors
        n = len(users)
        c, cb = 2 * ctx.reg * g_pen / n, 2 * ctx.bias_reg * g_pen / n  # scalars
        g = g_pred[:, None]  # (B, 1)
        grad_P = _scatter_rows(P, users, torch.addcmul(p * c, g, q))  # c p + g q
        grad_Q = _scatter_rows(Q, items, torch.addcmul(q * c, g, p))
        grad_bu = _scatter_rows(bu, users, g + cb * b_u[:, None])
        grad_bi = _scatter_rows(bi, items, g + cb * b_i[:, None])
        return g_pred.sum(), grad_P, grad_Q, grad_bu, grad_bi, None, None, None, None


class _BatchL2(nn.Module):
    """:class:`BiasedMF` that, in training mode, also records the L2 penalty of the batch's rows.

    The :class:`~recfeat_ref.training.Trainer` only passes ``(output, target)`` to the
    loss, so the penalty travels in ``self.penalty`` and :class:`_PenalisedMSE` adds it.
    In evaluation mode no penalty is recorded, so the validation loss is the plain MSE.
    In training mode prediction and penalty come from :class:`_MFBatch` (same values as
    ``BiasedMF.forward``, hand-written backward; both tested against autograd).
    """

    def __init__(self, mf: BiasedMF, reg: float, bias_reg: float):
        super().__init__()
        self.mf, self.reg, self.bias_reg = mf, reg, bias_reg
        self.penalty = torch.zeros(())

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        mf = self.mf
        if not self.training:
            return mf(users, items)  # (B,)
        pred, self.penalty = _MFBatch.apply(
            mf.global_mean, mf.user_factors.weight, mf.item_factors.weight, mf.user_bias.weight,
            mf.item_bias.weight, users, items, self.reg, self.bias_reg,
        )
        return pred  # (B,)


class _PenalisedMSE:
    """``mse(output, target) + penalty`` while the network trains, plain MSE otherwise."""

    def __init__(self, net: _BatchL2):
        self.net = net

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = F.mse_loss(output, target)
        return loss + self.net.penalty if self.net.training else loss


class MFRecommender(_FactorScores, Recommender):
    r"""Biased matrix factorisation for explicit ratings (Koren, Bell and Volinsky, 2009).

    .. math::
        \hat r_{ui} = \mu + b_u + b_i + p_u^\top q_i, \qquad
        \min \frac{1}{B}\sum_{(u,i) \in \text{batch}} \Big[(r_{ui} - \hat r_{ui})^2
        + \lambda (\lVert p_u\rVert^2 + \lVert q_i\rVert^2) + \lambda_b (b_u^2 + b_i^2)\Big]

    A thin wrapper: :class:`~recfeat_ref.models.BiasedMF` trained by
    :class:`~recfeat_ref.training.Trainer` with Adam on mini-batches, :math:`\mu`
    initialised at the training mean and learned with the rest.

    Parameters
    ----------
    config : MFRecommenderConfig, optional
        Defaults when omitted.
    **params
        Fields of :class:`MFRecommenderConfig` that override ``config``,
        e.g. ``MFRecommender(n_factors=32, progress=False)``.
    user_col, item_col : str
        Column names (keyword only).

    Attributes
    ----------
    model_ : BiasedMF
        The trained torch module (OOV row 0 included), on the CPU.
    global_mean_ : float
        :math:`\mu`.
    user_bias_, item_bias_ : ndarray of shape (U,), (I,)
    user_factors_, item_factors_ : ndarray of shape (U, K), (I, K)
        float64 copies used for scoring; row ``j`` belongs to ``user_ids_[j]`` / ``item_ids_[j]``.
    history_ : pandas.DataFrame
        The trainer's history. ``train_loss`` includes the penalty; with
        ``valid_fraction > 0``, ``valid_loss`` is the plain MSE and ``valid_rmse`` its root.
    best_epoch_ : int
        The epoch whose weights were kept: the best validation MSE, or without
        validation the lowest training loss (in practice the last epoch).

    Notes
    -----
    Fallback for unseen ids: the OOV rows of the model are zero, so an unseen user gets
    :math:`\mu + b_i`, an unseen item :math:`\mu + b_u`, and both unseen :math:`\mu`,
    exactly the :class:`~recfeat_ref.baselines.BiasBaseline` fallback.

    Predictions are not clipped to the rating scale: clipping to [1, 5] changed the
    5-fold RMSE on ML-100K by less than 0.0002.

    On ML-100K, ``cross_validate_ratings(lambda: MFRecommender(progress=False), ratings,
    n_splits=5, seed=0)`` gives RMSE 0.912 +- 0.003 (Surprise's SVD: 0.934;
    :class:`~recfeat_ref.baselines.BiasBaseline`: 0.944) with fits of the same order as Surprise's SVD
    on one CPU thread.

    Shapes
    ------
    predict(df) : (len(df),) float64; score_items(users) : (len(users), I) float64.

    Examples
    --------
    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 1, 3], "rating": [5, 3, 4, 2]})
    >>> model = MFRecommender(n_factors=4, num_epochs=2, progress=False, device="cpu").fit(train)
    >>> model.predict(pd.DataFrame({"user_id": [1, 9], "item_id": [3, 9]})).shape
    (2,)
    """

    def __init__(self, config: MFRecommenderConfig | None = None, *, user_col: str | None = None,
                 item_col: str | None = None, **params):
        kwargs = {k: v for k, v in (("user_col", user_col), ("item_col", item_col)) if v is not None}
        super().__init__(**kwargs)
        self.config = _make_config(MFRecommenderConfig, config, params)

    def _fit(self, users, items, values):
        cfg = self.config
        n = len(values)
        order = np.random.default_rng(cfg.seed).permutation(n)
        n_valid = round(cfg.valid_fraction * n)
        if cfg.valid_fraction > 0 and not 1 <= n_valid < n:
            raise DataValidationError(
                f"valid_fraction={cfg.valid_fraction} of {n} training rows leaves "
                f"{n_valid} validation and {n - n_valid} training rows; both need at least 1"
            )
        fit_rows, valid_rows = np.sort(order[n_valid:]), np.sort(order[:n_valid])
        u = torch.as_tensor(users + 1, dtype=torch.int64)  # (N,) model index: 0 is the OOV slot
        i = torch.as_tensor(items + 1, dtype=torch.int64)  # (N,)
        y = torch.tensor(values, dtype=torch.float32)  # (N,) a copy: ``values`` may be read-only

        seed_everything(cfg.seed)  # the initial weights
        mf = BiasedMF(MFConfig(self.n_users_ + 1, self.n_items_ + 1, cfg.n_factors,
                               float(values[fit_rows].mean()), cfg.init_std))
        net = _BatchL2(mf, cfg.reg, cfg.bias_reg)
        train_cfg = TrainConfig(
            num_epochs=cfg.num_epochs, batch_size=cfg.batch_size, lr=cfg.lr,
            weight_decay=cfg.weight_decay, patience=cfg.patience if n_valid else None,
            seed=cfg.seed, device=cfg.device, progress=cfg.progress,
        )
        trainer = Trainer(net, _PenalisedMSE(net), train_cfg, metrics={"rmse": metrics.rmse} if n_valid else None)
        fit_part = ((u[fit_rows], i[fit_rows]), y[fit_rows])
        valid_part = ((u[valid_rows], i[valid_rows]), y[valid_rows]) if n_valid else None
        self.history_ = trainer.fit(fit_part, valid_part)
        self.best_epoch_ = trainer.best_epoch_
        self.model_ = mf.cpu().eval()
        for name, value in _export_factors(mf).items():
            setattr(self, name, value)

    def _fallback(self, users, items):
        bu = np.where(users >= 0, self.user_bias_[np.maximum(users, 0)], 0.0)
        bi = np.where(items >= 0, self.item_bias_[np.maximum(items, 0)], 0.0)
        return self.global_mean_ + bu + bi


# --- implicit feedback: BPR-MF ----------------------------------------------------


@dataclass(frozen=True)
class BPRConfig:
    r"""Settings of :class:`BPRMF`; every default says why.

    Tuned on the validation part of ``ratio_split_by_user(ML-100K, (0.8, 0.1, 0.1), seed=0)``
    (never on its test part), early stopping on that part; validation NDCG@10:

    ==================================================  =============================
    setting (others at their defaults)                  best NDCG@10 (epoch)
    ==================================================  =============================
    ``batch_size=2048, reg=1e-4 / 1e-3 / 3e-3``         0.214 / 0.217 / 0.224 (15)
    ``batch_size=2048, reg=5e-3 / 1e-2 / 2e-2 / 5e-2``  0.240 / 0.247 / 0.229 / 0.195
    ``reg=5e-3 / 7e-3`` (default) ``/ 1e-2 / 1.5e-2``   0.248 / 0.254 / 0.252 / 0.238
    ``lr=1e-2`` (reg 1e-2) / ``lr=3e-3``                0.244 / 0.254 (80)
    ``n_factors=128``                                   0.251
    ``item_bias=False`` / ``init_std=0.01``             0.252 / 0.251
    ==================================================  =============================

    Attributes
    ----------
    n_factors : int
        64: 128 was no better (0.251) and twice as slow; 32 lost 0.009 (at ``batch_size=2048``).
    lr : float
        5e-3: Adam's step; 1e-2 plateaus lower, 3e-3 reaches the same NDCG later.
    reg : float
        7e-3: L2 weight :math:`\lambda` on the batch's rows :math:`p_u, q_i, q_j, b_i, b_j`
        (:func:`bpr_objective`). Weaker penalties peak early (epoch 15) and then overfit;
        stronger ones underfit.
    item_bias : bool
        True: a per-item bias :math:`b_i` holds popularity so the factors need not; it
        tied with ``False`` on validation (0.254 vs 0.252) and gives unseen users a
        popularity-like fallback.
    num_epochs : int
        100: the upper bound; with validation data the best epoch was 65-80.
    batch_size : int
        4096: an epoch costs the same CPU time as with 2048 (the work is per triple),
        and the larger batch validated better (0.254 vs 0.247 at its best ``reg``).
    eval_every : int
        5: one validation ranking (full catalogue, ~0.05 s on ML-100K) per five epochs
        keeps evaluation below a tenth of the training time.
    patience : int
        3: evaluations (15 epochs) without improvement; the validation NDCG is noisy
        from one evaluation to the next by about 0.003.
    k : int
        10: the list length of the validation NDCG.
    init_std : float
        0.1: with 0.01 the scores start nearly tied and the first epochs learn slowly;
        the final NDCG was within noise (0.251).
    seed : int
        0: initial weights, negatives and batch order are reproducible.
    device : str or None
        None: :func:`~recfeat_ref.training.get_device` chooses.
    progress : bool
        True: a tqdm bar over epochs.
    cpu_threads : int or None
        1: as :class:`~recfeat_ref.training.TrainConfig`: torch threads during ``fit`` on the CPU.
    negatives : str
        ``"uniform"``: negatives uniform over the user's unobserved items
        (:class:`NegativeSampler`); ``"popularity"`` draws them with probability
        :math:`\propto n_j^\beta` (:class:`~recfeat_ref.augment.PopularityNegativeSampler`).
        Uniform stays the default: on the validation part every
        :math:`\beta \in \{0.25, 0.5, 0.75, 1\}` was worse (NDCG@10 0.240 / 0.222 / 0.195 /
        0.171 against 0.254, seed 0), falling steadily as :math:`\beta` grows (chapter
        ``13_augmentation``): popular negatives remove the popularity prior that
        MovieLens rewards.
    popularity_beta : float
        0.75: the exponent :math:`\beta` of ``negatives="popularity"`` (word2vec's value);
        used only with ``negatives="popularity"``.
    drop_rate : float
        0.0: the fraction of training positives left out of each epoch, redrawn every
        epoch (:func:`~recfeat_ref.augment.keep_index`), an augmentation of implicit
        feedback. 0 stays the default: dropping 10 % / 30 % gave validation NDCG@10
        0.248 / 0.249 against 0.251 (means over 3 seeds, chapter ``13_augmentation``),
        within the seed spread; it only makes epochs shorter.

    Examples
    --------
    >>> cfg = BPRConfig(n_factors=32)
    >>> cfg.n_factors, cfg.lr
    (32, 0.005)
    >>> BPRConfig(negatives="hard")
    Traceback (most recent call last):
    ...
    ValueError: negatives must be 'uniform' or 'popularity', got 'hard'
    """

    n_factors: int = 64  # 128 no better, twice as slow
    lr: float = 5e-3  # Adam
    reg: float = 7e-3  # per-batch L2; tuned (table above)
    item_bias: bool = True  # popularity lives in b_i
    num_epochs: int = 100  # upper bound; best epochs were 65-80
    batch_size: int = 4096  # same CPU time per epoch as 2048, validated better
    eval_every: int = 5  # evaluation < 10% of the time
    patience: int = 3  # evaluations
    k: int = 10  # validation NDCG@k
    init_std: float = 0.1  # scores not tied at the start
    seed: int = 0
    device: str | None = None
    progress: bool = True
    cpu_threads: int | None = 1
    negatives: str = "uniform"  # popularity negatives: see chapter 13
    popularity_beta: float = 0.75  # word2vec's exponent
    drop_rate: float = 0.0  # no positives dropped

    def __post_init__(self):
        if self.negatives not in ("uniform", "popularity"):
            raise ValueError(f"negatives must be 'uniform' or 'popularity', got {self.negatives!r}")
        if not (_is_number(self.popularity_beta) and 0 <= self.popularity_beta < float("inf")):
            raise ValueError(f"popularity_beta must be a finite number >= 0, got {self.popularity_beta!r}")
        if not (_is_number(self.drop_rate) and 0 <= self.drop_rate < 1):
            raise ValueError(f"drop_rate must lie in [0, 1), got {self.drop_rate!r}")
        _check_fields(self, ("n_factors", *_LOOP_INTS), positive=("lr", "init_std"), non_negative=("reg",),
                      flags=("item_bias",))


class NegativeSampler:
    r"""Uniform negative items by vectorised rejection sampling.

    For each query user :math:`u` draw :math:`j \sim \mathcal{U}\{0, \dots, I-1\}`; the draws
    that hit one of :math:`u`'s positives are redrawn, all at once, until none is left.
    Accepted draws are therefore *exactly* uniform over the items :math:`u` has not
    interacted with (rejection sampling). A user with a fraction :math:`\rho_u` of the
    catalogue needs :math:`1/(1-\rho_u)` draws on average. On the full ML-100K (densest
    user :math:`\rho_u = 0.44`) 12 % of the first draws are rejected and about a dozen
    ever-smaller rounds finish the epoch's 100,000 draws (measured: 12,007 then 2,153, 541, ...).

    Membership is a lookup in a dense boolean user x item table when it is small (at most
    ``dense_limit`` cells: 1.6 million on ML-100K, 1.6 MB), which made sampling an ML-100K
    epoch about 3x faster; otherwise a binary search of the sorted keys
    :math:`u \cdot I + i` with :func:`torch.searchsorted`, :math:`O(B \log N)` for ``B``
    queries and ``N`` positives, in memory proportional to the positives only. Both give
    the same answers (tested), so the negatives do not depend on the choice.

    Parameters
    ----------
    users, items : array-like of int, shape (N,)
        The positive interactions, as indices ``0..n_users-1`` and ``0..n_items-1``.
    n_items : int
        Catalogue size :math:`I`.
    dense_limit : int
        Largest user x item table (cells) held densely; 0 forces the binary search.

    Raises
    ------
    ValueError
        If a user has interacted with every item (no negative exists), naming the users
        by the indices given here (a :class:`~recfeat_ref.exceptions.DataValidationError`;
        a recommender's ``fit`` re-raises it naming the raw ids of its training frame).

    Examples
    --------
    >>> sampler = NegativeSampler([0, 0, 1], [0, 1, 2], n_items=4)
    >>> neg = sampler.sample(torch.tensor([0, 0, 1]), torch.Generator().manual_seed(0))
    >>> bool(sampler.is_positive(torch.tensor([0, 0, 1]), neg).any())
    False
    """

    def __init__(self, users, items, n_items: int, dense_limit: int = 2**25):
        _check_positive_int("n_items", n_items)
        users = torch.as_tensor(np.asarray(users), dtype=torch.int64)
        items = torch.as_tensor(np.asarray(items), dtype=torch.int64)
        if users.shape != items.shape or users.dim() != 1:
            raise ValueError(
                f"users and items must be 1-D of equal length, got shapes {tuple(users.shape)} and {tuple(items.shape)}"
            )
        if len(items) and (items.min() < 0 or items.max() >= n_items):
            raise ValueError(f"items must lie in 0..{n_items - 1}, got {int(items.min())}..{int(items.max())}; "
                             "raise n_items or encode the items first")
        self.n_items = int(n_items)
        self.keys = torch.unique(users * n_items + items)  # (N,) sorted, duplicates dropped
        per_user = torch.bincount(torch.div(self.keys, n_items, rounding_mode="floor"))
        full = torch.nonzero(per_user >= n_items).flatten()
        if len(full):
            raise IndexedDataError(
                f"users {{users}} interacted with all {n_items} items, so no negative "
                "item exists for them; drop these users before fitting",
                users=full.numpy(),
            )
        n_users = len(per_user)
        self.dense = None
        if n_users * n_items <= dense_limit:
            self.dense = torch.zeros(n_users, n_items, dtype=torch.bool)  # (U, I)
            self.dense.view(-1)[self.keys] = True

    def is_positive(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Boolean mask: is ``items[b]`` a positive of ``users[b]``? Shapes (B,) -> (B,)."""
        if len(self.keys) == 0:
            return torch.zeros(users.shape, dtype=torch.bool)
        if self.dense is not None:
            inside = users < len(self.dense)  # users without positives are beyond the table
            return inside & self.dense[users.clamp(max=len(self.dense) - 1), items]
        q = users * self.n_items + items  # (B,)
        pos = torch.searchsorted(self.keys, q).clamp_(max=len(self.keys) - 1)  # (B,)
        return self.keys[pos] == q

    def sample(self, users: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One uniform negative item per entry of ``users``; shape (B,) int64, on the CPU."""
        users = torch.as_tensor(users, dtype=torch.int64)
        neg = torch.randint(self.n_items, users.shape, generator=generator)  # (B,)
        todo = torch.nonzero(self.is_positive(users, neg)).flatten()  # rows to redraw
        while len(todo):
            neg[todo] = torch.randint(self.n_items, todo.shape, generator=generator)
            todo = todo[self.is_positive(users[todo], neg[todo])]
        return neg


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    r"""The BPR criterion without its prior, averaged over the batch.

    .. math:: \ell = -\frac{1}{B} \sum_b \ln \sigma(\hat x_{ui} - \hat x_{uj})
              = \frac{1}{B} \sum_b \operatorname{softplus}(\hat x_{uj} - \hat x_{ui})

    ``softplus`` is the numerically stable form (no :math:`\ln 0` for large margins).
    Gradient: :math:`\partial \ell / \partial \hat x_{ui} = -\sigma(\hat x_{uj} - \hat x_{ui}) / B`.

    Shapes: pos_scores, neg_scores (B,) -> scalar.

    Examples
    --------
    >>> round(bpr_loss(torch.tensor([0.0, 0.0]), torch.tensor([0.0, 0.0])).item(), 4)   # log 2
    0.6931
    """
    if pos_scores.shape != neg_scores.shape:
        raise ValueError(
            f"pos_scores and neg_scores must have the same shape, got {tuple(pos_scores.shape)} "
            f"and {tuple(neg_scores.shape)}"
        )
    return F.softplus(neg_scores - pos_scores).mean()


def bpr_objective(p_u, q_i, q_j, b_i, b_j, reg: float) -> torch.Tensor:
    r"""BPR loss of a batch of triples plus the L2 penalty on the rows it uses.

    .. math:: \hat x_{uij} = p_u^\top (q_i - q_j) + b_i - b_j, \qquad
              L = \frac{1}{B} \sum_b \Big[\operatorname{softplus}(-\hat x_{uij})
              + \lambda (\lVert p_u\rVert^2 + \lVert q_i\rVert^2 + \lVert q_j\rVert^2 + b_i^2 + b_j^2)\Big]

    Rendle et al. (2009) regularise per update in the same way (their :math:`\lambda_\Theta`).

    Shapes: p_u, q_i, q_j (B, K); b_i, b_j (B,) -> scalar.

    Examples
    --------
    >>> ones, zeros = torch.ones(1, 2), torch.zeros(1, 2)
    >>> round(bpr_objective(ones, ones, zeros, torch.zeros(1), torch.zeros(1), reg=0.0).item(), 4)
    0.1269
    """
    x_ui = (p_u * q_i).sum(-1) + b_i  # (B,)
    x_uj = (p_u * q_j).sum(-1) + b_j  # (B,)
    sq = p_u.pow(2).sum(-1) + q_i.pow(2).sum(-1) + q_j.pow(2).sum(-1) + b_i.pow(2) + b_j.pow(2)  # (B,)
    return bpr_loss(x_ui, x_uj) + reg * sq.mean()


class _BPRBatch(torch.autograd.Function):
    r""":func:`bpr_objective` of a batch of triples, looked up from the tables, with a hand-written backward.

    The gradients are those of Rendle et al.'s LearnBPR update, for a batch at once. With
    :math:`\hat x_b = p_{u_b}^\top (q_{i_b} - q_{j_b}) + b_{i_b} - b_{j_b}`,
    :math:`s_b = -\sigma(-\hat x_b)/B` (the derivative of :math:`\operatorname{softplus}(-\hat x_b)/B`)
    and :math:`c = 2\lambda/B`:

    .. math:: \nabla_{p_u} = \sum_{b: u_b=u} s_b (q_{i_b} - q_{j_b}) + c\, p_u, \quad
              \nabla_{q_i} \mathrel{+}= s_b\, p_{u_b} + c\, q_i, \quad
              \nabla_{q_j} \mathrel{+}= -s_b\, p_{u_b} + c\, q_j, \quad
              \nabla_{b_i} \mathrel{+}= s_b + c\, b_i, \quad \nabla_{b_j} \mathrel{+}= -s_b + c\, b_j

    accumulated with ``index_add_`` (an item can be a positive and a negative in one
    batch). Tested equal to autograd through :func:`bpr_objective`; on ML-100K it halves
    the time of a training step on one CPU thread.
    """

    @staticmethod
    def forward(ctx, P, Q, b, users, pos, neg, reg):
        p, q_i, q_j = P[users], Q[pos], Q[neg]  # (B, K)
        b_i, b_j = b[pos, 0], b[neg, 0]  # (B,)
        ctx.save_for_backward(P, Q, b, p, q_i, q_j, b_i, b_j, users, pos, neg)
        ctx.reg = reg
        return bpr_objective(p, q_i, q_j, b_i, b_j, reg)

    @staticmethod
    def backward(ctx, grad_out):
        P, Q, b, p, q_i, q_j, b_i, b_j, users, pos, neg = ctx.saved_tensors
        n = len(users)
        x = (p * (q_i - q_j)).sum(-1) + b_i - b_j  # (B,)
        s = (-torch.sigmoid(-x) * (grad_out / n))[:, None]  # (B, 1)
        c = 2 * ctx.reg * grad_out / n
        grad_P = _scatter_rows(P, users, s * (q_i - q_j) + c * p)
        grad_Q = _scatter_rows(Q, pos, s * p + c * q_i).index_add_(0, neg, -s * p + c * q_j)
        grad_b = None
        if ctx.needs_input_grad[2]:
            grad_b = _scatter_rows(b, pos, s + c * b_i[:, None]).index_add_(0, neg, -s + c * b_j[:, None])
        return grad_P, grad_Q, grad_b, None, None, None, None


class BPRMF(_AverageUserFallback, _FactorScores, ImplicitRecommender):
    r"""Matrix factorisation trained with Bayesian Personalized Ranking (Rendle et al., 2009).

    Every training row is a positive :math:`(u, i)` (ratings, if present, are ignored;
    a repeated row is sampled as often as it occurs).
    Each epoch pairs every positive with one negative :math:`j` drawn uniformly from
    the items :math:`u` has not interacted with (:class:`NegativeSampler`), shuffles the
    triples and takes Adam steps on :func:`bpr_objective`. Two optional augmentations
    (:mod:`recfeat_ref.augment`): ``negatives="popularity"`` draws :math:`j` with
    probability :math:`\propto n_j^\beta`, and ``drop_rate`` trains each epoch on a
    fresh random subset of the positives. The score is

    .. math:: \hat x_{ui} = p_u^\top q_i + b_i

    The factor model is :class:`~recfeat_ref.models.BiasedMF`, used as a container of
    tables: :math:`\mu` and :math:`b_u` cancel in :math:`\hat x_{ui} - \hat x_{uj}`, so they
    are frozen at zero (and :math:`b_i` too when ``item_bias=False``).

    Why not :class:`~recfeat_ref.training.Trainer`: BPR has no target, and its training
    set (the negatives) is redrawn every epoch, while the trainer takes one fixed
    ``(inputs, target)`` pair. The epoch loop, early stopping included, comes from
    :class:`~recfeat_ref.training.ImplicitRecommender`; the epoch here is the trainer's
    (seeded permutation, tensor-indexed batches) with the sampling step added.

    Early stopping: pass held-out positives as ``fit(train, valid=...)``. Every
    ``eval_every`` epochs the validation NDCG@k is computed with
    :func:`~recfeat_ref.recommender.evaluate_topn` (full catalogue, training items
    excluded); after ``patience`` evaluations without improvement training stops and
    the best weights are restored. Without ``valid``, all ``num_epochs`` run.

    Parameters
    ----------
    config : BPRConfig, optional
    **params
        Fields of :class:`BPRConfig` that override ``config``.
    user_col, item_col : str
        Column names (keyword only).

    Attributes
    ----------
    model_ : BiasedMF
        The trained tables (OOV row 0 included), on the CPU.
    user_factors_, item_factors_, item_bias_ : ndarrays of shape (U, K), (I, K), (I,)
    user_bias_ : ndarray of zeros, shape (U,); global_mean_ : 0.0 (kept for shared scoring)
    history_ : pandas.DataFrame
        ``epoch``, ``train_loss`` (:func:`bpr_objective`, penalty included), ``seconds``
        (wall time of the epoch, sampling included, evaluation excluded), and
        ``valid_ndcg_at_k``/``valid_recall_at_k`` on evaluated epochs (NaN elsewhere).
    best_epoch_ : int
        The epoch whose weights were kept (the last one when ``valid`` is not given).

    Notes
    -----
    Fallback for unseen ids (the OOV rows would score every item 0): an unseen user is
    scored as the *average training user*, :math:`\bar p^\top q_i + b_i` with
    :math:`\bar p` the mean of the user factors; this equals the column mean of the
    score matrix, a learned popularity. An unseen item is scored as the average
    training item, :math:`p_u^\top \bar q + \bar b`, the row mean; both unseen:
    :math:`\bar p^\top \bar q + \bar b`. Ranking the 8:1:1 test users of ML-100K *as if*
    they were unseen gives NDCG@10 0.136 with the average user, against 0.145 for raw
    popularity counts and 0.130 for :math:`b_i` alone (0.305 with their own factors);
    the average user is kept because it stays on the model's score scale, so
    :meth:`predict` can mix seen and unseen rows. (:func:`~recfeat_ref.recommender.evaluate_topn`
    never meets an unseen user: it drops them.)

    Cost: on ML-100K (80,000 positives, 1,650 items) an epoch takes about 0.06 s on one
    CPU thread; the time is per triple, so ``batch_size`` 2048 to 8192 cost the same.

    Shapes
    ------
    predict(df) : (len(df),) float64; score_items(users) : (len(users), I) float64.

    Examples
    --------
    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [1, 2, 2, 3]})
    >>> model = BPRMF(n_factors=4, num_epochs=2, progress=False, device="cpu").fit(train)
    >>> model.score_items([1, 2]).shape
    (2, 3)
    """

    def __init__(self, config: BPRConfig | None = None, *, user_col: str | None = None,
                 item_col: str | None = None, **params):
        kwargs = {k: v for k, v in (("user_col", user_col), ("item_col", item_col)) if v is not None}
        super().__init__(**kwargs)
        self.config = _make_config(BPRConfig, config, params)

    def _export(self, model: BiasedMF) -> None:
        for name, value in _export_factors(model).items():
            setattr(self, name, value)

    def _train(self, users, items, device):
        from . import augment  # imported here: recfeat_ref.augment imports this module

        cfg = self.config
        if cfg.negatives == "popularity":
            sampler = augment.PopularityNegativeSampler(users, items, self.n_items_, beta=cfg.popularity_beta)
        else:
            sampler = NegativeSampler(users, items, self.n_items_)
        u_all = torch.as_tensor(users + 1, dtype=torch.int64)  # (N,) model index: 0 is the OOV slot
        i_all = torch.as_tensor(items + 1, dtype=torch.int64)  # (N,)
        n = len(u_all)

        seed_everything(cfg.seed)
        model = BiasedMF(MFConfig(self.n_users_ + 1, self.n_items_ + 1, cfg.n_factors, 0.0, cfg.init_std))
        frozen = [model.global_mean, model.user_bias.weight]  # they cancel in x_ui - x_uj
        if not cfg.item_bias:
            frozen.append(model.item_bias.weight)
        for p in frozen:
            p.requires_grad_(False)
        model.to(device)
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
        gen = torch.Generator().manual_seed(cfg.seed)
        u_dev, i_dev = u_all.to(device), i_all.to(device)
        tables = (model.user_factors.weight, model.item_factors.weight, model.item_bias.weight)

        def epoch(_):
            u_ep, u_ep_dev, i_ep_dev = u_all, u_dev, i_dev  # this epoch's positives
            if cfg.drop_rate > 0:  # augmentation: a fresh random subset of the positives
                keep = augment.keep_index(n, cfg.drop_rate, gen)  # (N',)
                keep_dev = keep.to(device)
                u_ep, u_ep_dev, i_ep_dev = u_all[keep], u_dev[keep_dev], i_dev[keep_dev]
            m = len(u_ep)
            neg = (sampler.sample(u_ep - 1, gen) + 1).to(device)  # (N',) negatives, model index
            perm = torch.randperm(m, generator=gen).to(device)
            total = torch.zeros((), device=device)
            for lo in range(0, m, cfg.batch_size):
                idx = perm[lo : lo + cfg.batch_size]  # (B,)
                loss = _BPRBatch.apply(*tables, u_ep_dev[idx], i_ep_dev[idx], neg[idx], cfg.reg)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach() * len(idx)
            return {"train_loss": float(total) / m}

        self._run_epochs(epoch, model, lambda: self._export(model))
        self.model_ = model.cpu().eval()
        self._export(self.model_)
