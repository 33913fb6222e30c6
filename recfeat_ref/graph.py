r"""Graph neural networks for collaborative filtering: LightGCN.

The training interactions form a bipartite graph: one node per user, one per item, an
edge :math:`u - i` for every positive. LightGCN (He et al., 2020) learns one *ego*
embedding per node, :math:`E^{(0)} \in \mathbb{R}^{(U+I) \times K}`, and smooths it over
the graph with a propagation that has no weights and no non-linearity:

.. math::
    E^{(k+1)} = \tilde A \, E^{(k)}, \qquad
    \tilde A = D^{-1/2} A D^{-1/2}, \qquad
    A = \begin{pmatrix} 0 & R \\ R^\top & 0 \end{pmatrix},

with :math:`R \in \{0,1\}^{U \times I}` the interaction matrix and :math:`D` the diagonal
degree matrix of :math:`A`. Row by row, :math:`e_u^{(k+1)} = \sum_{i \in N_u}
e_i^{(k)} / \sqrt{|N_u||N_i|}`: a user becomes the (normalised) sum of the items they
interacted with, an item the sum of its users; after two layers a user has received the
embeddings of the users who share their items. The final embedding is the layer mean

.. math:: e = \sum_{k=0}^{L} \alpha_k E^{(k)}, \qquad \alpha_k = \frac{1}{L+1},

and the score :math:`\hat y_{ui} = e_u^\top e_i`. With :math:`L = 0` this is plain matrix
factorisation. Training uses the BPR loss (Rendle et al., 2009) of
:func:`recfeat_ref.mf.bpr_loss` on triples drawn by :class:`recfeat_ref.mf.NegativeSampler`,
plus an L2 penalty on the *ego* embeddings of the batch, as in the paper.

Notation: ``U``/``I`` numbers of training users/items, ``N`` positives, ``K`` the
embedding size, ``L`` the number of layers, ``B`` the batch size. Node ``u`` is user
index ``u``; node ``U + i`` is item index ``i``.

Cost
----
The propagation runs over the whole graph at every optimisation step (the embeddings
of a batch's users depend on all their neighbours' embeddings), :math:`O(L \cdot 2N
\cdot K)` multiply-adds forward and the same backward, against :math:`O(BK)` for
matrix factorisation; there are :math:`N / B` steps per epoch, so the batch size sets
the cost. On ML-100K (80,000 training positives, one CPU thread, a shared 2-core
machine) an epoch took about 0.2 s of CPU time with the defaults (``batch_size=4096``,
two layers), 0.25 s with batches of 2048, 0.45 s with 1024 and 0.12 s with 8192;
0.06 s with ``n_layers=0``, as much as :class:`~recfeat_ref.mf.BPRMF`. RecBole's
LightGCN (two layers, batches of 2048) took 0.87 s per epoch on the same kind of
machine (``benchmarks/results/recbole_ml100k_811.json``). Two choices matter: the
adjacency is multiplied in CSR layout with a backward that reuses it
(:class:`_SymmetricSparseMM`), and the penalty avoids a gather
(:func:`lightgcn_objective`).

References
----------
.. [1] X. He, K. Deng, X. Wang, Y. Li, Y. Zhang and M. Wang, "LightGCN: Simplifying
   and Powering Graph Convolution Network for Recommendation", SIGIR 2020.
.. [2] T. N. Kipf and M. Welling, "Semi-Supervised Classification with Graph
   Convolutional Networks", ICLR 2017 (the symmetric normalisation).
.. [3] S. Rendle, C. Freudenthaler, Z. Gantner and L. Schmidt-Thieme, "BPR: Bayesian
   Personalized Ranking from Implicit Feedback", UAI 2009.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._validation import (
    _LOOP_INTS,
    _check_fields,
    _check_positive_int,
    _make_config,
)
from .mf import NegativeSampler, bpr_loss
from .training import ImplicitRecommender, seed_everything

__all__ = ["LightGCN", "LightGCNConfig", "lightgcn_objective", "normalized_adjacency", "propagate", "to_csr"]


def normalized_adjacency(users, items, n_users: int, n_items: int) -> torch.Tensor:
    r"""The symmetric-normalised adjacency :math:`D^{-1/2} A D^{-1/2}` of the user-item graph.

    .. math::
        \tilde A_{vw} = \frac{A_{vw}}{\sqrt{d_v d_w}}, \qquad d_v = \sum_w A_{vw},

    the normalisation of graph convolutional networks (Kipf and Welling, 2017) that
    LightGCN keeps (He et al., 2020, Eq. 3). ``A`` is binary: a repeated
    ``(user, item)`` pair is one edge. A node of degree 0 (a user or item index with no
    interaction) has an all-zero row and column; :math:`d^{-1/2}` is set to 0 there
    instead of dividing by zero, so no NaN appears and such a node propagates nothing.

    Parameters
    ----------
    users, items : array-like of int, shape (N,)
        The interactions, as indices ``0..n_users-1`` and ``0..n_items-1``.
    n_users, n_items : int
        Numbers of user and item nodes ``U`` and ``I``.

    Returns
    -------
    torch.Tensor
        Sparse COO tensor (coalesced, float32) of shape ``(U + I, U + I)``; users are
        nodes ``0..U-1``, item ``i`` is node ``U + i``. It is symmetric.

    Examples
    --------
    >>> adj = normalized_adjacency([0, 0, 1], [0, 1, 1], n_users=2, n_items=2)
    >>> adj.to_dense()[0]  # user 0 (degree 2) -> items 0 (degree 1) and 1 (degree 2)
    tensor([0.0000, 0.0000, 0.7071, 0.5000])
    """
    _check_positive_int("n_users", n_users)
    _check_positive_int("n_items", n_items)
    u = torch.as_tensor(np.asarray(users), dtype=torch.int64)
    i = torch.as_tensor(np.asarray(items), dtype=torch.int64)
    if u.shape != i.shape or u.dim() != 1:
        raise ValueError(f"users and items must be 1-D of equal length, got shapes {tuple(u.shape)} and {tuple(i.shape)}")
    for name, idx, size in (("users", u, n_users), ("items", i, n_items)):
        if len(idx) and (idx.min() < 0 or idx.max() >= size):
            raise ValueError(f"{name} must lie in 0..{size - 1}, got {int(idx.min())}..{int(idx.max())}")
    n = n_users + n_items
    pairs = torch.unique(u * n_items + i)  # (E,) distinct edges: A is binary
    u, i = torch.div(pairs, n_items, rounding_mode="floor"), pairs % n_items  # (E,)
    rows = torch.cat([u, n_users + i])  # (2E,) both directions: A is symmetric
    cols = torch.cat([n_users + i, u])  # (2E,)
    degree = torch.bincount(rows, minlength=n).double()  # (U+I,)
    d_inv_sqrt = torch.where(degree > 0, degree.clamp(min=1).rsqrt(), torch.zeros_like(degree))  # (U+I,) 0 if isolated
    values = (d_inv_sqrt[rows] * d_inv_sqrt[cols]).float()  # (2E,)
    return torch.sparse_coo_tensor(torch.stack([rows, cols]), values, (n, n), check_invariants=True).coalesce()


class _SymmetricSparseMM(torch.autograd.Function):
    r""":math:`Y = \tilde A X` for a *symmetric* sparse :math:`\tilde A`; backward :math:`\partial X = \tilde A\, \partial Y`.

    The gradient of :math:`\tilde A X` with respect to :math:`X` is :math:`\tilde A^\top
    \partial Y`; since :math:`\tilde A^\top = \tilde A`, the backward pass is the same
    product as the forward one. Torch's generic backward of :func:`torch.sparse.mm`
    transposes the matrix at every call, which made a CSR training step several times
    slower on the CPU.
    """

    @staticmethod
    def forward(ctx, adj, x):
        ctx.adj = adj
        return torch.sparse.mm(adj, x)

    @staticmethod
    def backward(ctx, grad):
        return None, torch.sparse.mm(ctx.adj, grad)


def to_csr(adj: torch.Tensor) -> torch.Tensor:
    """``adj`` in compressed sparse row layout, the fastest for :func:`torch.sparse.mm` on the CPU.

    Torch's warning that CSR support is in beta is silenced: only ``sparse.mm`` with a
    dense right-hand side is used, which is stable.

    Examples
    --------
    >>> csr = to_csr(torch.eye(2).to_sparse())
    >>> csr.layout, csr.to_dense().tolist()
    (torch.sparse_csr, [[1.0, 0.0], [0.0, 1.0]])
    """
    if adj.layout == torch.sparse_csr:
        return adj
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return adj.to_sparse_csr()


def propagate(adj: torch.Tensor, emb0: torch.Tensor, n_layers: int) -> torch.Tensor:
    r"""LightGCN's layer combination: the mean of :math:`E^{(0)}, \tilde A E^{(0)}, \dots, \tilde A^L E^{(0)}`.

    .. math:: E = \frac{1}{L+1} \sum_{k=0}^{L} E^{(k)}, \qquad E^{(k+1)} = \tilde A E^{(k)}

    (He et al., 2020, Eqs. 3-4, with :math:`\alpha_k = 1/(L+1)`). Each layer is one
    :func:`torch.sparse.mm`; gradients flow to ``emb0``, computed with the same
    product because ``adj`` is symmetric (:class:`_SymmetricSparseMM`).

    Parameters
    ----------
    adj : torch.Tensor
        Sparse ``(M, M)`` *symmetric* normalised adjacency, from
        :func:`normalized_adjacency` (COO), or :func:`to_csr` of it (faster).
    emb0 : torch.Tensor
        Dense ``(M, K)`` ego embeddings :math:`E^{(0)}`.
    n_layers : int
        ``L >= 0``; 0 returns ``emb0`` itself.

    Shapes
    ------
    adj (M, M), emb0 (M, K) -> (M, K).

    Examples
    --------
    >>> adj = normalized_adjacency([0], [0], n_users=1, n_items=1)  # one edge, weight 1
    >>> propagate(adj, torch.tensor([[1.0], [3.0]]), n_layers=1)  # (E0 + A E0) / 2
    tensor([[2.],
            [2.]])
    """
    if not isinstance(n_layers, (int, np.integer)) or isinstance(n_layers, bool) or n_layers < 0:
        raise ValueError(f"n_layers must be a non-negative int, got {n_layers!r}")
    if adj.shape[0] != emb0.shape[0]:
        raise ValueError(f"adj has {adj.shape[0]} nodes but emb0 has {emb0.shape[0]} rows")
    layer, total = emb0, emb0
    for _ in range(n_layers):
        layer = _SymmetricSparseMM.apply(adj, layer)  # (M, K) E^(k+1) = A~ E^(k)
        total = total + layer
    return total / (n_layers + 1)  # (M, K)


def lightgcn_objective(final: torch.Tensor, ego: torch.Tensor, nodes: torch.Tensor, reg: float) -> torch.Tensor:
    r"""BPR loss of a batch of triples on the final embeddings, plus L2 on their ego embeddings.

    .. math:: L = \frac{1}{B}\sum_{b} \Big[\operatorname{softplus}(e_u^\top e_j - e_u^\top e_i)
              + \lambda \big(\lVert e^{(0)}_u\rVert^2 + \lVert e^{(0)}_i\rVert^2
              + \lVert e^{(0)}_j\rVert^2\big)\Big]

    (He et al., 2020, Eq. 15, with :func:`~recfeat_ref.mf.bpr_loss`). The penalty sum is
    computed as :math:`\sum_v c_v \lVert e^{(0)}_v\rVert^2` with :math:`c_v` the number of
    times node :math:`v` occurs in the batch: the same value and gradient as gathering the
    :math:`3B` rows, without the gather and its scatter-add backward (about a quarter of
    the CPU time of an epoch on ML-100K otherwise).

    Parameters
    ----------
    final : torch.Tensor
        ``(M, K)`` propagated embeddings (:func:`propagate`).
    ego : torch.Tensor
        ``(M, K)`` ego embeddings :math:`E^{(0)}`.
    nodes : torch.Tensor
        ``(3B,)`` int64 node indices: the users, then the positive items, then the
        negative items of the batch (items as nodes ``U + i``).
    reg : float
        :math:`\lambda`.

    Shapes
    ------
    final, ego (M, K); nodes (3B,) -> scalar.

    Examples
    --------
    >>> nodes = torch.tensor([0, 1, 2])   # user 0, positive node 1, negative node 2
    >>> round(lightgcn_objective(torch.zeros(3, 2), torch.ones(3, 2), nodes, reg=0.5).item(), 4)
    3.6931
    """
    if nodes.dim() != 1 or len(nodes) % 3:
        raise ValueError(f"nodes must be 1-D of length 3B (users, positives, negatives), got shape {tuple(nodes.shape)}")
    e_u, e_i, e_j = final[nodes].chunk(3)  # (B, K) each
    loss = bpr_loss((e_u * e_i).sum(-1), (e_u * e_j).sum(-1))
    counts = torch.bincount(nodes, minlength=ego.shape[0]).to(ego.dtype)  # (M,) occurrences in the batch
    return loss + reg * (counts * ego.pow(2).sum(-1)).sum() / (len(nodes) // 3)


@dataclass(frozen=True)
class LightGCNConfig:
    r"""Settings of :class:`LightGCN`; every default says why.

    Tuned on the validation part of ``ratio_split_by_user(ML-100K, (0.8, 0.1, 0.1), seed=0)``
    (never on its test part), early stopping on that part; best validation NDCG@10 and
    its epoch (``lr=5e-3, n_layers=2, batch_size=4096, patience=3`` unless said otherwise):

    ==========================================================  ==========================
    setting                                                     best NDCG@10 (epoch)
    ==========================================================  ==========================
    ``reg=1e-5 / 1e-4 / 5e-4 / 1e-3 / 3e-3``                    0.255 (65) / 0.256 (65) /
                                                                0.261 (80) / 0.259 (80) /
                                                                0.241 (75)
    ``lr=1e-2``, ``reg=1e-4 / 1e-3``                            0.249 (30) / 0.256 (40)
    ``n_layers=3``, ``reg=1e-4 / 1e-3``                         0.257 (80) / 0.255 (125)
    ``reg=1e-3, patience=6`` (the defaults)                     0.263 (125)
    ==========================================================  ==========================

    For comparison, :class:`~recfeat_ref.mf.BPRMF` with its defaults peaks at 0.254.

    Attributes
    ----------
    n_factors : int
        64: the size of :class:`~recfeat_ref.mf.BPRMF` and of RecBole's LightGCN, so
        the comparison is at equal parameter count.
    n_layers : int
        2: three layers validated no better (0.255-0.257) and cost a third more per
        epoch; RecBole's default is also 2 (the paper used 3 on larger data sets).
    lr : float
        5e-3: Adam's step; 1e-2 peaks earlier and lower (0.256), RecBole's 1e-3 needed
        about 300 epochs on this split.
    reg : float
        1e-3: L2 weight :math:`\lambda` on the batch's ego embeddings (per triple, summed
        over :math:`u, i, j`). 5e-4 ties (0.261 vs 0.259), 1e-4 and below overfit
        slightly, 3e-3 underfits.
    num_epochs : int
        300: the upper bound; with validation data the best epoch was about 125.
    batch_size : int
        4096: about 20 full-graph propagations per epoch on ML-100K, 0.2 s of CPU per
        epoch against 0.25 s with 2048 and 0.45 s with 1024 (module notes). Chosen for
        speed: after 30 epochs the validation NDCG@10 was 0.235 with the defaults, 0.237
        with ``batch_size=1024, lr=2.5e-3`` and 0.241 with ``8192, lr=1e-2``, within noise.
    eval_every : int
        5: as :class:`~recfeat_ref.mf.BPRConfig`; one validation ranking costs about
        0.05 s on ML-100K.
    patience : int
        6: evaluations (30 epochs) without improvement. The validation NDCG still creeps
        up after epoch 80 with plateaus of 15 epochs; patience 3 stopped at epoch 95
        (0.259), patience 6 at 155 (0.263).
    k : int
        10: the list length of the validation NDCG.
    init_std : float
        0.1: as :class:`~recfeat_ref.mf.BPRConfig` (the paper: Xavier initialisation,
        std :math:`\sqrt{2/(M+K)} \approx 0.03`).
    seed : int
        0: initial weights, negatives and batch order are reproducible.
    device : str or None
        None: :func:`~recfeat_ref.training.get_device` chooses.
    progress : bool
        True: a tqdm bar over epochs.
    cpu_threads : int or None
        1: as :class:`~recfeat_ref.training.TrainConfig`: torch threads during ``fit`` on the CPU.

    Examples
    --------
    >>> cfg = LightGCNConfig(n_layers=3)
    >>> cfg.n_layers, cfg.n_factors
    (3, 64)
    >>> LightGCNConfig(n_layers=-1)
    Traceback (most recent call last):
    ...
    ValueError: n_layers must be a non-negative int, got -1
    """

    n_factors: int = 64  # as BPRMF and RecBole
    n_layers: int = 2  # 3 no better, slower
    lr: float = 5e-3  # Adam
    reg: float = 1e-3  # L2 on the batch's ego embeddings; tuned (table above)
    num_epochs: int = 300  # upper bound; best epoch about 125
    batch_size: int = 4096  # ~20 propagations per epoch
    eval_every: int = 5  # evaluation a small share of the time
    patience: int = 6  # evaluations; the validation NDCG creeps up with plateaus
    k: int = 10  # validation NDCG@k
    init_std: float = 0.1  # as BPRConfig
    seed: int = 0
    device: str | None = None
    progress: bool = True
    cpu_threads: int | None = 1

    def __post_init__(self):
        if not isinstance(self.n_layers, (int, np.integer)) or isinstance(self.n_layers, bool) or self.n_layers < 0:
            raise ValueError(f"n_layers must be a non-negative int, got {self.n_layers!r}")
        _check_fields(self, ("n_factors", *_LOOP_INTS), positive=("lr", "init_std"), non_negative=("reg",))


class LightGCN(ImplicitRecommender):
    r"""LightGCN (He et al., 2020): BPR-trained embeddings smoothed over the user-item graph.

    .. math::
        e = \frac{1}{L+1}\sum_{k=0}^{L} \tilde A^k E^{(0)}, \qquad \hat y_{ui} = e_u^\top e_i,

    .. math::
        L_{\text{batch}} = \frac{1}{B}\sum_{(u,i,j)} \Big[\operatorname{softplus}(\hat y_{uj} - \hat y_{ui})
        + \lambda \big(\lVert e^{(0)}_u\rVert^2 + \lVert e^{(0)}_i\rVert^2 + \lVert e^{(0)}_j\rVert^2\big)\Big]

    (:func:`normalized_adjacency`, :func:`propagate`, :func:`~recfeat_ref.mf.bpr_loss`).
    Every training row is a positive (ratings are ignored). Each epoch pairs every
    positive with one uniform negative (:class:`~recfeat_ref.mf.NegativeSampler`),
    shuffles the triples and, per batch, propagates the whole graph once and takes an
    Adam step. The penalty is on the ego embeddings :math:`E^{(0)}` of the batch's
    nodes, as in the paper (Eq. 15): they are the only parameters.

    Early stopping: ``fit(train, valid=...)`` evaluates NDCG@k on ``valid`` every
    ``eval_every`` epochs (:func:`~recfeat_ref.recommender.evaluate_topn`, full
    catalogue, training items excluded), stops after ``patience`` evaluations without
    improvement and restores the best weights, exactly as :class:`~recfeat_ref.mf.BPRMF`.

    Parameters
    ----------
    config : LightGCNConfig, optional
    **params
        Fields of :class:`LightGCNConfig` that override ``config``.
    user_col, item_col : str
        Column names (keyword only).

    Attributes
    ----------
    embedding_ : torch.nn.Embedding
        The trained ego embeddings :math:`E^{(0)}`, ``(U + I, K)``, on the CPU.
    adjacency_ : torch.Tensor
        The sparse normalised adjacency of the training graph, ``(U + I, U + I)``.
    user_embeddings_, item_embeddings_ : ndarrays of shape (U, K), (I, K)
        The *final* (propagated, layer-mean) embeddings as float64: the features that
        later chapters reuse; row ``j`` belongs to ``user_ids_[j]`` / ``item_ids_[j]``.
    history_ : pandas.DataFrame
        ``epoch``, ``train_loss`` (penalty included), ``seconds`` (training wall time of
        the epoch, sampling included, evaluation excluded), ``valid_ndcg_at_k`` and
        ``valid_recall_at_k`` on evaluated epochs (NaN elsewhere).
    best_epoch_ : int
        The epoch whose weights were kept (the last one when ``valid`` is not given).

    Notes
    -----
    Fallback for unseen ids: a user unseen in training has no node in the graph. They
    are scored as the *average training user*, :math:`\bar e^\top e_i` with :math:`\bar e`
    the mean of ``user_embeddings_``, which is the column mean of the score matrix: a
    learned popularity. An unseen item is scored as the average item, :math:`e_u^\top
    \bar e_{\text{item}}`; both unseen give :math:`\bar e^\top \bar e_{\text{item}}`.

    On the 8:1:1 split of ML-100K (``ratio_split_by_user(ratings, (0.8, 0.1, 0.1),
    seed=0)``), ``LightGCN(progress=False).fit(train, valid=valid)`` stops after 155
    epochs (best epoch 125, validation NDCG@10 0.263) and reaches test NDCG@10 0.322
    with ``evaluate_topn(model, train + valid, test)``; capped at ``num_epochs=100``
    (the chapter's CPU budget) 0.313. Same split: :class:`~recfeat_ref.mf.BPRMF` 0.305,
    popularity 0.145, RecBole's LightGCN 0.311 after 300 epochs (0.215 with its default
    early stopping).

    Shapes
    ------
    predict(df) : (len(df),) float64; score_items(users) : (len(users), I) float64.

    Examples
    --------
    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [1, 2, 2, 3]})
    >>> model = LightGCN(n_factors=4, num_epochs=2, progress=False, device="cpu").fit(train)
    >>> model.score_items([1, 2]).shape, model.item_embeddings_.shape
    ((2, 3), (3, 4))
    """

    def __init__(self, config: LightGCNConfig | None = None, *, user_col: str | None = None,
                 item_col: str | None = None, **params):
        kwargs = {k: v for k, v in (("user_col", user_col), ("item_col", item_col)) if v is not None}
        super().__init__(**kwargs)
        self.config = _make_config(LightGCNConfig, config, params)

    def final_embeddings(self) -> torch.Tensor:
        """The propagated embeddings of every node, ``(U + I, K)`` float32, without gradient."""
        with torch.no_grad():
            return propagate(self.adjacency_, self.embedding_.weight, self.config.n_layers)

    def _export(self, embedding: nn.Embedding, adj: torch.Tensor) -> None:
        with torch.no_grad():
            final = propagate(adj, embedding.weight, self.config.n_layers).cpu().double().numpy()  # (U+I, K)
        self.user_embeddings_, self.item_embeddings_ = final[: self.n_users_], final[self.n_users_ :]

    def _train(self, users, items, device):
        cfg = self.config
        n_users = self.n_users_
        sampler = NegativeSampler(users, items, self.n_items_)
        adj = to_csr(normalized_adjacency(users, items, n_users, self.n_items_)).to(device)  # (M, M)
        u_all = torch.as_tensor(users, dtype=torch.int64)  # (N,)
        i_all = torch.as_tensor(items, dtype=torch.int64)  # (N,)
        n = len(u_all)

        seed_everything(cfg.seed)
        embedding = nn.Embedding(n_users + self.n_items_, cfg.n_factors)  # (M, K) ego embeddings E^(0)
        nn.init.normal_(embedding.weight, std=cfg.init_std)
        embedding.to(device)
        optimizer = torch.optim.Adam(embedding.parameters(), lr=cfg.lr)
        gen = torch.Generator().manual_seed(cfg.seed)
        u_dev, i_dev = u_all.to(device), (i_all + n_users).to(device)  # node indices

        def epoch(_):
            neg = (sampler.sample(u_all, gen) + n_users).to(device)  # (N,) negative item nodes
            perm = torch.randperm(n, generator=gen).to(device)
            total = torch.zeros((), device=device)
            for lo in range(0, n, cfg.batch_size):
                idx = perm[lo : lo + cfg.batch_size]  # (B,)
                nodes = torch.cat([u_dev[idx], i_dev[idx], neg[idx]])  # (3B,) u, i, j
                final = propagate(adj, embedding.weight, cfg.n_layers)  # (M, K) one propagation per batch
                loss = lightgcn_objective(final, embedding.weight, nodes, cfg.reg)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach() * len(idx)
            return {"train_loss": float(total) / n}

        self._run_epochs(epoch, embedding, lambda: self._export(embedding, adj))
        self.embedding_ = embedding.cpu().eval()
        self.adjacency_ = adj.cpu()
        self._export(self.embedding_, self.adjacency_)

    def _score(self, users, items):
        return np.einsum("bk,bk->b", self.user_embeddings_[users], self.item_embeddings_[items])  # (B,)

    def _score_all(self, users):
        return self.user_embeddings_[users] @ self.item_embeddings_.T  # (len(users), I)

    def _fallback(self, users, items):
        p_bar, q_bar = self.user_embeddings_.mean(0), self.item_embeddings_.mean(0)  # (K,) average user, item
        p = np.where((users >= 0)[:, None], self.user_embeddings_[np.maximum(users, 0)], p_bar)  # (B, K)
        q = np.where((items >= 0)[:, None], self.item_embeddings_[np.maximum(items, 0)], q_bar)  # (B, K)
        return np.einsum("bk,bk->b", p, q)
