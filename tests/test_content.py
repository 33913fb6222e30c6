"""Content features and ContentBased against hand computations and brute-force cosines."""

import numpy as np
import pandas as pd
import pytest

from recfeat_ref._validation import DataValidationError
from recfeat_ref.content import ContentBased, item_content_features


def _items():
    """Six films; 'Star Dust' (id 6) is never rated in the training frame below: a cold-start item."""
    return pd.DataFrame(
        {
            "item_id": [1, 2, 3, 4, 5, 6],
            "title": ["Star Wars", "Star Trek", "Love Actually", "Love Story", "The Shining", "Star Dust"],
            "year": pd.array([1977, 1979, 2003, None, 1980, 2007], dtype="Int64"),
            "genres": [["Sci-Fi", "War"], ["Sci-Fi"], ["Comedy", "Romance"], ["Romance"], ["Horror"], ["Fantasy"]],
        }
    )


def _train():
    return pd.DataFrame(
        {
            "user_id": [7, 7, 7, 8, 8, 8, 9],
            "item_id": [1, 3, 5, 2, 4, 5, 3],
            "rating": [5.0, 2.0, 1.0, 4.0, 5.0, 2.0, 3.0],
        }
    )


def test_features_by_hand():
    items = _items()
    X, names = item_content_features(items, use=("genres", "year", "title"))
    genre_names = [n for n in names if n.startswith("genre=")]
    assert "genre=Sci-Fi" in genre_names and "genre=unknown" in genre_names  # every ML genre has a column
    decades = [n for n in names if n.startswith("decade=")]
    assert decades == ["decade=1970s", "decade=1980s", "decade=2000s", "decade=unknown"]
    titles = [n for n in names if n.startswith("title=")]
    assert titles == ["title=love", "title=star"]  # min_df=2; "the" is a stop word, "wars" is in one title
    dense = pd.DataFrame(X.toarray(), columns=names, index=items.item_id)
    # Star Wars: genres (1, 1)/sqrt 2, decade 1, title "star" 1 -> each block unit, row / sqrt 3.
    row = dense.loc[1]
    np.testing.assert_allclose(row[["genre=Sci-Fi", "genre=War"]], [1 / np.sqrt(6)] * 2)
    np.testing.assert_allclose(row[["decade=1970s", "title=star"]], [1 / np.sqrt(3)] * 2)
    assert row.drop(["genre=Sci-Fi", "genre=War", "decade=1970s", "title=star"]).eq(0).all()
    assert dense.loc[4, "decade=unknown"] > 0  # unknown year: its own column
    assert dense.loc[5, [n for n in titles]].eq(0).all()  # "The Shining": no kept word, title block empty
    np.testing.assert_allclose(dense.loc[5, ["genre=Horror", "decade=1980s"]], [1 / np.sqrt(2)] * 2)
    np.testing.assert_allclose(np.linalg.norm(X.toarray(), axis=1), 1.0)


def test_block_weights_set_each_blocks_share_of_the_cosine():
    items = _items()
    w = {"genres": 2.0, "year": 1.0}
    X, _ = item_content_features(items, use=("genres", "year"), weights=w)
    G, _ = item_content_features(items, use=("genres",))
    D, _ = item_content_features(items, use=("year",))
    cos = (X @ X.T).toarray()
    expected = (4 * (G @ G.T).toarray() + 1 * (D @ D.T).toarray()) / 5  # every item has both blocks
    np.testing.assert_allclose(cos, expected, atol=1e-12)
    X0, _ = item_content_features(items, use=("genres", "year"), weights={"year": 0.0})
    np.testing.assert_allclose(X0.toarray()[:, : G.shape[1]], G.toarray())


def test_items_frame_is_not_modified():
    items = _items()
    before = items.copy()
    item_content_features(items)
    ContentBased(items).fit(_train())
    pd.testing.assert_frame_equal(items, before)


def test_profiles_by_hand():
    items = _items()
    model = ContentBased(items, use=("genres",), profile="centered").fit(_train())
    P = pd.DataFrame(model.profiles_.toarray(), index=model.user_ids_, columns=model.feature_names_)
    s2 = 1 / np.sqrt(2)
    # User 7: mean 8/3; weights 5-8/3, 2-8/3, 1-8/3 on Sci-Fi+War, Comedy+Romance, Horror.
    a, b, c = 5 - 8 / 3, 2 - 8 / 3, 1 - 8 / 3
    expected7 = {
        "genre=Sci-Fi": a * s2, "genre=War": a * s2, "genre=Comedy": b * s2, "genre=Romance": b * s2, "genre=Horror": c,
    }  # fmt: skip
    np.testing.assert_allclose(P.loc[7, list(expected7)], list(expected7.values()))
    assert P.loc[7].drop(list(expected7)).eq(0).all()
    np.testing.assert_allclose(model.user_mean_, [8 / 3, 11 / 3, 3.0])
    assert P.loc[9].eq(0).all()  # one rating, equal to the mean: zero profile

    liked = ContentBased(items, use=("genres",), profile="liked", like_threshold=4).fit(_train())
    L = pd.DataFrame(liked.profiles_.toarray(), index=liked.user_ids_, columns=liked.feature_names_)
    np.testing.assert_allclose(L.loc[7, ["genre=Sci-Fi", "genre=War"]], [s2, s2])  # only item 1 is liked
    np.testing.assert_allclose(L.loc[8, ["genre=Sci-Fi", "genre=Romance"]], [1.0, 1.0])  # items 2 and 4
    assert L.to_numpy().sum() == pytest.approx(2 * s2 + 2)


def _brute_cosine(model, items, train, user_ids, item_ids):
    """cos(p_u, f_i) with p_u summed in a loop over the user's ratings."""
    X, _ = item_content_features(items, use=model.use, weights=model.weights, title_min_df=model.title_min_df)
    X = X.toarray()
    row = {iid: r for r, iid in enumerate(items.item_id)}
    out = np.zeros((len(user_ids), len(item_ids)))
    for a, u in enumerate(user_ids):
        mine = train[train.user_id == u]
        p = np.zeros(X.shape[1])
        for iid, r in zip(mine.item_id, mine.rating):
            w = r - mine.rating.mean() if model.profile == "centered" else float(r >= model.like_threshold)
            p += w * X[row[iid]]
        for b, i in enumerate(item_ids):
            f = X[row[i]]
            den = np.linalg.norm(p) * np.linalg.norm(f)
            out[a, b] = p @ f / den if den > 0 else 0.0
    return out


@pytest.mark.parametrize("profile", ["centered", "liked"])
@pytest.mark.parametrize("use", [("genres", "year", "title"), ("genres",), ("title", "year")])
def test_scores_equal_a_brute_force_cosine(profile, use):
    items, train = _items(), _train()
    model = ContentBased(items, use=use, profile=profile, like_threshold=4).fit(train)
    users = [7, 8, 9, 42]  # 42 is unseen: zero profile
    expected = _brute_cosine(model, items, train, users, items.item_id.tolist())
    np.testing.assert_allclose(model.score_items(users, items.item_id), expected, atol=1e-12)
    trained = [items.item_id.tolist().index(i) for i in model.item_ids_]
    np.testing.assert_allclose(model.score_items(users), expected[:, trained], atol=1e-12)
    grid = pd.DataFrame({"user_id": np.repeat(users, 6), "item_id": np.tile(items.item_id, len(users))})
    np.testing.assert_allclose(model.predict(grid), expected.ravel(), atol=1e-12)
    assert np.all(np.abs(expected) <= 1 + 1e-12) and np.all(expected[3] == 0)
    if profile == "liked":
        assert np.all(expected >= 0)


def test_cold_start_item_gets_a_content_score():
    items = _items()
    model = ContentBased(items, use=("title",)).fit(_train())
    assert 6 not in model.item_ids_  # "Star Dust" was never rated
    score = model.predict(pd.DataFrame({"user_id": [7, 8], "item_id": [6, 6]}))
    # Titles share only "star": user 7 loved Star Wars (+7/3), user 8 rated Star Trek a little
    # above their mean (+1/3) but loved Love Story (+4/3): both like it, user 7 much more.
    assert score[0] > 0.9 and 0.1 < score[1] < 0.5
    np.testing.assert_allclose(model.score_items([7, 8], [6])[:, 0], score)
    assert model.score_items().shape == (3, 5)  # training items only: the Recommender contract


def test_shapes_determinism_and_repr():
    items, train = _items(), _train()
    a, b = ContentBased(items).fit(train), ContentBased(items).fit(train)
    assert a.features_.shape == (6, len(a.feature_names_))
    assert a.profiles_.shape == (3, len(a.feature_names_))
    assert a.score_items().shape == (3, 5)
    assert a.score_items([9]).shape == (1, 5)
    assert a.score_items([9, 7], [6, 1, 2]).shape == (2, 3)
    assert a.predict(train).shape == (len(train),)
    np.testing.assert_array_equal(a.score_items(), b.score_items())
    np.testing.assert_array_equal(a.predict(train), b.predict(train))
    assert repr(a).startswith("ContentBased(items=<6 items>, use=('genres', 'year', 'title')")


def test_ids_missing_from_the_items_frame_are_named():
    items = _items()
    train = pd.concat([_train(), pd.DataFrame({"user_id": [7], "item_id": [99], "rating": [4.0]})])
    with pytest.raises(DataValidationError, match=r"train: item ids \[99\] are not in the items frame"):
        ContentBased(items).fit(train)
    model = ContentBased(items).fit(_train())
    with pytest.raises(DataValidationError, match=r"predict: item ids \[77, 88\]"):
        model.predict(pd.DataFrame({"user_id": [7, 7, 8], "item_id": [77, 1, 88]}))
    with pytest.raises(DataValidationError, match=r"score_items: item ids \[55\]"):
        model.score_items([7], [1, 55])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"use": ("genres", "plot")}, "^use must"),
        ({"use": ()}, "^use must"),
        ({"use": ("year", "year")}, "^use names a block twice"),
        ({"weights": {"genres": -1.0}}, r"^weights\['genres'\]"),
        ({"use": ("genres",), "weights": {"title": 1.0}}, r"^weights has block\(s\) \['title'\]"),
        ({"weights": {"genres": 0, "year": 0, "title": 0}}, "^weights: at least one"),
        ({"title_min_df": 0}, "^title_min_df"),
        ({"profile": "mean"}, "^profile must"),
        ({"like_threshold": float("nan")}, "^like_threshold"),
    ],
)
def test_invalid_parameters_name_the_parameter(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ContentBased(_items(), **kwargs)


def test_bad_items_frames_are_named():
    items = _items()
    with pytest.raises(DataValidationError, match=r"ids \[2\] occur more than once"):
        ContentBased(pd.concat([items, items.iloc[[1]]]))
    with pytest.raises(DataValidationError, match=r"missing column\(s\) \['title'\]"):
        item_content_features(items.drop(columns="title"))
    with pytest.raises(DataValidationError, match="lower title_min_df"):
        item_content_features(items, use=("title",), title_min_df=5)


def test_movielens_cold_items_and_ranking():
    """One real-data check: features of the 1,682 films; items held out of training still score."""
    from recfeat_ref.datasets import DataSourceError, load_movielens_100k
    from recfeat_ref.recommender import evaluate_topn
    from recfeat_ref.splits import ratio_split_by_user

    try:
        ml = load_movielens_100k(sources=("cache",), verbose=False)
    except (DataSourceError, DataValidationError) as exc:  # no (valid) cached copy; never download here
        pytest.skip(f"MovieLens-100K is not cached: {exc}")
    cold = ml.items.item_id[ml.items.item_id % 50 == 0].to_numpy()  # 33 films nobody rated in "train"
    ratings = ml.ratings[~ml.ratings.item_id.isin(cold)]
    train, valid, test = ratio_split_by_user(ratings, (0.8, 0.1, 0.1), seed=0)
    model = ContentBased(ml.items).fit(train)
    assert model.features_.shape[0] == 1682 and model.n_items_ < 1682 - len(cold) + 1
    cold_scores = model.score_items(model.user_ids_[:100], cold)  # (100, 33)
    assert np.count_nonzero(cold_scores) > 0.9 * cold_scores.size
    report = evaluate_topn(model, pd.concat([train, valid]), test, k=10)
    assert 0.0 < report["ndcg_at_k"] < 1.0
