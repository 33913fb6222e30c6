"""EASE and iALS (recfeat_ref.linear): closed forms against direct solves, the sweeps, the API."""

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recfeat_ref._validation import DataValidationError
from recfeat_ref.baselines import Popularity
from recfeat_ref.linear import EASE, IALS, EASEConfig, IALSConfig, ease_weights, grid_search, ials_loss, solve_factors
from recfeat_ref.recommender import Recommender, evaluate_topn


def _random_binary(n_users=30, n_items=8, density=0.35, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.random((n_users, n_items)) < density).astype(float)
    x[np.arange(n_items) % n_users, np.arange(n_items)] = 1.0  # every item has a user
    return x


def _frame(x):
    u, i = np.nonzero(x)
    return pd.DataFrame({"user_id": u + 100, "item_id": i + 1000})  # raw ids, not indices


def _planted(n_users=80, n_items=40, seed=0):
    """Two communities: users of group g interact with items of group g (p=0.45), rarely others (0.03)."""
    rng = np.random.default_rng(seed)
    ug, ig = np.arange(n_users) % 2, np.arange(n_items) % 2
    p = np.where(ug[:, None] == ig[None, :], 0.45, 0.03)
    p = p * np.linspace(1.3, 0.7, n_items)[None, :]  # a popularity gradient, so Popularity is not hopeless
    u, i = np.nonzero(rng.random((n_users, n_items)) < p)
    df = pd.DataFrame({"user_id": u, "item_id": i})
    part = rng.random(len(df))
    return df[part < 0.7], df[(part >= 0.7) & (part < 0.85)], df[part >= 0.85]


# --- EASE -----------------------------------------------------------------------------


def test_ease_equals_the_per_column_ridge_solve_of_the_constrained_problem():
    # diag(B) = 0 means column j regresses x_j on the other columns only: solve that directly.
    x, reg = _random_binary(), 2.5
    b = ease_weights(sp.csr_matrix(x), reg)
    n = x.shape[1]
    for j in range(n):
        others = np.delete(np.arange(n), j)
        xo = x[:, others]
        direct = np.linalg.solve(xo.T @ xo + reg * np.eye(n - 1), xo.T @ x[:, j])
        np.testing.assert_allclose(b[others, j], direct, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(np.diag(b), 0.0)


def test_ease_satisfies_the_lagrangian_stationarity_condition():
    # KKT of min ||X - XB||^2 + reg ||B||^2 s.t. diag(B) = 0: (X^T X + reg I) B - X^T X = -diag(gamma),
    # i.e. the residual matrix is diagonal.
    x, reg = _random_binary(seed=1), 0.7
    g = x.T @ x
    b = ease_weights(x, reg)  # dense input works too
    residual = (g + reg * np.eye(len(g))) @ b - g
    np.testing.assert_allclose(residual - np.diag(np.diag(residual)), 0.0, atol=1e-10)


def test_ease_recommender_scores_are_x_times_b_with_shapes_and_fallbacks():
    x = _random_binary()
    x = x[x.sum(1) > 0]  # a user without items is not in the frame
    model = EASE(reg=3.0).fit(_frame(x))
    assert model.weights_.shape == (8, 8)
    np.testing.assert_allclose(model.weights_, ease_weights(x, 3.0))
    scores = model.score_items([100, 105])
    assert scores.shape == (2, 8) and scores.dtype == np.float64
    np.testing.assert_allclose(scores, x[[0, 5]] @ model.weights_)
    # unseen user: the average training user x_bar B; unseen item: the user's mean score
    cold = model.score_items([-1])
    np.testing.assert_allclose(cold[0], x.mean(0) @ model.weights_)
    pred = model.predict(pd.DataFrame({"user_id": [100, 100, -1], "item_id": [1000, -5, -5]}))
    assert pred.shape == (3,)
    np.testing.assert_allclose(pred, [scores[0, 0], scores[0].mean(), cold[0].mean()])


# --- iALS -----------------------------------------------------------------------------


def test_solve_factors_equals_the_closed_form_of_each_weighted_ridge_problem():
    rng = np.random.default_rng(0)
    r = _random_binary(12, 9, seed=2)
    r[3] = 0.0  # a user without observations gets x_u = 0
    alpha, reg, k = 4.0, 0.3, 3
    conf = sp.csr_matrix(r * (1 + alpha * r))  # c = 1 + alpha r on the observed cells only
    y = rng.normal(size=(9, k))
    got = solve_factors(conf, y, reg)
    for u in range(12):
        c = np.diag(1.0 + alpha * r[u])  # dense C^u: 1 on every unobserved cell
        p = (r[u] > 0).astype(float)
        direct = np.linalg.solve(y.T @ c @ y + reg * np.eye(k), y.T @ c @ p)
        np.testing.assert_allclose(got[u], direct, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(got[3], 0.0)


def test_ials_loss_equals_the_dense_objective():
    rng = np.random.default_rng(1)
    r, alpha, reg = _random_binary(10, 7, seed=3), 2.0, 0.5
    x, y = rng.normal(size=(10, 2)), rng.normal(size=(7, 2))
    c, p = 1 + alpha * r, (r > 0).astype(float)
    dense = float(np.sum(c * (p - x @ y.T) ** 2) + reg * (np.sum(x**2) + np.sum(y**2)))
    assert math.isclose(ials_loss(sp.csr_matrix(r * c), x, y, reg), dense, rel_tol=1e-12)


def test_ials_loss_never_increases_over_half_sweeps_and_sweeps():
    r = _random_binary(40, 15, seed=4)
    conf = sp.csr_matrix(r * (1 + 3.0 * r))
    reg = 0.2
    x, y = np.zeros((40, 4)), np.random.default_rng(0).normal(0, 0.1, (15, 4))
    losses = [ials_loss(conf, x, y, reg)]
    for _ in range(5):
        x = solve_factors(conf, y, reg)
        losses.append(ials_loss(conf, x, y, reg))
        y = solve_factors(conf.T.tocsr(), x, reg)
        losses.append(ials_loss(conf, x, y, reg))
    assert all(b <= a + 1e-9 for a, b in zip(losses, losses[1:])), losses
    model = IALS(n_factors=4, reg=reg, alpha=3.0, num_epochs=6, progress=False).fit(_frame(r))
    assert model.history_["train_loss"].diff().dropna().le(1e-9).all()
    assert len(model.history_) == 6 and model.best_epoch_ == 6  # no valid: every sweep runs


def test_ials_is_deterministic_per_seed_and_has_the_documented_shapes():
    train = _frame(_random_binary(25, 10, seed=5))
    fit = lambda seed: IALS(n_factors=3, reg=0.5, alpha=2.0, num_epochs=4, seed=seed, progress=False).fit(train)
    a, b, c = fit(0), fit(0), fit(1)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    assert not np.allclose(a.item_factors_, c.item_factors_)
    assert a.user_factors_.shape == (25, 3) and a.item_factors_.shape == (10, 3)
    assert a.confidence_.shape == (25, 10) and set(np.unique(a.confidence_.data)) == {3.0}
    assert a.score_items([100, 101, -7]).shape == (3, 10)
    np.testing.assert_allclose(a.score_items([-7])[0], a.item_factors_ @ a.user_factors_.mean(0))
    assert a.predict(train.head(4)).shape == (4,)


def test_ials_early_stopping_keeps_the_best_sweep():
    train, valid, _ = _planted()
    model = IALS(n_factors=4, reg=1.0, alpha=5.0, num_epochs=40, patience=3, progress=False).fit(train, valid)
    h = model.history_
    assert {"valid_ndcg_at_10", "valid_recall_at_10"} <= set(h.columns)
    assert model.best_epoch_ == int(h.loc[h["valid_ndcg_at_10"].idxmax(), "epoch"])
    assert len(h) < 40, "stopped by patience, not by the cap"
    assert len(h) - model.best_epoch_ == 3
    again = evaluate_topn(model, train, valid, k=10)["ndcg_at_k"]
    assert math.isclose(again, h["valid_ndcg_at_10"].max())  # the kept factors are the best sweep's


def test_both_models_learn_the_planted_communities():
    train, valid, test = _planted()
    seen = pd.concat([train, valid])
    pop = evaluate_topn(Popularity().fit(train), seen, test, k=5)["ndcg_at_k"]
    ease = evaluate_topn(EASE(reg=5.0).fit(train), seen, test, k=5)["ndcg_at_k"]
    ials = IALS(n_factors=4, reg=1.0, alpha=5.0, num_epochs=30, progress=False).fit(train, valid)
    ials = evaluate_topn(ials, seen, test, k=5)["ndcg_at_k"]
    assert ease > pop + 0.1 and ials > pop + 0.1, (pop, ease, ials)


# --- tuning and input checks -------------------------------------------------------------


class _Oracle(Recommender):
    """A stub whose ranking is best at quality == 3: the validation pairs get a bonus exp(-(q - 3)^2)."""

    target_col = None

    def __init__(self, valid, quality):
        super().__init__()
        self.valid, self.quality = valid, quality

    def _fit(self, users, items, values):
        self._noise = np.random.default_rng(0).random((self.n_users_, self.n_items_))

    def _score_all(self, users):
        bonus = np.zeros((self.n_users_, self.n_items_))
        vu, vi = self._indices(self.valid, "valid")
        bonus[vu[vi >= 0], vi[vi >= 0]] = math.exp(-((self.quality - 3.0) ** 2))
        return (self._noise + bonus)[users]


def test_grid_search_picks_the_best_validation_point_and_flags_edges():
    train, valid, _ = _planted()
    result = grid_search(lambda quality: _Oracle(valid, quality), {"quality": [1.0, 2.0, 3.0, 4.0, 6.0]}, train, valid)
    table = result.table
    assert len(table) == 5 and result.best_score == table["valid_ndcg_at_k"].max()
    assert result.best_params == {"quality": 3.0} and result.on_edge == {}
    edge = grid_search(lambda quality: _Oracle(valid, quality), {"quality": [0.0, 1.0, 2.0]}, train, valid)
    assert edge.best_params == {"quality": 2.0} and edge.on_edge == {"quality": 2.0}
    ease = grid_search(EASE, {"reg": [1.0, 10.0]}, train, valid)
    assert math.isclose(evaluate_topn(ease.model, train, valid)["ndcg_at_k"], ease.best_score)
    assert ease.model.config.reg == ease.best_params["reg"]
    ials = grid_search(lambda **p: IALS(num_epochs=8, progress=False, **p),
                       {"n_factors": [2], "reg": [1.0], "alpha": [1.0, 5.0]}, train, valid)
    assert {"best_epoch", "epochs_run"} <= set(ials.table.columns) and "n_factors" not in ials.on_edge
    with pytest.raises(DataValidationError, match=r"grid\['reg'\]"):
        grid_search(EASE, {"reg": []}, train, valid)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: EASE(reg=0.0), "reg must be a finite number > 0, got 0.0"),
        (lambda: EASE(reg=-1.0), "reg must be a finite number > 0"),
        (lambda: EASE(reg=float("nan")), "reg must be a finite number > 0, got nan"),
        (lambda: IALS(alpha=-0.5), "alpha must be a finite number >= 0, got -0.5"),
        (lambda: IALS(alpha=float("nan")), "alpha must be a finite number >= 0, got nan"),
        (lambda: IALS(n_factors=0), "n_factors must be a positive int, got 0"),
        (lambda: IALS(n_factors=2.5), "n_factors must be a positive int"),
        (lambda: IALS(reg=0), "reg must be a finite number > 0"),
        (lambda: IALS(reg=float("inf")), "reg must be a finite number > 0"),
        (lambda: IALSConfig(num_epochs=0), "num_epochs must be a positive int"),
        (lambda: EASEConfig(reg="1"), "reg must be a finite number > 0"),
        (lambda: solve_factors(sp.csr_matrix(np.eye(2)), np.eye(2), reg=-1), "reg must be"),
    ],
)
def test_bad_settings_raise_naming_the_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_data_and_misuse_raise_clear_errors():
    with pytest.raises(TypeError, match=r"unknown IALSConfig field\(s\) \['lambda_'\]"):
        IALS(lambda_=1.0)
    with pytest.raises(DataValidationError, match="not fitted yet"):
        EASE().score_items([1])
    with pytest.raises(DataValidationError, match=r"train: missing column\(s\) \['item_id'\]"):
        EASE().fit(pd.DataFrame({"user_id": [1]}))
    with pytest.raises(DataValidationError, match=r"valid: missing column\(s\) \['item_id'\]"):
        IALS(progress=False).fit(pd.DataFrame({"user_id": [1], "item_id": [2]}), pd.DataFrame({"user_id": [1]}))
