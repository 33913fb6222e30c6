#!/usr/bin/env bash
# Build the carry folder that benchmarks/gpu_session.sh needs on a bare device machine
# (no network there): the wheels of benchmarks/gpu_wheels.txt for the device's Python,
# the MovieLens-100K cache and the cached MiniLM item embeddings, and a manifest. Prints
# the size and fails when carry + working tree exceed the device call's 64 MiB.
#
# Usage (here, with network, after `make data`):
#   bash benchmarks/prepare_gpu_session.sh
# Environment:
#   CARRY       the folder to fill (default benchmarks/.gpu_carry, git-ignored); its
#               wheels/, data/ and manifest.json are replaced
#   PY_VERSION  the X.Y the wheels are for (default 3.12, the device's python3);
#               3.11 for a rehearsal on this machine
#   PYTHON      the project's interpreter (default .venv/bin/python): it must import
#               recfeat_ref, packaging and, when the embeddings are not cached yet,
#               the sentence encoder (make setup installs all of them)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
CARRY=${CARRY:-$ROOT/benchmarks/.gpu_carry}
PY_VERSION=${PY_VERSION:-3.12}
mkdir -p "$CARRY"
CARRY=$(cd "$CARRY" && pwd)

echo "== wheel list (benchmarks/gpu_wheels.txt) is current"
"$PYTHON" benchmarks/gpu_carry.py check-wheels

echo "== wheels for CPython $PY_VERSION, manylinux x86-64 -> $CARRY/wheels"
rm -rf "$CARRY/wheels"
mkdir -p "$CARRY/wheels"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: \
  --python-version "$PY_VERSION" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_26_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
  -d "$CARRY/wheels" -r benchmarks/gpu_wheels.txt
want=$(grep -cv '^\s*\(#\|$\)' benchmarks/gpu_wheels.txt)
have=$(ls "$CARRY/wheels"/*.whl | wc -l)
if [ "$want" != "$have" ]; then
  echo "expected $want wheels, got $have" >&2
  exit 1
fi

echo "== data (ML-100K cache, MiniLM item embeddings) -> $CARRY/data"
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$PYTHON" benchmarks/gpu_carry.py data "$CARRY"

echo "== manifest and size"
"$PYTHON" benchmarks/gpu_carry.py manifest "$CARRY" --python "$PY_VERSION"
