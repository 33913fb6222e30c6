"""implicit 0.7.3's AlternatingLeastSquares on the book's per-user 8:1:1 split of ML-100K: top-10 metrics.

Runs in ``benchmarks/.venvs/implicit`` (see ``benchmarks/run_peers.sh``) on
``DATA_DIR/ratio811/{train,valid,test}.tsv`` written by ``benchmarks/export_splits.py``
from ``ratio_split_by_user(ratings, (0.8, 0.1, 0.1), seed=0)``, the split of
``benchmarks/bench_linear.py``. It reads our tuned iALS from that script's JSON
(``--ours``, default ``benchmarks/results/linear_ml100k_811.json``), so run
``bench_linear.py`` first.

Confidence convention (read from the installed ``implicit/cpu/als.py``): ``fit(user_items)``
takes the confidence matrix itself and multiplies it by ``alpha`` when ``alpha != 1``;
the solver then uses :math:`c_{ui}` = that value for the stored cells (preference 1) and
1 for the others (preference 0). So implicit's confidence is :math:`c = \\alpha r`, while
Hu et al. and ``recfeat_ref.linear.IALS`` use :math:`c = 1 + \\alpha r`. On binary data
(ML-100K: every pair once) the two coincide for implicit's ``alpha`` = 1 + our alpha;
the runs that reproduce ours pass the matrix :math:`1 + \\alpha R` with ``alpha=1``.
Both solvers use the plain penalty :math:`\\lambda (\\lVert X \\rVert^2 + \\lVert Y \\rVert^2)`.

Runs (every one single-threaded, ``num_threads=1``, on the CPU model class
``implicit.cpu.als.AlternatingLeastSquares``):

* ``default``: implicit's defaults (100 factors, ``regularization=0.01``, ``alpha=1``,
  15 iterations, conjugate gradient with 3 steps, float32), ``random_state=0``, on the
  binary matrix: every observed pair gets confidence 1, the same as an unobserved one.
* ``matched_exact``: our tuned (factors, regularisation, alpha) and our best number of
  sweeps, confidence :math:`1 + \\alpha R`, the exact Cholesky solver
  (``use_cg=False``), float64, and our initial item factors
  (``np.random.default_rng(seed).normal(0, init_std, (I, K))``, the same NumPy as our
  venv; user factors start at 0 and are solved first, as ours). Differences from ours
  are then only floating-point rounding.
* ``matched_cholesky``: the same hyper-parameters and iterations, the exact solver, but
  implicit's own float32 factors and uniform [0, 0.01) initialisation, ``random_state``
  0..4: what the starting point alone changes.
* ``matched``: the same with implicit's default conjugate-gradient solver (3 CG steps per
  solve, warm-started from the previous factors), ``random_state`` 0..4: the agreement to
  expect from an ordinary user of implicit.
* ``tuned``: implicit tuned on the validation part with our grid and budget: every
  (factors, regularization, alpha) that ``bench_linear.py``'s iALS search tried on
  seed 0 (its Cartesian grid and the extensions beyond edges), implicit's
  native ``alpha`` set to 1 + our alpha (the same confidences on binary data), its default
  solver and init (CG, float32, ``random_state=0``), validation NDCG@10 after every
  iteration through ``fit(callback=...)``, stopped after ``patience`` iterations
  without improvement (cap ``num_epochs``), the best iteration's factors kept.

Metrics: :func:`topn_metrics`, a NumPy copy of ``recfeat_ref.recommender.evaluate_topn``
(full ranking over the training items, the user's train items excluded at validation
and train + valid at test, ties by the lower item index, test rows of items unseen in
training dropped, users without a relevant item left out; Recall over :math:`|R_u|`,
NDCG with :math:`1/\\log_2(r+1)` and IDCG over :math:`\\min(|R_u|, k)`).
``bench_linear.py`` checks that it equals ``evaluate_topn`` on the same scores.

Usage: python benchmarks/peers/run_implicit.py --data DATA_DIR --out FILE [--ours FILE] [--threads 1]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
DEFAULT_OURS = HERE.parent / "results" / "linear_ml100k_811.json"
K = 10


# --- data and metrics (NumPy only: bench_linear.py imports these in our venv) -------------


def read_part(path: Path) -> np.ndarray:
    """(n, 2) int64 user and item ids of one exported TSV (header skipped)."""
    return np.loadtxt(path, delimiter="\t", skiprows=1, dtype=np.int64, usecols=(0, 1), ndmin=2)


class Split:
    """The 8:1:1 split as index matrices over the sorted training ids (the order ours uses)."""

    def __init__(self, train: np.ndarray, valid: np.ndarray, test: np.ndarray):
        self.user_ids, self.item_ids = np.unique(train[:, 0]), np.unique(train[:, 1])
        self.n_users, self.n_items = len(self.user_ids), len(self.item_ids)
        self.train = self.matrix(train)
        self.valid = self.matrix(valid)
        self.test = self.matrix(test)
        self.seen = ((self.train + self.valid) > 0).astype(np.float64).tocsr()

    def matrix(self, pairs: np.ndarray) -> sp.csr_matrix:
        """(U, I) binary CSR of the pairs whose user and item occur in training (others dropped)."""
        u = np.searchsorted(self.user_ids, pairs[:, 0])
        i = np.searchsorted(self.item_ids, pairs[:, 1])
        ok = (u < self.n_users) & (i < self.n_items)
        ok[ok] &= (self.user_ids[u[ok]] == pairs[ok, 0]) & (self.item_ids[i[ok]] == pairs[ok, 1])
        m = sp.csr_matrix((np.ones(int(ok.sum())), (u[ok], i[ok])), shape=(self.n_users, self.n_items))
        m.sum_duplicates()
        m.data[:] = 1.0
        return m


def topn_metrics(scores: np.ndarray, exclude: sp.csr_matrix, relevant: sp.csr_matrix, k: int = K) -> dict:
    """NDCG@k and Recall@k of full-catalogue rankings, as ``recfeat_ref.recommender.evaluate_topn``.

    ``scores`` (U, I); ``exclude`` and ``relevant`` (U, I) sparse. Excluded cells are set to
    -inf, the k best items ordered by score, then by the lower index (a tie *at* the k-th
    place may admit another item than ``metrics.topk_items`` does, which continuous scores
    make improbable), users without a relevant item dropped from the mean.
    """
    s = np.array(scores, dtype=np.float64)
    ex = exclude.tocoo()
    s[ex.row, ex.col] = -np.inf
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    s = s[users]
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]  # (n, k) the k best, unordered
    order = np.lexsort((part, -np.take_along_axis(s, part, axis=1)), axis=1)  # by score, then lower index
    top = np.take_along_axis(part, order, axis=1)  # (n, k)
    rel = relevant[users].toarray() > 0  # (n, I)
    hits = np.take_along_axis(rel, top, axis=1)  # (n, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))  # (k,)
    n_rel = rel.sum(1)  # (n,)
    idcg = np.cumsum(discounts)[np.minimum(n_rel, k) - 1]
    ndcg = (hits * discounts).sum(1) / idcg
    recall = hits.sum(1) / n_rel
    return {"ndcg_at_k": float(ndcg.mean()), "recall_at_k": float(recall.mean()), "n_users": int(len(users))}


# --- implicit -------------------------------------------------------------------------


#: The grid-extension rule of ``bench_linear.py`` (``MAX_EXTENSIONS`` rounds). Its factor cap of
#: 256 is a cost limit of our Cholesky code; implicit's conjugate gradient affords 1024.
MAX_EXTENSIONS, MAX_FACTORS_IMPLICIT = 3, 1024


def edges(values: dict, best: dict) -> dict:
    """The parameters whose best value is the smallest or largest value tried."""
    return {n: best[n] for n, v in values.items() if len(v) > 1 and best[n] in (min(v), max(v))}


def extend_value(values: list, best, max_factors: int):
    """The next value beyond the edge ``best``, at the ratio of the last two grid steps (None if capped)."""
    v = sorted(values)
    new = v[-1] * v[-1] / v[-2] if best == v[-1] else v[0] * v[0] / v[1]
    if all(isinstance(x, int) for x in v):
        new = int(round(new))
        if new < 1 or new > max_factors:
            return None
    return new


class _Stop(Exception):
    """Raised from implicit's per-iteration callback to end a run early."""


def evaluate(model, split: Split, part: str) -> dict:
    scores = np.asarray(model.user_factors, np.float64) @ np.asarray(model.item_factors, np.float64).T
    if part == "valid":
        return topn_metrics(scores, split.train, split.valid)
    return topn_metrics(scores, split.seen, split.test)


def fit_plain(make, cui: sp.csr_matrix, init=None) -> tuple[object, float]:
    model = make()
    if init is not None:
        model.user_factors, model.item_factors = init[0].copy(), init[1].copy()
    start = time.perf_counter()
    model.fit(cui, show_progress=False)
    return model, time.perf_counter() - start


def fit_early_stopped(make, cui: sp.csr_matrix, split: Split, cap: int, patience: int) -> dict:
    """Fit with validation NDCG@10 after every iteration; stop after ``patience`` without improvement."""
    model = make(cap)
    best = {"ndcg": -math.inf, "iteration": 0, "factors": None}
    history = []
    start = time.perf_counter()

    def callback(iteration, elapsed, loss):
        report = evaluate(model, split, "valid")
        history.append({"iteration": iteration + 1, "seconds": elapsed, "valid_ndcg_at_k": report["ndcg_at_k"]})
        if report["ndcg_at_k"] > best["ndcg"]:
            best.update(ndcg=report["ndcg_at_k"], iteration=iteration + 1,
                        factors=(model.user_factors.copy(), model.item_factors.copy()))
        elif iteration + 1 - best["iteration"] >= patience:
            raise _Stop

    try:
        model.fit(cui, show_progress=False, callback=callback)
    except _Stop:
        pass
    seconds = time.perf_counter() - start
    model.user_factors, model.item_factors = best["factors"]
    return {"model": model, "best_iteration": best["iteration"], "iterations_run": len(history),
            "valid_ndcg_at_k": best["ndcg"], "fit_seconds_with_validation": seconds, "history": history}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the folder written by export_splits.py")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--ours", type=Path, default=DEFAULT_OURS, help="bench_linear.py's JSON (tuned iALS, grid)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-tuning", action="store_true", help="only the default and matched runs")
    args = parser.parse_args()

    import implicit
    from implicit.cpu.als import AlternatingLeastSquares as ALS

    sys.path.insert(0, str(HERE))
    from machine import machine_info

    t0 = time.perf_counter()
    ours = json.loads(args.ours.read_text())
    tuned = ours["seeds"]["0"]["IALS"]
    hp, loop = tuned["best_params"], ours["ials_loop"]
    names = ["n_factors", "reg", "alpha"]
    # the points our search tried: the Cartesian grid plus its extensions beyond edges
    points = list(dict.fromkeys(tuple(r[n] for n in names) for r in tuned["table"]))
    values = {n: sorted({p[j] for p in points}) for j, n in enumerate(names)}
    K_, reg, alpha, iterations = int(hp["n_factors"]), float(hp["reg"]), float(hp["alpha"]), int(tuned["best_epoch"])

    split = Split(*(read_part(args.data / "ratio811" / f"{p}.tsv") for p in ("train", "valid", "test")))
    binary = split.train.astype(np.float32)
    hu = split.train.copy()
    hu.data = 1.0 + alpha * hu.data  # c = 1 + alpha r, passed with implicit's alpha = 1
    out = {
        "implicit_version": implicit.__version__,
        "catalogue": {"users": split.n_users, "items_ranked": split.n_items, "train_pairs": int(split.train.nnz)},
        "ours": {"source": str(args.ours.name), "params": hp, "best_sweep": iterations,
                 "test": {k: tuned["test"][k] for k in ("ndcg_at_k", "recall_at_k")},
                 "init": ours["ials_init"], "init_seed_spread": ours["checks"]["ials_init_seed_spread"]},
        "runs": {},
    }

    def row(model, seconds, **extra):
        return {"valid": evaluate(model, split, "valid"), "test": evaluate(model, split, "test"),
                "fit_seconds": seconds, **extra}

    # 1. defaults, as a user would call it
    model, s = fit_plain(lambda: ALS(num_threads=args.threads, random_state=0), binary)
    out["runs"]["default"] = row(model, s, config={"factors": 100, "regularization": 0.01, "alpha": 1.0,
                                                   "iterations": 15, "use_cg": True, "dtype": "float32",
                                                   "data": "binary R (confidence 1 on observed pairs)"})
    print(f"default        test NDCG@10 {out['runs']['default']['test']['ndcg_at_k']:.4f}", flush=True)

    # 2. our tuned model, exact solver, our initial factors
    init = ours["ials_init"]
    y0 = np.random.default_rng(init["seed"]).normal(0.0, init["std"], size=(split.n_items, K_))
    make = lambda: ALS(factors=K_, regularization=reg, alpha=1.0, dtype=np.float64, use_cg=False,
                       iterations=iterations, num_threads=args.threads, random_state=0)
    model, s = fit_plain(make, hu.astype(np.float64), init=(np.zeros((split.n_users, K_)), y0))
    exact = row(model, s, config={"factors": K_, "regularization": reg, "alpha": 1.0, "iterations": iterations,
                                  "use_cg": False, "dtype": "float64", "data": f"1 + {alpha} R",
                                  "init": "ours: item factors N(0, std^2) from default_rng(seed), user factors 0"})
    exact["abs_diff_test_ndcg_vs_ours"] = abs(exact["test"]["ndcg_at_k"] - tuned["test"]["ndcg_at_k"])
    exact["abs_diff_test_recall_vs_ours"] = abs(exact["test"]["recall_at_k"] - tuned["test"]["recall_at_k"])
    out["runs"]["matched_exact"] = exact
    print(f"matched_exact  test NDCG@10 {exact['test']['ndcg_at_k']:.6f} (ours {tuned['test']['ndcg_at_k']:.6f})", flush=True)

    # 3. the same hyper-parameters with implicit's own initialisation and float32, first with the
    #    exact Cholesky solver (only the start differs from ours), then with its default CG solver
    for name, use_cg in (("matched_cholesky", False), ("matched", True)):
        matched = []
        for rs in range(5):
            make = lambda: ALS(factors=K_, regularization=reg, alpha=1.0 + alpha, iterations=iterations,
                               use_cg=use_cg, num_threads=args.threads, random_state=rs)
            model, s = fit_plain(make, binary)
            matched.append({"random_state": rs, **row(model, s)})
        ndcg = [m["test"]["ndcg_at_k"] for m in matched]
        out["runs"][name] = {
            "config": {"factors": K_, "regularization": reg, "alpha": 1.0 + alpha, "iterations": iterations,
                       "use_cg": use_cg, "dtype": "float32", "data": "binary R (confidence (1 + alpha) r)"},
            "per_random_state": matched,
            "test_ndcg_mean": float(np.mean(ndcg)), "test_ndcg_min": min(ndcg), "test_ndcg_max": max(ndcg),
            "test_recall_mean": float(np.mean([m["test"]["recall_at_k"] for m in matched])),
            "abs_diff_mean_test_ndcg_vs_ours": abs(float(np.mean(ndcg)) - tuned["test"]["ndcg_at_k"]),
        }
        print(f"{name:16s} test NDCG@10 {np.mean(ndcg):.4f} (random_state 0..4: {min(ndcg):.4f}..{max(ndcg):.4f})",
              flush=True)

    # 4. implicit tuned on validation with our grid and budget, edges extended by our rule
    if not args.skip_tuning:
        table, best, tried = [], None, set()

        def try_point(f, r, a, stage):
            nonlocal best
            tried.add((f, r, a))
            make = lambda cap: ALS(factors=int(f), regularization=float(r), alpha=1.0 + float(a),
                                   iterations=cap, num_threads=args.threads, random_state=0)
            res = fit_early_stopped(make, binary, split, loop["num_epochs"], loop["patience"])
            entry = {"n_factors": f, "reg": r, "alpha": a, "implicit_alpha": 1.0 + a, "stage": stage,
                     "valid_ndcg_at_k": res["valid_ndcg_at_k"], "best_iteration": res["best_iteration"],
                     "iterations_run": res["iterations_run"],
                     "fit_seconds_with_validation": res["fit_seconds_with_validation"]}
            table.append(entry)
            print(f"  K={f} reg={r} alpha={a}: valid NDCG@10 {res['valid_ndcg_at_k']:.4f} "
                  f"(iteration {res['best_iteration']}/{res['iterations_run']})", flush=True)
            if best is None or res["valid_ndcg_at_k"] > best[1]["valid_ndcg_at_k"]:
                best = (entry, res)

        for f, r, a in points:
            try_point(f, r, a, 0)
        extensions = []
        for stage in range(1, MAX_EXTENSIONS + 1):  # the rule of bench_linear.tune
            params = {n: best[0][n] for n in names}
            grids = []
            for n in edges(values, params):
                new = extend_value(values[n], params[n], MAX_FACTORS_IMPLICIT)
                if new is not None:
                    grids.append({m: [new] if m == n else v[max(v.index(params[m]) - 1, 0): v.index(params[m]) + 2]
                                  for m, v in values.items()})
            if not grids:
                break
            for grid in grids:
                extensions.append(grid)
                for point in itertools.product(*(grid[n] for n in names)):
                    if point not in tried:
                        try_point(*point, stage)
            for grid in grids:
                for m, v in grid.items():
                    values[m] = sorted(set(values[m]) | set(v))
        entry, res = best
        on_edge = edges(values, {n: entry[n] for n in names})
        make = lambda f=entry["n_factors"], r=entry["reg"], a=entry["alpha"], it=res["best_iteration"]: ALS(
            factors=int(f), regularization=float(r), alpha=1.0 + float(a), iterations=it,
            num_threads=args.threads, random_state=0)
        _, plain_seconds = fit_plain(make, binary)  # the chosen model's fit alone, no validation
        out["runs"]["tuned"] = {
            "best_params": {n: entry[n] for n in names}, "implicit_alpha": entry["implicit_alpha"],
            "on_edge": on_edge, "best_iteration": res["best_iteration"], "iterations_run": res["iterations_run"],
            "stopped_by": "patience" if res["iterations_run"] < loop["num_epochs"] else "cap",
            "max_iterations_run_in_grid": max(t["iterations_run"] for t in table),
            "valid": evaluate(res["model"], split, "valid"), "test": evaluate(res["model"], split, "test"),
            "fit_seconds": plain_seconds, "fit_seconds_with_validation": res["fit_seconds_with_validation"],
            "history": res["history"], "grid": ours["grids"]["IALS"], "extensions": extensions,
            "values_tried": values, "budget": {**loop, "fits": len(table)},
            "table": table,
            "tuning_seconds": sum(t["fit_seconds_with_validation"] for t in table),
        }
        print(f"tuned          {out['runs']['tuned']['best_params']} on edge {on_edge}: "
              f"test NDCG@10 {out['runs']['tuned']['test']['ndcg_at_k']:.4f}", flush=True)

    out["protocol"] = __doc__
    out["machine"] = machine_info(packages=("implicit", "numpy", "scipy", "threadpoolctl"),
                                  num_threads=args.threads)
    out["total_seconds"] = time.perf_counter() - t0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"written {args.out} in {out['total_seconds']:.0f} s")


if __name__ == "__main__":
    main()
