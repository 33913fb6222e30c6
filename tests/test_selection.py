"""Tests for recfeat_ref.selection: each method against a library or brute force, and the report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.feature_selection import mutual_info_classif
from sklearn.inspection import permutation_importance as sk_permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from recfeat_ref._validation import DataValidationError
from recfeat_ref.selection import (
    correlation_with_label,
    l1_selection,
    mutual_information,
    permutation_importance,
    selection_report,
)


def make_data(n=1200, seed=0):
    """Two informative features (one linear, one through an interaction), a copy, noise."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "strong": rng.normal(size=n),
            "weak": rng.normal(size=n),
            "noise": rng.normal(size=n),
            "bucket": rng.integers(0, 4, n),
        }
    )
    X["strong_copy"] = X["strong"] + 0.01 * rng.normal(size=n)
    logit = 2.0 * X["strong"] + 0.5 * X["weak"] + 0.3 * (X["bucket"] == 3)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()
    return X, y


@pytest.fixture(scope="module")
def data():
    X, y = make_data()
    return X.iloc[:800], y[:800], X.iloc[800:], y[800:]


def test_correlation_equals_scipy(data):
    X, y, _, _ = data
    r = correlation_with_label(X, y)
    rs = correlation_with_label(X, y, method="spearman")
    for col in X.columns:
        assert r[col] == pytest.approx(pearsonr(X[col], y).statistic, abs=1e-12)
        assert rs[col] == pytest.approx(spearmanr(X[col], y).statistic, abs=1e-12)
    const = correlation_with_label(X.assign(noise=1.0), y)
    assert np.isnan(const["noise"])
    with pytest.raises(ValueError, match="method"):
        correlation_with_label(X, y, method="kendall")


def test_mutual_information_equals_sklearn_and_orders_features(data):
    X, y, _, _ = data
    mi = mutual_information(X, y, max_rows=None, seed=0)
    discrete = np.array([False, False, False, True, False])
    ref = mutual_info_classif(X.to_numpy(dtype=float), y, discrete_features=discrete, random_state=0)
    np.testing.assert_allclose(mi.to_numpy(), ref)
    assert mi["strong"] > mi["weak"] > mi["noise"] - 0.01
    sub = mutual_information(X, y, max_rows=300, seed=1)
    assert sub.index.tolist() == X.columns.tolist() and (sub >= 0).all()


def test_permutation_importance_equals_brute_force_loop(data):
    X, y, Xv, yv = data
    model = LogisticRegression().fit(X, y)
    ours = permutation_importance(model, Xv, yv, n_repeats=3, seed=7)
    rng = np.random.default_rng(7)
    base = roc_auc_score(yv, model.predict_proba(Xv)[:, 1])
    for col in Xv.columns:
        drops = []
        for _ in range(3):
            Xp = Xv.copy()
            Xp[col] = Xv[col].to_numpy()[rng.permutation(len(Xv))]
            drops.append(base - roc_auc_score(yv, model.predict_proba(Xp)[:, 1]))
        assert ours.loc[col, "importance_mean"] == pytest.approx(np.mean(drops))
        assert ours.loc[col, "importance_std"] == pytest.approx(np.std(drops))
    assert ours["baseline_score"].iloc[0] == pytest.approx(base)


def test_permutation_importance_agrees_with_sklearn_within_sampling_error(data):
    X, y, Xv, yv = data
    model = LogisticRegression().fit(X, y)
    R = 20
    ours = permutation_importance(model, Xv, yv, n_repeats=R, seed=0)
    ref = sk_permutation_importance(model, Xv, yv, scoring="roc_auc", n_repeats=R, random_state=0)
    for j, col in enumerate(Xv.columns):
        se = np.sqrt((ours.loc[col, "importance_std"] ** 2 + ref.importances_std[j] ** 2) / R)
        assert abs(ours.loc[col, "importance_mean"] - ref.importances_mean[j]) < 4 * se + 1e-3, col
    assert ours["importance_mean"].idxmax() in ("strong", "strong_copy")
    assert abs(ours.loc["noise", "importance_mean"]) < 0.01


def test_permutation_importance_takes_callables_and_checks_input(data):
    _, _, Xv, yv = data
    pi = permutation_importance(lambda d: d["weak"].to_numpy(), Xv, yv, n_repeats=2)
    assert (pi.drop(index="weak")["importance_mean"] == 0).all()
    with pytest.raises(TypeError, match="predict_proba"):
        permutation_importance(object(), Xv, yv)
    with pytest.raises(DataValidationError, match="'txt'.*not numeric"):
        permutation_importance(lambda d: d["weak"], Xv.assign(txt="a"), yv)
    with pytest.raises(DataValidationError, match="'weak' has 1 missing"):
        permutation_importance(lambda d: d["strong"], Xv.assign(weak=np.r_[np.nan, Xv["weak"].to_numpy()[1:]]), yv)
    with pytest.raises(DataValidationError, match="0 or 1"):
        permutation_importance(lambda d: d["weak"], Xv, yv * 2)
    with pytest.raises(DataValidationError, match="empty"):
        permutation_importance(lambda d: d["weak"], Xv.iloc[:0], yv[:0])


def test_l1_selection_drops_noise_and_keeps_signal(data):
    X, y, _, _ = data
    sel = l1_selection(X, y, C=0.01)
    assert sel.loc["strong", "l1_selected"] or sel.loc["strong_copy", "l1_selected"]
    assert not sel.loc["noise", "l1_selected"]
    weak_penalty = l1_selection(X, y, C=100.0)
    assert weak_penalty["l1_selected"].sum() >= sel["l1_selected"].sum()
    with pytest.raises(ValueError, match="C must be"):
        l1_selection(X, y, C=0)


def test_selection_report_side_by_side(data):
    X, y, Xv, yv = data
    report = selection_report(X, y, Xv, yv, n_repeats=3)
    assert set(X.columns) == set(report.index)
    for col in ("pearson_r", "mutual_info", "perm_importance", "l1_coef", "l1_selected", "mean_rank"):
        assert col in report.columns
    assert report.index[0] in ("strong", "strong_copy")
    assert report.index[-1] in ("noise", "bucket")
    assert 0.5 < report.attrs["baseline_score"] <= 1
    with pytest.raises(DataValidationError, match="differ"):
        selection_report(X, y, Xv[X.columns[::-1]], yv)
    with pytest.raises(DataValidationError, match="one class"):
        selection_report(X, np.zeros(len(X)), Xv, yv)
