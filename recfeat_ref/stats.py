r"""The book's one rule for comparing two models: a paired interval at 95 %.

Every comparison in the book pairs the two models on the same units (the same seeds,
the same folds, or the same test users), takes the per-unit differences
:math:`\Delta_s = m^{B}_s - m^{A}_s` (larger is better: negate a loss first), and
reports their mean with a two-sided confidence interval. The verdict follows from the
interval alone:

* **gain** when the whole interval lies above 0,
* **loss** when it lies below 0,
* **within noise** when it contains 0 (the difference is *not resolved* at this
  :math:`n`; it may still be real).

Two intervals are offered.

Student t (``method="t"``, the default for seeds and folds)
    .. math:: \bar\Delta \pm t_{1 - \alpha/2,\, n - 1}\, \frac{s_\Delta}{\sqrt{n}},

    with :math:`s_\Delta` the sample standard deviation of the differences. It is the
    interval of the paired t-test (``scipy.stats.ttest_rel``): the verdict is "within
    noise" exactly when that test's two-sided p-value is at least :math:`\alpha`. With
    :math:`n = 3` seeds, :math:`t_{0.975, 2} = 4.30`: a 95 % interval is more than twice as
    wide as the "two standard errors" rule, which at :math:`n = 3` is an 82 % interval.

Paired bootstrap (``method="bootstrap"``, for many units, such as test users)
    The percentile interval of the mean of :math:`\Delta` over ``n_boot`` resamples of
    the units with replacement (Efron and Tibshirani, 1993), seeded. It assumes nothing
    about the shape of the differences; it needs many units (tens at least).

Where a single training run is compared, the units are the test users: pass each
user's metric under both models (for example the per-user NDCG@10) and use either
method; the interval then covers the sampling of users, not of training runs.

:func:`units_needed` answers the planning question: how many seeds or folds would
resolve a difference of a given size and spread.

A comparison is only fair between models trained to convergence: stopped by their
validation metric, not by their epoch cap. :func:`convergence` reads a fitted model's
best epoch, cap and patience; :func:`check_converged` tabulates several and raises
:class:`NotConvergedError` (or warns) for any whose best epoch lies within the patience
window of its cap, where early stopping could not have acted.

References
----------
Student (1908), "The probable error of a mean", *Biometrika* 6(1).
B. Efron and R. J. Tibshirani (1993), *An Introduction to the Bootstrap*, Chapman & Hall.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats as _scipy_stats

from ._validation import DataValidationError

__all__ = [
    "PairedComparison",
    "paired_comparison",
    "paired_table",
    "units_needed",
    "VERDICTS",
    "NotConvergedError",
    "convergence",
    "check_converged",
]

#: The three verdicts, in the order gain, loss, within noise.
VERDICTS = ("gain", "loss", "within noise")
_METHODS = ("t", "bootstrap")


@dataclass(frozen=True)
class PairedComparison:
    """The result of :func:`paired_comparison` (``treatment - reference``, larger is better).

    Attributes
    ----------
    n : int
        Number of paired units (seeds, folds or users).
    mean : float
        Mean difference :math:`\\bar\\Delta`.
    sd : float
        Sample standard deviation of the differences (``ddof=1``).
    low, high : float
        The two-sided interval at ``confidence``.
    confidence : float
        For example 0.95.
    method : str
        ``"t"`` or ``"bootstrap"``.
    p_value : float
        Two-sided p-value of the paired t-test (NaN for the bootstrap).
    verdict : str
        One of :data:`VERDICTS`.
    """

    n: int
    mean: float
    sd: float
    low: float
    high: float
    confidence: float
    method: str
    p_value: float
    verdict: str

    @property
    def resolved(self) -> bool:
        """True when the verdict is a gain or a loss."""
        return self.verdict != "within noise"

    def __str__(self) -> str:
        pct = f"{100 * self.confidence:g} %"
        return (
            f"{self.mean:+.4f} [{self.low:+.4f}, {self.high:+.4f}] ({pct}, {self.method}, n = {self.n}): "
            f"{self.verdict}"
        )


def _as_pairs(treatment, reference) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(treatment, dtype=np.float64).ravel()
    r = np.asarray(reference, dtype=np.float64).ravel()
    if t.shape != r.shape:
        raise DataValidationError(
            f"treatment and reference must pair up one to one: got {t.size} and {r.size} values"
        )
    for name, arr in (("treatment", t), ("reference", r)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise DataValidationError(
                f"{name} has NaN or infinite values at positions {np.flatnonzero(bad)[:5].tolist()}; "
                "drop those units from both arrays"
            )
    if t.size < 2:
        raise DataValidationError(
            f"a paired comparison needs at least 2 units (seeds, folds or users), got {t.size}"
        )
    return t, r


def _check_confidence(confidence: float) -> float:
    if not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise DataValidationError(f"confidence must lie in (0, 1), e.g. 0.95; got {confidence!r}")
    return float(confidence)


def paired_comparison(
    treatment,
    reference,
    confidence: float = 0.95,
    method: str = "t",
    n_boot: int = 10_000,
    seed: int = 0,
) -> PairedComparison:
    r"""Compare two models on the same units: the mean difference, its interval and the verdict.

    Parameters
    ----------
    treatment, reference : array-like of shape (n,)
        The metric of each model on the same :math:`n` units, in the same order (seed
        :math:`s` of one with seed :math:`s` of the other). Larger is better: pass
        ``-loss`` for a loss.
    confidence : float, default=0.95
        Coverage of the two-sided interval.
    method : {"t", "bootstrap"}, default="t"
        Student-t interval (seeds, folds) or paired percentile bootstrap (many units).
    n_boot : int, default=10000
        Bootstrap resamples (``method="bootstrap"`` only).
    seed : int, default=0
        Seed of the bootstrap resampling.

    Returns
    -------
    PairedComparison

    Raises
    ------
    DataValidationError
        Arrays of different lengths, fewer than 2 units, NaN or infinite values, a
        confidence outside (0, 1), an unknown method.

    Examples
    --------
    Three seeds, a gain on each:

    >>> r = paired_comparison([0.752, 0.761, 0.757], [0.740, 0.751, 0.749])
    >>> r.verdict, round(r.mean, 4), r.n
    ('gain', 0.01, 3)

    The same mean with a larger spread is not resolved at n = 3:

    >>> paired_comparison([0.752, 0.741, 0.777], [0.740, 0.751, 0.749]).verdict
    'within noise'

    A loss is passed negated, so that larger is better:

    >>> paired_comparison([-0.50, -0.51, -0.49], [-0.52, -0.53, -0.515]).verdict
    'gain'
    """
    t, r = _as_pairs(treatment, reference)
    confidence = _check_confidence(confidence)
    if method not in _METHODS:
        raise DataValidationError(f"method must be one of {_METHODS}, got {method!r}")
    d = t - r
    n, mean = d.size, float(d.mean())
    sd = float(d.std(ddof=1))
    alpha = 1.0 - confidence
    if sd == 0.0:
        low = high = mean
        p_value = 1.0 if mean == 0.0 else 0.0
    else:
        p_value = float(_scipy_stats.ttest_rel(t, r).pvalue)
        if method == "t":
            half = float(_scipy_stats.t.ppf(1 - alpha / 2, df=n - 1)) * sd / np.sqrt(n)
            low, high = mean - half, mean + half
    if method == "bootstrap":
        if not isinstance(n_boot, (int, np.integer)) or n_boot < 100:
            raise DataValidationError(f"n_boot must be an integer >= 100, got {n_boot!r}")
        rng = np.random.default_rng(seed)
        means = d[rng.integers(0, n, size=(int(n_boot), n))].mean(axis=1)
        low, high = (float(q) for q in np.quantile(means, [alpha / 2, 1 - alpha / 2]))
        p_value = float("nan")
    if low > 0:
        verdict = "gain"
    elif high < 0:
        verdict = "loss"
    else:
        verdict = "within noise"
    return PairedComparison(n, mean, sd, float(low), float(high), confidence, method, p_value, verdict)


def paired_table(
    wide: pd.DataFrame,
    reference: str,
    confidence: float = 0.95,
    method: str = "t",
    **kwargs,
) -> pd.DataFrame:
    """:func:`paired_comparison` of every column of ``wide`` against one reference column.

    Parameters
    ----------
    wide : pandas.DataFrame
        One row per unit (seed, fold or user), one column per model; larger is better.
    reference : str
        The column every other column is compared with, or ``"previous"`` to compare
        each column with the one before it (a ladder).
    confidence, method, kwargs
        Passed to :func:`paired_comparison`.

    Returns
    -------
    pandas.DataFrame
        Index: the compared columns; columns ``n``, ``mean``, ``sd``, ``low``, ``high``,
        ``p_value`` and ``verdict`` (and ``versus``, the reference of each row).

    Examples
    --------
    >>> wide = pd.DataFrame({"ids": [0.70, 0.72, 0.71], "ids+side": [0.75, 0.76, 0.755]})
    >>> paired_table(wide, reference="ids")["verdict"].tolist()
    ['gain']
    """
    if not isinstance(wide, pd.DataFrame):
        raise DataValidationError(f"wide must be a pandas DataFrame, got {type(wide).__name__}")
    if wide.shape[1] < 2:
        raise DataValidationError("wide needs at least 2 columns (models) to compare")
    columns = list(wide.columns)
    if reference == "previous":
        pairs = list(zip(columns[1:], columns[:-1]))
    else:
        if reference not in columns:
            raise DataValidationError(
                f"reference {reference!r} is not a column of wide; columns: {columns}"
            )
        pairs = [(c, reference) for c in columns if c != reference]
    rows = {}
    for col, ref in pairs:
        res = asdict(paired_comparison(wide[col], wide[ref], confidence, method, **kwargs))
        res.pop("confidence"), res.pop("method")
        rows[col] = {**res, "versus": ref}
    return pd.DataFrame.from_dict(rows, orient="index")


def units_needed(
    mean: float, sd: float, confidence: float = 0.95, max_n: int = 10_000
) -> int | None:
    r"""The smallest number of paired units whose t-interval would exclude 0.

    For a true mean difference ``mean`` with per-unit spread ``sd``, the expected
    interval half-width :math:`t_{1-\alpha/2, n-1}\, s / \sqrt n` falls below
    :math:`|\bar\Delta|` at this :math:`n` (a planning estimate, not a power
    calculation: half of all experiments at that :math:`n` still miss). Returns
    ``None`` if even ``max_n`` units would not do, and 2 when ``sd`` is 0 and the mean
    is not.

    Examples
    --------
    >>> units_needed(0.004, 0.005)
    9
    >>> units_needed(0.0, 0.01) is None
    True
    """
    _check_confidence(confidence)
    if not np.isfinite(mean) or not np.isfinite(sd) or sd < 0:
        raise DataValidationError(f"mean and sd must be finite and sd >= 0; got {mean!r}, {sd!r}")
    if mean == 0:
        return None
    if sd == 0:
        return 2
    alpha = 1.0 - confidence
    for n in range(2, int(max_n) + 1):
        if _scipy_stats.t.ppf(1 - alpha / 2, df=n - 1) * sd / np.sqrt(n) < abs(mean):
            return n
    return None


class NotConvergedError(RuntimeError):
    """A reported model's best epoch lies within the patience window of its epoch cap."""


def _attr(obj, *names):
    for name in names:
        for holder in (obj, getattr(obj, "config", None), getattr(getattr(obj, "trainer_", None), "config", None)):
            if holder is not None and getattr(holder, name, None) is not None:
                return getattr(holder, name)
    return None


def convergence(model=None, *, best_epoch=None, num_epochs=None, patience=None, eval_every=None) -> dict:
    """Whether a fitted model was stopped by validation rather than by its cap.

    Reads ``best_epoch_`` and the config's ``num_epochs``, ``patience`` and
    ``eval_every`` (1 if absent) from ``model`` (or its ``config``, or its
    ``trainer_.config``); keyword arguments override them. Epochs count from 1.

    The patience window is ``patience * eval_every`` epochs: a model whose best epoch
    is later than ``num_epochs - patience * eval_every`` reached its cap before early
    stopping could act, so its score is that of a truncated run.

    Returns
    -------
    dict
        ``best_epoch``, ``num_epochs``, ``patience``, ``eval_every``, ``converged``.

    Examples
    --------
    >>> convergence(best_epoch=12, num_epochs=100, patience=5)["converged"]
    True
    >>> convergence(best_epoch=97, num_epochs=100, patience=5)["converged"]
    False
    """
    best = best_epoch if best_epoch is not None else getattr(model, "best_epoch_", None)
    cap = num_epochs if num_epochs is not None else _attr(model, "num_epochs")
    pat = patience if patience is not None else _attr(model, "patience")
    every = eval_every if eval_every is not None else (_attr(model, "eval_every") or 1)
    for name, value in (("best_epoch", best), ("num_epochs", cap), ("patience", pat)):
        if value is None:
            raise DataValidationError(
                f"convergence: cannot find {name} on {type(model).__name__}; pass {name}=... explicitly"
            )
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise DataValidationError(f"convergence: {name} must be an integer >= 1, got {value!r}")
    best, cap, pat, every = int(best), int(cap), int(pat), int(every)
    if best > cap:
        raise DataValidationError(f"convergence: best_epoch {best} is after the cap num_epochs={cap}")
    return {
        "best_epoch": best,
        "num_epochs": cap,
        "patience": pat,
        "eval_every": every,
        "converged": best <= cap - pat * every,
    }


def check_converged(models: dict, strict: bool = True) -> pd.DataFrame:
    """Tabulate :func:`convergence` for named models; raise (or warn) for any stopped by its cap.

    Parameters
    ----------
    models : dict
        ``{name: fitted model}``, or ``{name: dict of convergence's keyword arguments}``.
    strict : bool, default=True
        Raise :class:`NotConvergedError` naming the models that are not converged; with
        ``False``, issue a :class:`UserWarning` instead.

    Returns
    -------
    pandas.DataFrame
        One row per model: best epoch, cap, patience, eval_every, converged.

    Examples
    --------
    >>> check_converged({"a": {"best_epoch": 8, "num_epochs": 50, "patience": 3}})["converged"].tolist()
    [True]
    """
    import warnings

    if not isinstance(models, dict) or not models:
        raise DataValidationError("check_converged: pass a non-empty dict {name: model}")
    rows = {
        name: (convergence(**m) if isinstance(m, dict) else convergence(m)) for name, m in models.items()
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    capped = table.index[~table["converged"]].tolist()
    if capped:
        detail = ", ".join(
            f"{n} (best epoch {rows[n]['best_epoch']} of {rows[n]['num_epochs']}, patience {rows[n]['patience']})"
            for n in capped
        )
        msg = f"stopped by the epoch cap, not by validation: {detail}; raise num_epochs and refit"
        if strict:
            raise NotConvergedError(msg)
        warnings.warn(msg, UserWarning, stacklevel=2)
    return table
