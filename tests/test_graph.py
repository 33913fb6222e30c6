"""LightGCN: adjacency and propagation against a dense reference, shapes, overfitting, determinism, fallbacks."""

import numpy as np
import pandas as pd
import pytest
import torch

from recfeat_ref.graph import (
    LightGCN,
    LightGCNConfig,
    lightgcn_objective,
    normalized_adjacency,
    propagate,
    to_csr,
)
from recfeat_ref.mf import bpr_loss
from recfeat_ref.recommender import evaluate_topn

FAST = {"progress": False, "device": "cpu"}

# A toy graph: 4 users, 4 items; user 3 and item 3 have no interaction (isolated nodes);
# the pair (0, 1) appears twice and must count as one edge.
TOY_USERS = [0, 0, 1, 1, 2, 0]
TOY_ITEMS = [0, 1, 1, 2, 2, 1]


def _dense_reference(users, items, n_users, n_items):
    """D^{-1/2} A D^{-1/2} built densely with NumPy, with 0 (not inf) for degree-0 nodes."""
    n = n_users + n_items
    A = np.zeros((n, n))
    for u, i in zip(users, items):
        A[u, n_users + i] = A[n_users + i, u] = 1.0
    d = A.sum(1)
    with np.errstate(divide="ignore"):
        d_inv_sqrt = np.where(d > 0, 1.0 / np.sqrt(d), 0.0)
    return d_inv_sqrt[:, None] * A * d_inv_sqrt[None, :]


def _blocks(n_groups=3, users_per_group=6, items_per_group=8, seed=0):
    """Block-structured implicit data: group g's users interact with most of group g's items."""
    rng = np.random.default_rng(seed)
    rows = [(g * users_per_group + u, g * items_per_group + i)
            for g in range(n_groups) for u in range(users_per_group) for i in range(items_per_group)
            if rng.random() < 0.8]
    return pd.DataFrame(rows, columns=["user_id", "item_id"])


# --- adjacency and propagation ------------------------------------------------------


def test_normalized_adjacency_matches_dense_reference_with_isolated_nodes():
    adj = normalized_adjacency(TOY_USERS, TOY_ITEMS, n_users=4, n_items=4)
    assert adj.layout == torch.sparse_coo and adj.shape == (8, 8)
    dense = adj.to_dense().double().numpy()
    ref = _dense_reference(TOY_USERS, TOY_ITEMS, 4, 4)
    np.testing.assert_allclose(dense, ref, atol=1e-7)
    assert np.isfinite(dense).all()
    assert not dense[3].any() and not dense[:, 4 + 3].any()  # isolated user 3 and item 3
    np.testing.assert_allclose(dense, dense.T)
    assert dense[0, 4 + 1] == pytest.approx(1 / np.sqrt(2 * 2))  # duplicate pair counted once
    # the largest eigenvalue of D^-1/2 A D^-1/2 is 1: propagation cannot blow up
    assert np.abs(np.linalg.eigvalsh(ref)).max() == pytest.approx(1.0)


def test_propagate_is_the_layer_mean_of_dense_powers_and_its_gradient_is_right():
    adj = normalized_adjacency(TOY_USERS, TOY_ITEMS, n_users=4, n_items=4)
    A = _dense_reference(TOY_USERS, TOY_ITEMS, 4, 4)
    E0 = np.random.default_rng(0).normal(size=(8, 3))
    for n_layers in (0, 1, 2, 3):
        layers, x = [E0], E0
        for _ in range(n_layers):
            x = A @ x
            layers.append(x)
        ref = np.mean(layers, axis=0)
        for a in (adj, to_csr(adj)):
            out = propagate(a, torch.tensor(E0, dtype=torch.float32), n_layers)
            assert out.shape == (8, 3)
            np.testing.assert_allclose(out.numpy(), ref, atol=1e-5)
    # the custom backward (A^T = A) against autograd through the dense matrix
    W = torch.randn(8, 3, dtype=torch.float64)
    e_sparse = torch.tensor(E0, requires_grad=True)
    e_dense = torch.tensor(E0, requires_grad=True)
    (propagate(to_csr(adj.double()), e_sparse, 2) * W).sum().backward()
    A_t = adj.to_dense().double()  # the same (float32-rounded) weights, so only the backward differs
    ((e_dense + A_t @ e_dense + A_t @ A_t @ e_dense) / 3 * W).sum().backward()
    np.testing.assert_allclose(e_sparse.grad.numpy(), e_dense.grad.numpy(), atol=1e-10)
    # the isolated user 3 keeps only its layer-0 term E0/3, so its gradient is W/3
    np.testing.assert_allclose(e_sparse.grad[3].numpy(), W[3].numpy() / 3, atol=1e-12)


def test_adjacency_and_propagate_reject_bad_input():
    with pytest.raises(ValueError, match="items must lie in 0..3"):
        normalized_adjacency([0], [4], n_users=1, n_items=4)
    with pytest.raises(ValueError, match="equal length"):
        normalized_adjacency([0, 1], [0], n_users=2, n_items=1)
    with pytest.raises(ValueError, match="n_users"):
        normalized_adjacency([0], [0], n_users=0, n_items=1)
    adj = normalized_adjacency([0], [0], n_users=1, n_items=1)
    with pytest.raises(ValueError, match="n_layers"):
        propagate(adj, torch.zeros(2, 3), -1)
    with pytest.raises(ValueError, match="2 nodes but emb0 has 3 rows"):
        propagate(adj, torch.zeros(3, 3), 1)


def test_objective_equals_bpr_plus_gathered_ego_penalty():
    torch.manual_seed(0)
    final = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    ego = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    u, i, j = torch.tensor([0, 0, 2]), torch.tensor([4, 5, 4]), torch.tensor([6, 4, 5])  # repeated nodes
    got = lightgcn_objective(final, ego, torch.cat([u, i, j]), reg=0.1)
    got.backward()
    grads = final.grad.clone(), ego.grad.clone()
    final.grad, ego.grad = None, None
    pos, neg = (final[u] * final[i]).sum(-1), (final[u] * final[j]).sum(-1)
    penalty = (ego[u].pow(2).sum(-1) + ego[i].pow(2).sum(-1) + ego[j].pow(2).sum(-1)).mean()
    want = -torch.log(torch.sigmoid(pos - neg)).mean() + 0.1 * penalty
    want.backward()
    assert got.item() == pytest.approx(want.item(), rel=1e-12)
    assert got.item() == pytest.approx((bpr_loss(pos, neg) + 0.1 * penalty).item(), rel=1e-12)
    torch.testing.assert_close(grads[0], final.grad)
    torch.testing.assert_close(grads[1], ego.grad)
    with pytest.raises(ValueError, match="length 3B"):
        lightgcn_objective(final, ego, torch.tensor([0, 1]), reg=0.1)


# --- the recommender --------------------------------------------------------------------


def test_lightgcn_shapes_and_scores_are_dot_products_of_final_embeddings():
    train = _blocks()
    model = LightGCN(n_factors=4, num_epochs=2, batch_size=32, **FAST).fit(train)
    assert LightGCN.target_col is None
    assert model.user_embeddings_.shape == (18, 4) and model.item_embeddings_.shape == (24, 4)
    assert model.user_embeddings_.dtype == np.float64
    S = model.score_items()
    assert S.shape == (18, 24)
    np.testing.assert_allclose(S, model.user_embeddings_ @ model.item_embeddings_.T)
    final = model.final_embeddings().double().numpy()  # (U + I, K)
    np.testing.assert_allclose(final, np.vstack([model.user_embeddings_, model.item_embeddings_]))
    pred = model.predict(train.head(5))
    np.testing.assert_allclose(pred, S[train.user_id.head(5), train.item_id.head(5)])
    assert list(model.history_.columns) == ["epoch", "train_loss", "seconds"] and model.best_epoch_ == 2


def test_lightgcn_overfits_tiny_block_data():
    train = _blocks()
    model = LightGCN(n_factors=8, lr=0.05, reg=1e-5, num_epochs=60, batch_size=64, **FAST).fit(train)
    S = model.score_items()
    seen = np.zeros_like(S, dtype=bool)
    seen[train.user_id, train.item_id] = True
    auc = np.array([(s[p][:, None] > s[~p][None, :]).mean() for s, p in zip(S, seen)])
    assert auc.min() > 0.9 and auc.mean() > 0.97
    loss = model.history_["train_loss"]
    assert loss.iloc[-1] < 0.3 * loss.iloc[0]


def test_lightgcn_is_deterministic_under_a_seed():
    train = _blocks()
    cfg = LightGCNConfig(n_factors=4, num_epochs=3, batch_size=32, **FAST)
    a, b = LightGCN(cfg).fit(train), LightGCN(cfg).fit(train)
    np.testing.assert_array_equal(a.score_items(), b.score_items())
    assert not np.array_equal(a.score_items(), LightGCN(cfg, seed=1).fit(train).score_items())


def test_lightgcn_fallback_is_the_average_user_and_item():
    train = _blocks()
    model = LightGCN(n_factors=4, num_epochs=3, batch_size=32, **FAST).fit(train)
    S = model.score_items()  # (U, I)
    np.testing.assert_allclose(model.score_items([-5])[0], S.mean(axis=0), atol=1e-12)
    rows = pd.DataFrame({"user_id": [0, 999, 999], "item_id": [999, 3, 999]})
    np.testing.assert_allclose(model.predict(rows), [S[0].mean(), S[:, 3].mean(), S.mean()], atol=1e-12)


def test_zero_layers_is_matrix_factorisation():
    train = _blocks()
    model = LightGCN(n_factors=4, n_layers=0, num_epochs=3, batch_size=32, **FAST).fit(train)
    ego = model.embedding_.weight.detach().double().numpy()  # (U + I, K)
    np.testing.assert_allclose(model.score_items(), ego[:18] @ ego[18:].T, rtol=1e-6)
    # with layers, the final embeddings differ from the ego ones
    deep = LightGCN(n_factors=4, n_layers=2, num_epochs=3, batch_size=32, **FAST).fit(train)
    ego = deep.embedding_.weight.detach().double().numpy()
    assert not np.allclose(deep.user_embeddings_, ego[:18])


def test_lightgcn_early_stopping_on_validation_ndcg_restores_the_best_epoch():
    data = _blocks(items_per_group=12)
    is_valid = np.random.default_rng(1).random(len(data)) < 0.2
    train, valid = data[~is_valid], data[is_valid]
    model = LightGCN(n_factors=8, lr=0.05, reg=1e-5, num_epochs=40, batch_size=64, eval_every=2, patience=2, **FAST)
    model.fit(train, valid)
    evaluated = model.history_.dropna(subset=["valid_ndcg_at_10"])
    assert list(evaluated["epoch"]) == list(range(2, 2 * len(evaluated) + 1, 2))
    best = evaluated["valid_ndcg_at_10"].max()
    assert model.best_epoch_ == int(evaluated.loc[evaluated["valid_ndcg_at_10"].idxmax(), "epoch"])
    assert evaluate_topn(model, train, valid, k=10)["ndcg_at_k"] == pytest.approx(best, abs=1e-12)
    assert best > 0.5
    with pytest.raises(ValueError, match="valid: missing column"):
        LightGCN(**FAST).fit(train, valid.rename(columns={"item_id": "movie"}))


def test_lightgcn_config_validation_names_the_field():
    for field, value in [("n_factors", 0), ("n_layers", -1), ("n_layers", 1.5), ("lr", -1.0), ("reg", -0.1),
                         ("num_epochs", 0), ("batch_size", 0), ("eval_every", 0), ("patience", 0), ("k", 0),
                         ("init_std", 0.0), ("seed", 1.5), ("cpu_threads", 0)]:
        with pytest.raises(ValueError, match=field):
            LightGCNConfig(**{field: value})
    with pytest.raises(TypeError, match="unknown LightGCNConfig field"):
        LightGCN(layers=2)
