"""Tests of recfeat_ref.ablation: paired deltas, entity tables and CTR group columns (values and leakage)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recfeat_ref._validation import DataValidationError
from recfeat_ref.ablation import (
    CTR_CROSSES,
    CTR_GROUPS,
    ITEM_GROUPS,
    USER_GROUPS,
    ctr_group_columns,
    entity_tables,
    paired_deltas,
)

GENRES = ("Action", "Comedy", "Drama", "War")

# --- paired_deltas ------------------------------------------------------------------------


def _wide():
    """Synthetic metric table: 4 seeds, 3 variants."""
    return pd.DataFrame(
        {
            "a": [0.50, 0.52, 0.49, 0.51],
            "b": [0.60, 0.61, 0.58, 0.62],
            "c": [0.61, 0.60, 0.60, 0.61],
        }
    )


def test_paired_deltas_previous_matches_hand_computation():
    wide = _wide()
    out = paired_deltas(wide)
    assert out.index.tolist() == ["b", "c"]
    assert out.columns.tolist() == [
        "delta_mean",
        "delta_std",
        "delta_min",
        "delta_max",
        "stderr",
        "within_noise",
    ]
    for name, d in (
        ("b", np.array([0.10, 0.09, 0.09, 0.11])),
        ("c", np.array([0.01, -0.01, 0.02, -0.01])),
    ):
        row = out.loc[name]
        np.testing.assert_allclose(row["delta_mean"], d.mean())
        np.testing.assert_allclose(row["delta_std"], d.std(ddof=1))
        np.testing.assert_allclose(row["delta_min"], d.min())
        np.testing.assert_allclose(row["delta_max"], d.max())
        np.testing.assert_allclose(row["stderr"], d.std(ddof=1) / 2.0)
        assert row["within_noise"] == (abs(d.mean()) < 2.0 * d.std(ddof=1) / 2.0)
    assert out["within_noise"].tolist() == [False, True]


def test_paired_deltas_named_reference_matches_hand_computation():
    wide = _wide()
    out = paired_deltas(wide, reference="a")
    assert out.index.tolist() == ["b", "c"]
    d_c = wide["c"].to_numpy() - wide["a"].to_numpy()  # against "a", not against "b"
    np.testing.assert_allclose(out.loc["c", "delta_mean"], d_c.mean())
    np.testing.assert_allclose(out.loc["c", "delta_std"], d_c.std(ddof=1))
    np.testing.assert_allclose(out.loc["c", "stderr"], d_c.std(ddof=1) / 2.0)
    np.testing.assert_allclose(out.loc["b", "delta_max"], 0.11)
    out_b = paired_deltas(wide, reference="b")
    assert out_b.index.tolist() == ["a", "c"]
    np.testing.assert_allclose(
        out_b.loc["a", "delta_mean"], -out.loc["b", "delta_mean"]
    )


def test_paired_deltas_within_noise_flag():
    # a constant gain has no spread: not noise, however small
    const = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.001, 2.001, 3.001]})
    assert not paired_deltas(const)["within_noise"].iloc[0]
    # gains of both signs: mean 1/6, stderr ~0.60 (ratio 0.277): within noise for z > 0.277
    noisy = pd.DataFrame({"a": [0.0, 0.0, 0.0], "b": [1.0, -1.0, 0.5]})
    d = np.array([1.0, -1.0, 0.5])
    se = d.std(ddof=1) / np.sqrt(3)
    assert abs(d.mean()) / se == pytest.approx(0.2774, abs=1e-3)
    assert paired_deltas(noisy)["within_noise"].iloc[0]
    assert paired_deltas(noisy, z=0.3)["within_noise"].iloc[0]
    assert not paired_deltas(noisy, z=0.25)["within_noise"].iloc[0]


def test_paired_deltas_errors():
    with pytest.raises(ValueError, match="2 seeds"):
        paired_deltas(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    with pytest.raises(ValueError, match="2 variants"):
        paired_deltas(pd.DataFrame({"a": [1.0, 2.0]}))
    with pytest.raises(DataValidationError, match="'zzz'"):
        paired_deltas(_wide(), reference="zzz")
    with pytest.raises(TypeError):
        paired_deltas(_wide().to_numpy())


# --- entity_tables ------------------------------------------------------------------------


def _side_tables():
    """Synthetic users (7 has no interactions) and films (55 has none; 53 has no genres, 54 no year)."""
    users = pd.DataFrame(
        {
            "user_id": [1, 2, 3, 4, 5, 6, 7],
            "age": [17, 20, 30, 40, 47, 60, 25],
            "gender": ["F", "M", "F", "M", "F", "M", "F"],
            "occupation": [
                "student",
                "writer",
                "student",
                "doctor",
                "writer",
                "retired",
                "doctor",
            ],
        }
    )
    items = pd.DataFrame(
        {
            "item_id": [50, 51, 52, 53, 54, 55],
            "year": pd.array([1995, 1972, 1999, 1988, None, 2001], dtype="Int64"),
            "genres": [
                ["Drama"],
                ["Comedy", "War"],
                ["Action"],
                [],
                ["Drama", "Action"],
                ["Comedy"],
            ],
        }
    )
    return users, items


def _interactions(seed=0, n=60):
    """Synthetic ratings of users 1..6 on films 50..54, with a train/test split column."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "user_id": rng.integers(1, 7, n),
            "item_id": rng.integers(50, 55, n),
            "rating": rng.integers(1, 6, n),
            "timestamp": rng.integers(0, 10**6, n),
        }
    )
    df["split"] = np.where(np.arange(n) % 4 == 0, "test", "train")
    return df


def test_entity_tables_columns_and_crosses():
    users, items = _side_tables()
    train = _interactions().query("split == 'train'")
    u, i = entity_tables(users, items, train, n_buckets=3)
    assert u.columns.tolist() == [
        "user_id",
        *[c for g in USER_GROUPS.values() for c in g],
    ]
    assert i.columns.tolist() == [
        "item_id",
        *[c for g in ITEM_GROUPS.values() for c in g],
    ]
    assert (
        u["user_id"].tolist() == users["user_id"].tolist()
        and i["item_id"].tolist() == items["item_id"].tolist()
    )
    assert u["age_bucket"].tolist()[:3] == ["<18", "18-24", "25-34"]
    assert u["age_x_gender"].tolist()[:2] == ["<18|F", "18-24|M"]
    assert u["occupation_x_gender"].tolist()[3] == "doctor|M"
    assert i["year_bucket"].tolist() == [
        "1990s",
        "1970s",
        "1990s",
        "1980s",
        "unknown",
        "2000s",
    ]
    assert i["decade_x_genres"].tolist() == [
        ["1990s|Drama"],
        ["1970s|Comedy", "1970s|War"],
        ["1990s|Action"],
        [],
        ["unknown|Drama", "unknown|Action"],
        ["2000s|Comedy"],
    ]
    assert all(isinstance(g, list) for g in i["genres"])


def test_entity_tables_unseen_bucket_and_bucket_order():
    users, items = _side_tables()
    train = _interactions().query("split == 'train'")
    u, i = entity_tables(users, items, train, n_buckets=2)
    for col in ("first_seen_bucket", "activity_bucket", "user_mean_bucket"):
        assert u.loc[u.user_id == 7, col].item() == "unseen"
        assert set(u.loc[u.user_id != 7, col]) <= {"b0", "b1"}
    for col in (
        "first_rated_bucket",
        "last_rated_bucket",
        "popularity_bucket",
        "item_mean_bucket",
    ):
        assert i.loc[i.item_id == 55, col].item() == "unseen"
        assert set(i.loc[i.item_id != 55, col]) <= {"b0", "b1"}
    # buckets follow the training statistic: the least active user is in b0, the most active in b1
    counts = train.groupby("user_id").size().reindex(range(1, 7))
    act = u.set_index("user_id").loc[range(1, 7), "activity_bucket"]
    assert act[counts.idxmin()] == "b0" and act[counts.idxmax()] == "b1"
    codes = act.str[1:].astype(int)
    assert (
        np.diff(codes[counts.sort_values(kind="stable").index].to_numpy()) >= 0
    ).all()
    # smoothed mean rating (S + m r) / (n + m), m = 5
    g = train.groupby("user_id")["rating"]
    smoothed = ((g.sum() + 5 * train["rating"].mean()) / (g.size() + 5)).reindex(
        range(1, 7)
    )
    mean_b = u.set_index("user_id").loc[range(1, 7), "user_mean_bucket"]
    assert mean_b[smoothed.idxmin()] == "b0" and mean_b[smoothed.idxmax()] == "b1"
    # first rating time: the earliest item is in b0, the latest in b1
    first = train.groupby("item_id")["timestamp"].min()
    fr = i.set_index("item_id").loc[first.index, "first_rated_bucket"]
    assert fr[first.idxmin()] == "b0" and fr[first.idxmax()] == "b1"


def test_entity_tables_depend_only_on_train_rows():
    users, items = _side_tables()
    full = _interactions()
    u1, i1 = entity_tables(users, items, full[full.split == "train"], n_buckets=3)
    # change every held-out row (ratings, times, and even which user / film) and add held-out rows
    changed = full.copy()
    test = changed.split == "test"
    changed.loc[test, "rating"] = 6 - changed.loc[test, "rating"]
    changed.loc[test, "timestamp"] += 5 * 10**6
    changed.loc[test, "user_id"] = 7
    extra = pd.DataFrame(
        {
            "user_id": [7, 1],
            "item_id": [55, 55],
            "rating": [5, 1],
            "timestamp": [9, 10**7],
            "split": ["test", "test"],
        }
    )
    changed = pd.concat([changed, extra], ignore_index=True)
    u2, i2 = entity_tables(users, items, changed[changed.split == "train"], n_buckets=3)
    pd.testing.assert_frame_equal(u1, u2)
    pd.testing.assert_frame_equal(i1, i2)
    assert u2.loc[u2.user_id == 7, "activity_bucket"].item() == "unseen"
    assert i2.loc[i2.item_id == 55, "popularity_bucket"].item() == "unseen"
    # a user / film without training rows does not move the others' buckets
    u3, i3 = entity_tables(
        pd.concat(
            [users, users.assign(user_id=users.user_id + 100)], ignore_index=True
        ),
        pd.concat(
            [items, items.assign(item_id=items.item_id + 100)], ignore_index=True
        ),
        full[full.split == "train"],
        n_buckets=3,
    )
    pd.testing.assert_frame_equal(u3.head(len(users)), u1)
    pd.testing.assert_frame_equal(i3.head(len(items)), i1)
    assert (u3.tail(len(users))["first_seen_bucket"] == "unseen").all()
    # the tables do depend on the training rows (the checks above are not vacuous)
    moved = full.copy()
    moved.loc[moved.split == "train", "timestamp"] = moved.loc[
        moved.split == "train", "timestamp"
    ].to_numpy()[::-1]
    u4, i4 = entity_tables(users, items, moved[moved.split == "train"], n_buckets=3)
    assert not (
        u4["first_seen_bucket"].equals(u1["first_seen_bucket"])
        and i4["first_rated_bucket"].equals(i1["first_rated_bucket"])
    )


def test_entity_tables_missing_columns_and_bad_buckets():
    users, items = _side_tables()
    train = _interactions().query("split == 'train'")
    with pytest.raises(DataValidationError, match=r"\(users\).*'age'"):
        entity_tables(users.drop(columns="age"), items, train)
    with pytest.raises(DataValidationError, match=r"\(items\).*'genres'"):
        entity_tables(users, items.drop(columns="genres"), train)
    with pytest.raises(DataValidationError, match=r"\(train\).*'timestamp'"):
        entity_tables(users, items, train.drop(columns="timestamp"))
    with pytest.raises(ValueError, match="n_buckets"):
        entity_tables(users, items, train, n_buckets=0)


# --- ctr_group_columns --------------------------------------------------------------------


def _ctr_rows(n=400, n_users=20, n_items=25, seed=0):
    """Synthetic CTR rows (the columns of ctr_frame) with ratings depending on user and film."""
    rng = np.random.default_rng(seed)
    users, items = rng.integers(0, n_users, n), rng.integers(0, n_items, n)
    taste, quality = rng.normal(size=n_users), rng.normal(size=n_items)
    rating = np.clip(
        np.round(3.5 + taste[users] + quality[items] + rng.normal(0, 0.7, n)), 1, 5
    )
    item_genres = [
        sorted(rng.choice(GENRES, size=rng.integers(1, 3), replace=False).tolist())
        for _ in range(n_items)
    ]
    ages = np.array(["18-24", "25-34", "35-44"])[np.arange(n_users) % 3]
    decades = np.array(["1970s", "1980s", "1990s"])[np.arange(n_items) % 3]
    return pd.DataFrame(
        {
            "user_id": users,
            "item_id": items,
            "rating": rating,
            "timestamp": 880_000_000 + rng.integers(0, 200 * 86_400, n),
            "age_bucket": ages[users],
            "gender": np.where(users % 2 == 0, "F", "M"),
            "occupation": np.where(users % 3 == 0, "student", "other"),
            "year_bucket": decades[items],
            "genres": [item_genres[i] for i in items],
        }
    )


@pytest.fixture(scope="module")
def ctr_parts():
    df = _ctr_rows()
    return df.iloc[:300].copy(), df.iloc[300:350].copy(), df.iloc[350:].copy()


ADDED = [
    c
    for g in ("temporal", "aggregates", "crosses")
    for kind in CTR_GROUPS[g]
    for c in kind
]


def test_ctr_group_columns_adds_exactly_the_group_columns(ctr_parts):
    train, valid, test = ctr_parts
    before = [p.copy() for p in ctr_parts]
    out = ctr_group_columns(train, [train, valid, test])
    assert len(out) == 3
    for frame, part, orig in zip(out, ctr_parts, before):
        assert set(frame.columns) - set(part.columns) == set(ADDED)
        assert {c for g in CTR_GROUPS.values() for kind in g for c in kind} <= set(
            frame.columns
        )
        pd.testing.assert_frame_equal(frame[part.columns], part)  # input columns kept
        pd.testing.assert_frame_equal(part, orig)  # inputs not modified
        assert frame.index.equals(part.index)
        for col in ADDED:
            if col.endswith("_bucket"):
                assert set(frame[col]) <= {f"b{k}" for k in range(10)} | {"unseen"}, col


def test_ctr_group_columns_values(ctr_parts):
    train, valid, _ = ctr_parts
    (out,) = ctr_group_columns(train, [valid])
    t = pd.to_datetime(valid["timestamp"], unit="s")
    assert out["hour"].tolist() == t.dt.hour.astype(str).tolist()
    assert out["weekday"].tolist() == t.dt.day_of_week.astype(str).tolist()
    for name, (a, b) in CTR_CROSSES.items():
        if b == "genres":
            expected = [[f"{x}|{g}" for g in gs] for x, gs in zip(valid[a], valid[b])]
        else:
            expected = [f"{x}|{y}" for x, y in zip(valid[a], valid[b])]
        assert out[name].tolist() == expected, name
    # more training rows -> a count bucket at least as high
    counts = train.groupby("user_id").size()
    b = out["user_count_bucket"].str[1:].astype(int).to_numpy()
    c = counts.reindex(valid["user_id"]).to_numpy()
    order = np.argsort(c, kind="stable")
    assert (np.diff(b[order]) >= 0).all()


def test_ctr_group_columns_of_a_part_do_not_depend_on_other_parts(ctr_parts):
    train, valid, test = ctr_parts
    out = ctr_group_columns(train, [train, valid, test])
    changed = test.copy()
    changed["rating"] = 6 - changed["rating"]
    changed["timestamp"] += 10**7
    changed["user_id"] = changed["user_id"].to_numpy()[::-1]
    changed = pd.concat([changed, test.iloc[:5]])
    out2 = ctr_group_columns(train, [train, valid, changed])
    pd.testing.assert_frame_equal(out[0], out2[0])
    pd.testing.assert_frame_equal(out[1], out2[1])
    (alone,) = ctr_group_columns(train, [valid])
    pd.testing.assert_frame_equal(out[1], alone)
    (alone_test,) = ctr_group_columns(train, [test])
    pd.testing.assert_frame_equal(out[2], alone_test)
    # but the fit on train matters: other training ratings move the valid rows' mean buckets
    flipped = train.assign(rating=6 - train["rating"])
    (other,) = ctr_group_columns(flipped, [valid])
    assert not other["user_mean_bucket"].equals(alone["user_mean_bucket"])


def test_ctr_group_columns_train_gets_out_of_fold_means(ctr_parts):
    train, _, _ = ctr_parts
    oof, as_test = ctr_group_columns(train, [train, train.copy()])
    for col in ("user_mean_bucket", "item_mean_bucket"):
        assert (oof[col] != as_test[col]).sum() >= 10, col
    # the columns that involve no rating are the same either way
    same = [c for c in ADDED if c not in ("user_mean_bucket", "item_mean_bucket")]
    pd.testing.assert_frame_equal(oof[same], as_test[same])
    # the out-of-fold values do not depend on the other parts either, and follow the seed
    (oof_alone,) = ctr_group_columns(train, [train])
    pd.testing.assert_frame_equal(oof, oof_alone)
    (oof_seed,) = ctr_group_columns(train, [train], seed=1)
    assert not oof_seed["user_mean_bucket"].equals(oof["user_mean_bucket"])


def test_ctr_group_columns_missing_columns_and_bad_arguments(ctr_parts):
    train, valid, _ = ctr_parts
    with pytest.raises(DataValidationError, match=r"part 1.*'genres'"):
        ctr_group_columns(train, [train, valid.drop(columns="genres")])
    with pytest.raises(DataValidationError, match=r"part 0.*'year_bucket'"):
        ctr_group_columns(train, [valid.drop(columns="year_bucket")])
    with pytest.raises(ValueError, match="n_buckets"):
        ctr_group_columns(train, [valid], n_buckets=0)
    with pytest.raises(TypeError):
        ctr_group_columns(train.to_dict(), [valid])
