"""Cost and validation NDCG of the hybrid ranker (recfeat_ref.hybrid.FeatureRanker) by setting.

On ML-100K's per-user 8:1:1 split (seed 0), with the top-N feature groups of
:mod:`recfeat_ref.ablation` (every categorical and multi-hot group; random stand-ins of
the same shapes for the 64-d text and LightGCN blocks, whose values do not change the
cost), measures for each fusion and each (batch size, learning rate):

* the CPU time of one epoch on one thread (median of ``--epochs`` epochs, no validation);
* with ``--fit``, the best validation NDCG@10 and its epoch under early stopping, for the
  ids alone and for every categorical and multi-hot group (``patience`` as given).

Writes the table with machine information to ``benchmarks/results/hybrid_ml100k.json``.

Usage: python benchmarks/bench_hybrid.py [--epochs 10] [--fit] [--patience 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_core import machine_info  # noqa: E402

from recfeat_ref.ablation import ITEM_GROUPS, USER_GROUPS, entity_tables  # noqa: E402
from recfeat_ref.datasets import load_movielens_100k  # noqa: E402
from recfeat_ref.hybrid import FUSIONS, EntityFeatures, FeatureRanker  # noqa: E402
from recfeat_ref.splits import ratio_split_by_user  # noqa: E402

SETTINGS = ((4096, 5e-3), (8192, 1e-2))  # BPR-MF's, and the ablation chapter's


def tables(ml, train, dense: bool):
    """User and item feature tables with every categorical/multi-hot group (+ dense stand-ins)."""
    users, items = entity_tables(ml.users, ml.items, train)
    rng = np.random.default_rng(0)
    user_dense = {"lightgcn": rng.normal(size=(len(users), 64))} if dense else {}
    item_dense = {"text": rng.normal(size=(len(items), 64)), "lightgcn": rng.normal(size=(len(items), 64))} if dense else {}
    item_fields = [c for g in ITEM_GROUPS.values() for c in g]
    multi = [c for c in item_fields if isinstance(items[c].iloc[0], list)]
    u = EntityFeatures(users, "user_id", categorical=[c for g in USER_GROUPS.values() for c in g], dense=user_dense)
    i = EntityFeatures(items, "item_id", categorical=[c for c in item_fields if c not in multi], multi_hot=multi,
                       dense=item_dense)
    return u, i


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--fit", action="store_true", help="also fit with early stopping (slower)")
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "hybrid_ml100k.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ml = load_movielens_100k(verbose=False)
    train, valid, _ = ratio_split_by_user(ml.ratings, (0.8, 0.1, 0.1), seed=0)
    users, items = tables(ml, train, dense=True)
    rows = []
    for batch_size, lr in SETTINGS:
        for fusion in FUSIONS:
            model = FeatureRanker(users, items, fusion=fusion, batch_size=batch_size, lr=lr,
                                  num_epochs=args.epochs, progress=False, device="cpu")
            model.fit(train)
            row = {"batch_size": batch_size, "lr": lr, "fusion": fusion,
                   "seconds_per_epoch": float(np.median(model.history_["seconds"]))}
            rows.append(row)
            print(row, flush=True)
        if args.fit:
            users_cat, items_cat = tables(ml, train, dense=False)
            for name, (u, i) in {"ids": (None, None), "categorical groups": (users_cat, items_cat)}.items():
                start = time.perf_counter()
                model = FeatureRanker(u, i, batch_size=batch_size, lr=lr, patience=args.patience,
                                      progress=False, device="cpu").fit(train, valid)
                row = {"batch_size": batch_size, "lr": lr, "features": name, "patience": args.patience,
                       "best_valid_ndcg_at_10": float(model.history_["valid_ndcg_at_10"].max()),
                       "best_epoch": int(model.best_epoch_), "fit_seconds": time.perf_counter() - start}
                rows.append(row)
                print(row, flush=True)
    payload = {"benchmark": "hybrid ranker", "split": "ratio_split_by_user(ML-100K, 8:1:1, seed=0)",
               "machine": machine_info(1), "results": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
