"""The paired-comparison rule, checked against scipy.stats on known cases."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from recfeat_ref._validation import DataValidationError
from recfeat_ref.stats import paired_comparison, paired_table, units_needed


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n", [3, 5, 30])
def test_t_interval_and_p_value_match_scipy(seed, n):
    rng = np.random.default_rng(seed)
    a = rng.normal(0.7, 0.01, n)
    b = a + rng.normal(0.003, 0.004, n)
    r = paired_comparison(b, a)
    d = b - a
    low, high = sps.t.interval(0.95, df=n - 1, loc=d.mean(), scale=sps.sem(d))
    assert r.low == pytest.approx(low, rel=1e-12) and r.high == pytest.approx(high, rel=1e-12)
    assert r.p_value == pytest.approx(sps.ttest_rel(b, a).pvalue, rel=1e-12)
    # The verdict is the t-test's decision at alpha = 0.05, by construction of the interval.
    assert r.resolved == (r.p_value < 0.05)
    assert r.verdict == ("within noise" if not r.resolved else ("gain" if r.mean > 0 else "loss"))


def test_three_seeds_two_standard_errors_is_not_95_percent():
    # The review's point: at n = 3 "2 standard errors" is an ~82 % interval.
    coverage = 2 * sps.t.cdf(2.0, df=2) - 1
    assert 0.81 < coverage < 0.83
    d = np.array([0.010, 0.002, 0.006])  # mean 0.006, 2 SE = 0.0046: "clear" under the old rule
    assert abs(d.mean()) > 2 * sps.sem(d)
    r = paired_comparison(d, np.zeros(3))
    assert r.verdict == "within noise" and r.p_value > 0.05


def test_known_gain_and_loss():
    assert paired_comparison([1.0, 2.0, 3.0, 4.0], [0.5, 1.4, 2.6, 3.5]).verdict == "gain"
    assert paired_comparison([0.5, 1.4, 2.6, 3.5], [1.0, 2.0, 3.0, 4.0]).verdict == "loss"
    zero = paired_comparison([1.0, 2.0], [1.0, 2.0])
    assert zero.verdict == "within noise" and zero.low == zero.high == 0.0


def test_bootstrap_agrees_with_t_on_many_users_and_is_seeded():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, 900)
    b = a + rng.normal(0.02, 0.1, 900)
    t = paired_comparison(b, a)
    boot = paired_comparison(b, a, method="bootstrap", n_boot=4000, seed=1)
    assert boot.low == pytest.approx(t.low, abs=0.002) and boot.high == pytest.approx(t.high, abs=0.002)
    again = paired_comparison(b, a, method="bootstrap", n_boot=4000, seed=1)
    assert (again.low, again.high) == (boot.low, boot.high)
    assert np.isnan(boot.p_value) and boot.verdict == t.verdict == "gain"


def test_paired_table_reference_and_ladder():
    wide = pd.DataFrame({"a": [0.70, 0.72, 0.71], "b": [0.75, 0.76, 0.755], "c": [0.751, 0.769, 0.745]})
    vs_a = paired_table(wide, reference="a")
    assert list(vs_a.index) == ["b", "c"] and set(vs_a["versus"]) == {"a"}
    assert vs_a.loc["b", "mean"] == pytest.approx((wide["b"] - wide["a"]).mean())
    ladder = paired_table(wide, reference="previous")
    assert list(ladder["versus"]) == ["a", "b"]
    assert ladder.loc["c", "verdict"] == "within noise"


def test_units_needed_resolves_by_construction():
    n = units_needed(0.004, 0.005)
    half = lambda k: sps.t.ppf(0.975, k - 1) * 0.005 / np.sqrt(k)  # noqa: E731
    assert half(n) < 0.004 <= half(n - 1)
    assert units_needed(0.0, 0.01) is None and units_needed(0.01, 0.0) == 2


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (([1.0, 2.0], [1.0]), {}, "pair up one to one"),
        (([1.0], [2.0]), {}, "at least 2 units"),
        (([1.0, np.nan], [1.0, 2.0]), {}, r"treatment has NaN or infinite values at positions \[1\]"),
        (([1.0, 2.0], [1.0, np.inf]), {}, "reference has NaN"),
        (([1.0, 2.0], [1.0, 2.5]), {"confidence": 95}, "confidence must lie in"),
        (([1.0, 2.0], [1.0, 2.5]), {"method": "z"}, "method must be one of"),
        (([1.0, 2.0], [1.0, 2.5]), {"method": "bootstrap", "n_boot": 10}, "n_boot must be"),
    ],
)
def test_bad_input_is_named(args, kwargs, match):
    with pytest.raises(DataValidationError, match=match):
        paired_comparison(*args, **kwargs)


def test_paired_table_bad_input():
    with pytest.raises(DataValidationError, match="reference 'z' is not a column"):
        paired_table(pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 2.0]}), reference="z")
    with pytest.raises(DataValidationError, match="at least 2 columns"):
        paired_table(pd.DataFrame({"a": [1.0, 2.0]}), reference="a")


def test_convergence_reads_fitted_models_and_flags_the_cap():
    from types import SimpleNamespace

    from recfeat_ref.stats import NotConvergedError, check_converged, convergence

    fitted = SimpleNamespace(best_epoch_=30, config=SimpleNamespace(num_epochs=30, patience=3, eval_every=1))
    early = SimpleNamespace(best_epoch_=10, config=SimpleNamespace(num_epochs=60, patience=2, eval_every=5))
    assert not convergence(fitted)["converged"]
    assert convergence(early)["converged"]  # 10 + 2 * 5 <= 60
    assert not convergence(early, best_epoch=51)["converged"]  # the window is patience * eval_every
    with pytest.raises(NotConvergedError, match=r"capped \(best epoch 30 of 30, patience 3\)"):
        check_converged({"capped": fitted, "fine": early})
    with pytest.warns(UserWarning, match="capped"):
        table = check_converged({"capped": fitted, "fine": early}, strict=False)
    assert table["converged"].tolist() == [False, True]
    with pytest.raises(DataValidationError, match="cannot find patience"):
        convergence(SimpleNamespace(best_epoch_=3, config=SimpleNamespace(num_epochs=9)))


def test_convergence_of_a_real_trainer():
    import torch

    from recfeat_ref.stats import convergence
    from recfeat_ref.training import TrainConfig, Trainer

    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = (x[:, 0] > 0).float()
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0))
    trainer = Trainer(model, torch.nn.BCEWithLogitsLoss(), TrainConfig(num_epochs=4, patience=2, progress=False))
    trainer.fit(((x,), y), valid=((x,), y))
    row = convergence(trainer)
    assert row["num_epochs"] == 4 and row["patience"] == 2 and row["best_epoch"] == trainer.best_epoch_
