r"""Autoencoder recommenders: item-based AutoRec (Sedhain et al., 2015).

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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import nn

from . import DEFAULT_ITEM_COL, DEFAULT_RATING_COL, DEFAULT_USER_COL, metrics
from ._validation import DataValidationError
from .baselines import BiasBaseline
from ._validation import _check_non_negative, _check_positive, _check_positive_int, _check_seed, _is_number, _make_config
from .recommender import Recommender
from .training import TrainConfig, Trainer, seed_everything

__all__ = ["ACTIVATIONS", "OPTIMIZERS", "AutoRecNet", "IAutoRec", "IAutoRecConfig", "masked_sse"]

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
