"""Speed of the spine's hot paths on MovieLens-100K, with machine information.

Measures (median of repeats, after one warm-up):
* loading ML-100K from the cache;
* one training epoch of biased MF and of the article's OneHotMLP with the Trainer
  (80,000 ratings, batch 1,024);
* full-catalogue top-10 ranking with training items excluded (943 x 1,682).

Usage: python benchmarks/bench_core.py [--threads N] [--out benchmarks/results/core.json]
Timings belong here, not in tests: tests must not fail because a machine is busy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from recfeat_ref import metrics
from recfeat_ref.datasets import load_movielens_100k
from recfeat_ref.models import BiasedMF, MFConfig, MLPConfig, OneHotMLP
from recfeat_ref.preprocessing import IdEncoder, interactions_to_csr
from recfeat_ref.splits import ratio_split_by_user
from recfeat_ref.training import TrainConfig, Trainer, get_device, seed_everything


def machine_info(threads: int) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    device = get_device()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": threads,
        "device": str(device),
        "gpu": torch.cuda.get_device_name(0) if device.type == "cuda" else None,
        "numpy": np.__version__,
    }


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--busy", action="store_true", help="run a busy-loop process beside the benchmark, as a shared machine would")
    parser.add_argument("--trainer-threads", type=int, default=1, help="TrainConfig.cpu_threads for the epoch timings (0 = leave torch's setting)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {"machine": machine_info(args.threads) | {"busy_neighbour": args.busy, "trainer_threads": args.trainer_threads}, "seconds": {}}
    if args.busy:
        import subprocess
        import sys

        neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])

    results["seconds"]["load_ml100k_from_cache"] = timed(lambda: load_movielens_100k(sources=("cache",), verbose=False), args.repeats)

    ratings = load_movielens_100k(verbose=False).ratings
    train, valid, _ = ratio_split_by_user(ratings, ratios=(0.8, 0.1, 0.1), seed=0)
    ue, ie = IdEncoder().fit(train["user_id"]), IdEncoder().fit(train["item_id"])
    u, i = torch.tensor(ue.transform(train["user_id"])), torch.tensor(ie.transform(train["item_id"]))
    r = torch.tensor(train["rating"].to_numpy(np.float32))
    liked = (r >= 4).float()

    def epoch_times(model, inputs, target, loss):
        cfg = TrainConfig(
            num_epochs=args.repeats + 1, patience=None, progress=False, batch_size=1024, cpu_threads=args.trainer_threads or None
        )
        hist = Trainer(model, loss, cfg).fit((inputs, target))
        return hist["seconds"].tolist()[1:]  # drop the warm-up epoch

    seed_everything(0)
    mf = BiasedMF(MFConfig(ue.n_classes_, ie.n_classes_, n_factors=64, global_mean=float(r.mean())))
    results["seconds"]["epoch_biased_mf_80k"] = epoch_times(mf, (u, i), r, nn.MSELoss())
    seed_everything(0)
    mlp = OneHotMLP(MLPConfig(field_dims=(ue.n_classes_, ie.n_classes_)))
    results["seconds"]["epoch_onehot_mlp_80k"] = epoch_times(mlp, torch.column_stack([u, i]), liked, nn.BCEWithLogitsLoss())

    rng = np.random.default_rng(0)
    scores = rng.normal(size=(ue.n_classes_ - 1, ie.n_classes_ - 1)).astype(np.float32)
    seen = interactions_to_csr(
        train.assign(user_id=ue.transform(train["user_id"]) - 1, item_id=ie.transform(train["item_id"]) - 1),
        n_users=scores.shape[0],
        n_items=scores.shape[1],
    )
    results["seconds"]["topk10_full_catalogue"] = timed(lambda: metrics.topk_items(scores, 10, exclude=seen), args.repeats)

    if args.busy:
        neighbour.kill()
    print(json.dumps(results["machine"], indent=1))
    for name, values in results["seconds"].items():
        print(f"{name:32s} median {statistics.median(values) * 1000:8.1f} ms   (min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f})")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
