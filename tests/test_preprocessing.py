"""Tests for recfeat_ref.preprocessing.

Cleaning rules are checked rule by rule against the report's counts; the
encoders and scalers are checked equal to scikit-learn's, fitted on training
data only, and never modifying their input.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn.preprocessing as skp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.pipeline import make_pipeline

from recfeat_ref._validation import DataValidationError
from recfeat_ref.preprocessing import (
    IdEncoder,
    MinMaxScaler,
    NotFittedError,
    OneHotEncoder,
    StandardScaler,
    clean_interactions,
    interactions_to_csr,
)

# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


def make_dirty(n_rows=3000, n_users=300, n_items=400, seed=0) -> pd.DataFrame:
    """Interactions with known numbers of missing ids, missing and out-of-range
    ratings, and exact repeats of (user, item) pairs."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "user_id": rng.integers(0, n_users, n_rows).astype(float),
            "item_id": rng.integers(0, n_items, n_rows).astype(float),
            "rating": rng.integers(1, 6, n_rows).astype(float),
            "timestamp": rng.permutation(n_rows).astype(np.int64),  # distinct times
        },
        index=np.arange(n_rows) * 3 + 7,
    )
    df.iloc[0:10, 0] = np.nan  # 10 missing users
    df.iloc[10:15, 1] = np.nan  # 5 missing items
    df.iloc[15:23, 2] = np.nan  # 8 missing ratings
    df.iloc[23:29, 2] = [0.0, 6.0, 7.5, -1.0, 0.5, 5.5]  # 6 out of [1, 5]
    repeats = df.iloc[100:140].copy()  # 40 exact pair repeats with later timestamps
    repeats["timestamp"] += n_rows
    repeats["rating"] = 6 - repeats["rating"]
    return pd.concat([df, repeats.set_axis(np.arange(40) * 3 + 10**6)])


@pytest.fixture(scope="module")
def dirty() -> pd.DataFrame:
    return make_dirty()


def expected_duplicates(df: pd.DataFrame) -> int:
    valid = df.dropna(subset=["user_id", "item_id", "rating"])
    valid = valid[valid["rating"].between(1, 5)]
    return int(valid.duplicated(["user_id", "item_id"]).sum())


@pytest.fixture(scope="module")
def movielens() -> pd.DataFrame:
    """MovieLens-100K ratings from the local cache, or skip (no network here)."""
    try:
        from recfeat_ref.datasets import load_movielens_100k
    except Exception as exc:
        pytest.skip(f"recfeat_ref.datasets.load_movielens_100k unavailable: {exc!r}")
    try:
        data = load_movielens_100k(sources=("cache",), verbose=False)
    except Exception as exc:
        pytest.skip(f"MovieLens-100K not in the local cache: {exc!r}")
    ratings = data if isinstance(data, pd.DataFrame) else getattr(data, "ratings", None)
    if not isinstance(ratings, pd.DataFrame):
        pytest.skip(f"load_movielens_100k returned {type(data).__name__}, no ratings frame found")
    return ratings


# ---------------------------------------------------------------------------
# clean_interactions
# ---------------------------------------------------------------------------


def test_clean_counts_each_rule(dirty):
    before = dirty.copy(deep=True)
    clean, report = clean_interactions(
        dirty, rating_col="rating", rating_range=(1, 5), timestamp_col="timestamp"
    )
    pd.testing.assert_frame_equal(dirty, before)  # input unchanged
    assert report["n_input"] == len(dirty)
    assert report["missing_id"] == 15
    assert report["missing_rating"] == 8
    assert report["missing_timestamp"] == 0
    assert report["out_of_range"] == 6
    assert report["duplicates"] == expected_duplicates(dirty) >= 40
    removed = sum(report[k] for k in ("missing_id", "missing_rating", "missing_timestamp",
                                      "out_of_range", "duplicates"))
    assert report["n_output"] == len(clean) == len(dirty) - removed
    assert not clean.duplicated(["user_id", "item_id"]).any()
    assert clean["rating"].between(1, 5).all() and not clean.isna().any().any()
    # Original labels and order are kept.
    assert dirty.index.get_indexer(clean.index).tolist() == sorted(dirty.index.get_indexer(clean.index))


def test_clean_without_rating_col_only_drops_ids_and_duplicates(dirty):
    clean, report = clean_interactions(dirty)
    assert report["missing_id"] == 15
    assert report["missing_rating"] == report["out_of_range"] == 0
    assert report["duplicates"] == int(dirty.dropna(subset=["user_id", "item_id"])
                                       .duplicated(["user_id", "item_id"]).sum())
    assert len(clean) == report["n_output"]


def test_clean_missing_timestamp_rule():
    d = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [1, 1, 1], "timestamp": [1.0, np.nan, 3.0]})
    clean, report = clean_interactions(d, timestamp_col="timestamp")
    assert report["missing_timestamp"] == 1 and clean.index.tolist() == [0, 2]


def test_clean_each_row_counted_once():
    d = pd.DataFrame({"user_id": [np.nan], "item_id": [1], "rating": [np.nan]})
    d = pd.concat([d, pd.DataFrame({"user_id": [1.0], "item_id": [1], "rating": [3.0]})])
    _, report = clean_interactions(d, rating_col="rating", rating_range=(1, 5))
    assert report["missing_id"] == 1 and report["missing_rating"] == 0


KEEP_CASE = pd.DataFrame(
    {
        "user_id": ["a", "a", "a", "b", "a"],
        "item_id": ["x", "x", "x", "x", "y"],
        "rating": [1, 5, 3, 4, 2],
        "timestamp": [20, 30, 10, 5, 1],
    }
)


@pytest.mark.parametrize(
    "keep, timestamp_col, expected_index, expected_rating",
    [
        ("last", "timestamp", [1, 3, 4], [5, 4, 2]),  # latest time (30) wins
        ("last", None, [2, 3, 4], [3, 4, 2]),  # last row wins
        ("first", "timestamp", [2, 3, 4], [3, 4, 2]),  # earliest time (10) wins
        ("first", None, [0, 3, 4], [1, 4, 2]),  # first row wins
        ("mean", "timestamp", [1, 3, 4], [3.0, 4.0, 2.0]),  # row of "last", mean rating
        ("mean", None, [2, 3, 4], [3.0, 4.0, 2.0]),
    ],
)
def test_clean_keep_rules(keep, timestamp_col, expected_index, expected_rating):
    clean, report = clean_interactions(
        KEEP_CASE, rating_col="rating", timestamp_col=timestamp_col, keep=keep
    )
    assert clean.index.tolist() == expected_index
    assert clean["rating"].tolist() == expected_rating
    assert report["duplicates"] == 2
    if keep == "mean":
        assert clean["rating"].dtype == np.float64


def test_clean_timestamp_ties_broken_by_row_order():
    d = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [2, 2, 2], "rating": [1, 2, 3],
                      "timestamp": [7, 7, 3]})
    last, _ = clean_interactions(d, rating_col="rating", timestamp_col="timestamp", keep="last")
    first, _ = clean_interactions(d, rating_col="rating", timestamp_col="timestamp", keep="first")
    assert last.index.tolist() == [1] and first.index.tolist() == [2]


def test_clean_errors(dirty):
    with pytest.raises(DataValidationError, match="empty"):
        clean_interactions(dirty.iloc[:0])
    with pytest.raises(DataValidationError, match="'score'"):
        clean_interactions(dirty, rating_col="score")
    with pytest.raises(ValueError, match="keep"):
        clean_interactions(dirty, keep="max")
    with pytest.raises(ValueError, match="rating_col"):
        clean_interactions(dirty, keep="mean")
    with pytest.raises(ValueError, match="rating_col"):
        clean_interactions(dirty, rating_range=(1, 5))
    with pytest.raises(ValueError, match="rating_range"):
        clean_interactions(dirty, rating_col="rating", rating_range=(5, 1))
    with pytest.raises(DataValidationError, match="'rating'.*numeric"):
        clean_interactions(dirty.astype({"rating": str}), rating_col="rating", rating_range=(1, 5))


def test_clean_string_ids_with_missing_values():
    d = pd.DataFrame({"user_id": ["u1", None, "u1"], "item_id": ["i1", "i2", "i1"]})
    clean, report = clean_interactions(d)
    assert report == {"n_input": 3, "missing_id": 1, "missing_rating": 0, "missing_timestamp": 0,
                      "out_of_range": 0, "duplicates": 1, "n_output": 1}
    assert clean.index.tolist() == [2]


# ---------------------------------------------------------------------------
# IdEncoder
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def id_data():
    rng = np.random.default_rng(1)
    train = pd.Series(rng.integers(0, 500, 2000) * 7, name="user_id")
    test = pd.Series(rng.integers(0, 600, 500) * 7, name="user_id")  # some unseen ids
    return train, test


def test_id_encoder_matches_label_encoder_plus_one(id_data):
    train, _ = id_data
    enc = IdEncoder().fit(train)
    ref = skp.LabelEncoder().fit(train)
    assert np.array_equal(enc.classes_, ref.classes_)
    assert enc.n_classes_ == len(ref.classes_) + 1
    codes = enc.transform(train)
    assert codes.dtype == np.int64
    assert np.array_equal(codes, ref.transform(train) + 1)
    assert codes.min() == 1 and codes.max() == enc.n_classes_ - 1


def test_id_encoder_unknown_oov(id_data):
    train, test = id_data
    enc = IdEncoder(handle_unknown="oov").fit(train)
    codes = enc.transform(test)
    unseen = ~test.isin(train).to_numpy()
    assert unseen.any()
    assert np.all(codes[unseen] == 0) and np.all(codes[~unseen] >= 1)
    assert codes.max() < enc.n_classes_  # valid rows of an embedding table of n_classes_ rows


def test_id_encoder_unknown_error_names_values(id_data):
    train, _ = id_data
    enc = IdEncoder(handle_unknown="error").fit(train)
    with pytest.raises(DataValidationError, match=r"'user_id'.*not seen during fit.*\[9999"):
        enc.transform(pd.Series([train.iloc[0], 9999, 9999, 12345], name="user_id"))
    with pytest.raises(ValueError, match="handle_unknown"):
        IdEncoder(handle_unknown="ignore").fit(train)


def test_id_encoder_fitted_on_train_only(id_data):
    train, test = id_data
    enc = IdEncoder().fit(train)
    classes = enc.classes_.copy()
    enc.transform(test)
    assert np.array_equal(enc.classes_, classes) and enc.n_classes_ == len(classes) + 1


def test_id_encoder_inverse_round_trip(id_data):
    train, test = id_data
    enc = IdEncoder().fit(train)
    assert np.array_equal(enc.inverse_transform(enc.transform(train)), train.to_numpy())
    back = enc.inverse_transform(enc.transform(test))
    known = test.isin(train).to_numpy()
    assert back.dtype == object
    assert np.all(back[~known] == None)  # noqa: E711 - elementwise comparison
    assert np.array_equal(back[known].astype(np.int64), test.to_numpy()[known])
    with pytest.raises(DataValidationError, match="outside 0.."):
        enc.inverse_transform([1, enc.n_classes_])
    with pytest.raises(DataValidationError, match="integer codes"):
        enc.inverse_transform([1.5])


def test_id_encoder_strings_and_input_unchanged():
    ids = pd.Series(["u10", "u2", "u10", "u7"], name="user_id")
    before = ids.copy()
    enc = IdEncoder()
    codes = enc.fit_transform(ids)
    pd.testing.assert_series_equal(ids, before)
    assert enc.classes_.tolist() == ["u10", "u2", "u7"]  # sorted as strings
    assert codes.tolist() == [1, 2, 1, 3]
    assert enc.transform(np.array(["u7", "zzz"])).tolist() == [3, 0]
    assert enc.inverse_transform([3, 1]).tolist() == ["u7", "u10"]


def test_id_encoder_nan_names_column():
    with pytest.raises(DataValidationError, match="'item_id'.*missing"):
        IdEncoder().fit(pd.Series([1.0, np.nan, 3.0], name="item_id"))
    enc = IdEncoder().fit([1, 2, 3])
    with pytest.raises(DataValidationError, match="'movie'.*missing"):
        enc.transform(pd.Series(["a", None], name="movie"))
    with pytest.raises(DataValidationError, match="missing"):
        enc.transform([1, None])


def test_id_encoder_bad_shapes_and_mixed_types():
    with pytest.raises(DataValidationError, match="1-D"):
        IdEncoder().fit(np.zeros((3, 2)))
    with pytest.raises(DataValidationError, match="mixes"):
        IdEncoder().fit(pd.Series([1, "a"], dtype=object, name="user_id"))
    with pytest.raises(DataValidationError, match="empty"):
        IdEncoder().fit([])


def test_not_fitted_errors_are_both_kinds():
    for est, call in [
        (IdEncoder(), lambda e: e.transform([1])),
        (IdEncoder(), lambda e: e.inverse_transform([1])),
        (StandardScaler(), lambda e: e.transform([[1.0]])),
        (MinMaxScaler(), lambda e: e.inverse_transform([[1.0]])),
        (OneHotEncoder(), lambda e: e.transform([["a"]])),
        (OneHotEncoder(), lambda e: e.get_feature_names_out()),
    ]:
        with pytest.raises(NotFittedError, match="is not fitted yet") as info:
            call(est)
        assert isinstance(info.value, DataValidationError)
        assert isinstance(info.value, SklearnNotFittedError)


def test_id_encoder_codes_index_an_embedding_table(id_data):
    torch = pytest.importorskip("torch")
    train, test = id_data
    enc = IdEncoder().fit(train)
    table = torch.nn.Embedding(enc.n_classes_, 4)
    out = table(torch.as_tensor(enc.transform(test)))
    assert out.shape == (len(test), 4)


# ---------------------------------------------------------------------------
# Scalers
# ---------------------------------------------------------------------------


def random_table(n=200, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(3.0, 2.0, size=(n, 5)) * [1, 10, 0.01, 1e3, 1]
    X[:, 2] = 0.1  # constant column whose mean is not exact in floating point
    X[:, 4] = -7.0  # another constant column
    return X


@pytest.mark.parametrize(
    "ours, theirs, attrs",
    [
        (StandardScaler(), skp.StandardScaler(), ["mean_", "var_", "scale_", "n_samples_seen_"]),
        (StandardScaler(with_mean=False), skp.StandardScaler(with_mean=False), ["var_", "scale_"]),
        (StandardScaler(with_std=False), skp.StandardScaler(with_std=False), ["mean_"]),
        (MinMaxScaler(), skp.MinMaxScaler(), ["data_min_", "data_max_", "data_range_", "scale_", "min_"]),
        (MinMaxScaler(feature_range=(-1, 1)), skp.MinMaxScaler(feature_range=(-1, 1)), ["scale_", "min_"]),
    ],
)
def test_scalers_equal_sklearn(ours, theirs, attrs):
    X_train, X_test = random_table(seed=0), random_table(n=50, seed=1) * 1.5
    ours, theirs = clone(ours).fit(X_train), clone(theirs).fit(X_train)
    for attr in attrs:
        np.testing.assert_allclose(getattr(ours, attr), getattr(theirs, attr), rtol=1e-12, atol=1e-12)
    for X in (X_train, X_test):
        np.testing.assert_allclose(ours.transform(X), theirs.transform(X), rtol=1e-10, atol=1e-10)
    Z = theirs.transform(X_test)
    np.testing.assert_allclose(ours.inverse_transform(Z), theirs.inverse_transform(Z), rtol=1e-10)


def test_standard_scaler_formula_and_constant_columns():
    X = random_table()
    Z = StandardScaler().fit_transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(Z[:, [0, 1, 3]].std(axis=0), 1, rtol=1e-12)  # ddof=0
    np.testing.assert_allclose(Z[:, [2, 4]], 0, atol=1e-12)  # constant -> 0, not NaN
    assert np.all(StandardScaler().fit(X).scale_[[2, 4]] == 1)


def test_min_max_scaler_range_clip_and_constant():
    X = random_table()
    Z = MinMaxScaler(feature_range=(-1, 1)).fit_transform(X)
    np.testing.assert_allclose(Z[:, [0, 1, 3]].min(axis=0), -1)
    np.testing.assert_allclose(Z[:, [0, 1, 3]].max(axis=0), 1)
    assert np.all(Z[:, [2, 4]] == -1)  # constant -> lower end
    clipped = MinMaxScaler(clip=True).fit(X).transform(X * 3)
    assert clipped.min() >= 0 and clipped.max() <= 1
    ref = skp.MinMaxScaler(clip=True).fit(X).transform(X * 3)
    np.testing.assert_allclose(clipped, ref)
    with pytest.raises(ValueError, match="feature_range"):
        MinMaxScaler(feature_range=(1, 1)).fit(X)


@pytest.mark.parametrize("Scaler", [StandardScaler, MinMaxScaler])
def test_scalers_fit_on_train_only_and_input_unchanged(Scaler):
    X_train, X_test = random_table(seed=0), random_table(seed=1) + 100
    train_copy, test_copy = X_train.copy(), X_test.copy()
    scaler = Scaler().fit(X_train)
    learned = {k: np.copy(v) for k, v in vars(scaler).items() if k.endswith("_") and v is not None}
    scaler.transform(X_test)
    scaler.inverse_transform(X_test)
    for k, v in learned.items():
        assert np.array_equal(getattr(scaler, k), v), k
    assert np.array_equal(X_train, train_copy) and np.array_equal(X_test, test_copy)


@pytest.mark.parametrize("Scaler, Ref", [(StandardScaler, skp.StandardScaler), (MinMaxScaler, skp.MinMaxScaler)])
def test_scalers_dataframe_names_and_errors(Scaler, Ref):
    X = pd.DataFrame(random_table()[:, :3], columns=["age", "n_ratings", "const"])
    before = X.copy()
    ours, theirs = Scaler().fit(X), Ref().fit(X)
    pd.testing.assert_frame_equal(X, before)
    assert ours.get_feature_names_out().tolist() == theirs.get_feature_names_out().tolist()
    assert ours.feature_names_in_.tolist() == ["age", "n_ratings", "const"]
    assert ours.n_features_in_ == 3
    assert Scaler().fit(X.to_numpy()).get_feature_names_out().tolist() == ["x0", "x1", "x2"]
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X))
    # Errors name the column and the fix.
    with pytest.raises(DataValidationError, match="'n_ratings'.*missing"):
        ours.transform(X.assign(n_ratings=np.where(X.index == 4, np.nan, X["n_ratings"])))
    with pytest.raises(DataValidationError, match="differ from those seen in fit"):
        ours.transform(X[["n_ratings", "age", "const"]])
    with pytest.raises(DataValidationError, match="2 feature"):
        ours.transform(X[["age", "n_ratings"]])
    with pytest.raises(DataValidationError, match="'genre'.*not numeric"):
        Scaler().fit(X.assign(genre="Drama"))
    with pytest.raises(DataValidationError, match="reshape"):
        Scaler().fit(np.arange(5.0))


def test_scalers_work_in_sklearn_pipeline():
    X = random_table()
    ours = make_pipeline(StandardScaler(), MinMaxScaler()).fit(X)
    ref = make_pipeline(skp.StandardScaler(), skp.MinMaxScaler()).fit(X)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), atol=1e-12)
    assert "with_mean" in StandardScaler().get_params()


# ---------------------------------------------------------------------------
# OneHotEncoder
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def categorical():
    rng = np.random.default_rng(2)
    genres = np.array(["Action", "Comedy", "Drama", "Horror", "Sci-Fi"])
    train = pd.DataFrame(
        {
            "genre": rng.choice(genres[:4], 300),
            "occupation": rng.choice(["artist", "doctor", "student"], 300),
            "age_bucket": rng.integers(1, 7, 300),
        }
    )
    test = pd.DataFrame(
        {
            "genre": rng.choice(genres, 100),  # "Sci-Fi" unseen in train
            "occupation": rng.choice(["artist", "doctor", "student"], 100),
            "age_bucket": rng.integers(1, 8, 100),  # 7 unseen in train
        }
    )
    return train, test


@pytest.mark.parametrize("sparse_output", [False, True])
def test_one_hot_equals_sklearn(categorical, sparse_output):
    train, test = categorical
    ours = OneHotEncoder(handle_unknown="ignore", sparse_output=sparse_output).fit(train)
    ref = skp.OneHotEncoder(handle_unknown="ignore", sparse_output=sparse_output, dtype=np.float32).fit(train)
    assert len(ours.categories_) == len(ref.categories_) == 3
    for a, b in zip(ours.categories_, ref.categories_):
        assert a.tolist() == b.tolist()
    assert ours.get_feature_names_out().tolist() == ref.get_feature_names_out().tolist()
    for X in (train, test):
        got, want = ours.transform(X), ref.transform(X)
        assert sp.issparse(got) == sparse_output
        if sparse_output:
            got, want = got.toarray(), want.toarray()
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)


def test_one_hot_numpy_input_and_feature_names():
    X = np.array([["a", 1], ["b", 2], ["a", 3]], dtype=object)
    ours = OneHotEncoder().fit(X)
    ref = skp.OneHotEncoder().fit(X)
    assert ours.get_feature_names_out().tolist() == ref.get_feature_names_out().tolist()
    assert ours.get_feature_names_out(["letter", "n"]).tolist()[:2] == ["letter_a", "letter_b"]
    np.testing.assert_array_equal(ours.transform(X), ref.transform(X).toarray())


def test_one_hot_unknown_modes(categorical):
    train, test = categorical
    enc = OneHotEncoder(handle_unknown="error").fit(train)
    with pytest.raises(DataValidationError, match=r"unknown categories \['Sci-Fi'\] in column 'genre'"):
        enc.transform(test)
    ignore = OneHotEncoder(handle_unknown="ignore").fit(train)
    out = ignore.transform(test)
    unseen = (test["genre"] == "Sci-Fi").to_numpy()
    genre_block = out[:, : len(ignore.categories_[0])]
    assert np.all(genre_block[unseen] == 0) and np.all(genre_block[~unseen].sum(axis=1) == 1)
    with pytest.raises(ValueError, match="handle_unknown"):
        OneHotEncoder(handle_unknown="oov").fit(train)


def test_one_hot_fit_on_train_only_and_input_unchanged(categorical):
    train, test = categorical
    before_train, before_test = train.copy(), test.copy()
    enc = OneHotEncoder(handle_unknown="ignore").fit(train)
    cats = [c.copy() for c in enc.categories_]
    enc.transform(test)
    assert all(np.array_equal(a, b) for a, b in zip(enc.categories_, cats))
    pd.testing.assert_frame_equal(train, before_train)
    pd.testing.assert_frame_equal(test, before_test)


def test_one_hot_inverse_round_trip(categorical):
    train, test = categorical
    enc = OneHotEncoder(handle_unknown="ignore", sparse_output=True).fit(train)
    back = enc.inverse_transform(enc.transform(train))
    assert back.dtype == object
    np.testing.assert_array_equal(back, train.to_numpy(dtype=object))
    back_test = enc.inverse_transform(enc.transform(test))
    unseen = (test["genre"] == "Sci-Fi").to_numpy()
    assert all(v is None for v in back_test[unseen, 0])
    np.testing.assert_array_equal(back_test[~unseen, 1], test["occupation"].to_numpy()[~unseen])
    with pytest.raises(DataValidationError, match="not one-hot"):
        enc.inverse_transform(np.full((1, enc.transform(train).shape[1]), 2.0))


def test_one_hot_nan_names_column(categorical):
    train, _ = categorical
    bad = train.assign(occupation=train["occupation"].where(train.index != 3))
    with pytest.raises(DataValidationError, match="'occupation'.*missing"):
        OneHotEncoder().fit(bad)
    enc = OneHotEncoder().fit(train)
    with pytest.raises(DataValidationError, match="'occupation'.*missing"):
        enc.transform(bad)


# ---------------------------------------------------------------------------
# interactions_to_csr
# ---------------------------------------------------------------------------


def test_interactions_to_csr_binary_and_values():
    df = pd.DataFrame({"user_id": [0, 0, 2, 2], "item_id": [1, 3, 0, 0], "rating": [4.0, 5.0, 3.0, 1.0]})
    R = interactions_to_csr(df, n_users=3, n_items=4)
    assert isinstance(R, sp.csr_matrix) and R.shape == (3, 4) and R.dtype == np.float32
    np.testing.assert_array_equal(R.toarray(), [[0, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]])  # repeat -> 1
    with pytest.raises(DataValidationError, match="repeat"):
        interactions_to_csr(df, 3, 4, value_col="rating")
    V = interactions_to_csr(df.iloc[:3], 3, 4, value_col="rating")
    assert V[0, 3] == 5.0 and V[2, 0] == 3.0 and V.nnz == 3


def test_interactions_to_csr_errors_and_encoder_codes():
    df = pd.DataFrame({"user_id": [0, 5], "item_id": [1, 2]})
    with pytest.raises(DataValidationError, match="'user_id'.*outside 0..2"):
        interactions_to_csr(df, n_users=3, n_items=4)
    with pytest.raises(DataValidationError, match="'user_id'.*IdEncoder"):
        interactions_to_csr(df.astype({"user_id": str}), n_users=9, n_items=4)
    with pytest.raises(ValueError, match="n_items"):
        interactions_to_csr(df, n_users=9, n_items=0)
    # The intended use: IdEncoder codes, n_classes_ rows (row 0 = OOV stays empty).
    raw = pd.DataFrame({"user_id": ["u2", "u9", "u2"], "item_id": ["m1", "m1", "m3"]})
    ue, ie = IdEncoder().fit(raw["user_id"]), IdEncoder().fit(raw["item_id"])
    coded = pd.DataFrame({"user_id": ue.transform(raw["user_id"]), "item_id": ie.transform(raw["item_id"])})
    R = interactions_to_csr(coded, ue.n_classes_, ie.n_classes_)
    assert R.shape == (3, 3) and R.nnz == 3 and R[0].nnz == 0


# ---------------------------------------------------------------------------
# MovieLens-100K (skipped unless the cache holds it)
# ---------------------------------------------------------------------------


def test_movielens_pipeline(movielens):
    ml = movielens
    before = ml.copy(deep=True)
    clean, report = clean_interactions(ml, rating_col="rating", rating_range=(1, 5),
                                       timestamp_col="timestamp")
    assert report["n_output"] == len(ml) and report["duplicates"] == 0  # ML-100K is clean
    enc = IdEncoder().fit(clean["user_id"])
    assert enc.n_classes_ == clean["user_id"].nunique() + 1
    codes = enc.transform(clean["user_id"])
    items = IdEncoder().fit(clean["item_id"])
    R = interactions_to_csr(
        pd.DataFrame({"u": codes, "i": items.transform(clean["item_id"])}),
        enc.n_classes_, items.n_classes_, user_col="u", item_col="i",
    )
    assert R.nnz == len(clean)
    pd.testing.assert_frame_equal(ml, before)


# ---------------------------------------------------------------------------
# the input contract: one kind of id per encoder (issue 15)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ids, kinds",
    [
        ([1, "a"], r"number \(e\.g\. 1 at position 0\), str \(e\.g\. 'a' at position 1\)"),  # the example
        ((1, "a"), "number .* str"),
        (np.array([1, "a"], dtype=object), "number .* str"),
        (pd.Series([1, "a"], dtype=object, name="user_id"), "number .* str"),
        ([True, 1], r"bool \(e\.g\. True at position 0\), number"),
        (["a", b"a"], "str .* bytes"),
        ([1.5, pd.Timestamp("2020-01-01")], "number .* datetime"),
    ],
)
def test_id_encoder_fit_refuses_mixed_id_types_even_in_a_list(ids, kinds):
    with pytest.raises(DataValidationError, match=f"IdEncoder.fit: .*mixes id types: {kinds}") as info:
        IdEncoder().fit(ids)
    assert ".astype(str)" in str(info.value)
    if isinstance(ids, pd.Series):
        assert "column 'user_id'" in str(info.value)


def test_id_encoder_accepts_one_kind_and_treats_ints_and_floats_as_numbers():
    assert IdEncoder().fit([3, 1.0, np.int64(2)]).classes_.tolist() == [1.0, 2.0, 3.0]
    assert IdEncoder().fit(pd.Series(["b", "a"], dtype="category")).classes_.tolist() == ["a", "b"]
    enc = IdEncoder().fit(pd.Series([1, 2, 3], dtype="Int64"))
    assert enc.transform([1.0, 3, 9]).tolist() == [1, 3, 0]
    assert IdEncoder().fit(["x", "y"]).transform(np.array(["y", "z"])).tolist() == [2, 0]


def test_id_encoder_transform_refuses_another_kind_than_fit():
    enc = IdEncoder().fit(pd.Series([1, 2, 3], name="user_id"))
    # Text ids against an int vocabulary would all silently map to the OOV code 0.
    with pytest.raises(DataValidationError, match=r"column 'user_id' holds str ids, but the encoder was "
                                                  r"fitted on number ids.*astype\(int\)"):
        enc.transform(pd.Series(["1", "2"], name="user_id"))
    with pytest.raises(DataValidationError, match="mixes id types"):
        enc.transform([1, "2"])
    with pytest.raises(DataValidationError, match="holds number ids, but the encoder was fitted on str"):
        IdEncoder().fit(["a"]).transform([1])
    assert enc.transform(np.array([], dtype=np.int64)).tolist() == []


def test_one_hot_encoder_refuses_mixed_kinds_in_a_column_and_a_kind_change():
    with pytest.raises(DataValidationError, match=r"OneHotEncoder.fit: column 'x0' mixes value types: number"):
        OneHotEncoder().fit([[1], ["a"]])  # numpy would have made ['1', 'a'] of it
    with pytest.raises(DataValidationError, match="column 'c' mixes value types"):
        OneHotEncoder().fit(pd.DataFrame({"c": [1, "a"]}, dtype=object))
    enc = OneHotEncoder(handle_unknown="ignore").fit(pd.DataFrame({"c": [1, 2]}))
    with pytest.raises(DataValidationError, match="column 'c' holds str values, but the encoder was fitted on number"):
        enc.transform(pd.DataFrame({"c": ["1"]}))
    X = np.array([["a", 1], ["b", 2]], dtype=object)  # different kinds in different columns: fine
    assert OneHotEncoder().fit(X).transform(X).shape == (2, 4)
