"""Tests of recfeat_ref.privacy: pseudonyms, k-anonymity, DP-SGD, the RDP accountant, the attack."""

from __future__ import annotations

import hashlib
import itertools
import math
import time

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from recfeat_ref._validation import DataValidationError
from recfeat_ref.datasets import DataSourceError, load_movielens_100k
from recfeat_ref.neural import LogisticRegression, LRConfig
from recfeat_ref.privacy import (
    DEFAULT_ORDERS,
    OCCUPATION_GROUPS,
    DPSGDConfig,
    RDPAccountant,
    add_gaussian_noise,
    clip_per_example,
    dp_membership_bounds,
    dp_sgd_epsilon,
    generalise_age,
    generalise_users,
    generalise_zip,
    k_anonymity,
    loss_threshold_attack,
    per_example_grads,
    per_example_losses,
    pseudonymise,
    rdp_sampled_gaussian,
    rdp_to_epsilon,
    reverse_by_enumeration,
    train_dp_sgd,
    unkeyed_hash,
)

QI = ["age", "gender", "occupation", "zip_code"]


# ---------------------------------------------------------------------------
# 1. Pseudonymisation
# ---------------------------------------------------------------------------


def _hmac_by_hand(key: bytes, message: bytes) -> str:
    """RFC 2104 written out: H((K ^ opad) || H((K ^ ipad) || m)), SHA-256, 64-byte blocks."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\x00")
    ipad = bytes(b ^ 0x36 for b in key)
    opad = bytes(b ^ 0x5C for b in key)
    inner = hashlib.sha256(ipad + message).digest()
    return hashlib.sha256(opad + inner).hexdigest()


def test_hmac_matches_rfc4231_test_case_1_and_the_hand_construction():
    key = b"\x0b" * 20
    expected = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"  # RFC 4231, case 1
    assert pseudonymise(["Hi There"], key)[0] == expected
    assert _hmac_by_hand(key, b"Hi There") == expected
    long_key = bytes(range(100))  # longer than a block: hashed first (RFC 2104, section 2)
    assert pseudonymise([943], long_key)[0] == _hmac_by_hand(long_key, b"943")


def test_unkeyed_hash_is_sha256_of_the_text():
    assert unkeyed_hash(["abc"])[0] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert unkeyed_hash([17])[0] == hashlib.sha256(b"17").hexdigest()


def test_pseudonyms_are_consistent_and_keep_the_index():
    ids = pd.Series([5, 7, 5], index=[10, 11, 12])
    p = pseudonymise(ids, b"a" * 16)
    assert list(p.index) == [10, 11, 12] and p[10] == p[12] != p[11]
    assert (pseudonymise(ids, b"b" * 16) != p).all(), "another key gives other pseudonyms"
    assert ids.tolist() == [5, 7, 5]


@pytest.mark.parametrize("key, err", [(b"short", ValueError), ("a string key....", TypeError)])
def test_bad_keys_raise(key, err):
    with pytest.raises(err, match="key"):
        pseudonymise([1], key)


def test_missing_ids_raise():
    with pytest.raises(DataValidationError, match="missing"):
        unkeyed_hash([1, None])


def test_enumeration_reverses_unkeyed_hashes_but_not_keyed_ones():
    ids = list(range(1, 944))  # ML-100K's user ids
    start = time.perf_counter()
    assert reverse_by_enumeration(unkeyed_hash(ids), range(1, 944)) == ids
    big = [3, 123_456, 99_999]
    assert reverse_by_enumeration(unkeyed_hash(big), range(100_000)) == [3, None, 99_999]
    assert time.perf_counter() - start < 5, "a hundred thousand candidates take well under a second"
    key = b"k" * 32
    keyed = pseudonymise(ids[:50], key)
    assert reverse_by_enumeration(keyed, range(1, 944)) == [None] * 50, "no key, no match"
    assert reverse_by_enumeration(keyed, range(1, 944), key=key) == ids[:50], "the key holder can"


# ---------------------------------------------------------------------------
# 2. k-anonymity
# ---------------------------------------------------------------------------


def _synthetic_users(n=300, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    occupations = sorted(OCCUPATION_GROUPS)
    return pd.DataFrame({
        "user_id": np.arange(1, n + 1),
        "age": rng.integers(15, 70, n),
        "gender": rng.choice(["F", "M"], n),
        "occupation": rng.choice(occupations, n),
        "zip_code": [f"{z:05d}" for z in rng.integers(0, 99_999, n)],
    })  # fmt: skip


def _brute_force_class_sizes(df: pd.DataFrame, columns) -> list[int]:
    rows = df[columns].astype(str).values.tolist()
    return [sum(r == s for s in rows) for r in rows]


def test_k_anonymity_matches_brute_force():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"a": rng.integers(0, 3, 60), "b": rng.choice(["x", "y"], 60), "c": rng.integers(0, 4, 60)})
    for columns in (["a"], ["a", "b"], ["a", "b", "c"]):
        sizes = _brute_force_class_sizes(df, columns)
        result = k_anonymity(df, columns)
        assert result.k == min(sizes)
        dist = result.distribution()
        expected = pd.Series(sizes).value_counts().sort_index()  # rows per class size
        assert dist.to_dict() == expected.to_dict()
        assert result.class_sizes.sum() == len(df)
        assert result.rows_below(result.k + 1) == int((np.array(sizes) <= result.k).sum())


def test_k_anonymity_errors_and_empty():
    with pytest.raises(DataValidationError, match="zzz"):
        k_anonymity(pd.DataFrame({"a": [1]}), ["zzz"])
    with pytest.raises(ValueError, match="at least one"):
        k_anonymity(pd.DataFrame({"a": [1]}), [])
    with pytest.raises(DataValidationError, match="empty"):
        k_anonymity(pd.DataFrame({"a": []}), ["a"])


def test_hierarchies():
    assert generalise_age([0, 37, 99], 3).tolist() == ["0-19", "20-39", "80-99"]
    assert generalise_zip(["12345"], 4).tolist() == ["*"] and generalise_zip(["12345"], 0).tolist() == ["12345"]
    with pytest.raises(ValueError, match="age level"):
        generalise_age([30], 9)


@pytest.mark.parametrize("k", [2, 5])
def test_generalisation_reaches_k_and_is_minimal_among_admissible(k):
    users = _synthetic_users()
    before = users.copy()
    g = generalise_users(users, k=k, max_suppression=0.05)
    pd.testing.assert_frame_equal(users, before)  # input untouched
    sizes = _brute_force_class_sizes(g.table, QI)
    assert min(sizes) >= k and g.k == min(sizes)
    assert g.suppressed <= 0.05 * len(users)
    assert (g.table[QI] == "*").all(axis=1).sum() >= g.suppressed
    admissible = g.candidates[g.candidates["admissible"]]
    assert g.loss == pytest.approx(admissible["loss"].min())
    assert g.table["user_id"].tolist() == users["user_id"].tolist()


def test_generalisation_on_movielens_reaches_k5():
    try:
        ml = load_movielens_100k(sources=("cache",), verbose=False)
    except DataSourceError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"MovieLens-100K not cached: {exc}")
    assert k_anonymity(ml.users, QI).k == 1
    g = generalise_users(ml.users, k=5)
    assert k_anonymity(g.table, QI).k >= 5
    assert g.suppressed <= 0.05 * len(ml.users)


# ---------------------------------------------------------------------------
# 3. DP-SGD
# ---------------------------------------------------------------------------


def _tiny_lr_problem(n=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x_cat = torch.stack([torch.randint(1, 6, (n,), generator=gen), torch.randint(1, 4, (n,), generator=gen)], 1)
    x_multi = (torch.rand(n, 3, generator=gen) < 0.5).float()
    y = (torch.rand(n, generator=gen) < 0.5).float()
    model = LogisticRegression(LRConfig((6, 4), (3,)))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 1.0, generator=gen)
    return model, (x_cat, x_multi), y


def test_per_example_grads_match_a_loop_of_backward_passes():
    model, (x_cat, x_multi), y = _tiny_lr_problem(n=8)
    loss_fn = nn.BCEWithLogitsLoss()
    grads = per_example_grads(model.linear, loss_fn, (x_cat, x_multi), y)
    for i in range(8):
        model.zero_grad()
        loss_fn(model(x_cat[i : i + 1], x_multi[i : i + 1]), y[i : i + 1]).backward()
        for name, p in model.linear.named_parameters():
            expected = p.grad if p.grad is not None else torch.zeros_like(p)  # unused (empty) parameters
            torch.testing.assert_close(grads[name][i], expected, rtol=1e-5, atol=1e-6)


def test_every_clipped_per_example_gradient_has_norm_at_most_c():
    model, inputs, y = _tiny_lr_problem(n=64)
    grads = per_example_grads(model.linear, nn.BCEWithLogitsLoss(), inputs, y)
    for C in (0.05, 0.3, 10.0):
        clipped, norms = clip_per_example(grads, C)
        flat = torch.cat([g.reshape(64, -1) for g in clipped.values()], 1)
        after = flat.norm(dim=1)
        assert (after <= C * (1 + 1e-5)).all()
        small = norms <= C
        torch.testing.assert_close(after[small], norms[small], rtol=1e-5, atol=1e-6)  # unclipped ones kept
        big = norms > C
        torch.testing.assert_close(after[big], torch.full_like(after[big], C), rtol=1e-4, atol=1e-6)
    assert (norms > 0.3).any() and (norms < 0.3).any(), "the test must exercise both cases"


def test_noise_has_std_sigma_times_c():
    gen = torch.Generator().manual_seed(0)
    noisy = add_gaussian_noise({"a": torch.zeros(200_000), "b": torch.zeros(50, 100)}, 1.5, 0.7, gen)
    z = torch.cat([noisy["a"], noisy["b"].flatten()])
    assert float(z.std()) == pytest.approx(1.05, rel=0.01)
    assert abs(float(z.mean())) < 0.01
    same = add_gaussian_noise({"a": torch.ones(3)}, 0.0, 1.0, gen)["a"]
    assert same.tolist() == [1.0, 1.0, 1.0]


def test_noise_free_full_batch_step_is_gradient_descent():
    model, inputs, y = _tiny_lr_problem(n=32)
    reference = LogisticRegression(LRConfig((6, 4), (3,)))
    reference.load_state_dict(model.state_dict())
    train_dp_sgd(model.linear, nn.BCEWithLogitsLoss(), inputs, y, noise_multiplier=0.0, max_grad_norm=None,
                 sample_rate=1.0, epochs=1, lr=0.5, optimizer="sgd", progress=False)  # fmt: skip
    nn.BCEWithLogitsLoss()(reference(*inputs), y).backward()
    with torch.no_grad():
        for p_ref, p in zip(reference.parameters(), model.parameters()):
            grad = p_ref.grad if p_ref.grad is not None else torch.zeros_like(p_ref)
            torch.testing.assert_close(p, p_ref - 0.5 * grad, rtol=1e-5, atol=1e-6)


def test_dp_sgd_is_deterministic_and_learns():
    results = []
    for seed in (0, 0, 1):
        model, inputs, y = _tiny_lr_problem(n=256)
        res = train_dp_sgd(model.linear, nn.BCEWithLogitsLoss(), inputs, y, noise_multiplier=0.5, sample_rate=0.25,
                           epochs=3, lr=0.05, delta=1e-3, seed=seed, progress=False)  # fmt: skip
        results.append((res, torch.cat([p.detach().flatten() for p in model.parameters()])))
    (r0, p0), (r1, p1), (_, p2) = results
    assert torch.equal(p0, p1)
    pd.testing.assert_frame_equal(r0.history.drop(columns="seconds"), r1.history.drop(columns="seconds"))
    assert not torch.equal(p0, p2), "another seed draws other batches and noise"
    assert r0.steps == 12 and r0.epsilon == pytest.approx(dp_sgd_epsilon(0.25, 0.5, 12, 1e-3))
    assert list(r0.history["epsilon"]) == sorted(r0.history["epsilon"])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"noise_multiplier": -1.0}, "noise_multiplier"),
        ({"max_grad_norm": None}, "max_grad_norm"),
        ({"sample_rate": 0.0}, "sample_rate"),
        ({"delta": 1}, "delta"),
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"epochs": 0}, "epochs"),
    ],
)
def test_config_errors_name_the_field(params, match):
    with pytest.raises(ValueError, match=match):
        DPSGDConfig(**params)


# --- the accountant ---------------------------------------------------------------

SETTINGS = [(0.01, 1.1, 10_000), (0.0128, 1.0, 312), (0.0128, 0.6, 312), (0.0128, 4.0, 312),
            (0.25, 1.0, 20), (0.001, 0.8, 1000), (0.1, 3.0, 100), (0.5, 2.0, 7)]  # fmt: skip


@pytest.mark.filterwarnings("ignore:Optimal order:UserWarning")
@pytest.mark.parametrize("q, sigma, steps", SETTINGS)
def test_accountant_matches_opacus_on_the_same_orders(q, sigma, steps):
    rdp_mod = pytest.importorskip("opacus.accountants.analysis.rdp")
    orders = list(DEFAULT_ORDERS[:63])  # 2..64 keeps Opacus's pure-Python loop quick
    theirs = rdp_mod.compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=orders)
    ours = steps * rdp_sampled_gaussian(q, sigma, orders)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    eps_theirs, _ = rdp_mod.get_privacy_spent(orders=orders, rdp=theirs, delta=1e-5)
    assert dp_sgd_epsilon(q, sigma, steps, 1e-5, orders=orders) == pytest.approx(float(eps_theirs), rel=0.01)


@pytest.mark.filterwarnings("ignore:Optimal order:UserWarning")
@pytest.mark.parametrize("q, sigma, steps", [s for s in SETTINGS if s[1] >= 1.0])
def test_accountant_within_one_percent_of_opacus_rdp_accountant(q, sigma, steps):
    accountants = pytest.importorskip("opacus.accountants")
    theirs = accountants.RDPAccountant()
    theirs.history = [(sigma, q, steps)]  # what `steps` calls of theirs.step(...) leave behind
    ours = RDPAccountant()
    for _ in range(steps):
        ours.step(noise_multiplier=sigma, sample_rate=q)
    # Opacus also searches fractional orders below 11; for sigma >= 1 the best order is >= 2
    assert ours.get_epsilon(1e-5) == pytest.approx(theirs.get_epsilon(1e-5), rel=0.01)


def test_accountant_closed_forms_and_monotonicity():
    np.testing.assert_allclose(rdp_sampled_gaussian(1.0, 3.0, [2, 5, 10]), np.array([2, 5, 10]) / 18)
    assert (rdp_sampled_gaussian(0.0, 1.0, [2, 3]) == 0).all()
    assert np.isinf(rdp_sampled_gaussian(0.1, 0.0, [2])).all()
    eps = [dp_sgd_epsilon(0.01, s, 1000, 1e-5) for s in (0.7, 1.0, 2.0, 4.0)]
    assert eps == sorted(eps, reverse=True), "more noise, less epsilon"
    assert dp_sgd_epsilon(0.01, 1.0, 100, 1e-5) < dp_sgd_epsilon(0.01, 1.0, 1000, 1e-5)
    eps_m, _ = rdp_to_epsilon([0.5], [3], 1e-5, method="mironov")
    assert eps_m == pytest.approx(0.5 + math.log(1e5) / 2)
    assert rdp_to_epsilon([0.5], [3], 1e-5)[0] < eps_m, "Balle et al.'s conversion is tighter"
    with pytest.raises(ValueError, match="orders"):
        rdp_sampled_gaussian(0.1, 1.0, [1.5])


# ---------------------------------------------------------------------------
# 4. Membership inference
# ---------------------------------------------------------------------------


def test_loss_threshold_attack():
    rng = np.random.default_rng(0)
    perfect = loss_threshold_attack(rng.uniform(0, 0.1, 500), rng.uniform(0.2, 1, 500))
    assert perfect["auc"] == 1.0
    assert perfect["advantage"] == pytest.approx(0.5, abs=0.05), "tau = mean member loss admits half the members"
    chance = loss_threshold_attack(rng.exponential(size=20_000), rng.exponential(size=20_000))
    assert abs(chance["auc"] - 0.5) < 0.01 and abs(chance["advantage"]) < 0.02
    r = loss_threshold_attack([1.0, 2.0], [1.5, 3.0], threshold=1.5)
    assert r["advantage"] == pytest.approx(0.5 - 0.5) and r["accuracy"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="member"):
        loss_threshold_attack([], [1.0])


def test_dp_membership_bounds():
    for eps in (0.0, 0.2, 1.0, 3.0):
        b = dp_membership_bounds(eps)
        assert b["auc"] == pytest.approx(math.exp(eps) / (1 + math.exp(eps)), abs=1e-9)
        assert b["advantage"] == pytest.approx(math.tanh(eps / 2), abs=1e-12)
    assert dp_membership_bounds(1.0, 1e-3)["auc"] > dp_membership_bounds(1.0)["auc"]
    assert dp_membership_bounds(math.inf) == {"auc": 1.0, "advantage": 1.0}
    # brute force: the largest AUC of a ROC curve obeying the DP constraints, on a fine grid
    eps, delta = 0.7, 0.01
    x = np.linspace(0, 1, 200_001)
    tpr = np.clip(np.minimum.reduce([np.ones_like(x), np.exp(eps) * x + delta, 1 - np.exp(-eps) * (1 - delta - x)]), 0, 1)
    assert dp_membership_bounds(eps, delta)["auc"] == pytest.approx(np.trapezoid(tpr, x), abs=1e-6)


def test_per_example_losses_match_bce():
    model, inputs, y = _tiny_lr_problem(n=20)
    losses = per_example_losses(model, inputs, y, batch_size=7)
    expected = nn.functional.binary_cross_entropy_with_logits(model(*inputs), y, reduction="none")
    np.testing.assert_allclose(losses, expected.detach().double().numpy(), rtol=1e-6)


def test_all_orders_cover_itertools_product_size():
    # the lattice search of generalise_users visits 5 * 2 * 3 * 5 nodes
    g = generalise_users(_synthetic_users(n=40), k=2)
    assert len(g.candidates) == len(list(itertools.product(range(5), range(2), range(3), range(5))))


# ---------------------------------------------------------------------------
# the input contract: parameters checked when given, not when used (issue 15)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [math.nan, -1.0, math.inf, "1.0", True, None])
def test_a_bad_noise_multiplier_raises_where_it_is_given(sigma):
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match=r"add_gaussian_noise: noise_multiplier \(sigma"):
        add_gaussian_noise({"w": torch.zeros(3)}, sigma, 1.0, gen)  # a NaN sigma made NaN weights
    with pytest.raises(ValueError, match=r"rdp_sampled_gaussian: noise_multiplier"):
        rdp_sampled_gaussian(0.1, sigma)
    with pytest.raises(ValueError, match="noise_multiplier"):
        dp_sgd_epsilon(0.1, sigma, 10, 1e-5)  # a NaN sigma gave epsilon = inf
    with pytest.raises(ValueError, match=r"RDPAccountant.step: noise_multiplier"):
        RDPAccountant().step(noise_multiplier=sigma, sample_rate=0.1)  # not later, at get_epsilon
    with pytest.raises(ValueError, match="noise_multiplier"):
        DPSGDConfig(noise_multiplier=sigma)


def test_accountant_rejects_a_negative_sigma_at_step_and_keeps_its_history():
    acc = RDPAccountant()
    acc.step(noise_multiplier=1.0, sample_rate=0.1)
    with pytest.raises(ValueError, match=r"RDPAccountant.step: noise_multiplier .* got -1\.0"):
        acc.step(noise_multiplier=-1.0, sample_rate=0.1)
    with pytest.raises(ValueError, match=r"RDPAccountant.step: sample_rate \(q"):
        acc.step(noise_multiplier=1.0, sample_rate=1.5)
    with pytest.raises(ValueError, match="sample_rate"):
        acc.step(noise_multiplier=1.0, sample_rate=math.nan)
    assert len(acc) == 1 and acc.get_epsilon(1e-5) == pytest.approx(dp_sgd_epsilon(0.1, 1.0, 1, 1e-5))


@pytest.mark.parametrize("delta", [0.0, 1.0, math.nan, -1e-5, "1e-5"])
def test_bad_delta_raises_even_before_the_first_step(delta):
    with pytest.raises(ValueError, match=r"RDPAccountant.get_privacy_spent: delta must be a number in \(0, 1\)"):
        RDPAccountant().get_epsilon(delta)
    with pytest.raises(ValueError, match="delta"):
        dp_sgd_epsilon(0.1, 1.0, 10, delta)
    with pytest.raises(ValueError, match="delta"):
        rdp_to_epsilon([0.5], [2], delta)


@pytest.mark.parametrize("q", [math.nan, -0.1, 1.1, "0.1"])
def test_bad_sampling_rate_raises(q):
    with pytest.raises(ValueError, match=r"rdp_sampled_gaussian: q \(q, the probability"):
        rdp_sampled_gaussian(q, 1.0)
    with pytest.raises(ValueError, match="sample_rate"):
        DPSGDConfig(sample_rate=q)


@pytest.mark.parametrize("norm", [math.nan, -1.0, math.inf, "1"])
def test_bad_clipping_norms_raise(norm):
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match=r"add_gaussian_noise: max_norm \(C"):
        add_gaussian_noise({"w": torch.zeros(3)}, 1.0, norm, gen)
    with pytest.raises(ValueError, match="max_norm"):
        clip_per_example({"w": torch.ones(2, 2)}, norm)
    with pytest.raises(ValueError, match="max_grad_norm"):
        DPSGDConfig(max_grad_norm=norm)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        add_gaussian_noise({"w": torch.zeros(3)}, 1.0, 1.0, 0)


def test_rdp_values_and_attack_inputs_are_checked():
    with pytest.raises(ValueError, match=r"rdp_to_epsilon: rdp must be >= 0 .* at orders \[3\]"):
        rdp_to_epsilon([0.5, math.nan], [2, 3], 1e-5)
    assert rdp_to_epsilon([math.inf], [2], 1e-5)[0] == math.inf  # sigma = 0: no privacy, documented
    with pytest.raises(DataValidationError, match=r"member_losses\): 1 value\(s\) are NaN"):
        loss_threshold_attack([0.1, math.nan], [0.5])
    with pytest.raises(ValueError, match="threshold must be a finite number"):
        loss_threshold_attack([0.1], [0.5], threshold=math.nan)
    with pytest.raises(ValueError, match="epsilon must be a number >= 0"):
        dp_membership_bounds(math.nan)
    with pytest.raises(ValueError, match=r"delta must be a number in \[0, 1\)"):
        dp_membership_bounds(1.0, math.nan)


def test_text_keys_get_a_clear_error_in_every_hmac_helper():
    for call in (lambda k: pseudonymise([1], k), lambda k: reverse_by_enumeration(["00"], range(3), key=k)):
        with pytest.raises(TypeError, match=r"key must be bytes, got a str .*key\.encode\('utf-8'\).*token_bytes"):
            call("a text key of many characters")
        with pytest.raises(ValueError, match="at least 16 bytes"):
            call(b"short")
        with pytest.raises(TypeError, match="key must be bytes"):
            call(12345678901234567890)

    def never(_):  # the key is checked before a single candidate is hashed
        raise AssertionError("id_space was read before the key was checked")
        yield

    with pytest.raises(TypeError, match="key"):
        reverse_by_enumeration(["00"], never(None), key="text")
    key = bytearray(b"k" * 16)  # bytes-like keys are fine
    assert reverse_by_enumeration(pseudonymise([5], bytes(key)), range(10), key=key) == [5]
