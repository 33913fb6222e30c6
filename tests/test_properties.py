"""Property-based tests (Hypothesis): invariants that must hold for *every* input, not examples.

* splitters: parts partition the rows (disjoint, complete, rows unchanged), no (user, item)
  pair lands in two parts, the input is never mutated, equal seeds give equal splits, and
  the temporal splitters never put a later event in train than one they hold out;
* encoders: fitted values round-trip, unseen values go to the documented slot;
* metrics: every metric of :mod:`recfeat_ref.metrics` stays in its documented range and
  equals its definition written out by brute force here, ties included.

The strategies are small (a few users and items, short lists) so that the whole file runs
in a few tens of seconds; ``derandomize=True`` makes CI runs reproducible, and
``database=None`` keeps a ``.hypothesis`` folder out of the working tree.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")  # a test extra (pyproject.toml); skip cleanly without it

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from recfeat_ref import metrics as M  # noqa: E402
from recfeat_ref._validation import DataValidationError  # noqa: E402
from recfeat_ref.features import OrdinalEncoder, TargetEncoder  # noqa: E402
from recfeat_ref.preprocessing import IdEncoder, OneHotEncoder  # noqa: E402
from recfeat_ref.splits import (  # noqa: E402
    kfold_split,
    leave_last_one_out,
    random_split,
    ratio_split_by_user,
    temporal_split,
)

FAST = settings(
    max_examples=40,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------


@st.composite
def interactions(draw, min_rows=2, max_rows=40, text_ids=None):
    """A frame of unique (user, item) pairs with coarse timestamps (ties) and a shuffled,
    non-default index; ids are ints or text."""
    n_users = draw(st.integers(1, 6))
    n_items = draw(st.integers(max(1, -(-min_rows // n_users)), 10))  # room for min_rows pairs
    cells = draw(
        st.lists(
            st.tuples(st.integers(0, n_users - 1), st.integers(0, n_items - 1)),
            min_size=min_rows,
            max_size=min(max_rows, n_users * n_items),
            unique=True,
        )
    )
    n = len(cells)
    timestamps = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))  # few values: ties
    labels = draw(st.permutations(range(100, 100 + n)))
    text = draw(st.booleans()) if text_ids is None else text_ids
    users = [f"u{u}" if text else u for u, _ in cells]
    items = [f"i{i}" if text else i for _, i in cells]
    return pd.DataFrame(
        {"user_id": users, "item_id": items, "rating": [float(1 + (u + i) % 5) for u, i in cells],
         "timestamp": timestamps},
        index=pd.Index(labels),
    )


def assert_partition(df: pd.DataFrame, parts) -> None:
    """Disjoint by label, complete, each row equal to the input's, columns unchanged."""
    labels = [list(p.index) for p in parts]
    flat = [x for ls in labels for x in ls]
    assert len(flat) == len(set(flat)) == len(df), "rows lost or in two parts"
    assert set(flat) == set(df.index)
    pd.testing.assert_frame_equal(pd.concat(parts).loc[df.index], df)


def assert_no_pair_in_two_parts(parts) -> None:
    seen: dict[tuple, int] = {}
    for k, part in enumerate(parts):
        for pair in zip(part["user_id"], part["item_id"]):
            assert seen.setdefault(pair, k) == k, f"pair {pair} is in parts {seen[pair]} and {k}"


def same_split(a, b) -> bool:
    return len(a) == len(b) and all(x.index.equals(y.index) for x, y in zip(a, b))


SEEDED = {
    "random_split 80/20": lambda d, s: random_split(d, (0.8, 0.2), seed=s),
    "random_split 80/10/10": lambda d, s: random_split(d, (0.8, 0.1, 0.1), seed=s),
    "ratio_split_by_user": lambda d, s: ratio_split_by_user(d, (0.8, 0.1, 0.1), seed=s),
    "kfold_split": lambda d, s: [p for pair in kfold_split(d, n_splits=2, seed=s) for p in pair],
}
DETERMINISTIC = {
    "temporal_split": lambda d, s: temporal_split(d, (0.6, 0.4)),
    "leave_last_one_out": lambda d, s: leave_last_one_out(d),
}


def _split_or_skip(fn, df, seed):
    """Run a splitter; a frame too small for its parts raises, naming the empty part."""
    try:
        return fn(df, seed)
    except DataValidationError as exc:
        assert "empty" in str(exc), exc
        return None


# ---------------------------------------------------------------------------
# splitters
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*SEEDED, *DETERMINISTIC])
@FAST
@given(df=interactions(), seed=st.integers(0, 2**31 - 1))
def test_splitters_partition_keep_pairs_apart_and_leave_the_input_alone(name, df, seed):
    fn = {**SEEDED, **DETERMINISTIC}[name]
    before = df.copy(deep=True)
    parts = _split_or_skip(fn, df, seed)
    pd.testing.assert_frame_equal(df, before)  # never mutated, even on error
    if parts is None:
        return
    if name == "kfold_split":  # (train, test) per fold: each fold is a partition
        for train, test in zip(parts[::2], parts[1::2]):
            assert_partition(df, (train, test))
            assert_no_pair_in_two_parts((train, test))
        tests = pd.Index(np.concatenate([t.index.to_numpy() for t in parts[1::2]]))
        assert tests.is_unique and set(tests) == set(df.index), "each row in exactly one test fold"
    else:
        assert_partition(df, parts)
        assert_no_pair_in_two_parts(parts)
    again = fn(df, seed)
    assert same_split(parts, again), "the same seed must give the same split"
    for part in parts:  # parts are new frames: writing into one leaves the input alone
        if len(part):
            part.iloc[0, part.columns.get_loc("rating")] = -1.0
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("name", list(SEEDED))
@FAST
@given(df=interactions(min_rows=4), seed=st.integers(0, 2**31 - 1))
def test_seeded_splitters_take_a_generator_and_never_touch_the_global_rng(name, df, seed):
    np.random.seed(7)
    state = np.random.get_state()[1].copy()
    a = _split_or_skip(lambda d, s: SEEDED[name](d, np.random.default_rng(s)), df, seed)
    assert np.array_equal(np.random.get_state()[1], state)
    if a is not None:
        assert same_split(a, SEEDED[name](df, np.random.default_rng(seed)))


@pytest.mark.parametrize("name", [*SEEDED, *DETERMINISTIC])
@FAST
@given(df=interactions(min_rows=1), data=st.data())
def test_a_repeated_pair_is_refused_by_every_splitter_and_allowed_on_request(name, df, data):
    row = data.draw(st.integers(0, len(df) - 1))
    dup = pd.concat([df, df.iloc[[row]].rename(index=lambda i: i + 1000)])  # one pair twice
    fn = {**SEEDED, **DETERMINISTIC}[name]
    with pytest.raises(DataValidationError, match=r"more than once.*duplicates='allow'") as info:
        fn(dup, 0)
    u, i = df["user_id"].iloc[row], df["item_id"].iloc[row]
    u, i = (v.item() if isinstance(v, np.generic) else v for v in (u, i))
    assert repr(u) in str(info.value) and repr(i) in str(info.value), "the raw ids of the pair are named"
    allowed = {
        "random_split 80/20": lambda d: random_split(d, (0.8, 0.2), duplicates="allow"),
        "random_split 80/10/10": lambda d: random_split(d, (0.8, 0.1, 0.1), duplicates="allow"),
        "ratio_split_by_user": lambda d: ratio_split_by_user(d, duplicates="allow"),
        "kfold_split": lambda d: list(kfold_split(d, n_splits=2, duplicates="allow"))[0],
        "temporal_split": lambda d: temporal_split(d, (0.6, 0.4), duplicates="allow"),
        "leave_last_one_out": lambda d: leave_last_one_out(d, duplicates="allow"),
    }[name]
    try:
        parts = allowed(dup)
    except DataValidationError as exc:  # too few rows for a part
        assert "empty" in str(exc)
        return
    assert_partition(dup, parts)


@FAST
@given(df=interactions(min_rows=3), ratios=st.sampled_from([(0.5, 0.5), (0.6, 0.4), (0.5, 0.25, 0.25)]))
def test_temporal_split_every_train_event_precedes_every_held_out_event(df, ratios):
    parts = _split_or_skip(lambda d, s: temporal_split(d, ratios), df, 0)
    if parts is None:
        return
    for earlier, later in zip(parts, parts[1:]):
        assert earlier["timestamp"].max() < later["timestamp"].min()  # strict: ties stay together
    for user in df["user_id"].unique():  # hence per user too
        times = [p.loc[p["user_id"] == user, "timestamp"] for p in parts]
        for a in range(len(times)):
            for b in range(a + 1, len(times)):
                if len(times[a]) and len(times[b]):
                    assert times[a].max() <= times[b].min()


@FAST
@given(df=interactions(), n_valid=st.integers(0, 3))
def test_leave_last_one_out_per_user_train_then_valid_then_test(df, n_valid):
    parts = leave_last_one_out(df, n_valid=n_valid)
    assert_partition(df, parts)
    position = pd.Series(np.arange(len(df)), index=df.index)
    # the documented event order: by timestamp, equal timestamps by row order
    key = {lbl: (t, position[lbl]) for lbl, t in df["timestamp"].items()}
    for user, rows in df.groupby("user_id", sort=False):
        per_part = [[key[lbl] for lbl in p.index[p["user_id"] == user]] for p in parts]
        for a in range(len(per_part)):
            for b in range(a + 1, len(per_part)):
                if per_part[a] and per_part[b]:
                    assert max(per_part[a]) < min(per_part[b]), f"user {user}: part {a} after part {b}"
        n_u = len(rows)
        test = per_part[-1]
        valid = per_part[1] if n_valid else []
        assert len(test) == (1 if n_u >= 2 else 0)
        assert len(valid) == (min(n_valid, n_u - 2) if n_u >= 3 else 0)
        assert len(per_part[0]) >= 1, "every user keeps a training row"


@FAST
@given(df=interactions(min_rows=3))
def test_text_timestamps_are_refused_never_ordered_as_text(df):
    text = df.assign(timestamp=(df["timestamp"] * 1000 + 998).astype(str))  # '998' vs '1998' ...
    for fn in (lambda d: temporal_split(d, (0.6, 0.4)), leave_last_one_out):
        with pytest.raises(DataValidationError, match=r"'timestamp'.*pd\.to_numeric"):
            fn(text)
    # the explicit conversion gives the numeric split
    converted = text.assign(timestamp=pd.to_numeric(text["timestamp"]))
    expect = leave_last_one_out(df.assign(timestamp=df["timestamp"] * 1000 + 998))
    assert same_split(leave_last_one_out(converted), expect)


# ---------------------------------------------------------------------------
# encoders
# ---------------------------------------------------------------------------

ids_int = st.lists(st.integers(-50, 50), min_size=1, max_size=30)
ids_text = st.lists(st.text(alphabet="abcxyz", min_size=0, max_size=3), min_size=1, max_size=30)


@FAST
@given(train=st.one_of(ids_int, ids_text), data=st.data())
def test_id_encoder_round_trips_and_maps_unseen_ids_to_zero(train, data):
    enc = IdEncoder().fit(train)
    vocab = sorted(set(train))
    assert enc.classes_.tolist() == vocab and enc.n_classes_ == len(vocab) + 1
    codes = enc.transform(train)
    assert codes.dtype == np.int64 and codes.min() >= 1 and codes.max() <= len(vocab)
    assert enc.inverse_transform(codes).tolist() == list(train)
    assert codes.tolist() == [vocab.index(v) + 1 for v in train], "codes are 1 + the sorted rank"
    pool = st.integers(-80, 80) if isinstance(train[0], int) else st.text(alphabet="abcdxyz", max_size=4)
    test = data.draw(st.lists(pool, min_size=1, max_size=20))
    got = enc.transform(test)
    for value, code in zip(test, got):
        assert code == (vocab.index(value) + 1 if value in vocab else 0)
    back = enc.inverse_transform(got)
    assert [b if c else None for b, c in zip(test, got)] == back.tolist()
    if any(v not in vocab for v in test):
        with pytest.raises(DataValidationError, match="not seen during fit"):
            IdEncoder(handle_unknown="error").fit(train).transform(test)


@FAST
@given(train=st.lists(st.tuples(st.sampled_from("abcd"), st.integers(0, 3)), min_size=1, max_size=25),
       test=st.lists(st.tuples(st.sampled_from("abcde"), st.integers(0, 5)), min_size=1, max_size=25),
       min_count=st.integers(1, 3))
def test_ordinal_and_one_hot_encoders_round_trip_and_send_unseen_to_the_documented_slot(train, test, min_count):
    Xtr = pd.DataFrame(train, columns=["letter", "n"])
    Xte = pd.DataFrame(test, columns=["letter", "n"])
    # OrdinalEncoder: codes 1..K for categories with >= min_count rows, 0 for the rest
    enc = OrdinalEncoder(min_count=min_count).fit(Xtr)
    codes = enc.transform(Xte)
    for j, col in enumerate(Xtr.columns):
        counts = Xtr[col].value_counts()
        kept = sorted(v for v, c in counts.items() if c >= min_count)
        assert enc.categories_[j].tolist() == kept
        for value, code in zip(Xte[col], codes[:, j]):
            assert code == (kept.index(value) + 1 if value in kept else 0)
            if code:
                assert enc.categories_[j][code - 1] == value  # round trip
    # OneHotEncoder: inverse(transform(x)) == x for known values; unseen -> all-zero block, None
    oh = OneHotEncoder(handle_unknown="ignore").fit(Xtr)
    hot = oh.transform(Xte)
    assert set(np.unique(hot)) <= {0.0, 1.0}
    back = oh.inverse_transform(hot)
    for j, col in enumerate(Xtr.columns):
        known = set(Xtr[col])
        block = hot[:, sum(len(c) for c in oh.categories_[:j]) : sum(len(c) for c in oh.categories_[: j + 1])]
        for row, value in enumerate(Xte[col]):
            assert block[row].sum() == (1 if value in known else 0)
            assert back[row, j] == (value if value in known else None)
    np.testing.assert_array_equal(oh.inverse_transform(oh.transform(Xtr)), Xtr.to_numpy(dtype=object))


@FAST
@given(cats=st.lists(st.sampled_from("abc"), min_size=2, max_size=25), data=st.data(),
       smoothing=st.sampled_from([0.0, 1.0, 10.0]))
def test_target_encoder_is_the_smoothed_mean_and_unseen_gets_the_prior(cats, data, smoothing):
    y = data.draw(st.lists(st.integers(0, 1), min_size=len(cats), max_size=len(cats)))
    X = pd.DataFrame({"c": cats})
    te = TargetEncoder(smoothing=smoothing).fit(X, y)
    prior = sum(y) / len(y)
    assert te.target_mean_ == pytest.approx(prior)
    probe = ["a", "b", "c", "zzz"]
    got = te.transform(pd.DataFrame({"c": probe})).ravel()
    for value, enc in zip(probe, got):
        rows = [t for c, t in zip(cats, y) if c == value]
        want = prior if not rows else (sum(rows) + smoothing * prior) / (len(rows) + smoothing)
        assert enc == pytest.approx(want)
        assert 0.0 <= enc <= 1.0


# ---------------------------------------------------------------------------
# classification and rating metrics
# ---------------------------------------------------------------------------

labels = st.lists(st.integers(0, 1), min_size=1, max_size=30)


@FAST
@given(data=st.data(), zero_division=st.sampled_from([0.0, 1.0]))
def test_classification_metrics_equal_their_definitions(data, zero_division):
    y = data.draw(labels)
    p = data.draw(st.lists(st.integers(0, 1), min_size=len(y), max_size=len(y)))
    tp = sum(1 for a, b in zip(y, p) if a == 1 and b == 1)
    fp = sum(1 for a, b in zip(y, p) if a == 0 and b == 1)
    fn = sum(1 for a, b in zip(y, p) if a == 1 and b == 0)
    want = {
        "accuracy": sum(a == b for a, b in zip(y, p)) / len(y),
        "precision": tp / (tp + fp) if tp + fp else zero_division,
        "recall": tp / (tp + fn) if tp + fn else zero_division,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else zero_division,
    }
    for name, value in want.items():
        kw = {} if name == "accuracy" else {"zero_division": zero_division}
        got = getattr(M, name)(y, p, **kw)
        assert 0.0 <= got <= 1.0
        assert got == pytest.approx(value)


@FAST
@given(data=st.data())
def test_roc_auc_is_the_pairwise_probability_ties_counting_half(data):
    y = data.draw(st.lists(st.integers(0, 1), min_size=2, max_size=30).filter(lambda v: 0 < sum(v) < len(v)))
    s = data.draw(st.lists(st.integers(0, 3), min_size=len(y), max_size=len(y)))  # small range: many ties
    pos = [b for a, b in zip(y, s) if a == 1]
    neg = [b for a, b in zip(y, s) if a == 0]
    want = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg) / (len(pos) * len(neg))
    got = M.roc_auc(y, s)
    assert 0.0 <= got <= 1.0 and got == pytest.approx(want)
    assert M.roc_auc(y, [-v for v in s]) == pytest.approx(1 - want), "reversing the scores mirrors the AUC"


@FAST
@given(data=st.data())
def test_log_loss_is_the_clipped_mean_negative_log_likelihood(data):
    y = data.draw(labels)
    p = data.draw(st.lists(st.sampled_from([0.0, 1e-20, 0.1, 0.5, 0.9, 1.0]), min_size=len(y), max_size=len(y)))
    eps = 1e-15
    clip = [min(max(v, eps), 1 - eps) for v in p]
    want = -sum(math.log(c) if a == 1 else math.log1p(-c) for a, c in zip(y, clip)) / len(y)
    got = M.log_loss(y, p)
    # The docstring's bound is -ln(eps); in floating point 1 - (1 - eps) is not eps, so the
    # largest loss (a 0 predicted with p = 1) is -ln(1 - fl(1 - eps)), 8e-4 nats above it.
    assert 0.0 <= got <= max(-math.log(eps), -math.log1p(-(1 - eps))) + 1e-12
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


@FAST
@given(data=st.data())
def test_rmse_and_mae_equal_their_definitions(data):
    t = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=30))
    p = data.draw(st.lists(st.floats(-10, 10, allow_nan=False), min_size=len(t), max_size=len(t)))
    rmse = math.sqrt(sum((a - b) ** 2 for a, b in zip(t, p)) / len(t))
    mae = sum(abs(a - b) for a, b in zip(t, p)) / len(t)
    assert M.rmse(t, p) == pytest.approx(rmse, abs=1e-12)
    assert M.mae(t, p) == pytest.approx(mae, abs=1e-12)
    assert 0.0 <= M.mae(t, p) <= M.rmse(t, p) + 1e-12


# ---------------------------------------------------------------------------
# ranking and beyond-accuracy metrics (small catalogues)
# ---------------------------------------------------------------------------


@st.composite
def ranking_case(draw):
    """(topk, relevant, k, n_items): lists without repeats, at least one user with a relevant item."""
    n_items = draw(st.integers(1, 8))
    width = draw(st.integers(1, n_items))
    n_users = draw(st.integers(1, 5))
    topk = [draw(st.permutations(range(n_items)))[:width] for _ in range(n_users)]
    relevant = [set(draw(st.lists(st.integers(0, n_items + 2), max_size=5))) for _ in range(n_users)]
    if not any(relevant):
        relevant[draw(st.integers(0, n_users - 1))] = {draw(st.integers(0, n_items - 1))}
    k = draw(st.integers(1, width))
    return np.array(topk, dtype=np.int64), relevant, k, n_items


def brute_force_ranking(topk, relevant, k):
    """Each ranking metric per user, from its docstring's formula, as plain Python."""
    out = {name: [] for name in ("precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k",
                                 "hit_rate_at_k", "mrr_at_k")}
    for row, rel in zip(topk, relevant):
        if not rel:
            continue
        hit = [1 if int(i) in rel else 0 for i in row[:k]]
        r_u = len(rel)
        out["precision_at_k"].append(sum(hit) / k)
        out["recall_at_k"].append(sum(hit) / r_u)
        dcg = sum(h / math.log2(j + 2) for j, h in enumerate(hit))
        idcg = sum(1 / math.log2(j + 2) for j in range(min(k, r_u)))
        out["ndcg_at_k"].append(dcg / idcg)
        ap = sum((sum(hit[: j + 1]) / (j + 1)) * h for j, h in enumerate(hit)) / min(k, r_u)
        out["map_at_k"].append(ap)
        out["hit_rate_at_k"].append(1.0 if any(hit) else 0.0)
        first = next((j for j, h in enumerate(hit) if h), None)
        out["mrr_at_k"].append(0.0 if first is None else 1 / (first + 1))
    return {name: sum(v) / len(v) for name, v in out.items()}


@FAST
@given(case=ranking_case())
def test_ranking_metrics_equal_their_definitions_and_stay_in_range(case):
    topk, relevant, k, _ = case
    want = brute_force_ranking(topk, relevant, k)
    report = M.ranking_report(topk, relevant, k=k)
    for name, value in want.items():
        got = getattr(M, name)(topk, relevant, k=k)
        assert 0.0 <= got <= 1.0 + 1e-12, name
        assert got == pytest.approx(value, abs=1e-12), name
        assert report[name] == pytest.approx(got, abs=1e-15)
        per_user = getattr(M, name)(topk, relevant, k=k, per_user=True)
        assert np.isnan(per_user[[not r for r in relevant]]).all(), "users without relevant items: NaN"


def test_ranking_metrics_raise_when_no_user_has_a_relevant_item():
    with pytest.raises(DataValidationError, match="none of the"):
        M.ndcg_at_k([[0, 1]], [set()], k=2)


@FAST
@given(data=st.data())
def test_topk_items_is_a_stable_sort_by_descending_score_with_exclusion(data):
    n_users, n_items = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 7))
    scores = np.array(data.draw(st.lists(st.lists(st.integers(0, 3), min_size=n_items, max_size=n_items),
                                         min_size=n_users, max_size=n_users)), dtype=float)  # ties
    exclude = [data.draw(st.sets(st.integers(0, n_items - 1), max_size=n_items - 1)) for _ in range(n_users)]
    k = data.draw(st.integers(1, n_items - max(len(e) for e in exclude)))
    got = M.topk_items(scores, k, exclude=[sorted(e) for e in exclude])
    for u in range(n_users):
        order = sorted((j for j in range(n_items) if j not in exclude[u]), key=lambda j: (-scores[u, j], j))
        assert got[u].tolist() == order[:k]


@FAST
@given(case=ranking_case(), data=st.data())
def test_beyond_accuracy_metrics_equal_their_definitions_and_stay_in_range(case, data):
    topk, _, k, n_items = case
    top = topk[:, :k]
    coverage = M.catalog_coverage(topk, n_items, k=k)
    assert 0.0 < coverage <= 1.0
    assert coverage == pytest.approx(len({int(i) for row in top for i in row}) / n_items)
    # novelty: popularity counts of users per item, N users
    n_users = data.draw(st.integers(1, 6))
    pop = data.draw(st.lists(st.integers(1, n_users), min_size=n_items, max_size=n_items))
    nov = M.novelty(topk, pop, k=k, n_users=n_users)
    want = sum(-math.log2(pop[int(i)] / n_users) for row in top for i in row) / top.size
    assert nov == pytest.approx(want, abs=1e-12)
    assert -1e-12 <= nov <= math.log2(n_users) + 1e-12
    # intra-list diversity: mean pairwise cosine distance; [0, 1] for non-negative features
    if k >= 2:
        feats = np.array(data.draw(st.lists(
            st.lists(st.integers(0, 2), min_size=3, max_size=3).filter(any), min_size=n_items, max_size=n_items)),
            dtype=float)
        ild = M.intra_list_diversity(topk, feats, k=k)
        per_user = []
        for row in top:
            pairs = [(a, b) for x, a in enumerate(row) for b in row[x + 1 :]]
            cos = [feats[a] @ feats[b] / (np.linalg.norm(feats[a]) * np.linalg.norm(feats[b])) for a, b in pairs]
            per_user.append(sum(1 - c for c in cos) / len(pairs))
        assert ild == pytest.approx(sum(per_user) / len(per_user), abs=1e-9)
        assert -1e-12 <= ild <= 1.0 + 1e-12
