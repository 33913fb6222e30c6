"""Matrix factorisation recommenders: shapes, overfitting, determinism, fallbacks, sampler, gradients."""

import numpy as np
import pandas as pd
import pytest
import torch

from recfeat_ref.mf import (
    BPRMF,
    BPRConfig,
    MFRecommender,
    MFRecommenderConfig,
    NegativeSampler,
    _BatchL2,
    _BPRBatch,
    _MFBatch,
    bpr_loss,
    bpr_objective,
)
from recfeat_ref.models import BiasedMF, MFConfig
from recfeat_ref.recommender import evaluate_ratings, evaluate_topn
from recfeat_ref.training import seed_everything

FAST = {"progress": False, "device": "cpu"}


def _low_rank_ratings(n_users=30, n_items=20, rank=2, seed=0):
    """Every (user, item) pair of a rank-2 matrix plus biases, ratings around 3; raw ids offset."""
    rng = np.random.default_rng(seed)
    P, Q = rng.normal(size=(n_users, rank)), rng.normal(size=(n_items, rank))
    R = 3 + 0.5 * rng.normal(size=(n_users, 1)) + 0.5 * rng.normal(size=(1, n_items)) + 0.6 * P @ Q.T
    u, i = np.meshgrid(np.arange(n_users), np.arange(n_items), indexing="ij")
    return pd.DataFrame({"user_id": 100 + u.ravel(), "item_id": 500 + i.ravel(), "rating": R.ravel()})


def _blocks(n_groups=3, users_per_group=6, items_per_group=8, seed=0):
    """Block-structured implicit data: group g's users interact with most of group g's items."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_groups):
        for u in range(users_per_group):
            for i in range(items_per_group):
                if rng.random() < 0.8:
                    rows.append((g * users_per_group + u, g * items_per_group + i))
    return pd.DataFrame(rows, columns=["user_id", "item_id"])


# --- MFRecommender ----------------------------------------------------------------


def test_mf_output_shapes_and_dtypes():
    train = _low_rank_ratings()
    model = MFRecommender(n_factors=4, num_epochs=2, batch_size=64, **FAST).fit(train)
    test = pd.DataFrame({"user_id": [100, 101, 999], "item_id": [500, 777, 501]})
    pred = model.predict(test)
    assert pred.shape == (3,) and pred.dtype == np.float64 and np.isfinite(pred).all()
    assert model.score_items().shape == (30, 20)
    assert model.score_items([100, 12345]).shape == (2, 20)
    assert model.user_factors_.shape == (30, 4) and model.item_factors_.shape == (20, 4)
    np.testing.assert_allclose(model.score_items([100, 101])[:, :3], model.predict(
        pd.DataFrame({"user_id": [100] * 3 + [101] * 3, "item_id": [500, 501, 502] * 2})).reshape(2, 3))
    assert "MFRecommenderConfig(n_factors=4" in repr(model)
    renamed = train.rename(columns={"user_id": "u", "item_id": "i"})
    other = MFRecommender(n_factors=4, num_epochs=2, batch_size=64, user_col="u", item_col="i", **FAST).fit(renamed)
    np.testing.assert_array_equal(other.score_items(), model.score_items())


def test_mf_overfits_a_tiny_low_rank_matrix():
    train = _low_rank_ratings()
    model = MFRecommender(n_factors=4, reg=0.0, bias_reg=0.0, lr=0.03, num_epochs=300, batch_size=150, **FAST).fit(train)
    assert evaluate_ratings(model, train)["rmse"] < 0.03


def test_mf_is_deterministic_under_a_seed():
    train = _low_rank_ratings()
    cfg = MFRecommenderConfig(n_factors=4, num_epochs=3, batch_size=64, **FAST)
    a = MFRecommender(cfg).fit(train).score_items()
    b = MFRecommender(cfg).fit(train).score_items()
    np.testing.assert_array_equal(a, b)
    c = MFRecommender(cfg, seed=1).fit(train).score_items()
    assert not np.array_equal(a, c)


def test_mf_fallback_is_mean_plus_the_known_bias():
    train = _low_rank_ratings()
    model = MFRecommender(n_factors=4, num_epochs=3, batch_size=64, **FAST).fit(train)
    mu, bu, bi = model.global_mean_, model.user_bias_, model.item_bias_
    rows = pd.DataFrame({"user_id": [999, 100, 999, 101], "item_id": [501, 888, 888, 503]})
    expected = [mu + bi[1], mu + bu[0], mu, mu + bu[1] + bi[3] + model.user_factors_[1] @ model.item_factors_[3]]
    np.testing.assert_allclose(model.predict(rows), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.score_items([999])[0], mu + bi, rtol=0, atol=1e-12)
    # the torch model agrees: its OOV row 0 is still exactly zero after training
    m = model.model_
    assert not m.user_factors.weight[0].any() and not m.item_bias.weight[0].any()
    with torch.no_grad():
        out = m(torch.tensor([0, 1, 0]), torch.tensor([2, 0, 0])).double().numpy()
    np.testing.assert_allclose(out, [mu + bi[1], mu + bu[0], mu], atol=1e-6)


def test_batch_l2_forward_equals_biased_mf_and_penalty_matches_formula():
    seed_everything(0)
    mf = BiasedMF(MFConfig(n_users=6, n_items=5, n_factors=3, global_mean=3.0, init_std=0.5))
    with torch.no_grad():
        mf.user_bias.weight[1:].normal_()
        mf.item_bias.weight[1:].normal_()
    net = _BatchL2(mf, reg=0.3, bias_reg=0.05)
    u, i = torch.tensor([1, 2, 5, 0]), torch.tensor([4, 1, 1, 3])
    train_out = net.train()(u, i)
    torch.testing.assert_close(train_out, mf(u, i))
    p, q = mf.user_factors(u), mf.item_factors(i)
    bu, bi = mf.user_bias(u).squeeze(-1), mf.item_bias(i).squeeze(-1)
    expected = 0.3 * (p.pow(2).sum(-1) + q.pow(2).sum(-1)).mean() + 0.05 * (bu**2 + bi**2).mean()
    torch.testing.assert_close(net.penalty, expected)


def test_mf_hand_written_backward_equals_autograd():
    gen = torch.Generator().manual_seed(0)
    tables = [torch.randn(6, 3, generator=gen), torch.randn(5, 3, generator=gen),
              torch.randn(6, 1, generator=gen), torch.randn(5, 1, generator=gen)]
    u, i = torch.tensor([1, 2, 5, 2, 2]), torch.tensor([4, 1, 1, 3, 4])  # repeated users and items
    y = torch.randn(5, generator=gen)

    def loss_of(fast):
        mu = torch.tensor(0.5, requires_grad=True)
        P, Q, bu, bi = (t.clone().requires_grad_() for t in tables)
        if fast:
            pred, pen = _MFBatch.apply(mu, P, Q, bu, bi, u, i, 0.3, 0.05)
        else:
            p, q, b_u, b_i = P[u], Q[i], bu[u, 0], bi[i, 0]
            pred = mu + b_u + b_i + (p * q).sum(-1)
            pen = 0.3 * (p.pow(2).sum(-1) + q.pow(2).sum(-1)).mean() + 0.05 * (b_u**2 + b_i**2).mean()
        loss = torch.nn.functional.mse_loss(pred, y) + 2.0 * pen  # a weight on the penalty tests its gradient
        loss.backward()
        return loss.detach(), [t.grad for t in (mu, P, Q, bu, bi)]

    (fast_loss, fast_grads), (ref_loss, ref_grads) = loss_of(True), loss_of(False)
    torch.testing.assert_close(fast_loss, ref_loss)
    for fast, ref in zip(fast_grads, ref_grads):
        torch.testing.assert_close(fast, ref)


def test_bpr_hand_written_backward_equals_autograd_through_bpr_objective():
    gen = torch.Generator().manual_seed(1)
    tables = [torch.randn(4, 3, generator=gen), torch.randn(6, 3, generator=gen), torch.randn(6, 1, generator=gen)]
    u = torch.tensor([1, 1, 3, 2, 1])
    pos, neg = torch.tensor([2, 5, 2, 4, 3]), torch.tensor([5, 3, 1, 2, 2])  # items 2, 3, 5 are both i and j
    for train_bias in (True, False):
        grads = []
        for fast in (True, False):
            P, Q = (t.clone().requires_grad_() for t in tables[:2])
            b = tables[2].clone().requires_grad_(train_bias)
            if fast:
                loss = _BPRBatch.apply(P, Q, b, u, pos, neg, 0.1)
            else:
                loss = bpr_objective(P[u], Q[pos], Q[neg], b[pos, 0], b[neg, 0], 0.1)
            (3.0 * loss).backward()
            grads.append((loss.detach(), P.grad, Q.grad, b.grad))
        for fast, ref in zip(*grads):
            torch.testing.assert_close(fast, ref)
        assert (grads[0][3] is None) == (not train_bias)


def test_mf_validation_fraction_early_stops_on_held_out_rows():
    train = _low_rank_ratings()
    model = MFRecommender(n_factors=4, num_epochs=30, batch_size=64, valid_fraction=0.2, patience=2,
                          reg=0.0, bias_reg=0.0, lr=0.05, **FAST).fit(train)
    hist = model.history_
    assert {"valid_loss", "valid_rmse"} <= set(hist.columns)
    assert len(hist) < 30 and model.best_epoch_ == int(hist.loc[hist["valid_loss"].idxmin(), "epoch"])
    np.testing.assert_allclose(hist["valid_rmse"], np.sqrt(hist["valid_loss"]), rtol=1e-5)
    with pytest.raises(ValueError, match="valid_fraction"):
        MFRecommender(valid_fraction=0.01, **FAST).fit(train.head(20))


def test_mf_config_validation_names_the_field():
    for field, value in [("n_factors", 0), ("lr", 0.0), ("reg", -1.0), ("bias_reg", float("nan")),
                         ("weight_decay", -0.1), ("num_epochs", 0), ("batch_size", 1.5),
                         ("valid_fraction", 1.0), ("patience", 0), ("init_std", 0.0), ("seed", -1)]:
        with pytest.raises(ValueError, match=field):
            MFRecommenderConfig(**{field: value})
    with pytest.raises(TypeError, match="n_factor"):
        MFRecommender(n_factor=8)
    with pytest.raises(TypeError, match="MFRecommenderConfig"):
        MFRecommender(BPRConfig())


# --- BPR: loss, gradient, sampler ----------------------------------------------------


def test_bpr_loss_values_and_gradient_match_the_closed_form():
    pos = torch.tensor([2.0, -1.0, 0.0], requires_grad=True)
    neg = torch.tensor([0.0, 1.0, 0.0])
    loss = bpr_loss(pos, neg)
    x = (pos - neg).detach()
    torch.testing.assert_close(loss, -torch.log(torch.sigmoid(x)).mean())
    loss.backward()
    torch.testing.assert_close(pos.grad, -torch.sigmoid(-x) / 3)
    with pytest.raises(ValueError, match="same shape"):
        bpr_loss(pos, neg[:2])


def test_bpr_objective_gradient_matches_rendle_and_finite_differences():
    g = torch.Generator().manual_seed(0)
    B, K, reg = 5, 3, 0.1
    p, qi, qj = (torch.randn(B, K, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    bi, bj = (torch.randn(B, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(2))
    bpr_objective(p, qi, qj, bi, bj, reg).backward()
    with torch.no_grad():
        x_uij = (p * (qi - qj)).sum(-1) + bi - bj
        e = torch.sigmoid(-x_uij)[:, None]  # (B, 1), Rendle's (1 - sigma(x_uij))
        torch.testing.assert_close(p.grad, (-e * (qi - qj) + 2 * reg * p) / B)
        torch.testing.assert_close(qi.grad, (-e * p + 2 * reg * qi) / B)
        torch.testing.assert_close(qj.grad, (e * p + 2 * reg * qj) / B)
        torch.testing.assert_close(bi.grad, (-e[:, 0] + 2 * reg * bi) / B)
        torch.testing.assert_close(bj.grad, (e[:, 0] + 2 * reg * bj) / B)
    assert torch.autograd.gradcheck(lambda *t: bpr_objective(*t, reg), (p, qi, qj, bi, bj))


def test_negative_sampler_never_returns_a_positive():
    rng = np.random.default_rng(0)
    users = rng.integers(0, 20, 400)
    items = rng.integers(0, 30, 400)
    sampler = NegativeSampler(users, items, n_items=30)
    positives = set(zip(users.tolist(), items.tolist()))
    query = torch.as_tensor(np.repeat(np.arange(20), 200))
    neg = sampler.sample(query, torch.Generator().manual_seed(0))
    assert neg.shape == query.shape and neg.dtype == torch.int64
    assert not any((u, j) in positives for u, j in zip(query.tolist(), neg.tolist()))
    assert not sampler.is_positive(query, neg).any()
    assert sampler.is_positive(torch.as_tensor(users), torch.as_tensor(items)).all()


def test_negative_sampler_is_uniform_over_the_other_items():
    # user 0 owns 3 of 10 items, user 1 owns 7 (70 % of first draws rejected), user 2 none
    sampler = NegativeSampler([0, 0, 0] + [1] * 7, [1, 4, 7] + [0, 1, 2, 3, 5, 6, 8], n_items=10)
    query = torch.tensor([0, 1, 2]).repeat_interleave(21_000)
    neg = sampler.sample(query, torch.Generator().manual_seed(0)).numpy()
    critical = {9: 27.88, 6: 22.46, 2: 13.82}  # 0.1 % critical values of chi-square by degrees of freedom
    for user, owned in [(0, [1, 4, 7]), (1, [0, 1, 2, 3, 5, 6, 8]), (2, [])]:
        counts = np.bincount(neg[query.numpy() == user], minlength=10)
        assert counts[owned].sum() == 0
        allowed = np.setdiff1d(np.arange(10), owned)
        expected = 21_000 / len(allowed)
        chi2 = ((counts[allowed] - expected) ** 2 / expected).sum()
        assert chi2 < critical[len(allowed) - 1], (user, counts)


def test_negative_sampler_dense_table_and_binary_search_agree():
    rng = np.random.default_rng(2)
    users, items = rng.integers(0, 25, 300), rng.integers(0, 40, 300)
    dense, search = NegativeSampler(users, items, 40), NegativeSampler(users, items, 40, dense_limit=0)
    assert dense.dense is not None and search.dense is None
    query_u = torch.as_tensor(rng.integers(0, 30, 2000))  # users 25..29 have no positives
    query_i = torch.as_tensor(rng.integers(0, 40, 2000))
    assert torch.equal(dense.is_positive(query_u, query_i), search.is_positive(query_u, query_i))
    a = dense.sample(query_u, torch.Generator().manual_seed(3))
    b = search.sample(query_u, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_negative_sampler_seed_and_errors():
    sampler = NegativeSampler([0, 1, 1], [0, 1, 2], n_items=5)
    q = torch.tensor([0, 1] * 50)
    a = sampler.sample(q, torch.Generator().manual_seed(3))
    b = sampler.sample(q, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match=r"users \[1\] interacted with all 3 items"):
        NegativeSampler([0, 1, 1, 1], [0, 0, 1, 2], n_items=3)
    with pytest.raises(ValueError, match="items must lie"):
        NegativeSampler([0], [7], n_items=3)


# --- BPRMF ---------------------------------------------------------------------------


def _per_user_auc(model, train):
    scores = model.score_items()
    seen = np.zeros_like(scores, dtype=bool)
    u, i = model._indices(train, "train")
    seen[u, i] = True
    aucs = []
    for s, pos in zip(scores, seen):
        aucs.append((s[pos][:, None] > s[~pos][None, :]).mean())
    return np.array(aucs)


def test_bpr_ranks_positives_above_negatives_on_block_data():
    train = _blocks()
    model = BPRMF(n_factors=8, lr=0.05, reg=1e-4, num_epochs=60, batch_size=64, **FAST).fit(train)
    assert BPRMF.target_col is None and "rating" not in train.columns
    auc = _per_user_auc(model, train)
    assert auc.min() > 0.9 and auc.mean() > 0.95


def test_bpr_shapes_determinism_and_frozen_terms():
    train = _blocks()
    cfg = BPRConfig(n_factors=4, num_epochs=3, batch_size=32, **FAST)
    a = BPRMF(cfg).fit(train)
    b = BPRMF(cfg).fit(train)
    np.testing.assert_array_equal(a.score_items(), b.score_items())
    assert not np.array_equal(a.score_items(), BPRMF(cfg, seed=1).fit(train).score_items())
    assert a.score_items().shape == (18, 24) and a.predict(train.head(5)).shape == (5,)
    # mu and b_u cancel in x_ui - x_uj: they stay frozen at zero
    assert a.global_mean_ == 0.0 and not a.user_bias_.any()
    no_bias = BPRMF(cfg, item_bias=False).fit(train)
    assert not no_bias.item_bias_.any()
    np.testing.assert_allclose(no_bias.score_items(), no_bias.user_factors_ @ no_bias.item_factors_.T)
    assert list(a.history_.columns) == ["epoch", "train_loss", "seconds"]


def test_bpr_fallback_is_the_average_user_and_item():
    train = _blocks()
    model = BPRMF(n_factors=4, num_epochs=3, batch_size=32, **FAST).fit(train)
    S = model.score_items()  # (U, I)
    np.testing.assert_allclose(model.score_items([-5])[0], S.mean(axis=0), atol=1e-12)
    rows = pd.DataFrame({"user_id": [0, 999, 999], "item_id": [999, 3, 999]})
    np.testing.assert_allclose(model.predict(rows), [S[0].mean(), S[:, 3].mean(), S.mean()], atol=1e-12)


def test_bpr_early_stopping_on_validation_ndcg_restores_the_best_epoch():
    data = _blocks(items_per_group=12)
    rng = np.random.default_rng(1)
    is_valid = rng.random(len(data)) < 0.2
    train, valid = data[~is_valid], data[is_valid]
    model = BPRMF(n_factors=8, lr=0.05, reg=1e-4, num_epochs=40, batch_size=64, eval_every=2, patience=2, **FAST)
    model.fit(train, valid)
    evaluated = model.history_.dropna(subset=["valid_ndcg_at_10"])
    assert list(evaluated["epoch"]) == list(range(2, 2 * len(evaluated) + 1, 2))
    best = evaluated["valid_ndcg_at_10"].max()
    assert model.best_epoch_ == int(evaluated.loc[evaluated["valid_ndcg_at_10"].idxmax(), "epoch"])
    assert evaluate_topn(model, train, valid, k=10)["ndcg_at_k"] == pytest.approx(best, abs=1e-12)
    assert best > 0.5
    with pytest.raises(ValueError, match="valid: missing column"):
        BPRMF(**FAST).fit(train, valid.rename(columns={"item_id": "movie"}))


def test_bpr_config_validation_names_the_field():
    for field, value in [("n_factors", 0), ("lr", -1.0), ("reg", -0.1), ("item_bias", 1), ("num_epochs", 0),
                         ("batch_size", 0), ("eval_every", 0), ("patience", 0), ("k", 0), ("init_std", 0.0),
                         ("seed", 1.5), ("cpu_threads", 0)]:
        with pytest.raises(ValueError, match=field):
            BPRConfig(**{field: value})


# --- real data -------------------------------------------------------------------------


def test_movielens_smoke():
    from recfeat_ref.baselines import Popularity
    from recfeat_ref.datasets import load_movielens_100k
    from recfeat_ref.splits import random_split, ratio_split_by_user

    try:
        ratings = load_movielens_100k(sources=("cache",), verbose=False).ratings
    except Exception as exc:  # noqa: BLE001 - no cached copy: nothing to smoke-test
        pytest.skip(f"MovieLens-100K is not cached: {exc}")
    train, test = random_split(ratings, (0.8, 0.2), seed=0)
    mf = MFRecommender(num_epochs=5, **FAST).fit(train)
    assert evaluate_ratings(mf, test)["rmse"] < 0.94  # BiasBaseline: about 0.95
    train, valid, test = ratio_split_by_user(ratings, (0.8, 0.1, 0.1), seed=0)
    bpr = BPRMF(num_epochs=15, **FAST).fit(train)
    seen = pd.concat([train, valid])
    pop = evaluate_topn(Popularity().fit(train), seen, test)["ndcg_at_k"]
    assert evaluate_topn(bpr, seen, test)["ndcg_at_k"] > pop + 0.03
