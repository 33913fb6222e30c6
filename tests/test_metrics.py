"""Tests for recfeat_ref.metrics.

Each metric is checked three ways: against a reference (scikit-learn, or a
plain-loop implementation written here independently of the vectorised code)
on many random inputs, on hand-computed worked examples, and on edge cases.
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn import metrics as skm

from recfeat_ref import metrics as M
from recfeat_ref._validation import DataValidationError

N_SEEDS = 200

RANKING_METRICS = [
    M.precision_at_k,
    M.recall_at_k,
    M.ndcg_at_k,
    M.map_at_k,
    M.hit_rate_at_k,
    M.mrr_at_k,
]


# --- Plain-loop reference implementations (one user at a time, no NumPy tricks) -------


def brute_topk(scores, k, exclude_lists=None):
    """Stable sort of the items by descending score, excluded items dropped."""
    out = []
    for u, row in enumerate(scores):
        banned = set(exclude_lists[u]) if exclude_lists is not None else set()
        items = [i for i in range(len(row)) if i not in banned]
        items = sorted(items, key=lambda i: (-row[i], i))
        out.append(items[:k])
    return np.array(out, dtype=np.int64)


def brute_user(name, ranked, rel, k):
    """One user's metric value by the textbook definitions; None if no relevant items."""
    rel = set(rel)
    if not rel:
        return None
    ranked = list(ranked)[:k]
    hits = [1 if item in rel else 0 for item in ranked]
    if name == "precision_at_k":
        return sum(hits) / k
    if name == "recall_at_k":
        return sum(hits) / len(rel)
    if name == "ndcg_at_k":
        dcg = sum(h / math.log2(j + 2) for j, h in enumerate(hits))
        idcg = sum(1 / math.log2(j + 2) for j in range(min(k, len(rel))))
        return dcg / idcg
    if name == "map_at_k":
        total, found = 0.0, 0
        for j, h in enumerate(hits):
            if h:
                found += 1
                total += found / (j + 1)
        return total / min(k, len(rel))
    if name == "hit_rate_at_k":
        return 1.0 if any(hits) else 0.0
    if name == "mrr_at_k":
        for j, h in enumerate(hits):
            if h:
                return 1.0 / (j + 1)
        return 0.0
    raise AssertionError(name)


def brute_metric(name, topk, relevant, k):
    values = [brute_user(name, topk[u], relevant[u], k) for u in range(len(topk))]
    per_user = np.array([np.nan if v is None else v for v in values])
    kept = [v for v in values if v is not None]
    return per_user, sum(kept) / len(kept)


def random_ranking_case(rng):
    """Random scores with many ties, exclusions, relevance sets (some empty, some repeats)."""
    n_users = int(rng.integers(1, 12))
    n_items = int(rng.integers(2, 30))
    scores = rng.integers(0, 4, size=(n_users, n_items)).astype(float)  # heavy ties
    n_excl = rng.integers(0, n_items // 2 + 1, size=n_users)
    exclude = [rng.choice(n_items, size=m, replace=False) for m in n_excl]
    k = int(rng.integers(1, n_items - n_excl.max() + 1))
    relevant = []
    for _ in range(n_users):
        kind = rng.integers(0, 3)
        items = rng.integers(0, n_items, size=int(rng.integers(0, n_items + 1)))
        relevant.append(set(items.tolist()) if kind == 0 else items.tolist() if kind == 1 else items)
    if not any(len(r) for r in relevant):
        relevant[0] = [0]
    return scores, exclude, k, relevant


# --- Classification vs scikit-learn ---------------------------------------------------


@pytest.mark.parametrize("zero_division", [0.0, 1.0])
def test_confusion_metrics_match_sklearn(zero_division):
    for seed in range(N_SEEDS):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(1, 40))
        y_true = rng.integers(0, 2, n)
        y_pred = rng.integers(0, 2, n)
        if seed % 10 == 0:
            y_pred[:] = 0  # nothing predicted positive: precision is 0/0
        if seed % 10 == 1:
            y_true[:] = 0  # no true positive: recall is 0/0
        if seed % 10 == 2:
            y_true[:] = 0
            y_pred[:] = 0  # F1 is 0/0 too
        msg = f"seed {seed}: {y_true} {y_pred}"
        assert M.accuracy(y_true, y_pred) == pytest.approx(
            skm.accuracy_score(y_true, y_pred)
        ), msg
        for ours, theirs in [
            (M.precision, skm.precision_score),
            (M.recall, skm.recall_score),
            (M.f1, skm.f1_score),
        ]:
            expected = theirs(y_true, y_pred, zero_division=zero_division)
            assert ours(y_true, y_pred, zero_division=zero_division) == pytest.approx(
                expected
            ), f"{ours.__name__} {msg}"


def test_roc_auc_matches_sklearn_with_ties():
    for seed in range(N_SEEDS):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(2, 60))
        y_true = rng.integers(0, 2, n)
        y_true[:2] = [0, 1]  # both classes present
        if seed % 2:
            y_score = rng.integers(0, 4, n) / 3  # many ties
        else:
            y_score = rng.normal(size=n)
        assert M.roc_auc(y_true, y_score) == pytest.approx(
            skm.roc_auc_score(y_true, y_score), abs=1e-12
        ), f"seed {seed}"


def test_log_loss_matches_sklearn():
    for seed in range(N_SEEDS):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(1, 60))
        y_true = rng.integers(0, 2, n)
        y_prob = rng.uniform(1e-3, 1 - 1e-3, n)
        assert M.log_loss(y_true, y_prob) == pytest.approx(
            skm.log_loss(y_true, y_prob, labels=[0, 1]), rel=1e-10
        ), f"seed {seed}"


def test_rating_metrics_match_sklearn():
    for seed in range(N_SEEDS):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(1, 60))
        y_true = rng.integers(1, 6, n).astype(float)
        y_pred = rng.uniform(0.5, 5.5, n)
        assert M.rmse(y_true, y_pred) == pytest.approx(
            math.sqrt(skm.mean_squared_error(y_true, y_pred)), rel=1e-12
        )
        assert M.mae(y_true, y_pred) == pytest.approx(
            skm.mean_absolute_error(y_true, y_pred), rel=1e-12
        )


# --- Classification: worked examples and edge cases -------------------------------------


def test_classification_worked_example():
    # y_true = 1 1 1 0 0 0 0 1 ; y_pred = 1 0 1 1 0 0 0 0
    # TP = 2 (pos 0, 2), FN = 2 (pos 1, 7), FP = 1 (pos 3), TN = 3
    y_true = [1, 1, 1, 0, 0, 0, 0, 1]
    y_pred = [1, 0, 1, 1, 0, 0, 0, 0]
    assert M.accuracy(y_true, y_pred) == pytest.approx(5 / 8)
    assert M.precision(y_true, y_pred) == pytest.approx(2 / 3)
    assert M.recall(y_true, y_pred) == pytest.approx(2 / 4)
    assert M.f1(y_true, y_pred) == pytest.approx(2 * 2 / (2 * 2 + 1 + 2))  # 4/7


def test_roc_auc_worked_example():
    # scores 0.1(neg) 0.4(neg) 0.35(pos) 0.8(pos): ascending ranks 1, 3, 2, 4;
    # positive rank sum 6, U = 6 - 2*3/2 = 3, AUC = 3 / (2*2) = 0.75.
    assert M.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    # A perfect and a reversed ranking; a tie between all scores gives 0.5.
    assert M.roc_auc([0, 0, 1], [1, 2, 3]) == 1.0
    assert M.roc_auc([0, 0, 1], [3, 2, 1]) == 0.0
    assert M.roc_auc([0, 1, 1, 0], [7, 7, 7, 7]) == 0.5


def test_roc_auc_one_class_raises():
    with pytest.raises(DataValidationError, match="only class 1"):
        M.roc_auc([1, 1, 1], [0.2, 0.5, 0.9])
    with pytest.raises(DataValidationError, match="only class 0"):
        M.roc_auc([0, 0], [0.2, 0.5])


def test_log_loss_clips_and_hand_value():
    # -(ln 0.9 + ln 0.8) / 2
    assert M.log_loss([1, 0], [0.9, 0.2]) == pytest.approx(-(math.log(0.9) + math.log(0.8)) / 2)
    # A confident mistake costs -ln(eps), not infinity.
    assert M.log_loss([1], [0.0]) == pytest.approx(-math.log(1e-15))
    assert M.log_loss([0], [1.0], eps=1e-7) == pytest.approx(-math.log(1e-7))
    assert M.log_loss([1, 0], [1.0, 0.0]) == pytest.approx(-math.log(1 - 1e-15), abs=1e-14)
    with pytest.raises(DataValidationError, match="eps"):
        M.log_loss([1], [0.5], eps=0)


def test_zero_division_cases():
    # nothing predicted positive -> precision 0/0; no positives at all -> recall, F1 0/0
    assert M.precision([1, 0], [0, 0]) == 0.0
    assert M.recall([0, 0], [1, 0]) == 0.0
    assert M.f1([0, 0], [0, 0]) == 0.0
    assert M.precision([1, 0], [0, 0], zero_division=1.0) == 1.0
    assert math.isnan(M.f1([0, 0], [0, 0], zero_division=np.nan))
    # F1 with TP = 0 but FP > 0 is 0 whatever zero_division says
    assert M.f1([0, 0], [1, 0], zero_division=1.0) == 0.0
    with pytest.raises(DataValidationError, match="zero_division"):
        M.precision([1], [1], zero_division=0.5)


@pytest.mark.parametrize(
    "fn", [M.accuracy, M.precision, M.recall, M.f1, M.roc_auc, M.log_loss, M.rmse, M.mae]
)
def test_pairwise_metrics_validate_inputs(fn):
    with pytest.raises(DataValidationError, match="y_true: the array is empty"):
        fn([], [])
    with pytest.raises(DataValidationError, match=r"has 3 values but .* has 2"):
        fn([0, 1, 1], [0, 1])
    with pytest.raises(DataValidationError, match=r"y_true: 1 value\(s\) are NaN .*positions \[1\]"):
        fn([0, np.nan], [0, 1])
    with pytest.raises(DataValidationError, match="NaN"):
        fn([0, 1], [np.nan, 1])
    with pytest.raises(DataValidationError, match="1-D"):
        fn([[0, 1]], [[0, 1]])
    with pytest.raises(DataValidationError, match="expected numbers"):
        fn(["a", "b"], [0, 1])


def test_label_and_probability_validation_names_values():
    with pytest.raises(DataValidationError, match=r"y_true: labels must be 0 or 1, found \[2\.0\]"):
        M.accuracy([0, 2], [0, 1])
    with pytest.raises(DataValidationError, match=r"y_pred: labels must be 0 or 1, found \[0\.7\]"):
        M.f1([0, 1], [0, 0.7])
    with pytest.raises(DataValidationError, match=r"y_prob: probabilities .* found \[1\.5\]"):
        M.log_loss([0, 1], [0.2, 1.5])
    with pytest.raises(DataValidationError, match="y_true: labels"):
        M.roc_auc([0, 1, 3], [0.1, 0.2, 0.3])
    # Booleans are fine labels.
    assert M.accuracy(np.array([True, False]), np.array([True, True])) == 0.5


def test_rating_worked_example():
    # errors -1, 0, -2 -> MSE 5/3, MAE 1
    assert M.rmse([4, 3, 5], [3, 3, 3]) == pytest.approx(math.sqrt(5 / 3))
    assert M.mae([4, 3, 5], [3, 3, 3]) == 1.0
    assert M.rmse([1, 2], [1, 2]) == 0.0


# --- topk_items ------------------------------------------------------------------


def test_topk_matches_brute_force_stable_sort():
    for seed in range(N_SEEDS):
        rng = np.random.default_rng(seed)
        scores, exclude, k, _ = random_ranking_case(rng)
        expected = brute_topk(scores, k, exclude)
        np.testing.assert_array_equal(M.topk_items(scores, k, exclude=exclude), expected)
        # The same exclusion as a sparse matrix gives the same lists.
        rows = np.repeat(np.arange(len(exclude)), [len(e) for e in exclude])
        cols = np.concatenate(exclude)
        X = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=scores.shape)
        np.testing.assert_array_equal(M.topk_items(scores, k, exclude=X), expected)
        # Without exclusion.
        np.testing.assert_array_equal(M.topk_items(scores, k), brute_topk(scores, k))


def test_topk_tie_break_by_lower_index():
    scores = np.array([[0.5, 0.9, 0.5, 0.9, 0.5], [1.0, 1.0, 1.0, 1.0, 1.0]])
    topk = M.topk_items(scores, k=4)
    # user 0: 0.9 ties (1, 3) then 0.5 ties (0, 2, 4) -> lower index first
    np.testing.assert_array_equal(topk, [[1, 3, 0, 2], [0, 1, 2, 3]])
    assert topk.dtype == np.int64 and topk.shape == (2, 4)


def test_topk_exclusion_never_recommends_training_items():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(50, 40))
    train = sp.random(50, 40, density=0.5, random_state=1, format="csr")
    topk = M.topk_items(scores, k=10, exclude=train)
    for u in range(50):
        assert not set(topk[u]) & set(train[u].indices), f"user {u}"
    # Exclusion by list of sets, and an explicitly stored zero is not an interaction.
    X = sp.csr_matrix((np.array([0.0, 1.0]), (np.array([0, 0]), np.array([2, 3]))), shape=(1, 4))
    s = np.array([[0.1, 0.2, 0.9, 0.8]])
    np.testing.assert_array_equal(M.topk_items(s, 2, exclude=X), [[2, 1]])
    np.testing.assert_array_equal(M.topk_items(s, 2, exclude=[{2, 3}]), [[1, 0]])


def test_topk_torch_input_and_input_untouched():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    scores = rng.normal(size=(6, 9)).astype(np.float32)
    scores[:, 4] = scores[:, 5]  # ties
    before = scores.copy()
    expected = M.topk_items(scores, 3, exclude=[[0], [], [1, 2], [], [8], []])
    np.testing.assert_array_equal(scores, before)  # caller's array not modified
    got = M.topk_items(torch.from_numpy(scores), 3, exclude=[[0], [], [1, 2], [], [8], []])
    np.testing.assert_array_equal(got, expected)
    got = M.topk_items(torch.from_numpy(scores).to(torch.bfloat16), 3)
    assert got.shape == (6, 3)
    # topk as a tensor works for the ranking metrics too.
    assert M.precision_at_k(torch.tensor([[0, 1]]), [{1}], k=2) == 0.5


def test_topk_validation():
    s = np.zeros((2, 3))
    with pytest.raises(DataValidationError, match=r"k=4 exceeds the number of items \(3\)"):
        M.topk_items(s, 4)
    with pytest.raises(DataValidationError, match="k=0"):
        M.topk_items(s, 0)
    with pytest.raises(TypeError, match="k must be an integer"):
        M.topk_items(s, 2.0)
    with pytest.raises(DataValidationError, match="2-D"):
        M.topk_items(np.zeros(3), 1)
    with pytest.raises(DataValidationError, match=r"users \[1\] have NaN or infinite"):
        M.topk_items(np.array([[0.0, 1.0], [np.nan, 1.0]]), 1)
    with pytest.raises(DataValidationError, match="fewer than k=2"):
        M.topk_items(s, 2, exclude=[[0, 1], []])
    with pytest.raises(DataValidationError, match=r"exclude has 1 entries but scores has 2"):
        M.topk_items(s, 1, exclude=[[0]])
    with pytest.raises(DataValidationError, match=r"out of range for 3 items"):
        M.topk_items(s, 1, exclude=[[3], []])
    with pytest.raises(DataValidationError, match="shape"):
        M.topk_items(s, 1, exclude=sp.csr_matrix((2, 4)))


def test_topk_at_movielens_size_never_returns_training_items():
    """Correctness at full ML-100K size; its speed is measured by benchmarks/bench_core.py."""
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(943, 1682)).astype(np.float32)
    rows, cols = rng.integers(0, 943, 100_000), rng.integers(0, 1682, 100_000)
    train = sp.csr_matrix((np.ones(100_000), (rows, cols)), shape=(943, 1682))
    top = M.topk_items(scores, 10, train)
    assert top.shape == (943, 10)
    assert not np.asarray(train[np.arange(943)[:, None], top].todense()).any()


# --- Ranking metrics vs plain loops and scikit-learn ----------------------------------


def test_ranking_metrics_match_brute_force():
    for seed in range(N_SEEDS):
        rng = np.random.default_rng(seed)
        scores, exclude, k, relevant = random_ranking_case(rng)
        topk = M.topk_items(scores, k, exclude=exclude)
        report = M.ranking_report(topk, relevant, k=k)
        for fn in RANKING_METRICS:
            per_user, mean = brute_metric(fn.__name__, topk, relevant, k)
            msg = f"{fn.__name__} seed {seed}"
            np.testing.assert_allclose(fn(topk, relevant, k=k, per_user=True), per_user, err_msg=msg)
            assert fn(topk, relevant, k=k) == pytest.approx(mean), msg
            assert report[fn.__name__] == pytest.approx(mean), msg


def test_metrics_use_only_first_k_columns():
    rng = np.random.default_rng(4)
    scores = rng.normal(size=(5, 20))
    topk = M.topk_items(scores, 8)
    relevant = [set(rng.choice(20, 4, replace=False).tolist()) for _ in range(5)]
    for fn in RANKING_METRICS:
        assert fn(topk, relevant, k=3) == pytest.approx(fn(topk[:, :3], relevant, k=3))


def test_ndcg_matches_sklearn_on_tie_free_scores():
    for seed in range(N_SEEDS):
        rng = np.random.default_rng(seed)
        n_users, n_items = int(rng.integers(1, 10)), int(rng.integers(2, 30))
        scores = rng.random((n_users, n_items))  # continuous: no ties
        y_rel = (rng.random((n_users, n_items)) < rng.uniform(0.05, 0.6)).astype(int)
        y_rel[:, rng.integers(0, n_items)] = 1  # every user has a relevant item
        k = int(rng.integers(1, n_items + 1))
        topk = M.topk_items(scores, k)
        relevant = [np.flatnonzero(row) for row in y_rel]
        assert M.ndcg_at_k(topk, relevant, k=k) == pytest.approx(
            skm.ndcg_score(y_rel, scores, k=k), rel=1e-10
        ), f"seed {seed}"


# --- Ranking: worked example and edge cases -------------------------------------------


def test_ranking_worked_example():
    # user 0: list 5 1 7 3 9, relevant {1, 3, 4} -> hits 0 1 0 1 0
    #   P@5 = 2/5, R@5 = 2/3, HR = 1, RR = 1/2
    #   AP@5 = (P@2 + P@4) / min(5, 3) = (1/2 + 2/4) / 3 = 1/3
    #   DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068 = 1.06161
    #   IDCG = 1/log2(2) + 1/log2(3) + 1/log2(4) = 1 + 0.63093 + 0.5 = 2.13093
    #   nDCG = 1.06161 / 2.13093 = 0.49819
    # user 1: list 2 4 6 8 0, relevant {2} -> hits 1 0 0 0 0
    #   P = 1/5, R = 1, AP = 1/1, nDCG = 1, HR = 1, RR = 1
    # user 2: no relevant items -> NaN, left out of every mean
    topk = np.array([[5, 1, 7, 3, 9], [2, 4, 6, 8, 0], [1, 2, 3, 4, 5]])
    relevant = [{1, 3, 4}, [2], set()]
    ndcg0 = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3) + 0.5)
    assert ndcg0 == pytest.approx(0.49819, abs=1e-5)
    expected = {
        "precision_at_k": (2 / 5, 1 / 5),
        "recall_at_k": (2 / 3, 1.0),
        "ndcg_at_k": (ndcg0, 1.0),
        "map_at_k": (1 / 3, 1.0),
        "hit_rate_at_k": (1.0, 1.0),
        "mrr_at_k": (1 / 2, 1.0),
    }
    report = M.ranking_report(topk, relevant, k=5)
    assert list(report) == [fn.__name__ for fn in RANKING_METRICS]
    for fn in RANKING_METRICS:
        u0, u1 = expected[fn.__name__]
        per_user = fn(topk, relevant, k=5, per_user=True)
        assert per_user[:2] == pytest.approx([u0, u1]), fn.__name__
        assert math.isnan(per_user[2]), fn.__name__
        assert fn(topk, relevant, k=5) == pytest.approx((u0 + u1) / 2), fn.__name__
        assert report[fn.__name__] == pytest.approx((u0 + u1) / 2), fn.__name__


def test_ranking_worked_example_k2():
    # Same user 0 at k = 2: list 5 1, hits 0 1
    #   P@2 = 1/2, R@2 = 1/3, AP@2 = (1/2) / min(2, 3) = 1/4,
    #   nDCG@2 = (1/log2 3) / (1 + 1/log2 3) = 0.63093 / 1.63093 = 0.38685, HR = 1, RR = 1/2
    topk, relevant = [[5, 1, 7, 3, 9]], [{1, 3, 4}]
    assert M.precision_at_k(topk, relevant, k=2) == pytest.approx(0.5)
    assert M.recall_at_k(topk, relevant, k=2) == pytest.approx(1 / 3)
    assert M.map_at_k(topk, relevant, k=2) == pytest.approx(0.25)
    assert M.ndcg_at_k(topk, relevant, k=2) == pytest.approx(0.38685, abs=1e-5)
    assert M.hit_rate_at_k(topk, relevant, k=2) == 1.0
    assert M.mrr_at_k(topk, relevant, k=2) == 0.5


@pytest.mark.parametrize("fn", RANKING_METRICS)
def test_no_hits_give_zero(fn):
    assert fn([[0, 1, 2], [3, 4, 5]], [{9}, {7, 8}], k=3) == 0.0


@pytest.mark.parametrize("fn", [M.ndcg_at_k, M.map_at_k, M.hit_rate_at_k, M.mrr_at_k])
def test_perfect_ranking_gives_one(fn):
    # Relevant items first; also when a user has more relevant items than k.
    relevant = [{0, 1}, {3, 4, 5, 6, 7}]
    assert fn([[0, 1, 2], [3, 4, 5]], relevant, k=3) == 1.0


def test_perfect_ranking_precision_recall_conventions():
    # precision divides by k, recall by R_u (not min(k, R_u)).
    topk = [[0, 1, 2], [3, 4, 5]]
    relevant = [{0, 1, 2}, {3, 4, 5, 6, 7, 8}]
    assert M.precision_at_k(topk, relevant, k=3) == 1.0
    np.testing.assert_allclose(M.recall_at_k(topk, relevant, k=3, per_user=True), [1.0, 0.5])
    # MAP normalised by min(k, R_u): the perfect list of user 1 scores 1.
    np.testing.assert_allclose(M.map_at_k(topk, relevant, k=3, per_user=True), [1.0, 1.0])


@pytest.mark.parametrize("fn", RANKING_METRICS)
def test_users_without_relevant_items(fn):
    topk = [[0, 1], [2, 3], [4, 5]]
    per_user = fn(topk, [{0}, set(), np.array([], dtype=int)], k=2, per_user=True)
    assert per_user.shape == (3,)
    assert not math.isnan(per_user[0]) and math.isnan(per_user[1]) and math.isnan(per_user[2])
    assert fn(topk, [{0}, set(), []], k=2) == pytest.approx(per_user[0])
    with pytest.raises(DataValidationError, match="none of the 3 users has a relevant item"):
        fn(topk, [set(), [], np.array([], dtype=int)], k=2)


@pytest.mark.parametrize("fn", RANKING_METRICS + [M.ranking_report])
def test_ranking_validation(fn):
    topk = np.array([[0, 1], [2, 3]])
    relevant = [{0}, {3}]
    with pytest.raises(DataValidationError, match=r"k=3 exceeds the width of topk .*\(2\)"):
        fn(topk, relevant, k=3)
    with pytest.raises(DataValidationError, match="k=0"):
        fn(topk, relevant, k=0)
    with pytest.raises(DataValidationError, match="relevant has 1 entries but topk has 2 rows"):
        fn(topk, [{0}], k=2)
    with pytest.raises(DataValidationError, match="integer item indices"):
        fn(topk.astype(float), relevant, k=2)
    with pytest.raises(DataValidationError, match=r"users \[1\] have an item twice"):
        fn(np.array([[0, 1], [2, 2]]), relevant, k=2)
    with pytest.raises(DataValidationError, match=r"relevant\[1\]: item indices must be integers"):
        fn(topk, [{0}, [1.5]], k=2)
    with pytest.raises(DataValidationError, match=r"relevant\[0\]: expected a collection"):
        fn(topk, [None, {1}], k=2)
    with pytest.raises(DataValidationError, match="2-D"):
        fn(np.array([0, 1]), relevant, k=1)


def test_relevant_from_frame():
    df = pd.DataFrame({"user_id": [0, 0, 2, 2, 0], "item_id": [5, 1, 3, 3, 7]})
    assert M.relevant_from_frame(df, n_users=4) == [{1, 5, 7}, set(), {3}, set()]
    other = df.rename(columns={"user_id": "u", "item_id": "i"})
    assert M.relevant_from_frame(other, 3, user_col="u", item_col="i") == [{1, 5, 7}, set(), {3}]
    with pytest.raises(DataValidationError, match=r"missing column\(s\) \['user_id', 'item_id'\]"):
        M.relevant_from_frame(other, 3)
    with pytest.raises(DataValidationError, match=r"'user_id' has 2 value\(s\) outside \[0, 1\]"):
        M.relevant_from_frame(df, n_users=2)
    with pytest.raises(DataValidationError, match="expected integer indices"):
        M.relevant_from_frame(df.astype({"item_id": float}), n_users=3)
    with pytest.raises(DataValidationError, match="empty"):
        M.relevant_from_frame(df.iloc[:0], n_users=3)


# --- Beyond accuracy ------------------------------------------------------------------


def test_catalog_coverage():
    # items recommended {0, 1, 2} of 5 -> 3/5; with k = 1 only {0, 1} -> 2/5
    topk = [[0, 1], [1, 2]]
    assert M.catalog_coverage(topk, n_items=5, k=2) == pytest.approx(0.6)
    assert M.catalog_coverage(topk, n_items=5, k=1) == pytest.approx(0.4)
    assert M.catalog_coverage([[0, 1], [2, 3]], n_items=4, k=2) == 1.0
    with pytest.raises(DataValidationError, match=r"item indices \[4\] are out of range"):
        M.catalog_coverage([[0, 4]], n_items=4, k=2)
    with pytest.raises(DataValidationError, match="k=3 exceeds"):
        M.catalog_coverage(topk, n_items=5, k=3)


def test_intra_list_diversity_hand_example():
    # f0 = (1, 0), f1 = (0, 1), f2 = (1, 1)
    # cos(0,1) = 0 -> distance 1; cos(0,2) = cos(1,2) = 1/sqrt2 -> distance 0.29289
    # k = 2: lists [0, 1] -> 1, [0, 2] -> 0.29289; mean 0.64645
    # k = 3: list [0, 1, 2] -> (1 + 0.29289 + 0.29289) / 3 = 0.52860
    f = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    d = 1 - 1 / math.sqrt(2)
    assert M.intra_list_diversity([[0, 1], [0, 2]], f, k=2) == pytest.approx((1 + d) / 2)
    assert M.intra_list_diversity([[0, 1, 2]], f, k=3) == pytest.approx((1 + 2 * d) / 3)
    # Scaling features does not change cosine distance; parallel features give 0.
    assert M.intra_list_diversity([[0, 1]], 5 * f, k=2) == pytest.approx(1.0)
    assert M.intra_list_diversity([[0, 1]], np.array([[1.0, 2.0], [2.0, 4.0]]), k=2) == (
        pytest.approx(0.0, abs=1e-12)
    )


def test_intra_list_diversity_matches_loop():
    rng = np.random.default_rng(5)
    feats = rng.normal(size=(30, 6))
    topk = M.topk_items(rng.normal(size=(8, 30)), 5)
    per_user = []
    for row in topk:
        dists = []
        for a in range(5):
            for b in range(a + 1, 5):
                x, y = feats[row[a]], feats[row[b]]
                dists.append(1 - x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))
        per_user.append(sum(dists) / len(dists))
    assert M.intra_list_diversity(topk, feats, k=5) == pytest.approx(np.mean(per_user))


def test_intra_list_diversity_validation():
    f = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    with pytest.raises(DataValidationError, match=r"items \[1\] have all-zero features"):
        M.intra_list_diversity([[0, 1]], f, k=2)
    assert M.intra_list_diversity([[0, 2]], f, k=2) == pytest.approx(1 - 1 / math.sqrt(2))
    with pytest.raises(DataValidationError, match="k >= 2"):
        M.intra_list_diversity([[0, 2]], f, k=1)
    with pytest.raises(DataValidationError, match="out of range for item_features"):
        M.intra_list_diversity([[0, 3]], f, k=2)


def test_novelty_hand_example():
    # popularity (users per item) 4 2 1 1 of N = 4 users -> p = 1, 1/2, 1/4, 1/4
    # self-information -log2 p = 0, 1, 2, 2 bits; lists [0, 1], [2, 3] -> mean 1.25
    pop = [4, 2, 1, 1]
    assert M.novelty([[0, 1], [2, 3]], pop, k=2, n_users=4) == pytest.approx(1.25)
    # N defaults to the number of rows of topk: 4 users here.
    assert M.novelty([[0, 1], [2, 3], [0, 2], [1, 3]], pop, k=2) == pytest.approx(
        (0 + 1 + 2 + 2 + 0 + 2 + 1 + 2) / 8
    )
    assert M.novelty([[0], [0]], [8, 1], k=1, n_users=8) == 0.0  # everyone has seen it


def test_novelty_validation():
    with pytest.raises(DataValidationError, match=r"items \[1\] have popularity < 1"):
        M.novelty([[0, 1]], [3, 0], k=2, n_users=4)
    with pytest.raises(DataValidationError, match="counts above n_users=2"):
        M.novelty([[0, 1]], [3, 1], k=2, n_users=2)
    with pytest.raises(DataValidationError, match="item_popularity: 1 value"):
        M.novelty([[0, 1]], [3, np.nan], k=2, n_users=4)


# --- Docstring examples -----------------------------------------------------------------


def test_docstring_examples_run():
    result = doctest.testmod(M, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 20
    assert result.failed == 0
