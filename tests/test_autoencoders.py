"""Item-based AutoRec: shapes, the masked loss, overfitting, determinism, fallbacks, clipping, config."""

import numpy as np
import pandas as pd
import pytest
import torch

from recfeat_ref.autoencoders import AutoRecNet, IAutoRec, IAutoRecConfig, _AutoRecObjective, masked_sse
from recfeat_ref.baselines import BiasBaseline
from recfeat_ref.recommender import evaluate_ratings
from recfeat_ref.training import seed_everything

FAST = {"progress": False, "device": "cpu"}


def _low_rank_ratings(n_users=30, n_items=20, rank=2, density=1.0, seed=0):
    """A rank-2 matrix plus biases, ratings around 3, a ``density`` share of the pairs; raw ids offset."""
    rng = np.random.default_rng(seed)
    P, Q = rng.normal(size=(n_users, rank)), rng.normal(size=(n_items, rank))
    R = 3 + 0.5 * rng.normal(size=(n_users, 1)) + 0.5 * rng.normal(size=(1, n_items)) + 0.6 * P @ Q.T
    u, i = np.meshgrid(np.arange(n_users), np.arange(n_items), indexing="ij")
    keep = rng.random(R.shape) < density
    return pd.DataFrame({"user_id": 100 + u[keep], "item_id": 500 + i[keep], "rating": R[keep]})


@pytest.fixture(scope="module")
def sparse_fit():
    """A model fitted on 60 % of a low-rank matrix rounded to stars 1..5, and the 40 % it did not see."""
    full = _low_rank_ratings()
    full["rating"] = np.clip(np.rint(full["rating"]), 1, 5)
    in_train = np.random.default_rng(1).random(len(full)) < 0.6
    train, test = full[in_train], full[~in_train]
    # lambda = 200 is for ML-100K's 1,682 items; 20 items need far less
    model = IAutoRec(hidden_dim=16, reg=0.3, num_epochs=60, **FAST).fit(train)
    return model, train, test


# --- shapes and the formula --------------------------------------------------------


def test_output_shapes_and_dtypes(sparse_fit):
    model, train, test = sparse_fit
    assert model.n_users_ == 30 and model.n_items_ == 20
    pred = model.predict(test)
    assert pred.shape == (len(test),) and pred.dtype == np.float64 and np.isfinite(pred).all()
    assert model.score_items().shape == (30, 20)
    assert model.score_items([100, 12345]).shape == (2, 20)
    codes = model.encode_items()
    assert codes.shape == (20, 16) and codes.dtype == np.float64
    assert ((codes > 0) & (codes < 1)).all()  # sigmoid codes
    assert model.ratings_matrix_.shape == (20, 30) and model.scores_.shape == (30, 20)
    rows = pd.DataFrame({"user_id": [100] * 3 + [101] * 3, "item_id": [500, 501, 502] * 2})
    np.testing.assert_array_equal(model.score_items([100, 101])[:, :3], model.predict(rows).reshape(2, 3))
    assert "IAutoRecConfig(hidden_dim=16" in repr(model)


def test_network_matches_the_paper_formula(sparse_fit):
    model, _, _ = sparse_fit
    net = model.model_
    V, mu = net.encoder.weight.detach().double().numpy(), net.encoder.bias.detach().double().numpy()
    W, b = net.decoder.weight.detach().double().numpy(), net.decoder.bias.detach().double().numpy()
    R = model.ratings_matrix_.toarray()  # (I, U), 0 where unobserved
    code = 1 / (1 + np.exp(-(R @ V.T + mu)))  # (I, H) = g(V r_i + mu)
    np.testing.assert_allclose(model.encode_items(), code, rtol=1e-5, atol=1e-6)
    h = code @ W.T + b  # (I, U) = W g(.) + b, f the identity
    lo, hi = model.rating_range_
    np.testing.assert_allclose(model.scores_, np.clip(h.T, lo, hi), rtol=1e-5, atol=1e-5)
    # the input holds exactly the training ratings, zero elsewhere
    _, train, _ = sparse_fit
    dense = np.zeros((20, 30))
    dense[train["item_id"] - 500, train["user_id"] - 100] = train["rating"]
    np.testing.assert_array_equal(R, dense)


def test_repeated_pairs_are_averaged():
    train = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [7, 7, 7, 8], "rating": [2.0, 4.0, 5.0, 1.0]})
    model = IAutoRec(hidden_dim=4, num_epochs=2, **FAST).fit(train)
    np.testing.assert_array_equal(model.ratings_matrix_.toarray(), [[3.0, 5.0], [0.0, 1.0]])


# --- the masked loss -----------------------------------------------------------------


def test_masked_sse_equals_a_hand_computation():
    output = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    ratings = torch.tensor([[2.0, 0.0, 5.0], [0.0, 3.0, 0.0]])
    mask = torch.tensor([[1, 0, 1], [0, 1, 0]])
    # row 0: (1-2)^2 + (3-5)^2 = 5; row 1: (5-3)^2 = 4; mean over the 2 rows
    assert masked_sse(output, ratings, mask).item() == pytest.approx(4.5)
    with pytest.raises(ValueError, match="same shape"):
        masked_sse(output, ratings[:, :2], mask)


def test_unobserved_entries_change_neither_loss_nor_gradients():
    seed_everything(0)
    net = AutoRecNet(n_inputs=6, hidden_dim=3)
    r = torch.tensor([[5.0, 0, 3, 0, 0, 1], [0, 4, 0, 0, 2, 0]])  # (B=2, U=6) input
    mask = (r > 0).float()
    objective = _AutoRecObjective(net, reg=0.5, n_items=10)

    def loss_and_grads(target_values):
        net.zero_grad()
        loss = objective(net(r), torch.stack([target_values, mask], dim=1))  # target (B, 2, U)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in net.parameters()]

    loss_a, grads_a = loss_and_grads(r)
    garbage = torch.where(mask.bool(), r, torch.tensor([[9.0, -7, 0, float("nan"), 1e6, 2]] * 2))
    loss_b, grads_b = loss_and_grads(garbage)
    assert torch.equal(loss_a, loss_b)
    for ga, gb in zip(grads_a, grads_b):
        assert torch.equal(ga, gb)
    # the value: masked error per row plus lambda / (2 I) (||W||^2 + ||V||^2)
    with torch.no_grad():
        out = net(r)
        sse = ((out - r) ** 2 * mask).sum() / 2
        penalty = net.encoder.weight.pow(2).sum() + net.decoder.weight.pow(2).sum()
    torch.testing.assert_close(loss_a, sse + 0.5 / (2 * 10) * penalty)
    net.eval()
    torch.testing.assert_close(objective(out, torch.stack([r, mask], dim=1)), sse)  # no penalty in eval mode


# --- training ------------------------------------------------------------------------


def test_overfits_a_tiny_low_rank_matrix():
    train = _low_rank_ratings()
    model = IAutoRec(hidden_dim=32, reg=0.0, num_epochs=400, **FAST).fit(train)
    assert evaluate_ratings(model, train)["rmse"] < 0.05


def test_generalises_on_held_out_entries(sparse_fit):
    model, train, test = sparse_fit
    ours = evaluate_ratings(model, test)["rmse"]
    assert ours < 0.8 * evaluate_ratings(BiasBaseline().fit(train), test)["rmse"]  # 0.57 against 0.92


def test_is_deterministic_under_a_seed():
    train = _low_rank_ratings(density=0.6)
    cfg = IAutoRecConfig(hidden_dim=8, num_epochs=5, **FAST)
    a = IAutoRec(cfg).fit(train).score_items()
    b = IAutoRec(cfg).fit(train).score_items()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, IAutoRec(cfg, seed=1).fit(train).score_items())
    adam = IAutoRecConfig(hidden_dim=8, num_epochs=5, optimizer="adam", batch_size=4, **FAST)
    np.testing.assert_array_equal(IAutoRec(adam).fit(train).score_items(), IAutoRec(adam).fit(train).score_items())


def test_validation_fraction_early_stops_on_held_out_ratings():
    train = _low_rank_ratings(density=0.8)
    model = IAutoRec(hidden_dim=32, reg=0.0, num_epochs=300, valid_fraction=0.2, patience=3, **FAST).fit(train)
    hist = model.history_
    assert {"valid_loss", "valid_rmse"} <= set(hist.columns)
    assert len(hist) < 300 and model.best_epoch_ == int(hist.loc[hist["valid_loss"].idxmin(), "epoch"])
    # the held-out ratings are back in the input for prediction
    assert model.ratings_matrix_.nnz == len(train)
    with pytest.raises(ValueError, match="valid_fraction"):
        IAutoRec(valid_fraction=0.01, **FAST).fit(train.head(20))


# --- fallbacks and clipping ----------------------------------------------------------------


def test_unseen_users_and_items_get_the_bias_baseline(sparse_fit):
    model, train, _ = sparse_fit
    baseline = BiasBaseline().fit(train)
    rows = pd.DataFrame({"user_id": [999, 100, 999, 103], "item_id": [501, 888, 888, 888]})
    expected = np.clip(baseline.predict(rows), *model.rating_range_)
    np.testing.assert_allclose(model.predict(rows), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.score_items([999])[0], np.clip(baseline.score_items([999])[0], *model.rating_range_),
                               rtol=0, atol=1e-12)
    # the biases keep these inside the rating range, so the clipping changes nothing here
    np.testing.assert_allclose(model.predict(rows), baseline.predict(rows), rtol=0, atol=1e-12)


def test_predictions_are_clipped_to_the_training_range(sparse_fit):
    model, train, test = sparse_fit
    lo, hi = model.rating_range_
    assert (lo, hi) == (1.0, 5.0) == (train["rating"].min(), train["rating"].max())
    with torch.no_grad():
        raw = model.model_(torch.as_tensor(model.ratings_matrix_.toarray(), dtype=torch.float32)).numpy()
    assert raw.min() < lo or raw.max() > hi  # the network alone leaves the range ...
    pred = model.predict(test)
    assert pred.min() >= lo and pred.max() <= hi  # ... the predictions do not
    scores = model.score_items()
    assert scores.min() >= lo and scores.max() <= hi


# --- configuration ---------------------------------------------------------------------


def test_config_validation_names_the_field():
    for field, value in [("hidden_dim", 0), ("activation", "softmax"), ("reg", -1.0), ("reg", float("nan")),
                         ("lr", 0.0), ("num_epochs", 0), ("batch_size", 1.5), ("optimizer", "sgd"),
                         ("valid_fraction", 1.0), ("patience", 0), ("seed", -1), ("progress", "yes")]:
        with pytest.raises(ValueError, match=field):
            IAutoRecConfig(**{field: value})
    with pytest.raises(ValueError, match="batch_size"):
        IAutoRecConfig(optimizer="rprop", batch_size=64)
    IAutoRecConfig(optimizer="adam", batch_size=64)  # fine
    with pytest.raises(TypeError, match="hidden_dims"):
        IAutoRec(hidden_dims=8)
    with pytest.raises(TypeError, match="IAutoRecConfig"):
        IAutoRec(BiasBaseline())
    with pytest.raises(ValueError, match="activation"):
        AutoRecNet(4, 2, activation="gelu")


# --- real data -------------------------------------------------------------------------------


def test_movielens_smoke():
    from recfeat_ref.datasets import load_movielens_100k
    from recfeat_ref.splits import random_split

    try:
        ratings = load_movielens_100k(sources=("cache",), verbose=False).ratings
    except Exception as exc:  # pragma: no cover - depends on the cache
        pytest.skip(f"MovieLens-100K cache not available: {exc}")
    train, test = random_split(ratings, (0.9, 0.1), seed=0)
    model = IAutoRec(num_epochs=40, **FAST).fit(train)
    assert model.encode_items().shape == (model.n_items_, 500)
    # 40 of the 100 default steps already beat the bias baseline (0.94)
    assert evaluate_ratings(model, test)["rmse"] < 0.93


# === Mult-DAE and Mult-VAE (Liang et al., 2018) =================================================

from recfeat_ref.autoencoders import (  # noqa: E402
    MultDAE,
    MultDAEConfig,
    MultDAENet,
    MultVAE,
    MultVAEConfig,
    MultVAENet,
    gaussian_kl,
    kl_beta,
    multinomial_nll,
)
from recfeat_ref.baselines import Popularity  # noqa: E402
from recfeat_ref.recommender import evaluate_topn  # noqa: E402


def _clustered_positives(n_groups=3, users_per_group=12, items_per_group=8, seed=0):
    """Users in groups, each liking the items of its group; per user one item held out (valid) and the rest train.

    Group sizes differ in popularity only through chance, so a model that ranks the held-out
    item first must have learned the group structure.
    """
    rng = np.random.default_rng(seed)
    train, valid = [], []
    for g in range(n_groups):
        items = 1000 + g * items_per_group + np.arange(items_per_group)
        for j in range(users_per_group):
            u = 10 + g * users_per_group + j
            liked = rng.permutation(items)[: items_per_group - 2]  # 6 of the 8
            valid.append((u, liked[0]))
            train += [(u, i) for i in liked[1:]]
    cols = ["user_id", "item_id"]
    return pd.DataFrame(train, columns=cols), pd.DataFrame(valid, columns=cols)


@pytest.fixture(scope="module")
def clustered_fits():
    train, valid = _clustered_positives()
    dae = MultDAE(hidden_dims=(16,), num_epochs=60, batch_size=8, lr=3e-2, eval_every=5, patience=20, **FAST)
    vae = MultVAE(hidden_dims=(32,), latent_dim=4, num_epochs=60, batch_size=8, lr=3e-2, anneal_steps=100,
                  eval_every=5, patience=20, **FAST)
    return train, valid, dae.fit(train, valid=valid), vae.fit(train, valid=valid)


# --- loss formulas against torch.distributions ---------------------------------------------------


def test_multinomial_nll_matches_torch_distributions():
    torch.manual_seed(0)
    logits = torch.randn(4, 7, dtype=torch.float64)
    x = torch.randint(0, 3, (4, 7)).double()
    x[:, 0] += 1  # every row counts at least one item
    expected = []
    for row_logits, row in zip(logits, x):
        dist = torch.distributions.Multinomial(int(row.sum()), logits=row_logits)
        log_coef = torch.lgamma(row.sum() + 1) - torch.lgamma(row + 1).sum()  # log multinomial coefficient
        expected.append(-(dist.log_prob(row) - log_coef))
    torch.testing.assert_close(multinomial_nll(logits, x), torch.stack(expected).mean())
    # a hand value: uniform logits over 4 items, 2 items clicked -> 2 log 4
    assert multinomial_nll(torch.zeros(1, 4), torch.tensor([[1.0, 0, 1, 0]])).item() == pytest.approx(2 * np.log(4))
    # shift invariance of the softmax and stability for huge logits
    torch.testing.assert_close(multinomial_nll(logits + 1e4, x), multinomial_nll(logits, x))
    with pytest.raises(ValueError, match="same shape"):
        multinomial_nll(logits, x[:, :3])


def test_gaussian_kl_matches_torch_distributions():
    torch.manual_seed(1)
    mu, logvar = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch.distributions.kl_divergence(q, p).sum(-1).mean()
    torch.testing.assert_close(gaussian_kl(mu, logvar), expected)
    assert gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)).item() == 0.0
    with pytest.raises(ValueError, match="same shape"):
        gaussian_kl(mu, logvar[:, :2])


def test_kl_beta_ramps_linearly_to_its_cap():
    betas = [kl_beta(t, anneal_steps=10, cap=0.3) for t in range(8)]
    np.testing.assert_allclose(betas, [0.0, 0.1, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3])
    assert kl_beta(25, anneal_steps=10, cap=2.0) == 2.0


# --- networks: the formulas -----------------------------------------------------------------------


def test_dae_network_matches_the_formula():
    seed_everything(0)
    net = MultDAENet(n_items=6, hidden_dims=(3,), dropout=0.5).eval()
    x = torch.tensor([[1.0, 0, 1, 0, 0, 1], [0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]])
    V, c = net.encoder[0].weight, net.encoder[0].bias
    W, b = net.decoder[0].weight, net.decoder[0].bias
    xn = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)  # L2-normalised rows, the empty row stays 0
    with torch.no_grad():
        torch.testing.assert_close(net(x), torch.tanh(xn @ V.T + c) @ W.T + b)
        torch.testing.assert_close(net.encode(x), torch.tanh(xn @ V.T + c))
    net.train()  # dropout only while training
    assert not torch.equal(net(x), net(x))


def test_vae_network_uses_the_mean_in_eval_and_samples_in_training():
    seed_everything(0)
    net = MultVAENet(n_items=6, hidden_dims=(5,), latent_dim=2, dropout=0.0)
    x = torch.tensor([[1.0, 0, 1, 0, 0, 1], [0, 1, 0, 1, 0, 0]])
    with torch.no_grad():
        xn = x / x.norm(dim=1, keepdim=True)
        out = net.encoder[1](torch.tanh(net.encoder[0](xn)))  # (B, 2D)
        mu, logvar = out[:, :2], out[:, 2:]
        net.eval()
        logits, mu_e, logvar_e = net(x)
        torch.testing.assert_close(mu_e, mu)
        torch.testing.assert_close(logvar_e, logvar)
        torch.testing.assert_close(logits, net.decoder[1](torch.tanh(net.decoder[0](mu))))  # z = mu
        net.train()  # z = mu + sigma * eps, with dropout 0 the only randomness
        torch.manual_seed(3)
        eps = torch.randn(2, 2)
        torch.manual_seed(3)
        logits_t, _, _ = net(x)
        z = mu + eps * torch.exp(0.5 * logvar)
        torch.testing.assert_close(logits_t, net.decoder[1](torch.tanh(net.decoder[0](z))))


def test_vae_objective_is_nll_plus_beta_kl():
    train, _ = _clustered_positives()
    model = MultVAE(hidden_dims=(8,), latent_dim=2, num_epochs=1, anneal_steps=10, beta_cap=0.3, **FAST).fit(train)
    net = model.model_.train()
    x = model._rows(np.arange(5))
    torch.manual_seed(0)
    loss, parts = model._objective(net, x, step=2)
    torch.manual_seed(0)
    logits, mu, logvar = net(x)
    expected = multinomial_nll(logits, x) + 0.2 * gaussian_kl(mu, logvar)
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(parts["train_kl"], gaussian_kl(mu, logvar).detach())


# --- fitted models: shapes, overfit, determinism, unseen users -----------------------------------


def test_shapes_and_attributes(clustered_fits):
    train, _, dae, vae = clustered_fits
    n_users, n_items = train.user_id.nunique(), train.item_id.nunique()
    for model, d in ((dae, 16), (vae, 4)):
        assert model.score_items().shape == (n_users, n_items)
        assert model.encode_users().shape == (n_users, d) and model.encode_users().dtype == np.float64
        assert model.encode_users([10, 11, 99999]).shape == (3, d)
        assert model.item_bias_.shape == (n_items,) and model.popularity_.shape == (n_items,)
        assert model.train_matrix_.shape == (n_users, n_items) and model.train_matrix_.nnz == len(train)
        assert {"epoch", "train_loss", "train_nll", "seconds", "valid_ndcg_at_10"} <= set(model.history_.columns)
        # scores are log-probabilities: each row's exp sums to 1
        np.testing.assert_allclose(np.exp(model.score_items()).sum(1), 1.0, rtol=1e-9)
    assert dae.item_embeddings_.shape == (n_items, 16) and vae.item_embeddings_.shape == (n_items, 32)
    assert {"train_kl", "beta"} <= set(vae.history_.columns)
    assert "MultVAEConfig(hidden_dims=(32,)" in repr(vae)


def test_dae_scores_are_the_dot_product_of_code_and_item_embeddings(clustered_fits):
    _, _, dae, _ = clustered_fits
    logits = dae.encode_users() @ dae.item_embeddings_.T + dae.item_bias_  # (U, I)
    log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    np.testing.assert_allclose(dae.score_items(), log_probs, atol=1e-5)


def test_learns_the_groups_and_beats_popularity(clustered_fits):
    train, valid, dae, vae = clustered_fits
    pop = evaluate_topn(Popularity().fit(train), train, valid, k=3)["hit_rate_at_k"]
    for model in (dae, vae):
        # the held-out item is one of the 3 group items the user has not seen in training,
        # so a model that learned the groups puts it in the top 3 (NDCG@10 then ~0.71)
        hit3 = evaluate_topn(model, train, valid, k=3)["hit_rate_at_k"]
        assert hit3 > 0.9 and hit3 > pop + 0.5
        # the best weights were restored: the final model scores what the best epoch scored
        ndcg = evaluate_topn(model, train, valid)["ndcg_at_k"]
        assert ndcg == pytest.approx(model.history_["valid_ndcg_at_10"].max())
        # the user codes separate the groups: nearest neighbour in the same group
        codes = model.encode_users()
        dist = ((codes[:, None] - codes[None]) ** 2).sum(-1) + np.diag(np.full(len(codes), np.inf))
        group = np.arange(len(codes)) // 12
        assert (group[dist.argmin(1)] == group).mean() > 0.9


def test_vae_beta_follows_the_annealing_schedule(clustered_fits):
    train, _, _, vae = clustered_fits
    steps_per_epoch = int(np.ceil(train.user_id.nunique() / vae.config.batch_size))
    expected = [kl_beta(e * steps_per_epoch, vae.config.anneal_steps, vae.config.beta_cap) for e in vae.history_.epoch]
    np.testing.assert_allclose(vae.history_["beta"], expected)
    assert vae.history_["beta"].iloc[-1] == pytest.approx(vae.config.beta_cap)


def test_tiny_overfit_without_dropout():
    train, _ = _clustered_positives(n_groups=2, users_per_group=4)
    model = MultDAE(hidden_dims=(32,), dropout=0.0, num_epochs=300, batch_size=8, lr=1e-2, **FAST).fit(train)
    # the best the multinomial can do on a row of n items is log(1/n) on each: nll = n log n
    n = train.groupby("user_id").size().to_numpy()
    assert model.history_["train_nll"].iloc[-1] == pytest.approx((n * np.log(n)).mean(), rel=0.02)


@pytest.mark.parametrize("cls", [MultDAE, MultVAE])
def test_deterministic_under_a_seed(cls):
    train, valid = _clustered_positives()
    kw = dict(hidden_dims=(8,), num_epochs=6, batch_size=8, eval_every=2, **FAST)
    a = cls(**kw).fit(train, valid=valid)
    b = cls(**kw).fit(train, valid=valid)
    np.testing.assert_array_equal(a.score_items(), b.score_items())
    pd.testing.assert_frame_equal(a.history_.drop(columns="seconds"), b.history_.drop(columns="seconds"))
    assert not np.array_equal(a.score_items(), cls(seed=1, **kw).fit(train).score_items())


def test_unseen_users_and_items(clustered_fits):
    train, _, dae, vae = clustered_fits
    for model in (dae, vae):
        # the average training user's distribution, in log space
        expected = np.log(np.exp(model.score_items()).mean(0))
        np.testing.assert_allclose(model.popularity_, expected, rtol=1e-9)
        np.testing.assert_allclose(model.score_items([99999, 10])[0], expected, rtol=1e-9)
        rows = pd.DataFrame({"user_id": [99999, 10, 99999, 10], "item_id": [1000, 5, 5, 1000]})
        pred = model.predict(rows)
        assert pred[0] == pytest.approx(expected[0])
        assert pred[1] == pytest.approx(model.score_items([10])[0].mean())  # known user, unseen item
        assert pred[2] == pytest.approx(expected.mean())
        assert pred[3] == pytest.approx(model.score_items([10])[0, 0])
        # an unseen user is encoded from the empty row
        empty = model.encode_users([99999, 99998])
        np.testing.assert_array_equal(empty[0], empty[1])
        with torch.no_grad():
            np.testing.assert_allclose(empty[0], model._code(torch.zeros(1, model.n_items_))[0].double().numpy(),
                                       atol=1e-6)


def test_repeated_rows_and_ratings_are_ignored():
    train = pd.DataFrame({"user_id": [1, 1, 1, 2], "item_id": [7, 7, 8, 8], "rating": [5, 1, 3, 2]})
    model = MultDAE(hidden_dims=(2,), num_epochs=1, **FAST).fit(train)
    np.testing.assert_array_equal(model.train_matrix_.toarray(), [[1.0, 1.0], [0.0, 1.0]])


def test_mult_config_validation_names_the_field():
    for cls in (MultDAEConfig, MultVAEConfig):
        for field, value in [("hidden_dims", [200]), ("hidden_dims", (0,)), ("dropout", 1.0), ("dropout", -0.1),
                             ("lr", 0.0), ("reg", -1.0), ("batch_size", 0), ("num_epochs", 1.5),
                             ("eval_every", 0), ("patience", 0), ("k", 0), ("seed", -1), ("progress", "no"),
                             ("cpu_threads", 0)]:
            with pytest.raises(ValueError, match=field):
                cls(**{field: value})
    with pytest.raises(ValueError, match="hidden_dims"):
        MultDAEConfig(hidden_dims=())
    MultVAEConfig(hidden_dims=())  # fine: a linear encoder and decoder
    for field, value in [("latent_dim", 0), ("anneal_steps", 0), ("beta_cap", -0.1)]:
        with pytest.raises(ValueError, match=field):
            MultVAEConfig(**{field: value})
    with pytest.raises(TypeError, match="latent_dim"):
        MultDAE(latent_dim=8)
    with pytest.raises(TypeError, match="MultVAEConfig"):
        MultVAE(MultDAEConfig())
    with pytest.raises(ValueError, match="valid"):
        MultDAE(**FAST).fit(_clustered_positives()[0], valid=pd.DataFrame({"user_id": [1]}))
