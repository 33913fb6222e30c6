"""Export the book's ML-100K splits as plain files, so other libraries run on exactly our data.

Writes, under DATA_DIR (default ``benchmarks/data/``, git-ignored: the GroupLens
terms forbid redistributing MovieLens, so these files are never committed):

``folds/fold{k}.train.tsv``, ``folds/fold{k}.test.tsv`` for k = 0..4
    ``kfold_split(ratings, n_splits=5, seed=0)``: the rating-prediction CV folds
    (every rating is in exactly one test fold). Read by the Surprise runner.
``ratio811/train.tsv``, ``ratio811/valid.tsv``, ``ratio811/test.tsv``
    ``ratio_split_by_user(ratings, (0.8, 0.1, 0.1), seed=0)``: per-user random
    8:1:1 holdout (every user is in train).
``ml100k-811/ml100k-811.{train,valid,test}.inter``
    The same 8:1:1 split in RecBole's atomic-file layout, for its "benchmark file"
    mode (``benchmark_filename: [train, valid, test]``). Header
    ``user_id:token  item_id:token  rating:float  timestamp:float``.
``manifest.json``
    Row counts and SHA-256 of every file, and the arguments used.

Every TSV has the header ``user_id item_id rating timestamp`` (tab-separated), rows
in the original ``u.data`` order within each part. Ids are MovieLens' own raw ids.

Usage: python benchmarks/export_splits.py [DATA_DIR]
(needs ``recfeat_ref`` importable: the project's venv)
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import pandas as pd

from recfeat_ref.datasets import load_movielens_100k
from recfeat_ref.splits import kfold_split, ratio_split_by_user

COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
RECBOLE_HEADER = ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]
RECBOLE_DATASET = "ml100k-811"
N_SPLITS, CV_SEED = 5, 0
RATIOS, RATIO_SEED = (0.8, 0.1, 0.1), 0

DEFAULT_DIR = Path(__file__).resolve().parent / "data"


def _write(df: pd.DataFrame, path: Path, header: list[str]) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = df[COLUMNS].astype("int64")  # ML-100K ratings and timestamps are integers
    out.to_csv(path, sep="\t", index=False, header=header, lineterminator="\n")
    return {"rows": len(out), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def export(data_dir: Path) -> dict:
    ratings = load_movielens_100k(verbose=False).ratings
    files: dict[str, dict] = {}

    for k, (train, test) in enumerate(kfold_split(ratings, n_splits=N_SPLITS, seed=CV_SEED)):
        for part, frame in (("train", train), ("test", test)):
            rel = f"folds/fold{k}.{part}.tsv"
            files[rel] = _write(frame, data_dir / rel, COLUMNS)

    parts = dict(zip(("train", "valid", "test"), ratio_split_by_user(ratings, RATIOS, seed=RATIO_SEED)))
    for part, frame in parts.items():
        rel = f"ratio811/{part}.tsv"
        files[rel] = _write(frame, data_dir / rel, COLUMNS)
        rel = f"{RECBOLE_DATASET}/{RECBOLE_DATASET}.{part}.inter"
        files[rel] = _write(frame, data_dir / rel, RECBOLE_HEADER)

    train_items = set(parts["train"]["item_id"])
    seen_in = {p: int(f["item_id"].isin(train_items).sum()) for p, f in parts.items() if p != "train"}
    manifest = {
        "source": "recfeat_ref.datasets.load_movielens_100k(verbose=False).ratings",
        "cv": f"kfold_split(ratings, n_splits={N_SPLITS}, seed={CV_SEED})",
        "ratio811": f"ratio_split_by_user(ratings, {RATIOS}, seed={RATIO_SEED})",
        "ratio811_rows_whose_item_is_in_train": seen_in,
        "files": files,
    }
    (data_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    manifest = export(args.data_dir)
    for rel, info in manifest["files"].items():
        print(f"{rel:40s} {info['rows']:7d} rows")
    print("valid/test rows whose item is in train:", manifest["ratio811_rows_whose_item_is_in_train"])
    print(f"written under {args.data_dir}")


if __name__ == "__main__":
    main()
