"""Surprise on the book's 5 rating-CV folds of ML-100K: RMSE, MAE and fit time per fold.

Runs in ``benchmarks/.venvs/surprise`` (see ``benchmarks/run_peers.sh``), on the
files written by ``benchmarks/export_splits.py`` (``DATA_DIR/folds/fold{k}.{train,test}.tsv``,
from ``kfold_split(ratings, 5, seed=0)``), read with
``surprise.Dataset.load_from_folds`` so every algorithm sees exactly our folds.

Algorithms (Surprise 1.1.4 defaults unless stated):

* ``SVD``: ``SVD(random_state=0)``: 100 factors, 20 epochs, lr 0.005, reg 0.02, biased.
* ``SVDpp``: ``SVDpp(random_state=0, cache_ratings=True)``: 20 factors, 20 epochs.
* ``KNNBaseline``: ``KNNBaseline()``: user-based, MSD similarity, k=40, ALS
  baselines (Surprise's benchmark table).
* ``KNNBaseline_item_pearson_baseline``: ``KNNBaseline(sim_options={"name":
  "pearson_baseline", "user_based": False})``: item-based, shrunk Pearson on
  baseline residuals (shrinkage 100), the docs' example.
* ``BaselineOnly``: ``BaselineOnly()``: ALS, 10 epochs, reg_i 10, reg_u 15.

Metrics per fold: ``rmse``/``mae`` from ``surprise.accuracy`` on ``algo.test``
(predictions clipped to [1, 5], Surprise's default; a prediction it cannot make,
e.g. for a user absent from the fold's train part, is the global mean or the
baseline, see ``n_impossible``), plus ``rmse_unclipped``/``mae_unclipped`` from
``algo.predict(..., clip=False)`` (the book's models do not clip), and
``fit_seconds``/``test_seconds`` (wall clock, ``time.perf_counter``).

Usage: python benchmarks/peers/run_surprise.py --data DATA_DIR --out FILE [--algos SVD,...]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from surprise import SVD, BaselineOnly, Dataset, KNNBaseline, Reader, SVDpp, accuracy
from surprise.model_selection import PredefinedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info

N_FOLDS = 5

ALGORITHMS = {
    "SVD": (lambda: SVD(random_state=0), "SVD(random_state=0)"),
    "SVDpp": (lambda: SVDpp(random_state=0, cache_ratings=True), "SVDpp(random_state=0, cache_ratings=True)"),
    "KNNBaseline": (lambda: KNNBaseline(verbose=False), "KNNBaseline()  # user-based, msd, k=40"),
    "KNNBaseline_item_pearson_baseline": (
        lambda: KNNBaseline(sim_options={"name": "pearson_baseline", "user_based": False}, verbose=False),
        "KNNBaseline(sim_options={'name': 'pearson_baseline', 'user_based': False})",
    ),
    "BaselineOnly": (lambda: BaselineOnly(verbose=False), "BaselineOnly()  # ALS"),
}

#: Surprise's README table (ML-100K, 5-fold CV with its own folds, default parameters).
PUBLISHED = {
    "SVD": {"rmse": 0.934, "mae": 0.737},
    "SVDpp": {"rmse": 0.919, "mae": 0.721},
    "KNNBaseline": {"rmse": 0.931, "mae": 0.733},
    "BaselineOnly": {"rmse": 0.944, "mae": 0.748},
}


def summary(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values), "min": min(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the folder written by export_splits.py")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--algos", default=",".join(ALGORITHMS), help="comma-separated subset of " + ",".join(ALGORITHMS))
    args = parser.parse_args()
    names = [a for a in args.algos.split(",") if a]
    unknown = set(names) - set(ALGORITHMS)
    if unknown:
        parser.error(f"unknown algorithms {sorted(unknown)}; choose from {list(ALGORITHMS)}")

    folds_files = [
        (str(args.data / f"folds/fold{k}.train.tsv"), str(args.data / f"folds/fold{k}.test.tsv")) for k in range(N_FOLDS)
    ]
    for pair in folds_files:
        for f in pair:
            if not Path(f).is_file():
                sys.exit(f"missing {f}: run benchmarks/export_splits.py first")
    reader = Reader(line_format="user item rating timestamp", sep="\t", rating_scale=(1, 5), skip_lines=1)
    data = Dataset.load_from_folds(folds_files, reader=reader)
    splits = list(PredefinedKFold().split(data))

    np.random.seed(0)  # Surprise draws from NumPy's global RNG where no random_state is given
    results = {}
    total_start = time.perf_counter()
    for name in names:
        make, spec = ALGORITHMS[name]
        folds = []
        for k, (trainset, testset) in enumerate(splits):
            algo = make()
            start = time.perf_counter()
            algo.fit(trainset)
            fit_s = time.perf_counter() - start
            start = time.perf_counter()
            predictions = algo.test(testset)
            test_s = time.perf_counter() - start
            y = np.array([p.r_ui for p in predictions])
            raw = np.array([algo.predict(p.uid, p.iid, clip=False).est for p in predictions])
            folds.append(
                {
                    "fold": k,
                    "n_train": trainset.n_ratings,
                    "n_test": len(testset),
                    "rmse": accuracy.rmse(predictions, verbose=False),
                    "mae": accuracy.mae(predictions, verbose=False),
                    "rmse_unclipped": math.sqrt(float(np.mean((raw - y) ** 2))),
                    "mae_unclipped": float(np.mean(np.abs(raw - y))),
                    "n_impossible": sum(bool(p.details.get("was_impossible")) for p in predictions),
                    "fit_seconds": fit_s,
                    "test_seconds": test_s,
                }
            )
            print(f"{name:36s} fold {k}  RMSE {folds[-1]['rmse']:.4f}  MAE {folds[-1]['mae']:.4f}  fit {fit_s:6.2f} s", flush=True)
        results[name] = {
            "spec": spec,
            "folds": folds,
            **{m: summary([f[m] for f in folds]) for m in ("rmse", "mae", "rmse_unclipped", "mae_unclipped", "fit_seconds", "test_seconds")},
            "published": PUBLISHED.get(name),
        }
    total_s = time.perf_counter() - total_start

    out = {
        "benchmark": "Surprise, ML-100K, 5-fold rating CV on recfeat_ref's folds",
        "protocol": {
            "folds": "recfeat_ref.splits.kfold_split(load_movielens_100k().ratings, n_splits=5, seed=0)",
            "reader": "Reader(line_format='user item rating timestamp', sep='\\t', rating_scale=(1, 5), skip_lines=1)",
            "loader": "Dataset.load_from_folds + PredefinedKFold",
            "metrics": "surprise.accuracy.rmse/mae on algo.test(testset) (estimates clipped to [1, 5]); *_unclipped with predict(clip=False)",
            "timing": "time.perf_counter around fit() and test(), single process; Surprise's Cython code is single-threaded",
        },
        "machine": machine_info(("scikit-surprise", "numpy", "scipy", "joblib", "Cython"), threads=1),
        "total_seconds": total_s,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print()
    print(f"{'algorithm':36s} {'RMSE':>7s} {'MAE':>7s} {'fit s':>7s}   published RMSE/MAE")
    for name, r in results.items():
        pub = r["published"]
        pub_s = f"{pub['rmse']:.3f} / {pub['mae']:.3f}" if pub else "-"
        print(f"{name:36s} {r['rmse']['mean']:7.4f} {r['mae']['mean']:7.4f} {r['fit_seconds']['mean']:7.2f}   {pub_s}")
    print(f"total {total_s:.0f} s; written {args.out}")


if __name__ == "__main__":
    main()
