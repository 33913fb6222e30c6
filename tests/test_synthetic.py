"""Tests for recfeat_ref.synthetic: schema, determinism and the planted signal."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from recfeat_ref.synthetic import BEHAVIORS, BehaviorTruth, make_behavior_data


@pytest.fixture(scope="module")
def data():
    return make_behavior_data(return_truth=True)


def test_schema_dtypes_and_size(data):
    df, _ = data
    assert list(df.columns) == ["user_id", "item_id", "behavior", "timestamp"]
    assert len(df) == 10_000
    assert df["user_id"].dtype == np.int64 and df["item_id"].dtype == np.int64
    assert df["timestamp"].dtype == np.int64
    assert isinstance(df["behavior"].dtype, pd.CategoricalDtype)
    assert list(df["behavior"].cat.categories) == ["view", "cart", "purchase", "rate"]
    assert df["behavior"].cat.ordered and tuple(BEHAVIORS) == ("view", "cart", "purchase", "rate")
    assert df["user_id"].between(0, 199).all() and df["item_id"].between(0, 299).all()
    assert df.index.equals(pd.RangeIndex(10_000))


def test_labelled_synthetic(data):
    df, _ = data
    assert df.attrs["synthetic"] is True
    assert "SYNTHETIC" in df.attrs["description"] and "seed=0" in df.attrs["description"]


def test_deterministic_under_seed():
    a, ta = make_behavior_data(n_events=2_000, seed=7, return_truth=True)
    b, tb = make_behavior_data(n_events=2_000, seed=7, return_truth=True)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs == b.attrs
    np.testing.assert_array_equal(ta.affinity, tb.affinity)


def test_different_seeds_differ():
    a = make_behavior_data(n_events=2_000, seed=1)
    b = make_behavior_data(n_events=2_000, seed=2)
    assert not a.equals(b)


def test_generator_seed_and_global_rng_untouched():
    np.random.seed(123)
    random.seed(123)
    np_state, py_state = np.random.get_state()[1].copy(), random.getstate()
    df = make_behavior_data(n_events=500, seed=np.random.default_rng(5))
    assert len(df) == 500
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert random.getstate() == py_state


def test_truth_shapes_and_affinity(data):
    _, truth = data
    assert isinstance(truth, BehaviorTruth)
    assert truth.user_factors.shape == (200, 4)
    assert truth.item_factors.shape == (300, 4)
    assert truth.affinity.shape == (200, 300)
    np.testing.assert_allclose(truth.affinity, truth.user_factors @ truth.item_factors.T)
    assert 0.7 < truth.affinity.std() < 1.3  # the factor scale keeps affinity near unit variance


def test_timestamps_sorted_and_strictly_increasing_per_user(data):
    df, _ = data
    assert df["timestamp"].is_monotonic_increasing
    per_user = df.groupby("user_id")["timestamp"]
    assert per_user.apply(lambda s: s.is_monotonic_increasing and s.is_unique).all()
    assert df["timestamp"].min() >= 1_704_067_200  # 2024-01-01 UTC
    assert df["timestamp"].max() < 1_704_067_200 + 400 * 86_400


def test_funnel_steps_follow_each_other(data):
    df, _ = data
    seq = df.sort_values(["user_id", "timestamp"], kind="stable")
    code = seq["behavior"].cat.codes.to_numpy()
    prev_code = seq.groupby("user_id")["behavior"].shift().cat.codes.to_numpy()
    prev_item = seq.groupby("user_id")["item_id"].shift().to_numpy()
    deeper = code > 0
    assert (prev_code[deeper] == code[deeper] - 1).all()  # cart after view, purchase after cart...
    assert (prev_item[deeper] == seq["item_id"].to_numpy()[deeper]).all()


def test_funnel_narrows(data):
    df, _ = data
    counts = df["behavior"].value_counts().reindex(list(BEHAVIORS)).to_numpy()
    assert (np.diff(counts) < 0).all(), counts
    assert counts[0] / len(df) > 0.5


def test_planted_signal_deeper_behaviours_mean_higher_affinity(data):
    df, truth = data
    affinity = truth.affinity[df["user_id"], df["item_id"]]
    means = pd.Series(affinity).groupby(df["behavior"].to_numpy()).mean().reindex(list(BEHAVIORS))
    assert (np.diff(means.to_numpy()) > 0.2).all(), means


def test_planted_signal_interacted_items_beat_random_pairs(data):
    df, truth = data
    interacted = truth.affinity[df["user_id"], df["item_id"]].mean()
    rng = np.random.default_rng(0)
    random_pairs = truth.affinity[rng.integers(0, 200, 10_000), rng.integers(0, 300, 10_000)].mean()
    assert interacted > random_pairs + 1.0, (interacted, random_pairs)


def test_duplicate_pairs_are_allowed(data):
    df, _ = data
    assert df.duplicated(["user_id", "item_id"]).any()  # an event log, not a rating matrix


@pytest.mark.parametrize("n_events", [1, 2, 3, 7, 1_001])
def test_exact_event_count_and_tiny_sizes(n_events):
    df = make_behavior_data(n_users=1, n_items=1, n_events=n_events, n_factors=1, seed=3)
    assert len(df) == n_events
    assert df["behavior"].iloc[0] == "view"
    assert (df[["user_id", "item_id"]] == 0).all().all()


@pytest.mark.parametrize("name", ["n_users", "n_items", "n_events", "n_factors"])
@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10", None])
def test_parameter_validation(name, bad):
    with pytest.raises(ValueError, match=f"{name} must be a positive int"):
        make_behavior_data(**{name: bad})


def test_numpy_ints_accepted():
    df = make_behavior_data(n_users=np.int64(5), n_items=np.int32(6), n_events=np.int64(50))
    assert len(df) == 50
