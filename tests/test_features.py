"""Tests for recfeat_ref.features.

Each transformer is checked equal to its scikit-learn counterpart where one exists
(RobustScaler, FunctionTransformer(log1p), KBinsDiscretizer, OrdinalEncoder,
FeatureHasher and murmurhash3_32, TargetEncoder on the same folds), otherwise against a
brute-force loop; then bad input (unknown categories, NaN and all-NaN columns,
constant columns, wrong dtypes, empty frames) and leakage: an encoder fitted on
training rows gives the same output for a test row whatever the other test rows hold.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn.preprocessing as skp
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction import FeatureHasher
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.utils import murmurhash3_32 as sk_murmur

from recfeat_ref._validation import DataValidationError
from recfeat_ref.features import (
    HashingEncoder,
    Log1pTransformer,
    NotFittedError,
    OrdinalEncoder,
    QuantileBucketizer,
    RobustScaler,
    TargetEncoder,
    TemporalFeatures,
    UserItemAggregates,
    fold_indices,
    murmurhash3_32,
)

GENRES = ("Action", "Comedy", "Drama", "Horror", "War")


def make_ctr(n=600, n_users=40, n_items=60, seed=0) -> pd.DataFrame:
    """A small CTR-like frame: ids, side features, genres lists, ratings, labels, time."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n)
    items = rng.integers(0, n_items, n)
    taste = rng.normal(size=n_users)
    quality = rng.normal(size=n_items)
    rating = np.clip(np.round(3.5 + taste[users] + quality[items] + rng.normal(0, 0.7, n)), 1, 5)
    item_genres = [sorted(rng.choice(GENRES, size=rng.integers(1, 3), replace=False).tolist()) for _ in range(n_items)]
    return pd.DataFrame(
        {
            "user_id": users,
            "item_id": items,
            "rating": rating,
            "label": (rating >= 4).astype(np.int64),
            "gender": np.where(users % 2 == 0, "F", "M"),
            "genres": [item_genres[i] for i in items],
            "timestamp": 880_000_000 + rng.integers(0, 200 * 86_400, n),
            "x": rng.lognormal(size=n),
        }
    )


@pytest.fixture(scope="module")
def ctr():
    df = make_ctr()
    return df.iloc[:450].copy(), df.iloc[450:].copy()


ALL = [
    RobustScaler(),
    Log1pTransformer(),
    QuantileBucketizer(),
    OrdinalEncoder(),
    HashingEncoder(n_features=64),
    TargetEncoder(),
]


# ---------------------------------------------------------------------------
# contract shared by all
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("est", ALL, ids=lambda e: type(e).__name__)
def test_contract_not_fitted_clone_and_no_mutation(est):
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [4.0, 3.0, 3.0, 1.0]})
    y = np.array([0, 1, 0, 1])
    with pytest.raises(NotFittedError):
        clone(est).transform(X)
    before = X.copy()
    out = clone(est).fit(X, y).transform(X)
    pd.testing.assert_frame_equal(X, before)
    names = clone(est).fit(X, y).get_feature_names_out()
    assert out.shape[1] == len(names)


@pytest.mark.parametrize("est", ALL, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("case", ["nan", "all_nan", "empty"])
def test_bad_input_names_the_column(est, case):
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [4.0, np.nan, 3.0, 1.0]})
    if case == "all_nan":
        X["b"] = np.nan
    if case == "empty":
        X = X.iloc[:0]
    with pytest.raises(DataValidationError, match="'b'" if case != "empty" else "empty"):
        clone(est).fit(X, np.arange(len(X)) % 2)


@pytest.mark.parametrize("est", [RobustScaler(), Log1pTransformer(), QuantileBucketizer()], ids=lambda e: type(e).__name__)
def test_numeric_transformers_reject_strings_naming_the_column(est):
    X = pd.DataFrame({"a": [1.0, 2.0], "genre": ["Drama", "War"]})
    with pytest.raises(DataValidationError, match="'genre'.*not numeric"):
        clone(est).fit(X)


# ---------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------


def test_robust_scaler_equals_sklearn_including_constant_columns():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.lognormal(size=300), rng.normal(size=300), np.full(300, 7.0),
                         np.r_[np.zeros(290), np.arange(10.0)]])  # last: IQR 0 but not constant
    X_test = rng.normal(size=(50, 4)) * 3
    ours = RobustScaler().fit(X)
    ref = skp.RobustScaler().fit(X)
    np.testing.assert_allclose(ours.transform(X_test), ref.transform(X_test), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.scale_, ref.scale_)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(X_test)), X_test, atol=1e-12)
    ours2 = RobustScaler(quantile_range=(10, 90)).fit(X)
    np.testing.assert_allclose(ours2.transform(X_test), skp.RobustScaler(quantile_range=(10, 90)).fit(X).transform(X_test))
    with pytest.raises(ValueError, match="quantile_range"):
        RobustScaler(quantile_range=(75, 25)).fit(X)


def test_robust_scaler_ignores_an_outlier_that_moves_standard_scaling():
    X = np.r_[np.arange(1.0, 100.0), [1e6]].reshape(-1, 1)
    z = RobustScaler().fit(X).transform([[50.0]])
    assert abs(z[0, 0]) < 0.05  # the median, not pulled towards 1e6


def test_log1p_equals_function_transformer_and_rejects_negatives():
    X = pd.DataFrame({"count": [0.0, 1.0, 9.0, 999.0], "other": [2.0, 3.0, 0.5, 0.0]})
    ref = skp.FunctionTransformer(np.log1p).fit_transform(X.to_numpy())
    np.testing.assert_allclose(Log1pTransformer().fit_transform(X), ref)
    with pytest.raises(DataValidationError, match="'other'.*negative"):
        Log1pTransformer().fit(X.assign(other=[-1.0, 0.0, 1.0, 2.0]))
    signed = Log1pTransformer(signed=True).fit(X)
    Z = signed.transform(X.assign(other=[-1.0, 0.0, 1.0, 2.0]))
    np.testing.assert_allclose(Z[:, 1], [-np.log(2), 0, np.log(2), np.log(3)])
    np.testing.assert_allclose(signed.inverse_transform(Z)[:, 1], [-1.0, 0.0, 1.0, 2.0])


def test_log1p_reduces_skew_of_a_long_tail():
    x = np.random.default_rng(0).pareto(1.5, 5000).reshape(-1, 1)
    skew = lambda v: pd.Series(v.ravel()).skew()
    assert skew(Log1pTransformer().fit_transform(x)) < skew(x) / 5


def test_quantile_bucketizer_equals_kbins_discretizer():
    rng = np.random.default_rng(2)
    X = np.column_stack([rng.lognormal(size=500), rng.normal(size=500)])
    X_test = np.vstack([rng.normal(size=(40, 2)) * 4, [[-100, -100], [100, 100]]])
    ref = skp.KBinsDiscretizer(n_bins=7, encode="ordinal", strategy="quantile", quantile_method="linear").fit(X)
    ours = QuantileBucketizer(n_bins=7).fit(X)
    np.testing.assert_array_equal(ours.transform(X_test), ref.transform(X_test).astype(np.int64))
    for a, b in zip(ours.bin_edges_, ref.bin_edges_):
        np.testing.assert_allclose(a, b)
    codes = ours.transform(X)
    assert np.all(np.bincount(codes[:, 0]) >= 500 // 7 - 2)  # balanced bins
    assert ours.transform([[-100.0, -100.0]]).tolist() == [[0, 0]]
    assert ours.transform([[100.0, 100.0]]).tolist() == [[6, 6]]
    assert ours.get_feature_names_out().tolist() == ["x0_bin", "x1_bin"]


def test_quantile_bucketizer_ties_and_constant_columns_like_sklearn():
    X = np.column_stack([np.r_[np.zeros(80), np.arange(20.0)], np.arange(100.0)])
    ours = QuantileBucketizer(n_bins=5).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns that tied bins were removed
        ref = skp.KBinsDiscretizer(n_bins=5, encode="ordinal", strategy="quantile", quantile_method="linear").fit(X)
    np.testing.assert_array_equal(ours.transform(X), ref.transform(X).astype(np.int64))
    assert ours.n_bins_.tolist() == ref.n_bins_.tolist() == [1, 5]
    const = QuantileBucketizer().fit(np.full((10, 1), 3.0))
    assert const.n_bins_.tolist() == [1]
    assert const.transform([[-5.0], [3.0], [99.0]]).ravel().tolist() == [0, 0, 0]


# ---------------------------------------------------------------------------
# categories
# ---------------------------------------------------------------------------


def test_ordinal_encoder_equals_sklearn_plus_one(ctr):
    train, test = ctr
    cols = ["gender", "item_id"]
    test = test.assign(gender=np.where(np.arange(len(test)) % 7 == 0, "unknown", test["gender"]))
    ours = OrdinalEncoder().fit(train[cols])
    ref = skp.OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1).fit(train[cols])
    np.testing.assert_array_equal(ours.transform(test[cols]), ref.transform(test[cols]).astype(np.int64) + 1)
    assert ours.n_categories_.tolist() == [3, train["item_id"].nunique() + 1]
    assert ours.get_feature_names_out().tolist() == cols
    assert (ours.transform(test[cols])[:, 0] == 0).sum() == (test["gender"] == "unknown").sum()


def test_ordinal_encoder_unknown_error_names_column_and_min_count():
    enc = OrdinalEncoder(handle_unknown="error").fit(pd.DataFrame({"occupation": ["a", "b"]}))
    with pytest.raises(DataValidationError, match=r"\['pilot'\] in column 'occupation'"):
        enc.transform(pd.DataFrame({"occupation": ["a", "pilot"]}))
    rare = OrdinalEncoder(min_count=2).fit(pd.DataFrame({"c": ["a", "a", "b", "c", "c"]}))
    assert rare.transform(pd.DataFrame({"c": ["a", "b", "c", "z"]})).ravel().tolist() == [1, 0, 2, 0]
    with pytest.raises(DataValidationError, match="'c' mixes value types"):
        OrdinalEncoder().fit(pd.DataFrame({"c": ["a", 1]}, dtype=object))


def test_murmurhash_equals_sklearn():
    rng = np.random.default_rng(3)
    keys = ["", "a", "ab", "abc", "abcd", "user_id=17", "genres=Children's", "é日本語", "x" * 101]
    keys += ["".join(rng.choice(list("abcdefgh=&|0123"), size=k)) for k in rng.integers(0, 40, 200)]
    for key in keys:
        for seed in (0, 42):
            assert murmurhash3_32(key, seed) == sk_murmur(key, seed=seed), key


def test_hashing_encoder_equals_feature_hasher_with_lists_and_crosses(ctr):
    train, test = ctr
    cols = ["user_id", "gender", "genres"]
    crosses = [("gender", "genres"), ("user_id", "gender", "genres")]
    enc = HashingEncoder(n_features=2**10, crosses=crosses).fit(train[cols])

    def tokens(row):  # brute force, row by row
        per = {c: [f"{c}={v}" for v in (row[c] if isinstance(row[c], list) else [row[c]])] for c in cols}
        out = [t for c in cols for t in per[c]]
        for cross in crosses:
            combos = per[cross[0]]
            for c in cross[1:]:
                combos = [f"{a}&{b}" for a in combos for b in per[c]]
            out += combos
        return out

    raw = [tokens(r) for _, r in test[cols].iterrows()]
    ref = FeatureHasher(n_features=2**10, input_type="string").transform(raw)
    np.testing.assert_array_equal(enc.transform(test[cols]).toarray(), ref.toarray())
    only = HashingEncoder(n_features=2**10, crosses=crosses, keep_columns=False).fit(train[cols])
    raw_crosses = [[t for t in r if "&" in t] for r in raw]
    ref_c = FeatureHasher(n_features=2**10, input_type="string").transform(raw_crosses)
    np.testing.assert_array_equal(only.transform(test[cols]).toarray(), ref_c.toarray())
    unsigned = HashingEncoder(n_features=2**10, alternate_sign=False).fit(train[cols])
    ref_u = FeatureHasher(n_features=2**10, input_type="string", alternate_sign=False)
    raw_plain = [[f"{c}={v}" for c in cols for v in (r[c] if isinstance(r[c], list) else [r[c]])]
                 for _, r in test[cols].iterrows()]
    np.testing.assert_array_equal(unsigned.transform(test[cols]).toarray(), ref_u.transform(raw_plain).toarray())


def test_hashing_encoder_index_output_and_unseen_values():
    X = pd.DataFrame({"user_id": [1, 2, 3], "gender": ["F", "M", "F"]})
    enc = HashingEncoder(n_features=1000, output="index").fit(X)
    out = enc.transform(pd.DataFrame({"user_id": [3, 99999], "gender": ["F", "X"]}))
    expected = [[abs(murmurhash3_32(f"user_id={u}")) % 1000, abs(murmurhash3_32(f"gender={g}")) % 1000]
                for u, g in ((3, "F"), (99999, "X"))]
    assert out.tolist() == expected
    assert enc.get_feature_names_out().tolist() == ["user_id_hash", "gender_hash"]
    with pytest.raises(DataValidationError, match="'genres' holds lists"):
        HashingEncoder(output="index").fit_transform(pd.DataFrame({"genres": [["a"], ["b"]]}))
    with pytest.raises(DataValidationError, match="missing column"):
        HashingEncoder(crosses=[("user_id", "age")]).fit(X)


def _brute_te(x_train, y_train, x_new, m):
    prior = np.mean(y_train)
    out = []
    for v in x_new:
        ys = [t for c, t in zip(x_train, y_train) if c == v]
        out.append((sum(ys) + m * prior) / (len(ys) + m))
    return np.array(out)


def test_target_encoder_transform_is_the_smoothed_mean(ctr):
    train, test = ctr
    te = TargetEncoder(smoothing=3.0).fit(train[["item_id", "gender"]], train["label"])
    out = te.transform(test[["item_id", "gender"]])
    for j, col in enumerate(["item_id", "gender"]):
        np.testing.assert_allclose(out[:, j], _brute_te(train[col], train["label"], test[col], 3.0))
    unseen = te.transform(pd.DataFrame({"item_id": [10**6], "gender": ["?"]}))
    np.testing.assert_allclose(unseen, [[train["label"].mean()] * 2])
    assert te.get_feature_names_out().tolist() == ["item_id_te", "gender_te"]


@pytest.mark.parametrize("target", ["binary", "continuous"])
def test_target_encoder_out_of_fold_equals_sklearn_on_the_same_folds(ctr, target):
    train, _ = ctr
    X = train[["item_id", "user_id"]]
    y = train["label"] if target == "binary" else train["rating"]
    splitter = StratifiedKFold if target == "binary" else KFold
    folds = splitter(5, shuffle=True, random_state=0)
    ours = TargetEncoder(smoothing=4.0, cv=folds).fit_transform(X, y)
    ref = skp.TargetEncoder(smooth=4.0, cv=folds, target_type=target).fit_transform(X, y)
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


def test_target_encoder_out_of_fold_equals_brute_force_loop(ctr):
    train, _ = ctr
    x, y = train["item_id"].to_numpy(), train["label"].to_numpy()
    ours = TargetEncoder(smoothing=2.0, cv=4, seed=5).fit_transform(train[["item_id"]], y).ravel()
    expected = np.empty(len(x))
    for rest, held in fold_indices(len(x), 4, seed=5):
        expected[held] = _brute_te(x[rest], y[rest], x[held], 2.0)
    np.testing.assert_allclose(ours, expected)
    in_sample = TargetEncoder(smoothing=2.0).fit(train[["item_id"]], y).transform(train[["item_id"]]).ravel()
    assert not np.allclose(ours, in_sample)  # fit_transform is out-of-fold on purpose
    # the in-sample encoding correlates more with the label: that is the leak
    assert np.corrcoef(in_sample, y)[0, 1] > np.corrcoef(ours, y)[0, 1]


def test_target_encoder_bad_target_and_constant_column():
    X = pd.DataFrame({"c": ["a", "b", "a", "b"]})
    with pytest.raises(DataValidationError, match="needs the target"):
        TargetEncoder().fit(X)
    with pytest.raises(DataValidationError, match="expected \\(4,\\)"):
        TargetEncoder().fit(X, [1, 0])
    with pytest.raises(DataValidationError, match="NaN"):
        TargetEncoder().fit(X, [1, 0, np.nan, 1])
    with pytest.raises(DataValidationError, match="numeric"):
        TargetEncoder().fit(X, ["yes", "no", "yes", "no"])
    const = TargetEncoder(smoothing=1.0).fit(pd.DataFrame({"c": ["k"] * 4}), [1, 0, 1, 1])
    np.testing.assert_allclose(const.transform(pd.DataFrame({"c": ["k", "z"]})).ravel(), [0.75, 0.75])
    with pytest.raises(ValueError, match="smoothing"):
        TargetEncoder(smoothing=-1).fit(X, [1, 0, 1, 0])
    with pytest.raises(DataValidationError, match="folds"):
        TargetEncoder(cv=5).fit_transform(X, [1, 0, 1, 0])


# ---------------------------------------------------------------------------
# leakage: fitted on train, a test row's output ignores every other test row
# ---------------------------------------------------------------------------


def _perturbed(test: pd.DataFrame, seed=1) -> pd.DataFrame:
    """The test rows with other labels/ratings, and extra rows of unseen users/items appended."""
    rng = np.random.default_rng(seed)
    other = test.assign(rating=rng.integers(1, 6, len(test)).astype(float), label=rng.integers(0, 2, len(test)))
    extra = make_ctr(n=100, seed=9).assign(user_id=lambda d: d["user_id"] + 1000, item_id=lambda d: d["item_id"] + 1000)
    return pd.concat([other, extra], ignore_index=True)


@pytest.mark.parametrize(
    "make, cols",
    [
        (lambda: TargetEncoder(), ["user_id", "item_id", "gender"]),
        (lambda: UserItemAggregates(), None),
        (lambda: TemporalFeatures(), None),
    ],
    ids=["TargetEncoder", "UserItemAggregates", "TemporalFeatures"],
)
def test_fitted_on_train_output_does_not_depend_on_test_rows(ctr, make, cols):
    train, test = ctr
    pick = (lambda d: d[cols]) if cols else (lambda d: d)
    est = make()
    est.fit(pick(train), train["label"]) if cols else est.fit(train)
    a = est.transform(pick(test))
    b = est.transform(pick(_perturbed(test)))[: len(test)]
    one_by_one = np.vstack([est.transform(pick(test.iloc[[i]])) for i in range(0, len(test), 30)])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[::30], one_by_one)


def test_fit_ignores_rows_it_is_not_given(ctr):
    """Fitting on train and on train + test must differ (else the test above proves nothing)."""
    train, test = ctr
    a = UserItemAggregates().fit(train).transform(test)
    b = UserItemAggregates().fit(pd.concat([train, test])).transform(test)
    assert not np.allclose(a, b)


# ---------------------------------------------------------------------------
# temporal features and aggregates
# ---------------------------------------------------------------------------


def test_temporal_features_brute_force(ctr):
    train, test = ctr
    tf = TemporalFeatures(utc_offset_hours=-5).fit(train)
    new_user = pd.DataFrame({"user_id": [10**6], "timestamp": [train["timestamp"].max() + 86_400]})
    early = pd.DataFrame({"user_id": [train["user_id"].iloc[0]], "timestamp": [0]})
    rows = pd.concat([test[["user_id", "timestamp"]], new_user, early], ignore_index=True)
    out = tf.transform(rows)
    first = train.groupby("user_id")["timestamp"].min()
    t_ref = train["timestamp"].max()
    for k, (u, t) in enumerate(zip(rows["user_id"], rows["timestamp"])):
        local = pd.Timestamp(int(t) - 5 * 3600, unit="s")
        tenure = max(0, t - first[u]) / 86_400 if u in first.index else 0.0
        assert out[k].tolist() == pytest.approx([local.hour, local.day_of_week, (t_ref - t) / 86_400, tenure])
    assert out[-2, 2] == pytest.approx(-1.0)  # after the training period: negative recency
    assert out[-1, 3] == 0.0  # earlier than the user's first training row
    assert tf.get_feature_names_out().tolist() == ["hour", "weekday", "recency_days", "user_age_days"]


def test_temporal_features_accepts_datetimes_and_rejects_strings(ctr):
    train, test = ctr
    as_dt = lambda d: d.assign(timestamp=pd.to_datetime(d["timestamp"], unit="s"))
    np.testing.assert_allclose(
        TemporalFeatures().fit(as_dt(train)).transform(as_dt(test)), TemporalFeatures().fit(train).transform(test)
    )
    with pytest.raises(DataValidationError, match="'timestamp' must be numeric"):
        TemporalFeatures().fit(train.assign(timestamp=train["timestamp"].astype(str)))
    with pytest.raises(DataValidationError, match="missing column"):
        TemporalFeatures().fit(train.drop(columns="timestamp"))
    with pytest.raises(DataValidationError, match="'timestamp' has 1 missing"):
        TemporalFeatures().fit(train.assign(timestamp=np.r_[np.nan, train["timestamp"].to_numpy()[1:]]))
    with pytest.raises(DataValidationError, match="empty"):
        TemporalFeatures().fit(train.iloc[:0])


def test_user_item_aggregates_brute_force(ctr):
    train, test = ctr
    m = 2.0
    agg = UserItemAggregates(smoothing=m).fit(train)
    names = agg.get_feature_names_out().tolist()
    rows = pd.concat([test, test.head(2).assign(user_id=-1, item_id=-1)], ignore_index=True)
    out = pd.DataFrame(agg.transform(rows), columns=names)
    r_bar = train["rating"].mean()
    global_share = {g: np.mean([g in gs for gs in train["genres"]]) for g in GENRES}
    for k, row in rows.iterrows():
        mine = train[train["user_id"] == row["user_id"]]
        its = train[train["item_id"] == row["item_id"]]
        assert out.loc[k, "user_count"] == len(mine)
        assert out.loc[k, "item_count"] == len(its)
        assert out.loc[k, "item_popularity"] == pytest.approx(len(its) / train["user_id"].nunique())
        assert out.loc[k, "user_mean_rating"] == pytest.approx((mine["rating"].sum() + m * r_bar) / (len(mine) + m))
        assert out.loc[k, "item_mean_rating"] == pytest.approx((its["rating"].sum() + m * r_bar) / (len(its) + m))
        share = {g: (np.mean([g in gs for gs in mine["genres"]]) if len(mine) else global_share[g]) for g in GENRES}
        for g in GENRES:
            assert out.loc[k, f"user_share_{g}"] == pytest.approx(share[g])
        assert out.loc[k, "user_genre_affinity"] == pytest.approx(np.mean([share[g] for g in row["genres"]]))
    unseen = out.iloc[-1]
    assert unseen["user_count"] == 0 and unseen["item_popularity"] == 0
    assert unseen["user_mean_rating"] == pytest.approx(r_bar)


def test_user_item_aggregates_fit_transform_is_out_of_fold(ctr):
    train, _ = ctr
    agg = UserItemAggregates(smoothing=3.0, cv=4, seed=1)
    oof = pd.DataFrame(agg.fit_transform(train), columns=agg.get_feature_names_out())
    te = TargetEncoder(smoothing=3.0, cv=4, seed=1).fit_transform(train[["user_id"]], train["rating"]).ravel()
    np.testing.assert_allclose(oof["user_mean_rating"], te)
    in_sample = pd.DataFrame(agg.transform(train), columns=agg.get_feature_names_out())
    np.testing.assert_allclose(oof["user_count"], in_sample["user_count"])  # rating-free: all rows
    assert not np.allclose(oof["user_mean_rating"], in_sample["user_mean_rating"])


def test_user_item_aggregates_bad_input(ctr):
    train, _ = ctr
    with pytest.raises(DataValidationError, match="'rating' must be numeric"):
        UserItemAggregates().fit(train.assign(rating=train["rating"].astype(str)))
    with pytest.raises(DataValidationError, match="'genres' must hold a list"):
        UserItemAggregates().fit(train.assign(genres="Drama"))
    with pytest.raises(DataValidationError, match="'item_id' has 1 missing"):
        UserItemAggregates().fit(train.assign(item_id=np.r_[np.nan, train["item_id"].to_numpy()[1:]]))
    with pytest.raises(DataValidationError, match="empty"):
        UserItemAggregates().fit(train.iloc[:0])
    with pytest.raises(NotFittedError):
        UserItemAggregates().transform(train)
    no_genre = UserItemAggregates(genre_col=None).fit(train.drop(columns="genres"))
    assert no_genre.transform(train.drop(columns="genres")).shape == (len(train), 5)


# ---------------------------------------------------------------------------
# scikit-learn integration
# ---------------------------------------------------------------------------


def test_works_in_column_transformer_pipeline_with_pandas_output(ctr):
    train, test = ctr
    pre = ColumnTransformer(
        [
            ("te", TargetEncoder(), ["user_id", "item_id"]),
            ("ord", OrdinalEncoder(), ["gender"]),
            ("log", make_pipeline(Log1pTransformer(), RobustScaler()), ["x"]),
            ("bin", QuantileBucketizer(n_bins=4), ["x"]),
            ("time", make_pipeline(TemporalFeatures(), RobustScaler()), ["user_id", "timestamp"]),
        ]
    )
    model = make_pipeline(pre, LogisticRegression(max_iter=500)).fit(train, train["label"])
    proba = model.predict_proba(test)[:, 1]
    assert proba.shape == (len(test),) and np.all((proba > 0) & (proba < 1))
    frame = clone(pre).set_output(transform="pandas").fit_transform(train, train["label"])
    assert frame.columns.tolist() == [
        "te__user_id_te", "te__item_id_te", "ord__gender", "log__x", "bin__x_bin",
        "time__hour", "time__weekday", "time__recency_days", "time__user_age_days",
    ]
    agg = UserItemAggregates().set_output(transform="pandas").fit(train)
    assert agg.transform(test).index.equals(test.index)


# ---------------------------------------------------------------------------
# the input contract: one kind of value per column (issue 15)
# ---------------------------------------------------------------------------


def test_category_encoders_refuse_mixed_kinds_even_in_lists():
    for make in (OrdinalEncoder, TargetEncoder):
        name = make.__name__
        with pytest.raises(DataValidationError, match=rf"{name}.fit: column 'x0' mixes value types: number"):
            make().fit([[1], ["a"]], [0, 1])  # numpy would have turned it into ['1', 'a']
        with pytest.raises(DataValidationError, match=rf"{name}.fit: column 'c' mixes value types"):
            make().fit(pd.DataFrame({"c": [1, "a"]}, dtype=object), [0, 1])
        with pytest.raises(DataValidationError, match="mixes value types: bool"):
            make().fit(pd.DataFrame({"c": [True, 1]}, dtype=object), [0, 1])


def test_category_encoders_refuse_another_kind_at_transform():
    X = pd.DataFrame({"user_id": [1, 2, 2]})
    for enc in (OrdinalEncoder().fit(X), TargetEncoder(cv=2).fit(X, [0, 1, 1])):
        with pytest.raises(DataValidationError, match="column 'user_id' holds str values, but the encoder was fitted on number"):
            enc.transform(pd.DataFrame({"user_id": ["1", "2"]}))
        assert enc.transform(pd.DataFrame({"user_id": [1.0, 7]})).shape == (2, 1)  # ints and floats: numbers
