r"""CFGAN: collaborative filtering with a vector-wise generative adversarial network.

A generative adversarial network (GAN; Goodfellow et al., 2014) trains two networks
against each other: a generator :math:`G` that turns noise into samples, and a
discriminator :math:`D` that tells real samples from generated ones,

.. math::
    \min_G \max_D \; \mathbb{E}_{x \sim p_\text{data}}[\log D(x)]
    + \mathbb{E}_{z \sim p_z}[\log(1 - D(G(z)))].

CFGAN (Chae et al., 2018) makes both networks *conditional* (Mirza and Osindero, 2014)
on the user and lets :math:`G` generate a whole *purchase vector* over the
catalogue instead of one item id (as IRGAN did; Wang et al., 2017). For user
:math:`u` with training purchase vector :math:`e_u \in \{0, 1\}^I` (the real sample
:math:`r_u` and the condition :math:`c_u` are both :math:`e_u` here),

.. math::
    \hat r_u = G(c_u, z) \in (0, 1)^I, \qquad D(r, c_u) \in (0, 1).

Left alone, :math:`G` wins by outputting 1 everywhere, since the real vectors are 1 on
every purchased item and :math:`D` sees only the purchased entries if we mask
:math:`\hat r_u \odot e_u`. CFGAN prevents this with two uses of sampled negative
items (items :math:`u` has not purchased):

* **PM, partial masking**: :math:`D` sees :math:`\hat r_u \odot (e_u + k_u)`, with
  :math:`k_u` a random set of negatives (each with probability ``pm_ratio``); the real
  vector is 0 there, so :math:`D` spots a generator that puts mass on them.
* **ZR, zero reconstruction**: :math:`G`'s loss also pulls a random set
  :math:`N_u^{ZR}` of negatives (each with probability ``zr_ratio``) towards 0,
  :math:`\alpha \sum_{j \in N^{ZR}_u} \hat r_{uj}^2`.

With both (the paper's "ZP" scheme, the one implemented here) the objectives are

.. math::
    J^D = -\sum_u \Big[\log D(e_u \mid c_u) + \log\big(1 - D(\hat r_u \odot (e_u + k_u) \mid c_u)\big)\Big],

    J^G = \sum_u \Big[-\log D(\hat r_u \odot (e_u + k_u) \mid c_u)
          + \alpha \sum_{j \in N^{ZR}_u} \hat r_{uj}^2\Big].

:math:`J^G` uses the *non-saturating* form :math:`-\log D(\cdot)` of the generator loss
that Goodfellow et al. recommend (and CFGAN's public code uses) instead of
:math:`\log(1 - D(\cdot))`, whose gradient vanishes while :math:`D` is winning. The
recommendation score of item :math:`j` for user :math:`u` is :math:`\hat r_{uj}`.

Ablation: ``adversarial=False`` replaces the adversarial term by the squared error
that it approximates, :math:`\lVert (e_u - \hat r_u) \odot (e_u + k_u) \rVert^2`
(purchased entries pulled to 1, the PM negatives to 0), keeps the ZR term and trains
no discriminator. What is left is a plain (non-denoising) autoencoder of the purchase
vector with sampled negatives, which shows what the adversary contributes.

Notation and shape letters: ``U`` training users, ``I`` training items, ``B`` users in
a batch, ``Z`` noise dimensions.

References
----------
.. [1] D.-K. Chae, J.-S. Kang, S.-W. Kim and J.-T. Lee, "CFGAN: A Generic Collaborative
   Filtering Framework based on Generative Adversarial Networks", CIKM 2018, 137-146.
   doi:10.1145/3269206.3271743
.. [2] I. Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.
.. [3] M. Mirza and S. Osindero, "Conditional Generative Adversarial Nets", arXiv:1411.1784, 2014.
.. [4] J. Wang et al., "IRGAN: A Minimax Game for Unifying Generative and Discriminative
   Information Retrieval Models", SIGIR 2017.
.. [5] F. B. Pérez Maurera, M. Ferrari Dacrema and P. Cremonesi, "An Evaluation Study of
   Generative Adversarial Networks for Collaborative Filtering", ECIR 2022.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._validation import (
    _LOOP_INTS,
    _check_fields,
    _is_number,
    _make_config,
)
from .training import ImplicitRecommender, _nonfinite_loss, seed_everything

__all__ = [
    "CFGAN",
    "CFGANConfig",
    "CFGANDiscriminator",
    "CFGANGenerator",
    "discriminator_loss",
    "generator_loss",
    "sample_negative_mask",
]


def _mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of the given widths with a ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class CFGANGenerator(nn.Module):
    r"""The generator :math:`\hat r_u = \sigma(\text{MLP}([c_u; z]))`, a vector in :math:`(0, 1)^I`.

    Parameters
    ----------
    n_items : int
        ``I``, the length of the condition and of the output.
    hidden : tuple of int
        Hidden widths (ReLU between layers); ``()`` is a single linear layer.
    noise_dim : int
        ``Z``; 0 (CFGAN's setting) means no noise: :math:`G` is then a deterministic
        function of the condition.

    Shapes
    ------
    forward(c, z) : (B, I), (B, Z) or None -> (B, I).

    Examples
    --------
    >>> r_hat = CFGANGenerator(n_items=5, hidden=(4,))(torch.zeros(2, 5))
    >>> r_hat.shape, bool(((r_hat > 0) & (r_hat < 1)).all())
    (torch.Size([2, 5]), True)
    """

    def __init__(self, n_items: int, hidden: tuple[int, ...] = (128,), noise_dim: int = 0):
        super().__init__()
        self.n_items, self.noise_dim = n_items, noise_dim
        self.net = _mlp([n_items + noise_dim, *hidden, n_items])

    def forward(self, c: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        if self.noise_dim:
            if z is None:  # scoring: the noise's mean
                z = c.new_zeros(c.shape[0], self.noise_dim)  # (B, Z)
            c = torch.cat([c, z], dim=1)  # (B, I + Z)
        return torch.sigmoid(self.net(c))  # (B, I)


class CFGANDiscriminator(nn.Module):
    r"""The conditional discriminator: a logit :math:`\text{MLP}([r; c_u])`, :math:`D = \sigma(\text{logit})`.

    Shapes
    ------
    forward(r, c) : (B, I), (B, I) -> (B,) logits.

    Examples
    --------
    >>> CFGANDiscriminator(n_items=5, hidden=(4,))(torch.zeros(2, 5), torch.zeros(2, 5)).shape
    torch.Size([2])
    """

    def __init__(self, n_items: int, hidden: tuple[int, ...] = (64,)):
        super().__init__()
        self.net = _mlp([2 * n_items, *hidden, 1])

    def forward(self, r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([r, c], dim=1)).squeeze(-1)  # (B,)


def sample_negative_mask(purchased: torch.Tensor, ratio: float, generator: torch.Generator) -> torch.Tensor:
    r"""A random subset of each row's non-purchased items: each kept with probability ``ratio``.

    .. math:: m_{uj} = [\,e_{uj} = 0\,] \cdot [\,\xi_{uj} < \rho\,], \qquad \xi_{uj} \sim \mathcal{U}(0, 1) \text{ i.i.d.}

    so a user with :math:`|\bar e_u|` non-purchased items gets :math:`\rho |\bar e_u|` of
    them on average, each equally likely, and never a purchased one. This is how CFGAN
    draws both its ZR set :math:`N^{ZR}_u` and its PM set :math:`k_u` (the paper samples
    "a portion" of the unpurchased items). Independent draws cost one uniform number per
    entry; drawing an exact count per row (a sort of random keys) was ten times slower
    and made the epoch a third slower on ML-100K.

    Parameters
    ----------
    purchased : bool tensor of shape (B, I)
    ratio : float in [0, 1]
    generator : torch.Generator (CPU); the uniforms are drawn on the CPU so that CPU and
        GPU runs sample the same masks.

    Returns
    -------
    bool tensor of shape (B, I), on ``purchased``'s device, False wherever ``purchased`` is True.

    Examples
    --------
    >>> e = torch.tensor([[True, False, False, False], [False, False, True, True]])
    >>> m = sample_negative_mask(e, 0.5, torch.Generator().manual_seed(0))
    >>> m.shape, bool((m & e).any())
    (torch.Size([2, 4]), False)
    """
    if not (_is_number(ratio) and 0 <= ratio <= 1):
        raise ValueError(f"ratio must lie in [0, 1], got {ratio!r}")
    xi = torch.rand(purchased.shape, generator=generator).to(purchased.device)  # (B, I)
    return (xi < ratio) & ~purchased.bool()  # (B, I)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    r""":math:`-\frac{1}{B}\sum_u [\log D(e_u|c_u) + \log(1 - D(\hat r_u \odot (e_u + k_u)|c_u))]` from logits.

    Shapes: (B,), (B,) -> scalar.

    Examples
    --------
    >>> round(discriminator_loss(torch.zeros(2), torch.zeros(2)).item(), 4)   # 2 log 2
    1.3863
    """
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fake_logits: torch.Tensor, r_hat: torch.Tensor, zr_mask: torch.Tensor, alpha: float) -> torch.Tensor:
    r"""Non-saturating adversarial loss plus zero reconstruction, averaged over the batch.

    .. math:: \frac{1}{B}\sum_u \Big[-\log D(\hat r_u \odot (e_u + k_u) \mid c_u)
              + \alpha \sum_{j} m^{ZR}_{uj}\, \hat r_{uj}^2\Big]

    Shapes: fake_logits (B,), r_hat (B, I), zr_mask (B, I) -> scalar.

    Examples
    --------
    >>> round(generator_loss(torch.zeros(1), torch.ones(1, 3), torch.ones(1, 3), alpha=0.1).item(), 4)
    0.9931
    """
    adv = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    return adv + alpha * _zr_term(r_hat, zr_mask)


def _zr_term(r_hat: torch.Tensor, zr_mask: torch.Tensor) -> torch.Tensor:
    """:math:`\\frac{1}{B}\\sum_u \\sum_j m_{uj} \\hat r_{uj}^2`; shapes (B, I), (B, I) -> scalar."""
    return (r_hat.pow(2) * zr_mask).sum(1).mean()


@dataclass(frozen=True)
class CFGANConfig:
    r"""Settings of :class:`CFGAN`; every default says why.

    Tuned on the validation part of ``ratio_split_by_user(ML-100K, (0.8, 0.1, 0.1),
    seed=0)`` (never on its test part), early stopping on that part's NDCG@10, one
    change at a time from the starting point ``g_hidden=(128,), d_hidden=(64,), g_steps=1,
    pm_ratio=zr_ratio=0.7, alpha=1, batch_size=128, lr 1e-3``, 60 epochs (80 for the last
    rows). Best validation NDCG@10 (BPR-MF, for scale: 0.254):

    ====================================================  ==========================
    setting                                               best valid NDCG@10
    ====================================================  ==========================
    starting point                                         0.179
    ``alpha=3 / 10``                                       0.143 / 0.117
    ``alpha=0.1``, nets 256/128, batch 64, 30 epochs       0.095
    ``g_hidden=(256,), d_hidden=(128,)``                  0.150
    ``lr_g=lr_d=1e-4``, nets 256/128, ``alpha=0.1``        0.129
    ``lr_d=1e-4`` / ``lr_g=lr_d=3e-3``                     0.111 / 0.151
    ``d_steps=2`` / ``g_steps=2`` / ``g_steps=4``          0.151 / 0.219 / 0.223
    ``noise_dim=32``                                      0.157
    ``g_steps=2, pm_ratio=zr_ratio=0.3``                  0.249
    ``g_steps=2, pm_ratio=zr_ratio=0.1`` (the defaults)   0.264
    ``g_steps=2, pm_ratio=zr_ratio=0.03``                 0.255
    ``g_steps=1, pm_ratio=zr_ratio=0.1``                  0.248
    defaults with ``alpha=0.3 / 3``                       0.262 / 0.262
    defaults, ``adversarial=False`` (the ablation)        0.259
    ====================================================  ==========================

    Attributes
    ----------
    g_hidden : tuple of int
        (128,): one hidden layer, as in CFGAN's code; (256,) validated worse (0.150 against
        0.179) and is twice as slow.
    d_hidden : tuple of int
        (64,): the discriminator's hidden widths, half the generator's.
    noise_dim : int
        0: CFGAN's published setting (the condition alone); 32 noise inputs validated
        slightly worse. Pérez Maurera et al. (2022) show that without noise :math:`G`
        can behave as an autoencoder of its condition.
    lr_g, lr_d : float
        1e-3: Adam's steps. 1e-4 (CFGAN's code) learns too slowly for a 100-epoch budget;
        a slower :math:`D` alone (``lr_d=1e-4``) starves :math:`G` of signal (0.111);
        3e-3 oscillates.
    reg_g, reg_d : float
        0.0: L2 weight decay (Adam's ``weight_decay``); early stopping regularises.
    g_steps, d_steps : int
        2 and 1: passes over all users per epoch for :math:`G` and for :math:`D` (CFGAN's
        ``step_G``, ``step_D``). The discriminator wins easily on sparse 0/1 vectors; a
        second generator pass per epoch validated far better (0.219 against 0.179), a
        second discriminator pass worse (0.151).
    zr_ratio, pm_ratio : float
        0.1: probability that a non-purchased item joins the ZR / PM set of a batch
        (:func:`sample_negative_mask`). Smaller sets than the 0.7 we started from
        validated much better (0.7 / 0.3 / 0.1 / 0.03: 0.219 / 0.249 / 0.264 / 0.255 with
        ``g_steps=2``): fewer unbought films pushed to 0 per step leaves room to rank them.
    alpha : float
        1.0: weight :math:`\alpha` of the ZR term; 0.1, 3 and 10 validated worse at the
        0.7 ratios; at the default ratios 0.3 and 3 tie with 1 (0.262 against 0.264).
    adversarial : bool
        True: CFGAN. False: the ablation without :math:`D` (module notes).
    num_epochs : int
        100: the upper bound; with the defaults the validation NDCG plateaus from about
        epoch 55 and early stopping ends training.
    batch_size : int
        128 users per step: 8 steps per ML-100K pass.
    eval_every : int
        5: one validation ranking (about 0.1 s on ML-100K) per five epochs.
    patience : int
        4: evaluations (20 epochs) without improvement before stopping; the adversarial
        game makes the validation curve noisier than BPR-MF's.
    k : int
        10: the list length of the validation NDCG.
    seed : int
        0: initial weights, masks, noise and batch order are reproducible.
    device : str or None
        None: :func:`~recfeat_ref.training.get_device` chooses.
    progress : bool
        True: a tqdm bar over epochs.
    cpu_threads : int or None
        1: torch threads during ``fit`` on the CPU, as in :class:`~recfeat_ref.mf.BPRConfig`.

    Examples
    --------
    >>> cfg = CFGANConfig(noise_dim=8)
    >>> cfg.noise_dim, cfg.g_hidden, cfg.zr_ratio
    (8, (128,), 0.1)
    >>> CFGANConfig(zr_ratio=1.5)
    Traceback (most recent call last):
    ...
    ValueError: zr_ratio must lie in [0, 1], got 1.5
    """

    g_hidden: tuple[int, ...] = (128,)  # one hidden layer; (256,) validated worse
    d_hidden: tuple[int, ...] = (64,)
    noise_dim: int = 0  # CFGAN's setting
    lr_g: float = 1e-3  # Adam
    lr_d: float = 1e-3
    reg_g: float = 0.0  # early stopping regularises
    reg_d: float = 0.0
    g_steps: int = 2  # D wins easily; G needs two passes per D pass
    d_steps: int = 1
    zr_ratio: float = 0.1  # tuned (table above)
    pm_ratio: float = 0.1
    alpha: float = 1.0  # ZR weight
    adversarial: bool = True
    num_epochs: int = 100  # upper bound; plateau from about epoch 55
    batch_size: int = 128
    eval_every: int = 5
    patience: int = 4  # evaluations
    k: int = 10
    seed: int = 0
    device: str | None = None
    progress: bool = True
    cpu_threads: int | None = 1

    def __post_init__(self):
        for name in ("g_hidden", "d_hidden"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or not all(isinstance(h, (int, np.integer)) and not isinstance(h, bool) and h >= 1 for h in value):
                raise ValueError(f"{name} must be a tuple of positive ints, got {value!r}")
        if not isinstance(self.noise_dim, (int, np.integer)) or isinstance(self.noise_dim, bool) or self.noise_dim < 0:
            raise ValueError(f"noise_dim must be a non-negative int, got {self.noise_dim!r}")
        for name in ("zr_ratio", "pm_ratio"):
            value = getattr(self, name)
            if not (_is_number(value) and 0 <= value <= 1):
                raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
        _check_fields(self, ("g_steps", "d_steps", *_LOOP_INTS), positive=("lr_g", "lr_d"),
                      non_negative=("reg_g", "reg_d", "alpha"), flags=("adversarial", "progress"))


class CFGAN(ImplicitRecommender):
    r"""CFGAN (Chae et al., 2018), ZP scheme: a conditional GAN over users' purchase vectors.

    .. math::
        \hat r_u = G(e_u), \qquad
        J^G = \sum_u -\log D(\hat r_u \odot (e_u + k_u) \mid e_u)
              + \alpha \sum_{j \in N^{ZR}_u} \hat r_{uj}^2

    and :math:`D` is trained to tell :math:`e_u` from the masked :math:`\hat r_u` (module
    notes). Every training row is a purchase (ratings, if present, are ignored). Each
    epoch makes ``d_steps`` passes over the users training :math:`D`, then ``g_steps``
    passes training :math:`G`, in shuffled batches, with fresh PM and ZR sets
    (:func:`sample_negative_mask`) for every batch.

    Early stopping: pass held-out positives as ``fit(train, valid=...)``, as for
    :class:`~recfeat_ref.mf.BPRMF`. Every ``eval_every`` epochs the validation NDCG@k is
    computed by :func:`~recfeat_ref.recommender.evaluate_topn`; after ``patience``
    evaluations without improvement training stops and the best weights of :math:`G`
    are restored. Without ``valid``, all ``num_epochs`` run. The loop is
    :class:`~recfeat_ref.training.ImplicitRecommender`'s; the epoch is CFGAN's.

    Parameters
    ----------
    config : CFGANConfig, optional
    **params
        Fields of :class:`CFGANConfig` that override ``config``.
    user_col, item_col : str
        Column names (keyword only).

    Attributes
    ----------
    generator_, discriminator_ : CFGANGenerator, CFGANDiscriminator or None
        The trained networks on the CPU (``discriminator_`` is None when ``adversarial=False``).
    purchases_ : torch.Tensor of shape (U, I)
        The 0/1 training purchase vectors, the generator's conditions.
    mean_scores_ : ndarray of shape (I,)
        The mean generated row over training users, the fallback for unseen users.
    history_ : pandas.DataFrame
        One row per epoch: ``epoch``, ``g_loss`` (:math:`J^G` per user, ZR term
        included), ``zr_loss`` (the ZR sum per user, unweighted), ``d_loss``
        (:math:`J^D` per user), ``d_real`` and ``d_fake`` (mean :math:`D` output on real
        and on masked generated vectors during the epoch's :math:`D` passes), ``seconds``,
        and ``valid_ndcg_at_k`` / ``valid_recall_at_k`` on evaluated epochs (NaN
        elsewhere). The :math:`D` columns are NaN when ``adversarial=False``.
    best_epoch_ : int
        The epoch whose generator was kept (the last one without ``valid``).

    Notes
    -----
    *Scores.* :math:`\hat r_{uj} = G(e_u)_j` (the noise, if any, at its mean 0).

    *Unseen users and items.* An unseen user is scored as the *average training user*,
    the mean generated row :math:`\frac{1}{U}\sum_u G(e_u)` (``mean_scores_``), a learned
    popularity on the model's own scale, like :class:`~recfeat_ref.mf.BPRMF`'s fallback.
    The alternative, feeding the empty history :math:`G(0)`, asks the generator about an
    input it never saw in training: ranking the 8:1:1 test users of ML-100K *as if* they
    were unseen gave NDCG@10 0.022 with :math:`G(0)`, 0.133 with the average row and
    0.145 with raw popularity counts (0.318 with their own rows). An unseen item has no
    output unit; it is scored as the average item, the mean of the user's row.

    *Results on ML-100K* (``ratio_split_by_user(ratings, (0.8, 0.1, 0.1), seed=0)``,
    ``fit(train, valid=valid)``, test lists exclude training and validation items):
    ``CFGAN(progress=False)`` reaches test NDCG@10 0.318 and Recall@10 0.265 (best epoch
    80 of 100, 25 s of CPU time on one thread); the ablation ``adversarial=False`` 0.317
    and 0.263 (best epoch 25, 6 s); BPR-MF 0.305 and 0.250; popularity 0.145. The
    adversary adds nothing measurable over its ablation (the book's CFGAN chapter pairs
    two seeds).

    Shapes
    ------
    predict(df) : (len(df),) float64; score_items(users) : (len(users), I) float64.

    Examples
    --------
    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [1, 2, 2, 3]})
    >>> model = CFGAN(g_hidden=(4,), d_hidden=(4,), num_epochs=2, progress=False, device="cpu").fit(train)
    >>> model.score_items([1, 2]).shape
    (2, 3)
    >>> list(model.history_.columns[:4])
    ['epoch', 'g_loss', 'zr_loss', 'd_loss']
    """

    def __init__(self, config: CFGANConfig | None = None, *, user_col: str | None = None,
                 item_col: str | None = None, **params):
        kwargs = {k: v for k, v in (("user_col", user_col), ("item_col", item_col)) if v is not None}
        super().__init__(**kwargs)
        self.config = _make_config(CFGANConfig, config, params)

    def _train(self, users, items, device):
        cfg = self.config
        purchases = torch.zeros(self.n_users_, self.n_items_)  # (U, I)
        purchases[torch.as_tensor(users), torch.as_tensor(items)] = 1.0
        self.purchases_ = purchases
        E = purchases.to(device)  # (U, I)
        E_bool = E.bool()

        seed_everything(cfg.seed)
        G = CFGANGenerator(self.n_items_, cfg.g_hidden, cfg.noise_dim).to(device)
        D = CFGANDiscriminator(self.n_items_, cfg.d_hidden).to(device) if cfg.adversarial else None
        opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, weight_decay=cfg.reg_g)
        opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, weight_decay=cfg.reg_d) if D is not None else None
        gen = torch.Generator().manual_seed(cfg.seed)
        n = self.n_users_
        self.generator_, self.discriminator_ = G, D  # scored by the validation ranking

        def batches():
            perm = torch.randperm(n, generator=gen).to(device)
            for lo in range(0, n, cfg.batch_size):
                yield perm[lo : lo + cfg.batch_size]  # (B,)

        def noise(b):
            if not cfg.noise_dim:
                return None
            return torch.randn(b, cfg.noise_dim, generator=gen).to(device)  # (B, Z)

        def epoch(epoch_no):
            G.train()
            d_row = {"d_loss": math.nan, "d_real": math.nan, "d_fake": math.nan}
            if D is not None:  # --- D passes: real e_u against masked G(e_u)
                d_sum, real_sum, fake_sum = 0.0, 0.0, 0.0
                for _ in range(cfg.d_steps):
                    for idx in batches():
                        e, e_bool = E[idx], E_bool[idx]  # (B, I)
                        pm = sample_negative_mask(e_bool, cfg.pm_ratio, gen).float()  # (B, I)
                        with torch.no_grad():
                            fake = G(e, noise(len(idx))) * (e + pm)  # (B, I)
                        real_logits, fake_logits = D(e, e), D(fake, e)  # (B,) each
                        loss = discriminator_loss(real_logits, fake_logits)
                        opt_d.zero_grad(set_to_none=True)
                        loss.backward()
                        opt_d.step()
                        value = float(loss.detach())
                        if not math.isfinite(value):
                            raise _nonfinite_loss(value, epoch_no, None, None, " (the discriminator's loss)")
                        d_sum += value * len(idx)
                        real_sum += float(torch.sigmoid(real_logits.detach()).sum())
                        fake_sum += float(torch.sigmoid(fake_logits.detach()).sum())
                seen = cfg.d_steps * n
                d_row = {"d_loss": d_sum / seen, "d_real": real_sum / seen, "d_fake": fake_sum / seen}
            g_sum, zr_sum = 0.0, 0.0  # --- G passes
            for _ in range(cfg.g_steps):
                for idx in batches():
                    e, e_bool = E[idx], E_bool[idx]  # (B, I)
                    pm = sample_negative_mask(e_bool, cfg.pm_ratio, gen).float()  # (B, I)
                    zr = sample_negative_mask(e_bool, cfg.zr_ratio, gen).float()  # (B, I)
                    r_hat = G(e, noise(len(idx)))  # (B, I)
                    keep = e + pm  # (B, I) entries D sees: purchases and the PM negatives
                    if D is not None:
                        loss = generator_loss(D(r_hat * keep, e), r_hat, zr, cfg.alpha)
                    else:  # ablation: the squared error the adversary stands in for
                        loss = ((e - r_hat).pow(2) * keep).sum(1).mean() + cfg.alpha * _zr_term(r_hat, zr)
                    opt_g.zero_grad(set_to_none=True)
                    loss.backward()
                    opt_g.step()
                    value = float(loss.detach())
                    if not math.isfinite(value):
                        raise _nonfinite_loss(value, epoch_no, None, None, " (the generator's loss)")
                    g_sum += value * len(idx)
                    zr_sum += float(_zr_term(r_hat.detach(), zr)) * len(idx)
            return {"g_loss": g_sum / (cfg.g_steps * n), "zr_loss": zr_sum / (cfg.g_steps * n), **d_row}

        self._run_epochs(epoch, G, lambda: None)  # the generator is scored as it is: nothing to export
        self.generator_ = G.cpu().eval()
        self.discriminator_ = D.cpu().eval() if D is not None else None
        self.mean_scores_ = self._generate(self.purchases_).mean(0)  # (I,) the average training user

    # -- Recommender ---------------------------------------------------------------
    def _generate(self, conditions: torch.Tensor) -> np.ndarray:
        G = self.generator_
        was_training = G.training
        G.eval()
        device = next(G.parameters()).device
        with torch.no_grad():
            out = torch.cat([G(conditions[lo : lo + 1024].to(device)).cpu()
                             for lo in range(0, len(conditions), 1024)])  # (len, I)
        G.train(was_training)
        return out.double().numpy()

    def _score(self, users, items):
        uniq, pos = np.unique(users, return_inverse=True)
        return self._score_all(uniq)[pos, items]  # one generator pass per distinct user

    def _score_all(self, users):
        return self._generate(self.purchases_[torch.as_tensor(users, dtype=torch.int64)])  # (len(users), I)

    def _fallback(self, users, items):
        out = np.empty(len(users), dtype=np.float64)
        for u in np.unique(users):
            rows = users == u
            scores = self._score_all(np.array([u]))[0] if u >= 0 else self.mean_scores_  # (I,)
            it = items[rows]
            out[rows] = np.where(it >= 0, scores[np.maximum(it, 0)], scores.mean())
        return out
