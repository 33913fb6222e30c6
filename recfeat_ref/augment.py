r"""Data augmentation for interaction data: negatives, implicit-feedback noise, sequence views.

Image augmentations (rotation, scaling, cropping of a picture) rely on an invariance
of pictures: a rotated cat is still a cat. An interaction log has no such geometry. A
user's set of items has no orientation to rotate and no scale to change, and a
(user, item) pair cannot be "slightly rotated". The augmentations that do exist for
recommendation change *which examples the model sees*:

==================================  ==================================================================
:class:`PopularityNegativeSampler`  negatives drawn :math:`\propto` popularity\ :sup:`beta`
                                    (Mikolov et al., 2013; Rendle and Freudenthaler, 2014)
:func:`keep_index`                  the rows kept when a fraction of the positives is dropped
:func:`drop_interactions`           random subsampling of the positives (a new draw per epoch)
:func:`add_random_interactions`     false positives: random unobserved (user, item) pairs
:func:`crop`                        a contiguous window of a sequence (CL4SRec)
:func:`mask`                        a fraction of a sequence's items replaced by a mask code (CL4SRec)
:func:`reorder`                     a contiguous window of a sequence shuffled (CL4SRec)
==================================  ==================================================================

The first four work on the interaction pairs of implicit-feedback models such as
:class:`~recfeat_ref.mf.BPRMF` (which uses the first three through
``BPRConfig(negatives="popularity", drop_rate=...)``). They use ``torch.Generator``,
like :class:`~recfeat_ref.mf.NegativeSampler`. The last three build the two "views" of
one sequence that contrastive sequential models pull together (Xie et al., 2022); they are
pure NumPy and take a ``numpy.random.Generator``. Sequences follow
:func:`~recfeat_ref.sequential.pad_sequences`: 1-D integer arrays of item codes
``1..I``, ``0`` is padding, and padding is never modified.

References
----------
.. [1] T. Mikolov, I. Sutskever, K. Chen, G. Corrado and J. Dean, "Distributed
   Representations of Words and Phrases and their Compositionality", NeurIPS 2013.
.. [2] S. Rendle and C. Freudenthaler, "Improving Pairwise Learning for Item
   Recommendation from Implicit Feedback", WSDM 2014.
.. [3] X. Xie, F. Sun, Z. Liu, S. Wu, J. Gao, J. Zhang, B. Ding and B. Cui, "Contrastive
   Learning for Sequential Recommendation", ICDE 2022 (CL4SRec).
"""

from __future__ import annotations

import numpy as np
import torch

from ._validation import IndexedDataError, _check_positive_int, _is_number
from .mf import NegativeSampler

__all__ = [
    "PopularityNegativeSampler",
    "add_random_interactions",
    "crop",
    "drop_interactions",
    "keep_index",
    "mask",
    "reorder",
]


# --- negatives -----------------------------------------------------------------------


class PopularityNegativeSampler(NegativeSampler):
    r"""Negative items drawn with probability proportional to popularity to the power ``beta``.

    For a query user :math:`u` with positives :math:`I_u`, a negative :math:`j` is drawn from

    .. math:: P(j \mid u) = \frac{n_j^{\beta}}{\sum_{k \notin I_u} n_k^{\beta}}
              \quad (j \notin I_u), \qquad 0 \text{ otherwise},

    where :math:`n_j` counts the training positives of item :math:`j`. ``beta = 0`` is
    the uniform sampler of :class:`~recfeat_ref.mf.NegativeSampler`, ``beta = 1``
    samples as often as the item occurs, and word2vec's ``beta = 0.75`` lies between
    (Mikolov et al., 2013). Why it can help BPR: a uniform negative is usually an
    obscure item the model already ranks low, so its gradient :math:`\sigma(\hat x_{uj} -
    \hat x_{ui})` is near 0; popular negatives are harder, and they push the model to
    explain *which* popular items a user chooses, not only that they are popular
    (Rendle and Freudenthaler, 2014, who sample adaptively by the current scores).
    Items with :math:`n_j = 0` are never drawn when ``beta > 0``.

    Sampling: :func:`torch.multinomial` over the catalogue with weights
    :math:`n_j^\beta`, then the draws that hit a positive of their user are redrawn,
    all at once, until none is left; rejecting those draws turns the catalogue
    distribution into exactly :math:`P(j \mid u)` above. Membership is the parent's
    :meth:`~recfeat_ref.mf.NegativeSampler.is_positive`. The expected number of draws per
    negative is :math:`1 / (1 - \sum_{k \in I_u} n_k^\beta / \sum_k n_k^\beta)`, larger
    than for uniform sampling because active users have mostly popular positives.

    Parameters
    ----------
    users, items : array-like of int, shape (N,)
        The positive interactions, as indices ``0..n_users-1`` and ``0..n_items-1``;
        they define both the positives and the counts :math:`n_j` (repeats counted).
    n_items : int
        Catalogue size :math:`I`.
    beta : float
        Exponent :math:`\beta \ge 0`; 0.75 as in word2vec (the chapter
        ``13_augmentation`` tunes it for BPR-MF on validation data).
    dense_limit : int
        As :class:`~recfeat_ref.mf.NegativeSampler`.

    Attributes
    ----------
    probs : torch.Tensor of shape (I,), float64
        The catalogue distribution :math:`n_j^\beta / \sum_k n_k^\beta` before rejection.

    Raises
    ------
    ValueError
        If ``beta`` is negative, or a user's positives cover every item of non-zero
        weight (no negative can be drawn), naming the users.

    Examples
    --------
    >>> sampler = PopularityNegativeSampler([0, 0, 1, 2, 2], [0, 1, 1, 1, 2], n_items=4, beta=1.0)
    >>> sampler.probs.tolist()   # counts 1, 3, 1, 0
    [0.2, 0.6, 0.2, 0.0]
    >>> sampler.sample(torch.tensor([0, 0, 1]), torch.Generator().manual_seed(0)).tolist()
    [2, 2, 2]
    """

    def __init__(self, users, items, n_items: int, beta: float = 0.75, dense_limit: int = 2**25):
        if not (_is_number(beta) and beta >= 0 and np.isfinite(beta)):
            raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
        super().__init__(users, items, n_items, dense_limit=dense_limit)
        self.beta = float(beta)
        item_index = torch.as_tensor(np.asarray(items), dtype=torch.int64)
        counts = torch.bincount(item_index, minlength=self.n_items).double()  # (I,) n_j
        weights = counts.pow(self.beta)  # (I,); 0 ** 0 = 1, so beta = 0 is uniform
        if weights.sum() == 0:
            raise ValueError("no item has a positive weight; pass at least one interaction")
        self.probs = weights / weights.sum()  # (I,)
        # A user whose positives hold every item of non-zero weight has no negative.
        drawable = self.probs > 0  # (I,)
        key_items = self.keys % self.n_items  # (N,) items of the unique positives
        key_users = torch.div(self.keys, self.n_items, rounding_mode="floor")
        covered = torch.bincount(key_users[drawable[key_items]])  # per user: drawable positives
        full = torch.nonzero(covered >= int(drawable.sum())).flatten()
        if len(full):
            raise IndexedDataError(
                "users {users} interacted with every item of non-zero weight, so no "
                "negative item can be drawn for them; drop these users or use beta=0",
                users=full.numpy(),
            )

    def _draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` items from the catalogue distribution :attr:`probs`; shape (n,) int64."""
        return torch.multinomial(self.probs, n, replacement=True, generator=generator)

    def sample(self, users: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One negative item per entry of ``users``, drawn from :math:`P(j \\mid u)`; shape (B,) int64."""
        users = torch.as_tensor(users, dtype=torch.int64)
        if users.numel() == 0:
            return torch.zeros(users.shape, dtype=torch.int64)
        neg = self._draw(users.numel(), generator).view(users.shape)  # (B,)
        todo = torch.nonzero(self.is_positive(users, neg)).flatten()  # rows to redraw
        while len(todo):
            neg[todo] = self._draw(len(todo), generator)
            todo = todo[self.is_positive(users[todo], neg[todo])]
        return neg


# --- implicit-feedback noise -----------------------------------------------------------


def _check_rate(rate) -> float:
    if not (_is_number(rate) and 0 <= rate < 1):
        raise ValueError(f"rate must lie in [0, 1), got {rate!r}")
    return float(rate)


def _as_pairs(users, items) -> tuple[torch.Tensor, torch.Tensor]:
    users = torch.as_tensor(np.asarray(users), dtype=torch.int64)
    items = torch.as_tensor(np.asarray(items), dtype=torch.int64)
    if users.shape != items.shape or users.dim() != 1:
        raise ValueError(
            f"users and items must be 1-D of equal length, got shapes {tuple(users.shape)} and {tuple(items.shape)}"
        )
    return users, items


def keep_index(n: int, rate: float, generator: torch.Generator) -> torch.Tensor:
    r"""The rows kept when a fraction ``rate`` of ``n`` rows is dropped at random.

    Exactly :math:`n - \lfloor \text{rate} \cdot n \rfloor` rows, chosen uniformly without
    replacement (the first entries of a seeded random permutation), returned in
    increasing order. Shapes: () -> (n - floor(rate n),) int64.

    Examples
    --------
    >>> keep_index(10, 0.3, torch.Generator().manual_seed(0)).tolist()
    [0, 1, 3, 4, 5, 7, 9]
    """
    if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0):
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    rate = _check_rate(rate)
    n_keep = n - int(np.floor(rate * n))
    return torch.randperm(n, generator=generator)[:n_keep].sort().values


def drop_interactions(users, items, rate: float, generator: torch.Generator):
    r"""Randomly drop a fraction ``rate`` of the positive interactions (implicit-feedback dropout).

    A perturbation of the training set: each call keeps a different random
    :math:`1 - \text{rate}` of the pairs (:func:`keep_index`). Redrawn every epoch, it
    is the interaction-level counterpart of dropout, and the "edge dropout" that
    graph recommenders apply to the user-item graph (e.g. SGL, Wu et al., SIGIR 2021).
    Its rationale: implicit positives are noisy (a click is not a like), so no single
    positive should be fitted exactly. Its cost: each epoch sees fewer positives.
    Whether the trade pays is an empirical question (chapter ``13_augmentation``:
    on ML-100K with BPR-MF it did not).

    Parameters
    ----------
    users, items : array-like of int, shape (N,)
    rate : float in [0, 1)
    generator : torch.Generator

    Returns
    -------
    users, items : torch.Tensor of shape (N - floor(rate N),), int64, in their original order

    Examples
    --------
    >>> u, i = drop_interactions([0, 0, 1, 1], [5, 6, 5, 7], 0.5, torch.Generator().manual_seed(0))
    >>> len(u), len(i)
    (2, 2)
    """
    users, items = _as_pairs(users, items)
    keep = keep_index(len(users), rate, generator)
    return users[keep], items[keep]


def add_random_interactions(users, items, n_items: int, rate: float, generator: torch.Generator,
                            sampler: NegativeSampler | None = None):
    r"""Add :math:`\lfloor \text{rate} \cdot N \rfloor` false positives: random unobserved pairs.

    Each added pair takes the user of a uniformly chosen existing row (so active users
    get proportionally more noise) and an item that user has *not* interacted with,
    uniform over those items (:class:`~recfeat_ref.mf.NegativeSampler`; pass
    ``sampler`` to use e.g. :class:`PopularityNegativeSampler` instead). It simulates
    accidental clicks, a perturbation to test a model's robustness to noisy implicit
    feedback, or (with small ``rate``) a regulariser. The added rows are appended
    after the original ones.

    Parameters
    ----------
    users, items : array-like of int, shape (N,)
    n_items : int
        Catalogue size.
    rate : float in [0, 1)
        Added rows as a fraction of ``N``.
    generator : torch.Generator
    sampler : NegativeSampler, optional
        Built from ``users, items`` when omitted.

    Returns
    -------
    users, items : torch.Tensor of shape (N + floor(rate N),), int64

    Examples
    --------
    >>> u, i = add_random_interactions([0, 0, 1], [0, 1, 2], 4, 0.7, torch.Generator().manual_seed(0))
    >>> u.tolist()[:3], i.tolist()[:3], len(u)
    ([0, 0, 1], [0, 1, 2], 5)
    """
    users, items = _as_pairs(users, items)
    _check_positive_int("n_items", n_items)
    n_add = int(np.floor(_check_rate(rate) * len(users)))
    if sampler is None:
        sampler = NegativeSampler(users, items, n_items)
    rows = torch.randint(len(users), (n_add,), generator=generator) if len(users) else torch.zeros(0, dtype=torch.int64)
    new_users = users[rows]  # (n_add,)
    new_items = sampler.sample(new_users, generator)  # (n_add,) items they had not seen
    return torch.cat([users, new_users]), torch.cat([items, new_items])


# --- sequence views (CL4SRec) ------------------------------------------------------------


def _check_seq(seq) -> tuple[np.ndarray, np.ndarray]:
    """The sequence as an int64 copy, and the positions of its items (non-padding)."""
    arr = np.asarray(seq)
    if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise ValueError(f"seq must be a 1-D integer array, got shape {arr.shape} and dtype {arr.dtype}")
    if (arr < 0).any():
        raise ValueError("seq holds negative codes; item codes are 1..I and 0 is padding")
    arr = arr.astype(np.int64, copy=True)
    return arr, np.flatnonzero(arr)


def _check_ratio(ratio, name: str = "ratio") -> float:
    if not (_is_number(ratio) and 0 <= ratio <= 1):
        raise ValueError(f"{name} must lie in [0, 1], got {ratio!r}")
    return float(ratio)


def crop(seq, ratio: float, rng: np.random.Generator) -> np.ndarray:
    r"""Item crop of CL4SRec: keep a random contiguous window of the items.

    With the :math:`n` items :math:`s = (s_1, \dots, s_n)` (the non-zero entries, in
    order), the view is :math:`(s_c, \dots, s_{c + L - 1})` with
    :math:`L = \max(1, \lfloor \eta n \rfloor)`, :math:`\eta` = ``ratio`` and
    :math:`c` uniform over the :math:`n - L + 1` start positions (Xie et al., 2022,
    eq. 3). The window is written to the last :math:`L` item positions, so a
    left-padded sequence stays left-padded (its most recent entry stays last); every
    other position becomes 0. Padding stays 0 and the length is unchanged.

    Shapes: (T,) -> (T,) int64.

    Examples
    --------
    >>> crop([0, 0, 3, 4, 5, 6], 0.5, np.random.default_rng(0)).tolist()
    [0, 0, 0, 0, 5, 6]
    """
    out, pos = _check_seq(seq)
    ratio = _check_ratio(ratio)
    n = len(pos)
    if n == 0:
        return out
    length = max(1, int(np.floor(ratio * n)))
    start = int(rng.integers(n - length + 1))
    window = out[pos[start : start + length]].copy()
    out[pos] = 0
    out[pos[n - length :]] = window
    return out


def mask(seq, ratio: float, mask_id: int, rng: np.random.Generator) -> np.ndarray:
    r"""Item mask of CL4SRec: replace :math:`\lfloor \gamma n \rfloor` random items by ``mask_id``.

    The positions are drawn without replacement among the :math:`n` item positions
    (Xie et al., 2022, eq. 4), :math:`\gamma` = ``ratio``. Like word dropout in
    language models, the view must be recognised without those items. ``mask_id``
    is a code outside ``1..I`` (conventionally ``I + 1``, an extra embedding row);
    it may not be 0, which would turn an item into padding.

    Shapes: (T,) -> (T,) int64.

    Examples
    --------
    >>> mask([0, 0, 3, 4, 5, 6], 0.5, 99, np.random.default_rng(0)).tolist()
    [0, 0, 3, 4, 99, 99]
    """
    out, pos = _check_seq(seq)
    ratio = _check_ratio(ratio)
    if not (isinstance(mask_id, (int, np.integer)) and not isinstance(mask_id, bool) and mask_id > 0):
        raise ValueError(f"mask_id must be a positive integer (0 is padding), got {mask_id!r}")
    n_mask = int(np.floor(ratio * len(pos)))
    out[rng.choice(pos, size=n_mask, replace=False)] = mask_id
    return out


def reorder(seq, ratio: float, rng: np.random.Generator) -> np.ndarray:
    r"""Item reorder of CL4SRec: shuffle a random contiguous window of the items.

    A window of :math:`L = \lfloor \beta n \rfloor` consecutive items, its start uniform,
    is randomly permuted in place (Xie et al., 2022, eq. 5), :math:`\beta` = ``ratio``.
    The multiset of items and the items outside the window are unchanged: the view
    says that the order of nearby items matters less than which items they are.

    Shapes: (T,) -> (T,) int64.

    Examples
    --------
    >>> reorder([0, 0, 3, 4, 5, 6], 0.75, np.random.default_rng(0)).tolist()
    [0, 0, 3, 6, 4, 5]
    """
    out, pos = _check_seq(seq)
    ratio = _check_ratio(ratio)
    n = len(pos)
    length = int(np.floor(ratio * n))
    if length < 2:
        return out
    start = int(rng.integers(n - length + 1))
    window = pos[start : start + length]
    out[window] = out[window][rng.permutation(length)]
    return out
