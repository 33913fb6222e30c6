"""EASE and iALS on the book's per-user 8:1:1 split of ML-100K, tuned on the validation part only.

For each split seed (``ratio_split_by_user(ratings, (0.8, 0.1, 0.1), seed=s)``; seed 0 is
the split of ``bench_ours.py`` and of the peers):

* EASE (``recfeat_ref.linear.EASE``): lambda chosen from ``GRIDS["EASE"]``;
* iALS (``recfeat_ref.linear.IALS``): (factors, lambda, alpha) chosen from the full
  Cartesian ``GRIDS["IALS"]``, each point early-stopped on the validation NDCG@10
  (evaluated after every sweep, patience 5, cap 100 sweeps);
* a grid whose best point sits on an edge has not finished tuning: the search is then
  extended one step beyond that edge (at the grid's ratio), crossed with the best value
  and its two neighbours of every other parameter, until the best is inside (at most
  ``MAX_EXTENSIONS`` rounds; factors capped at ``MAX_FACTORS``, a best there stays flagged);
* the reference: MultVAE with its defaults, the best model of
  ``results/ours_ml100k.json`` (rerun per seed, as ``bench_ours.py`` runs it).

Every model is fitted on the training part; hyper-parameters and stopping sweeps are chosen
by :func:`recfeat_ref.linear.grid_search` on validation NDCG@10 (training items excluded);
the test part is scored once, by the chosen model, with
``evaluate_topn(model, pd.concat([train, valid]), test, k=10)``, the function and
exclusion of every other row of ``results/ours_ml100k.json``. A best value on the edge of
its grid is flagged (``on_edge``). Checks on seed 0: EASE's closed form against a direct
ridge solve of a few columns, ``peers/run_implicit.topn_metrics`` against ``evaluate_topn``,
and the spread of the tuned iALS over five initialisation seeds.

Usage: python benchmarks/bench_linear.py [--seeds 0 1 2] [--out benchmarks/results/linear_ml100k_811.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "peers"))
from bench_core import machine_info  # noqa: E402
from run_implicit import topn_metrics  # noqa: E402  (NumPy only: implicit is imported in its main)

from recfeat_ref.autoencoders import MultVAE  # noqa: E402
from recfeat_ref.datasets import load_movielens_100k  # noqa: E402
from recfeat_ref.linear import EASE, IALS, IALSConfig, grid_search  # noqa: E402
from recfeat_ref.recommender import evaluate_topn  # noqa: E402
from recfeat_ref.splits import ratio_split_by_user  # noqa: E402

GRIDS = {
    "EASE": {"reg": [10.0, 20.0, 50.0, 100.0, 200.0, 300.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0]},
    "IALS": {
        "n_factors": [16, 32, 64, 128],
        "reg": [1.0, 3.0, 10.0, 30.0, 100.0, 300.0],
        "alpha": [0.3, 1.0, 3.0, 10.0, 30.0],
    },
}
IALS_LOOP = {"num_epochs": 100, "patience": 5, "eval_every": 1}
#: Rounds of grid extension when the best point is on an edge; factors are capped (cost ~K^3).
MAX_EXTENSIONS, MAX_FACTORS = 3, 256
K = 10


def make_ials(**params) -> IALS:
    return IALS(progress=False, **IALS_LOOP, **params)


def test_report(model, seen: pd.DataFrame, test: pd.DataFrame) -> dict:
    report = evaluate_topn(model, seen, test, k=K)
    report["fit_seconds"] = model.fit_seconds_
    return report


def edges(values: dict, best: dict) -> dict:
    """The parameters whose best value is the smallest or largest value tried."""
    return {n: best[n] for n, v in values.items() if len(v) > 1 and best[n] in (min(v), max(v))}


def extend_value(values: list, best):
    """The next value beyond the edge ``best``, at the ratio of the last two grid steps (None if capped)."""
    v = sorted(values)
    new = v[-1] * v[-1] / v[-2] if best == v[-1] else v[0] * v[0] / v[1]
    if all(isinstance(x, int) for x in v):
        new = int(round(new))
        if new < 1 or new > MAX_FACTORS:
            return None
    return new


def tune(name: str, make, train, valid, test, seen) -> dict:
    """grid_search on GRIDS[name], then extend every edge until the best point is inside (or capped).

    An extension tries the next value beyond the edge (one step at the grid's ratio) crossed
    with the best value and its two grid neighbours of every other parameter.
    """
    start = time.perf_counter()
    result = grid_search(make, GRIDS[name], train, valid, k=K)
    tables, extensions = [result.table.assign(stage=0)], []
    best = result
    values = {n: sorted(v) for n, v in GRIDS[name].items()}
    for stage in range(1, MAX_EXTENSIONS + 1):
        edge = edges(values, best.best_params)
        grids = []
        for n in edge:
            new = extend_value(values[n], best.best_params[n])
            if new is None:
                continue
            grid = {}
            for m, v in values.items():
                j = v.index(best.best_params[m])
                grid[m] = [new] if m == n else v[max(j - 1, 0): j + 2]
            grids.append(grid)
        if not grids:
            break
        for grid in grids:
            r = grid_search(make, grid, train, valid, k=K)
            tables.append(r.table.assign(stage=stage))
            extensions.append(grid)
            if r.best_score > best.best_score:
                best = r
        for grid in grids:
            for m, v in grid.items():
                values[m] = sorted(set(values[m]) | set(v))
    seconds = time.perf_counter() - start
    table = pd.concat(tables, ignore_index=True)
    on_edge = edges(values, best.best_params)
    model = best.model
    out = {
        "best_params": best.best_params,
        "on_edge": on_edge,
        "valid_ndcg_at_k": best.best_score,
        "test": test_report(model, seen, test),
        "grid": GRIDS[name],
        "extensions": extensions,
        "values_tried": values,
        "fits": len(table),
        "tuning_seconds": seconds,
        "table": table.to_dict(orient="records"),
    }
    if isinstance(model, IALS):
        h = model.history_
        out["best_epoch"] = int(model.best_epoch_)
        out["epochs_run"] = int(len(h))
        out["stopped_by"] = "patience" if len(h) < model.config.num_epochs else "cap"
        out["max_epochs_run_in_grid"] = int(table["epochs_run"].max())
        out["grid_points_stopped_by_cap"] = int((table["epochs_run"] >= model.config.num_epochs).sum())
        out["train_seconds_per_sweep_median"] = float(statistics.median(h["seconds"]))
        out["history"] = h.to_dict(orient="list")
        out["test"]["seconds_per_epoch_median"] = out["train_seconds_per_sweep_median"]
        out["test"]["epochs"] = out["epochs_run"]
    flag = f" ON EDGE {on_edge}" if on_edge else " (inside the grid)"
    print(f"  {name:8s} best {best.best_params}{flag}: valid NDCG@10 {best.best_score:.4f}, "
          f"test NDCG@10 {out['test']['ndcg_at_k']:.4f} Recall@10 {out['test']['recall_at_k']:.4f} "
          f"({len(table)} fits, {len(extensions)} extensions, {seconds:.0f} s)", flush=True)
    return out


def checks(train, valid, test, seen, ease_result, ials_result) -> dict:
    """Seed-0 checks: EASE vs a direct solve, the peer metric code vs evaluate_topn, iALS init spread."""
    out = {}
    model = EASE(reg=ease_result["best_params"]["reg"]).fit(train)
    x = model._x.toarray()
    worst = 0.0
    for j in (0, 1, int(np.argmax(x.sum(0)))):  # two columns and the most popular item
        others = np.delete(np.arange(x.shape[1]), j)
        xo = x[:, others]
        direct = np.linalg.solve(xo.T @ xo + model.config.reg * np.eye(len(others)), xo.T @ x[:, j])
        worst = max(worst, float(np.abs(model.weights_[others, j] - direct).max()))
    out["ease_direct_solve_max_abs_diff"] = worst

    # the implicit runner's NumPy metrics on our EASE scores must equal evaluate_topn
    def index_matrix(df):
        import scipy.sparse as sp

        u, i = model.user_index(df["user_id"]), model._item_enc.transform(df["item_id"]) - 1
        ok = (u >= 0) & (i >= 0)
        m = sp.csr_matrix((np.ones(ok.sum()), (u[ok], i[ok])), shape=(model.n_users_, model.n_items_))
        m.data[:] = 1.0
        return m

    peer = topn_metrics(model.score_items(), index_matrix(seen), index_matrix(test), k=K)
    ours = evaluate_topn(model, seen, test, k=K)
    out["peer_metric_code"] = {
        "evaluate_topn": {k: ours[k] for k in ("ndcg_at_k", "recall_at_k", "n_users")},
        "run_implicit.topn_metrics": peer,
        "max_abs_diff": max(abs(ours[k] - peer[k]) for k in ("ndcg_at_k", "recall_at_k")),
    }

    params = ials_result["best_params"]
    spread = []
    for seed in range(5):
        m = make_ials(**params, seed=seed).fit(train, valid)
        r = evaluate_topn(m, seen, test, k=K)
        spread.append({"seed": seed, "test_ndcg_at_k": r["ndcg_at_k"], "test_recall_at_k": r["recall_at_k"],
                       "best_epoch": int(m.best_epoch_)})
    nd = [s["test_ndcg_at_k"] for s in spread]
    out["ials_init_seed_spread"] = {"params": params, "runs": spread, "test_ndcg_mean": float(np.mean(nd)),
                                    "test_ndcg_std": float(np.std(nd, ddof=1)), "test_ndcg_range": max(nd) - min(nd)}
    print(f"  checks: EASE direct solve {worst:.1e}, metric code {out['peer_metric_code']['max_abs_diff']:.1e}, "
          f"iALS init seeds 0-4 test NDCG@10 {min(nd):.4f}..{max(nd):.4f}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (MultVAE); NumPy follows OMP_NUM_THREADS")
    parser.add_argument("--no-reference", action="store_true", help="skip the MultVAE reference rows")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    ratings = load_movielens_100k(verbose=False).ratings
    machine = machine_info(args.threads)
    machine["thread_env"] = {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    try:
        from threadpoolctl import threadpool_info

        machine["threadpools"] = [{k: p.get(k) for k in ("user_api", "internal_api", "num_threads", "version")}
                                  for p in threadpool_info()]
    except ImportError:
        pass
    out = {
        "machine": machine,
        "protocol": __doc__,
        "grids": GRIDS,
        "ials_loop": IALS_LOOP,
        "ials_init": {"distribution": "normal", "std": IALSConfig().init_std, "seed": IALSConfig().seed},
        "topn_811": {},
        "seeds": {},
    }
    for seed in args.seeds:
        print(f"split seed {seed}", flush=True)
        train, valid, test = ratio_split_by_user(ratings, (0.8, 0.1, 0.1), seed=seed)
        seen = pd.concat([train, valid])
        rows = {"EASE": tune("EASE", EASE, train, valid, test, seen),
                "IALS": tune("IALS", make_ials, train, valid, test, seen)}
        if not args.no_reference:
            ref = MultVAE(progress=False).fit(train, valid=valid)
            rows["MultVAE"] = {"params": "defaults", "best_epoch": int(ref.best_epoch_), "test": test_report(ref, seen, test)}
            print(f"  MultVAE  defaults: test NDCG@10 {rows['MultVAE']['test']['ndcg_at_k']:.4f}", flush=True)
        if seed == 0:
            out["checks"] = checks(train, valid, test, seen, rows["EASE"], rows["IALS"])
            out["topn_811"] = {name: row["test"] for name, row in rows.items()}  # the layout of ours_ml100k.json
        out["seeds"][str(seed)] = rows
        if args.out:  # after every seed, so a long run leaves its finished seeds behind
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(out, indent=1, default=float) + "\n")
    summary = {}
    for name in ("EASE", "IALS", "MultVAE"):
        vals = [out["seeds"][str(s)][name]["test"] for s in args.seeds if name in out["seeds"][str(s)]]
        if vals:
            summary[name] = {m: {"mean": float(np.mean([v[m] for v in vals])),
                                 "std": float(np.std([v[m] for v in vals], ddof=1)) if len(vals) > 1 else None}
                             for m in ("ndcg_at_k", "recall_at_k")}
    out["summary_over_seeds"] = {"seeds": args.seeds, **summary}
    out["total_seconds"] = time.perf_counter() - t0
    for name, s in summary.items():
        print(f"{name:8s} test NDCG@10 {s['ndcg_at_k']['mean']:.4f}  Recall@10 {s['recall_at_k']['mean']:.4f} "
              f"(mean over seeds {args.seeds})")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
