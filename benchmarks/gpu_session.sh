#!/usr/bin/env bash
# The GPU session: run the chapter notebooks' full-size path on a bare, offline device
# machine and record what each one cost, plus the training throughput of SASRec and
# LightGCN on the GPU and the CPU. Everything it needs travels in the carry folder made
# by benchmarks/prepare_gpu_session.sh; it never uses the network.
#
# Usage: bash benchmarks/gpu_session.sh [options] [CHAPTER ...]
#   CHAPTER           01..17 (or 1..17, or a notebook name such as 10_transfer);
#                     default: all 17, in order
#   --timeout S       limit per notebook, seconds (default 300); the kernel is killed
#                     at the limit and the notebook recorded as "timeout"
#   --budget S        the whole command ends within S seconds (default 570): each
#                     notebook's limit is cut to what is left, and a notebook with less
#                     than 20 s left is recorded as "skipped"
#   --throughput      run benchmarks/bench_throughput.py first (the default)
#   --no-throughput   do not
#   --throughput-limit S   its time limit (default 180)
#   --throughput-threads LIST   torch threads of its CPU runs (default 1,<CPUs>: the
#                     book's one thread, the reference of the speed-up, and all cores)
#   --tag TAG         suffix of the output names (default: the lowest and highest
#                     chapter, e.g. ch10-17; none when all 17 run)
#   --dry-run         check the arguments and the carry, print the plan, run nothing
# Environment:
#   OUT     where the log and the JSON files go (default benchmarks/.gpu_out)
#   CARRY   the carry folder (default benchmarks/.gpu_carry)
#   PYTHON  the interpreter that has torch (default python3)
#   WORK    scratch folder, emptied first (default /tmp/recfeat_gpu_session)
# Writes $OUT/gpu_session_<date>[_TAG].log, $OUT/gpu_check_<date>[_TAG].json and, with
# the throughput step, $OUT/throughput_<date>[_TAG].json. Exit status: 0 when every
# notebook ran to its end, 1 when one failed or timed out, 2 on a set-up error.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CARRY=${CARRY:-$ROOT/benchmarks/.gpu_carry}
OUT=${OUT:-$ROOT/benchmarks/.gpu_out}
PYTHON=${PYTHON:-python3}
WORK=${WORK:-/tmp/recfeat_gpu_session}
PIDS=$WORK.pids  # process ids of the notebook runs (kept outside $WORK, which is emptied)

TIMEOUT=300
BUDGET=570
THROUGHPUT=1
THROUGHPUT_LIMIT=180
THROUGHPUT_THREADS=1,$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
TAG=
DRY_RUN=0
CHAPTERS=()

die() { echo "gpu_session: $*" >&2; exit 2; }
is_int() { [[ $1 =~ ^[0-9]+$ ]]; }

while [ $# -gt 0 ]; do
  case $1 in
    --timeout) is_int "${2:-}" || die "--timeout needs seconds"; TIMEOUT=$2; shift 2 ;;
    --budget) is_int "${2:-}" || die "--budget needs seconds"; BUDGET=$2; shift 2 ;;
    --throughput) THROUGHPUT=1; shift ;;
    --no-throughput) THROUGHPUT=0; shift ;;
    --throughput-limit) is_int "${2:-}" || die "--throughput-limit needs seconds"; THROUGHPUT_LIMIT=$2; shift 2 ;;
    --throughput-threads) [[ ${2:-} =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--throughput-threads needs a list such as 1,16"
      THROUGHPUT_THREADS=$2; shift 2 ;;
    --tag) [[ ${2:-} =~ ^[A-Za-z0-9._-]+$ ]] || die "--tag needs letters, digits, '.', '_' or '-'"; TAG=$2; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) CHAPTERS+=("$1"); shift ;;
  esac
done

# Chapters -> notebook paths (relative to the repository root).
NOTEBOOKS=()
if [ ${#CHAPTERS[@]} -eq 0 ]; then
  for nb in "$ROOT"/notebooks/[0-9][0-9]_*.ipynb; do NOTEBOOKS+=("notebooks/$(basename "$nb")"); done
else
  for ch in "${CHAPTERS[@]}"; do
    if [[ $ch =~ ^[0-9]{1,2}$ ]]; then
      matches=("$ROOT"/notebooks/$(printf %02d "$((10#$ch))")_*.ipynb)
    else
      name=$(basename "$ch" .ipynb)
      matches=("$ROOT/notebooks/$name.ipynb")
    fi
    [ ${#matches[@]} -eq 1 ] && [ -f "${matches[0]}" ] || die "no notebook for chapter '$ch'"
    NOTEBOOKS+=("notebooks/$(basename "${matches[0]}")")
  done
fi
[ ${#NOTEBOOKS[@]} -gt 0 ] || die "no notebooks found under $ROOT/notebooks"
if [ -z "$TAG" ] && [ ${#CHAPTERS[@]} -gt 0 ]; then
  numbers=$(for nb in "${NOTEBOOKS[@]}"; do basename "$nb" | cut -c1-2; done | sort -n)
  first=$(head -1 <<<"$numbers"); last=$(tail -1 <<<"$numbers")
  TAG="ch$first"
  [ "$first" = "$last" ] || TAG="$TAG-$last"
fi
DATE=$(date -u +%Y%m%d)
SUFFIX=${DATE}${TAG:+_$TAG}
LOG=$OUT/gpu_session_$SUFFIX.log
CHECK_JSON=$OUT/gpu_check_$SUFFIX.json
THROUGHPUT_JSON=$OUT/throughput_$SUFFIX.json

[ -f "$CARRY/manifest.json" ] || die "no carry at $CARRY (run benchmarks/prepare_gpu_session.sh here first)"
ls "$CARRY"/wheels/*.whl >/dev/null 2>&1 || die "no wheels in $CARRY/wheels"
[ -d "$CARRY/data/ml-100k" ] || die "no ML-100K cache in $CARRY/data"

if [ $DRY_RUN = 1 ]; then
  echo "notebooks (${#NOTEBOOKS[@]}): ${NOTEBOOKS[*]}"
  echo "timeout ${TIMEOUT} s per notebook, budget ${BUDGET} s, throughput $THROUGHPUT (limit ${THROUGHPUT_LIMIT} s, CPU threads $THROUGHPUT_THREADS)"
  echo "carry $CARRY ($(ls "$CARRY"/wheels/*.whl | wc -l) wheels), python $PYTHON, work $WORK"
  echo "log $LOG"
  echo "results $CHECK_JSON"
  [ $THROUGHPUT = 1 ] && echo "throughput $THROUGHPUT_JSON"
  exit 0
fi

session() {
  local start deadline left rc
  start=$(date +%s)
  deadline=$((start + BUDGET))
  echo "== gpu_session $(date -u +%Y-%m-%dT%H:%M:%SZ): ${#NOTEBOOKS[@]} notebooks, ${TIMEOUT} s each at most, all within ${BUDGET} s"
  echo "== [$(( $(date +%s) - start )) s] machine"
  uname -a
  echo "$(getconf _NPROCESSORS_ONLN) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 2^20}' /proc/meminfo)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$PYTHON" -V || return 2

  echo "== [$(( $(date +%s) - start )) s] interpreter matches the carried wheels"
  local want have
  want=$("$PYTHON" -c "import json, sys; print(json.load(open(sys.argv[1]))['python'])" "$CARRY/manifest.json") || return 2
  have=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  if [ "$want" != "$have" ]; then
    echo "the carried wheels are for Python $want, $PYTHON is $have: rerun prepare_gpu_session.sh with PY_VERSION=$have" >&2
    return 2
  fi

  # A command cut short (the tool's timeout) leaves its notebook processes running: end
  # those this script started before, found by the ids gpu_check.py wrote and checked by
  # their environment (RECFEAT_GPU_PIDS, below: a reused id is never someone else's
  # process), so that they neither hold the GPU nor slow this run.
  local pid
  for pid in $(cat "$PIDS" 2>/dev/null); do
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "RECFEAT_GPU_PIDS=$PIDS"; then
      echo "ending process group $pid, left by an earlier command"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    fi
  done
  : >"$PIDS"

  echo "== [$(( $(date +%s) - start )) s] install the carried wheels and the package (no index, no dependencies) into $WORK/site"
  rm -rf "$WORK"
  mkdir -p "$WORK/site" "$WORK/jupyter/kernels/python3" || return 2
  "$PYTHON" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --disable-pip-version-check \
    --target "$WORK/site" "$CARRY"/wheels/*.whl || return 2
  # The package from a copy of its sources (pip builds in the tree it is given; setuptools is the device's).
  mkdir -p "$WORK/pkg" && cp -r "$ROOT/recfeat_ref" "$ROOT/pyproject.toml" "$ROOT/README.md" "$WORK/pkg/" || return 2
  "$PYTHON" -m pip install --quiet --no-index --no-deps --no-build-isolation --no-cache-dir --disable-pip-version-check \
    --target "$WORK/site" "$WORK/pkg" || return 2
  cp -r "$CARRY/data" "$WORK/data" || return 2

  export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
  export RECFEAT_DATA="$WORK/data"        # ML-100K and the cached item embeddings
  export RECFEAT_TEXT_FALLBACK=cache       # no MiniLM weights here: serve the cached embeddings
  export RECFEAT_GPU_CARRY="$CARRY"        # gpu_check.py copies the manifest into its JSON
  export RECFEAT_GPU_PIDS="$PIDS"          # gpu_check.py notes its children and kernels here
  export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1  # fail at once, no network
  export PYTHONUNBUFFERED=1 JUPYTER_PLATFORM_DIRS=1 IPYTHONDIR="$WORK/ipython"
  # The kernel must be this interpreter, with PYTHONPATH as above: our own kernel spec, first on the path.
  export JUPYTER_PATH="$WORK/jupyter"
  "$PYTHON" - "$WORK/jupyter/kernels/python3/kernel.json" <<'EOF' || return 2
import json, sys
spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (gpu_session)", "language": "python"}
open(sys.argv[1], "w").write(json.dumps(spec, indent=1))
EOF

  echo "== [$(( $(date +%s) - start )) s] check the set-up"
  cd "$WORK" || return 2  # not the repository root: the package must come from $WORK/site
  "$PYTHON" - <<'EOF' || return 2
import importlib, json, sys
import torch
versions = {m: importlib.import_module(m).__version__ for m in ("nbformat", "nbclient", "ipykernel", "captum", "opacus")}
from myst_nb.ext.glue import glue  # noqa: F401 - what recfeat_ref.book.glue uses
from jupyter_client.kernelspec import KernelSpecManager
spec = KernelSpecManager().get_kernel_spec("python3")
assert spec.argv[0] == sys.executable, f"kernel python3 is {spec.argv[0]}, not {sys.executable}"
import recfeat_ref
from recfeat_ref.datasets import get_data_home, load_movielens_100k
from recfeat_ref.text import _CachedEncoder
ml = load_movielens_100k(sources=("cache",), verbose=False)
cached = _CachedEncoder.from_cache("all-MiniLM-L6-v2")
assert cached is not None, f"no cached MiniLM embeddings with texts in {get_data_home()}"
cuda = torch.cuda.is_available()
print(json.dumps({"python": sys.version.split()[0], "torch": torch.__version__, "cuda": cuda,
                  "torch_cuda": torch.version.cuda, "gpu": torch.cuda.get_device_name(0) if cuda else None,
                  "bf16": torch.cuda.is_bf16_supported() if cuda else None, **versions,
                  "recfeat_ref": recfeat_ref.__file__, "ratings": len(ml.ratings), "cached_texts": len(cached.texts)}))
if not cuda:
    print("no CUDA device: the notebooks take their small (CPU) path")
EOF

  cd "$ROOT" || return 2
  if [ $THROUGHPUT = 1 ]; then
    left=$((deadline - $(date +%s) - 60))
    [ $left -lt $THROUGHPUT_LIMIT ] && THROUGHPUT_LIMIT=$left
    if [ $THROUGHPUT_LIMIT -ge 30 ]; then
      echo "== [$(( $(date +%s) - start )) s] throughput of SASRec and LightGCN training (limit ${THROUGHPUT_LIMIT} s)"
      timeout -k 10 "$THROUGHPUT_LIMIT" "$PYTHON" benchmarks/bench_throughput.py --cpu-threads "$THROUGHPUT_THREADS" \
        --out "$THROUGHPUT_JSON" \
        || echo "bench_throughput.py ended with status $? (124: its time limit)"
    else
      echo "== [$(( $(date +%s) - start )) s] throughput skipped: too little time left"
    fi
  fi

  echo "== [$(( $(date +%s) - start )) s] notebooks"
  "$PYTHON" benchmarks/gpu_check.py --timeout "$TIMEOUT" --deadline "$((deadline - 5))" --out "$CHECK_JSON" "${NOTEBOOKS[@]}"
  rc=$?
  echo "== done in $(( $(date +%s) - start )) s, status $rc; files in $OUT:"
  ls -l "$OUT"
  return $rc
}

mkdir -p "$OUT" || die "cannot create $OUT"
session 2>&1 | tee -a "$LOG"
exit "${PIPESTATUS[0]}"
