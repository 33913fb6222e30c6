"""Our side of the library comparison, on exactly the splits the peers read.

Runs, with machine information in the output:
* rating prediction on the 5 folds of ``kfold_split(ratings, 5, seed=0)``: BiasBaseline,
  ItemKNN, UserKNN, MFRecommender, IAutoRec -- RMSE, MAE and fit seconds per fold;
* top-N on ``ratio_split_by_user(ratings, (0.8, 0.1, 0.1), seed=0)``: Popularity, ItemKNN,
  BPRMF, and the deep models of later chapters (MultDAE, MultVAE, LightGCN, CFGAN) with
  their defaults -- Recall/NDCG/Hit/MRR/Precision@10 on the test part (train and validation items
  excluded from the lists), training seconds per epoch for BPR.

The splits are recomputed from the seeds (identical to what ``export_splits.py`` writes).
Usage: python benchmarks/bench_ours.py [--out benchmarks/results/ours_ml100k.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import machine_info  # noqa: E402

from recfeat_ref.autoencoders import IAutoRec, MultDAE, MultVAE  # noqa: E402
from recfeat_ref.baselines import BiasBaseline, Popularity  # noqa: E402
from recfeat_ref.datasets import load_movielens_100k  # noqa: E402
from recfeat_ref.gan import CFGAN  # noqa: E402
from recfeat_ref.graph import LightGCN  # noqa: E402
from recfeat_ref.knn import ItemKNN, UserKNN  # noqa: E402
from recfeat_ref.mf import BPRMF, MFRecommender  # noqa: E402
from recfeat_ref.recommender import cross_validate_ratings, evaluate_topn  # noqa: E402
from recfeat_ref.splits import ratio_split_by_user  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ratings = load_movielens_100k(verbose=False).ratings
    out = {"machine": machine_info(args.threads), "rating_5fold": {}, "topn_811": {}}

    rating_models = {
        "BiasBaseline": lambda: BiasBaseline(),
        "UserKNN": lambda: UserKNN(),
        "ItemKNN": lambda: ItemKNN(),
        "MFRecommender": lambda: MFRecommender(progress=False),
        "IAutoRec": lambda: IAutoRec(progress=False),
    }
    for name, make in rating_models.items():
        folds = cross_validate_ratings(make, ratings, n_splits=5, seed=0, progress=False)
        out["rating_5fold"][name] = folds.to_dict(orient="list")
        print(f"{name:14s} RMSE {folds.rmse.mean():.4f} +- {folds.rmse.std():.4f}  fit {folds.fit_seconds.mean():.2f} s/fold")

    train, valid, test = ratio_split_by_user(ratings, (0.8, 0.1, 0.1), seed=0)
    seen = pd.concat([train, valid])
    topn_models = {
        "Popularity": Popularity(), "ItemKNN": ItemKNN(mode="ranking"), "BPRMF": BPRMF(progress=False),
        # the deep models of the later chapters, with their defaults, on the same split
        "MultDAE": MultDAE(progress=False), "MultVAE": MultVAE(progress=False),
        "LightGCN": LightGCN(progress=False), "CFGAN": CFGAN(progress=False),
    }
    for name, model in topn_models.items():
        early_stopped = name not in ("Popularity", "ItemKNN")  # the others take valid= and stop early
        model.fit(train, valid=valid) if early_stopped else model.fit(train)
        report = evaluate_topn(model, seen, test, k=10)
        report["fit_seconds"] = model.fit_seconds_
        if early_stopped:
            report["seconds_per_epoch_median"] = statistics.median(model.history_["seconds"])
            report["epochs"] = int(len(model.history_))
        out["topn_811"][name] = report
        print(f"{name:14s} NDCG@10 {report['ndcg_at_k']:.4f}  Recall@10 {report['recall_at_k']:.4f}")

    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
