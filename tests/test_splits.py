"""Tests for recfeat_ref.splits: every protocol, checked for the same invariants.

For each split: parts are disjoint and complete (by original index label),
the input frame is unchanged, seeds are deterministic, ratios are respected,
and the protocol's own promise holds (time order, warm users, fold sizes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recfeat_ref._validation import DataValidationError
from recfeat_ref.splits import (
    filter_cold,
    kfold_split,
    leave_last_one_out,
    random_split,
    ratio_split_by_user,
    temporal_split,
)

# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


def make_interactions(n_users=300, n_items=4000, n_rows=6000, seed=0) -> pd.DataFrame:
    """Synthetic interactions with a skewed user activity, repeated timestamps,
    unique (user, item) pairs (the splitters refuse repeats) and a non-default
    index (labels 10_000.., shuffled) so that the tests see whether the splits
    keep original labels."""
    rng = np.random.default_rng(seed)
    users = np.minimum(rng.zipf(1.6, n_rows), n_users) - 1  # a few heavy users, many light ones
    items = np.empty(n_rows, dtype=np.int64)
    for u in np.unique(users):  # each user's items drawn without replacement
        rows = np.flatnonzero(users == u)
        items[rows] = rng.choice(n_items, size=len(rows), replace=False)
    df = pd.DataFrame(
        {
            "user_id": users,
            "item_id": items,
            "rating": rng.integers(1, 6, n_rows).astype(float),
            "timestamp": rng.integers(0, 2000, n_rows),  # coarse: many ties
        },
        index=10_000 + rng.permutation(n_rows),
    )
    return df


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return make_interactions()


@pytest.fixture(scope="module")
def movielens() -> pd.DataFrame:
    """MovieLens-100K ratings from the local cache, or skip (no network here)."""
    try:
        from recfeat_ref.datasets import load_movielens_100k
    except Exception as exc:  # module not written yet, or broken
        pytest.skip(f"recfeat_ref.datasets.load_movielens_100k unavailable: {exc!r}")
    try:
        data = load_movielens_100k(sources=("cache",), verbose=False)
    except Exception as exc:
        pytest.skip(f"MovieLens-100K not in the local cache: {exc!r}")
    if not isinstance(data, pd.DataFrame):
        for attr in ("ratings", "interactions"):
            if isinstance(getattr(data, attr, None), pd.DataFrame):
                data = getattr(data, attr)
                break
            if isinstance(data, dict) and isinstance(data.get(attr), pd.DataFrame):
                data = data[attr]
                break
    if not isinstance(data, pd.DataFrame):
        pytest.skip(f"load_movielens_100k returned {type(data).__name__}, no ratings frame found")
    needed = {"user_id", "item_id", "rating", "timestamp"}
    if not needed <= set(data.columns):
        pytest.skip(f"MovieLens frame lacks columns {sorted(needed - set(data.columns))}")
    return data


# ---------------------------------------------------------------------------
# shared invariants
# ---------------------------------------------------------------------------


def assert_partition(df: pd.DataFrame, parts) -> None:
    """Disjoint by index label, complete, and each row identical to the input row."""
    labels = [set(p.index) for p in parts]
    for a in range(len(parts)):
        for b in range(a + 1, len(parts)):
            assert not labels[a] & labels[b], f"parts {a} and {b} overlap"
    assert sum(len(p) for p in parts) == len(df), "rows lost or duplicated"
    assert set().union(*labels) == set(df.index)
    together = pd.concat(parts).loc[df.index]
    pd.testing.assert_frame_equal(together, df)
    for p in parts:
        assert list(p.columns) == list(df.columns), "a split must not add columns"


def same_parts(a, b) -> bool:
    return len(a) == len(b) and all(x.index.equals(y.index) for x, y in zip(a, b))


SEEDED = {
    "random_2": lambda d, s: random_split(d, ratios=(0.8, 0.2), seed=s),
    "random_3": lambda d, s: random_split(d, ratios=(0.8, 0.1, 0.1), seed=s),
    "by_user_2": lambda d, s: ratio_split_by_user(d, ratios=(0.8, 0.2), seed=s),
    "by_user_3": lambda d, s: ratio_split_by_user(d, ratios=(0.8, 0.1, 0.1), seed=s),
    "kfold": lambda d, s: [part for pair in kfold_split(d, n_splits=5, seed=s) for part in pair],
}
DETERMINISTIC = {
    "temporal_2": lambda d, s: temporal_split(d, ratios=(0.8, 0.2)),
    "temporal_3": lambda d, s: temporal_split(d, ratios=(0.7, 0.15, 0.15)),
    "loo_valid": lambda d, s: leave_last_one_out(d, n_valid=1),
    "loo_no_valid": lambda d, s: leave_last_one_out(d, n_valid=0),
}
ALL = {**SEEDED, **DETERMINISTIC}


@pytest.mark.parametrize("split", [k for k in ALL if k != "kfold"])
def test_parts_are_disjoint_and_complete(df, split):
    assert_partition(df, ALL[split](df, 0))


@pytest.mark.parametrize("split", list(ALL))
def test_input_frame_unchanged(df, split):
    before = df.copy(deep=True)
    parts = ALL[split](df, 0)
    pd.testing.assert_frame_equal(df, before)
    # Parts are new frames: writing into one leaves the input alone.
    parts[0].iloc[0, 0] = -999
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("split", list(SEEDED))
def test_seed_determinism(df, split):
    assert same_parts(SEEDED[split](df, 0), SEEDED[split](df, 0))
    assert not same_parts(SEEDED[split](df, 0), SEEDED[split](df, 1))


@pytest.mark.parametrize("split", list(ALL))
def test_global_rng_untouched(df, split):
    np.random.seed(1234)
    state = np.random.get_state()[1].copy()
    ALL[split](df, 0)
    assert np.array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("split", list(SEEDED))
def test_generator_seed_accepted(df, split):
    a = SEEDED[split](df, np.random.default_rng(5))
    b = SEEDED[split](df, np.random.default_rng(5))
    assert same_parts(a, b)


# ---------------------------------------------------------------------------
# random_split
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("ratios", [(0.8, 0.2), (0.8, 0.1, 0.1), (0.5, 0.25, 0.25)])
def test_random_split_sizes_follow_rounding(df, ratios):
    parts = random_split(df, ratios=ratios, seed=3)
    n = len(df)
    cuts = np.floor(np.cumsum(ratios) * n + 0.5).astype(int)
    expected = np.diff(np.concatenate([[0], cuts[:-1], [n]]))
    assert [len(p) for p in parts] == expected.tolist()


def test_random_split_keeps_row_order(df):
    for part in random_split(df, seed=0):
        positions = df.index.get_indexer(part.index)
        assert np.all(np.diff(positions) > 0)


def test_random_split_float_ratio_shorthand(df):
    assert same_parts(random_split(df, 0.75, seed=2), random_split(df, (0.75, 0.25), seed=2))


def test_random_split_small_frame_raises_for_empty_part():
    tiny = pd.DataFrame({"user_id": [1, 2, 3]})
    with pytest.raises(DataValidationError, match="empty"):
        random_split(tiny, ratios=(0.8, 0.1, 0.1))


@pytest.mark.parametrize(
    "ratios, message",
    [
        ((0.8, 0.3), "sum to 1"),
        ((1.2, -0.2), "positive"),
        ((1.0,), "at least two"),
        ("0.8", "ratios"),
        ((0.5, np.nan, 0.5), "positive"),
    ],
)
def test_bad_ratios_raise_naming_parameter(df, ratios, message):
    for fn in (
        lambda: random_split(df, ratios=ratios),
        lambda: ratio_split_by_user(df, ratios=ratios),
        lambda: temporal_split(df, ratios=ratios),
    ):
        with pytest.raises(ValueError, match=message) as info:
            fn()
        assert "ratios" in str(info.value)


def test_bad_seed_raises(df):
    with pytest.raises(TypeError, match="seed"):
        random_split(df, seed="abc")


def test_empty_or_non_frame_input_raises():
    with pytest.raises(DataValidationError, match="empty"):
        random_split(pd.DataFrame({"user_id": []}))
    with pytest.raises(TypeError, match="DataFrame"):
        random_split(np.arange(10))


# ---------------------------------------------------------------------------
# ratio_split_by_user
# ---------------------------------------------------------------------------


def expected_user_sizes(n_u: int, ratios) -> list[int]:
    """The documented rounding, written out independently for one user."""
    cum, cuts = 0.0, []
    for r in ratios[:-1]:
        cum += r
        cut = min(n_u, max(1, int(np.floor(cum * n_u + 0.5))))
        cuts.append(max([cut] + cuts))
    bounds = [0] + cuts + [n_u]
    return [bounds[k + 1] - bounds[k] for k in range(len(ratios))]


@pytest.mark.parametrize("ratios", [(0.8, 0.2), (0.8, 0.1, 0.1), (0.6, 0.2, 0.2)])
def test_ratio_split_by_user_sizes_per_user(df, ratios):
    parts = ratio_split_by_user(df, ratios=ratios, seed=0)
    counts = [p["user_id"].value_counts() for p in parts]
    for user, n_u in df["user_id"].value_counts().items():
        got = [int(c.get(user, 0)) for c in counts]
        assert got == expected_user_sizes(n_u, ratios), f"user {user} with {n_u} rows"


def test_ratio_split_by_user_every_user_in_train(df):
    train, valid, test = ratio_split_by_user(df, seed=0)
    assert set(train["user_id"]) == set(df["user_id"])
    assert set(valid["user_id"]) <= set(train["user_id"])
    assert set(test["user_id"]) <= set(train["user_id"])


def test_ratio_split_by_user_overall_ratios_close(df):
    parts = ratio_split_by_user(df, ratios=(0.8, 0.1, 0.1), seed=0)
    fractions = np.array([len(p) for p in parts]) / len(df)
    assert np.allclose(fractions, (0.8, 0.1, 0.1), atol=0.03), fractions


def test_ratio_split_by_user_small_users_train_only():
    d = pd.DataFrame({"user_id": [1, 2, 2, 3, 3, 3, 3, 3, 3], "item_id": range(9)})
    train, valid, test = ratio_split_by_user(d, seed=0)
    assert set(train["user_id"]) == {1, 2, 3}
    assert 1 not in set(valid["user_id"]) | set(test["user_id"])
    assert 2 not in set(valid["user_id"]) | set(test["user_id"])
    assert len(test) == 1  # user 3 (6 rows) -> 5/0/1 by the documented table


def test_ratio_split_by_user_min_ratings(df):
    train, valid, test = ratio_split_by_user(df, seed=0, min_ratings=20)
    counts = df["user_id"].value_counts()
    light = set(counts[counts < 20].index)
    assert light, "the fixture should contain light users"
    assert not light & (set(valid["user_id"]) | set(test["user_id"]))
    assert_partition(df, (train, valid, test))
    with pytest.raises(ValueError, match="min_ratings"):
        ratio_split_by_user(df, min_ratings=0)


def test_ratio_split_by_user_string_ids_and_missing_column(df):
    d = df.assign(user_id="u" + df["user_id"].astype(str))
    assert_partition(d, ratio_split_by_user(d, seed=0))
    with pytest.raises(DataValidationError, match="'uid'"):
        ratio_split_by_user(df, user_col="uid")


def test_ratio_split_by_user_nan_user_raises(df):
    d = df.astype({"user_id": float})
    d.iloc[3, 0] = np.nan
    with pytest.raises(DataValidationError, match="'user_id'"):
        ratio_split_by_user(d)


# ---------------------------------------------------------------------------
# temporal_split
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("ratios", [(0.8, 0.2), (0.7, 0.15, 0.15)])
def test_temporal_split_order_and_ratios(df, ratios):
    parts = temporal_split(df, ratios=ratios)
    for earlier, later in zip(parts, parts[1:]):
        # Strict: a timestamp never straddles two parts (documented tie rule).
        assert earlier["timestamp"].max() < later["timestamp"].min()
    fractions = np.array([len(p) for p in parts]) / len(df)
    assert np.allclose(fractions, ratios, atol=0.01), fractions


def test_temporal_split_ties_go_to_earlier_part():
    d = pd.DataFrame({"timestamp": [1, 2, 3, 3, 3, 4, 5, 6, 7, 8]})
    train, test = temporal_split(d, ratios=(0.3, 0.7))  # ideal cut after row 3 (ts 3)
    assert train["timestamp"].tolist() == [1, 2, 3, 3, 3]
    assert test["timestamp"].min() == 4


def test_temporal_split_all_ties_raises():
    d = pd.DataFrame({"timestamp": [5] * 10})
    with pytest.raises(DataValidationError, match="timestamp"):
        temporal_split(d)


def test_temporal_split_datetimes(df):
    d = df.assign(timestamp=pd.to_datetime(df["timestamp"], unit="D", origin="2000-01-01"))
    a = temporal_split(d)
    b = temporal_split(df)
    assert all(x.index.equals(y.index) for x, y in zip(a, b))


def test_temporal_split_missing_timestamp_raises(df):
    with pytest.raises(DataValidationError, match="'ts'"):
        temporal_split(df, timestamp_col="ts")
    d = df.astype({"timestamp": float})
    d.iloc[0, 3] = np.nan
    with pytest.raises(DataValidationError, match="missing"):
        temporal_split(d)


# ---------------------------------------------------------------------------
# leave_last_one_out
# ---------------------------------------------------------------------------


def test_leave_last_one_out_time_order_per_user(df):
    train, valid, test = leave_last_one_out(df)
    before = pd.concat([train, valid]).groupby("user_id")["timestamp"].max()
    last = test.set_index("user_id")["timestamp"]
    assert (last >= before.loc[last.index]).all()
    last_valid = valid.set_index("user_id")["timestamp"]
    assert (last_valid >= train.groupby("user_id")["timestamp"].max().loc[last_valid.index]).all()


def test_leave_last_one_out_counts_per_user(df):
    train, valid, test = leave_last_one_out(df, n_valid=1)
    n_u = df["user_id"].value_counts()
    assert test["user_id"].is_unique and valid["user_id"].is_unique
    assert set(test["user_id"]) == set(n_u[n_u >= 2].index)
    assert set(valid["user_id"]) == set(n_u[n_u >= 3].index)
    assert set(train["user_id"]) == set(df["user_id"])  # every user keeps >= 1 train row


def test_leave_last_one_out_small_users_and_ties():
    d = pd.DataFrame(
        {
            "user_id": ["a", "b", "b", "c", "c", "c", "c"],
            "item_id": [1, 2, 3, 4, 5, 6, 7],
            "timestamp": [9, 5, 5, 1, 7, 7, 2],
        }
    )
    train, valid, test = leave_last_one_out(d)
    # a: 1 row -> train only. b: tie at 5 -> the later row (item 3) is the test row.
    # c: ties at 7 -> item 6 (later row) test, item 5 valid, items 4 and 7 train.
    assert train["item_id"].tolist() == [1, 2, 4, 7]
    assert valid["item_id"].tolist() == [5]
    assert test["item_id"].tolist() == [3, 6]


def test_leave_last_one_out_n_valid(df):
    train, test = leave_last_one_out(df, n_valid=0)
    assert_partition(df, (train, test))
    train, valid, test = leave_last_one_out(df, n_valid=2)
    n_u = df["user_id"].value_counts()
    got = valid["user_id"].value_counts().reindex(n_u.index, fill_value=0)
    assert (got == np.clip(n_u - 2, 0, 2)).all()
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="n_valid"):
            leave_last_one_out(df, n_valid=bad)


# ---------------------------------------------------------------------------
# kfold_split
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_rows, k", [(6000, 5), (103, 10), (7, 3), (10, 10)])
def test_kfold_each_row_in_exactly_one_test_fold(n_rows, k):
    d = make_interactions(n_rows=n_rows, seed=1)
    folds = list(kfold_split(d, n_splits=k, seed=0))
    assert len(folds) == k
    test_labels = pd.Index(np.concatenate([t.index.to_numpy() for _, t in folds]))
    assert test_labels.is_unique and set(test_labels) == set(d.index)
    sizes = [len(t) for _, t in folds]
    assert max(sizes) - min(sizes) <= 1
    for train, test in folds:
        assert_partition(d, (train, test))


def test_kfold_bad_arguments_raise_eagerly(df):
    with pytest.raises(ValueError, match="n_splits"):
        kfold_split(df, n_splits=1)  # no next(): checked at call time
    with pytest.raises(ValueError, match="n_splits"):
        kfold_split(df.head(3), n_splits=4)


# ---------------------------------------------------------------------------
# filter_cold
# ---------------------------------------------------------------------------


def test_filter_cold_counts_and_keeps_input():
    train = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [10, 20, 30]})
    test = pd.DataFrame({"user_id": [1, 4, 2, 3, 5], "item_id": [20, 10, 99, 30, 77]}, index=list("abcde"))
    before = test.copy()
    kept, n_dropped = filter_cold(train, test)
    assert kept.index.tolist() == ["a", "d"] and n_dropped == 3
    kept_users, n_users_dropped = filter_cold(train, test, item_col=None)
    assert kept_users.index.tolist() == ["a", "c", "d"] and n_users_dropped == 2
    pd.testing.assert_frame_equal(test, before)
    empty, n0 = filter_cold(train, test.iloc[:0])
    assert len(empty) == 0 and n0 == 0
    with pytest.raises(DataValidationError, match="'item_id'"):
        filter_cold(train, test[["user_id"]])


def test_filter_cold_after_random_split(df):
    train, test = random_split(df, seed=0)
    kept, n_dropped = filter_cold(train, test)
    assert len(kept) + n_dropped == len(test)
    assert set(kept["user_id"]) <= set(train["user_id"])
    assert set(kept["item_id"]) <= set(train["item_id"])


# ---------------------------------------------------------------------------
# MovieLens-100K (skipped unless the cache holds it)
# ---------------------------------------------------------------------------


def test_movielens_splits(movielens):
    ml = movielens
    before = ml.copy(deep=True)
    train, valid, test = ratio_split_by_user(ml, seed=42)
    assert_partition(ml, (train, valid, test))
    assert set(test["user_id"]) <= set(train["user_id"])
    train, test = temporal_split(ml, ratios=(0.8, 0.2))
    assert_partition(ml, (train, test))
    assert train["timestamp"].max() < test["timestamp"].min()
    train, valid, test = leave_last_one_out(ml)
    assert_partition(ml, (train, valid, test))
    # Every MovieLens-100K user has >= 20 ratings: one test and one valid row each.
    assert len(test) == ml["user_id"].nunique() == len(valid)
    folds = list(kfold_split(ml, n_splits=5, seed=0))
    assert sorted(len(t) for _, t in folds) == [len(ml) // 5] * 5
    pd.testing.assert_frame_equal(ml, before)


# ---------------------------------------------------------------------------
# the input contract: repeated pairs and text timestamps (issue 15)
# ---------------------------------------------------------------------------


def dup_last_frame() -> pd.DataFrame:
    """User 1's last interaction (item 12) is logged twice: the issue's example."""
    return pd.DataFrame(
        {
            "user_id": [1, 1, 1, 1, 2, 2],
            "item_id": [10, 11, 12, 12, 20, 21],
            "rating": [4.0, 3.0, 5.0, 5.0, 2.0, 1.0],
            "timestamp": [1, 2, 3, 4, 1, 2],
        }
    )


ALL_SPLITTERS = {
    "random_split": lambda d, **kw: random_split(d, (0.5, 0.5), **kw),
    "ratio_split_by_user": lambda d, **kw: ratio_split_by_user(d, (0.5, 0.5), **kw),
    "temporal_split": lambda d, **kw: temporal_split(d, (0.5, 0.5), **kw),
    "leave_last_one_out": lambda d, **kw: leave_last_one_out(d, **kw),
    "kfold_split": lambda d, **kw: list(kfold_split(d, n_splits=2, **kw)),
}


@pytest.mark.parametrize("name", list(ALL_SPLITTERS))
def test_every_splitter_refuses_a_repeated_pair_naming_it_and_the_fix(name):
    with pytest.raises(DataValidationError) as info:
        ALL_SPLITTERS[name](dup_last_frame())
    message = str(info.value)
    assert message.startswith(f"{name}(df): 1 (user_id, item_id) pair(s) occur more than once (2 rows)")
    assert "(1, 12) at rows [2, 3]" in message  # raw ids and the rows
    assert "clean_interactions" in message and "drop_duplicates" in message
    assert "duplicates='allow'" in message


def test_leave_last_one_out_duplicated_last_interaction_no_longer_leaks():
    # Before: item 12 went to both valid and test, and evaluation then excluded it as seen.
    with pytest.raises(DataValidationError, match=r"\(1, 12\) at rows \[2, 3\].*timestamp_col='timestamp'"):
        leave_last_one_out(dup_last_frame())
    # The fix the message names: keep the latest row of the pair.
    from recfeat_ref.preprocessing import clean_interactions

    clean, report = clean_interactions(dup_last_frame(), timestamp_col="timestamp", keep="last")
    assert report["duplicates"] == 1
    train, valid, test = leave_last_one_out(clean)
    assert test["item_id"].tolist() == [12, 21] and valid["item_id"].tolist() == [11]
    # duplicates="allow": the documented behaviour for logs with re-consumption
    train, valid, test = leave_last_one_out(dup_last_frame(), duplicates="allow")
    assert valid.loc[valid.user_id == 1, "item_id"].tolist() == [12]
    assert test.loc[test.user_id == 1, "item_id"].tolist() == [12]


def test_random_split_on_duplicated_rows_raises_instead_of_leaking_test_pairs_into_train(df):
    doubled = pd.concat([df, df.head(50).set_axis(np.arange(50) + 90_000)])  # 50 rows repeated
    with pytest.raises(DataValidationError, match=r"random_split\(df\): 50 \(user_id, item_id\) pair\(s\)"):
        random_split(doubled, seed=0)
    train, test = random_split(doubled, seed=0, duplicates="allow")  # opt-in: split as given
    assert_partition(doubled, (train, test))


def test_duplicate_check_follows_the_column_arguments_and_validates_the_policy():
    d = dup_last_frame().rename(columns={"user_id": "uid", "item_id": "iid"})
    random_split(d, (0.5, 0.5))  # no user_id/item_id columns: no pairs to check
    with pytest.raises(DataValidationError, match=r"\(uid, iid\).*\(1, 12\)"):
        random_split(d, (0.5, 0.5), user_col="uid", item_col="iid")
    random_split(dup_last_frame(), (0.5, 0.5), item_col=None)  # item_col=None: no check
    text = dup_last_frame().assign(user_id=lambda x: "u" + x["user_id"].astype(str),
                                   item_id=lambda x: "i" + x["item_id"].astype(str))
    with pytest.raises(DataValidationError, match=r"\('u1', 'i12'\)"):
        kfold_split(text, n_splits=2)
    for bad in ("ignore", None, True):
        with pytest.raises(ValueError, match="duplicates must be 'raise' or 'allow'"):
            random_split(dup_last_frame(), (0.5, 0.5), duplicates=bad)
    with pytest.raises(ValueError, match="item_col"):
        temporal_split(dup_last_frame(), item_col=3)


@pytest.mark.parametrize("split", [lambda d: temporal_split(d, (0.5, 0.5)), leave_last_one_out])
def test_text_timestamps_raise_instead_of_sorting_as_text(split):
    d = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 3, 4],
                      "timestamp": ["1000", "998", "1001", "999"]})
    with pytest.raises(DataValidationError) as info:
        split(d)
    message = str(info.value)
    assert "column 'timestamp' holds text timestamps" in message and "'1000' before '998'" in message
    assert "pd.to_numeric(df['timestamp'])" in message and "pd.to_datetime(df['timestamp'])" in message
    # converted explicitly, 998 comes before 1000
    parts = split(d.assign(timestamp=pd.to_numeric(d["timestamp"])))
    assert parts[0]["timestamp"].tolist() == [998, 999]


def test_timestamp_kinds_accepted_and_refused():
    base = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": [1, 2, 3, 4, 5]})
    ok = {
        "int": [5, 1, 4, 2, 3],
        "float": [5.0, 1.0, 4.0, 2.0, 3.0],
        "nullable": pd.array([5, 1, 4, 2, 3], dtype="Int64"),
        "datetime": pd.to_datetime([5, 1, 4, 2, 3], unit="D"),
        "tz-aware": pd.to_datetime([5, 1, 4, 2, 3], unit="D", utc=True),
        "timedelta": pd.to_timedelta([5, 1, 4, 2, 3], unit="s"),
        "object ints": pd.Series([5, 1, 4, 2, 3], dtype=object),
    }
    expected = leave_last_one_out(base.assign(timestamp=ok["int"]))
    for name, ts in ok.items():
        got = leave_last_one_out(base.assign(timestamp=ts))
        assert same_parts(got, expected), name
    refused = {
        "text": (["5", "1", "4", "2", "3"], "text"),
        "categorical": (pd.Categorical([5, 1, 4, 2, 3]), "categorical"),
        "boolean": ([True, False, True, False, True], "boolean"),
        "mixed objects": (pd.Series([5, "1", 4, 2, 3], dtype=object), "non-numeric"),
    }
    for name, (ts, kind) in refused.items():
        with pytest.raises(DataValidationError, match=f"holds {kind} timestamps"):
            temporal_split(base.assign(timestamp=ts), (0.6, 0.4))
