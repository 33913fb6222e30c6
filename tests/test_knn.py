"""ItemKNN and UserKNN against brute-force loops, their fallbacks, validation and a sanity check."""

import numpy as np
import pandas as pd
import pytest

from recfeat_ref._validation import DataValidationError
from recfeat_ref.baselines import BiasBaseline
from recfeat_ref.knn import ItemKNN, UserKNN

N_USERS, N_ITEMS = 12, 9


def _random_ratings(seed=0, density=0.55):
    """A small random rating frame whose raw ids (10u + 3, 1000 + i) sort like the indices."""
    rng = np.random.default_rng(seed)
    mask = rng.random((N_USERS, N_ITEMS)) < density
    mask[np.arange(N_USERS), rng.integers(0, N_ITEMS, N_USERS)] = True  # every user rated something
    mask[rng.integers(0, N_USERS, N_ITEMS), np.arange(N_ITEMS)] = True  # every item was rated
    u, i = np.nonzero(mask)
    # Continuous ratings: no ties between similarities, so the k nearest are unique.
    return pd.DataFrame({"user_id": 10 * u + 3, "item_id": 1000 + i, "rating": rng.uniform(1, 5, len(u))})


def _dense(train):
    """(R, mask, B): ratings, rated mask and baselines b_ui of the public BiasBaseline, all (U, I)."""
    u = (train["user_id"].to_numpy() - 3) // 10
    i = train["item_id"].to_numpy() - 1000
    R = np.zeros((N_USERS, N_ITEMS))
    R[u, i] = train["rating"].to_numpy()
    mask = np.zeros((N_USERS, N_ITEMS), dtype=bool)
    mask[u, i] = True
    grid = _grid()
    B = BiasBaseline().fit(train).predict(grid).reshape(N_USERS, N_ITEMS)
    return R, mask, B


def _grid():
    uu, ii = np.meshgrid(np.arange(N_USERS), np.arange(N_ITEMS), indexing="ij")
    return pd.DataFrame({"user_id": 10 * uu.ravel() + 3, "item_id": 1000 + ii.ravel()})


def _brute_similarity(R, mask, B, similarity, baseline, shrinkage, min_support):
    """s_ij between the *columns* of the (raters, objects) matrices, by a double loop."""
    E = np.where(mask, R - B, 0.0)
    X = E if baseline else np.where(mask, R, 0.0)
    V = E if similarity == "pearson_baseline" else X
    n = R.shape[1]
    S = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            common = mask[:, i] & mask[:, j]
            support = int(common.sum())
            if i == j or support == 0 or support < min_support:
                continue
            if similarity == "cosine":
                num = float(np.sum(V[:, i] * V[:, j]))
                den = np.linalg.norm(V[:, i]) * np.linalg.norm(V[:, j])
            else:
                a, b = V[common, i], V[common, j]
                num, den = float(np.sum(a * b)), np.sqrt(np.sum(a**2) * np.sum(b**2))
            rho = num / den if den > 0 else 0.0
            S[i, j] = rho * support / (support + shrinkage)
    return S


def _brute_rating(S, R, mask, B, k, baseline):
    """r_hat for every (rater a, object e): neighbours are the objects a rated, top k with s > 0."""
    X = np.where(mask, R - B, 0.0) if baseline else R
    n_raters, n_objects = R.shape
    out = np.zeros((n_raters, n_objects))
    for a in range(n_raters):
        for e in range(n_objects):
            cands = [(S[e, f], X[a, f]) for f in range(n_objects) if mask[a, f] and S[e, f] > 0]
            cands = sorted(cands, reverse=True)[:k]
            if not cands:
                out[a, e] = B[a, e]
                continue
            num = sum(s * x for s, x in cands)
            den = sum(abs(s) for s, _ in cands)
            out[a, e] = (B[a, e] if baseline else 0.0) + num / den
    return out


def _top_k_sets(S, k):
    """M_k(e): the k objects most similar to e, positive similarities only."""
    sets = []
    for e in range(len(S)):
        order = [f for f in np.argsort(-S[e], kind="stable") if S[e, f] > 0]
        sets.append(set(order[:k]))
    return sets


def _setup(cls, similarity, baseline, shrinkage=10.0, min_support=1, seed=0):
    train = _random_ratings(seed)
    R, mask, B = _dense(train)
    if cls is UserKNN:  # users are the objects: transpose everything
        R, mask, B = R.T, mask.T, B.T
    S = _brute_similarity(R, mask, B, similarity, baseline, shrinkage, min_support)
    return train, R, mask, B, S


CONFIGS = [
    (cls, sim, base)
    for cls in (ItemKNN, UserKNN)
    for sim in ("cosine", "pearson_baseline")
    for base in (True, False)
]


@pytest.mark.parametrize("cls, similarity, baseline", CONFIGS)
@pytest.mark.parametrize("shrinkage, min_support", [(0.0, 1), (10.0, 1), (5.0, 3)])
def test_similarity_equals_a_double_loop(cls, similarity, baseline, shrinkage, min_support):
    train, _, mask, _, S = _setup(cls, similarity, baseline, shrinkage, min_support)
    model = cls(similarity=similarity, baseline=baseline, shrinkage=shrinkage, min_support=min_support).fit(train)
    np.testing.assert_allclose(model.similarity_, S, atol=1e-12)
    np.testing.assert_array_equal(model.support_, mask.T.astype(int) @ mask.astype(int) * 1)
    assert np.all(np.abs(model.similarity_) <= 1 + 1e-12)
    assert np.any(model.similarity_ != 0)
    if min_support > 1:
        assert np.all(model.similarity_[model.support_ < min_support] == 0)


@pytest.mark.parametrize("cls, similarity, baseline", CONFIGS)
@pytest.mark.parametrize("k", [1, 3, 40])
def test_rating_predictions_equal_a_per_pair_loop(cls, similarity, baseline, k):
    """k=40 exceeds every candidate set: the k-all special case."""
    train, R, mask, B, S = _setup(cls, similarity, baseline)
    model = cls(k=k, similarity=similarity, baseline=baseline, shrinkage=10.0).fit(train)
    expected = _brute_rating(S, R, mask, B, k, baseline)
    if cls is UserKNN:
        expected = expected.T  # back to (users, items)
    np.testing.assert_allclose(model.predict(_grid()).reshape(N_USERS, N_ITEMS), expected, atol=1e-10)
    np.testing.assert_allclose(model.score_items(), expected, atol=1e-10)


@pytest.mark.parametrize("cls", [ItemKNN, UserKNN])
def test_k_at_least_the_candidates_uses_them_all(cls):
    train = _random_ratings(1)
    a = cls(k=max(N_USERS, N_ITEMS)).fit(train).score_items()
    b = cls(k=10**6).fit(train).score_items()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(cls(k=1).fit(train).score_items(), a)


@pytest.mark.parametrize("similarity", ["cosine", "pearson_baseline"])
@pytest.mark.parametrize("k", [1, 2, 40])
def test_item_ranking_scores_equal_a_loop(similarity, k):
    """score_ui = sum over rated j of s_ij [i in M_k(j)] (Deshpande and Karypis)."""
    train, _, mask, _, S = _setup(ItemKNN, similarity, True)
    model = ItemKNN(k=k, similarity=similarity, shrinkage=10.0, mode="ranking").fit(train)
    neighbours = _top_k_sets(S, k)
    expected = np.zeros((N_USERS, N_ITEMS))
    for u in range(N_USERS):
        for i in range(N_ITEMS):
            expected[u, i] = sum(S[i, j] for j in np.flatnonzero(mask[u]) if i in neighbours[j])
    np.testing.assert_allclose(model.score_items(), expected, atol=1e-12)
    np.testing.assert_allclose(model.predict(_grid()), expected.ravel(), atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 40])
def test_user_ranking_scores_equal_a_loop(k):
    """score_ui = sum over v in M_k(u) who rated i of s_uv."""
    train, _, mask, _, S = _setup(UserKNN, "cosine", False)  # mask: (items, users)
    model = UserKNN(k=k, baseline=False, shrinkage=10.0, mode="ranking").fit(train)
    neighbours = _top_k_sets(S, k)
    expected = np.zeros((N_USERS, N_ITEMS))
    for u in range(N_USERS):
        for i in range(N_ITEMS):
            expected[u, i] = sum(S[u, v] for v in neighbours[u] if mask[i, v])
    np.testing.assert_allclose(model.score_items(), expected, atol=1e-12)


@pytest.mark.parametrize("cls", [ItemKNN, UserKNN])
def test_unseen_ids_fall_back_to_bias_baseline_in_rating_mode(cls):
    train = _random_ratings(2)
    model = cls().fit(train)
    bias = BiasBaseline().fit(train)
    df = pd.DataFrame({"user_id": [3, 999, 999, 13], "item_id": [5555, 1000, 5555, 1001]})
    pred = model.predict(df)
    np.testing.assert_array_equal(pred[:3], bias.predict(df)[:3])  # unseen item, user, both
    assert pred[3] != bias.predict(df)[3]  # a known pair uses its neighbours
    np.testing.assert_array_equal(model.score_items([999]), bias.score_items([999]))


@pytest.mark.parametrize("cls", [ItemKNN, UserKNN])
def test_unseen_ids_score_zero_in_ranking_mode(cls):
    model = cls(mode="ranking").fit(_random_ratings(2))
    df = pd.DataFrame({"user_id": [3, 999], "item_id": [5555, 1000]})
    np.testing.assert_array_equal(model.predict(df), [0.0, 0.0])
    np.testing.assert_array_equal(model.score_items([999]), np.zeros((1, N_ITEMS)))


@pytest.mark.parametrize("cls", [ItemKNN, UserKNN])
@pytest.mark.parametrize("mode", ["rating", "ranking"])
def test_shapes_and_determinism(cls, mode):
    train = _random_ratings(3)
    a, b = cls(mode=mode).fit(train), cls(mode=mode).fit(train)
    n_entities = N_ITEMS if cls is ItemKNN else N_USERS
    assert a.similarity_.shape == a.support_.shape == (n_entities, n_entities)
    np.testing.assert_array_equal(a.similarity_, a.similarity_.T)
    assert np.all(np.diag(a.similarity_) == 0)
    assert a.score_items().shape == (N_USERS, N_ITEMS)
    assert a.score_items([23, 3]).shape == (2, N_ITEMS)
    assert a.predict(_grid().head(5)).shape == (5,)
    np.testing.assert_array_equal(a.score_items(), b.score_items())
    np.testing.assert_array_equal(a.predict(_grid()), b.predict(_grid()))
    # The row order of the training frame does not matter (up to float summation order).
    shuffled = cls(mode=mode).fit(train.sample(frac=1.0, random_state=0))
    np.testing.assert_allclose(shuffled.score_items(), a.score_items(), atol=1e-12)
    assert "mode=" in repr(a) and "similarity=" in repr(a)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"k": 0}, "k"),
        ({"k": 2.5}, "k"),
        ({"k": True}, "k"),
        ({"similarity": "pearson"}, "similarity"),
        ({"shrinkage": -1}, "shrinkage"),
        ({"shrinkage": float("nan")}, "shrinkage"),
        ({"min_support": 0}, "min_support"),
        ({"baseline": "yes"}, "baseline"),
        ({"mode": "topn"}, "mode"),
        ({"reg_user": -1.0}, "reg_user"),
    ],
)
@pytest.mark.parametrize("cls", [ItemKNN, UserKNN])
def test_invalid_parameters_name_the_parameter(cls, kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        cls(**kwargs)


def test_repeated_pairs_and_unfitted_model_raise():
    train = _random_ratings(0)
    with pytest.raises(DataValidationError, match="clean_interactions"):
        ItemKNN().fit(pd.concat([train, train.head(2)]))
    with pytest.raises(DataValidationError, match="not fitted"):
        ItemKNN().predict(train)


def _blocks():
    """8 users x 8 items: users 0-3 love items 0-3 and hate 4-7; users 4-7 the opposite."""
    u, i = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    same = (u < 4) == (i < 4)
    return pd.DataFrame({"user_id": u.ravel(), "item_id": i.ravel(), "rating": np.where(same, 5.0, 1.0).ravel()})


HELD_OUT = [(0, 1, 5.0), (5, 6, 5.0), (2, 5, 1.0), (6, 0, 1.0)]


@pytest.mark.parametrize("cls", [ItemKNN, UserKNN])
@pytest.mark.parametrize("similarity", ["cosine", "pearson_baseline"])
def test_recovers_the_block_of_held_out_ratings(cls, similarity):
    full = _blocks()
    held = pd.DataFrame(HELD_OUT, columns=["user_id", "item_id", "rating"])
    keys = set(zip(held.user_id, held.item_id))
    train = full[[(u, i) not in keys for u, i in zip(full.user_id, full.item_id)]]
    model = cls(k=100, shrinkage=0.0, similarity=similarity).fit(train)
    pred = model.predict(held)
    # Not exactly 5 or 1: the regularised biases leave the residuals a little short of +-2.
    np.testing.assert_allclose(pred, held["rating"], atol=0.25)
    # The biases alone cannot: they put every held-out rating near the middle.
    assert np.all(np.abs(BiasBaseline().fit(train).predict(held) - held["rating"]) > 1.0)


@pytest.mark.parametrize("cls", [ItemKNN, UserKNN])
def test_ranking_mode_recommends_from_the_users_block(cls):
    """Implicit blocks: users 0-3 used items 0-3 only, users 4-7 items 4-7; one item held out each."""
    full = _blocks()
    train = full[(full.rating == 5.0) & (full.item_id != full.user_id)]  # user u misses item u
    model = cls(k=100, shrinkage=0.0, baseline=False, mode="ranking").fit(train)
    scores = model.score_items()
    scores[train.user_id, train.item_id] = -np.inf  # exclude the training items
    np.testing.assert_array_equal(scores.argmax(axis=1), np.arange(8))
    other_block = (np.arange(8)[:, None] < 4) != (np.arange(8)[None, :] < 4)
    assert np.all(scores[other_block] == 0)


def test_movielens_item_knn_beats_the_biases():
    """One real-data check: ItemKNN's RMSE on one 80/20 fold of ML-100K (about 0.91)."""
    from recfeat_ref.datasets import DataSourceError, load_movielens_100k
    from recfeat_ref.recommender import evaluate_ratings
    from recfeat_ref.splits import kfold_split

    try:
        ratings = load_movielens_100k(sources=("cache",), verbose=False).ratings
    except (DataSourceError, DataValidationError) as exc:  # no (valid) cached copy; never download here
        pytest.skip(f"MovieLens-100K is not cached: {exc}")
    train, test = next(kfold_split(ratings, n_splits=5, seed=0))
    knn = ItemKNN().fit(train)
    rmse = evaluate_ratings(knn, test)["rmse"]
    bias = evaluate_ratings(BiasBaseline().fit(train), test)["rmse"]
    assert rmse < 0.925 and rmse < bias - 0.02, (rmse, bias)
    assert knn.similarity_.shape == (knn.n_items_, knn.n_items_)
