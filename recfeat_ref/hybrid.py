r"""A top-N ranker whose users and items are sums (or fusions) of feature fields.

Matrix factorisation gives every user and every item one free vector. A *hybrid*
factorisation model (LightFM, Kula, 2015) builds each vector from the entity's
*features* instead: the id is one feature among others (age group, occupation, genres,
decade, a popularity bucket, a text embedding, a graph embedding ...), each with its own
learned vector, and the entity's vector combines them:

.. math::
    p_u = \operatorname{fuse}\big(e^{U}_{1}(u), \dots, e^{U}_{M_U}(u)\big), \qquad
    q_i = \operatorname{fuse}\big(e^{I}_{1}(i), \dots, e^{I}_{M_I}(i)\big), \qquad
    \hat x_{ui} = p_u^\top q_i + b_i

with one *field vector* :math:`e_f \in \mathbb{R}^K` per field: a row of an embedding
table for a categorical field, the mean of the rows of its values for a multi-hot field
(genres), and a learned projection :math:`W_f^\top x_f` for a dense block (a pretrained
embedding). The item bias :math:`b_i = \sum_f c_f(i)` sums one learned scalar per field
(LightFM's feature biases). Training is Bayesian Personalized Ranking (Rendle et al.,
2009) with uniform negatives, exactly as :class:`~recfeat_ref.mf.BPRMF`; with the id
field alone the model *is* BPR-MF.

Four ways to combine the fields (``fusion``), the "combination" step of feature
engineering:

* ``"sum"``: :math:`\sum_f e_f` (LightFM);
* ``"concat"``: :math:`W [e_1; \dots; e_M]` with a learned :math:`K \times MK` matrix;
* ``"senet"``: a squeeze-and-excitation gate (:class:`~recfeat_ref.neural.SENetGate`)
  rescales each field vector by a learned, entity-dependent weight before the sum;
* ``"attention"``: :class:`~recfeat_ref.neural.AttentionFusion` pools the field vectors
  with softmax weights conditioned on their mean.

Because the score is a dot product of a user vector and an item vector, every user
field is already crossed with every item field (:math:`e^U_f{}^\top e^I_g` appears in
:math:`p_u^\top q_i` for ``"sum"``), as in a factorisation machine (Rendle, 2010).

References
----------
Kula, M. (2015). Metadata embeddings for user and item cold-start recommendations.
CBRecSys workshop, RecSys 2015. arXiv:1507.08439

Rendle, S., Freudenthaler, C., Gantner, Z. & Schmidt-Thieme, L. (2009). BPR: Bayesian
personalized ranking from implicit feedback. UAI 2009.

Rendle, S. (2010). Factorization machines. ICDM 2010, 995-1000.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from ._validation import (
    _LOOP_INTS,
    DataValidationError,
    _check_fields,
    _check_positive_int,
    _check_seed,
    _make_config,
    _preview,
    check_columns,
    check_dataframe,
)
from .mf import NegativeSampler, _AverageUserFallback, _FactorScores, bpr_objective
from .neural import AttentionFusion, SENetGate
from .preprocessing import IdEncoder
from .recommender import evaluate_topn
from .training import ImplicitRecommender, seed_everything

__all__ = ["FUSIONS", "EntityFeatures", "FeatureRanker", "FeatureRankerConfig", "FeatureTowers"]

FUSIONS = ("sum", "concat", "senet", "attention")


def _list_cell(value) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


class EntityFeatures:
    r"""The feature table of one side (users or items): categorical, multi-hot and dense fields.

    One row per entity, keyed by its id. Categorical columns are encoded with an
    :class:`~recfeat_ref.preprocessing.IdEncoder` fitted on the table (code 0 is never
    used here: every row has a value); multi-hot columns hold a list of values per row;
    dense blocks are float matrices with one row per entity (e.g. text or graph
    embeddings).

    These are *side information*: they describe the entity, not its interactions. A
    field computed from interactions (a popularity bucket, a graph embedding) must be
    computed from the training part only, by the caller; the chapter on the ablation
    does so.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per entity.
    id_col : str
        The column of unique, non-missing ids.
    categorical : sequence of str
        Columns encoded as one field each. Missing values raise (bucket or fill them first).
    multi_hot : sequence of str
        Columns holding a list of values per row (an empty list is allowed).
    dense : dict of str to array of shape (len(frame), d), optional
        Named dense blocks, row ``r`` describing ``frame.iloc[r]``; must be finite.

    Attributes
    ----------
    ids : numpy.ndarray (n,)
    field_names : list of str
        ``categorical + multi_hot + dense`` names, in that order (the id field is added by
        the model).
    codes : numpy.ndarray (n, F) int64
        Codes ``1..card_f`` per categorical field.
    cat_dims : tuple of int
        Table size per categorical field (``IdEncoder.n_classes_``, row 0 included).
    bags : list of numpy.ndarray (n, G_c) float32
        0/1 membership per multi-hot column; ``vocabularies`` holds the sorted values.
    dense : list of numpy.ndarray (n, d) float32

    Examples
    --------
    >>> users = pd.DataFrame({"user_id": [7, 8], "gender": ["F", "M"], "tags": [["a"], ["a", "b"]]})
    >>> feats = EntityFeatures(users, "user_id", categorical=["gender"], multi_hot=["tags"],
    ...                        dense={"vec": np.ones((2, 3))})
    >>> feats.field_names, feats.codes.tolist(), feats.bags[0].tolist()
    (['gender', 'tags', 'vec'], [[1], [2]], [[1.0, 0.0], [1.0, 1.0]])
    >>> feats.select(["vec"]).field_names
    ['vec']
    """

    def __init__(self, frame: pd.DataFrame, id_col: str, categorical=(), multi_hot=(), dense=None):
        check_dataframe(frame, "EntityFeatures")
        categorical, multi_hot = list(categorical), list(multi_hot)
        dense = dict(dense or {})
        names = categorical + multi_hot + list(dense)
        if len(set(names)) != len(names) or "id" in names:
            raise ValueError(f"EntityFeatures: field names must be unique and not 'id', got {names}")
        check_columns(frame, [id_col, *categorical, *multi_hot], "EntityFeatures")
        ids = frame[id_col]
        bad = ids.isna() | ids.duplicated(keep=False)
        if bad.any():
            raise DataValidationError(
                f"EntityFeatures: column {id_col!r} must hold unique, non-missing ids; "
                f"repeated or missing: {_preview(ids[bad].tolist())}"
            )
        self.id_col = id_col
        self.ids = ids.to_numpy()
        self.categorical, self.multi_hot = categorical, multi_hot
        self.dense_names = list(dense)
        self.encoders, codes = {}, []
        for col in categorical:
            values = frame[col]
            if values.isna().any():
                raise DataValidationError(
                    f"EntityFeatures: categorical column {col!r} has missing values at rows "
                    f"{_preview(frame.index[values.isna().to_numpy()].tolist())}; bucket or fill them first"
                )
            enc = IdEncoder().fit(values)
            self.encoders[col] = enc
            codes.append(enc.transform(values))
        self.codes = np.stack(codes, axis=1).astype(np.int64) if codes else np.zeros((len(frame), 0), np.int64)
        self.cat_dims = tuple(self.encoders[c].n_classes_ for c in categorical)
        self.vocabularies, self.bags = {}, []
        for col in multi_hot:
            values = frame[col]
            bad = ~values.map(_list_cell)
            if bad.any():
                raise DataValidationError(
                    f"EntityFeatures: multi-hot column {col!r} must hold a list per row; found "
                    f"{_preview(values[bad].head(5).tolist())}"
                )
            exploded = values.reset_index(drop=True).explode().dropna()
            vocab = np.unique(exploded.to_numpy())
            bag = np.zeros((len(frame), len(vocab)), dtype=np.float32)
            if len(vocab):
                bag[exploded.index.to_numpy(), pd.Index(vocab).get_indexer(exploded.to_numpy())] = 1.0
            self.vocabularies[col] = vocab
            self.bags.append(bag)
        self.dense = []
        for name, block in dense.items():
            block = np.asarray(block, dtype=np.float32)
            if block.ndim != 2 or len(block) != len(frame):
                raise DataValidationError(
                    f"EntityFeatures: dense block {name!r} must have shape ({len(frame)}, d), got {block.shape}"
                )
            if not np.isfinite(block).all():
                raise DataValidationError(f"EntityFeatures: dense block {name!r} has NaN or infinite values")
            self.dense.append(block)
        self._index = pd.Index(self.ids)

    @property
    def field_names(self) -> list[str]:
        return self.categorical + self.multi_hot + self.dense_names

    def select(self, names) -> EntityFeatures:
        """A copy that keeps only the fields in ``names`` (any order; unknown names raise)."""
        names = list(names)
        unknown = sorted(set(names) - set(self.field_names))
        if unknown:
            raise ValueError(f"EntityFeatures.select: unknown field(s) {unknown}; fields are {self.field_names}")
        out = object.__new__(EntityFeatures)
        out.__dict__.update(self.__dict__)
        cat = [i for i, c in enumerate(self.categorical) if c in names]
        out.categorical = [self.categorical[i] for i in cat]
        out.codes, out.cat_dims = self.codes[:, cat], tuple(self.cat_dims[i] for i in cat)
        out.encoders = {c: self.encoders[c] for c in out.categorical}
        multi = [i for i, c in enumerate(self.multi_hot) if c in names]
        out.multi_hot, out.bags = [self.multi_hot[i] for i in multi], [self.bags[i] for i in multi]
        out.vocabularies = {c: self.vocabularies[c] for c in out.multi_hot}
        dense = [i for i, c in enumerate(self.dense_names) if c in names]
        out.dense_names, out.dense = [self.dense_names[i] for i in dense], [self.dense[i] for i in dense]
        return out

    def rows(self, ids, where: str) -> np.ndarray:
        """Row positions of ``ids``; ids without a row raise, naming them."""
        ids = np.asarray(ids)
        pos = self._index.get_indexer(ids)
        if (pos < 0).any():
            raise DataValidationError(
                f"{where}: ids {_preview(pd.unique(ids[pos < 0]).tolist())} have no row in the feature "
                f"table (column {self.id_col!r}); every training id needs its features"
            )
        return pos

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"EntityFeatures(n={len(self)}, fields={self.field_names})"


@dataclass(frozen=True)
class _TowerInputs:
    """Tensors of one side, rows aligned with the model's training index."""

    id_index: torch.Tensor  # (n,) int64: which id-embedding row each entity uses
    codes: torch.Tensor  # (n, F) int64
    bags: tuple[torch.Tensor, ...]  # (n, G_c) float32 each
    dense: tuple[torch.Tensor, ...]  # (n, d) float32 each

    def to(self, device) -> _TowerInputs:
        return _TowerInputs(self.id_index.to(device), self.codes.to(device),
                            tuple(b.to(device) for b in self.bags), tuple(d.to(device) for d in self.dense))

    @classmethod
    def from_features(cls, features: EntityFeatures | None, rows: np.ndarray | None, n: int) -> _TowerInputs:
        if features is None:
            return cls(torch.arange(n), torch.zeros((n, 0), dtype=torch.int64), (), ())
        return cls(
            torch.arange(n),
            torch.from_numpy(features.codes[rows]),
            tuple(torch.from_numpy(b[rows]) for b in features.bags),
            tuple(torch.from_numpy(d[rows]) for d in features.dense),
        )


class _Tower(nn.Module):
    """Field vectors of every entity of one side, fused into one vector (and a bias) each."""

    def __init__(self, n: int, features: EntityFeatures | None, dim: int, fusion: str, bias: bool,
                 use_ids: bool, init_std: float):
        super().__init__()
        cat_dims = features.cat_dims if features is not None else ()
        bag_dims = tuple(b.shape[1] for b in features.bags) if features is not None else ()
        dense_dims = tuple(d.shape[1] for d in features.dense) if features is not None else ()
        self.use_ids, self.bias = use_ids, bias
        width = dim + 1 if bias else dim  # the last column is the field's scalar bias
        self.ids = nn.Embedding(n, width) if use_ids else None
        # All categorical fields share one table, field f owning rows offsets[f]..: one
        # lookup per step instead of one per field (the towers run at every step).
        self.cats = nn.Embedding(sum(cat_dims), width) if cat_dims else None
        self.register_buffer("offsets", torch.tensor(np.cumsum((0, *cat_dims[:-1])), dtype=torch.int64))
        self.bags = nn.ParameterList(nn.Parameter(torch.empty(g, width)) for g in bag_dims)
        self.dense = nn.ModuleList(nn.Linear(d, width, bias=False) for d in dense_dims)
        self.n_fields = int(use_ids) + len(cat_dims) + len(bag_dims) + len(dense_dims)
        if self.n_fields == 0:
            raise ValueError("a tower needs at least one field: keep the ids or give features")
        tables = [e.weight for e in (self.ids, self.cats) if e is not None] + list(self.bags)
        for table in tables:
            nn.init.normal_(table, std=init_std)
        for layer in self.dense:  # the projection of a unit-scale block starts at the tables' scale
            nn.init.normal_(layer.weight, std=init_std / max(1.0, layer.in_features**0.5))
        if bias:  # the scalar biases start at 0, as BPR-MF's item bias
            with torch.no_grad():
                for table in [*tables, *(layer.weight.T for layer in self.dense)]:
                    table[:, -1] = 0.0
        self.fusion = fusion
        if fusion == "concat":
            self.project = nn.Linear(self.n_fields * dim, dim, bias=False)
        elif fusion == "senet":
            self.gate = SENetGate(self.n_fields)
        elif fusion == "attention":
            self.attend = AttentionFusion(dim)
        self.dim = dim

    def field_vectors(self, x: _TowerInputs) -> torch.Tensor:
        """(n, M, K+1) when the side has a bias, else (n, M, K)."""
        blocks = [self.ids(x.id_index).unsqueeze(1)] if self.use_ids else []  # (n, 1, width)
        if self.cats is not None:
            blocks.append(self.cats(x.codes + self.offsets))  # (n, F, width)
        for bag, table in zip(x.bags, self.bags):  # the mean of the values' rows
            blocks.append((bag @ table / bag.sum(dim=1, keepdim=True).clamp(min=1.0)).unsqueeze(1))
        blocks += [proj(block).unsqueeze(1) for block, proj in zip(x.dense, self.dense)]
        return torch.cat(blocks, dim=1)

    def forward(self, x: _TowerInputs) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(vectors (n, K), bias (n,) or None, field weights (n, M) or None)."""
        e = self.field_vectors(x)
        b = e[..., -1].sum(dim=1) if self.bias else None  # (n,) sum of the fields' scalar biases
        e = e[..., : self.dim]  # (n, M, K)
        weights = None
        if self.fusion == "sum":
            v = e.sum(dim=1)
        elif self.fusion == "concat":
            v = self.project(e.flatten(1))
        elif self.fusion == "senet":
            e, weights = self.gate(e)
            v = e.sum(dim=1)
        else:
            v, weights = self.attend(e, e.mean(dim=1))
        return v, b, weights


class FeatureTowers(nn.Module):
    """The user tower and the item tower of :class:`FeatureRanker` (the item side has the biases).

    Examples
    --------
    Without feature tables each tower holds only the ids (the item rows carry a bias column):

    >>> towers = FeatureTowers(3, 4, None, None, FeatureRankerConfig(n_factors=8))
    >>> towers.users.ids.weight.shape, towers.items.ids.weight.shape
    (torch.Size([3, 8]), torch.Size([4, 9]))
    """

    def __init__(self, n_users: int, n_items: int, user_features: EntityFeatures | None,
                 item_features: EntityFeatures | None, config: FeatureRankerConfig):
        super().__init__()
        self.users = _Tower(n_users, user_features, config.n_factors, config.fusion, False,
                            config.user_ids, config.init_std)
        self.items = _Tower(n_items, item_features, config.n_factors, config.fusion, True,
                            config.item_ids, config.init_std)


@dataclass(frozen=True)
class FeatureRankerConfig:
    r"""Settings of :class:`FeatureRanker`; the training settings are :class:`~recfeat_ref.mf.BPRConfig`'s.

    Attributes
    ----------
    n_factors : int
        64, as BPR-MF.
    fusion : {"sum", "concat", "senet", "attention"}
        How the field vectors of an entity are combined (module docstring).
    user_ids, item_ids : bool
        True: the id is one of the fields. False: the entity is its features only.
    lr : float
        5e-3: BPR-MF's Adam step. With the id field alone the two models train alike:
        validation NDCG@10 at epoch 60 was 0.2493 here against 0.2486 for
        :class:`~recfeat_ref.mf.BPRMF` (ML-100K, 8:1:1, seed 0, same loss curve within
        0.001); with 1e-2 the id-only model stopped earlier and lower (test 0.275).
    reg : float
        7e-3: L2 weight on the batch's fused vectors :math:`p_u, q_i, q_j` and biases
        (:func:`~recfeat_ref.mf.bpr_objective`), BPR-MF's value.
    batch_size : int
        4096, as BPR-MF. Unlike BPR-MF, an epoch's cost is per *step* (each step computes
        every user's and item's vector), so ``batch_size=8192`` with ``lr=1e-2`` halves
        the steps. Measured by ``benchmarks/bench_hybrid.py`` (results in
        ``benchmarks/results/hybrid_ml100k*.json``; ML-100K, 8:1:1, seed 0, every
        categorical and multi-hot group of :mod:`recfeat_ref.ablation`, one CPU thread):
        an epoch takes 0.10 s instead of 0.16 with ``"sum"`` and 0.31 instead of 0.60
        with ``"attention"``; with ``patience=5`` the best validation NDCG@10 is 0.2448
        instead of 0.2494 (ids alone: 0.2451 instead of 0.2493). The ablation chapter
        pays that for every variant alike, to keep its CPU time in bounds.
    patience : int
        3, as BPR-MF. One validation ranking varies by about 0.003 between evaluations,
        and with 3 the id-only model stopped on a lucky evaluation at epoch 30 (validation
        NDCG@10 0.2421); with 5 it trained on to epoch 60 (0.2493). Comparisons of
        variants should use 5.
    num_epochs, eval_every, k, init_std, seed, device, progress, cpu_threads
        As :class:`~recfeat_ref.mf.BPRConfig`.

    Examples
    --------
    >>> cfg = FeatureRankerConfig(fusion="senet")
    >>> cfg.fusion, cfg.n_factors
    ('senet', 64)
    >>> FeatureRankerConfig(fusion="max")
    Traceback (most recent call last):
    ...
    ValueError: fusion must be one of ('sum', 'concat', 'senet', 'attention'), got 'max'
    """

    n_factors: int = 64
    fusion: str = "sum"
    user_ids: bool = True
    item_ids: bool = True
    lr: float = 5e-3
    reg: float = 7e-3
    num_epochs: int = 100
    batch_size: int = 4096
    eval_every: int = 5
    patience: int = 3
    k: int = 10
    init_std: float = 0.1
    seed: int = 0
    device: str | None = None
    progress: bool = True
    cpu_threads: int | None = 1

    def __post_init__(self):
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}")
        _check_fields(self, ("n_factors", *_LOOP_INTS), positive=("lr", "init_std"), non_negative=("reg",),
                      flags=("user_ids", "item_ids"))


class FeatureRanker(_AverageUserFallback, _FactorScores, ImplicitRecommender):
    r"""BPR-trained two-tower ranker over feature fields (LightFM-style hybrid factorisation).

    :math:`\hat x_{ui} = p_u^\top q_i + b_i`, with :math:`p_u` and :math:`q_i` fused from
    the entity's field vectors (module docstring). Each training step computes the
    towers for *every* training user and item (943 and about 1,650 on ML-100K, cheaper
    than per-row lookups when the batch is larger than the catalogue), then takes the
    batch's rows and an Adam step on :func:`~recfeat_ref.mf.bpr_objective` with uniform
    negatives (:class:`~recfeat_ref.mf.NegativeSampler`). The epoch loop and early
    stopping on validation NDCG@k are :class:`~recfeat_ref.training.ImplicitRecommender`'s.

    Parameters
    ----------
    user_features, item_features : EntityFeatures or None
        The feature tables; None: that side has its id field only. Every training user
        (item) must have a row.
    config : FeatureRankerConfig, optional
    **params
        Fields of :class:`FeatureRankerConfig` that override ``config``.
    user_col, item_col : str (keyword only)

    Attributes
    ----------
    model_ : FeatureTowers (CPU, eval mode)
    user_factors_, item_factors_, item_bias_ : ndarrays (U, K), (I, K), (I,)
        The fused vectors of the training users and items.
    user_field_names_, item_field_names_ : list of str
        ``"id"`` (when used) then the feature fields, in the towers' order.
    history_ : pandas.DataFrame ; best_epoch_ : int
        As :class:`~recfeat_ref.mf.BPRMF`.

    Notes
    -----
    Scoring and the fallback are BPR-MF's (:math:`\mu = b_u = 0`). Unseen users are
    scored as the average training user; the
    :class:`~recfeat_ref.recommender.Recommender` contract ranks training items only.

    Shapes
    ------
    predict(df) : (len(df),); score_items(users) : (len(users), I).

    Examples
    --------
    >>> items = pd.DataFrame({"item_id": [1, 2, 3], "genres": [["a"], ["a", "b"], ["b"]]})
    >>> feats = EntityFeatures(items, "item_id", multi_hot=["genres"])
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 2, 3]})
    >>> model = FeatureRanker(None, feats, n_factors=4, num_epochs=2, progress=False, device="cpu").fit(train)
    >>> model.score_items([1, 2]).shape, model.item_field_names_
    ((2, 3), ['id', 'genres'])
    """

    def __init__(self, user_features: EntityFeatures | None = None, item_features: EntityFeatures | None = None,
                 config: FeatureRankerConfig | None = None, *, user_col: str | None = None,
                 item_col: str | None = None, **params):
        kwargs = {k: v for k, v in (("user_col", user_col), ("item_col", item_col)) if v is not None}
        super().__init__(**kwargs)
        for name, feats in (("user_features", user_features), ("item_features", item_features)):
            if feats is not None and not isinstance(feats, EntityFeatures):
                raise TypeError(f"{name} must be an EntityFeatures or None, got {type(feats).__name__}")
        self.user_features, self.item_features = user_features, item_features
        self.config = _make_config(FeatureRankerConfig, config, params)

    def _inputs(self) -> tuple[_TowerInputs, _TowerInputs]:
        """Tower inputs whose row r is training user (item) index r."""
        u_rows = None if self.user_features is None else self.user_features.rows(self.user_ids_, "fit (users)")
        i_rows = None if self.item_features is None else self.item_features.rows(self.item_ids_, "fit (items)")
        return (_TowerInputs.from_features(self.user_features, u_rows, self.n_users_),
                _TowerInputs.from_features(self.item_features, i_rows, self.n_items_))

    def _train(self, users, items, device):
        cfg = self.config
        x_users, x_items = (x.to(device) for x in self._inputs())
        sampler = NegativeSampler(users, items, self.n_items_)
        u_all = torch.as_tensor(users, dtype=torch.int64)  # (N,)
        i_all = torch.as_tensor(items, dtype=torch.int64)  # (N,)
        n = len(u_all)

        seed_everything(cfg.seed)
        net = FeatureTowers(self.n_users_, self.n_items_, self.user_features, self.item_features, cfg).to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        gen = torch.Generator().manual_seed(cfg.seed)
        u_dev, i_dev = u_all.to(device), i_all.to(device)

        def epoch(_):
            net.train()
            neg = sampler.sample(u_all, gen).to(device)  # (N,)
            perm = torch.randperm(n, generator=gen).to(device)
            total = torch.zeros((), device=device)
            for lo in range(0, n, cfg.batch_size):
                idx = perm[lo : lo + cfg.batch_size]  # (B,)
                p, _, _ = net.users(x_users)  # (U, K): every user, once per step
                q, c, _ = net.items(x_items)  # (I, K), (I,)
                i, j = i_dev[idx], neg[idx]
                loss = bpr_objective(p[u_dev[idx]], q[i], q[j], c[i], c[j], cfg.reg)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach() * len(idx)
            return {"train_loss": float(total) / n}

        self._x = (x_users, x_items)
        self._run_epochs(epoch, net, lambda: self._export(net))
        self.model_ = net.cpu().eval()
        self._x = tuple(x.to("cpu") for x in self._x)
        self._export(self.model_)
        self.user_field_names_ = (["id"] if cfg.user_ids else []) + (
            self.user_features.field_names if self.user_features is not None else [])
        self.item_field_names_ = (["id"] if cfg.item_ids else []) + (
            self.item_features.field_names if self.item_features is not None else [])

    def _export(self, net: FeatureTowers, x_users: _TowerInputs | None = None,
                x_items: _TowerInputs | None = None) -> None:
        """NumPy copies of the fused vectors (from the given inputs, default the training ones)."""
        was_training = net.training
        net.eval()
        with torch.no_grad():
            p, _, _ = net.users(x_users if x_users is not None else self._x[0])
            q, c, _ = net.items(x_items if x_items is not None else self._x[1])
        net.train(was_training)
        self.user_factors_ = p.cpu().double().numpy()  # (U, K)
        self.item_factors_ = q.cpu().double().numpy()  # (I, K)
        self.item_bias_ = c.cpu().double().numpy()  # (I,)
        self.user_bias_, self.global_mean_ = np.zeros(len(self.user_factors_)), 0.0  # as BPR-MF: they cancel

    def field_weights(self, side: str = "items") -> pd.DataFrame:
        """The per-entity field weights of a ``"senet"`` or ``"attention"`` model, one column per field.

        Rows are the training users (items) by id. Raises for ``"sum"`` and ``"concat"``,
        which have no weights.
        """
        self._check_fitted()
        if side not in ("users", "items"):
            raise ValueError(f"side must be 'users' or 'items', got {side!r}")
        if self.config.fusion not in ("senet", "attention"):
            raise ValueError(f"fusion={self.config.fusion!r} has no field weights; use 'senet' or 'attention'")
        tower, x = (self.model_.users, self._x[0]) if side == "users" else (self.model_.items, self._x[1])
        with torch.no_grad():
            _, _, w = tower(x)
        names = self.user_field_names_ if side == "users" else self.item_field_names_
        ids = self.user_ids_ if side == "users" else self.item_ids_
        return pd.DataFrame(w.numpy(), columns=names, index=pd.Index(ids, name=self.user_col if side == "users" else self.item_col))

    def permutation_importance(self, train: pd.DataFrame, test: pd.DataFrame, n_repeats: int = 3,
                               seed: int = 0) -> pd.DataFrame:
        """Drop of test NDCG@k when one field's values are shuffled across users (items).

        The ranking counterpart of Breiman's (2001) permutation importance: for each field
        of each side, the rows of that field's input (a categorical column, a multi-hot
        block, a dense block, or the id-embedding assignment) are permuted among the
        training users (items), the scores recomputed and
        :func:`~recfeat_ref.recommender.evaluate_topn` run on ``test`` (``train`` excluded
        from the candidates). The model's weights never change.

        Returns
        -------
        pandas.DataFrame
            Index ``"users: <field>"`` / ``"items: <field>"``; columns ``importance_mean``
            and ``importance_std`` over the repeats; sorted, largest drop first.
        """
        self._check_fitted()
        _check_positive_int("n_repeats", n_repeats)
        _check_seed(seed)
        rng = np.random.default_rng(seed)
        k = self.config.k
        reference = evaluate_topn(self, train, test, k=k)["ndcg_at_k"]
        saved = (self.user_factors_, self.item_factors_, self.item_bias_)
        rows = {}
        try:
            for side, names, x in (("users", self.user_field_names_, self._x[0]),
                                   ("items", self.item_field_names_, self._x[1])):
                for f, name in enumerate(names):
                    drops = []
                    for _ in range(n_repeats):
                        shuffled = _permute_field(x, f if "id" not in names else f - 1, name == "id",
                                                  torch.as_tensor(rng.permutation(len(x.id_index))))
                        if side == "users":
                            self._export(self.model_, x_users=shuffled)
                        else:
                            self._export(self.model_, x_items=shuffled)
                        drops.append(reference - evaluate_topn(self, train, test, k=k)["ndcg_at_k"])
                        self.user_factors_, self.item_factors_, self.item_bias_ = saved
                    rows[f"{side}: {name}"] = {"importance_mean": float(np.mean(drops)),
                                               "importance_std": float(np.std(drops))}
        finally:
            self.user_factors_, self.item_factors_, self.item_bias_ = saved
        return pd.DataFrame(rows).T.sort_values("importance_mean", ascending=False)

    def __repr__(self) -> str:
        u = self.user_features.field_names if self.user_features is not None else []
        i = self.item_features.field_names if self.item_features is not None else []
        return f"FeatureRanker(user_fields={u}, item_fields={i}, config={self.config!r})"


def _permute_field(x: _TowerInputs, f: int, is_id: bool, perm: torch.Tensor) -> _TowerInputs:
    """``x`` with field ``f`` (counted without the id field) permuted across rows."""
    if is_id:
        return _TowerInputs(x.id_index[perm], x.codes, x.bags, x.dense)
    n_cat, n_bag = x.codes.shape[1], len(x.bags)
    if f < n_cat:
        codes = x.codes.clone()
        codes[:, f] = codes[perm, f]
        return _TowerInputs(x.id_index, codes, x.bags, x.dense)
    if f < n_cat + n_bag:
        bags = list(x.bags)
        bags[f - n_cat] = bags[f - n_cat][perm]
        return _TowerInputs(x.id_index, x.codes, tuple(bags), x.dense)
    dense = list(x.dense)
    dense[f - n_cat - n_bag] = dense[f - n_cat - n_bag][perm]
    return _TowerInputs(x.id_index, x.codes, x.bags, tuple(dense))
