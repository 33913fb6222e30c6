"""Head-to-head speed: our MF and BPR-MF against Surprise's SVD and RecBole's BPR, interleaved.

The recommenders issue asks for (1) our biased MF to fit no slower than Surprise's SVD
on the 5-fold protocol and (2) our BPR-MF to train at least 3x faster per epoch than
RecBole's BPR on the 8:1:1 split, at equal or better NDCG@10. Timings on a shared
machine drift with the load, so this script runs the four contenders *in alternation*,
``--rounds`` times, each on the exported split files both sides read, and reports
per-round numbers, medians, the ratios, and the load average around every run.

Every contender is single-threaded (``OMP_NUM_THREADS=1``; torch pinned to one thread
on both sides), so the comparison is one CPU core against one CPU core.

* Surprise: ``peers/run_surprise.py --algos SVD`` in its venv (fit seconds per fold).
* Ours, rating: ``MFRecommender()`` (defaults) fitted on each ``folds/fold{k}.train.tsv``.
* RecBole: ``peers/run_recbole.py --models BPR`` in its venv (median seconds of
  ``_train_epoch``, sampling included).
* Ours, top-N: ``BPRMF()`` (defaults) on ``ratio811``, early-stopped on the validation
  part; median ``history_["seconds"]`` (sampling included, evaluation excluded).

Needs the exported splits and the peer venvs: run ``bash benchmarks/run_peers.sh`` once.
Usage: python benchmarks/head_to_head.py [--rounds 3] [--out benchmarks/results/head_to_head_ml100k.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_core import machine_info  # noqa: E402

from recfeat_ref import metrics  # noqa: E402
from recfeat_ref.mf import BPRMF, MFRecommender  # noqa: E402
from recfeat_ref.recommender import evaluate_topn  # noqa: E402


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t")


def _peer(venv: str, script: str, args: list[str], env: dict | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        cmd = [str(HERE / ".venvs" / venv / "bin" / "python"), "-W", "ignore", str(HERE / "peers" / script), *args, "--out", str(out)]
        subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return json.loads(out.read_text())


def _timed(fn):
    load_before = os.getloadavg()[0]
    result = fn()
    result["loadavg_1min"] = [load_before, os.getloadavg()[0]]
    return result


def surprise_svd(data: Path) -> dict:
    res = _peer("surprise", "run_surprise.py", ["--data", str(data), "--algos", "SVD"])["results"]["SVD"]
    return {"fit_seconds": [f["fit_seconds"] for f in res["folds"]], "rmse": [f["rmse"] for f in res["folds"]]}


def ours_mf(data: Path) -> dict:
    fit_s, rmse = [], []
    for k in range(5):
        train, test = _read(data / "folds" / f"fold{k}.train.tsv"), _read(data / "folds" / f"fold{k}.test.tsv")
        start = time.perf_counter()
        model = MFRecommender(progress=False).fit(train)
        fit_s.append(time.perf_counter() - start)
        rmse.append(metrics.rmse(test["rating"].to_numpy(), model.predict(test)))
    return {"fit_seconds": fit_s, "rmse": rmse}


def recbole_bpr(data: Path) -> dict:
    res = _peer("recbole", "run_recbole.py", ["--data", str(data), "--models", "BPR"],
                env={"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"})["results"]["BPR"]
    return {"seconds_per_epoch": res["seconds_per_epoch_train"]["median"], "ndcg_at_10": res["test"]["ndcg@10"],
            "epochs_run": res["epochs_run"]}


def ours_bpr(data: Path) -> dict:
    train, valid, test = (_read(data / "ratio811" / f"{part}.tsv") for part in ("train", "valid", "test"))
    model = BPRMF(progress=False).fit(train, valid=valid)
    report = evaluate_topn(model, pd.concat([train, valid]), test, k=10)
    return {"seconds_per_epoch": float(model.history_["seconds"].median()), "ndcg_at_10": report["ndcg_at_k"],
            "epochs_run": len(model.history_)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    contenders = {"surprise_svd": surprise_svd, "ours_mf": ours_mf, "recbole_bpr": recbole_bpr, "ours_bpr": ours_bpr}
    rounds = []
    for r in range(args.rounds):
        row = {}
        for name, fn in contenders.items():
            row[name] = _timed(lambda fn=fn: fn(args.data))
        rounds.append(row)
        print(f"round {r}: SVD fit {statistics.fmean(row['surprise_svd']['fit_seconds']):.3f} s/fold, "
              f"our MF {statistics.fmean(row['ours_mf']['fit_seconds']):.3f} s/fold; RecBole BPR "
              f"{row['recbole_bpr']['seconds_per_epoch']:.4f} s/epoch, our BPR {row['ours_bpr']['seconds_per_epoch']:.4f} s/epoch",
              flush=True)

    svd = statistics.median(statistics.fmean(r["surprise_svd"]["fit_seconds"]) for r in rounds)
    mf = statistics.median(statistics.fmean(r["ours_mf"]["fit_seconds"]) for r in rounds)
    rb = statistics.median(r["recbole_bpr"]["seconds_per_epoch"] for r in rounds)
    bpr = statistics.median(r["ours_bpr"]["seconds_per_epoch"] for r in rounds)
    summary = {
        "svd_fit_seconds_per_fold": svd, "ours_mf_fit_seconds_per_fold": mf, "mf_speedup_vs_svd": svd / mf,
        "svd_rmse": statistics.fmean(rounds[0]["surprise_svd"]["rmse"]), "ours_mf_rmse": statistics.fmean(rounds[0]["ours_mf"]["rmse"]),
        "recbole_bpr_seconds_per_epoch": rb, "ours_bpr_seconds_per_epoch": bpr, "bpr_speedup_vs_recbole": rb / bpr,
        "recbole_bpr_ndcg_at_10": rounds[0]["recbole_bpr"]["ndcg_at_10"], "ours_bpr_ndcg_at_10": rounds[0]["ours_bpr"]["ndcg_at_10"],
    }
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"benchmark": "head_to_head", "summary": summary, "rounds": rounds, "machine": machine_info(1)}
        args.out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
