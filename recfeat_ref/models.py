r"""Models of the first chapters: the article's one-hot MLP and biased matrix factorisation.

Shape letters used in comments: ``B`` batch size, ``F`` number of categorical
fields, ``H`` hidden units, ``K`` latent factors.

Index convention (shared with :class:`recfeat_ref.preprocessing.IdEncoder`):
index 0 of every field is the out-of-vocabulary ("unseen in training") slot.
Its embedding rows are created with ``padding_idx=0``: they start at zero and
receive no gradient, so an unseen user or item contributes nothing and the
models fall back to what they know (the other fields, or the biases).

References
----------
Koren, Bell and Volinsky (2009), "Matrix Factorization Techniques for Recommender
Systems", *Computer* 42(8).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["MLPConfig", "OneHotMLP", "MFConfig", "BiasedMF"]


@dataclass(frozen=True)
class MLPConfig:
    """Configuration of :class:`OneHotMLP`.

    Attributes
    ----------
    field_dims : tuple of int
        Cardinality of each categorical field *including* the OOV slot 0
        (``IdEncoder.n_classes_``), e.g. ``(n_users + 1, n_items + 1)``.
    hidden_dim : int
        100, the article's choice of hidden layer width.
    dropout : float
        0.0: the article uses none; raise it if the validation loss turns up early.

    Examples
    --------
    >>> cfg = MLPConfig(field_dims=[944, 1683])
    >>> cfg.field_dims, cfg.hidden_dim
    ((944, 1683), 100)
    >>> MLPConfig(field_dims=(1, 5))
    Traceback (most recent call last):
    ...
    ValueError: field_dims: every field needs at least 2 slots (OOV + one value), got (1, 5)
    """

    field_dims: tuple[int, ...]
    hidden_dim: int = 100  # the article's value
    dropout: float = 0.0  # the article uses no regularisation

    def __post_init__(self):
        dims = tuple(int(d) for d in self.field_dims)
        if not dims or any(d < 2 for d in dims):
            raise ValueError(
                f"field_dims: every field needs at least 2 slots (OOV + one value), got {self.field_dims}"
            )
        object.__setattr__(self, "field_dims", dims)
        if self.hidden_dim < 1:
            raise ValueError(f"hidden_dim must be >= 1, got {self.hidden_dim}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")


class OneHotMLP(nn.Module):
    r"""The article's network: one-hot fields -> 100 ReLU units -> one logit.

    .. math::
        h = \mathrm{ReLU}(W_1 [\mathrm{onehot}(x_1); \dots; \mathrm{onehot}(x_F)] + b_1),
        \qquad z = w_2^\top h + b_2

    A linear layer applied to a concatenation of one-hot vectors selects one
    column of :math:`W_1` per field, so :math:`W_1 x = \sum_f W_1^{(f)}[:, x_f]`:
    we store each block :math:`W_1^{(f)}` as an ``nn.Embedding`` and add the looked-up
    rows. The result equals the dense layer (tested) but never builds the
    ``(B, sum(field_dims))`` one-hot matrix (1 GB for ML-100K as float32).

    Returns logits; pair with ``nn.BCEWithLogitsLoss``, as the article's code does
    (a ``sigmoid`` followed by ``BCELoss`` computes the same loss less stably).

    Shapes
    ------
    x : (B, F) int64, field-wise indices, 0 = unseen.
    output : (B,) float logits.

    Examples
    --------
    >>> model = OneHotMLP(MLPConfig(field_dims=(3, 4), hidden_dim=8))
    >>> model(torch.tensor([[1, 2], [0, 3]])).shape
    torch.Size([2])
    """

    def __init__(self, config: MLPConfig):
        super().__init__()
        self.config = config
        H = config.hidden_dim
        self.blocks = nn.ModuleList(nn.Embedding(d, H, padding_idx=0) for d in config.field_dims)
        self.bias1 = nn.Parameter(torch.zeros(H))
        self.dropout = nn.Dropout(config.dropout)
        self.out = nn.Linear(H, 1)
        fan_in = len(config.field_dims)  # one active input per field
        for block in self.blocks:
            nn.init.uniform_(block.weight, -1 / fan_in**0.5, 1 / fan_in**0.5)
            with torch.no_grad():
                block.weight[0].zero_()

    def first_layer(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-activation of the hidden layer, ``W_1 onehot(x) + b_1`` of shape (B, H)."""
        if x.dim() != 2 or x.shape[1] != len(self.blocks):
            raise ValueError(f"x must have shape (B, {len(self.blocks)}), got {tuple(x.shape)}")
        h = self.bias1.expand(x.shape[0], -1)  # (B, H)
        for f, block in enumerate(self.blocks):
            h = h + block(x[:, f])  # (B, H)
        return h

    def dense_first_layer_weight(self) -> torch.Tensor:
        """:math:`W_1` as the dense (H, sum(field_dims)) matrix the article's ``nn.Linear`` holds."""
        return torch.cat([b.weight for b in self.blocks], dim=0).T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.first_layer(x))  # (B, H)
        return self.out(self.dropout(h)).squeeze(-1)  # (B,)

    def __repr__(self) -> str:
        return f"OneHotMLP(field_dims={self.config.field_dims}, hidden_dim={self.config.hidden_dim})"


@dataclass(frozen=True)
class MFConfig:
    """Configuration of :class:`BiasedMF`.

    Attributes
    ----------
    n_users, n_items : int
        Table sizes *including* the OOV slot 0 (``IdEncoder.n_classes_``).
    n_factors : int
        64: enough for ML-100K's 943 x 1,682 matrix; with L2 regularisation 32 to 128
        factors score within 0.002 RMSE of each other (recfeat_ref.mf).
    global_mean : float
        Initial value of :math:`\\mu`; pass the training mean rating.
    init_std : float
        0.01: small factors so the model starts at the bias-only predictor.

    Examples
    --------
    >>> cfg = MFConfig(n_users=944, n_items=1683, n_factors=32)
    >>> cfg.n_factors, cfg.init_std
    (32, 0.01)
    >>> MFConfig(n_users=1, n_items=5)
    Traceback (most recent call last):
    ...
    ValueError: n_users must be >= 2 (OOV slot + one id), got 1
    """

    n_users: int
    n_items: int
    n_factors: int = 64
    global_mean: float = 0.0
    init_std: float = 0.01

    def __post_init__(self):
        for field in ("n_users", "n_items"):
            if getattr(self, field) < 2:
                raise ValueError(f"{field} must be >= 2 (OOV slot + one id), got {getattr(self, field)}")
        if self.n_factors < 1:
            raise ValueError(f"n_factors must be >= 1, got {self.n_factors}")
        if self.init_std <= 0:
            raise ValueError(f"init_std must be > 0, got {self.init_std}")


class BiasedMF(nn.Module):
    r"""Biased matrix factorisation (Koren et al., 2009).

    .. math:: \hat r_{ui} = \mu + b_u + b_i + p_u^\top q_i

    Unseen users/items (index 0) have zero bias and zero factors, so their
    prediction falls back to :math:`\mu + b_i` (or :math:`\mu + b_u`, or :math:`\mu`).

    Shapes
    ------
    users, items : (B,) int64.
    output : (B,) predicted ratings.

    Examples
    --------
    >>> model = BiasedMF(MFConfig(n_users=3, n_items=4, n_factors=2, global_mean=3.5))
    >>> model(torch.tensor([0]), torch.tensor([0])).tolist()   # unseen user and item: the mean
    [3.5]
    """

    def __init__(self, config: MFConfig):
        super().__init__()
        self.config = config
        K = config.n_factors
        self.user_factors = nn.Embedding(config.n_users, K, padding_idx=0)  # (U, K)
        self.item_factors = nn.Embedding(config.n_items, K, padding_idx=0)  # (I, K)
        self.user_bias = nn.Embedding(config.n_users, 1, padding_idx=0)
        self.item_bias = nn.Embedding(config.n_items, 1, padding_idx=0)
        self.global_mean = nn.Parameter(torch.tensor(float(config.global_mean)))
        for emb in (self.user_factors, self.item_factors):
            nn.init.normal_(emb.weight, std=config.init_std)
        for emb in (self.user_bias, self.item_bias):
            nn.init.zeros_(emb.weight)
        with torch.no_grad():
            self.user_factors.weight[0].zero_()
            self.item_factors.weight[0].zero_()

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        p = self.user_factors(users)  # (B, K)
        q = self.item_factors(items)  # (B, K)
        bias = self.user_bias(users).squeeze(-1) + self.item_bias(items).squeeze(-1)  # (B,)
        return self.global_mean + bias + (p * q).sum(-1)  # (B,)

    def full_scores(self) -> torch.Tensor:
        """Scores of every (user, item) pair, shape (U, I); row/column 0 are the OOV slots."""
        w = self.user_factors.weight @ self.item_factors.weight.T  # (U, I)
        return self.global_mean + self.user_bias.weight + self.item_bias.weight.T + w

    def __repr__(self) -> str:
        c = self.config
        return f"BiasedMF(n_users={c.n_users}, n_items={c.n_items}, n_factors={c.n_factors})"
