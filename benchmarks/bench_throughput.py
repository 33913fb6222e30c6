"""Training throughput of SASRec and LightGCN, in samples per second, on each device here.

The GPU-versus-CPU figure of the GPU check: the same model, data and settings trained
for a few epochs on every device asked for (by default CUDA when present, then the
CPU), one process. The settings are the chapters' full-size ones:

* **SASRec** (chapter 9's ``FULL`` path): ``leave_last_one_out`` training part of
  ML-100K, every window of every history (``max_windows=None``), ``d=64``,
  ``max_len=50``, batch 128 windows, full-softmax cross-entropy. A sample is a
  training window (up to 50 next-item targets); targets per second are reported too.
* **LightGCN** (chapter 7): the 80 % training part of ``ratio_split_by_user(seed=0)``,
  2 layers, 64 factors, batch 4,096 BPR triples, one full-graph propagation per batch.
  A sample is a (user, positive, negative) triple: one per training interaction.
* **Trainer**: OneHotMLP on the same 80 % of ratings through
  ``recfeat_ref.training.Trainer``; on CUDA with mixed precision off, on, and on with
  ``torch.compile`` (pinned-memory copies in every case), on the CPU once (those
  paths are CUDA-only). A sample is a rating. The first epoch of the compiled run
  includes the compilation.

Throughput = samples of one epoch / median training seconds of the epochs after the
first (warm-up: CUDA context, kernels, allocator); the models' own ``history_``
seconds (validation excluded; the loss is read back each epoch, so the GPU is
synchronised). CPU runs use the models' default of one torch thread (the book's CPU
setting) unless ``--cpu-threads`` says otherwise.

``speedup`` holds, for SASRec and LightGCN, each accelerator's samples per second over
each CPU run's ("cpu" is the first ``--cpu-threads`` value, one thread by default).
A model that fails (say ``torch.compile`` without a C compiler) is recorded with its
error and the others still run.

Usage: python benchmarks/bench_throughput.py [--devices cuda,cpu] [--epochs 4]
       [--cpu-threads 1,16] [--models sasrec,lightgcn,trainer] [--out FILE]
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
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_core import machine_info  # noqa: E402

from recfeat_ref.datasets import load_movielens_100k  # noqa: E402
from recfeat_ref.graph import LightGCN  # noqa: E402
from recfeat_ref.sequential import SASRec, training_windows  # noqa: E402
from recfeat_ref.splits import leave_last_one_out, ratio_split_by_user  # noqa: E402

MODELS = ("sasrec", "lightgcn", "trainer")


def _rate(seconds: list[float], samples: int) -> dict:
    timed = seconds[1:] or seconds  # drop the warm-up epoch when there is another
    median = statistics.median(timed)
    return {"epoch_seconds": [round(s, 4) for s in seconds], "median_epoch_seconds": median,
            "samples_per_epoch": samples, "samples_per_second": samples / median}


def sasrec(ratings, device: str, epochs: int, threads: int) -> dict:
    train, _, _ = leave_last_one_out(ratings)
    model = SASRec(d=64, max_len=50, lr=3e-3, seed=0, progress=False, max_windows=None, num_epochs=epochs,
                   device=device, cpu_threads=threads).fit(train)
    _, x, y = training_windows(model.train_sequences_, model.config.max_len, model.config.max_windows)
    out = _rate(model.history_["seconds"].tolist(), len(x))
    out["targets_per_epoch"] = int((y != 0).sum())
    out["targets_per_second"] = out["targets_per_epoch"] / out["median_epoch_seconds"]
    out["sample"] = "a training window of up to 50 next-item targets (batch 128 windows)"
    return out


def lightgcn(ratings, device: str, epochs: int, threads: int) -> dict:
    train, _, _ = ratio_split_by_user(ratings, ratios=(0.8, 0.1, 0.1), seed=0)
    model = LightGCN(num_epochs=epochs, progress=False, device=device, cpu_threads=threads).fit(train)
    out = _rate(model.history_["seconds"].tolist(), len(train))
    out["sample"] = "a BPR triple (user, positive, negative); batch 4,096, one propagation per batch"
    return out


def trainer(ratings, device: str, epochs: int, threads: int) -> dict:
    """OneHotMLP through the Trainer: AMP off / on / on + torch.compile (the CUDA-only paths)."""
    from torch import nn

    from recfeat_ref.models import MLPConfig, OneHotMLP
    from recfeat_ref.preprocessing import IdEncoder
    from recfeat_ref.training import TrainConfig, Trainer, seed_everything

    train, _, _ = ratio_split_by_user(ratings, ratios=(0.8, 0.1, 0.1), seed=0)
    ue, ie = IdEncoder().fit(train["user_id"]), IdEncoder().fit(train["item_id"])
    x = torch.column_stack([torch.tensor(ue.transform(train["user_id"])), torch.tensor(ie.transform(train["item_id"]))])
    y = torch.tensor((train["rating"].to_numpy() >= 4).astype(np.float32))
    out = {}
    variants = {"fp32": dict(amp=False), "amp": dict(amp=True), "amp_compile": dict(amp=True, compile=True)}
    if torch.device(device).type != "cuda":
        variants = {"fp32": variants["fp32"]}  # AMP and compile are CUDA-only: on the CPU the three are one path
    for name, flags in variants.items():
        seed_everything(0)
        model = OneHotMLP(MLPConfig(field_dims=(ue.n_classes_, ie.n_classes_)))
        cfg = TrainConfig(num_epochs=epochs, patience=None, progress=False, batch_size=1024, device=device,
                          cpu_threads=threads, **flags)
        t = Trainer(model, nn.BCEWithLogitsLoss(), cfg)
        hist = t.fit((x, y))
        out[name] = _rate(hist["seconds"].tolist(), len(y)) | {
            "amp_dtype": str(t._amp_dtype) if t._amp_dtype is not None else None,
            "compiled": t._forward is not t.model, "final_train_loss": float(hist["train_loss"].iloc[-1])}
    out["sample"] = "a rating (batch 1,024)"
    return out


def _runs(devices: list[str], cpu_threads: list[int]) -> list[tuple[str, str, int]]:
    """(key, device, threads): "cpu" is the first thread count, "cpu_<n>_threads" the others."""
    runs = []
    for device in devices:
        if torch.device(device).type == "cpu":
            runs += [("cpu" if i == 0 else f"cpu_{n}_threads", device, n) for i, n in enumerate(cpu_threads)]
        else:
            runs.append((device, device, cpu_threads[0]))
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_devices = "cuda,cpu" if torch.cuda.is_available() else "cpu"
    parser.add_argument("--devices", default=default_devices, help=f"comma-separated (default here: {default_devices})")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run; the first is the warm-up")
    parser.add_argument("--cpu-threads", default="1",
                        help="torch threads on the CPU, comma-separated: one CPU run each; the first (default 1, "
                             "the models' default) is the reference of the speed-up")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    devices = [d for d in args.devices.split(",") if d]
    models = [m for m in args.models.split(",") if m]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {MODELS}")
    try:
        threads = list(dict.fromkeys(int(n) for n in args.cpu_threads.split(",") if n))
    except ValueError:
        parser.error(f"--cpu-threads must be positive ints, got {args.cpu_threads!r}")
    if not threads or min(threads) < 1:
        parser.error(f"--cpu-threads must be positive ints, got {args.cpu_threads!r}")
    if any(torch.device(d).type == "cuda" for d in devices) and not torch.cuda.is_available():
        parser.error("--devices has cuda, but torch sees no CUDA device")
    if args.epochs < 1:
        parser.error("--epochs must be >= 1")
    ratings = load_movielens_100k(verbose=False).ratings
    results = {"benchmark": "throughput", "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "machine": machine_info(threads[0]), "epochs": args.epochs, "cpu_threads": threads,
               "load_average_start": os.getloadavg(), "devices": {}}
    functions = {"sasrec": sasrec, "lightgcn": lightgcn, "trainer": trainer}

    def write():  # after every run, so a run cut short keeps what it measured
        results["load_average_end"] = os.getloadavg()  # 1, 5, 15 min: a busy machine slows the CPU runs
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2) + "\n")

    failed = False
    for key, device, n in _runs(devices, threads):
        results["devices"][key] = {}
        for name in models:
            start = time.perf_counter()
            try:
                r = functions[name](ratings, device, args.epochs, n)
            except Exception as exc:  # noqa: BLE001 - e.g. torch.compile without a compiler: record it, go on
                failed = True
                r = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
                print(f"{key:16s} {name:9s} failed: {r['error'][:300]}", flush=True)
            r["wall_seconds"] = time.perf_counter() - start
            r["torch_threads"] = n
            results["devices"][key][name] = r
            if "error" not in r:
                rates = ({k: v["samples_per_second"] for k, v in r.items() if isinstance(v, dict) and "samples_per_second" in v}
                         if name == "trainer" else {"": r["samples_per_second"]})
                shown = "  ".join(f"{k + ' ' if k else ''}{v:,.0f}/s" for k, v in rates.items())
                print(f"{key:16s} {name:9s} {shown}  ({r['wall_seconds']:.1f} s)", flush=True)
            write()
    speedups = {}
    for key in results["devices"]:
        if key.startswith("cpu") or "cpu" not in results["devices"]:
            continue
        for ref in (k for k in results["devices"] if k.startswith("cpu")):
            for name in ("sasrec", "lightgcn"):
                a, b = results["devices"][key].get(name, {}), results["devices"][ref].get(name, {})
                if "samples_per_second" in a and "samples_per_second" in b:
                    speedups[f"{name} {key} / {ref}"] = a["samples_per_second"] / b["samples_per_second"]
    if speedups:
        results["speedup"] = speedups
        print("speed-up:", {k: round(v, 1) for k, v in speedups.items()})
    write()
    if args.out:
        print("wrote", args.out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
