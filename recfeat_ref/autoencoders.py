r"""Autoencoder recommenders: I-AutoRec for ratings; Mult-DAE and Mult-VAE for top-N.

=================  =================================  ===========================================
model              input                              loss
=================  =================================  ===========================================
:class:`IAutoRec`  an item's rating column (U,)       squared error on observed ratings
:class:`MultDAE`   a user's binary row (I,), dropout  multinomial log-likelihood (softmax over I)
:class:`MultVAE`   a user's binary row (I,), dropout  multinomial likelihood + beta * KL (ELBO)
=================  =================================  ===========================================

The bottlenecks are features: :meth:`IAutoRec.encode_items` (item codes),
``MultDAE.encode_users`` / ``MultVAE.encode_users`` (user codes; the posterior mean
for the VAE), and ``item_embeddings_`` (rows of the output layer) for the top-N models.
The top-N models are described in their class docstrings (Liang et al., 2018); the
notes below are about I-AutoRec.

An autoencoder learns to reproduce its input through a narrow hidden layer. AutoRec
feeds it *partially observed* rating vectors: in the item-based variant (I-AutoRec)
the input of item :math:`i` is its column of the rating matrix,
:math:`r_i \in \mathbb{R}^{U}`, with a 0 for every user who did not rate it. The
network rebuilds the whole vector, and the rebuilt entries of the users who did not
rate :math:`i` are the predictions:

.. math::
    h(r; \theta) = f\big(W\, g(V r + \mu) + b\big), \qquad
    \hat r_{ui} = h(r_i; \theta)_u,

with :math:`V \in \mathbb{R}^{H \times U}, \mu \in \mathbb{R}^{H}` (encoder),
:math:`W \in \mathbb{R}^{U \times H}, b \in \mathbb{R}^{U}` (decoder), :math:`g` the
sigmoid and :math:`f` the identity. Only *observed* ratings enter the loss:

.. math::
    \min_\theta \sum_{i=1}^{I} \big\lVert (r_i - h(r_i; \theta)) \odot m_i \big\rVert^2
    + \frac{\lambda}{2} \big(\lVert W \rVert_F^2 + \lVert V \rVert_F^2\big),

where :math:`m_i \in \{0, 1\}^U` marks the users who rated :math:`i` (the paper writes
:math:`\lVert \cdot \rVert_{\mathcal{O}}^2`). The mask matters: without it the
network would learn to predict 0 for every missing rating. An unobserved entry
reaches the network only as a 0 in the input, and never as a target.

Why item-based: the user-based variant (U-AutoRec), which encodes users' rating
vectors instead, did worse in the paper (ML-1M RMSE 0.874 against 0.831). It does
here too: the same network on the transposed matrix, with the settings below (not
re-tuned), scored 0.935 on the inner validation split of :class:`IAutoRecConfig`
against 0.884.

Notation and shape letters: ``U`` training users, ``I`` training items, ``H`` hidden
units, ``B`` items in a batch.

Training
--------
:class:`~recfeat_ref.training.Trainer` trains the network on rows of the dense
:math:`(I, U)` matrix. The trainer passes ``(output, target)`` to its loss and knows
nothing of masks, so the *target carries its mask*: it is the stack
``(ratings, mask)`` of shape ``(I, 2, U)``, and :class:`_AutoRecObjective` takes it
apart. A batch of ``B`` items estimates the objective divided by :math:`I`,

.. math::
    L_{\text{batch}} = \frac{1}{B} \sum_{i \in \text{batch}}
    \big\lVert (r_i - h(r_i)) \odot m_i \big\rVert^2
    + \frac{\lambda}{2I} \big(\lVert W \rVert_F^2 + \lVert V \rVert_F^2\big),

so :math:`\lambda` keeps the paper's meaning whatever the batch size. (Rprop, which
follows signs, and Adam, which divides by the gradient's scale, are insensitive to a
constant factor on the loss, so the division by :math:`I` only rescales the reported
loss.)

The paper trained with L-BFGS or Rprop on the full objective. The default here is
Rprop (Riedmiller and Braun, 1993) on full batches: one step per epoch, each weight
moving by its own step size against the sign of its gradient, the step growing
(x1.2) while that sign holds and shrinking (x0.5) when it flips. It validated better than
Adam on mini-batches of items, and is deterministic (no batch order). Adam is
available (``optimizer="adam"`` with a ``batch_size``) and compared in
:class:`IAutoRecConfig`.

References
----------
.. [1] S. Sedhain, A. K. Menon, S. Sanner and L. Xie, "AutoRec: Autoencoders Meet
   Collaborative Filtering", WWW 2015 (Companion), 111-112. doi:10.1145/2740908.2742726
.. [2] M. Riedmiller and H. Braun, "A Direct Adaptive Method for Faster Backpropagation
   Learning: the RPROP Algorithm", IEEE ICNN 1993.
.. [3] D. Liang, R. G. Krishnan, M. D. Hoffman and T. Jebara, "Variational Autoencoders for
   Collaborative Filtering", WWW 2018, 689-698. doi:10.1145/3178876.3186150
.. [4] Y. Wu, C. DuBois, A. X. Zheng and M. Ester, "Collaborative Denoising Auto-Encoders
   for Top-N Recommender Systems", WSDM 2016, 153-162. doi:10.1145/2835776.2835837
.. [5] D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import nn

from . import DEFAULT_ITEM_COL, DEFAULT_RATING_COL, DEFAULT_USER_COL, metrics
from ._validation import (
    _LOOP_INTS,
    DataValidationError,
    _check_fields,
    _check_non_negative,
    _check_positive,
    _check_positive_int,
    _check_seed,
    _is_number,
    _make_config,
)
from .baselines import BiasBaseline
from .recommender import Recommender
from .training import (
    ImplicitRecommender,
    TrainConfig,
    Trainer,
    seed_everything,
)

__all__ = [
    "ACTIVATIONS",
    "OPTIMIZERS",
    "AutoRecNet",
    "IAutoRec",
    "IAutoRecConfig",
    "masked_sse",
    "MultDAE",
    "MultDAEConfig",
    "MultDAENet",
    "MultVAE",
    "MultVAEConfig",
    "MultVAENet",
    "gaussian_kl",
    "kl_beta",
    "multinomial_nll",
]

#: Hidden activations :math:`g` by name; the paper's is the sigmoid.
ACTIVATIONS = {"sigmoid": torch.sigmoid, "identity": lambda x: x, "relu": torch.relu, "tanh": torch.tanh}

#: Optimisers by name: ``factory(params, lr) -> torch.optim.Optimizer``.
OPTIMIZERS = {
    "adam": lambda params, lr: torch.optim.Adam(params, lr=lr),
    "rprop": lambda params, lr: torch.optim.Rprop(params, lr=lr),
}


def masked_sse(output: torch.Tensor, ratings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""Squared error on the observed entries, summed per row and averaged over rows.

    .. math:: \frac{1}{B} \sum_{b=1}^{B} \sum_{u} m_{bu} (r_{bu} - \hat r_{bu})^2

    Entries with ``mask == 0`` contribute nothing to the value *or* the gradient, whatever
    ``ratings`` holds there (even NaN): they are selected out with :func:`torch.where`,
    not multiplied by 0.

    Shapes: output, ratings, mask (B, U) -> scalar. ``mask`` is boolean or 0/1.

    Examples
    --------
    >>> mask = torch.tensor([[True, False]])   # the NaN entry is unobserved
    >>> masked_sse(torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, float("nan")]]), mask).item()
    4.0
    """
    if not (output.shape == ratings.shape == mask.shape):
        raise ValueError(
            f"output, ratings and mask must have the same shape, got {tuple(output.shape)}, "
            f"{tuple(ratings.shape)} and {tuple(mask.shape)}"
        )
    err = torch.where(mask.bool(), output - ratings, output.new_zeros(()))  # (B, U)
    return err.pow(2).sum() / output.shape[0]


class AutoRecNet(nn.Module):
    r"""The AutoRec network :math:`h(r) = f(W g(V r + \mu) + b)` with :math:`f` the identity.

    Parameters
    ----------
    n_inputs : int
        Length of an input vector: ``U`` users for item-based AutoRec.
    hidden_dim : int
        ``H``, the size of the code :math:`g(V r + \mu)`.
    activation : str
        :math:`g`, a key of :data:`ACTIVATIONS`.

    Shapes
    ------
    forward(r) : (B, U) -> (B, U); encode(r) : (B, U) -> (B, H);
    ``encoder.weight`` is :math:`V` (H, U), ``decoder.weight`` is :math:`W` (U, H).

    Examples
    --------
    >>> net = AutoRecNet(n_inputs=3, hidden_dim=2)
    >>> net(torch.zeros(4, 3)).shape, net.encode(torch.zeros(4, 3)).shape
    (torch.Size([4, 3]), torch.Size([4, 2]))
    """

    def __init__(self, n_inputs: int, hidden_dim: int, activation: str = "sigmoid"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.activation = activation
        self.encoder = nn.Linear(n_inputs, hidden_dim)  # V (H, U), mu (H,)
        self.decoder = nn.Linear(hidden_dim, n_inputs)  # W (U, H), b (U,)

    def encode(self, r: torch.Tensor) -> torch.Tensor:
        """The code :math:`g(V r + \\mu)`, shape (B, H)."""
        return ACTIVATIONS[self.activation](self.encoder(r))  # (B, H)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(r))  # (B, U); f = identity

    def weight_penalty(self) -> torch.Tensor:
        r""":math:`\lVert W \rVert_F^2 + \lVert V \rVert_F^2` (the biases are not penalised, as in the paper)."""
        return self.encoder.weight.pow(2).sum() + self.decoder.weight.pow(2).sum()

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}"


class _AutoRecObjective:
    r"""``loss_fn(output, target)`` for the Trainer: :func:`masked_sse` plus the weight penalty.

    ``target`` stacks the ratings and the mask, shape (B, 2, U). While the network
    trains, :math:`\frac{\lambda}{2I}(\lVert W\rVert^2 + \lVert V\rVert^2)` is added (module
    notes); in evaluation mode the loss is the plain masked error, so ``valid_loss`` is
    the held-out squared error per item.
    """

    def __init__(self, net: AutoRecNet, reg: float, n_items: int):
        self.net, self.reg, self.n_items = net, reg, n_items

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = masked_sse(output, target[:, 0], target[:, 1])
        if self.net.training and self.reg > 0:
            loss = loss + self.reg / (2 * self.n_items) * self.net.weight_penalty()
        return loss


def _masked_rmse(target: np.ndarray, output: np.ndarray) -> float:
    """RMSE on the entries marked in ``target[:, 1]``; a Trainer metric (NumPy arrays)."""
    mask = target[:, 1] > 0  # (I, U)
    return metrics.rmse(target[:, 0][mask], output[mask])


@dataclass(frozen=True)
class IAutoRecConfig:
    r"""Settings of :class:`IAutoRec`; every default says why.

    Tuned on an inner 90/10 split (``random_split(..., (0.9, 0.1), seed=1)``) of the
    *first 5-fold training part* of ML-100K (``kfold_split(ratings, 5, seed=0)``), never
    on a test fold. RMSE on that inner validation part (predictions clipped):

    ===================================================  ================================
    setting (others at their defaults)                   inner-validation RMSE
    ===================================================  ================================
    defaults (Rprop, ``reg=200``, 100 full-batch steps)   0.884 (fit 10 s)
    ``reg=100 / 150 / 250 / 300``                        0.900 / 0.887 / 0.885 / 0.888
    ``num_epochs=60 / 150``                              0.885 / 0.889
    ``lr=1e-2 / 1e-4`` (Rprop's initial step)            0.885 / 0.884
    ``hidden_dim=250 / 1000``                            0.883 (fit 6 s) / 0.888 (fit 25 s)
    ``activation="identity" / "relu"``                   1.093 / 1.018
    ``optimizer="adam", batch_size=256, lr=1e-3,``       0.888
    ``reg=150, num_epochs=70`` (the best Adam run)
    ``valid_fraction=0.1, num_epochs=300``               0.890 (stopped at epoch 62)
    defaults without clipping                            0.884 (+0.0001)
    ===================================================  ================================

    With Adam, ``reg`` from 1 to 300, ``batch_size`` 64 to 512 and ``lr`` 1e-3 to 3e-3
    were tried (validation curves on the pairs of known users and items): every run
    reaches its best RMSE, 0.884 to 0.90, and then overfits, at an epoch that depends on
    the setting, so its epoch count would need early stopping; ``reg`` of 1000 and more
    underfits (0.95). Full-batch Rprop is flat within 0.0015 from step 60
    to 120 at ``reg=200``. Fit times are on one CPU thread.

    On ML-100K, ``cross_validate_ratings(lambda: IAutoRec(progress=False), ratings,
    n_splits=5, seed=0)`` gives RMSE 0.891 +- 0.002 (MAE 0.701) in about 10 s of
    fitting per fold on one CPU thread; :class:`~recfeat_ref.mf.MFRecommender` gives
    0.910 and :class:`~recfeat_ref.knn.ItemKNN` 0.909 on the same folds.

    Attributes
    ----------
    hidden_dim : int
        500: the paper's size. 250 validated as well (0.883) in 60 % of the time; 1000
        overfits sooner.
    activation : str
        "sigmoid": the paper's :math:`g`; the identity (a linear autoencoder) and ReLU
        validated far worse (table).
    reg : float
        200: :math:`\lambda` of the paper's objective (module notes); 100 overfits by
        step 100, larger values fit less well (300: 0.888; 500: 0.901 at its best step).
    lr : float
        1e-3: for Rprop, the initial step size of every weight (the steps then adapt,
        within [1e-6, 50]); 1e-2 and 1e-4 ended within 0.0015. For Adam, its step.
    num_epochs : int
        100: full-batch Rprop steps; the validation RMSE is flat from 60 to 120 and
        creeps up slowly after (0.889 at 150). About 0.1 s each on ML-100K.
    batch_size : int or None
        None: all items in one batch, which Rprop needs (its sign-based step sizes
        assume the same objective at every step). An int (items per batch) is for Adam.
    optimizer : str
        "rprop": the paper's choice, better on validation than Adam (table) and
        deterministic; "adam" is the other key of :data:`OPTIMIZERS`.
    valid_fraction : float
        0.0: off. A fraction in (0, 1) holds out that share of the training *ratings*
        (a seeded random split of rows, not of items) to early-stop on their squared
        error; they are removed from the input and the target while training, and put
        back into the input for prediction. Losing them cost 0.006 RMSE (table).
    patience : int
        5: epochs without improvement of the validation loss before stopping (only with
        ``valid_fraction > 0``); the full-batch curve is smooth, so 5 is not noise.
    seed : int
        0: initial weights, batch order and the validation split are reproducible.
    device : str or None
        None: :func:`~recfeat_ref.training.get_device` chooses.
    progress : bool
        True: a tqdm bar over epochs (pass False inside cross-validation).

    Examples
    --------
    >>> cfg = IAutoRecConfig(hidden_dim=250)
    >>> cfg.hidden_dim, cfg.reg, cfg.optimizer
    (250, 200.0, 'rprop')
    >>> IAutoRecConfig(activation="gelu")
    Traceback (most recent call last):
    ...
    ValueError: activation must be one of ['identity', 'relu', 'sigmoid', 'tanh'], got 'gelu'
    """

    hidden_dim: int = 500  # the paper's; 250 validated as well in 60 % of the time
    activation: str = "sigmoid"  # the paper's g; identity and ReLU fail here (table)
    reg: float = 200.0  # lambda; tuned (table above)
    lr: float = 1e-3  # Rprop's initial step size
    num_epochs: int = 100  # full-batch steps; the validation RMSE is flat from 60 to 120
    batch_size: int | None = None  # all items: Rprop needs full batches
    optimizer: str = "rprop"  # the paper's; Adam validated worse (table)
    valid_fraction: float = 0.0  # early stopping off: the plateau makes it unnecessary
    patience: int = 5  # epochs, with valid_fraction > 0
    seed: int = 0
    device: str | None = None
    progress: bool = True

    def __post_init__(self):
        for name in ("hidden_dim", "num_epochs", "patience"):
            _check_positive_int(name, getattr(self, name))
        if self.batch_size is not None:
            _check_positive_int("batch_size", self.batch_size)
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        _check_non_negative("reg", self.reg)
        _check_positive("lr", self.lr)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.optimizer == "rprop" and self.batch_size is not None:
            raise ValueError(
                f"optimizer='rprop' needs full batches, got batch_size={self.batch_size!r}: "
                "leave batch_size=None, or use optimizer='adam' for mini-batches"
            )
        if not (_is_number(self.valid_fraction) and 0 <= self.valid_fraction < 1):
            raise ValueError(f"valid_fraction must lie in [0, 1), got {self.valid_fraction!r}")
        _check_seed(self.seed)
        if not isinstance(self.progress, bool):
            raise ValueError(f"progress must be True or False, got {self.progress!r}")


class IAutoRec(Recommender):
    r"""Item-based AutoRec (Sedhain et al., 2015): an autoencoder over items' rating vectors.

    .. math::
        \hat r_{ui} = h(r_i)_u = \Big(W \sigma(V r_i + \mu) + b\Big)_u, \qquad
        \min_\theta \sum_i \lVert (r_i - h(r_i)) \odot m_i \rVert^2
        + \frac{\lambda}{2}(\lVert W\rVert_F^2 + \lVert V\rVert_F^2)

    :math:`r_i \in \mathbb{R}^U` holds item :math:`i`'s training ratings (0 where
    missing), :math:`m_i` marks them; see :mod:`recfeat_ref.autoencoders`.

    Parameters
    ----------
    config : IAutoRecConfig, optional
        Defaults when omitted.
    **params
        Fields of :class:`IAutoRecConfig` that override ``config``,
        e.g. ``IAutoRec(hidden_dim=100, progress=False)``.
    user_col, item_col : str
        Column names (keyword only).

    Attributes
    ----------
    model_ : AutoRecNet
        The trained network, on the CPU, in evaluation mode.
    ratings_matrix_ : scipy.sparse.csr_matrix of shape (I, U)
        The training ratings, item rows (a repeated (user, item) pair is averaged).
    scores_ : ndarray of shape (U, I)
        :math:`h(r_i)_u` for every training pair, clipped to ``rating_range_``; what
        :meth:`predict` and :meth:`score_items` read.
    rating_range_ : tuple of float
        The smallest and largest training rating.
    baseline_ : BiasBaseline
        The fallback for unseen ids, fitted on the same training ratings; its ids are
        this model's indices (``0..U-1``, ``0..I-1``), so ``-1`` is unseen to it too.
    history_ : pandas.DataFrame
        The trainer's history; ``train_loss`` includes the penalty; with
        ``valid_fraction > 0``, ``valid_loss`` (held-out squared error per item) and
        ``valid_rmse``.
    best_epoch_ : int
        The epoch whose weights were kept.

    Notes
    -----
    *Prediction input.* Every item is encoded from *all* its training ratings, those
    held out for early stopping included.

    *Clipping.* The identity output is unbounded, so predictions are clipped to the
    range of the training ratings (``rating_range_``, [1, 5] on MovieLens).

    *Unseen users and items.* A user unseen in training has no input coordinate or
    output unit; an item unseen in training would have the all-zero input, so its
    "reconstruction" is the same for every such item and carries no information. Both
    get the :class:`~recfeat_ref.baselines.BiasBaseline` prediction (default
    regularisation): :math:`\mu + b_i` for an unseen user, :math:`\mu + b_u` for an
    unseen item, :math:`\mu` for both, clipped like every prediction. (The paper
    predicted a default rating of 3 instead.)

    Shapes
    ------
    predict(df) : (len(df),) float64; score_items(users) : (len(users), I) float64;
    encode_items() : (I, H) float64.

    Examples
    --------
    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 1, 3], "rating": [5, 3, 4, 2]})
    >>> model = IAutoRec(hidden_dim=8, num_epochs=2, progress=False, device="cpu").fit(train)
    >>> model.predict(pd.DataFrame({"user_id": [1, 9], "item_id": [3, 9]})).shape
    (2,)
    >>> model.encode_items().shape
    (3, 8)
    """

    def __init__(self, config: IAutoRecConfig | None = None, *, user_col: str | None = None,
                 item_col: str | None = None, **params):
        kwargs = {k: v for k, v in (("user_col", user_col), ("item_col", item_col)) if v is not None}
        super().__init__(**kwargs)
        self.config = _make_config(IAutoRecConfig, config, params)

    def _fit(self, users, items, values):
        cfg = self.config
        n = len(values)
        self.rating_range_ = (float(values.min()), float(values.max()))
        self.baseline_ = BiasBaseline().fit(pd.DataFrame(
            {DEFAULT_USER_COL: users, DEFAULT_ITEM_COL: items, DEFAULT_RATING_COL: values}))  # ids = our indices

        order = np.random.default_rng(cfg.seed).permutation(n)
        n_valid = round(cfg.valid_fraction * n)
        if cfg.valid_fraction > 0 and not 1 <= n_valid < n:
            raise DataValidationError(
                f"valid_fraction={cfg.valid_fraction} of {n} training rows leaves "
                f"{n_valid} validation and {n - n_valid} training rows; both need at least 1"
            )
        fit_rows, valid_rows = order[n_valid:], order[:n_valid]
        self.ratings_matrix_ = self._matrix(users, items, values)  # (I, U)
        r_fit = self._matrix(users[fit_rows], items[fit_rows], values[fit_rows])  # (I, U)

        seed_everything(cfg.seed)  # the initial weights
        net = AutoRecNet(self.n_users_, cfg.hidden_dim, cfg.activation)
        train_cfg = TrainConfig(
            num_epochs=cfg.num_epochs, batch_size=cfg.batch_size or self.n_items_, lr=cfg.lr,
            patience=cfg.patience if n_valid else None, seed=cfg.seed, device=cfg.device,
            progress=cfg.progress,
        )
        trainer = Trainer(
            net, _AutoRecObjective(net, cfg.reg, self.n_items_), train_cfg,
            metrics={"rmse": _masked_rmse} if n_valid else None,
            optimizer_factory=lambda params, lr, weight_decay: OPTIMIZERS[cfg.optimizer](params, lr),
        )
        x_fit = self._dense(r_fit)  # (I, U) input: 0 where unobserved
        fit_part = (x_fit, self._stack(r_fit))  # target (I, 2, U)
        valid_part = None
        if n_valid:
            r_valid = self._matrix(users[valid_rows], items[valid_rows], values[valid_rows])
            valid_part = (x_fit, self._stack(r_valid))
        self.history_ = trainer.fit(fit_part, valid_part)
        self.best_epoch_ = trainer.best_epoch_
        self.model_ = net.cpu().eval()
        with torch.no_grad():
            out = self.model_(self._dense(self.ratings_matrix_)).double().numpy()  # (I, U)
        self.scores_ = np.clip(out.T, *self.rating_range_)  # (U, I)

    # -- helpers ---------------------------------------------------------------
    def _matrix(self, users, items, values) -> sp.csr_matrix:
        """Item-by-user CSR matrix of ratings, a repeated pair averaged; shape (I, U)."""
        shape = (self.n_items_, self.n_users_)
        total = sp.csr_matrix((values, (items, users)), shape=shape)  # duplicates are summed
        count = sp.csr_matrix((np.ones(len(values)), (items, users)), shape=shape)
        total.data /= count.data  # same sparsity pattern, same order
        return total

    @staticmethod
    def _dense(r: sp.csr_matrix) -> torch.Tensor:
        return torch.as_tensor(r.toarray(), dtype=torch.float32)  # (I, U)

    @classmethod
    def _stack(cls, r: sp.csr_matrix) -> torch.Tensor:
        mask = r.copy()
        mask.data[:] = 1.0
        return torch.stack([cls._dense(r), cls._dense(mask)], dim=1)  # (I, 2, U): ratings, mask

    # -- Recommender ---------------------------------------------------------------
    def _score(self, users, items):
        return self.scores_[users, items]

    def _score_all(self, users):
        return self.scores_[users]  # (len(users), I)

    def _fallback(self, users, items):
        rows = pd.DataFrame({DEFAULT_USER_COL: users, DEFAULT_ITEM_COL: items})  # indices, -1 = unseen
        return np.clip(self.baseline_.predict(rows), *self.rating_range_)

    # -- item features -----------------------------------------------------------
    def encode_items(self) -> np.ndarray:
        r"""The code :math:`g(V r_i + \mu)` of every training item: shape (I, H), float64.

        Row ``j`` belongs to ``item_ids_[j]``; the input is the item's full training
        rating vector. These are the learned item features used later in the book.
        """
        self._check_fitted()
        with torch.no_grad():
            return self.model_.encode(self._dense(self.ratings_matrix_)).double().numpy()  # (I, H)


# === top-N from implicit feedback: Mult-DAE and Mult-VAE (Liang et al., 2018) ===========


def multinomial_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""Negative multinomial log-likelihood of the rows ``x``, summed over items, averaged over users.

    .. math:: -\frac{1}{B} \sum_{u} \sum_{i} x_{ui} \log \pi_{ui}, \qquad
              \pi_u = \operatorname{softmax}(f_\theta(z_u))

    (Liang et al., 2018, eq. 2, without the multinomial coefficient, which does not
    depend on :math:`\theta`). Computed with :func:`torch.log_softmax`, so a large logit
    cannot overflow. The catalogue competes for one unit of probability mass: raising
    one item's score lowers every other's, which suits ranking.

    Shapes: logits, x (B, I) -> scalar.

    Examples
    --------
    >>> round(float(multinomial_nll(torch.zeros(1, 4), torch.tensor([[1.0, 1.0, 0.0, 0.0]]))), 4)  # 2 log 4
    2.7726
    """
    if logits.shape != x.shape:
        raise ValueError(f"logits and x must have the same shape, got {tuple(logits.shape)} and {tuple(x.shape)}")
    return -(torch.log_softmax(logits, dim=-1) * x).sum(-1).mean()


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r""":math:`\mathrm{KL}\big(\mathcal N(\mu, \operatorname{diag}\sigma^2) \,\|\, \mathcal N(0, I)\big)`, summed over dimensions, averaged over users.

    .. math:: \frac{1}{B} \sum_u \frac{1}{2} \sum_{d} \big(\mu_{ud}^2 + \sigma_{ud}^2 - \log \sigma_{ud}^2 - 1\big)

    The closed form of Kingma and Welling (2014), appendix B, with ``logvar`` the
    log-variance :math:`\log\sigma^2`.

    Shapes: mu, logvar (B, D) -> scalar.

    Examples
    --------
    >>> float(gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)))  # the prior itself
    0.0
    """
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(-1).mean()


def kl_beta(step: int, anneal_steps: int, cap: float) -> float:
    r"""The KL weight after ``step`` updates: :math:`\beta_t = \min(\beta_{\max}, t / T)`.

    Liang et al. (2018, sec. 2.2.2) start at :math:`\beta = 0` (a plain denoising
    autoencoder) and raise :math:`\beta` linearly by :math:`1/T` per update up to the cap
    :math:`\beta_{\max}`, which they choose on validation data.

    Examples
    --------
    >>> [kl_beta(t, anneal_steps=100, cap=0.2) for t in (0, 10, 50)]
    [0.0, 0.1, 0.2]
    """
    return min(float(cap), step / anneal_steps)


def _mlp(dims: tuple[int, ...]) -> nn.ModuleList:
    """Linear layers ``dims[0] -> dims[1] -> ...``, Xavier-initialised, biases ~ N(0, 0.001^2) as in the paper's code."""
    layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
    for layer in layers:
        nn.init.xavier_uniform_(layer.weight)
        nn.init.normal_(layer.bias, std=1e-3)
    return layers


def _run(layers: nn.ModuleList, h: torch.Tensor) -> torch.Tensor:
    """tanh after every layer but the last."""
    for j, layer in enumerate(layers):
        h = layer(h)
        if j < len(layers) - 1:
            h = torch.tanh(h)
    return h


class _InputCorruption(nn.Module):
    r"""Row-wise L2 normalisation, then dropout: :math:`\tilde x_u = \operatorname{dropout}_p(x_u / \lVert x_u \rVert)`.

    Both as in the authors' code. Dropout zeroes each entry with probability :math:`p`
    and scales the rest by :math:`1/(1-p)`, only in training mode. An all-zero row
    stays zero.
    """

    def __init__(self, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(nn.functional.normalize(x, dim=-1))  # (B, I)


class MultDAENet(nn.Module):
    r"""The Mult-DAE network: :math:`\pi_u = \operatorname{softmax}(f_\theta(g_\phi(\tilde x_u)))`.

    Encoder :math:`g_\phi`: ``I -> hidden_dims[0] -> ... -> hidden_dims[-1]``; decoder
    :math:`f_\theta`: the mirror image back to ``I``; tanh after every layer except the
    output (the logits). With ``hidden_dims=(H,)``:
    :math:`f_\theta(g_\phi(x)) = W \tanh(V \tilde x + c) + b`.

    Shapes
    ------
    forward(x) : (B, I) -> logits (B, I); encode(x) : (B, I) -> (B, hidden_dims[-1]).

    Examples
    --------
    >>> net = MultDAENet(n_items=5, hidden_dims=(3,)).eval()
    >>> net(torch.zeros(2, 5)).shape
    torch.Size([2, 5])
    """

    def __init__(self, n_items: int, hidden_dims: tuple[int, ...] = (200,), dropout: float = 0.5):
        super().__init__()
        self.corrupt = _InputCorruption(dropout)
        dims = (n_items, *hidden_dims)
        self.encoder = _mlp(dims)
        self.decoder = _mlp(dims[::-1])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The bottleneck :math:`\\tanh(\\cdot)` code of the (corrupted, in training) rows; (B, d)."""
        return torch.tanh(_run(self.encoder, self.corrupt(x)))  # (B, d)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        return _run(self.decoder, h)  # (B, I) logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def weight_penalty(self) -> torch.Tensor:
        r""":math:`\sum_\ell \lVert W_\ell \rVert_F^2` over every weight matrix (biases are not penalised)."""
        return sum(layer.weight.pow(2).sum() for layer in [*self.encoder, *self.decoder])


class MultVAENet(nn.Module):
    r"""The Mult-VAE network (Liang et al., 2018).

    .. math::
        [\mu_u, \log\sigma^2_u] = g_\phi(\tilde x_u), \qquad
        z_u = \mu_u + \sigma_u \odot \epsilon,\ \epsilon \sim \mathcal N(0, I), \qquad
        \pi_u = \operatorname{softmax}(f_\theta(z_u))

    Encoder ``I -> hidden_dims... -> 2 D`` (the last layer is split into :math:`\mu` and
    :math:`\log\sigma^2`), decoder ``D -> reversed(hidden_dims) -> I``, tanh between
    layers. In evaluation mode the input is not dropped out and :math:`z = \mu`
    (the paper's prediction rule).

    Shapes
    ------
    forward(x) : (B, I) -> (logits (B, I), mu (B, D), logvar (B, D)); encode(x) -> (mu, logvar).

    Examples
    --------
    >>> net = MultVAENet(n_items=5, hidden_dims=(4,), latent_dim=2).eval()
    >>> logits, mu, logvar = net(torch.zeros(2, 5))
    >>> logits.shape, mu.shape
    (torch.Size([2, 5]), torch.Size([2, 2]))
    """

    def __init__(self, n_items: int, hidden_dims: tuple[int, ...] = (600,), latent_dim: int = 200,
                 dropout: float = 0.5):
        super().__init__()
        self.latent_dim = latent_dim
        self.corrupt = _InputCorruption(dropout)
        self.encoder = _mlp((n_items, *hidden_dims, 2 * latent_dim))
        self.decoder = _mlp((latent_dim, *hidden_dims[::-1], n_items))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = _run(self.encoder, self.corrupt(x))  # (B, 2D)
        return out[:, : self.latent_dim], out[:, self.latent_dim :]  # mu, logvar (B, D) each

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return _run(self.decoder, z)  # (B, I) logits

    def forward(self, x: torch.Tensor):
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu  # (B, D)
        return self.decode(z), mu, logvar


def _check_common(cfg) -> None:
    if not (isinstance(cfg.hidden_dims, tuple) and all(isinstance(h, (int, np.integer)) and not isinstance(h, bool)
                                                        and h >= 1 for h in cfg.hidden_dims)):
        raise ValueError(f"hidden_dims must be a tuple of positive ints, got {cfg.hidden_dims!r}")
    if not (_is_number(cfg.dropout) and 0 <= cfg.dropout < 1):
        raise ValueError(f"dropout must lie in [0, 1), got {cfg.dropout!r}")
    _check_fields(cfg, _LOOP_INTS, positive=("lr",), non_negative=("reg",), flags=("progress",))


@dataclass(frozen=True)
class MultDAEConfig:
    r"""Settings of :class:`MultDAE`; every default says why.

    Tuned on the validation part of ``ratio_split_by_user(ML-100K, (0.8, 0.1, 0.1), seed=0)``
    (never on its test part), with early stopping on that part; best validation NDCG@10
    (BPR-MF's best there is 0.254, :class:`~recfeat_ref.mf.BPRConfig`):

    ===============================================  ====================
    setting (others at their defaults)               best NDCG@10 (epoch)
    ===============================================  ====================
    defaults (``hidden_dims=(200,)``)                0.269 (60); fit 9 s
    ``reg=1e-3``                                     0.270 (60)
    ``hidden_dims=(64,)``                            0.264 (110)
    ``hidden_dims=(600, 64)`` (two layers each way)  0.256 (25)
    ===============================================  ====================

    Fit times are CPU seconds on one thread, evaluation included. The validation NDCG
    is noisy by about 0.003 between evaluations, so ``reg=1e-3`` is a tie.

    Attributes
    ----------
    hidden_dims : tuple of int
        (200,): one tanh layer of 200 units, the paper's Mult-DAE (``[I -> 200 -> I]``);
        64 units validated 0.005 lower.
    dropout : float
        0.5: the paper's input dropout; without it the network can copy its input
        (the chapter's exercise shows the loss).
    reg : float
        0.0: :math:`\lambda` on :math:`\sum \lVert W_\ell\rVert_F^2`, added to the
        batch-mean loss; 1e-3 tied (table), so the simpler model is kept.
    lr : float
        1e-3: Adam's step, the paper's.
    batch_size : int
        100 users: 10 updates per epoch on ML-100K's 943 users (the paper's 500 was
        for 100,000+ users and would give 2).
    num_epochs : int
        200: an upper bound; early stopping ended every tuning run by epoch 130.
    eval_every : int
        5: one validation ranking (~0.05 s) per five epochs.
    patience : int
        4: evaluations (20 epochs) without improvement; the curve is noisy by about
        0.003 between evaluations.
    k : int
        10: the list length of the validation NDCG.
    seed : int
        0: initial weights, batch order and dropout masks are reproducible.
    device : str or None
        None: :func:`~recfeat_ref.training.get_device` chooses.
    progress : bool
        True: a tqdm bar over epochs.
    cpu_threads : int or None
        1: as :class:`~recfeat_ref.training.TrainConfig`: torch threads during ``fit`` on the CPU.

    Examples
    --------
    >>> cfg = MultDAEConfig(hidden_dims=(64,))
    >>> cfg.hidden_dims, cfg.dropout
    ((64,), 0.5)
    >>> MultDAEConfig(hidden_dims=())
    Traceback (most recent call last):
    ...
    ValueError: hidden_dims must hold at least one layer size for MultDAE (its code), got ()
    """

    hidden_dims: tuple[int, ...] = (200,)  # the paper's Mult-DAE: I -> 200 -> I
    dropout: float = 0.5  # the paper's
    reg: float = 0.0  # 1e-3 tied (table)
    lr: float = 1e-3  # Adam, the paper's
    batch_size: int = 100  # 10 updates per epoch on 943 users
    num_epochs: int = 200  # upper bound; best epochs 30-110
    eval_every: int = 5  # evaluation < 10 % of the time
    patience: int = 4  # evaluations (20 epochs)
    k: int = 10
    seed: int = 0
    device: str | None = None
    progress: bool = True
    cpu_threads: int | None = 1

    def __post_init__(self):
        _check_common(self)
        if len(self.hidden_dims) == 0:
            raise ValueError("hidden_dims must hold at least one layer size for MultDAE (its code), got ()")


@dataclass(frozen=True)
class MultVAEConfig:
    r"""Settings of :class:`MultVAE`; every default says why.

    Tuned like :class:`MultDAEConfig` on the validation part of the 8:1:1 split of
    ML-100K; best validation NDCG@10 (epoch):

    =================================================================  ====================
    setting (others at the defaults)                                    best NDCG@10 (epoch)
    =================================================================  ====================
    defaults: linear (``hidden_dims=()``), ``latent_dim=200``,          0.274 (125); fit 20 s
    ``beta_cap=0.2``, ``anneal_steps=1000``
    ``beta_cap=0.5`` / ``1.0`` (``patience=40``)                       0.273 (145) / 0.271 (190)
    ``latent_dim=64, beta_cap=0.5``                                    0.269 (180)
    the paper's tanh layer ``hidden_dims=(600,)``, with
    ``latent_dim=64, beta_cap=0.5`` (its best)                          0.267 (50)
    ``(600,)``, ``latent_dim=64``, ``beta_cap=0.3`` / ``1.0``             0.265 (55) / 0.267 (50)
    ``(600,)``, ``latent_dim=32 / 16``, ``beta_cap=0.5``                0.265 / 0.263
    ``(600,)``, ``beta_cap=0.2, anneal_steps=2000``, latent 64/32/16    0.263 / 0.262 / 0.264
    the same with ``lr=5e-4`` (latent 64)                               0.262 (80)
    the same with ``hidden_dims=(1000,)`` / ``(200,)`` (latent 64)      0.261 / 0.251
    the paper's net: ``(600,)``, latent 200, cap 0.2, anneal 2000       0.249 (45)
    the paper's net with ``reg=0.01 / 0.05``                           0.245 / 0.216
    the paper's net with ``dropout=0.7`` / ``lr=3e-4`` / ``batch=50``   0.253 / 0.254 / 0.242
    the paper's net with ``beta_cap=0.5`` / ``1.0`` (anneal 4000)        0.250 / 0.245
    =================================================================  ====================

    On 943 users the linear encoder and decoder (no tanh layer; :math:`\mu_u` and
    :math:`\log\sigma^2_u` are linear in :math:`\tilde x_u`, the logits linear in
    :math:`z_u`) validated best, by more than the noise of about 0.003; the paper's
    600-unit tanh layers (for 100,000+ users) overfit sooner. The paper's procedure
    for the cap, a run annealed towards :math:`\beta = 1`, peaked at
    :math:`\beta = 0.5` with the tanh network, but with the linear one its curve still
    rose at :math:`\beta = 1` because the model was still learning; comparing full
    runs with caps 0.2, 0.5 and 1.0 chose 0.2, the paper's value. The test part was
    not used for any choice.

    Attributes
    ----------
    hidden_dims : tuple of int
        (): linear encoder ``I -> 2 D`` and decoder ``D -> I`` (validated best, table);
        the paper's ``(600,)`` gives ``[I -> 600 -> 2D]`` and ``[D -> 600 -> I]`` with tanh.
    latent_dim : int
        200: :math:`D`, the paper's; 64 validated lower with the linear network (0.269)
        and better with the tanh layer, where 200 overfits.
    dropout : float
        0.5: the paper's input dropout; 0.7 validated lower (with the tanh layer).
    beta_cap : float
        0.2: :math:`\beta_{\max}`, the paper's value, and the best of 0.2, 0.5 and 1.0
        on validation (0.274 / 0.273 / 0.271; the chapter plots the three runs).
    anneal_steps : int
        1000: :math:`T`, updates for :math:`\beta` to grow by 1 (:func:`kl_beta`): 100
        epochs of 10 updates, so the cap 0.2 is reached at epoch 20. The paper used
        200,000 updates for 100,000+ users.
    reg : float
        0.0: as in the paper's VAE; an L2 penalty (0.01, 0.05) validated lower.
    lr : float
        1e-3: Adam's step, the paper's; 5e-4 and 3e-4 reach the same level later.
    batch_size : int
        100 users: 10 updates per epoch (batch 50 validated lower).
    num_epochs : int
        200: an upper bound; the linear network peaked at epochs 125-190, so runs may end there.
    eval_every : int
        5: one validation ranking (~0.05 s) per five epochs.
    patience : int
        4: evaluations (20 epochs) without improvement.
    k : int
        10: the list length of the validation NDCG.
    seed : int
        0: initial weights, batch order, dropout masks and the noise :math:`\epsilon` are reproducible.
    device : str or None
        None: :func:`~recfeat_ref.training.get_device` chooses.
    progress : bool
        True: a tqdm bar over epochs.
    cpu_threads : int or None
        1: as :class:`~recfeat_ref.training.TrainConfig`: torch threads during ``fit`` on the CPU.

    Examples
    --------
    >>> cfg = MultVAEConfig(latent_dim=64)
    >>> cfg.latent_dim, cfg.beta_cap, cfg.hidden_dims
    (64, 0.2, ())
    >>> MultVAEConfig(dropout=1.0)
    Traceback (most recent call last):
    ...
    ValueError: dropout must lie in [0, 1), got 1.0
    """

    hidden_dims: tuple[int, ...] = ()  # linear; the paper's (600,) validated worse here (table)
    latent_dim: int = 200  # the paper's
    dropout: float = 0.5  # the paper's
    beta_cap: float = 0.2  # the paper's; best of 0.2 / 0.5 / 1.0 on validation
    anneal_steps: int = 1000  # beta grows by 1 in 100 epochs of 10 updates: the cap at epoch 20
    reg: float = 0.0  # the paper's VAE has no weight penalty; 0.01 validated worse
    lr: float = 1e-3  # Adam, the paper's
    batch_size: int = 100  # 10 updates per epoch on 943 users
    num_epochs: int = 200  # upper bound; the linear net's best epochs were 125-190
    eval_every: int = 5  # evaluation < 10 % of the time
    patience: int = 4  # evaluations (20 epochs)
    k: int = 10
    seed: int = 0
    device: str | None = None
    progress: bool = True
    cpu_threads: int | None = 1

    def __post_init__(self):
        _check_common(self)
        _check_positive_int("latent_dim", self.latent_dim)
        _check_positive_int("anneal_steps", self.anneal_steps)
        _check_non_negative("beta_cap", self.beta_cap)


class _MultAutoencoder(ImplicitRecommender):
    """Shared by :class:`MultDAE` and :class:`MultVAE`: data, training epoch, scoring, fallbacks.

    Subclasses define ``config_class``, ``_build(n_items)`` and
    ``_objective(net, x, step) -> (loss, parts)``, and ``encode_users``' code. The epoch
    loop (early stopping on validation NDCG@k, best weights, history) is
    :class:`~recfeat_ref.training.ImplicitRecommender`'s.
    """

    config_class: type = MultDAEConfig

    def __init__(self, config=None, *, user_col: str | None = None, item_col: str | None = None, **params):
        kwargs = {k: v for k, v in (("user_col", user_col), ("item_col", item_col)) if v is not None}
        super().__init__(**kwargs)
        self.config = _make_config(self.config_class, config, params)

    def _rows(self, users: np.ndarray, device=None) -> torch.Tensor:
        """Dense binary training rows of the user indices ``users``; shape (B, I) float32."""
        return torch.as_tensor(self.train_matrix_[users].toarray(), device=device)  # (B, I)

    def _train(self, users, items, device):
        cfg = self.config
        x = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)),
                          shape=(self.n_users_, self.n_items_))
        x.data[:] = 1.0  # a repeated (user, item) row counts once
        self.train_matrix_ = x  # (U, I)

        seed_everything(cfg.seed)  # initial weights, dropout masks, epsilon
        net = self._build(self.n_items_).to(device)
        self.model_ = net
        optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        gen = torch.Generator().manual_seed(cfg.seed)
        step = 0  # optimiser steps so far (the VAE's KL annealing counts them)

        def epoch(_):
            nonlocal step
            net.train()
            perm = torch.randperm(self.n_users_, generator=gen).numpy()
            sums: dict[str, float] = {}
            for lo in range(0, self.n_users_, cfg.batch_size):
                idx = perm[lo : lo + cfg.batch_size]  # (B,)
                loss, parts = self._objective(net, self._rows(idx, device), step)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                for name, value in {"train_loss": loss.detach(), **parts}.items():
                    sums[name] = sums.get(name, 0.0) + float(value) * len(idx)
            return {**{n: v / self.n_users_ for n, v in sums.items()}, **self._epoch_extras(step)}

        self._run_epochs(epoch, net, net.eval)
        self.model_ = net.cpu().eval()
        last = self.model_.decoder[-1]
        self.item_embeddings_ = last.weight.detach().double().numpy().copy()  # (I, d_last)
        self.item_bias_ = last.bias.detach().double().numpy().copy()  # (I,)
        probs = np.zeros(self.n_items_)
        for lo in range(0, self.n_users_, 1024):
            probs += np.exp(self._score_all(np.arange(lo, min(lo + 1024, self.n_users_)))).sum(0)
        self.popularity_ = np.log(probs / self.n_users_)  # (I,) log of the average user's distribution

    def _epoch_extras(self, step: int) -> dict:
        return {}

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.model_(x)

    # -- Recommender -------------------------------------------------------------
    def _score_all(self, users):
        device = next(self.model_.parameters()).device
        was_training = self.model_.training
        self.model_.eval()
        out = []
        with torch.no_grad():
            for lo in range(0, len(users), 1024):
                logits = self._logits(self._rows(users[lo : lo + 1024], device))  # (B, I)
                out.append(torch.log_softmax(logits.double(), dim=-1).cpu().numpy())
        self.model_.train(was_training)
        return np.concatenate(out) if out else np.empty((0, self.n_items_))  # (len(users), I)

    def _fallback(self, users, items):
        out = np.empty(len(users), dtype=np.float64)
        new_user = users < 0
        item_idx = np.maximum(items, 0)
        out[new_user] = np.where(items[new_user] >= 0, self.popularity_[item_idx[new_user]], self.popularity_.mean())
        if (~new_user).any():  # known user, unseen item: the user's mean log-probability
            uniq, inv = np.unique(users[~new_user], return_inverse=True)
            out[~new_user] = self._score_all(uniq).mean(1)[inv]
        return out

    # -- user features -------------------------------------------------------------
    def _code(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def encode_users(self, user_ids=None) -> np.ndarray:
        """The bottleneck code of users' training rows, shape (n, d), float64.

        ``user_ids`` are raw ids (default: every training user, in ``user_ids_`` order).
        A user unseen in training is encoded from the empty row (no history), so all
        unseen users share one code.
        """
        self._check_fitted()
        users = np.arange(self.n_users_) if user_ids is None else self.user_index(user_ids)
        x = self._rows(np.maximum(users, 0))  # (n, I)
        x[users < 0] = 0.0
        self.model_.eval()
        with torch.no_grad():
            return self._code(x).double().numpy()  # (n, d)


class MultDAE(_MultAutoencoder):
    r"""Mult-DAE (Liang et al., 2018): a denoising autoencoder of users' item sets, multinomial likelihood.

    .. math::
        \tilde x_u = \operatorname{dropout}_p\!\Big(\frac{x_u}{\lVert x_u\rVert}\Big), \qquad
        \pi_u = \operatorname{softmax}\big(f_\theta(g_\phi(\tilde x_u))\big), \qquad
        \min_{\theta,\phi}\ -\frac{1}{B}\sum_u \sum_i x_{ui} \log \pi_{ui}
        + \lambda \sum_\ell \lVert W_\ell \rVert_F^2

    :math:`x_u \in \{0, 1\}^I` is user :math:`u`'s training row (ratings, if present, are
    ignored), :math:`g_\phi, f_\theta` are tanh networks (:class:`MultDAENet`). Dropping
    half the input and asking the network to put probability on *all* of the user's
    items teaches it to complete item sets, which is top-N recommendation. The
    denoising autoencoder is Vincent et al.'s (2008); CDAE (Wu et al., 2016) is the
    same idea with a per-user input node and a logistic loss.

    Scoring: the log-probabilities :math:`\log\pi_{ui}` of the *uncorrupted* training
    row (no dropout). Early stopping on ``fit(train, valid=...)`` as in
    :class:`~recfeat_ref.mf.BPRMF`: every ``eval_every`` epochs the validation NDCG@k,
    ``patience`` evaluations without improvement, best weights restored.

    Parameters
    ----------
    config : MultDAEConfig, optional
    **params
        Fields of :class:`MultDAEConfig` that override ``config``.
    user_col, item_col : str
        Column names (keyword only).

    Attributes
    ----------
    model_ : MultDAENet
        The trained network, on the CPU, in evaluation mode.
    train_matrix_ : scipy.sparse.csr_matrix of shape (U, I)
        The binary training rows, the network's input.
    item_embeddings_ : ndarray of shape (I, H_1)
        Rows of the output layer's weight :math:`W`: with one hidden layer the score is
        :math:`\langle W_i, h_u\rangle + b_i`, ``h_u = encode_users([u])``, so these are
        item vectors in the user code's space.
    item_bias_ : ndarray of shape (I,)
        The output bias :math:`b`.
    popularity_ : ndarray of shape (I,)
        :math:`\log \frac{1}{U}\sum_u \pi_{ui}`, the average training user's distribution.
    history_ : pandas.DataFrame
        ``epoch``, ``train_loss`` (penalty included), ``train_nll``, ``seconds``, and
        ``valid_ndcg_at_k``/``valid_recall_at_k`` on evaluated epochs.
    best_epoch_ : int

    Notes
    -----
    *Unseen users* score ``popularity_``, a learned popularity (a user with no
    history cannot be encoded meaningfully: the empty row gives one fixed output that
    was never trained on). *Unseen items* have no output unit: a known user scores
    them with the mean of their log-probabilities, both unseen with the mean of
    ``popularity_``. :func:`~recfeat_ref.recommender.evaluate_topn` meets neither.

    Shapes
    ------
    score_items(users) : (len(users), I) float64; encode_users(users) : (len(users), hidden_dims[-1]).

    Examples
    --------
    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [1, 2, 2, 3]})
    >>> model = MultDAE(hidden_dims=(4,), num_epochs=2, progress=False, device="cpu").fit(train)
    >>> model.score_items([1, 2]).shape, model.encode_users([1, 99]).shape
    ((2, 3), (2, 4))
    """

    config_class = MultDAEConfig

    def _build(self, n_items: int) -> MultDAENet:
        return MultDAENet(n_items, self.config.hidden_dims, self.config.dropout)

    def _objective(self, net, x, step):
        nll = multinomial_nll(net(x), x)
        loss = nll + self.config.reg * net.weight_penalty() if self.config.reg > 0 else nll
        return loss, {"train_nll": nll.detach()}

    def _code(self, x):
        return self.model_.encode(x)


class MultVAE(_MultAutoencoder):
    r"""Mult-VAE (Liang et al., 2018): a variational autoencoder with a multinomial likelihood.

    Generative model: :math:`z_u \sim \mathcal N(0, I_D)`,
    :math:`\pi_u = \operatorname{softmax}(f_\theta(z_u))`,
    :math:`x_u \sim \operatorname{Mult}(N_u, \pi_u)`. The encoder
    :math:`q_\phi(z_u \mid x_u) = \mathcal N(\mu_\phi(\tilde x_u), \operatorname{diag}\sigma^2_\phi(\tilde x_u))`
    is trained with :math:`f_\theta` by maximising the :math:`\beta`-weighted evidence
    lower bound (the paper's eq. 6),

    .. math::
        \mathcal L_\beta(x_u) = \mathbb E_{q_\phi(z_u\mid x_u)}\big[\log p_\theta(x_u \mid z_u)\big]
        - \beta\, \mathrm{KL}\big(q_\phi(z_u \mid x_u) \,\|\, \mathcal N(0, I)\big),
        \qquad \log p_\theta(x_u\mid z_u) \overset{c}{=} \sum_i x_{ui}\log\pi_{ui},

    with one sample :math:`z_u = \mu_u + \sigma_u \odot \epsilon` per user and step
    (reparameterisation, Kingma and Welling, 2014) and :math:`\beta` annealed from 0 to
    ``beta_cap`` over ``anneal_steps`` updates (:func:`kl_beta`). The input
    :math:`\tilde x_u` is the L2-normalised row with dropout, as for :class:`MultDAE`;
    the minimised loss is :func:`multinomial_nll` :math:`+ \beta\,` :func:`gaussian_kl`
    (:math:`+ \lambda \sum \lVert W\rVert^2` when ``reg > 0``).

    Why :math:`\beta < 1`: with the full KL term the posterior is pulled to the prior
    and the recommendations become generic; the paper finds the best validation NDCG
    at :math:`\beta \approx 0.2`, i.e. a *regularised* autoencoder rather than a proper
    generative model.

    Scoring: :math:`\log\pi_u` at :math:`z_u = \mu_u` from the uncorrupted training row.
    Early stopping, fallbacks and attributes as in :class:`MultDAE`; ``history_`` also
    has ``train_nll``, ``train_kl`` and ``beta`` (at the end of the epoch).

    Attributes
    ----------
    model_ : MultVAENet
    item_embeddings_ : ndarray of shape (I, H_1)
        Rows of the output layer's weight (``H_1 = hidden_dims[0]``, or ``latent_dim``
        without hidden layers): item vectors in the decoder's last hidden space. With the
        default linear decoder they live in the code space itself, and the score is
        :math:`\log\pi_{ui} = \langle \mu_u, e_i\rangle + b_i - \log\sum_j e^{\langle \mu_u, e_j\rangle + b_j}`,
        like matrix factorisation with a user vector computed from the user's items.
    item_bias_, popularity_, train_matrix_, history_, best_epoch_ : as in :class:`MultDAE`.

    Shapes
    ------
    score_items(users) : (len(users), I) float64; encode_users(users) : (len(users), latent_dim),
    the posterior means :math:`\mu_u`.

    Examples
    --------
    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [1, 2, 2, 3]})
    >>> model = MultVAE(hidden_dims=(8,), latent_dim=2, num_epochs=2, progress=False, device="cpu").fit(train)
    >>> model.score_items([1, 2]).shape, model.encode_users().shape
    ((2, 3), (3, 2))
    """

    config_class = MultVAEConfig

    def _build(self, n_items: int) -> MultVAENet:
        cfg = self.config
        return MultVAENet(n_items, cfg.hidden_dims, cfg.latent_dim, cfg.dropout)

    def _objective(self, net, x, step):
        cfg = self.config
        logits, mu, logvar = net(x)
        nll, kl = multinomial_nll(logits, x), gaussian_kl(mu, logvar)
        loss = nll + kl_beta(step, cfg.anneal_steps, cfg.beta_cap) * kl
        if cfg.reg > 0:
            loss = loss + cfg.reg * sum(m.weight.pow(2).sum() for m in [*net.encoder, *net.decoder])
        return loss, {"train_nll": nll.detach(), "train_kl": kl.detach()}

    def _epoch_extras(self, step):
        return {"beta": kl_beta(step, self.config.anneal_steps, self.config.beta_cap)}

    def _logits(self, x):
        return self.model_(x)[0]

    def _code(self, x):
        return self.model_.encode(x)[0]  # mu
