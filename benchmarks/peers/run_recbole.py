"""RecBole 1.2.1 on the book's per-user 8:1:1 split of ML-100K: full-ranking top-10 metrics.

Runs in ``benchmarks/.venvs/recbole`` (see ``benchmarks/run_peers.sh``) on
``DATA_DIR/ml100k-811/ml100k-811.{train,valid,test}.inter`` written by
``benchmarks/export_splits.py`` from ``ratio_split_by_user(ratings, (0.8, 0.1, 0.1), seed=0)``,
in RecBole's benchmark-file mode (``benchmark_filename: [train, valid, test]``: the
three files ARE the split; RecBole neither re-splits nor filters them).

Protocol (RecBole's own trainer, ``trainer.fit`` then ``trainer.evaluate``):

* implicit feedback: every interaction, whatever its rating, is a positive
  (no ``threshold``), so every test row is relevant, as in ``evaluate_topn``'s default;
* training: pairwise/pointwise with 1 uniform negative per positive
  (``train_neg_sample_args``), Adam lr 0.001, batch 2048, up to 300 epochs,
  validation on ``valid`` after every epoch with NDCG@10, early stopping after 10
  epochs without improvement, best epoch's checkpoint reloaded for the test;
* evaluation: full ranking (``mode: full``) over every item id that occurs in any of
  the three files; at test time the user's train AND valid items are excluded
  (scores set to -inf), at validation time the train items (see README.md);
* metrics Recall, NDCG, Hit, MRR, Precision @10, averaged over the users with at
  least one test row (6 decimals).

Seconds per epoch: wall clock of ``Trainer._train_epoch`` (timed here) and the
"epoch N training [time: Xs" lines RecBole logs (parsed), which measure the same
call; validation time separately.

torch >= 2.6 makes ``torch.load(weights_only=True)`` the default. RecBole's
checkpoint holds its ``Config`` object, so reloading the best model for the test
fails with an ``UnpicklingError``; ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` restores the
old default (we load only the checkpoint this run just wrote). It is set below
before torch is imported.

Usage: python benchmarks/peers/run_recbole.py --data DATA_DIR --out FILE [--models BPR,LightGCN,NeuMF]
"""

from __future__ import annotations

import os

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

import argparse
import json
import logging
import re
import statistics
import sys
import time
import warnings
from pathlib import Path

# Known, harmless noise from RecBole 1.2.1 on newer pandas/torch (and the documented override below).
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", message="Environment variable TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD detected")
warnings.filterwarnings("ignore", message=r"torch\.sparse\.SparseTensor")

import torch
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.utils import get_model, get_trainer, init_logger, init_seed

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info

DATASET = "ml100k-811"
TOPK = 10
SEED = 0

BASE_CONFIG = {
    "dataset": DATASET,
    "benchmark_filename": ["train", "valid", "test"],
    "load_col": {"inter": ["user_id", "item_id", "rating", "timestamp"]},
    "USER_ID_FIELD": "user_id",
    "ITEM_ID_FIELD": "item_id",
    "RATING_FIELD": "rating",
    "TIME_FIELD": "timestamp",
    # split is ignored in benchmark-file mode (Dataset.build returns the three files as
    # they are); group_by/order are likewise unused. mode: full = rank every item.
    "eval_args": {"split": {"RS": [0.8, 0.1, 0.1]}, "group_by": "user", "order": "RO", "mode": "full"},
    "metrics": ["Recall", "NDCG", "Hit", "MRR", "Precision"],
    "topk": [TOPK],
    "valid_metric": f"NDCG@{TOPK}",
    "metric_decimal_place": 6,
    "train_neg_sample_args": {"distribution": "uniform", "sample_num": 1, "alpha": 1.0, "dynamic": False, "candidate_num": 0},
    "epochs": 300,
    "stopping_step": 10,
    "eval_step": 1,
    "train_batch_size": 2048,
    "learning_rate": 0.001,
    # RecBole scores eval_batch_size // n_items users per batch (here 77 users, 13 batches):
    # larger batches make NeuMF's all-pairs scoring (no full_sort_predict) allocate GBs.
    "eval_batch_size": 131_072,
    "use_gpu": False,
    "worker": 0,
    "seed": SEED,
    "reproducibility": True,
    "show_progress": False,
    "state": "INFO",
}

MODEL_CONFIG = {
    "BPR": {"embedding_size": 64},
    "LightGCN": {"embedding_size": 64, "n_layers": 2, "reg_weight": 1e-05},
    "NeuMF": {"mf_embedding_size": 64, "mlp_embedding_size": 64, "mlp_hidden_size": [128, 64], "dropout_prob": 0.1},
}

ANSI = re.compile(r"\x1b\[[0-9;]*m")
EPOCH_LINE = re.compile(r"epoch (\d+) training \[time: ([0-9.]+)s")


class EpochLogParser(logging.Handler):
    """Collects RecBole's "epoch N training [time: Xs, ..." lines."""

    def __init__(self):
        super().__init__()
        self.seconds: dict[int, float] = {}

    def emit(self, record):
        m = EPOCH_LINE.search(ANSI.sub("", record.getMessage()))
        if m:
            self.seconds[int(m.group(1))] = float(m.group(2))


def exclusion_check(test_data, built) -> dict:
    """Confirm what RecBole excludes at test time, from its own test loader.

    Per test user, compares ``uid2history_item`` (the items whose scores are set to
    -inf) with the user's train items and with train | valid items.
    """
    uid, iid = test_data.uid_field, test_data.iid_field

    def items_by_user(ds):
        out: dict[int, set] = {}
        for u, i in zip(ds.inter_feat[uid].numpy(), ds.inter_feat[iid].numpy()):
            out.setdefault(int(u), set()).add(int(i))
        return out

    train, valid = items_by_user(built[0]), items_by_user(built[1])
    users = [int(u) for u in test_data.uid_list.numpy()]
    hist = {u: set(test_data.uid2history_item[u].tolist()) for u in users}
    return {
        "test_users": len(users),
        "users_excluded_equals_train_union_valid": sum(hist[u] == train.get(u, set()) | valid.get(u, set()) for u in users),
        "users_excluded_equals_train_only": sum(hist[u] == train.get(u, set()) for u in users),
        "excluded_pairs_total": sum(len(h) for h in hist.values()),
    }


def run_model(name: str, data_dir: Path, work_dir: Path, threads: int, epochs: int, stopping_step: int) -> dict:
    cfg = {**BASE_CONFIG, **MODEL_CONFIG[name], "data_path": str(data_dir), "epochs": epochs,
           "stopping_step": stopping_step, "checkpoint_dir": str(work_dir / "saved")}
    config = Config(model=name, dataset=DATASET, config_dict=cfg)
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    torch.set_num_threads(threads)
    parser = EpochLogParser()
    logging.getLogger().addHandler(parser)
    try:
        dataset = create_dataset(config)
        train_data, valid_data, test_data = data_preparation(config, dataset)
        built = (train_data._dataset, valid_data._dataset, test_data._dataset)
        init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
        model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
        trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)

        train_s, valid_s = [], []
        orig_train, orig_valid = trainer._train_epoch, trainer._valid_epoch

        def timed_train(*a, **kw):
            start = time.perf_counter()
            out = orig_train(*a, **kw)
            train_s.append(time.perf_counter() - start)
            return out

        def timed_valid(*a, **kw):
            start = time.perf_counter()
            out = orig_valid(*a, **kw)
            valid_s.append(time.perf_counter() - start)
            return out

        trainer._train_epoch, trainer._valid_epoch = timed_train, timed_valid
        start = time.perf_counter()
        best_valid_score, best_valid_result = trainer.fit(train_data, valid_data, saved=True, show_progress=False)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        test_result = trainer.evaluate(test_data, load_best_model=True, show_progress=False)
        test_s = time.perf_counter() - start
        checkpoint_epoch = torch.load(trainer.saved_model_file, map_location="cpu")["epoch"]  # 0-based
        Path(trainer.saved_model_file).unlink(missing_ok=True)  # checkpoints would pile up run after run
        excl = exclusion_check(test_data, built)
        n_items = dataset.item_num - 1  # id 0 is RecBole's padding item
        train_items = set(built[0].inter_feat[dataset.iid_field].numpy().tolist())
        test_items = built[2].inter_feat[dataset.iid_field].numpy()
    finally:
        logging.getLogger().removeHandler(parser)

    logged = [parser.seconds[k] for k in sorted(parser.seconds)]
    return {
        "config": {k: (v if not isinstance(v, Path) else str(v)) for k, v in {**MODEL_CONFIG[name], "epochs_max": epochs, "stopping_step": stopping_step}.items()},
        "n_parameters": int(sum(p.numel() for p in model.parameters())),
        "test": {k: float(v) for k, v in test_result.items()},
        "best_valid": {k: float(v) for k, v in best_valid_result.items()},
        "best_valid_score": float(best_valid_score),
        "best_epoch": int(checkpoint_epoch),
        "epochs_run": len(train_s),
        "seconds_per_epoch_train": {
            "median": statistics.median(train_s),
            "mean": statistics.fmean(train_s),
            "min": min(train_s),
            "max": max(train_s),
        },
        "seconds_per_epoch_train_logged": {"median": statistics.median(logged), "mean": statistics.fmean(logged)} if logged else None,
        "seconds_per_validation": {"median": statistics.median(valid_s), "mean": statistics.fmean(valid_s)} if valid_s else None,
        "seconds_train_each_epoch": [round(s, 4) for s in train_s],
        "fit_seconds_total": fit_s,
        "test_seconds": test_s,
        "catalogue": {
            "n_users": int(dataset.user_num - 1),
            "n_items_ranked": int(n_items),
            "n_items_in_train": len(train_items),
            "test_rows_whose_item_is_not_in_train": int(sum(i not in train_items for i in test_items)),
        },
        "exclusion_check": excl,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the folder written by export_splits.py")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--models", default="BPR", help="comma-separated subset of " + ",".join(MODEL_CONFIG))
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--epochs", type=int, default=300, help="maximum epochs (early stopping usually ends sooner)")
    parser.add_argument("--stopping-step", type=int, default=10, help="early-stopping patience in epochs (default 10)")
    args = parser.parse_args()
    sys.argv = sys.argv[:1]  # recbole.config.Config also parses the command line ("--key=value")
    data_dir = args.data.resolve()
    names = [m for m in args.models.split(",") if m]
    unknown = set(names) - set(MODEL_CONFIG)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; choose from {list(MODEL_CONFIG)}")
    for part in ("train", "valid", "test"):
        f = data_dir / DATASET / f"{DATASET}.{part}.inter"
        if not f.is_file():
            sys.exit(f"missing {f}: run benchmarks/export_splits.py first")

    # RecBole writes ./log, ./log_tensorboard and its checkpoints relative to the cwd:
    # keep them in the (git-ignored) data folder.
    work_dir = data_dir / "recbole_work"
    work_dir.mkdir(parents=True, exist_ok=True)
    out_path = args.out.resolve()
    os.chdir(work_dir)

    results, total_start = {}, time.perf_counter()
    for name in names:
        print(f"== {name}", flush=True)
        results[name] = r = run_model(name, data_dir, work_dir, args.threads, args.epochs, args.stopping_step)
        t = r["test"]
        print(
            f"{name}: test NDCG@10 {t['ndcg@10']:.4f} Recall@10 {t['recall@10']:.4f}  best epoch {r['best_epoch']} "
            f"of {r['epochs_run']}, {r['seconds_per_epoch_train']['median']:.3f} s/epoch",
            flush=True,
        )
    total_s = time.perf_counter() - total_start

    out = {
        "benchmark": "RecBole, ML-100K, per-user 8:1:1 split of recfeat_ref (benchmark files), full ranking, top-10",
        "protocol": {
            "split": "recfeat_ref.splits.ratio_split_by_user(load_movielens_100k().ratings, (0.8, 0.1, 0.1), seed=0)",
            "config": {k: v for k, v in BASE_CONFIG.items()},
            "relevance": "every test interaction is relevant (implicit feedback; no rating threshold)",
            "candidates": "every item id present in train, valid or test (RecBole remaps ids over the three files)",
            "excluded_at_test": "the user's train and valid items (Sampler used_ids accumulate over phases; "
            "FullSortEvalDataLoader history = used_ids - test positives); padding id 0",
            "excluded_at_valid": "the user's train items",
            "users_averaged": "users with >= 1 test row; mean of per-user values",
            "metric_definitions": {
                "recall@k": "hits / |R_u| (all test positives, including items never seen in train)",
                "ndcg@k": "binary gain, 1/log2(rank+1), IDCG over min(|R_u|, k)",
                "precision@k": "hits / k",
                "hit@k": "1 if any hit",
                "mrr@k": "1 / rank of first hit within k, else 0",
            },
            "epoch_seconds": "perf_counter around Trainer._train_epoch; the logged 'epoch N training [time: Xs' agrees",
            "torch_load": "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 (torch>=2.6 weights_only default breaks reloading RecBole's checkpoint)",
        },
        "machine": machine_info(
            ("recbole", "torch", "numpy", "scipy", "pandas", "ray", "colorlog", "setuptools"),
            torch_threads=torch.get_num_threads(),
            torch_interop_threads=torch.get_num_interop_threads(),
            env_TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"),
        ),
        "total_seconds": total_s,
        "results": results,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(out, indent=1, default=str) + "\n")
    print()
    print(f"{'model':10s} {'NDCG@10':>8s} {'Recall@10':>9s} {'Hit@10':>7s} {'MRR@10':>7s} {'P@10':>7s} {'epochs':>7s} {'s/epoch':>8s}")
    for name, r in results.items():
        t = r["test"]
        print(
            f"{name:10s} {t['ndcg@10']:8.4f} {t['recall@10']:9.4f} {t['hit@10']:7.4f} {t['mrr@10']:7.4f} "
            f"{t['precision@10']:7.4f} {r['epochs_run']:7d} {r['seconds_per_epoch_train']['median']:8.3f}"
        )
    print(f"total {total_s:.0f} s; written {out_path}")


if __name__ == "__main__":
    main()
