r"""Feature selection: four ways to ask "which features matter?", side by side.

Each method answers a different question, and the chapter reads them together:

* :func:`correlation_with_label`: is the feature *linearly* related to the label on
  its own? (Pearson's :math:`r`; for a 0/1 label, the point-biserial correlation.)
* :func:`mutual_information`: does the feature say *anything* about the label on its
  own, linear or not? (:func:`sklearn.feature_selection.mutual_info_classif`, the
  nearest-neighbour estimator of Kraskov et al. [1]_ / Ross [2]_.)
* :func:`permutation_importance`: how much does *a fitted model* lose on validation
  rows when the feature is shuffled? (Breiman [3]_; it sees interactions and
  redundancy, since the other features stay in place.)
* :func:`l1_selection`: which features survive an L1 penalty in a logistic regression
  fitted on all of them at once? (Tibshirani [4]_: of two redundant features, the
  penalty tends to keep one.)

:func:`selection_report` runs all four and returns one table. Statistics of the label
are computed on the training rows, except permutation importance, which needs
held-out rows (on training rows it would reward memorisation).

References
----------
.. [1] A. Kraskov, H. Stoegbauer and P. Grassberger, "Estimating mutual information",
   Physical Review E 69, 2004.
.. [2] B. C. Ross, "Mutual Information between Discrete and Continuous Data Sets",
   PLoS ONE 9(2), 2014.
.. [3] L. Breiman, "Random Forests", Machine Learning 45(1), 2001.
.. [4] R. Tibshirani, "Regression Shrinkage and Selection via the Lasso", J. R.
   Statist. Soc. B 58(1), 1996.
.. [5] I. Guyon and A. Elisseeff, "An Introduction to Variable and Feature Selection",
   JMLR 3, 2003.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.feature_selection import mutual_info_classif
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from recfeat_ref._validation import (
    DataValidationError,
    _check_positive,
    _check_positive_int,
    _check_seed,
    _preview,
    check_binary,
    check_dataframe,
    check_same_length,
    check_vector,
)

__all__ = [
    "correlation_with_label",
    "l1_selection",
    "mutual_information",
    "permutation_importance",
    "selection_report",
]


def _check_xy(X, y, who: str) -> tuple[pd.DataFrame, np.ndarray]:
    """``X`` a non-empty numeric frame without missing values, ``y`` 0/1 of the same length."""
    check_dataframe(X, who)
    for col in X.columns:
        values = X[col]
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            raise DataValidationError(
                f"{who}: column {col!r} has dtype {values.dtype}, not numeric; encode it first "
                "(e.g. recfeat_ref.features.OrdinalEncoder or TargetEncoder)"
            )
        bad = np.flatnonzero(np.asarray(values.isna()))
        if len(bad):
            raise DataValidationError(
                f"{who}: column {col!r} has {len(bad)} missing value(s) at rows "
                f"{_preview(X.index[bad].tolist())}; impute or drop them first"
            )
    y = check_vector(y, f"{who}: y")
    check_same_length(X.to_numpy()[:, 0], y, ("X", "y"))
    check_binary(y, f"{who}: y")
    if len(np.unique(y)) < 2:
        raise DataValidationError(f"{who}: y holds one class only; selection needs both labels")
    return X, y.astype(np.int64)


def correlation_with_label(X: pd.DataFrame, y, method: str = "pearson") -> pd.Series:
    r"""Correlation of each column of ``X`` with the 0/1 label.

    Pearson's :math:`r = \frac{\sum_i (x_i - \bar x)(y_i - \bar y)}{\sqrt{\sum_i (x_i -
    \bar x)^2 \sum_i (y_i - \bar y)^2}}`; with a 0/1 label it is the point-biserial
    correlation, :math:`r = \frac{\bar x_1 - \bar x_0}{s_x}\sqrt{p(1-p)}` (:math:`s_x`
    with ``ddof=0``). ``method="spearman"`` correlates the ranks instead (monotone,
    not only linear, relations).

    Parameters
    ----------
    X : pandas.DataFrame of numbers
    y : array-like of 0/1
    method : {"pearson", "spearman"}

    Returns
    -------
    pandas.Series
        One value in [-1, 1] per column, indexed by column name; NaN for a constant
        column (its correlation is undefined, 0/0).

    Examples
    --------
    >>> X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 1.0, 1.0, 1.0]})
    >>> correlation_with_label(X, [0, 0, 1, 1]).round(3).tolist()
    [0.894, nan]
    """
    if method not in ("pearson", "spearman"):
        raise ValueError(f"method must be 'pearson' or 'spearman', got {method!r}")
    X, y = _check_xy(X, y, "correlation_with_label")
    values = X.to_numpy(dtype=np.float64)  # (n, p)
    target = y.astype(np.float64)
    if method == "spearman":
        values = X.rank().to_numpy(dtype=np.float64)
        target = pd.Series(target).rank().to_numpy()
    xc = values - values.mean(axis=0)
    yc = target - target.mean()
    den = np.sqrt((xc**2).sum(axis=0) * (yc**2).sum())
    r = np.divide(xc.T @ yc, den, out=np.full(values.shape[1], np.nan), where=den > 0)
    return pd.Series(r, index=X.columns, name=f"{method}_r")


def mutual_information(
    X: pd.DataFrame, y, discrete_features="auto", max_rows: int | None = 20_000, seed: int = 0
) -> pd.Series:
    r"""Mutual information :math:`I(x; y)` between each column and the label, in nats.

    :math:`I(x;y) = \sum_{x,y} p(x,y)\log\frac{p(x,y)}{p(x)p(y)} \ge 0`, zero exactly when
    the feature and the label are independent. Estimated by
    :func:`sklearn.feature_selection.mutual_info_classif` (counts for discrete
    features, the k-nearest-neighbour estimator for continuous ones).

    Parameters
    ----------
    X : pandas.DataFrame of numbers
    y : array-like of 0/1
    discrete_features : "auto", bool or array-like, default="auto"
        Passed on. ``"auto"`` here means: integer-typed columns are discrete (codes,
        buckets, counts), float columns continuous.
    max_rows : int or None, default=20000
        Estimate on a seeded random subsample of this many rows (the kNN estimator
        costs :math:`O(n \log n)` per feature); 20,000 rows put the estimate's spread
        over seeds below 0.002 nats for the chapter's features. ``None``: all rows.
    seed : int, default=0
        Seeds the subsample and the estimator's tiny noise for continuous features.

    Returns
    -------
    pandas.Series, one value >= 0 per column

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 500)
    >>> X = pd.DataFrame({"copy": y, "noise": rng.integers(0, 2, 500)})
    >>> mi = mutual_information(X, y)
    >>> bool(mi["copy"] > 0.6 > mi["noise"])
    True
    """
    X, y = _check_xy(X, y, "mutual_information")
    _check_seed(seed)
    if max_rows is not None:
        _check_positive_int("max_rows", max_rows)
        if len(X) > max_rows:
            keep = np.sort(np.random.default_rng(seed).choice(len(X), max_rows, replace=False))
            X, y = X.iloc[keep], y[keep]
    if isinstance(discrete_features, str) and discrete_features == "auto":
        discrete_features = np.array([pd.api.types.is_integer_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])
                                      for c in X.columns])
    mi = mutual_info_classif(X.to_numpy(dtype=np.float64), y, discrete_features=discrete_features,
                             random_state=seed)
    return pd.Series(mi, index=X.columns, name="mutual_info")


def _scores_of(model) -> Callable[[pd.DataFrame], np.ndarray]:
    if hasattr(model, "predict_proba"):
        return lambda X: np.asarray(model.predict_proba(X))[:, 1]
    if hasattr(model, "decision_function"):
        return lambda X: np.asarray(model.decision_function(X))
    if callable(model):
        return lambda X: np.asarray(model(X))
    raise TypeError(
        f"model must have predict_proba or decision_function, or be a callable X -> scores; "
        f"got {type(model).__name__}"
    )


def permutation_importance(
    model, X: pd.DataFrame, y, scoring: Callable = roc_auc_score, n_repeats: int = 5, seed: int = 0
) -> pd.DataFrame:
    r"""Drop in a validation score when one feature's values are shuffled across rows.

    For feature :math:`j` and repeat :math:`r`, :math:`X^{(j,r)}` is ``X`` with column
    :math:`j` permuted at random (every other column in place), and

    .. math:: \mathrm{PI}_j = s(X) - \frac{1}{R}\sum_{r=1}^{R} s(X^{(j,r)})

    where :math:`s` is the score of the *fitted* model on held-out rows (Breiman,
    2001). Shuffling breaks the feature's link with the label and with the other
    features while keeping its distribution, so :math:`\mathrm{PI}_j` is what the
    model actually *uses* of feature :math:`j`; a feature whose information is
    duplicated elsewhere can score near 0 although it is predictive on its own.

    Parameters
    ----------
    model : fitted estimator or callable
        Anything with ``predict_proba`` (its column 1 is scored), else
        ``decision_function``, or a function ``X -> scores``. It gets frames with
        the columns of ``X``.
    X : pandas.DataFrame
        Validation rows (never the training rows), numeric, no missing values.
    y : array-like of 0/1
    scoring : callable ``(y_true, y_score) -> float``, default=roc_auc_score
        Higher is better.
    n_repeats : int, default=5
        :math:`R`. Five shuffles put the spread of the mean below a tenth of the
        chapter's largest importances; scikit-learn's default is also 5.
    seed : int, default=0
        Draws, in this order: for each column (in order) its ``n_repeats``
        permutations ``rng.permutation(n)`` of ``numpy.random.default_rng(seed)``.

    Returns
    -------
    pandas.DataFrame
        Indexed by column, with ``importance_mean``, ``importance_std`` (``ddof=0``,
        over repeats) and ``baseline_score`` (:math:`s(X)`, the same on every row).

    Notes
    -----
    Checked against :func:`sklearn.inspection.permutation_importance` (which draws
    its permutations differently) on a scikit-learn model: the means agree within
    their sampling error (tested).

    Examples
    --------
    >>> X = pd.DataFrame({"signal": [0.1, 0.4, 0.35, 0.8], "noise": [1.0, 0.0, 1.0, 0.0]})
    >>> pi = permutation_importance(lambda d: d["signal"].to_numpy(), X, [0, 0, 1, 1], n_repeats=20)
    >>> bool(pi.loc["signal", "importance_mean"] > 0), float(pi.loc["noise", "importance_mean"])
    (True, 0.0)
    """
    _check_positive_int("n_repeats", n_repeats)
    _check_seed(seed)
    X, y = _check_xy(X, y, "permutation_importance")
    score = _scores_of(model)
    baseline = float(scoring(y, score(X)))
    rng = np.random.default_rng(seed)
    n, drops = len(X), np.empty((X.shape[1], n_repeats))
    for j, col in enumerate(X.columns):
        shuffled = X.copy()
        original = X[col].to_numpy()
        for r in range(n_repeats):
            shuffled[col] = original[rng.permutation(n)]
            drops[j, r] = baseline - float(scoring(y, score(shuffled)))
    return pd.DataFrame(
        {"importance_mean": drops.mean(axis=1), "importance_std": drops.std(axis=1), "baseline_score": baseline},
        index=X.columns,
    )


def l1_selection(X: pd.DataFrame, y, C: float = 0.001, seed: int = 0) -> pd.DataFrame:
    r"""Coefficients of an L1-penalised logistic regression on standardised features.

    Minimises :math:`\sum_i \ell(y_i, w^\top z_i + b) + \frac{1}{C}\lVert w\rVert_1`
    over the standardised features :math:`z` (so that one :math:`C` treats every
    feature alike); the L1 norm sets the weights of features that do not pay for
    their penalty to exactly 0 (Tibshirani, 1996). Fitted with scikit-learn's
    :class:`~sklearn.linear_model.LogisticRegression` (``l1_ratio=1``, the pure L1
    penalty, formerly ``penalty="l1"``; solver ``liblinear``).

    Parameters
    ----------
    X : pandas.DataFrame of numbers
        Training rows.
    y : array-like of 0/1
    C : float, default=0.001
        Inverse penalty strength. Chosen on the chapter's 35 engineered features
        (seed-0 CTR split, validation part) among 0.01, 0.003, 0.001, 0.0005 and
        0.0001: 0.001 keeps 11 of them, and a logistic regression refitted on those
        loses 0.0012 validation AUC against all 35 (0.01 keeps 30; 0.0005 keeps 4
        and loses 0.007).
    seed : int, default=0
        ``random_state`` of the solver.

    Returns
    -------
    pandas.DataFrame
        Indexed by column: ``l1_coef`` (per standard deviation of the feature) and
        ``l1_selected`` (``l1_coef != 0``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"signal": rng.normal(size=400), "noise": rng.normal(size=400)})
    >>> y = (X["signal"] + 0.3 * rng.normal(size=400) > 0).astype(int)
    >>> l1_selection(X, y, C=0.01)["l1_selected"].tolist()
    [True, False]
    """
    _check_positive("C", C)
    _check_seed(seed)
    X, y = _check_xy(X, y, "l1_selection")
    model = make_pipeline(
        StandardScaler(), LogisticRegression(l1_ratio=1.0, C=C, solver="liblinear", random_state=seed)
    ).fit(X.to_numpy(dtype=np.float64), y)
    coef = model[-1].coef_.ravel()
    return pd.DataFrame({"l1_coef": coef, "l1_selected": coef != 0}, index=X.columns)


def selection_report(
    X_train: pd.DataFrame,
    y_train,
    X_valid: pd.DataFrame,
    y_valid,
    model=None,
    n_repeats: int = 5,
    C: float = 0.001,
    mi_rows: int | None = 20_000,
    seed: int = 0,
) -> pd.DataFrame:
    """All four selection methods side by side, one row per feature.

    Parameters
    ----------
    X_train, y_train : training rows (numeric frame, 0/1 labels)
        For correlation, mutual information, the L1 fit, and the default model.
    X_valid, y_valid : validation rows
        For permutation importance only.
    model : fitted estimator, optional
        Scored by :func:`permutation_importance`. Default: standardisation and an
        (L2) logistic regression fitted on the training rows.
    n_repeats, seed : see :func:`permutation_importance`
    C : see :func:`l1_selection`
    mi_rows : see ``max_rows`` of :func:`mutual_information`

    Returns
    -------
    pandas.DataFrame
        Columns ``pearson_r``, ``abs_r``, ``mutual_info``, ``perm_importance``,
        ``perm_importance_std``, ``l1_coef``, ``l1_selected``, the rank of each feature
        under each of the four criteria (``rank_r`` on ``abs_r``, ``rank_mi``,
        ``rank_perm``, ``rank_l1`` on ``|l1_coef|``; 1 = most important) and their
        mean ``mean_rank``; sorted by ``mean_rank``. ``baseline_score`` is in
        ``.attrs``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"signal": rng.normal(size=600), "noise": rng.normal(size=600)})
    >>> y = (X["signal"] + rng.normal(size=600) > 0).astype(int).to_numpy()
    >>> report = selection_report(X[:400], y[:400], X[400:], y[400:])
    >>> report.index.tolist()
    ['signal', 'noise']
    """
    X_train, y_train = _check_xy(X_train, y_train, "selection_report(X_train)")
    X_valid, y_valid = _check_xy(X_valid, y_valid, "selection_report(X_valid)")
    if list(X_train.columns) != list(X_valid.columns):
        raise DataValidationError(
            f"selection_report: X_valid's columns {list(X_valid.columns)} differ from X_train's "
            f"{list(X_train.columns)}; select and order them the same way"
        )
    if model is None:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_train, y_train)
    report = pd.DataFrame(index=X_train.columns)
    report["pearson_r"] = correlation_with_label(X_train, y_train)
    report["abs_r"] = report["pearson_r"].abs()
    report["mutual_info"] = mutual_information(X_train, y_train, max_rows=mi_rows, seed=seed)
    pi = permutation_importance(model, X_valid, y_valid, n_repeats=n_repeats, seed=seed)
    report["perm_importance"] = pi["importance_mean"]
    report["perm_importance_std"] = pi["importance_std"]
    report = report.join(l1_selection(X_train, y_train, C=C, seed=seed))
    ranks = {
        "rank_r": report["abs_r"].fillna(0),
        "rank_mi": report["mutual_info"],
        "rank_perm": report["perm_importance"],
        "rank_l1": report["l1_coef"].abs(),
    }
    for name, values in ranks.items():
        report[name] = values.rank(ascending=False, method="min").astype(np.int64)
    report["mean_rank"] = report[list(ranks)].mean(axis=1)
    report = report.sort_values(["mean_rank", "perm_importance"], ascending=[True, False], kind="stable")
    report.attrs["baseline_score"] = float(pi["baseline_score"].iloc[0])
    return report
