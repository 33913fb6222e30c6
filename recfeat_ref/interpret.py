r"""Interpretability: integrated gradients and permutation importance for the CTR models.

Integrated gradients (Sundararajan, Taly and Yan, 2017) attribute a model's output
:math:`f(x)` to the coordinates of its input relative to a baseline :math:`x'`:

.. math:: \mathrm{IG}_j(x) = (x_j - x'_j) \int_0^1
          \frac{\partial f\big(x' + \alpha (x - x')\big)}{\partial x_j}\, d\alpha ,

and they are *complete*: :math:`\sum_j \mathrm{IG}_j(x) = f(x) - f(x')` (the fundamental
theorem of calculus for path integrals). The integral is computed by Gauss-Legendre
quadrature on :math:`[0, 1]`, the default rule of Captum (Kokhlikyan et al., 2020),
against which :func:`integrated_gradients` is tested.

Categorical inputs have no straight line between two values. For the click-through
models of :mod:`recfeat_ref.neural` we therefore integrate over *field scales*: a
vector :math:`s \in [0, 1]^G`, one entry per field group (each categorical field, each
multi-hot bag, each dense block), multiplies that group's contribution at the input of
the model -- the looked-up embedding and linear weight of a categorical field, the
columns of a bag or a dense block. :math:`s = 1` is the model as it is;
:math:`s = 0` switches every field off, which for a categorical field is exactly the
out-of-vocabulary value (its rows are zero). :func:`field_attributions` returns
:math:`\mathrm{IG}(s = 1)` with baseline :math:`s = 0`: how much each field moved this
row's logit away from the "know nothing" prediction; the attributions sum to that
difference.

Permutation importance (Breiman, 2001) asks a global question instead: how much worse
is the metric when one field's values are shuffled across rows
(:func:`permutation_importance`)?

References
----------
.. [1] M. Sundararajan, A. Taly and Q. Yan, "Axiomatic Attribution for Deep Networks", ICML 2017.
.. [2] N. Kokhlikyan et al., "Captum: A unified and generic model interpretability library
   for PyTorch", arXiv:2009.07896, 2020.
.. [3] L. Breiman, "Random Forests", Machine Learning 45, 2001.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from ._validation import _check_positive_int, _check_seed

__all__ = ["integrated_gradients", "field_groups", "scaled_forward", "field_attributions", "permutation_importance"]


def _gauss_legendre(steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and weights of the ``steps``-point Gauss-Legendre rule on [0, 1]."""
    nodes, weights = np.polynomial.legendre.leggauss(steps)  # on [-1, 1]
    return torch.tensor((nodes + 1) / 2), torch.tensor(weights / 2)


def integrated_gradients(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                         baseline: torch.Tensor | None = None, steps: int = 50) -> torch.Tensor:
    r"""Integrated gradients of ``f`` at the rows of ``x`` (Sundararajan et al., 2017).

    Parameters
    ----------
    f : callable
        Maps a (B, ...) float tensor to (B,) outputs, row by row.
    x : torch.Tensor, shape (B, ...)
    baseline : torch.Tensor, optional
        Same shape as ``x`` (or broadcastable); zeros by default.
    steps : int
        Gauss-Legendre nodes; the error falls quickly for smooth ``f``.

    Returns
    -------
    torch.Tensor, shape of ``x``
        The attributions; their sum over a row is :math:`f(x) - f(x')` up to the
        quadrature error.

    Examples
    --------
    >>> f = lambda x: (x ** 2).sum(1)
    >>> attr = integrated_gradients(f, torch.tensor([[1.0, 2.0]]))
    >>> [round(v, 6) for v in attr[0].tolist()]  # x_j^2: the exact answer for a square
    [1.0, 4.0]
    """
    _check_positive_int("steps", steps)
    x = x.detach()
    baseline = torch.zeros_like(x) if baseline is None else baseline.detach().expand_as(x)
    alphas, weights = _gauss_legendre(steps)
    total = torch.zeros_like(x)
    for alpha, weight in zip(alphas.tolist(), weights.tolist()):
        point = (baseline + alpha * (x - baseline)).requires_grad_(True)
        (grad,) = torch.autograd.grad(f(point).sum(), point)  # rows are independent
        total += weight * grad
    return (x - baseline) * total


def field_groups(model: nn.Module) -> list[str]:
    """Names of the field groups of a CTR model: ``field0..``, ``bag0..``, ``dense0..``.

    Examples
    --------
    >>> from recfeat_ref.neural import LogisticRegression, LRConfig
    >>> field_groups(LogisticRegression(LRConfig(field_dims=(3, 4), multi_dims=(2,))))
    ['field0', 'field1', 'bag0']
    """
    cfg = model.config
    return ([f"field{f}" for f in range(len(cfg.field_dims))] + [f"bag{g}" for g in range(len(cfg.multi_dims))]
            + [f"dense{d}" for d in range(len(cfg.dense_dims))])


def scaled_forward(model: nn.Module, x_cat: torch.Tensor, x_multi: torch.Tensor) -> Callable:
    """``f(s)``: the model's logits with group ``g``'s input multiplied by ``s[:, g]``.

    ``s`` has shape (B, G) for the B rows of ``x_cat``, or (nB, G): then the rows are
    repeated ``n`` times, block after block (how Captum batches its quadrature points).

    Examples
    --------
    >>> from recfeat_ref.neural import LogisticRegression, LRConfig
    >>> model = LogisticRegression(LRConfig(field_dims=(3, 4), multi_dims=(2,)))
    >>> x_cat, x_multi = torch.tensor([[1, 2], [2, 3]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> f = scaled_forward(model, x_cat, x_multi)
    >>> f(torch.ones(2, 3)).shape   # s = 1 for every group: the plain logits
    torch.Size([2])
    """
    cfg = model.config
    n_fields = len(cfg.field_dims)
    widths = list(cfg.multi_dims) + list(cfg.dense_dims)
    tables = [m.weights for m in (getattr(model, "linear", None),) if m is not None]  # DCN-v2 has no linear part
    if hasattr(model, "embedding"):
        tables.append(model.embedding.tables)

    def f(s: torch.Tensor) -> torch.Tensor:
        reps, rest = divmod(s.shape[0], x_cat.shape[0])
        if rest or reps == 0:
            raise ValueError(f"s has {s.shape[0]} rows, not a multiple of the {x_cat.shape[0]} input rows")
        xc, xm = (x_cat, x_multi) if reps == 1 else (x_cat.repeat(reps, 1), x_multi.repeat(reps, 1))
        hooks = []
        for modules in tables:
            for field, emb in enumerate(modules):
                scale = s[:, field : field + 1]  # (B, 1)
                hooks.append(emb.register_forward_hook(lambda m, inp, out, scale=scale: out * scale))
        try:
            col_scale = torch.repeat_interleave(s[:, n_fields:], torch.tensor(widths, dtype=torch.long), dim=1)
            return model(xc, xm * col_scale)  # (B,)
        finally:
            for h in hooks:
                h.remove()

    return f


def field_attributions(model: nn.Module, x_cat: torch.Tensor, x_multi: torch.Tensor | None = None,
                       steps: int = 50) -> pd.DataFrame:
    r"""Integrated gradients of a CTR model's logit over its field groups (see the module notes).

    Works for :class:`~recfeat_ref.neural.LogisticRegression`, :class:`~recfeat_ref.neural.FM`,
    :class:`~recfeat_ref.neural.DeepFM` and :class:`~recfeat_ref.neural.DCNv2`.

    Returns
    -------
    pandas.DataFrame, shape (B, G + 2)
        One column per group (:func:`field_groups`), plus ``logit`` (:math:`f(s=1)`) and
        ``baseline_logit`` (:math:`f(s=0)`); each row's group columns sum to
        ``logit - baseline_logit`` up to the quadrature error.

    Examples
    --------
    >>> from recfeat_ref.neural import FM, FMConfig
    >>> model = FM(FMConfig(field_dims=(3, 4), multi_dims=(2,), embed_dim=4))
    >>> x_cat, x_multi = torch.tensor([[1, 2], [2, 3]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> attr = field_attributions(model, x_cat, x_multi, steps=8)
    >>> list(attr.columns)
    ['field0', 'field1', 'bag0', 'logit', 'baseline_logit']
    """
    was_training = model.training
    model.eval()
    try:
        if x_multi is None:
            x_multi = torch.zeros(x_cat.shape[0], 0)
        names = field_groups(model)
        f = scaled_forward(model, x_cat, x_multi)
        ones = torch.ones(x_cat.shape[0], len(names))
        attr = integrated_gradients(f, ones, torch.zeros_like(ones), steps=steps)
        with torch.no_grad():
            logit, base = f(ones), f(torch.zeros_like(ones))
    finally:
        model.train(was_training)
    out = pd.DataFrame(attr.numpy(), columns=names)
    out["logit"], out["baseline_logit"] = logit.numpy(), base.numpy()
    return out


def permutation_importance(predict: Callable[[torch.Tensor, torch.Tensor], np.ndarray], x_cat: torch.Tensor,
                           x_multi: torch.Tensor, y: np.ndarray, groups: dict[str, tuple[str, slice]],
                           metric: Callable[[np.ndarray, np.ndarray], float], n_repeats: int = 3,
                           seed: int = 0) -> pd.DataFrame:
    """Drop of ``metric`` when each group's columns are shuffled across rows (Breiman, 2001).

    Parameters
    ----------
    predict : callable
        ``predict(x_cat, x_multi) -> probabilities`` (n,).
    groups : dict
        ``name -> ("cat" | "multi", column slice)``: which columns of which tensor form
        the group; the rows of those columns are permuted together.
    metric : callable
        ``metric(y, p)``, larger is better (e.g. :func:`recfeat_ref.metrics.roc_auc`).

    Returns
    -------
    pandas.DataFrame
        Index: group; columns ``importance_mean``, ``importance_std`` (over repeats), sorted
        by the mean, largest first.

    Examples
    --------
    >>> from recfeat_ref.metrics import roc_auc
    >>> x_cat = torch.tensor([[1, 1], [1, 2], [2, 1], [2, 2]])
    >>> predict = lambda xc, xm: (xc[:, 0] - 1).float().numpy()   # uses field 0 only
    >>> groups = {"field0": ("cat", slice(0, 1)), "field1": ("cat", slice(1, 2))}
    >>> y = np.array([0.0, 0.0, 1.0, 1.0])
    >>> imp = permutation_importance(predict, x_cat, torch.zeros(4, 0), y, groups, roc_auc)
    >>> imp.index.tolist(), float(imp.loc["field1", "importance_mean"])
    (['field0', 'field1'], 0.0)
    """
    _check_positive_int("n_repeats", n_repeats)
    _check_seed(seed)
    rng = np.random.default_rng(seed)
    reference = metric(y, predict(x_cat, x_multi))
    rows = {}
    for name, (which, cols) in groups.items():
        if which not in ("cat", "multi"):
            raise ValueError(f"group {name!r}: the tensor must be 'cat' or 'multi', got {which!r}")
        drops = []
        for _ in range(n_repeats):
            perm = torch.as_tensor(rng.permutation(len(y)))
            xc, xm = x_cat.clone(), x_multi.clone()
            target = xc if which == "cat" else xm
            target[:, cols] = target[perm][:, cols]
            drops.append(reference - metric(y, predict(xc, xm)))
        rows[name] = {"importance_mean": float(np.mean(drops)), "importance_std": float(np.std(drops))}
    return pd.DataFrame(rows).T.sort_values("importance_mean", ascending=False)
