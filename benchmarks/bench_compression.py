"""Compression trade-offs of DeepFM on the click-through protocol: size, CPU latency, accuracy.

Trains chapter 5's DeepFM on ``build_ctr_features(ML-100K, seed)``, builds the variants of
:func:`recfeat_ref.compression.build_variants` (int8 linear layers, magnitude pruning,
a distilled and a plain small student, hashed id tables) and measures for each:
parameters, bytes on disk (dense, and with a bitmask for mostly-zero tensors), test AUC
and log loss, and the median CPU latency of a forward pass over 1,000 rows on one thread.
Writes the table with machine information to ``benchmarks/results/compression_ml100k.json``.

Usage: python benchmarks/bench_compression.py [--seed 0] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_core import machine_info  # noqa: E402

from recfeat_ref.compression import build_variants, compare_variants  # noqa: E402
from recfeat_ref.ctr import build_ctr_features, fit_ctr  # noqa: E402
from recfeat_ref.datasets import load_movielens_100k  # noqa: E402
from recfeat_ref.neural import DeepFM, DeepFMConfig  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "compression_ml100k.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = build_ctr_features(load_movielens_100k(verbose=False), seed=args.seed)
    teacher = fit_ctr(lambda: DeepFM(DeepFMConfig(data.featurizer.field_dims_, data.featurizer.multi_dims_)),
                      data.train, data.valid, num_epochs=30, patience=5, seed=args.seed).model
    variants = build_variants(teacher, data, seed=args.seed)
    table = compare_variants(variants, data.test, measure_latency=True)
    print(table.round(4).to_string())
    payload = {"benchmark": "compression", "seed": args.seed, "machine": machine_info(1),
               "notes": {name: v.note for name, v in variants.items()},
               "results": table.to_dict(orient="index")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
