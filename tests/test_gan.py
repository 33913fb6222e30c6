"""CFGAN: shapes, masks (checked by brute force), loss masking, determinism, learning, unseen ids."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from recfeat_ref.gan import (
    CFGAN,
    CFGANConfig,
    CFGANDiscriminator,
    CFGANGenerator,
    discriminator_loss,
    generator_loss,
    sample_negative_mask,
)
from recfeat_ref.recommender import evaluate_topn

FAST = {"progress": False, "device": "cpu", "g_hidden": (16,), "d_hidden": (16,)}


def _blocks(n_groups=3, users_per_group=8, items_per_group=10, seed=0):
    """Block-structured purchases: group g's users buy about 70 % of group g's items; raw ids offset."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_groups):
        for u in range(users_per_group):
            for i in range(items_per_group):
                if rng.random() < 0.7:
                    rows.append((100 + g * users_per_group + u, 500 + g * items_per_group + i))
    return pd.DataFrame(rows, columns=["user_id", "item_id"])


def _holdout(df, seed=0):
    """One purchase per user held out (users with at least 3 purchases)."""
    rng = np.random.default_rng(seed)
    held = df.groupby("user_id").sample(n=1, random_state=int(rng.integers(1000)))
    return df.drop(held.index), held


# --- masks -------------------------------------------------------------------------


def _brute_force_mask(purchased, ratio, seed):
    """The same draw, entry by entry in Python loops: keep a non-purchased item iff its uniform < ratio."""
    xi = torch.rand(purchased.shape, generator=torch.Generator().manual_seed(seed))
    out = np.zeros(purchased.shape, dtype=bool)
    for b in range(purchased.shape[0]):
        for j in range(purchased.shape[1]):
            out[b, j] = (not bool(purchased[b, j])) and float(xi[b, j]) < ratio
    return out


@pytest.mark.parametrize("ratio", [0.0, 0.3, 0.7, 1.0])
def test_negative_mask_matches_brute_force_and_avoids_purchases(ratio):
    purchased = torch.rand(7, 40, generator=torch.Generator().manual_seed(1)) < 0.3  # (B, I)
    mask = sample_negative_mask(purchased, ratio, torch.Generator().manual_seed(5))
    assert mask.shape == purchased.shape and mask.dtype == torch.bool
    np.testing.assert_array_equal(mask.numpy(), _brute_force_mask(purchased, ratio, 5))
    assert not (mask & purchased).any(), "a purchased item was sampled as a negative"
    if ratio == 1.0:
        assert torch.equal(mask, ~purchased)
    if ratio == 0.0:
        assert not mask.any()


def test_negative_mask_is_uniform_over_non_purchased_items():
    purchased = torch.zeros(1, 20, dtype=torch.bool)
    purchased[0, :5] = True
    gen = torch.Generator().manual_seed(0)
    freq = torch.stack([sample_negative_mask(purchased.expand(200, -1), 0.4, gen).float().mean(0)
                        for _ in range(20)]).mean(0)  # (I,) 4000 draws per item
    assert torch.all(freq[:5] == 0)
    # each non-purchased item: binomial(4000, 0.4), sd 0.0077; 5 sd = 0.039
    assert torch.all((freq[5:] - 0.4).abs() < 0.039), freq[5:]


def test_negative_mask_rejects_bad_ratio():
    with pytest.raises(ValueError, match="ratio"):
        sample_negative_mask(torch.zeros(2, 3, dtype=torch.bool), 1.5, torch.Generator())


# --- networks and losses ----------------------------------------------------------------


def test_network_shapes_and_noise():
    c = torch.zeros(4, 9)
    c[:, :3] = 1
    G = CFGANGenerator(9, (5,), noise_dim=2)
    r = G(c, torch.randn(4, 2))
    assert r.shape == (4, 9) and bool(((r > 0) & (r < 1)).all())
    assert torch.equal(G(c), G(c, torch.zeros(4, 2))), "scoring uses the noise's mean, 0"
    D = CFGANDiscriminator(9, (6, 3))
    assert D(r, c).shape == (4,)


def test_generator_loss_sees_only_masked_entries():
    """Gradient w.r.t. r_hat: zero outside purchases, PM and ZR sets; exactly 2 alpha r_hat / B on ZR-only entries."""
    torch.manual_seed(0)
    B, I, alpha = 5, 12, 0.3
    e = (torch.rand(B, I) < 0.3).float()
    pm = sample_negative_mask(e.bool(), 0.3, torch.Generator().manual_seed(1)).float()
    zr = sample_negative_mask(e.bool(), 0.3, torch.Generator().manual_seed(2)).float()
    D = CFGANDiscriminator(I, (8,))
    r_hat = torch.rand(B, I, requires_grad=True)
    generator_loss(D(r_hat * (e + pm), e), r_hat, zr, alpha).backward()
    grad = r_hat.grad
    outside = (e + pm + zr) == 0
    assert outside.any() and torch.all(grad[outside] == 0)
    zr_only = (zr == 1) & ((e + pm) == 0)
    assert zr_only.any()
    torch.testing.assert_close(grad[zr_only], (2 * alpha * r_hat / B).detach()[zr_only])


def test_discriminator_loss_value():
    real, fake = torch.tensor([0.0, 2.0]), torch.tensor([-1.0, 0.0])
    expected = -(np.log(0.5) + np.log(1 / (1 + np.exp(-2)))) / 2 - (np.log(1 - 1 / (1 + np.e)) + np.log(0.5)) / 2
    assert math.isclose(float(discriminator_loss(real, fake)), expected, rel_tol=1e-6)


# --- the recommender -----------------------------------------------------------------------


def test_shapes_history_and_predict_agree():
    train = _blocks()
    model = CFGAN(num_epochs=3, batch_size=8, **FAST).fit(train)
    assert model.score_items().shape == (24, 30)
    s = model.score_items([100, 101])
    pred = model.predict(pd.DataFrame({"user_id": [100] * 3 + [101] * 3, "item_id": [500, 501, 502] * 2}))
    np.testing.assert_allclose(s[:, :3], pred.reshape(2, 3), rtol=1e-6)  # float32 network
    h = model.history_
    assert list(h.columns[:7]) == ["epoch", "g_loss", "zr_loss", "d_loss", "d_real", "d_fake", "seconds"]
    assert len(h) == 3 and h[["g_loss", "d_loss", "d_real", "d_fake"]].notna().all().all()
    assert h[["d_real", "d_fake"]].stack().between(0, 1).all()
    assert model.purchases_.shape == (24, 30) and float(model.purchases_.sum()) == len(train.drop_duplicates())
    assert "CFGANConfig(g_hidden=(16,)" in repr(model)


def _heldout_auc(model, train, held):
    """Mean over users of P(score of the held-out item > score of a never-purchased item)."""
    scores = model.score_items(model.user_ids_)
    seen = set(zip(train.user_id, train.item_id))
    aucs = []
    for u, i in zip(held.user_id, held.item_id):
        row = scores[model.user_index([u])[0]]
        j = np.searchsorted(model.item_ids_, i)
        neg = [k for k, it in enumerate(model.item_ids_) if (u, it) not in seen and it != i]
        aucs.append(np.mean(row[j] > row[neg]) + 0.5 * np.mean(row[j] == row[neg]))
    return float(np.mean(aucs))


@pytest.mark.parametrize("adversarial", [True, False])
def test_tiny_run_ranks_held_out_items_above_random(adversarial):
    train, held = _holdout(_blocks())
    model = CFGAN(num_epochs=60, batch_size=8, lr_g=1e-2, lr_d=1e-2, adversarial=adversarial, **FAST).fit(train)
    auc = _heldout_auc(model, train, held)
    assert auc > 0.8, f"held-out AUC {auc:.3f}; random scores give 0.5"
    assert (model.discriminator_ is None) == (not adversarial)
    if not adversarial:
        assert model.history_[["d_loss", "d_real", "d_fake"]].isna().all().all()


def test_determinism_under_a_fixed_seed():
    train = _blocks()
    fit = lambda seed: CFGAN(num_epochs=4, batch_size=8, noise_dim=3, seed=seed, **FAST).fit(train)
    a, b, c = fit(0), fit(0), fit(1)
    np.testing.assert_array_equal(a.score_items(), b.score_items())
    cols = ["g_loss", "zr_loss", "d_loss", "d_real", "d_fake"]
    pd.testing.assert_frame_equal(a.history_[cols], b.history_[cols])
    assert not np.allclose(a.score_items(), c.score_items())


def test_early_stopping_restores_the_best_generator():
    train, valid = _holdout(_blocks())
    model = CFGAN(num_epochs=12, batch_size=8, eval_every=2, patience=100, lr_g=1e-2, lr_d=1e-2, **FAST).fit(train, valid=valid)
    h = model.history_
    evaluated = h.dropna(subset=["valid_ndcg_at_10"])
    assert list(evaluated["epoch"]) == [2, 4, 6, 8, 10, 12]
    assert model.best_epoch_ == int(evaluated.loc[evaluated["valid_ndcg_at_10"].idxmax(), "epoch"])
    assert math.isclose(evaluate_topn(model, train, valid, k=10)["ndcg_at_k"], evaluated["valid_ndcg_at_10"].max())


def test_unseen_users_and_items():
    train = _blocks()
    model = CFGAN(num_epochs=2, batch_size=8, **FAST).fit(train)
    cold = model.score_items([100, 99999])
    assert cold.shape == (2, 30) and np.isfinite(cold).all()
    average_user = model.score_items().mean(0)  # (I,) brute force: every training user's row
    np.testing.assert_allclose(cold[1], average_user, rtol=1e-6)
    np.testing.assert_allclose(model.mean_scores_, average_user, rtol=1e-6)
    pred = model.predict(pd.DataFrame({"user_id": [100, 100, 99999, 99999], "item_id": [500, 777, 501, 777]}))
    np.testing.assert_allclose(pred, [cold[0, 0], cold[0].mean(), average_user[1], average_user.mean()], rtol=1e-6)


def test_config_validation_names_the_field():
    for bad, field in [({"g_hidden": (0,)}, "g_hidden"), ({"lr_d": 0.0}, "lr_d"), ({"pm_ratio": 1.2}, "pm_ratio"),
                       ({"alpha": -1.0}, "alpha"), ({"noise_dim": -1}, "noise_dim"), ({"d_steps": 0}, "d_steps"),
                       ({"adversarial": 1}, "adversarial")]:
        with pytest.raises(ValueError, match=field):
            CFGANConfig(**bad)
    with pytest.raises(TypeError, match="unknown CFGANConfig"):
        CFGAN(lr=1e-3)


def test_fit_checks_valid_and_restores_torch_threads():
    train = _blocks()
    with pytest.raises(ValueError, match="valid"):
        CFGAN(num_epochs=1, **FAST).fit(train, valid=train.rename(columns={"item_id": "film"}))
    before = torch.get_num_threads()
    model = CFGAN(num_epochs=1, batch_size=8, cpu_threads=1, **FAST).fit(train)
    assert torch.get_num_threads() == before and model.best_epoch_ == 1
