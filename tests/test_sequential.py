"""Tests of recfeat_ref.sequential: sequences, masks, baselines, training, evaluation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from recfeat_ref.sequential import (
    Caser,
    CaserNet,
    GRU4Rec,
    GRU4RecNet,
    LastItemNext,
    MostPopularNext,
    SASRec,
    SASRecConfig,
    SASRecNet,
    caser_examples,
    causal_mask,
    evaluate_next_item,
    pad_sequences,
    training_windows,
    user_sequences,
)
from recfeat_ref.splits import leave_last_one_out

torch.set_num_threads(1)
FAST = dict(progress=False, device="cpu")


def random_log(n_users=30, n_items=40, length=(5, 15), seed=0) -> pd.DataFrame:
    """Random interaction log, unique (user, item) pairs, coarse timestamps (many ties), rows shuffled."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        n = rng.integers(*length)
        items = rng.choice(np.arange(100, 100 + n_items), size=n, replace=False)
        times = np.sort(rng.integers(0, 6, size=n))  # ties on purpose
        rows += [(u, int(i), int(t)) for i, t in zip(items, times)]
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def cycle_log(n_users=12, n_items=6, length=14) -> pd.DataFrame:
    """Every user walks the cycle 1 -> 2 -> ... -> n_items -> 1 from a different start.

    Items repeat within a user, which is fine for training (repeats allowed in sequences).
    """
    rows = []
    for u in range(n_users):
        for t in range(length):
            rows.append((u, 1 + (u + t) % n_items, t))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


# --- sequence building ------------------------------------------------------------


def test_user_sequences_orders_by_time_then_row_and_encodes_from_one():
    df = pd.DataFrame({"user_id": [7, 7, 7, 3, 7], "item_id": [30, 10, 20, 10, 40],
                       "timestamp": [5, 1, 5, 2, 0]})
    users, seqs, enc = user_sequences(df)
    assert users.tolist() == [3, 7]
    raw = [enc.inverse_transform(s).tolist() for s in seqs]
    # user 7: t=0 (40), t=1 (10), then the tie at t=5 in row order: 30 before 20
    assert raw == [[10], [40, 10, 30, 20]]
    assert min(s.min() for s in seqs) >= 1  # 0 is reserved for padding


def test_user_sequences_drops_unknown_items():
    train = pd.DataFrame({"user_id": [1, 1], "item_id": [5, 6], "timestamp": [1, 2]})
    _, _, enc = user_sequences(train)
    other = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [5, 99, 6], "timestamp": [1, 2, 3]})
    _, seqs, _ = user_sequences(other, enc)
    assert seqs[0].tolist() == [1, 2]


def test_user_sequences_order_matches_leave_last_one_out():
    df = random_log()
    train, valid, test = leave_last_one_out(df)
    users, full, enc = user_sequences(df)
    _, tr, _ = user_sequences(train, enc)
    _, hist, _ = user_sequences(pd.concat([train, valid]), enc)
    v = valid.set_index("user_id")["item_id"]
    t = test.set_index("user_id")["item_id"]
    for k, u in enumerate(users):
        assert full[k][:-2].tolist() == tr[k].tolist()
        assert full[k][:-1].tolist() == hist[k].tolist()
        assert enc.classes_[full[k][-1] - 1] == t[u]
        assert enc.classes_[full[k][-2] - 1] == v[u]


def test_pad_sequences_left_pads_and_keeps_the_most_recent():
    out = pad_sequences([[1, 2, 3, 4, 5], [7], []], max_len=3)
    assert out.tolist() == [[3, 4, 5], [0, 0, 7], [0, 0, 0]]
    assert out.dtype == np.int64
    with pytest.raises(ValueError, match="max_len"):
        pad_sequences([[1]], max_len=0)


@pytest.mark.parametrize("max_len", [1, 3, 4, 10])
def test_training_windows_cover_every_transition_once(max_len):
    rng = np.random.default_rng(max_len)
    seqs = [rng.integers(1, 50, size=n) for n in (1, 2, 5, 9, 13)]
    rows, x, y = training_windows(seqs, max_len)
    assert x.shape == y.shape == (len(rows), max_len)
    got = sorted((int(r), int(a), int(b)) for r, xr, yr in zip(rows, x, y)
                 for a, b in zip(xr, yr) if b != 0)
    want = sorted((r, int(s[t]), int(s[t + 1])) for r, s in enumerate(seqs) for t in range(len(s) - 1))
    assert got == want
    # inside a window the target is the input shifted by one
    assert np.array_equal(x[:, 1:][y[:, :-1] != 0], y[:, :-1][y[:, :-1] != 0])
    # padding only on the left
    for row in x:
        nz = np.flatnonzero(row)
        assert len(nz) == 0 or np.all(row[nz[0]:] != 0)


def test_training_windows_max_windows_keeps_the_most_recent():
    seqs = [np.arange(1, 12), np.arange(1, 3)]
    rows_all, x_all, y_all = training_windows(seqs, 3)
    rows, x, y = training_windows(seqs, 3, max_windows=2)
    assert rows.tolist() == [0, 0, 1]
    assert y[:2].tolist() == y_all[:2].tolist() == [[9, 10, 11], [6, 7, 8]]
    # Caser keeps the examples of the same most recent targets
    model = Caser(max_windows=1, max_len=3, L=2)
    users, cx, cy = model._examples(np.array([0, 1]), seqs)
    assert cy.tolist() == [9, 10, 11, 2] and users.tolist() == [0, 0, 0, 1]
    assert cx[0].tolist() == [7, 8]  # full context kept, not cut at the window


def test_caser_examples_brute_force():
    seqs = [[4, 5, 6, 7], [9], [1, 2]]
    rows, x, y = caser_examples(seqs, L=2)
    want = [(0, [0, 4], 5), (0, [4, 5], 6), (0, [5, 6], 7), (2, [0, 1], 2)]
    assert [(int(r), xr.tolist(), int(t)) for r, xr, t in zip(rows, x, y)] == want


def test_no_leakage_the_held_out_items_never_reach_training_inputs():
    df = random_log(seed=3)
    train, valid, test = leave_last_one_out(df)
    users, seqs, enc = user_sequences(train)
    held = pd.concat([valid, test])
    held_codes = pd.Series(enc.transform(held["item_id"]), index=held["user_id"].to_numpy())
    for max_len in (3, 50):
        rows, x, y = training_windows(seqs, max_len)
        for k, u in enumerate(users):
            codes = set(held_codes.loc[[u]].tolist()) - {0}
            assert codes, "every user of random_log has held-out items"
            mine = rows == k
            assert not codes & set(x[mine].ravel().tolist())
            assert not codes & set(y[mine].ravel().tolist())
    # and the model's own examples, built from the fitted training frame
    model = SASRec(d=8, max_len=4, num_epochs=1, **FAST).fit(train)
    ex_users, ex_x, ex_y = model._examples(np.arange(model.n_users_), model.train_sequences_)
    test_codes = pd.Series(model._item_enc.transform(test["item_id"]), index=test["user_id"].to_numpy())
    for k, u in enumerate(model.user_ids_):
        codes = set(test_codes.loc[[u]].tolist()) - {0}
        assert not codes & set(ex_x[ex_users == k].ravel().tolist())


# --- networks: causality and shapes -------------------------------------------------


def test_causal_mask():
    m = causal_mask(torch.tensor([[0, 0, 5, 6], [1, 2, 3, 4]]))
    assert m.shape == (2, 4, 4)
    assert m[1].equal(torch.ones(4, 4, dtype=torch.bool).tril())
    assert m[0].int().tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1]]


@pytest.mark.parametrize("make", [
    lambda: SASRecNet(20, 8, 6, 2, 2, 0.0),
    lambda: GRU4RecNet(20, 8, 1, 0.0),
])
def test_output_at_t_ignores_items_after_t(make):
    torch.manual_seed(0)
    net = make().eval()
    x = torch.tensor([[0, 0, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]])
    x2 = x.clone()
    x2[:, 4:] = torch.tensor([[17, 18], [19, 11]])
    with torch.no_grad():
        h, h2 = net.hidden(None, x), net.hidden(None, x2)
    assert torch.allclose(h[:, :4], h2[:, :4], atol=1e-6)
    assert not torch.allclose(h[:, 4:], h2[:, 4:])


def test_sasrec_attention_is_causal_and_normalised():
    net = SASRecNet(20, 8, 5, 2, 2, 0.0).eval()
    x = torch.tensor([[0, 0, 3, 4, 5]])
    with torch.no_grad():
        maps = net.attention(x)
    assert len(maps) == 2 and maps[0].shape == (1, 2, 5, 5)
    for w in maps:
        assert torch.allclose(w.sum(-1), torch.ones(1, 2, 5))
        assert float(w[..., torch.ones(5, 5, dtype=torch.bool).triu(1)].abs().max()) == 0.0
        assert float(w[0, :, 2:, :2].abs().max()) == 0.0  # real queries ignore padding


def test_network_shapes():
    x = torch.randint(1, 21, (3, 5))
    users = torch.tensor([0, 1, 2])
    for net, d_out in ((SASRecNet(20, 8, 5, 1, 1, 0.0), 8), (GRU4RecNet(20, 8, 1, 0.0), 8)):
        h = net.hidden(users, x)
        assert h.shape == (3, 5, d_out) and net.logits(h).shape == (3, 5, 21)
    caser = CaserNet(4, 20, 8, 5, 2, 3, 0.0)
    h = caser.hidden(users, x)
    assert h.shape == (3, 16) and caser.logits(h).shape == (3, 21)


# --- baselines against brute force ---------------------------------------------------


def test_most_popular_next_brute_force():
    train = random_log(seed=1)
    model = MostPopularNext().fit(train)
    counts = train.item_id.value_counts()
    want = np.array([counts[i] for i in model.item_ids_], dtype=float)
    assert np.array_equal(model.score_items([0, 5])[1], want)


def test_last_item_next_brute_force():
    df = random_log(seed=2)
    train, valid, test = leave_last_one_out(df)
    model = LastItemNext().fit(train)
    seqs = {u: g.sort_values("timestamp", kind="stable").item_id.tolist() for u, g in train.groupby("user_id")}
    follows = {}
    for s in seqs.values():
        for a, b in zip(s[:-1], s[1:]):
            follows[(a, b)] = follows.get((a, b), 0) + 1
    pop = train.item_id.value_counts()
    users, scores = model.score_next(train)
    for row, u in enumerate(users):
        last = seqs[u][-1]
        for j, item in enumerate(model.item_ids_):
            want = follows.get((last, item), 0) + pop[item] / (1 + pop.max())
            assert math.isclose(scores[row, j], want)


def test_evaluate_next_item_brute_force_and_exclusion():
    df = random_log(seed=4)
    train, valid, test = leave_last_one_out(df)
    model = LastItemNext().fit(train)
    history = pd.concat([train, valid])
    report = evaluate_next_item(model, history, test, k=5)
    users, scores = model.score_next(history)
    hits, ndcg, rr = [], [], []
    for row, u in enumerate(users):
        target = test.loc[test.user_id == u, "item_id"]
        if target.empty or target.iloc[0] not in set(model.item_ids_):
            continue
        seen = set(history.loc[history.user_id == u, "item_id"])
        cands = [(-scores[row, j], j) for j, i in enumerate(model.item_ids_) if i not in seen]
        ranked = [model.item_ids_[j] for _, j in sorted(cands)][:5]
        r = ranked.index(target.iloc[0]) + 1 if target.iloc[0] in ranked else None
        hits.append(r is not None)
        ndcg.append(1 / math.log2(r + 1) if r else 0.0)
        rr.append(1 / r if r else 0.0)
    assert report["n_users"] == len(hits)
    assert report["n_dropped"] == len(test) - len(hits)
    assert math.isclose(report["recall_at_k"], np.mean(hits))
    assert math.isclose(report["ndcg_at_k"], np.mean(ndcg))
    assert math.isclose(report["mrr_at_k"], np.mean(rr))
    per_user = evaluate_next_item(model, history, test, k=5, per_user=True)["per_user"]
    assert len(per_user) == len(hits) and per_user["user_id"].is_monotonic_increasing
    assert math.isclose(per_user["ndcg"].mean(), report["ndcg_at_k"])
    assert np.array_equal(per_user["recall"].to_numpy(), np.array(hits, dtype=float))


def test_evaluate_next_item_rejects_two_targets_per_user():
    train = pd.DataFrame({"user_id": [1, 1], "item_id": [5, 6], "timestamp": [1, 2]})
    model = MostPopularNext().fit(train)
    with pytest.raises(ValueError, match="more than one target"):
        evaluate_next_item(model, train, pd.DataFrame({"user_id": [1, 1], "item_id": [5, 6]}))


# --- training -------------------------------------------------------------------------


MODELS = {
    "sasrec": lambda **kw: SASRec(d=16, max_len=6, dropout=0.0, lr=1e-2, **FAST, **kw),
    "sasrec_bce": lambda **kw: SASRec(d=16, max_len=6, dropout=0.0, lr=1e-2, loss="bce", **FAST, **kw),
    "gru4rec": lambda **kw: GRU4Rec(d=16, max_len=6, dropout=0.0, lr=1e-2, **FAST, **kw),
    "caser": lambda **kw: Caser(d=16, L=2, n_h=4, n_v=2, dropout=0.0, lr=1e-2, batch_size=64, **FAST, **kw),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_tiny_overfit_on_a_repeating_sequence(name):
    df = cycle_log()
    model = MODELS[name](num_epochs=60 if name != "sasrec_bce" else 120).fit(df)
    users, scores = model.score_next(df)
    last = df.sort_values("timestamp").groupby("user_id").item_id.last()
    want = 1 + (last.loc[users].to_numpy() % 6)  # the next item on the cycle
    got = model.item_ids_[scores.argmax(1)]
    assert np.array_equal(got, want), (got, want)
    assert model.history_["train_loss"].iloc[-1] < model.history_["train_loss"].iloc[0]


@pytest.mark.parametrize("name", ["sasrec", "gru4rec", "caser"])
def test_determinism_and_features(name):
    df = random_log(seed=5)
    train, valid, test = leave_last_one_out(df)
    a = MODELS[name](num_epochs=3).fit(train, valid=valid)
    b = MODELS[name](num_epochs=3).fit(train, valid=valid)
    assert np.array_equal(a.score_items(), b.score_items())
    assert a.history_.drop(columns="seconds").equals(b.history_.drop(columns="seconds"))
    assert {"valid_ndcg_at_10", "valid_recall_at_10"} <= set(a.history_.columns)
    assert 1 <= a.best_epoch_ <= 3
    assert a.item_embeddings_.shape == (a.n_items_, 16)
    users, states = a.user_states(train)
    assert states.shape == (a.n_users_, 32 if name == "caser" else 16)
    # the state dotted with the output table is the score
    _, scores = a.score_next(train)
    assert np.allclose(a.score_items(), scores)


def test_unseen_users_and_items():
    train = random_log(seed=6)
    model = SASRec(d=8, max_len=4, num_epochs=1, **FAST).fit(train)
    new = pd.DataFrame({"user_id": [999, 999, 998], "item_id": [100, 12345, 12345],
                        "timestamp": [1, 2, 1]})
    users, scores = model.score_next(new)
    assert users.tolist() == [998, 999] and scores.shape == (2, model.n_items_)
    assert np.array_equal(scores[0], model.popularity_)  # no known item: popularity
    assert np.all(np.isfinite(scores))
    caser = Caser(d=8, L=2, n_h=2, n_v=2, num_epochs=1, **FAST).fit(train)
    assert np.all(np.isfinite(caser.score_next(new)[1]))


def test_attention_weights_for_one_user():
    train = random_log(seed=7)
    model = SASRec(d=8, max_len=5, num_epochs=1, n_blocks=2, **FAST).fit(train)
    w, items = model.attention_weights(train, 3)
    assert w.shape == (2, 1, 5, 5)
    assert np.allclose(w.sum(-1), 1.0, atol=1e-5)
    assert list(items[-1:]) == [train[train.user_id == 3].sort_values("timestamp", kind="stable").item_id.iloc[-1]]
    with pytest.raises(ValueError, match="no row"):
        model.attention_weights(train, 12345)


def test_bad_config_and_inputs_raise():
    with pytest.raises(ValueError, match="loss"):
        SASRecConfig(loss="mse")
    with pytest.raises(ValueError, match="divisible"):
        SASRecConfig(d=10, n_heads=3)
    with pytest.raises(ValueError, match="dropout"):
        SASRec(dropout=1.0)
    with pytest.raises(TypeError, match="unknown"):
        SASRec(n_layers=2)
    with pytest.raises(ValueError, match="timestamp"):
        SASRec(**FAST).fit(pd.DataFrame({"user_id": [1], "item_id": [2]}))
    with pytest.raises(ValueError, match="not fitted"):
        SASRec().score_items([1])
