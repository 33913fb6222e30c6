"""Tests of recfeat_ref.hybrid: feature tables, config, the BPR special case, fusions, learning, weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recfeat_ref._validation import DataValidationError
from recfeat_ref.hybrid import (
    FUSIONS,
    EntityFeatures,
    FeatureRanker,
    FeatureRankerConfig,
    FeatureTowers,
    _TowerInputs,
)
from recfeat_ref.mf import bpr_objective
from recfeat_ref.recommender import evaluate_topn

FAST = {"progress": False, "device": "cpu"}

# --- synthetic data -----------------------------------------------------------------------


def _users_frame():
    """Synthetic user table: 4 users, two categorical, one multi-hot (with an empty list)."""
    return pd.DataFrame(
        {
            "user_id": [10, 11, 12, 13],
            "gender": ["F", "M", "F", "M"],
            "occ": ["b", "a", "c", "a"],
            "tags": [["y", "x"], [], ["x"], ["z", "y"]],
        }
    )


def _small_setup(seed=0):
    """Synthetic interactions and feature tables of 12 users and 10 items, every field kind on each side."""
    rng = np.random.default_rng(seed)
    n_users, n_items = 12, 10
    users = pd.DataFrame(
        {
            "user_id": np.arange(n_users),
            "gender": rng.choice(["F", "M"], n_users),
            "tags": [
                list(rng.choice(["p", "q", "r"], rng.integers(0, 3), replace=False))
                for _ in range(n_users)
            ],
        }
    )
    items = pd.DataFrame(
        {
            "item_id": 100 + np.arange(n_items),
            "genre": rng.choice(["X", "Y", "Z"], n_items),
            "genres": [
                list(rng.choice(["a", "b", "c"], rng.integers(0, 3), replace=False))
                for _ in range(n_items)
            ],
        }
    )
    uf = EntityFeatures(
        users,
        "user_id",
        categorical=["gender"],
        multi_hot=["tags"],
        dense={"uvec": rng.normal(size=(n_users, 3))},
    )
    itf = EntityFeatures(
        items,
        "item_id",
        categorical=["genre"],
        multi_hot=["genres"],
        dense={"vec": rng.normal(size=(n_items, 4))},
    )
    rows = [
        (u, 100 + i)
        for u in range(n_users)
        for i in rng.choice(n_items, 4, replace=False)
    ]
    train = pd.DataFrame(rows, columns=["user_id", "item_id"])
    return uf, itf, train


def _genre_setup():
    """Synthetic data where preference is fully determined by a categorical feature.

    24 users in groups A/B (even/odd ids), 20 items of genre X/Y (even/odd). A user of
    group A interacts with 7 random items of genre X only, group B with genre Y only; the
    last 2 interactions of each user are held out. Each side also has an uninformative
    random categorical feature ("unoise", "noise").
    """
    rng = np.random.default_rng(0)
    n_users, n_items = 24, 20
    users = pd.DataFrame(
        {
            "user_id": np.arange(n_users),
            "group": np.where(np.arange(n_users) % 2 == 0, "A", "B"),
            "unoise": rng.choice(["p", "q", "r"], n_users),
        }
    )
    items = pd.DataFrame(
        {
            "item_id": 100 + np.arange(n_items),
            "genre": np.where(np.arange(n_items) % 2 == 0, "X", "Y"),
            "noise": rng.choice(["n0", "n1", "n2"], n_items),
        }
    )
    rows = []
    for u in range(n_users):
        good = items.item_id[items.genre == ("X" if u % 2 == 0 else "Y")].to_numpy()
        rows += [(u, i) for i in rng.choice(good, 7, replace=False)]
    df = pd.DataFrame(rows, columns=["user_id", "item_id"])
    test = df.groupby("user_id").tail(2)
    train = df.drop(test.index)
    uf = EntityFeatures(users, "user_id", categorical=["group", "unoise"])
    itf = EntityFeatures(items, "item_id", categorical=["genre", "noise"])
    return users, items, uf, itf, train, test


GENRE_FIT = {
    "n_factors": 8,
    "num_epochs": 30,
    "batch_size": 64,
    "lr": 0.05,
    "seed": 0,
    **FAST,
}


@pytest.fixture(scope="module")
def genre():
    users, items, uf, itf, train, test = _genre_setup()
    model = FeatureRanker(
        uf, itf, user_ids=False, item_ids=False, fusion="sum", **GENRE_FIT
    ).fit(train)
    return {
        "users": users,
        "items": items,
        "uf": uf,
        "itf": itf,
        "train": train,
        "test": test,
        "model": model,
    }


def _right_genre_mask(model, items):
    """(U, I) True where the training item has the genre of the training user's group."""
    item_genre = items.set_index("item_id").loc[model.item_ids_, "genre"].to_numpy()
    user_genre = np.where(np.asarray(model.user_ids_) % 2 == 0, "X", "Y")
    return item_genre[None, :] == user_genre[:, None]


# --- EntityFeatures -----------------------------------------------------------------------


def test_entity_features_shapes_and_values():
    frame = _users_frame()
    dense = np.arange(12, dtype=np.float64).reshape(4, 3)
    feats = EntityFeatures(
        frame,
        "user_id",
        categorical=["gender", "occ"],
        multi_hot=["tags"],
        dense={"vec": dense},
    )
    assert feats.field_names == ["gender", "occ", "tags", "vec"] and len(feats) == 4
    assert feats.ids.tolist() == [10, 11, 12, 13]
    assert feats.codes.shape == (4, 2) and feats.codes.dtype == np.int64
    assert feats.cat_dims == (3, 4)  # 2 and 3 distinct values, plus the unused row 0
    assert feats.codes.min() >= 1
    # equal values share a code, distinct values get distinct codes
    assert feats.codes[:, 0].tolist() == [1, 2, 1, 2]
    assert len(set(feats.codes[:, 1])) == 3 and feats.codes[1, 1] == feats.codes[3, 1]
    assert feats.vocabularies["tags"].tolist() == ["x", "y", "z"]
    assert len(feats.bags) == 1 and feats.bags[0].dtype == np.float32
    np.testing.assert_array_equal(
        feats.bags[0], [[1, 1, 0], [0, 0, 0], [1, 0, 0], [0, 1, 1]]
    )
    assert len(feats.dense) == 1 and feats.dense[0].dtype == np.float32
    np.testing.assert_array_equal(feats.dense[0], dense.astype(np.float32))


def test_entity_features_non_default_index_bags_follow_row_order():
    frame = _users_frame()
    frame.index = [7, 3, 9, 1]  # a frame index that is neither 0..n-1 nor sorted
    feats = EntityFeatures(frame, "user_id", multi_hot=["tags"])
    np.testing.assert_array_equal(
        feats.bags[0], [[1, 1, 0], [0, 0, 0], [1, 0, 0], [0, 1, 1]]
    )


def test_entity_features_select_keeps_order_and_only_named_fields():
    feats = EntityFeatures(
        _users_frame(),
        "user_id",
        categorical=["gender", "occ"],
        multi_hot=["tags"],
        dense={"vec": np.ones((4, 3)), "w": np.zeros((4, 2))},
    )
    sub = feats.select(["w", "occ"])  # given out of order
    assert sub.field_names == ["occ", "w"]
    assert (
        sub.categorical == ["occ"] and sub.multi_hot == [] and sub.dense_names == ["w"]
    )
    np.testing.assert_array_equal(sub.codes, feats.codes[:, [1]])
    assert sub.cat_dims == (feats.cat_dims[1],) and list(sub.encoders) == ["occ"]
    assert sub.bags == [] and sub.vocabularies == {}
    assert len(sub.dense) == 1 and sub.dense[0].shape == (4, 2)
    assert sub.rows([13, 10], "x").tolist() == [3, 0]
    # the original is untouched
    assert feats.field_names == [
        "gender",
        "occ",
        "tags",
        "vec",
        "w",
    ] and feats.codes.shape == (4, 2)
    assert feats.select([]).field_names == []
    with pytest.raises(ValueError, match="nope.*zzz|zzz.*nope"):
        feats.select(["gender", "zzz", "nope"])


@pytest.mark.parametrize("case", ["duplicate", "missing_id"])
def test_entity_features_bad_ids_name_column_and_value(case):
    frame = _users_frame()
    if case == "duplicate":
        frame.loc[2, "user_id"] = 13
        match = r"'user_id'.*13"
    else:
        frame["user_id"] = frame["user_id"].astype(object)
        frame.loc[1, "user_id"] = None
        match = r"'user_id'.*None"
    with pytest.raises(DataValidationError, match=match):
        EntityFeatures(frame, "user_id", categorical=["gender"])


def test_entity_features_bad_columns_and_values_name_them():
    frame = _users_frame()
    with pytest.raises(DataValidationError, match="'age'"):
        EntityFeatures(frame, "user_id", categorical=["age"])
    with pytest.raises(DataValidationError, match="'uid'"):
        EntityFeatures(frame, "uid")
    nan_cat = frame.assign(occ=["a", None, "b", "c"])
    with pytest.raises(DataValidationError, match="'occ'.*missing.*\\[1\\]"):
        EntityFeatures(nan_cat, "user_id", categorical=["gender", "occ"])
    not_list = frame.assign(tags=[["x"], "oops", [], ["y"]])
    with pytest.raises(DataValidationError, match="'tags'.*'oops'"):
        EntityFeatures(not_list, "user_id", multi_hot=["tags"])
    with pytest.raises(DataValidationError, match=r"'vec'.*\(4, d\).*\(3, 2\)"):
        EntityFeatures(frame, "user_id", dense={"vec": np.ones((3, 2))})
    with pytest.raises(DataValidationError, match="'vec'"):
        EntityFeatures(frame, "user_id", dense={"vec": np.ones(4)})
    bad = np.ones((4, 2))
    bad[2, 1] = np.nan
    with pytest.raises(DataValidationError, match="'vec'.*NaN"):
        EntityFeatures(frame, "user_id", dense={"vec": bad})
    bad[2, 1] = np.inf
    with pytest.raises(DataValidationError, match="'vec'"):
        EntityFeatures(frame, "user_id", dense={"vec": bad})
    with pytest.raises(ValueError, match="unique"):
        EntityFeatures(
            frame, "user_id", categorical=["gender"], dense={"gender": np.ones((4, 1))}
        )
    with pytest.raises(ValueError, match="'id'"):
        EntityFeatures(frame.assign(id=1), "user_id", categorical=["id"])


def test_entity_features_rows_positions_and_unknown_ids():
    feats = EntityFeatures(_users_frame(), "user_id", categorical=["gender"])
    assert feats.rows([12, 10, 12], "here").tolist() == [2, 0, 2]
    with pytest.raises(DataValidationError, match=r"here: ids \[99, 7\].*'user_id'"):
        feats.rows([10, 99, 7, 99], "here")


# --- config -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, match",
    [
        ({"fusion": "max"}, "fusion"),
        ({"user_ids": 1}, "user_ids"),
        ({"item_ids": "yes"}, "item_ids"),
        ({"n_factors": 0}, "n_factors"),
        ({"num_epochs": -1}, "num_epochs"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"k": 0}, "k"),
        ({"lr": 0.0}, "lr"),
        ({"lr": -1e-3}, "lr"),
        ({"reg": -0.1}, "reg"),
        ({"init_std": 0}, "init_std"),
        ({"seed": -1}, "seed"),
    ],
)
def test_config_validation(params, match):
    with pytest.raises(ValueError, match=match):
        FeatureRankerConfig(**params)
    with pytest.raises(ValueError, match=match):
        FeatureRanker(None, None, **params)


def test_ranker_rejects_bad_arguments():
    with pytest.raises(TypeError, match="item_features"):
        FeatureRanker(None, pd.DataFrame({"item_id": [1]}))
    with pytest.raises(TypeError, match="bogus"):
        FeatureRanker(None, None, bogus=1)
    train = pd.DataFrame({"user_id": [1, 2], "item_id": [1, 2]})
    with pytest.raises(ValueError, match="at least one field"):
        FeatureRanker(None, None, user_ids=False, num_epochs=1, **FAST).fit(train)


# --- the id-only model is BPR-MF ----------------------------------------------------------


def test_id_only_sum_towers_are_bpr_mf_embeddings():
    cfg = FeatureRankerConfig(n_factors=3, fusion="sum")
    torch.manual_seed(0)
    net = FeatureTowers(5, 4, None, None, cfg)
    x_u, x_i = (
        _TowerInputs.from_features(None, None, 5),
        _TowerInputs.from_features(None, None, 4),
    )
    p, b_u, w_u = net.users(x_u)
    q, c, w_i = net.items(x_i)
    assert b_u is None and w_u is None and w_i is None
    assert net.users.ids.weight.shape == (5, 3) and net.items.ids.weight.shape == (4, 4)
    torch.testing.assert_close(p, net.users.ids.weight)
    torch.testing.assert_close(q, net.items.ids.weight[:, :3])
    torch.testing.assert_close(c, net.items.ids.weight[:, 3])
    assert torch.all(c == 0)  # biases start at 0, as BPR-MF's
    # after moving the biases the relation still holds (it is not an artefact of the zero init)
    with torch.no_grad():
        net.items.ids.weight[:, 3] = torch.arange(4.0)
    q, c, _ = net.items(x_i)
    torch.testing.assert_close(c, torch.arange(4.0))
    u, i, j = torch.tensor([0, 4, 2]), torch.tensor([1, 3, 0]), torch.tensor([2, 2, 3])
    E_u, E_i = net.users.ids.weight, net.items.ids.weight
    torch.testing.assert_close(
        bpr_objective(p[u], q[i], q[j], c[i], c[j], 0.01),
        bpr_objective(E_u[u], E_i[i, :3], E_i[j, :3], E_i[i, 3], E_i[j, 3], 0.01),
    )


def test_id_only_fitted_factors_are_the_id_tables():
    train = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [7, 8, 8, 9, 7]})
    model = FeatureRanker(
        None, None, n_factors=4, num_epochs=3, batch_size=2, **FAST
    ).fit(train)
    w_u, w_i = (
        model.model_.users.ids.weight.detach().double().numpy(),
        model.model_.items.ids.weight.detach().double().numpy(),
    )
    np.testing.assert_array_equal(model.user_factors_, w_u)
    np.testing.assert_array_equal(model.item_factors_, w_i[:, :4])
    np.testing.assert_array_equal(model.item_bias_, w_i[:, 4])
    assert np.any(model.item_bias_ != 0)  # trained
    assert model.user_field_names_ == ["id"] and model.item_field_names_ == ["id"]


# --- every fusion -------------------------------------------------------------------------


@pytest.mark.parametrize("fusion", FUSIONS)
def test_every_fusion_fits_scores_and_is_reproducible(fusion):
    uf, itf, train = _small_setup()
    kw = {"fusion": fusion, "n_factors": 4, "num_epochs": 3, "batch_size": 16, **FAST}
    model = FeatureRanker(uf, itf, **kw).fit(train)
    scores = model.score_items()
    assert scores.shape == (12, 10) and np.isfinite(scores).all()
    assert model.user_factors_.shape == (12, 4) and model.item_factors_.shape == (10, 4)
    assert model.user_field_names_ == ["id", "gender", "tags", "uvec"]
    assert model.item_field_names_ == ["id", "genre", "genres", "vec"]
    assert len(model.history_) == 3 and np.isfinite(model.history_["train_loss"]).all()
    pred = model.predict(train.head(5))
    cols = pd.Index(model.item_ids_).get_indexer(train.item_id[:5])
    np.testing.assert_allclose(pred, scores[model.user_index(train.user_id[:5]), cols])
    again = FeatureRanker(uf, itf, **kw).fit(train).score_items()
    np.testing.assert_array_equal(scores, again)
    other = FeatureRanker(uf, itf, **{**kw, "seed": 1}).fit(train).score_items()
    assert not np.allclose(scores, other)


def test_training_id_without_feature_row_raises_naming_it():
    uf, itf, train = _small_setup()
    with pytest.raises(DataValidationError, match=r"fit \(items\).*\[555\]"):
        FeatureRanker(uf, itf, num_epochs=1, **FAST).fit(
            pd.concat([train, pd.DataFrame({"user_id": [0], "item_id": [555]})])
        )
    with pytest.raises(DataValidationError, match=r"fit \(users\).*\[77\]"):
        FeatureRanker(uf, itf, num_epochs=1, **FAST).fit(
            pd.concat([train, pd.DataFrame({"user_id": [77], "item_id": [100]})])
        )
    # the other side without features does not need rows
    FeatureRanker(None, itf, num_epochs=1, **FAST).fit(
        pd.concat([train, pd.DataFrame({"user_id": [77], "item_id": [100]})])
    )


# --- learning from features ---------------------------------------------------------------


def test_features_only_model_learns_the_genre_preference(genre):
    model, items, train, test = (
        genre["model"],
        genre["items"],
        genre["train"],
        genre["test"],
    )
    assert model.user_field_names_ == [
        "group",
        "unoise",
    ] and model.item_field_names_ == ["genre", "noise"]
    scores = model.score_items(model.user_ids_)
    right = _right_genre_mask(model, items)
    margin = np.where(right, scores, np.inf).min(axis=1) - np.where(
        ~right, scores, -np.inf
    ).max(axis=1)
    # every right-genre item (seen or not) above every wrong-genre one, for every user
    assert margin.min() > 1.0
    # held-out rows: each held-out item beats every wrong-genre item of its user
    held = model.predict(test)
    worst_wrong = np.where(~right, scores, -np.inf).max(axis=1)[
        model.user_index(test.user_id)
    ]
    assert (held > worst_wrong + 1.0).all()
    # 5 right-genre candidates per user remain (2 held out + 3 never seen): top-5 holds both held-out items
    assert evaluate_topn(model, train, test, k=5)["recall_at_k"] == 1.0


@pytest.mark.parametrize("fusion", ["concat", "attention"])
def test_other_fusions_learn_the_genre_preference(fusion):
    _, items, uf, itf, train, test = _genre_setup()
    model = FeatureRanker(
        uf, itf, user_ids=False, item_ids=False, fusion=fusion, **GENRE_FIT
    ).fit(train)
    scores = model.score_items(model.user_ids_)
    right = _right_genre_mask(model, items)
    margin = np.where(right, scores, np.inf).min(axis=1) - np.where(
        ~right, scores, -np.inf
    ).max(axis=1)
    assert margin.min() > 1.0
    assert evaluate_topn(model, train, test, k=5)["recall_at_k"] == 1.0


def test_unseen_users_and_items_get_the_average_fallback(genre):
    model = genre["model"]
    i0 = 3
    item = model.item_ids_[i0]
    pred = model.predict(pd.DataFrame({"user_id": [999, 0], "item_id": [item, 12345]}))
    assert np.isfinite(pred).all()
    p_mean, q_mean = model.user_factors_.mean(axis=0), model.item_factors_.mean(axis=0)
    np.testing.assert_allclose(
        pred[0], p_mean @ model.item_factors_[i0] + model.item_bias_[i0]
    )
    u0 = model.user_index([0])[0]
    np.testing.assert_allclose(
        pred[1], model.user_factors_[u0] @ q_mean + model.item_bias_.mean()
    )
    row = model.score_items([999])
    assert row.shape == (1, len(model.item_ids_)) and np.isfinite(row).all()
    np.testing.assert_allclose(row[0], model.item_factors_ @ p_mean + model.item_bias_)


# --- field weights ------------------------------------------------------------------------


@pytest.mark.parametrize("fusion", ["sum", "concat"])
def test_field_weights_raise_without_weights(fusion):
    uf, itf, train = _small_setup()
    model = FeatureRanker(
        uf, itf, fusion=fusion, n_factors=4, num_epochs=1, **FAST
    ).fit(train)
    with pytest.raises(ValueError, match=fusion):
        model.field_weights()


@pytest.mark.parametrize("fusion", ["senet", "attention"])
def test_field_weights_one_column_per_field_one_row_per_entity(fusion):
    uf, itf, train = _small_setup()
    # seed 8: a seed where no item field's SENet gate is stuck at 0 (see the xfail test below)
    model = FeatureRanker(
        uf, itf, fusion=fusion, n_factors=4, num_epochs=3, batch_size=16, seed=8, **FAST
    ).fit(train)
    w = model.field_weights()
    # every field has some weight, so the weighted-sum check below is not 0 == 0
    assert (w > 0).any().all()
    assert isinstance(w, pd.DataFrame)
    assert list(w.columns) == ["id", "genre", "genres", "vec"]
    assert w.index.tolist() == list(model.item_ids_) and w.index.name == "item_id"
    assert np.isfinite(w.to_numpy()).all()
    wu = model.field_weights("users")
    assert (
        list(wu.columns) == ["id", "gender", "tags", "uvec"]
        and len(wu) == 12
        and wu.index.name == "user_id"
    )
    if fusion == "attention":
        np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)
        np.testing.assert_allclose(wu.sum(axis=1), 1.0, rtol=1e-5)
        assert (w.to_numpy() > 0).all()
    else:
        assert (w.to_numpy() >= 0).all()  # the gate ends in a ReLU
    # the exported item vectors are the weighted sums of the field vectors
    with torch.no_grad():
        e = model.model_.items.field_vectors(model._x[1])[..., :4]  # (I, M, K)
    e = e.double().numpy()
    np.testing.assert_allclose(
        model.item_factors_,
        (w.to_numpy()[:, :, None] * e).sum(axis=1),
        rtol=1e-4,
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="side"):
        model.field_weights("both")


def test_senet_gate_gives_every_field_a_weight_at_init():
    """Right after initialisation every field passes the gate, whatever the seed.

    The gate's input (the mean of each field vector, of order ``init_std``) is tiny, so the
    output is ~ ReLU(final bias): with PyTorch's random bias a field drawn negative was
    switched off for every entity for good (no gradient through a ReLU at 0). The bias
    now starts at 1.
    """
    uf, itf, _ = _small_setup()
    cfg = FeatureRankerConfig(fusion="senet", n_factors=4)
    x_u = _TowerInputs.from_features(uf, np.arange(len(uf)), len(uf))
    x_i = _TowerInputs.from_features(itf, np.arange(len(itf)), len(itf))
    for seed in range(5):
        torch.manual_seed(seed)
        net = FeatureTowers(len(uf), len(itf), uf, itf, cfg)
        with torch.no_grad():
            _, _, w_u = net.users(x_u)
            _, _, w_i = net.items(x_i)
        assert (w_u > 0).any(dim=0).all() and (w_i > 0).any(dim=0).all(), f"seed {seed}"


# --- permutation importance ---------------------------------------------------------------


def test_permutation_importance_ranks_informative_fields_and_keeps_the_model(genre):
    model, train, test = genre["model"], genre["train"], genre["test"]
    before = [
        a.copy() for a in (model.user_factors_, model.item_factors_, model.item_bias_)
    ]
    scores_before = model.score_items()
    params_before = [t.detach().clone() for t in model.model_.parameters()]
    imp = model.permutation_importance(train, test, n_repeats=2, seed=0)
    assert set(imp.index) == {
        "users: group",
        "users: unoise",
        "items: genre",
        "items: noise",
    }
    assert list(imp.columns) == ["importance_mean", "importance_std"]
    assert imp["importance_mean"].is_monotonic_decreasing
    assert (
        imp.loc["items: genre", "importance_mean"]
        > imp.loc["items: noise", "importance_mean"] + 0.1
    )
    assert (
        imp.loc["users: group", "importance_mean"]
        > imp.loc["users: unoise", "importance_mean"] + 0.1
    )
    for a, b in zip(
        before, (model.user_factors_, model.item_factors_, model.item_bias_)
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(scores_before, model.score_items())
    for a, b in zip(params_before, model.model_.parameters()):
        assert torch.equal(a, b)
    again = model.permutation_importance(train, test, n_repeats=2, seed=0)
    pd.testing.assert_frame_equal(imp, again)


def test_permutation_importance_of_a_constant_field_is_zero_with_ids():
    """A field with one value everywhere: permuting it changes nothing (checks the field offset past "id")."""
    _, items, uf, _, train, test = _genre_setup()
    itf = EntityFeatures(
        items.assign(const="c"),
        "item_id",
        categorical=["genre", "const"],
        multi_hot=[],
        dense={"flat": np.ones((len(items), 2))},
    )
    model = FeatureRanker(uf, itf, fusion="sum", **{**GENRE_FIT, "num_epochs": 5}).fit(
        train
    )
    assert model.item_field_names_ == ["id", "genre", "const", "flat"]
    imp = model.permutation_importance(train, test, n_repeats=2)
    assert set(imp.index) == {
        "users: id",
        "users: group",
        "users: unoise",
        "items: id",
        "items: genre",
        "items: const",
        "items: flat",
    }
    assert (
        imp.loc["items: const", "importance_mean"] == 0.0
        and imp.loc["items: const", "importance_std"] == 0.0
    )
    assert imp.loc["items: flat", "importance_mean"] == 0.0
    assert imp.loc["items: genre", "importance_mean"] != 0.0
    with pytest.raises(ValueError, match="n_repeats"):
        model.permutation_importance(train, test, n_repeats=0)
