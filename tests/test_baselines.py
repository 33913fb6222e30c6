"""The Recommender protocol and the baselines: brute-force checks, fallbacks, protocols."""

import numpy as np
import pandas as pd
import pytest

from recfeat_ref._validation import DataValidationError
from recfeat_ref.baselines import BiasBaseline, GlobalMean, Popularity
from recfeat_ref.recommender import Recommender, cross_validate_ratings, evaluate_ratings, evaluate_topn


@pytest.fixture
def ratings():
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({"user_id": rng.integers(100, 140, n), "item_id": rng.integers(500, 560, n), "rating": rng.integers(1, 6, n)})
    return df.drop_duplicates(["user_id", "item_id"]).reset_index(drop=True)


def test_global_mean_and_shapes(ratings):
    model = GlobalMean().fit(ratings)
    assert model.predict(ratings).shape == (len(ratings),)
    assert np.allclose(model.predict(ratings), ratings["rating"].mean())
    assert model.score_items().shape == (model.n_users_, model.n_items_)
    assert list(model.item_ids_) == sorted(ratings["item_id"].unique())


def test_bias_baseline_matches_a_brute_force_als(ratings):
    model = BiasBaseline(reg_user=5.0, reg_item=3.0, n_iter=7).fit(ratings)
    mu = ratings["rating"].mean()
    bu = {u: 0.0 for u in ratings["user_id"].unique()}
    bi = {i: 0.0 for i in ratings["item_id"].unique()}
    for _ in range(7):
        for i in bi:
            rows = ratings[ratings["item_id"] == i]
            bi[i] = sum(r.rating - mu - bu[r.user_id] for r in rows.itertuples()) / (3.0 + len(rows))
        for u in bu:
            rows = ratings[ratings["user_id"] == u]
            bu[u] = sum(r.rating - mu - bi[r.item_id] for r in rows.itertuples()) / (5.0 + len(rows))
    expected = [mu + bu[u] + bi[i] for u, i in zip(ratings["user_id"], ratings["item_id"])]
    np.testing.assert_allclose(model.predict(ratings), expected)
    np.testing.assert_allclose(model.score_items()[model.user_index(ratings["user_id"]), model._item_enc.transform(ratings["item_id"]) - 1], expected)


def test_bias_baseline_fallbacks_are_documented_values(ratings):
    model = BiasBaseline().fit(ratings)
    known_u, known_i = ratings["user_id"].iloc[0], ratings["item_id"].iloc[0]
    queries = pd.DataFrame({"user_id": [known_u, 9999, 9999], "item_id": [8888, known_i, 8888]})
    u, i = model.user_index([known_u])[0], model._item_enc.transform(pd.Series([known_i]))[0] - 1
    np.testing.assert_allclose(
        model.predict(queries),
        [model.mean_ + model.user_bias_[u], model.mean_ + model.item_bias_[i], model.mean_],
    )
    row = model.score_items([9999])
    np.testing.assert_allclose(row[0], model.mean_ + model.item_bias_)


def test_popularity_counts_and_unseen(ratings):
    model = Popularity().fit(ratings)
    counts = ratings["item_id"].value_counts().reindex(model.item_ids_).to_numpy()
    np.testing.assert_array_equal(model.score_items([ratings["user_id"].iloc[0], 12345]), np.vstack([counts, counts]))
    assert model.predict(pd.DataFrame({"user_id": [1], "item_id": [7777]}))[0] == 0.0


def test_parameter_and_state_errors(ratings):
    with pytest.raises(ValueError, match="reg_user"):
        BiasBaseline(reg_user=-1)
    with pytest.raises(ValueError, match="n_iter"):
        BiasBaseline(n_iter=0)
    with pytest.raises(DataValidationError, match="not fitted"):
        GlobalMean().predict(ratings)
    with pytest.raises(DataValidationError, match="rating"):
        GlobalMean().fit(ratings.drop(columns="rating"))
    with pytest.raises(DataValidationError, match="empty"):
        GlobalMean().fit(ratings.iloc[:0])

    class NoFallback(GlobalMean):
        _fallback = Recommender._fallback

    with pytest.raises(DataValidationError, match="unseen in training"):
        NoFallback().fit(ratings).predict(pd.DataFrame({"user_id": [1], "item_id": [1]}))


def test_evaluate_topn_matches_a_brute_force_protocol(ratings):
    train = ratings.sample(frac=0.7, random_state=0)
    test = ratings.drop(train.index)
    model = BiasBaseline().fit(train)
    report = evaluate_topn(model, train, test, k=5)
    # Brute force: rank every training item per user, skip the user's training items.
    ndcgs = []
    scores = model.score_items()
    for u_raw, grp in test.groupby("user_id"):
        if u_raw not in set(model.user_ids_):
            continue
        u = model.user_index([u_raw])[0]
        relevant = set(grp["item_id"]) & set(model.item_ids_)
        if not relevant:
            continue
        seen = set(train.loc[train["user_id"] == u_raw, "item_id"])
        order = [model.item_ids_[j] for j in np.argsort(-scores[u], kind="stable") if model.item_ids_[j] not in seen][:5]
        dcg = sum(1 / np.log2(r + 2) for r, it in enumerate(order) if it in relevant)
        idcg = sum(1 / np.log2(r + 2) for r in range(min(5, len(relevant))))
        ndcgs.append(dcg / idcg)
    assert report["n_users"] == len(ndcgs)
    assert report["ndcg_at_k"] == pytest.approx(np.mean(ndcgs))


def test_evaluate_ratings_and_cross_validation(ratings):
    folds = cross_validate_ratings(lambda: BiasBaseline(), ratings, n_splits=4, seed=1, progress=False)
    assert list(folds.columns) == ["fold", "rmse", "mae", "fit_seconds"] and len(folds) == 4
    assert (folds["rmse"] >= folds["mae"]).all()
    model = GlobalMean().fit(ratings)
    out = evaluate_ratings(model, ratings)
    assert out["rmse"] == pytest.approx(ratings["rating"].std(ddof=0))


def test_bias_baseline_on_movielens_matches_surprise_published_rmse():
    from recfeat_ref.datasets import load_movielens_100k

    try:
        ratings = load_movielens_100k(sources=("cache",), verbose=False).ratings
    except Exception as exc:  # pragma: no cover - depends on the cache
        pytest.skip(f"MovieLens-100K cache not available: {exc}")
    folds = cross_validate_ratings(lambda: BiasBaseline(), ratings, n_splits=5, seed=0, progress=False)
    # Surprise's BaselineOnly (ALS, same regularisation) reports RMSE 0.944 on ML-100K 5-fold.
    assert 0.935 < folds["rmse"].mean() < 0.955
