"""The CTR protocol's data: buckets, the join, the split, and a featurizer fitted on train only."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from recfeat_ref._validation import DataValidationError
from recfeat_ref.ctr import (
    UNKNOWN,
    CTRBatch,
    add_dense,
    lookup_rows,
    CTRFeaturizer,
    age_bucket,
    build_ctr_features,
    ctr_frame,
    ctr_split,
    year_bucket,
)
from recfeat_ref.datasets import DataSourceError, genre_matrix, load_movielens_100k
from recfeat_ref.preprocessing import IdEncoder, NotFittedError


def _ml(n_ratings=40, seed=0):
    """A tiny MovieLens-shaped data set: 6 users, 8 items, random ratings."""
    rng = np.random.default_rng(seed)
    users = pd.DataFrame(
        {
            "user_id": [1, 2, 3, 4, 5, 6],
            "age": [15, 18, 30, 44, 50, 70],
            "gender": ["F", "M", "M", "F", "M", "F"],
            "occupation": ["student", "student", "writer", "artist", "doctor", "retired"],
            "zip_code": ["00001"] * 6,
        }
    )
    items = pd.DataFrame(
        {
            "item_id": [10, 11, 12, 13, 14, 15, 16, 17],
            "title": [f"film {i}" for i in range(8)],
            "year": pd.array([1995, 1987, None, 1950, 1999, 2000, 1995, 1960], dtype="Int64"),
            "genres": [["Comedy"], ["Drama", "Comedy"], [], ["Horror"], ["Drama"], ["Sci-Fi", "Drama"],
                       ["Comedy", "Romance"], ["Western"]],
        }
    )  # fmt: skip
    pairs = rng.choice(6 * 8, size=n_ratings, replace=False)
    ratings = pd.DataFrame(
        {
            "user_id": users["user_id"].to_numpy()[pairs // 8],
            "item_id": items["item_id"].to_numpy()[pairs % 8],
            "rating": rng.integers(1, 6, size=n_ratings),
            "timestamp": np.arange(n_ratings),
        },
        index=np.arange(100, 100 + n_ratings),
    )
    return SimpleNamespace(ratings=ratings, users=users, items=items)


# ---------------------------------------------------------------------------
# Buckets
# ---------------------------------------------------------------------------


def test_age_bucket_edges_are_closed_on_the_left():
    ages = [0, 17, 18, 24, 25, 34, 35, 44, 45, 49, 50, 55, 56, 99, None, np.nan]
    expected = ["<18", "<18", "18-24", "18-24", "25-34", "25-34", "35-44", "35-44",
                "45-49", "45-49", "50-55", "50-55", "56+", "56+", UNKNOWN, UNKNOWN]  # fmt: skip
    assert age_bucket(ages).tolist() == expected
    s = pd.Series([30, 60], index=[7, 9], name="age")
    out = age_bucket(s)
    assert out.index.tolist() == [7, 9] and out.name == "age" and out.tolist() == ["25-34", "56+"]


def test_age_bucket_refuses_negative_or_text():
    with pytest.raises(DataValidationError, match=r"age_bucket.*-3"):
        age_bucket([20, -3])
    with pytest.raises(DataValidationError, match="'old'"):
        age_bucket([20, "old"])


def test_year_bucket_edges_are_decades():
    years = pd.array([1899, 1900, 1909, 1910, 1989, 1990, 1999, 2000, None], dtype="Int64")
    assert year_bucket(years).tolist() == [
        "1890s", "1900s", "1900s", "1910s", "1980s", "1990s", "1990s", "2000s", UNKNOWN,
    ]  # fmt: skip
    assert year_bucket([1995.0, np.nan]).tolist() == ["1990s", UNKNOWN]
    with pytest.raises(DataValidationError, match="whole numbers"):
        year_bucket([1995.5])


# ---------------------------------------------------------------------------
# ctr_frame and ctr_split
# ---------------------------------------------------------------------------


def test_ctr_frame_joins_side_columns_and_labels_at_the_threshold():
    ml = _ml()
    before = [df.copy() for df in (ml.ratings, ml.users, ml.items)]
    frame = ctr_frame(ml)
    for df, copy in zip((ml.ratings, ml.users, ml.items), before):
        pd.testing.assert_frame_equal(df, copy)  # inputs untouched
    assert frame.index.equals(ml.ratings.index)
    assert list(frame.columns[:4]) == ["user_id", "item_id", "rating", "timestamp"]
    # An independent join with pandas' merge gives the same side columns.
    merged = ml.ratings.merge(ml.users, on="user_id", how="left").merge(ml.items, on="item_id", how="left")
    for col in ("age", "gender", "occupation", "year"):
        assert frame[col].tolist() == merged[col].tolist(), col
    assert frame["genres"].tolist() == merged["genres"].tolist()
    assert frame["label"].tolist() == (ml.ratings["rating"] >= 4).astype(int).tolist()
    assert frame["age_bucket"].tolist() == age_bucket(merged["age"]).tolist()
    assert (frame["year_bucket"] == UNKNOWN).sum() == (merged["year"].isna()).sum()
    # The threshold edge: a 3 is negative, a 4 positive; threshold is a parameter.
    small = SimpleNamespace(ratings=ml.ratings.iloc[:0].copy(), users=ml.users, items=ml.items)
    small.ratings = pd.DataFrame({"user_id": [1, 1], "item_id": [10, 11], "rating": [3, 4]})
    assert ctr_frame(small)["label"].tolist() == [0, 1]
    assert ctr_frame(small, threshold=3)["label"].tolist() == [1, 1]


@pytest.mark.parametrize(
    "table, column", [("ratings", "rating"), ("users", "occupation"), ("items", "genres"), ("users", "age")]
)
def test_ctr_frame_names_the_missing_column_and_table(table, column):
    ml = _ml()
    setattr(ml, table, getattr(ml, table).drop(columns=[column]))
    with pytest.raises(DataValidationError, match=rf"{table}: missing column\(s\) \['{column}'\]"):
        ctr_frame(ml)


def test_ctr_frame_names_ratings_whose_user_or_item_is_unknown():
    ml = _ml()
    ml.ratings = pd.concat([ml.ratings, pd.DataFrame({"user_id": [99], "item_id": [10], "rating": [5]})])
    with pytest.raises(DataValidationError, match=r"user_id value\(s\) \[99\] are not in the users table"):
        ctr_frame(ml)
    ml = _ml()
    ml.items = pd.concat([ml.items, ml.items.iloc[:1]])
    with pytest.raises(DataValidationError, match=r"items: column 'item_id' repeats ids \[10\]"):
        ctr_frame(ml)


def test_ctr_split_is_80_10_10_disjoint_complete_and_seeded():
    frame = ctr_frame(_ml(n_ratings=40))
    copy = frame.copy()
    train, valid, test = ctr_split(frame, seed=3)
    pd.testing.assert_frame_equal(frame, copy)
    assert (len(train), len(valid), len(test)) == (32, 4, 4)
    idx = [set(p.index) for p in (train, valid, test)]
    assert not (idx[0] & idx[1] or idx[0] & idx[2] or idx[1] & idx[2])
    assert idx[0] | idx[1] | idx[2] == set(frame.index)
    again = ctr_split(frame, seed=3)
    assert all(a.index.equals(b.index) for a, b in zip((train, valid, test), again))
    assert not ctr_split(frame, seed=4)[2].index.equals(test.index)


# ---------------------------------------------------------------------------
# The featurizer
# ---------------------------------------------------------------------------


def _split_frames():
    frame = ctr_frame(_ml())
    return frame.iloc[:30], frame.iloc[30:]


def test_featurizer_codes_equal_one_id_encoder_per_field_fitted_on_train():
    train, other = _split_frames()
    feat = CTRFeaturizer().fit(train)
    batch = feat.transform(other)
    assert batch.x_cat.dtype == torch.int64 and batch.x_cat.shape == (len(other), 6)
    assert batch.x_multi.dtype == torch.float32 and batch.x_multi.shape == (len(other), sum(feat.multi_dims_))
    assert batch.y.dtype == torch.float32 and batch.y.tolist() == other["label"].tolist()
    for f, field in enumerate(feat.fields):
        expected = IdEncoder().fit(train[field]).transform(other[field])  # the reference: one encoder per field
        assert batch.x_cat[:, f].tolist() == expected.tolist(), field
        assert feat.field_dims_[f] == train[field].nunique() + 1
    assert batch.index.tolist() == other.index.tolist()


def test_multi_hot_equals_genre_matrix_restricted_to_training_genres():
    ml = _ml()
    train, other = _split_frames()
    feat = CTRFeaturizer().fit(train)
    vocab = feat.vocabularies_["genres"]
    assert vocab.tolist() == sorted({g for gs in train["genres"] for g in gs})
    reference = genre_matrix(ml.items).loc[other["item_id"], list(vocab)].to_numpy(np.float32)
    np.testing.assert_array_equal(feat.transform(other).x_multi.numpy(), reference)


def test_unseen_users_map_to_zero_and_transform_learns_nothing():
    train, _ = _split_frames()
    feat = CTRFeaturizer().fit(train)
    classes = {f: enc.classes_.copy() for f, enc in feat.encoders_.items()}
    vocab, dims = feat.vocabularies_["genres"].copy(), (feat.field_dims_, feat.multi_dims_)
    new = train.head(3).copy()
    new["user_id"] = [1001, 1002, 1003]
    new["occupation"] = ["astronaut", "student", "astronaut"]
    new["genres"] = [["Film-Noir"], ["Film-Noir", train["genres"].iloc[0][0]], []]
    before = new.copy()
    batch = feat.transform(new)
    pd.testing.assert_frame_equal(new, before)  # input untouched
    assert batch.x_cat[:, feat.fields.index("user_id")].tolist() == [0, 0, 0]
    occ = feat.fields.index("occupation")
    assert batch.x_cat[[0, 2], occ].tolist() == [0, 0] and batch.x_cat[1, occ] > 0
    # An unseen genre is dropped; the known one stays; an empty bag is an all-zero row.
    assert batch.x_multi[0].sum() == 0 and batch.x_multi[1].sum() == 1 and batch.x_multi[2].sum() == 0
    for f, enc in feat.encoders_.items():
        np.testing.assert_array_equal(enc.classes_, classes[f])
    np.testing.assert_array_equal(feat.vocabularies_["genres"], vocab)
    assert (feat.field_dims_, feat.multi_dims_) == dims


def test_featurizer_errors_name_the_column_and_the_fix():
    train, _ = _split_frames()
    with pytest.raises(NotFittedError, match="not fitted"):
        CTRFeaturizer().transform(train)
    with pytest.raises(DataValidationError, match=r"missing column\(s\) \['age_bucket'\].*ctr_frame adds"):
        CTRFeaturizer().fit(train.drop(columns=["age_bucket"]))
    feat = CTRFeaturizer().fit(train)
    with pytest.raises(DataValidationError, match=r"transform: missing column\(s\) \['gender', 'genres'\]"):
        feat.transform(train.drop(columns=["gender", "genres"]))
    bad = train.assign(genres="Comedy")
    with pytest.raises(DataValidationError, match="column 'genres' must hold a list"):
        CTRFeaturizer().fit(bad)
    with pytest.raises(ValueError, match="must not repeat"):
        CTRFeaturizer(fields=("user_id", "genres")).fit(train)
    with pytest.raises(DataValidationError, match="'gender' has 1 missing"):
        CTRFeaturizer().fit(train.assign(gender=[None] + train["gender"].tolist()[1:]))


def test_batch_without_labels_and_the_trainer_pair():
    train, other = _split_frames()
    feat = CTRFeaturizer(fields=("user_id", "item_id"), multi_hot=()).fit(train)
    batch = feat.transform(other.drop(columns=["label"]))
    assert batch.y is None and batch.x_multi.shape == (len(other), 0) and len(batch) == len(other)
    with pytest.raises(DataValidationError, match="no labels"):
        _ = batch.pair
    (x_cat, _), y = feat.transform(other).pair
    assert x_cat.shape == (len(other), 2) and y.shape == (len(other),)
    assert "field_dims_" in repr(feat)


def test_build_ctr_features_fits_on_the_training_split_only():
    ml = _ml()
    data = build_ctr_features(ml, seed=1)
    train, valid, test = ctr_split(ctr_frame(ml), seed=1)
    assert data.train.index.tolist() == train.index.tolist()
    assert data.test.index.tolist() == test.index.tolist()
    user_enc = data.featurizer.encoders_["user_id"]
    assert user_enc.classes_.tolist() == sorted(train["user_id"].unique().tolist())
    unseen = ~valid["user_id"].isin(train["user_id"]).to_numpy()
    assert (data.valid.x_cat[:, 0].numpy() == 0).tolist() == unseen.tolist()


def test_movielens_smoke():
    try:
        ml = load_movielens_100k(sources=("cache",), verbose=False)
    except (DataSourceError, DataValidationError, OSError) as exc:
        pytest.skip(f"MovieLens-100K not cached: {exc}")
    data = build_ctr_features(ml, seed=0)
    assert (len(data.train), len(data.valid), len(data.test)) == (80_000, 10_000, 10_000)
    feat = data.featurizer
    assert feat.field_dims_[0] == 944 and feat.field_dims_[1] <= 1683 and feat.multi_dims_ == (19,)
    assert feat.field_dims_[2:] == (8, 3, 22, 10)  # 7 age groups, 2 genders, 21 jobs, 9 decades (+ OOV)
    assert (data.train.x_cat > 0).all()  # every training value is in its own vocabulary
    assert 0.5 < data.train.y.mean().item() < 0.6  # 55% of ratings are 4 or 5 stars
    assert (data.train.x_multi.sum(1) >= 1).all()


def test_add_dense_appends_blocks_and_refuses_bad_ones():
    batch = CTRBatch(x_cat=torch.zeros(3, 2, dtype=torch.int64), x_multi=torch.ones(3, 2), y=torch.zeros(3),
                     index=np.arange(3))
    out = add_dense(batch, np.arange(6).reshape(3, 2), np.full((3, 1), 7.0))
    assert out.x_multi.shape == (3, 5) and out.x_multi.dtype == torch.float32
    torch.testing.assert_close(out.x_multi[:, 2:4], torch.arange(6.0).reshape(3, 2))
    assert batch.x_multi.shape == (3, 2), "the input batch is not modified"
    with pytest.raises(DataValidationError, match=r"block 0 must have shape \(3, d\)"):
        add_dense(batch, np.zeros((2, 4)))
    with pytest.raises(DataValidationError, match="block 1 holds NaN"):
        add_dense(batch, np.zeros((3, 1)), np.full((3, 1), np.nan))


def test_lookup_rows_matches_a_dictionary_and_defaults_unknown_keys():
    rng = np.random.default_rng(0)
    ids = np.array([10, 3, 7])
    matrix = rng.normal(size=(3, 4))
    keys = rng.choice([3, 7, 10, 99], size=50)
    table = dict(zip(ids.tolist(), matrix))
    expected = np.stack([table.get(k, np.full(4, -1.0)) for k in keys.tolist()]).astype(np.float32)
    np.testing.assert_array_equal(lookup_rows(keys, ids, matrix, default=np.full(4, -1.0)), expected)
    with pytest.raises(DataValidationError, match="matrix must have shape"):
        lookup_rows(keys, ids, matrix[:2])


def test_fit_ctr_with_a_builder_is_reproducible_whatever_the_global_random_state():
    from recfeat_ref.ctr import fit_ctr
    from recfeat_ref.neural import FM, FMConfig

    gen = torch.Generator().manual_seed(0)
    x_cat = torch.stack([torch.randint(0, 6, (200,), generator=gen), torch.randint(0, 4, (200,), generator=gen)], 1)
    y = (x_cat[:, 0] % 2 == 0).float()
    batch = CTRBatch(x_cat=x_cat, x_multi=torch.zeros(200, 0), y=y, index=np.arange(200))
    weights = []
    for disturb in (1, 5):
        torch.rand(disturb)  # a different global state before each fit
        trainer = fit_ctr(lambda: FM(FMConfig(field_dims=(6, 4), embed_dim=3)), batch, batch, num_epochs=2, seed=3)
        weights.append(torch.cat([p.detach().flatten() for p in trainer.model.parameters()]))
    assert torch.equal(weights[0], weights[1])
