r"""Click-through-rate models over sparse fields: LR, FM, DeepFM, DCN-V2, and NeuMF.

Every model returns one logit per row; train it with ``nn.BCEWithLogitsLoss`` and
read probabilities with ``torch.sigmoid`` (what :class:`~recfeat_ref.training.Trainer`
does with ``output_transform=torch.sigmoid``).

Shape letters used in comments: ``B`` batch size, ``F`` categorical fields, ``G``
multi-hot columns (all bags side by side), ``M`` field vectors (``F`` plus one per
bag), ``D`` embedding size, ``K = M * D`` the concatenated embeddings, ``H`` hidden units.

Inputs (:class:`recfeat_ref.ctr.CTRFeaturizer` builds them)
-------------------------------------------------------------
``x_cat`` (B, F) int64
    Field-wise codes; index 0 of every field is the out-of-vocabulary ("unseen in
    training") slot, as in :mod:`recfeat_ref.models`.
``x_multi`` (B, G) float32
    Multi-hot *bags* (e.g. a film's genres), ``config.multi_dims`` columns each.

Embeddings
----------
One ``nn.Embedding(field_dims[f], D, padding_idx=0)`` per field. We do not use one
table with offsets: ``padding_idx`` protects a single row, and with offsets the ``F``
OOV rows would need a gradient hook to stay zero. Here every OOV row starts at zero
and gets no gradient, so an unseen value contributes *nothing*, to the linear part as
to every interaction. A bag's vector is the mean of its values' embeddings,

.. math:: e_{\text{bag}} = \frac{\sum_g x_g v_g}{\max(1, \sum_g x_g)},

computed as a matmul of the multi-hot block with its table (an empty bag gives zero).
So every model sees one vector per *field*, as in DeepFM [2]_, and the FM part lets
only pairs of different fields interact (two genres of one film do not); for
one-hot fields alone this is exactly Rendle's FM [1]_ (tested).

Training
--------
On the CTR protocol of :mod:`recfeat_ref.ctr` (ML-100K, 80/10/10) these models were
tuned on the validation split with :class:`~recfeat_ref.training.Trainer`: Adam,
batch 1024, at most 30 epochs, early stopping on ``valid_auc`` with ``patience=5``
(the validation AUC plateaus for a few epochs before the deep parts take off, and
the default 3 stops some runs there); ``lr=0.01`` for LR, FM, DeepFM and DCN-V2
(``weight_decay`` 0, 3e-5, 1e-4 and 1e-4), ``lr=1e-3`` and ``weight_decay=1e-5``
for NeuMF.

References
----------
.. [1] S. Rendle, "Factorization Machines", ICDM 2010.
.. [2] H. Guo, R. Tang, Y. Ye, Z. Li and X. He, "DeepFM: A Factorization-Machine
   based Neural Network for CTR Prediction", IJCAI 2017.
.. [3] R. Wang, R. Shivanna, D. Cheng, S. Jain, D. Lin, L. Hong and E. Chi,
   "DCN V2: Improved Deep & Cross Network and Practical Lessons for Web-scale
   Learning to Rank Systems", WWW 2021.
.. [4] X. He, L. Liao, H. Zhang, L. Nie, X. Hu and T.-S. Chua, "Neural
   Collaborative Filtering", WWW 2017.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = [
    "FeaturesLinear",
    "FeaturesEmbedding",
    "LRConfig",
    "LogisticRegression",
    "FMConfig",
    "FM",
    "fm_interaction",
    "DeepFMConfig",
    "DeepFM",
    "SENetGate",
    "AttentionFusion",
    "CrossLayer",
    "DCNv2Config",
    "DCNv2",
    "NeuMFConfig",
    "NeuMF",
]


# ---------------------------------------------------------------------------
# Configs
# ---------------------------------------------------------------------------


def _positive(config, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def _hidden(config, name: str = "hidden_dims", allow_empty: bool = True) -> None:
    dims = tuple(getattr(config, name))
    if (not dims and not allow_empty) or any(not isinstance(h, int) or h < 1 for h in dims):
        at_least = "" if allow_empty else " (at least one)"
        raise ValueError(f"{name} must be a tuple of positive ints{at_least}, got {dims!r}")
    object.__setattr__(config, name, dims)


def _unit_interval(config, name: str) -> None:
    value = getattr(config, name)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value!r}")


@dataclass(frozen=True)
class LRConfig:
    """Configuration of :class:`LogisticRegression`; the fields every CTR model shares.

    Attributes
    ----------
    field_dims : tuple of int
        Table size of each categorical field *including* the OOV slot 0
        (``CTRFeaturizer.field_dims_``).
    multi_dims : tuple of int
        Width of each multi-hot bag (``CTRFeaturizer.multi_dims_``); ``()`` for none.
    dense_dims : tuple of int
        Width of each dense block (a real-valued feature vector, e.g. a user's embedding
        from another model, :func:`recfeat_ref.ctr.add_dense`); ``()`` for none. A block
        of width ``d`` contributes :math:`w^\top x` to the linear part and one field
        vector :math:`W^\top x` (a learned ``d x D`` projection) to the embeddings, so
        FM, DeepFM and DCN-v2 cross it with every other field like a categorical one.

    Examples
    --------
    >>> cfg = LRConfig(field_dims=[3, 4], multi_dims=[2])
    >>> cfg.field_dims, cfg.dense_dims, cfg.n_vectors
    ((3, 4), (), 3)
    >>> LRConfig(field_dims=(3,), multi_dims=(0,))
    Traceback (most recent call last):
    ...
    ValueError: multi_dims: every bag needs at least one column, got (0,)
    """

    field_dims: tuple[int, ...]
    multi_dims: tuple[int, ...] = ()  # no bags unless the featurizer made some
    dense_dims: tuple[int, ...] = ()  # no dense blocks unless features are added

    def __post_init__(self):
        dims = tuple(int(d) for d in self.field_dims)
        if not dims or any(d < 2 for d in dims):
            raise ValueError(
                f"field_dims: every field needs at least 2 slots (OOV + one value), got {self.field_dims}"
            )
        object.__setattr__(self, "field_dims", dims)
        bags = tuple(int(g) for g in self.multi_dims)
        if any(g < 1 for g in bags):
            raise ValueError(f"multi_dims: every bag needs at least one column, got {self.multi_dims}")
        object.__setattr__(self, "multi_dims", bags)
        dense = tuple(int(g) for g in self.dense_dims)
        if any(g < 1 for g in dense):
            raise ValueError(f"dense_dims: every dense block needs at least one column, got {self.dense_dims}")
        object.__setattr__(self, "dense_dims", dense)

    @property
    def n_vectors(self) -> int:
        """``M``: one vector per categorical field, per bag and per dense block."""
        return len(self.field_dims) + len(self.multi_dims) + len(self.dense_dims)


@dataclass(frozen=True)
class FMConfig(LRConfig):
    """Configuration of :class:`FM`.

    Attributes
    ----------
    embed_dim : int
        ``D``; 16: on ML-100K the validation AUC of FM, DeepFM and DCN-V2 moves by at most
        0.003 between 8 and 32, and one value for all keeps their comparison fair.
    init_std : float
        0.01: small factors, so training starts at the logistic-regression solution.

    Examples
    --------
    >>> cfg = FMConfig(field_dims=(3, 4), embed_dim=8)
    >>> cfg.embed_dim, cfg.init_std
    (8, 0.01)
    >>> FMConfig(field_dims=(3, 4), init_std=0)
    Traceback (most recent call last):
    ...
    ValueError: init_std must be > 0, got 0
    """

    embed_dim: int = 16  # validation AUC flat for 8..32 on ML-100K
    init_std: float = 0.01  # start near LR: interactions grow only where they help

    def __post_init__(self):
        super().__post_init__()
        _positive(self, "embed_dim")
        if not self.init_std > 0:
            raise ValueError(f"init_std must be > 0, got {self.init_std!r}")


@dataclass(frozen=True)
class DeepFMConfig(FMConfig):
    """Configuration of :class:`DeepFM`.

    Attributes
    ----------
    hidden_dims : tuple of int
        (128, 64): two ReLU layers. The paper's Criteo tower, 400-400-400 with dropout 0.5,
        is 5x slower here and no better (ML-100K validation AUC 0.800 against 0.803).
    dropout : float
        0.2, after each hidden layer; 0.5 did no better on ML-100K validation.
    field_gate : {"none", "senet"}
        "none": every field vector enters as it is. "senet": a squeeze-and-excitation
        gate (:class:`SENetGate`, FiBiNET) learns one weight per field and row and
        rescales the field vectors before the FM and the MLP.
    dense_fusion : {"fields", "attention"}
        How several dense blocks (e.g. embeddings of a film from several models) enter:
        "fields": each is one field vector; "attention": they are fused into one vector
        by :class:`AttentionFusion`, with weights that depend on the row.

    Examples
    --------
    >>> cfg = DeepFMConfig(field_dims=(3, 4), field_gate="senet")
    >>> cfg.field_gate, cfg.hidden_dims, cfg.dropout
    ('senet', (128, 64), 0.2)
    >>> DeepFMConfig(field_dims=(3, 4), dense_fusion="attention")
    Traceback (most recent call last):
    ...
    ValueError: dense_fusion='attention' needs at least two dense blocks (dense_dims) to fuse
    """

    hidden_dims: tuple[int, ...] = (128, 64)  # small data, small tower
    dropout: float = 0.2  # the deep part overfits first
    field_gate: str = "none"  # "senet": learned weights per field (FiBiNET)
    dense_fusion: str = "fields"  # "attention": the dense blocks fused into one vector

    def __post_init__(self):
        super().__post_init__()
        _hidden(self, allow_empty=False)
        _unit_interval(self, "dropout")
        if self.field_gate not in ("none", "senet"):
            raise ValueError(f"field_gate must be 'none' or 'senet', got {self.field_gate!r}")
        if self.dense_fusion not in ("fields", "attention"):
            raise ValueError(f"dense_fusion must be 'fields' or 'attention', got {self.dense_fusion!r}")
        if self.dense_fusion == "attention" and len(self.dense_dims) < 2:
            raise ValueError("dense_fusion='attention' needs at least two dense blocks (dense_dims) to fuse")


@dataclass(frozen=True)
class DCNv2Config(FMConfig):
    """Configuration of :class:`DCNv2`.

    Attributes
    ----------
    n_cross : int
        2 cross layers: interactions up to degree 3; 1 and 3 layers are within 0.001
        validation AUC of it on ML-100K.
    hidden_dims : tuple of int
        (128, 64), as for :class:`DeepFMConfig`; ``()`` gives the cross network alone.
    dropout : float
        0.2, after each hidden layer of the deep part.
    structure : {"stacked", "parallel"}
        "parallel": the cross and the deep network both read :math:`x_0` and their
        outputs are concatenated; "stacked": the deep network reads the cross
        network's output. The paper finds the better one data-dependent; parallel
        was ahead on ML-100K validation in both comparisons we ran (by 0.001-0.002 AUC).

    Examples
    --------
    >>> cfg = DCNv2Config(field_dims=(3, 4), hidden_dims=())   # the cross network alone
    >>> cfg.n_cross, cfg.structure, cfg.hidden_dims
    (2, 'parallel', ())
    >>> DCNv2Config(field_dims=(3, 4), structure="serial")
    Traceback (most recent call last):
    ...
    ValueError: structure must be 'stacked' or 'parallel', got 'serial'
    """

    n_cross: int = 2  # degree-3 interactions
    hidden_dims: tuple[int, ...] = (128, 64)  # as DeepFM, for a fair comparison
    dropout: float = 0.2  # as DeepFM
    structure: str = "parallel"  # slightly ahead of "stacked" on ML-100K validation

    def __post_init__(self):
        super().__post_init__()
        _positive(self, "n_cross")
        _hidden(self)
        _unit_interval(self, "dropout")
        if self.structure not in ("stacked", "parallel"):
            raise ValueError(f"structure must be 'stacked' or 'parallel', got {self.structure!r}")


@dataclass(frozen=True)
class NeuMFConfig:
    """Configuration of :class:`NeuMF`.

    Attributes
    ----------
    n_users, n_items : int
        Table sizes *including* the OOV slot 0 (``IdEncoder.n_classes_``).
    gmf_dim : int
        16: predictive factors of the GMF branch (the paper tries 8 to 64).
    mlp_embed_dim : int
        32 per id, so the MLP tower starts at 64 = 2 x 32 inputs.
    hidden_dims : tuple of int
        (64, 32, 16): the paper's halving tower ending at as many units as ``gmf_dim``.
    dropout : float
        0.0: the paper uses none.
    init_std : float
        0.01: the paper's Gaussian initialisation of the embeddings.

    Examples
    --------
    >>> cfg = NeuMFConfig(n_users=944, n_items=1683, gmf_dim=8)
    >>> cfg.gmf_dim, cfg.hidden_dims
    (8, (64, 32, 16))
    >>> NeuMFConfig(n_users=944.0, n_items=1683)
    Traceback (most recent call last):
    ...
    ValueError: n_users must be an int >= 2 (OOV slot + one id), got 944.0
    """

    n_users: int
    n_items: int
    gmf_dim: int = 16  # predictive factors
    mlp_embed_dim: int = 32  # half the first tower layer
    hidden_dims: tuple[int, ...] = (64, 32, 16)  # halving tower, as in the paper
    dropout: float = 0.0  # the paper's choice
    init_std: float = 0.01  # the paper's N(0, 0.01^2)

    def __post_init__(self):
        for name in ("n_users", "n_items"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 2:
                raise ValueError(f"{name} must be an int >= 2 (OOV slot + one id), got {getattr(self, name)!r}")
        _positive(self, "gmf_dim", "mlp_embed_dim")
        _hidden(self, allow_empty=False)
        _unit_interval(self, "dropout")
        if not self.init_std > 0:
            raise ValueError(f"init_std must be > 0, got {self.init_std!r}")


# ---------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------


def _check_inputs(config: LRConfig, x_cat: torch.Tensor, x_multi: torch.Tensor | None) -> torch.Tensor:
    """Validate the pair and return ``x_multi`` as a (B, G) tensor (empty if no bags).

    ``G = sum(multi_dims) + sum(dense_dims)``: the multi-hot bags, then the dense blocks.
    """
    F, G = len(config.field_dims), sum(config.multi_dims) + sum(config.dense_dims)
    if x_cat.dim() != 2 or x_cat.shape[1] != F:
        raise ValueError(f"x_cat must have shape (B, {F}), got {tuple(x_cat.shape)}")
    if x_cat.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"x_cat must hold integer codes (int64), got {x_cat.dtype}")
    dims = torch.tensor(config.field_dims, device=x_cat.device)
    bad = (x_cat < 0) | (x_cat >= dims)  # (B, F)
    if bad.any():
        f = int(bad.any(dim=0).nonzero()[0])
        raise ValueError(
            f"x_cat: field {f} holds codes outside 0..{config.field_dims[f] - 1}, e.g. "
            f"{int(x_cat[bad.any(dim=1), f][0])}; encode with the featurizer the model's field_dims came from"
        )
    if x_multi is None:
        x_multi = x_cat.new_zeros((x_cat.shape[0], 0), dtype=torch.float32)
    if x_multi.shape != (x_cat.shape[0], G):
        raise ValueError(
            f"x_multi must have shape (B, {G}) = (B, sum(multi_dims) + sum(dense_dims)), got {tuple(x_multi.shape)}"
        )
    return x_multi


def _bag_means(x_multi: torch.Tensor, table: torch.Tensor, multi_dims: tuple[int, ...]) -> list[torch.Tensor]:
    """Mean of the rows of ``table`` selected by each multi-hot block; [(B, C), ...]."""
    out, start = [], 0
    for g in multi_dims:
        block = x_multi[:, start : start + g].to(table.dtype)  # (B, g)
        count = block.sum(dim=1, keepdim=True).clamp(min=1.0)  # (B, 1); an empty bag -> zero vector
        out.append(block @ table[start : start + g] / count)  # (B, C)
        start += g
    return out


def _dense_blocks(x_multi: torch.Tensor, config: LRConfig) -> list[torch.Tensor]:
    """The dense blocks, which follow the bags in ``x_multi``: [(B, d), ...]."""
    out, start = [], sum(config.multi_dims)
    for d in config.dense_dims:
        out.append(x_multi[:, start : start + d])
        start += d
    return out


class FeaturesLinear(nn.Module):
    r"""First-order part :math:`w_0 + \sum_f w_{f, x_f} + \sum_{\text{bags}} \bar w_{\text{bag}}`.

    One weight per categorical value (an ``nn.Embedding(d, 1, padding_idx=0)`` per
    field, so the OOV weight is 0) and per bag column (a bag contributes the mean
    weight of its values). All weights start at zero.

    Shapes
    ------
    x_cat : (B, F) int64; x_multi : (B, G) float.
    output : (B,).

    Examples
    --------
    >>> layer = FeaturesLinear(LRConfig(field_dims=(3, 4), multi_dims=(2,)))
    >>> layer(torch.tensor([[1, 2], [2, 3]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])).shape
    torch.Size([2])
    """

    def __init__(self, config: LRConfig):
        super().__init__()
        self.config = config
        self.weights = nn.ModuleList(nn.Embedding(d, 1, padding_idx=0) for d in config.field_dims)
        self.bag_weight = nn.Parameter(torch.zeros(sum(config.multi_dims), 1))  # (G, 1)
        self.dense_weight = nn.Parameter(torch.zeros(sum(config.dense_dims), 1))  # (sum d, 1)
        self.bias = nn.Parameter(torch.zeros(()))
        for w in self.weights:
            nn.init.zeros_(w.weight)

    def forward(self, x_cat: torch.Tensor, x_multi: torch.Tensor) -> torch.Tensor:
        z = self.bias.expand(x_cat.shape[0])  # (B,)
        for f, w in enumerate(self.weights):
            z = z + w(x_cat[:, f]).squeeze(-1)  # (B,)
        for bag in _bag_means(x_multi, self.bag_weight, self.config.multi_dims):
            z = z + bag.squeeze(-1)  # (B,)
        if self.config.dense_dims:
            dense = x_multi[:, sum(self.config.multi_dims) :].to(self.dense_weight.dtype)  # (B, sum d)
            z = z + (dense @ self.dense_weight).squeeze(-1)  # (B,)
        return z


class FeaturesEmbedding(nn.Module):
    """One D-vector per field: the looked-up row of each categorical field, the mean of each bag, the projection of each dense block.

    Tables are ``nn.Embedding(field_dims[f], D, padding_idx=0)``, initialised
    :math:`\\mathcal N(0, \\text{init\\_std}^2)` with the OOV row 0 set to zero (it stays zero:
    ``padding_idx`` gives it no gradient). Bags share one (G, D) table.

    Shapes
    ------
    x_cat : (B, F) int64; x_multi : (B, G) float.
    output : (B, M, D) with M = F + len(multi_dims).

    Examples
    --------
    >>> emb = FeaturesEmbedding(FMConfig(field_dims=(3, 4), multi_dims=(2,), embed_dim=4))
    >>> emb(torch.tensor([[1, 2], [2, 3]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])).shape   # M = 2 + 1
    torch.Size([2, 3, 4])
    """

    def __init__(self, config: FMConfig):
        super().__init__()
        self.config = config
        D = config.embed_dim
        self.tables = nn.ModuleList(nn.Embedding(d, D, padding_idx=0) for d in config.field_dims)
        self.bag_table = nn.Parameter(torch.empty(sum(config.multi_dims), D))  # (G, D)
        self.dense_proj = nn.ParameterList(nn.Parameter(torch.empty(d, D)) for d in config.dense_dims)  # (d, D) each
        for t in self.tables:
            nn.init.normal_(t.weight, std=config.init_std)
            with torch.no_grad():
                t.weight[0].zero_()
        nn.init.normal_(self.bag_table, std=config.init_std)
        for w in self.dense_proj:
            nn.init.normal_(w, std=config.init_std)

    def forward(self, x_cat: torch.Tensor, x_multi: torch.Tensor) -> torch.Tensor:
        vectors = [t(x_cat[:, f]) for f, t in enumerate(self.tables)]  # F x (B, D)
        vectors += _bag_means(x_multi, self.bag_table, self.config.multi_dims)  # bags x (B, D)
        blocks = _dense_blocks(x_multi, self.config)
        vectors += [x.to(w.dtype) @ w for x, w in zip(blocks, self.dense_proj)]  # dense blocks x (B, D)
        return torch.stack(vectors, dim=1)  # (B, M, D)


def _mlp(in_dim: int, hidden_dims: tuple[int, ...], dropout: float) -> nn.Sequential:
    """``[Linear -> ReLU -> Dropout] * len(hidden_dims)``; output width ``hidden_dims[-1]``."""
    layers: list[nn.Module] = []
    for h in hidden_dims:
        layers += [nn.Linear(in_dim, h), nn.ReLU(), nn.Dropout(dropout)]
        in_dim = h
    return nn.Sequential(*layers)


def fm_interaction(e: torch.Tensor) -> torch.Tensor:
    r"""Sum of all pairwise inner products :math:`\sum_{i<j} \langle e_i, e_j \rangle` in O(MD).

    Rendle's identity [1]_ (his Lemma 3.1) turns the :math:`O(M^2 D)` double sum into
    a square of sums minus a sum of squares:

    .. math:: \sum_{i<j} \langle e_i, e_j\rangle
              = \frac12 \sum_{d=1}^{D} \Bigl[\Bigl(\sum_{i=1}^{M} e_{i,d}\Bigr)^2
              - \sum_{i=1}^{M} e_{i,d}^2\Bigr].

    Shapes
    ------
    e : (B, M, D).
    output : (B,).

    Examples
    --------
    >>> e = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])  # <1,2>: 11, <1,3>: 17, <2,3>: 39
    >>> fm_interaction(e)
    tensor([67.])
    """
    square_of_sum = e.sum(dim=1).pow(2)  # (B, D)
    sum_of_square = e.pow(2).sum(dim=1)  # (B, D)
    return 0.5 * (square_of_sum - sum_of_square).sum(dim=1)  # (B,)


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------


class LogisticRegression(nn.Module):
    r"""Logistic regression on one-hot fields: the linear baseline of every CTR paper.

    .. math:: \hat y = \sigma\Bigl(w_0 + \sum_{f=1}^{F} w_{f, x_f}
              + \sum_{\text{bags } b} \frac{\sum_g x_g w_g}{\max(1, \sum_g x_g)}\Bigr)

    It learns how much each user, film, age group ... likes or is liked on average,
    but no *pair*: "this user likes this genre" is out of its reach.

    Shapes
    ------
    x_cat : (B, F) int64, 0 = unseen.
    x_multi : (B, G) float32 (bags, then dense blocks), or None when there are neither.
    output : (B,) logits.

    Examples
    --------
    >>> model = LogisticRegression(LRConfig(field_dims=(3, 4)))
    >>> model(torch.tensor([[1, 2], [2, 3]])).shape   # one logit per row
    torch.Size([2])
    """

    def __init__(self, config: LRConfig):
        super().__init__()
        self.config = config
        self.linear = FeaturesLinear(config)

    def forward(self, x_cat: torch.Tensor, x_multi: torch.Tensor | None = None) -> torch.Tensor:
        x_multi = _check_inputs(self.config, x_cat, x_multi)
        return self.linear(x_cat, x_multi)  # (B,)

    def __repr__(self) -> str:
        return f"LogisticRegression(field_dims={self.config.field_dims}, multi_dims={self.config.multi_dims})"


class FM(nn.Module):
    r"""Factorisation machine (Rendle, 2010) over field vectors.

    .. math:: \hat y = \sigma\Bigl(w_0 + \sum_f w_{f,x_f} + \sum_{i<j}^{M}\langle e_i, e_j\rangle\Bigr)

    with :math:`e_i` the embedding of field :math:`i`'s value (a bag: the mean of
    its values' embeddings) and the pairwise sum computed in :math:`O(MD)` by
    :func:`fm_interaction`. Each pair's weight is the inner product of two learned
    vectors, so a (user, genre) pair never seen together still gets an estimate.

    Shapes
    ------
    x_cat : (B, F) int64, 0 = unseen.
    x_multi : (B, G) float32 (bags, then dense blocks), or None when there are neither.
    output : (B,) logits.

    Examples
    --------
    >>> model = FM(FMConfig(field_dims=(3, 4), embed_dim=4))
    >>> model(torch.tensor([[1, 2], [2, 3]])).shape
    torch.Size([2])
    """

    def __init__(self, config: FMConfig):
        super().__init__()
        self.config = config
        self.linear = FeaturesLinear(config)
        self.embedding = FeaturesEmbedding(config)

    def forward(self, x_cat: torch.Tensor, x_multi: torch.Tensor | None = None) -> torch.Tensor:
        x_multi = _check_inputs(self.config, x_cat, x_multi)
        e = self.embedding(x_cat, x_multi)  # (B, M, D)
        return self.linear(x_cat, x_multi) + fm_interaction(e)  # (B,)

    def __repr__(self) -> str:
        c = self.config
        return f"FM(field_dims={c.field_dims}, multi_dims={c.multi_dims}, embed_dim={c.embed_dim})"


class SENetGate(nn.Module):
    r"""Squeeze-and-excitation over fields (Hu et al., 2018; FiBiNET, Huang et al., 2019).

    .. math:: z_f = \frac{1}{D}\sum_d e_{f,d}, \qquad
              a = \mathrm{ReLU}\big(W_2\, \mathrm{ReLU}(W_1 z)\big) \in \mathbb{R}^M, \qquad
              \tilde e_f = a_f\, e_f

    *Squeeze* summarises each field vector by its mean, *excitation* maps the M summaries
    through a bottleneck of ``max(1, M // reduction)`` units to one non-negative weight per
    field, so the model can amplify informative fields and damp the others, row by row.
    The last layer's bias starts at 1, so the gate starts as the identity
    (:math:`a \approx 1`): with a random bias the fields whose weight started below 0
    would be cut off by the ReLU for good (no gradient reaches them).

    Shapes: e (B, M, D) -> (gated e (B, M, D), weights (B, M)).

    Examples
    --------
    >>> gated, weights = SENetGate(n_fields=3)(torch.ones(2, 3, 4))
    >>> gated.shape, weights.shape
    (torch.Size([2, 3, 4]), torch.Size([2, 3]))
    """

    def __init__(self, n_fields: int, reduction: int = 2):
        super().__init__()
        hidden = max(1, n_fields // reduction)
        self.excite = nn.Sequential(nn.Linear(n_fields, hidden), nn.ReLU(), nn.Linear(hidden, n_fields), nn.ReLU())
        # The gate starts open: field vectors start near 0, so z ~ 0 and a ~ ReLU(last bias).
        # With PyTorch's random bias about half the fields would start (and, getting no
        # gradient through the ReLU, stay) at weight 0; a bias of 1 gives every field weight ~1.
        nn.init.ones_(self.excite[2].bias)

    def forward(self, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.excite(e.mean(dim=-1))  # (B, M)
        return e * a.unsqueeze(-1), a


class AttentionFusion(nn.Module):
    r"""Fuse S source vectors into one with attention weights conditioned on a context.

    .. math:: \alpha_s = \operatorname{softmax}_s\Big(\frac{\tanh(W_k v_s)^\top W_q c}{\sqrt{D}}\Big),
              \qquad v = \sum_s \alpha_s v_s

    (additive-style attention pooling, Bahdanau et al., 2015; the scaled dot product of
    Vaswani et al., 2017). The context :math:`c` is a summary of the row (here the mean
    of its categorical field vectors), so a row can lean on the source that knows its
    user or film best.

    Shapes: sources (B, S, D), context (B, D) -> (fused (B, D), weights (B, S)).

    Examples
    --------
    >>> fused, weights = AttentionFusion(dim=4)(torch.ones(2, 3, 4), torch.ones(2, 4))
    >>> fused.shape, weights.sum(dim=1).tolist()   # weights sum to 1 per row
    (torch.Size([2, 4]), [1.0, 1.0])
    """

    def __init__(self, dim: int):
        super().__init__()
        self.key = nn.Linear(dim, dim)
        self.query = nn.Linear(dim, dim)

    def forward(self, sources: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        keys = torch.tanh(self.key(sources))  # (B, S, D)
        query = self.query(context).unsqueeze(-1)  # (B, D, 1)
        scores = (keys @ query).squeeze(-1) / sources.shape[-1] ** 0.5  # (B, S)
        weights = torch.softmax(scores, dim=-1)
        return (weights.unsqueeze(-1) * sources).sum(dim=1), weights  # (B, D), (B, S)


class DeepFM(nn.Module):
    r"""DeepFM (Guo et al., 2017): an FM and an MLP that share one embedding layer.

    .. math:: \hat y = \sigma\bigl(y_{FM} + y_{DNN}\bigr), \qquad
              y_{DNN} = w^\top \mathrm{MLP}\bigl([e_1; \dots; e_M]\bigr) + b

    with :math:`y_{FM}` the logit of :class:`FM`. The FM part models order-2
    interactions explicitly, the MLP higher-order ones implicitly; sharing the
    embeddings means no pre-training and no hand-made cross features (the paper's
    point against Wide & Deep).

    Shapes
    ------
    x_cat : (B, F) int64, 0 = unseen.
    x_multi : (B, G) float32 (bags, then dense blocks), or None when there are neither.
    output : (B,) logits.

    Examples
    --------
    >>> model = DeepFM(DeepFMConfig(field_dims=(3, 4), embed_dim=4, hidden_dims=(8,)))
    >>> model(torch.tensor([[1, 2], [2, 3]])).shape
    torch.Size([2])
    """

    def __init__(self, config: DeepFMConfig):
        super().__init__()
        self.config = config
        self.linear = FeaturesLinear(config)
        self.embedding = FeaturesEmbedding(config)
        n_vectors = config.n_vectors
        if config.dense_fusion == "attention":
            self.fusion = AttentionFusion(config.embed_dim)
            n_vectors -= len(config.dense_dims) - 1  # the dense blocks become one vector
        if config.field_gate == "senet":
            self.gate = SENetGate(n_vectors)
        self.mlp = _mlp(n_vectors * config.embed_dim, config.hidden_dims, config.dropout)
        self.out = nn.Linear(config.hidden_dims[-1], 1)

    def field_vectors(self, x_cat: torch.Tensor, x_multi: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """The field vectors after the optional fusion and gate, (B, M', D), and their weights."""
        e = self.embedding(x_cat, x_multi)  # (B, M, D)
        extras = {}
        if self.config.dense_fusion == "attention":
            n_dense = len(self.config.dense_dims)
            context = e[:, : len(self.config.field_dims)].mean(dim=1)  # (B, D) the categorical fields
            fused, extras["fusion_weights"] = self.fusion(e[:, -n_dense:], context)
            e = torch.cat([e[:, :-n_dense], fused.unsqueeze(1)], dim=1)  # (B, M', D)
        if self.config.field_gate == "senet":
            e, extras["field_weights"] = self.gate(e)
        return e, extras

    def forward(self, x_cat: torch.Tensor, x_multi: torch.Tensor | None = None) -> torch.Tensor:
        x_multi = _check_inputs(self.config, x_cat, x_multi)
        e, _ = self.field_vectors(x_cat, x_multi)  # (B, M', D)
        y_fm = self.linear(x_cat, x_multi) + fm_interaction(e)  # (B,)
        y_dnn = self.out(self.mlp(e.flatten(1))).squeeze(-1)  # (B, K) -> (B, H) -> (B,)
        return y_fm + y_dnn

    def __repr__(self) -> str:
        c = self.config
        return (
            f"DeepFM(field_dims={c.field_dims}, multi_dims={c.multi_dims}, embed_dim={c.embed_dim}, "
            f"hidden_dims={c.hidden_dims})"
        )


class CrossLayer(nn.Module):
    r"""One DCN-V2 cross layer (Wang et al., 2021, Eq. 1), full-rank weight matrix.

    .. math:: x_{l+1} = x_0 \odot (W_l x_l + b_l) + x_l

    Layer :math:`l` raises the polynomial degree in :math:`x_0` by one; the
    residual term :math:`x_l` keeps the lower degrees. (The paper's low-rank
    mixture of experts, for large :math:`K`, is not needed at :math:`K \approx 100`.)

    Shapes
    ------
    x0, x : (B, K).
    output : (B, K).

    Examples
    --------
    >>> x0 = torch.ones(2, 4)
    >>> CrossLayer(4)(x0, x0).shape
    torch.Size([2, 4])
    """

    def __init__(self, dim: int):
        super().__init__()
        self.linear = nn.Linear(dim, dim)  # W_l (K, K) and b_l (K,)

    def forward(self, x0: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return x0 * self.linear(x) + x  # (B, K)


class DCNv2(nn.Module):
    r"""Deep & Cross Network V2 (Wang et al., 2021).

    The input is :math:`x_0 = [e_1; \dots; e_M]`; a stack of ``n_cross`` cross layers
    (:class:`CrossLayer`) maps it to :math:`x_L`, then

    .. math::
        \text{stacked:}\quad \hat y = \sigma\bigl(w^\top \mathrm{MLP}(x_L) + b\bigr), \qquad
        \text{parallel:}\quad \hat y = \sigma\bigl(w^\top [x_L; \mathrm{MLP}(x_0)] + b\bigr).

    There is no separate first-order term: :math:`x_L` keeps :math:`x_0` through the
    residuals, so the output layer sees every field's embedding directly.

    Shapes
    ------
    x_cat : (B, F) int64, 0 = unseen.
    x_multi : (B, G) float32 (bags, then dense blocks), or None when there are neither.
    output : (B,) logits.

    Examples
    --------
    >>> model = DCNv2(DCNv2Config(field_dims=(3, 4), embed_dim=4, hidden_dims=(8,)))
    >>> model(torch.tensor([[1, 2], [2, 3]])).shape
    torch.Size([2])
    """

    def __init__(self, config: DCNv2Config):
        super().__init__()
        self.config = config
        K = config.n_vectors * config.embed_dim
        self.embedding = FeaturesEmbedding(config)
        self.cross = nn.ModuleList(CrossLayer(K) for _ in range(config.n_cross))
        self.mlp = _mlp(K, config.hidden_dims, config.dropout)
        deep_out = config.hidden_dims[-1] if config.hidden_dims else K
        out_dim = deep_out if config.structure == "stacked" else K + (deep_out if config.hidden_dims else 0)
        self.out = nn.Linear(out_dim, 1)

    def cross_network(self, x0: torch.Tensor) -> torch.Tensor:
        """:math:`x_L` after all cross layers, (B, K)."""
        x = x0
        for layer in self.cross:
            x = layer(x0, x)  # (B, K)
        return x

    def forward(self, x_cat: torch.Tensor, x_multi: torch.Tensor | None = None) -> torch.Tensor:
        x_multi = _check_inputs(self.config, x_cat, x_multi)
        x0 = self.embedding(x_cat, x_multi).flatten(1)  # (B, M, D) -> (B, K)
        if self.config.structure == "stacked":
            h = self.mlp(self.cross_network(x0))  # (B, H)
        elif self.config.hidden_dims:
            h = torch.cat([self.cross_network(x0), self.mlp(x0)], dim=1)  # (B, K + H)
        else:
            h = self.cross_network(x0)  # (B, K)
        return self.out(h).squeeze(-1)  # (B,)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"DCNv2(field_dims={c.field_dims}, multi_dims={c.multi_dims}, embed_dim={c.embed_dim}, "
            f"n_cross={c.n_cross}, hidden_dims={c.hidden_dims}, structure={c.structure!r})"
        )


class NeuMF(nn.Module):
    r"""Neural matrix factorisation (He et al., 2017): GMF and an MLP on user and item ids.

    .. math::
        \phi^{GMF} = p_u^G \odot q_i^G, \qquad
        \phi^{MLP} = \mathrm{MLP}\bigl([p_u^M; q_i^M]\bigr), \qquad
        \hat y_{ui} = \sigma\bigl(h^\top [\phi^{GMF}; \phi^{MLP}] + b\bigr)

    The two branches have separate embeddings (the paper's choice: the best
    embedding size differs between them). With :math:`h` all ones on the GMF part
    and zero elsewhere this is plain matrix factorisation. We train from scratch:
    the paper pre-trains GMF and MLP and reports that it helps; we leave it out to
    keep one training loop for every model. Unseen ids (0) have zero vectors in
    both branches. Here the label is the CTR label (rating >= 4) and the loss
    the same log loss as for the other models.

    Shapes
    ------
    users, items : (B,) int64, 0 = unseen.
    output : (B,) logits.

    Examples
    --------
    >>> model = NeuMF(NeuMFConfig(n_users=3, n_items=4))
    >>> model(torch.tensor([1, 2]), torch.tensor([1, 3])).shape
    torch.Size([2])
    """

    def __init__(self, config: NeuMFConfig):
        super().__init__()
        self.config = config
        self.gmf_user = nn.Embedding(config.n_users, config.gmf_dim, padding_idx=0)
        self.gmf_item = nn.Embedding(config.n_items, config.gmf_dim, padding_idx=0)
        self.mlp_user = nn.Embedding(config.n_users, config.mlp_embed_dim, padding_idx=0)
        self.mlp_item = nn.Embedding(config.n_items, config.mlp_embed_dim, padding_idx=0)
        for emb in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
            nn.init.normal_(emb.weight, std=config.init_std)
            with torch.no_grad():
                emb.weight[0].zero_()
        self.mlp = _mlp(2 * config.mlp_embed_dim, config.hidden_dims, config.dropout)
        self.out = nn.Linear(config.gmf_dim + config.hidden_dims[-1], 1)  # h and b

    def _check(self, users: torch.Tensor, items: torch.Tensor) -> None:
        if users.dim() != 1 or users.shape != items.shape:
            raise ValueError(
                f"users and items must both have shape (B,), got {tuple(users.shape)} and {tuple(items.shape)}"
            )
        for name, ids, n in (("users", users, self.config.n_users), ("items", items, self.config.n_items)):
            if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= n):
                raise ValueError(f"{name} must hold codes in 0..{n - 1}, got {int(ids.min())}..{int(ids.max())}")

    def gmf(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """:math:`\\phi^{GMF} = p_u \\odot q_i`, (B, gmf_dim)."""
        return self.gmf_user(users) * self.gmf_item(items)  # (B, Dg)

    def mlp_branch(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """:math:`\\phi^{MLP}`, (B, hidden_dims[-1])."""
        return self.mlp(torch.cat([self.mlp_user(users), self.mlp_item(items)], dim=1))  # (B, 2Dm) -> (B, H)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        self._check(users, items)
        phi = torch.cat([self.gmf(users, items), self.mlp_branch(users, items)], dim=1)  # (B, Dg + H)
        return self.out(phi).squeeze(-1)  # (B,)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"NeuMF(n_users={c.n_users}, n_items={c.n_items}, gmf_dim={c.gmf_dim}, "
            f"mlp_embed_dim={c.mlp_embed_dim}, hidden_dims={c.hidden_dims})"
        )
