#!/usr/bin/env bash
# Side-by-side benchmarks with established libraries (Surprise, RecBole, implicit) on the book's splits.
#
#   bash benchmarks/run_peers.sh            # everything: export splits, build venvs if missing, run all three
#   bash benchmarks/run_peers.sh surprise   # only the Surprise peer (export + venv as needed)
#   bash benchmarks/run_peers.sh recbole    # only the RecBole peer
#   bash benchmarks/run_peers.sh implicit   # only implicit's ALS (reads results/linear_ml100k_811.json,
#                                           # written by benchmarks/bench_linear.py)
#
# Environment:
#   PYTHON          python with recfeat_ref installed, for the export (default: .venv/bin/python
#                   if present, else python3)
#   PEER_PYTHON     python 3.11 used to create the peer venvs (default: python3)
#   DATA_DIR        where the splits go (default: benchmarks/data, git-ignored)
#   RESULTS_DIR     where the JSON results go (default: benchmarks/results)
#   RECBOLE_MODELS  comma-separated models (default: BPR,LightGCN,NeuMF)
#   RECBOLE_THREADS torch threads for RecBole (default: 1)
#   IMPLICIT_THREADS num_threads of implicit's ALS (default: 1)
#   IMPLICIT_ARGS   extra arguments of peers/run_implicit.py (e.g. --skip-tuning)
#   REBUILD_VENVS=1 delete and rebuild the peer venvs
# See benchmarks/README.md for the protocols and what each file holds.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"

WHICH="${1:-all}"
case "$WHICH" in all|surprise|recbole|implicit) ;; *) echo "usage: $0 [all|surprise|recbole|implicit]" >&2; exit 2 ;; esac

if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
PEER_PYTHON="${PEER_PYTHON:-python3}"
DATA_DIR="${DATA_DIR:-$HERE/data}"
RESULTS_DIR="${RESULTS_DIR:-$HERE/results}"
VENVS="$HERE/.venvs"
RECBOLE_MODELS="${RECBOLE_MODELS:-BPR,LightGCN,NeuMF}"
RECBOLE_THREADS="${RECBOLE_THREADS:-1}"
IMPLICIT_THREADS="${IMPLICIT_THREADS:-1}"
# Every measured code path here runs on one thread; pin the BLAS/OpenMP pools too.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '\n[run_peers %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
T0=$SECONDS

# 1. Export the splits (cheap; always redone so the files match the current code).
log "export splits with $PYTHON -> $DATA_DIR"
if ! "$PYTHON" -c "import recfeat_ref.datasets, recfeat_ref.splits" 2>/dev/null; then
    echo "$PYTHON cannot import recfeat_ref: run 'make setup' first or set PYTHON=/path/to/venv/bin/python" >&2
    exit 1
fi
"$PYTHON" "$HERE/export_splits.py" "$DATA_DIR"

check_peer_python() {
    local v
    v="$("$PEER_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    if [[ "$v" != "3.11" ]]; then
        echo "PEER_PYTHON=$PEER_PYTHON is Python $v; the pins (torch 2.13.0 CPU wheel, numpy 1.26) need 3.11" >&2
        exit 1
    fi
}

# 2. Peer virtual environments, built once (marker file .installed written last).
build_surprise() {
    local venv="$VENVS/surprise"
    [[ "${REBUILD_VENVS:-0}" == 1 ]] && rm -rf "$venv"
    [[ -f "$venv/.installed" ]] && return
    check_peer_python
    log "build $venv (compiles scikit-surprise from source, about a minute)"
    rm -rf "$venv"
    "$PEER_PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet -r "$HERE/peers/requirements-surprise.txt"
    "$venv/bin/python" -m pip install --quiet --no-build-isolation "scikit-surprise==1.1.4"
    "$venv/bin/python" -c "import surprise; print('surprise', surprise.__version__)"
    touch "$venv/.installed"
}

build_recbole() {
    local venv="$VENVS/recbole"
    [[ "${REBUILD_VENVS:-0}" == 1 ]] && rm -rf "$venv"
    [[ -f "$venv/.installed" ]] && return
    check_peer_python
    log "build $venv (torch CPU wheel + recbole and its older pins)"
    rm -rf "$venv"
    "$PEER_PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet -r "$HERE/peers/requirements-recbole.txt"
    "$venv/bin/python" -m pip check
    "$venv/bin/python" -W ignore -c "import recbole.quick_start, torch; print('recbole', recbole.__version__, 'torch', torch.__version__)"
    touch "$venv/.installed"
}

build_implicit() {
    local venv="$VENVS/implicit"
    [[ "${REBUILD_VENVS:-0}" == 1 ]] && rm -rf "$venv"
    [[ -f "$venv/.installed" ]] && return
    check_peer_python
    log "build $venv (implicit's manylinux wheel, no compilation)"
    rm -rf "$venv"
    "$PEER_PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet -r "$HERE/peers/requirements-implicit.txt"
    "$venv/bin/python" -m pip check
    "$venv/bin/python" -c "import implicit; print('implicit', implicit.__version__)"
    touch "$venv/.installed"
}

mkdir -p "$RESULTS_DIR"

if [[ "$WHICH" == all || "$WHICH" == surprise ]]; then
    build_surprise
    log "Surprise: SVD, SVDpp, KNNBaseline (x2), BaselineOnly on the 5 folds"
    "$VENVS/surprise/bin/python" "$HERE/peers/run_surprise.py" \
        --data "$DATA_DIR" --out "$RESULTS_DIR/surprise_ml100k_5fold.json"
fi

if [[ "$WHICH" == all || "$WHICH" == recbole ]]; then
    build_recbole
    log "RecBole: $RECBOLE_MODELS on the 8:1:1 benchmark files"
    # torch >= 2.6 loads with weights_only=True by default; RecBole's checkpoint pickles its
    # Config object, so reloading the best model for the test fails without this.
    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 "$VENVS/recbole/bin/python" "$HERE/peers/run_recbole.py" \
        --data "$DATA_DIR" --out "$RESULTS_DIR/recbole_ml100k_811.json" \
        --models "$RECBOLE_MODELS" --threads "$RECBOLE_THREADS"
fi

if [[ "$WHICH" == all || "$WHICH" == implicit ]]; then
    OURS="$RESULTS_DIR/linear_ml100k_811.json"
    if [[ ! -f "$OURS" ]]; then
        echo "$OURS is missing: run '$PYTHON benchmarks/bench_linear.py --out $OURS' first (our tuned iALS)" >&2
        exit 1
    fi
    build_implicit
    log "implicit: ALS defaults, matched to our tuned iALS, and tuned on validation (8:1:1 split)"
    # shellcheck disable=SC2086  # IMPLICIT_ARGS is a list of options
    "$VENVS/implicit/bin/python" "$HERE/peers/run_implicit.py" \
        --data "$DATA_DIR" --ours "$OURS" --out "$RESULTS_DIR/implicit_ml100k_811.json" \
        --threads "$IMPLICIT_THREADS" ${IMPLICIT_ARGS:-}
fi

log "done in $((SECONDS - T0)) s; results in $RESULTS_DIR"
