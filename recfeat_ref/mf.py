r"""Matrix factorisation recommenders: biased MF for ratings, BPR-MF for implicit feedback.

Both models score a (user, item) pair with the same factor model,
:class:`recfeat_ref.models.BiasedMF`; they differ in the data and the loss.

=====================  =======================================  ==============================
model                  data                                     loss
=====================  =======================================  ==============================
:class:`MFRecommender`  explicit ratings :math:`r_{ui}`           squared error (Koren et al.)
:class:`BPRMF`          implicit positives :math:`(u, i)`          pairwise log-sigmoid (Rendle)
=====================  =======================================  ==============================

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

from . import metrics
from ._validation import (
    DataValidationError,
    _check_non_negative,
    _check_positive,
    _check_positive_int,
    _check_seed,
    _is_number,
    _make_config,
    check_columns,
    check_dataframe,
)
from .models import BiasedMF, MFConfig
from .recommender import Recommender, evaluate_topn
from .training import TrainConfig, Trainer, get_device, seed_everything

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


# --- explicit ratings: biased MF --------------------------------------------------


@dataclass(frozen=True)
class MFRecommenderConfig:
    r"""Settings of :class:`MFRecommender`; every default says why.

    The defaults were tuned on an inner 90/10 split (``random_split(..., seed=1)``) of
    the *first 5-fold training part* of ML-100K, never on a test fold. RMSE on that inner
    validation part after training (20 epochs unless said otherwise):

    =================================================  ==================================
    setting (others at their defaults)                 inner-validation RMSE
    =================================================  ==================================
    defaults (``reg=0.12, bias_reg=0.01``)             0.892
    ``reg=0.05 / 0.08 / 0.10 / 0.15 / 0.20``           0.924 / 0.900 / 0.894 / 0.897 / 0.912
    ``bias_reg=0 / 0.12``                              0.892 / 0.896
    ``n_factors=32 / 128``                             0.893 / 0.894
    ``lr=1e-2 / 3e-3``                                 0.896 / 0.894
    ``num_epochs=40``                                  0.893
    ``batch_size=2048, lr=1e-2`` (a third faster)      0.894
    ``reg=0, bias_reg=0, weight_decay=1e-4 / 2e-4``    0.972 / 0.916
    ``reg=0, bias_reg=0, weight_decay=3e-4 / 5e-4``    0.901 / 0.916
    ``weight_decay=3e-4`` + ``valid_fraction=0.1``     0.905 (stopped at epoch 14)
    defaults + ``valid_fraction=0.1``                  0.900 (stopped at epoch 14)
    =================================================  ==================================

    Attributes
    ----------
    n_factors : int
        64: 32 and 128 are within 0.002 RMSE once ``reg`` is tuned; 64 is the
        :class:`~recfeat_ref.models.MFConfig` default.
    lr : float
        5e-3: Adam's step; 1e-2 is noisier at the plateau, 3e-3 has not reached it by epoch 20.
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
        20: with ``reg=0.12`` the validation RMSE is flat (within 0.001) from epoch 15
        to 40, so no early stopping is needed; 20 epochs take 1-3 s on one CPU thread.
    batch_size : int
        1024: 80 Adam steps per epoch on ML-100K; 2048 (with ``lr=1e-2``) is a third faster
        for 0.001-0.002 RMSE more.
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
    """

    n_factors: int = 64  # 32..128 equal once reg is tuned
    lr: float = 5e-3  # Adam; 1e-2 noisier, 3e-3 slower
    reg: float = 0.12  # per-batch L2 on factor rows; tuned (table above)
    bias_reg: float = 0.01  # biases overfit little
    weight_decay: float = 0.0  # the worse alternative to reg
    num_epochs: int = 20  # validation RMSE flat from epoch 15
    batch_size: int = 1024  # ~80 steps per ML-100K epoch
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


class _BatchL2(nn.Module):
    """:class:`BiasedMF` that, in training mode, also records the L2 penalty of the batch's rows.

    The :class:`~recfeat_ref.training.Trainer` only passes ``(output, target)`` to the
    loss, so the penalty travels in ``self.penalty`` and :class:`_PenalisedMSE` adds it.
    In evaluation mode no penalty is recorded, so the validation loss is the plain MSE.
    """

    def __init__(self, mf: BiasedMF, reg: float, bias_reg: float):
        super().__init__()
        self.mf, self.reg, self.bias_reg = mf, reg, bias_reg
        self.penalty = torch.zeros(())

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        mf = self.mf
        if not self.training:
            return mf(users, items)  # (B,)
        # BiasedMF.forward, spelled out so that each row is looked up once (tested equal).
        p, q = mf.user_factors(users), mf.item_factors(items)  # (B, K)
        b_u, b_i = mf.user_bias(users).squeeze(-1), mf.item_bias(items).squeeze(-1)  # (B,)
        sq_factors = p.pow(2).sum(-1) + q.pow(2).sum(-1)  # (B,)
        self.penalty = self.reg * sq_factors.mean() + self.bias_reg * (b_u.pow(2) + b_i.pow(2)).mean()
        return mf.global_mean + b_u + b_i + (p * q).sum(-1)  # (B,)


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
    n_splits=5, seed=0)`` gives RMSE 0.910 +- 0.003 (Surprise's SVD: 0.934;
    :class:`~recfeat_ref.baselines.BiasBaseline`: 0.944) in about 2 s of fitting per fold
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

    ================================================  ==========================
    setting (others at their defaults)                 best NDCG@10 (epoch)
    ================================================  ==========================
    ``batch_size=2048, reg=1e-4 / 1e-3 / 3e-3``         0.214 / 0.217 / 0.224 (15)
    ``batch_size=2048, reg=5e-3 / 1e-2 / 2e-2 / 5e-2``  0.240 / 0.247 / 0.229 / 0.195
    ``reg=5e-3 / 7e-3`` (default) ``/ 1e-2 / 1.5e-2``  0.248 / 0.254 / 0.252 / 0.238
    ``lr=1e-2`` (reg 1e-2) / ``lr=3e-3``               0.244 / 0.254 (80)
    ``n_factors=128``                                 0.251
    ``item_bias=False`` / ``init_std=0.01``           0.252 / 0.251
    ================================================  ==========================

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

    def __post_init__(self):
        for name in ("n_factors", "num_epochs", "batch_size", "eval_every", "patience", "k"):
            _check_positive_int(name, getattr(self, name))
        _check_positive("lr", self.lr)
        _check_non_negative("reg", self.reg)
        if not isinstance(self.item_bias, bool):
            raise ValueError(f"item_bias must be True or False, got {self.item_bias!r}")
        _check_positive("init_std", self.init_std)
        if self.cpu_threads is not None:
            _check_positive_int("cpu_threads", self.cpu_threads)
        _check_seed(self.seed)


class NegativeSampler:
    r"""Uniform negative items by vectorised rejection sampling.

    For each query user :math:`u` draw :math:`j \sim \mathcal{U}\{0, \dots, I-1\}`; the draws
    that hit one of :math:`u`'s positives are redrawn, all at once, until none is left.
    Accepted draws are therefore *exactly* uniform over the items :math:`u` has not
    interacted with (rejection sampling). A user with a fraction :math:`\rho_u` of the
    catalogue needs :math:`1/(1-\rho_u)` draws on average. On the full ML-100K (densest
    user :math:`\rho_u = 0.44`) 12 % of the first draws are rejected and about a dozen
    ever-smaller rounds finish the epoch's 100,000 draws (measured: 12,007 then 2,153, 541, ...).

    Membership is tested on the sorted keys :math:`u \cdot I + i` with
    :func:`torch.searchsorted`, :math:`O(B \log N)` for ``B`` queries and ``N`` positives.

    Parameters
    ----------
    users, items : array-like of int, shape (N,)
        The positive interactions, as indices ``0..n_users-1`` and ``0..n_items-1``.
    n_items : int
        Catalogue size :math:`I`.

    Raises
    ------
    ValueError
        If a user has interacted with every item (no negative exists), naming the users.

    Examples
    --------
    >>> sampler = NegativeSampler([0, 0, 1], [0, 1, 2], n_items=4)
    >>> neg = sampler.sample(torch.tensor([0, 0, 1]), torch.Generator().manual_seed(0))
    >>> bool(sampler.is_positive(torch.tensor([0, 0, 1]), neg).any())
    False
    """

    def __init__(self, users, items, n_items: int):
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
            raise ValueError(
                f"users {full[:5].tolist()} interacted with all {n_items} items, so no negative "
                "item exists for them; drop these users before fitting"
            )

    def is_positive(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Boolean mask: is ``items[b]`` a positive of ``users[b]``? Shapes (B,) -> (B,)."""
        if len(self.keys) == 0:
            return torch.zeros(users.shape, dtype=torch.bool)
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
    """
    x_ui = (p_u * q_i).sum(-1) + b_i  # (B,)
    x_uj = (p_u * q_j).sum(-1) + b_j  # (B,)
    sq = p_u.pow(2).sum(-1) + q_i.pow(2).sum(-1) + q_j.pow(2).sum(-1) + b_i.pow(2) + b_j.pow(2)  # (B,)
    return bpr_loss(x_ui, x_uj) + reg * sq.mean()


class BPRMF(_FactorScores, Recommender):
    r"""Matrix factorisation trained with Bayesian Personalized Ranking (Rendle et al., 2009).

    Every training row is a positive :math:`(u, i)` (ratings, if present, are ignored;
    a repeated row is sampled as often as it occurs).
    Each epoch pairs every positive with one negative :math:`j` drawn uniformly from
    the items :math:`u` has not interacted with (:class:`NegativeSampler`), shuffles the
    triples and takes Adam steps on :func:`bpr_objective`. The score is

    .. math:: \hat x_{ui} = p_u^\top q_i + b_i

    The factor model is :class:`~recfeat_ref.models.BiasedMF`, used as a container of
    tables: :math:`\mu` and :math:`b_u` cancel in :math:`\hat x_{ui} - \hat x_{uj}`, so they
    are frozen at zero (and :math:`b_i` too when ``item_bias=False``).

    Why a loop of its own instead of :class:`~recfeat_ref.training.Trainer`: BPR has no
    target, and its training set (the negatives) is redrawn every epoch, while the
    trainer takes one fixed ``(inputs, target)`` pair. The loop is the trainer's
    (seeded permutation, tensor-indexed batches, a tqdm bar, best weights restored),
    with the sampling step added.

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

    target_col = None

    def __init__(self, config: BPRConfig | None = None, *, user_col: str | None = None,
                 item_col: str | None = None, **params):
        kwargs = {k: v for k, v in (("user_col", user_col), ("item_col", item_col)) if v is not None}
        super().__init__(**kwargs)
        self.config = _make_config(BPRConfig, config, params)

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> BPRMF:
        """Fit on the positives in ``train``; early-stop on NDCG@k of ``valid`` if given."""
        if valid is not None:
            check_dataframe(valid, "valid")
            check_columns(valid, [self.user_col, self.item_col], "valid")
        self._frames = (train, valid)
        try:
            return super().fit(train)
        finally:
            del self._frames

    def _export(self, model: BiasedMF) -> None:
        for name, value in _export_factors(model).items():
            setattr(self, name, value)

    def _fit(self, users, items, values):
        cfg = self.config
        device = get_device(cfg.device)
        threads = torch.get_num_threads()
        if cfg.cpu_threads is not None and device.type == "cpu":
            torch.set_num_threads(cfg.cpu_threads)
        try:
            self._train_loop(users, items, device)
        finally:
            torch.set_num_threads(threads)

    def _train_loop(self, users, items, device):
        cfg = self.config
        train_frame, valid_frame = self._frames
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
        P, Q, b = model.user_factors, model.item_factors, model.item_bias

        rows, best, best_state, stale = [], -math.inf, None, 0
        self.best_epoch_ = cfg.num_epochs
        bar = tqdm(range(1, cfg.num_epochs + 1), desc="epochs", disable=not cfg.progress, leave=True)
        for epoch in bar:
            start = time.perf_counter()
            neg = (sampler.sample(u_all - 1, gen) + 1).to(device)  # (N,) negatives, model index
            perm = torch.randperm(n, generator=gen).to(device)
            total = torch.zeros((), device=device)
            for lo in range(0, n, cfg.batch_size):
                idx = perm[lo : lo + cfg.batch_size]  # (B,)
                items_ij = torch.cat([i_dev[idx], neg[idx]])  # (2B,) one lookup for i and j: half the backward
                q_i, q_j = Q(items_ij).chunk(2)  # (B, K) each
                b_i, b_j = b(items_ij).squeeze(-1).chunk(2)  # (B,) each
                loss = bpr_objective(P(u_dev[idx]), q_i, q_j, b_i, b_j, cfg.reg)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach() * len(idx)
            row = {"epoch": epoch, "train_loss": float(total) / n, "seconds": time.perf_counter() - start}
            if valid_frame is not None and (epoch % cfg.eval_every == 0 or epoch == cfg.num_epochs):
                self._export(model)
                report = evaluate_topn(self, train_frame, valid_frame, k=cfg.k)
                row[f"valid_ndcg_at_{cfg.k}"] = report["ndcg_at_k"]
                row[f"valid_recall_at_{cfg.k}"] = report["recall_at_k"]
                if report["ndcg_at_k"] > best:
                    best, stale, self.best_epoch_ = report["ndcg_at_k"], 0, epoch
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    stale += 1
            rows.append(row)
            bar.set_postfix({k: f"{v:.4f}" for k, v in row.items() if k not in ("epoch", "seconds")})
            if stale >= cfg.patience:
                break
        bar.close()
        if best_state is not None:
            model.load_state_dict(best_state)
        self.model_ = model.cpu().eval()
        self.history_ = pd.DataFrame(rows)
        self._export(self.model_)

    def _fallback(self, users, items):
        p_bar, q_bar = self.user_factors_.mean(0), self.item_factors_.mean(0)  # (K,) the average user and item
        p = np.where((users >= 0)[:, None], self.user_factors_[np.maximum(users, 0)], p_bar)  # (B, K)
        q = np.where((items >= 0)[:, None], self.item_factors_[np.maximum(items, 0)], q_bar)  # (B, K)
        b = np.where(items >= 0, self.item_bias_[np.maximum(items, 0)], self.item_bias_.mean())  # (B,)
        return np.einsum("bk,bk->b", p, q) + b
