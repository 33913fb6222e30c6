"""Augmentations for interaction data: popularity negatives, dropped/added positives, sequence views, BPRMF hooks."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from recfeat_ref.augment import (
    PopularityNegativeSampler,
    add_random_interactions,
    crop,
    drop_interactions,
    keep_index,
    mask,
    reorder,
)
from recfeat_ref.mf import BPRMF, BPRConfig, NegativeSampler

FAST = {"progress": False, "device": "cpu"}


def _skewed(n_users=40, n_items=30, seed=0):
    """Implicit pairs with a popularity skew: item j is chosen with probability ~ 1/(j+1)."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_items + 1)
    p /= p.sum()
    users, items = [], []
    for u in range(n_users):
        chosen = rng.choice(n_items, size=rng.integers(3, 10), replace=False, p=p)
        users += [u] * len(chosen)
        items += chosen.tolist()
    return np.array(users), np.array(items), n_items


# --- popularity negatives ------------------------------------------------------------


def test_popularity_sampler_never_returns_a_positive():
    users, items, n_items = _skewed()
    sampler = PopularityNegativeSampler(users, items, n_items, beta=1.0)
    query = torch.as_tensor(np.repeat(np.arange(40), 200))
    neg = sampler.sample(query, torch.Generator().manual_seed(0))
    assert neg.shape == query.shape and neg.dtype == torch.int64
    assert not sampler.is_positive(query, neg).any()
    dense = np.zeros((40, n_items), bool)
    dense[users, items] = True
    assert not dense[query.numpy(), neg.numpy()].any()  # brute-force check


@pytest.mark.parametrize("beta", [0.0, 0.75, 1.0])
def test_popularity_sampler_frequencies_follow_popularity_power_beta(beta):
    users, items, n_items = _skewed()
    sampler = PopularityNegativeSampler(users, items, n_items, beta=beta)
    user = 3
    own = set(items[users == user].tolist())
    n_draws = 40_000
    neg = sampler.sample(torch.full((n_draws,), user), torch.Generator().manual_seed(1)).numpy()
    counts = np.bincount(items, minlength=n_items).astype(float)
    allowed = np.array([j for j in range(n_items) if j not in own and (beta == 0 or counts[j] > 0)])
    expected = counts[allowed] ** beta
    expected = expected / expected.sum() * n_draws
    observed = np.bincount(neg, minlength=n_items)[allowed]
    assert observed.sum() == n_draws  # nothing outside the allowed items
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    if beta > 0:  # the test can fail: uniform expectations are rejected
        uniform = np.full(len(allowed), n_draws / len(allowed))
        assert stats.chisquare(observed, uniform).pvalue < 1e-6


def test_beta_zero_is_uniform_over_the_catalogue():
    users, items, n_items = _skewed()
    sampler = PopularityNegativeSampler(users, items, n_items, beta=0.0)
    assert torch.allclose(sampler.probs, torch.full((n_items,), 1.0 / n_items, dtype=torch.float64))
    assert isinstance(sampler, NegativeSampler)


def test_popularity_sampler_is_deterministic_and_validates():
    users, items, n_items = _skewed()
    sampler = PopularityNegativeSampler(users, items, n_items)
    q = torch.arange(40).repeat(10)
    a = sampler.sample(q, torch.Generator().manual_seed(5))
    b = sampler.sample(q, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="beta"):
        PopularityNegativeSampler(users, items, n_items, beta=-0.5)
    # user 0 holds every item that has a positive weight: no negative is drawable
    with pytest.raises(ValueError, match="non-zero weight"):
        PopularityNegativeSampler([0, 0, 1], [0, 1, 1], n_items=5, beta=1.0)
    PopularityNegativeSampler([0, 0, 1], [0, 1, 1], n_items=5, beta=0.0)  # uniform: items 2-4 exist


# --- dropped and added positives ---------------------------------------------------------


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.3, 0.95])
def test_drop_interactions_keeps_the_right_number_of_existing_rows(rate):
    users, items, _ = _skewed()
    u, i = drop_interactions(users, items, rate, torch.Generator().manual_seed(0))
    assert len(u) == len(i) == len(users) - int(np.floor(rate * len(users)))
    pairs = set(zip(users.tolist(), items.tolist()))
    assert set(zip(u.tolist(), i.tolist())) <= pairs
    keep = keep_index(len(users), rate, torch.Generator().manual_seed(0))
    assert torch.all(keep[1:] > keep[:-1])  # sorted, no repeats: original order preserved


def test_drop_is_deterministic_and_differs_between_draws():
    gen = torch.Generator().manual_seed(0)
    a, b = keep_index(100, 0.3, gen), keep_index(100, 0.3, gen)
    assert not torch.equal(a, b)  # a new subset each epoch
    assert torch.equal(a, keep_index(100, 0.3, torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="rate"):
        keep_index(10, 1.0, gen)


def test_add_random_interactions_adds_unobserved_pairs():
    users, items, n_items = _skewed()
    u, i = add_random_interactions(users, items, n_items, 0.5, torch.Generator().manual_seed(0))
    n_add = int(np.floor(0.5 * len(users)))
    assert len(u) == len(users) + n_add
    assert np.array_equal(u[: len(users)].numpy(), users) and np.array_equal(i[: len(users)].numpy(), items)
    observed = set(zip(users.tolist(), items.tolist()))
    added = list(zip(u[len(users):].tolist(), i[len(users):].tolist()))
    assert not any(pair in observed for pair in added)
    assert set(u[len(users):].tolist()) <= set(users.tolist())


# --- sequence views -------------------------------------------------------------------------


def _sequences(n=50, T=12, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        length = int(rng.integers(0, T + 1))
        seq = np.zeros(T, np.int64)
        if length:
            seq[T - length :] = rng.integers(1, 30, size=length)
        yield seq


@pytest.mark.parametrize("op", ["crop", "mask", "reorder"])
def test_sequence_ops_never_touch_padding_and_keep_length(op):
    rng = np.random.default_rng(0)
    for seq in _sequences():
        before = seq.copy()
        out = {"crop": lambda s: crop(s, 0.6, rng), "mask": lambda s: mask(s, 0.4, 99, rng),
               "reorder": lambda s: reorder(s, 0.6, rng)}[op](seq)
        assert np.array_equal(seq, before)  # the input is not modified
        assert out.shape == seq.shape and out.dtype == np.int64
        assert np.all(out[seq == 0] == 0)  # padding stays padding


def test_reorder_keeps_the_multiset_and_moves_only_a_window():
    rng = np.random.default_rng(1)
    for seq in _sequences():
        out = reorder(seq, 0.5, rng)
        assert sorted(out.tolist()) == sorted(seq.tolist())
        changed = np.flatnonzero(out != seq)
        if len(changed):
            n = int((seq > 0).sum())
            assert changed[-1] - changed[0] + 1 <= int(np.floor(0.5 * n))


def test_crop_keeps_a_contiguous_window():
    rng = np.random.default_rng(2)
    for seq in _sequences():
        items = seq[seq > 0].tolist()
        out = crop(seq, 0.5, rng)
        window = out[out > 0].tolist()
        if not items:
            assert not window
            continue
        assert len(window) == max(1, int(np.floor(0.5 * len(items))))
        starts = [s for s in range(len(items) - len(window) + 1) if items[s : s + len(window)] == window]
        assert starts  # a contiguous run of the original
        assert out[-1] != 0  # left padding kept: the window ends at the last position


def test_mask_replaces_the_right_number_of_items():
    rng = np.random.default_rng(3)
    for seq in _sequences():
        out = mask(seq, 0.5, 99, rng)
        assert int((out == 99).sum()) == int(np.floor(0.5 * (seq > 0).sum()))
        kept = (out != 99)
        assert np.array_equal(out[kept], seq[kept])
    with pytest.raises(ValueError, match="mask_id"):
        mask([1, 2], 0.5, 0, rng)


def test_sequence_ops_are_deterministic_under_a_seed():
    seq = np.array([0, 0, 5, 3, 8, 1, 9, 4, 7, 2])
    for op in (lambda r: crop(seq, 0.5, r), lambda r: mask(seq, 0.3, 50, r), lambda r: reorder(seq, 0.5, r)):
        assert np.array_equal(op(np.random.default_rng(7)), op(np.random.default_rng(7)))
    with pytest.raises(ValueError, match="1-D"):
        crop(np.zeros((2, 3), np.int64), 0.5, np.random.default_rng(0))


# --- hooks in BPRMF ----------------------------------------------------------------------------


def _frame():
    users, items, _ = _skewed(n_users=60, n_items=40)
    return pd.DataFrame({"user_id": users + 1, "item_id": items + 1})


def test_bpr_defaults_are_unchanged_and_explicit_uniform_is_identical():
    train = _frame()
    a = BPRMF(n_factors=4, num_epochs=3, **FAST).fit(train)
    b = BPRMF(n_factors=4, num_epochs=3, negatives="uniform", drop_rate=0.0, **FAST).fit(train)
    assert np.array_equal(a.item_factors_, b.item_factors_)


@pytest.mark.parametrize("params", [{"negatives": "popularity"}, {"negatives": "popularity", "popularity_beta": 0.5},
                                    {"drop_rate": 0.3}])
def test_bpr_augmentations_train_deterministically_and_change_the_model(params):
    train = _frame()
    base = BPRMF(n_factors=4, num_epochs=3, **FAST).fit(train)
    a = BPRMF(n_factors=4, num_epochs=3, **params, **FAST).fit(train)
    b = BPRMF(n_factors=4, num_epochs=3, **params, **FAST).fit(train)
    assert np.array_equal(a.item_factors_, b.item_factors_)
    assert not np.allclose(a.item_factors_, base.item_factors_)
    assert np.isfinite(a.history_["train_loss"]).all()


def test_popularity_negatives_push_popular_items_down():
    """Popular items are negatives more often, so their learned bias falls relative to uniform."""
    train = _frame()
    counts = train["item_id"].value_counts()
    top = counts.index[:5]
    uni = BPRMF(n_factors=4, num_epochs=20, **FAST).fit(train)
    pop = BPRMF(n_factors=4, num_epochs=20, negatives="popularity", popularity_beta=1.0, **FAST).fit(train)
    s_uni = uni.predict(pd.DataFrame({"user_id": 1, "item_id": top})).mean()
    s_pop = pop.predict(pd.DataFrame({"user_id": 1, "item_id": top})).mean()
    all_items = pd.DataFrame({"user_id": 1, "item_id": counts.index})
    assert s_uni - uni.predict(all_items).mean() > s_pop - pop.predict(all_items).mean()


def test_bpr_config_validates_the_new_fields():
    with pytest.raises(ValueError, match="negatives"):
        BPRConfig(negatives="hard")
    with pytest.raises(ValueError, match="popularity_beta"):
        BPRConfig(popularity_beta=-1)
    with pytest.raises(ValueError, match="drop_rate"):
        BPRConfig(drop_rate=1.0)
