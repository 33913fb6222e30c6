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
