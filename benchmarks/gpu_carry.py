"""What a bare GPU machine needs carried to it for ``benchmarks/gpu_session.sh``, and the carry itself.

The device machine (see ``benchmarks/README.md``, "GPU session") has Python 3.12 with
torch, numpy, pandas, scikit-learn, scipy, matplotlib, tqdm, sentence-transformers and
transformers, and no network. Running the notebooks needs more: ``nbformat`` and
``nbclient`` (``benchmarks/gpu_check.py``), ``ipykernel`` (the kernel), ``captum``
(chapter 15), ``opacus`` (chapter 16) and ``myst-nb``'s ``glue`` (the numbers
``gpu_check.py`` collects). Their wheels travel in the carry folder, with the
MovieLens-100K cache and the cached MiniLM item embeddings (the 90 MB encoder weights
do not fit: the text chapters fall back to the cached embeddings, see
``recfeat_ref.text.load_encoder``).

Subcommands (run with the project's venv, which has every package installed)::

    python benchmarks/gpu_carry.py requirements      # the wheel list, computed (see gpu_wheels.txt)
    python benchmarks/gpu_carry.py check-wheels      # gpu_wheels.txt == computed list, pinned as dev.txt
    python benchmarks/gpu_carry.py device-present    # packages the rehearsal venv must have (the device has them)
    python benchmarks/gpu_carry.py data CARRY        # CARRY/data: ML-100K cache + item embeddings
    python benchmarks/gpu_carry.py manifest CARRY --python 3.12   # CARRY/manifest.json, sizes; fails over 64 MiB
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata as md
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WHEELS_FILE = HERE / "gpu_wheels.txt"
DEV_PINS = ROOT / "requirements" / "dev.txt"
#: What travels with a device call, the working tree included (device README).
CARRY_LIMIT_BYTES = 64 * 2**20

#: What the notebooks and gpu_check.py import that the device lacks, with all their needs.
ROOTS = ("nbformat", "nbclient", "jupyter-client", "ipykernel", "captum", "opacus")
#: Carried without their declared needs: myst-nb only for ``myst_nb.glue``, which imports
#: IPython, nbformat and ``myst_nb.core.loggers`` (docutils), not Sphinx.
NO_DEPS_ROOTS = {"myst-nb": ("docutils",)}
#: Declared but not needed to run a notebook: ipykernel imports debugpy only for its
#: debugger, behind a try/except (``ipykernel/debugger.py``); its wheel is 4 MB and
#: needs glibc 2.34.
OPTIONAL = {"debugpy"}
#: The device image's Python packages, as its description lists them (read 2026-11-17,
#: /work/.library/device/KINDS.md); a package here is not carried.
DEVICE_HAS = frozenset("""
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build
certifi charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core
cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock
flatbuffers flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx
huggingface-hub humanize hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt
jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader lightning lightning-utilities
linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes
mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals networkx ninja numba
numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime
nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse
nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx
onnx-ir onnxruntime onnxscript opencv-python-headless optax opt-einsum opt-einsum-fx optimistix
orbax-checkpoint packaging pandas pathspec patsy peft pillow pip pluggy portalocker prometheus-client
propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions
pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist python-dateutil
pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core scikit-image
scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six
sortedcontainers statsmodels sympy tabulate tensorboard tensorboard-data-server tensorstore threadpoolctl
tifffile tiktoken timm tokenizers toolz torch torchaudio torchdiffeq torch-geometric torchmetrics
torchvision tqdm transformers treescope triton typer typing-extensions typing-inspect urllib3 uvloop
wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp
""".split())
#: The marker environment of the device's interpreter (CPython 3.12 on Linux x86-64).
DEVICE_MARKERS = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
                  "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
                  "implementation_name": "cpython", "platform_python_implementation": "CPython"}


def normalize(name: str) -> str:
    """PEP 503 name: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requires(dist: str, markers: dict) -> list[str]:
    from packaging.requirements import Requirement

    out = []
    for line in md.requires(dist) or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(markers | {"extra": ""}):
            out.append(normalize(req.name))
    return out


def needed_closure(markers: dict | None = None) -> set[str]:
    """Every distribution the roots need (themselves included), from the installed metadata."""
    markers = DEVICE_MARKERS if markers is None else markers
    seen, todo = set(), [normalize(r) for r in ROOTS]
    while todo:
        name = todo.pop()
        if name in seen or name in OPTIONAL:
            continue
        seen.add(name)
        if name not in DEVICE_HAS:  # the device's own packages come with what they need
            todo.extend(_requires(name, markers))
    for name, extra in NO_DEPS_ROOTS.items():
        seen |= {name, *extra}
    return seen


def dev_pins() -> dict[str, str]:
    """``requirements/dev.txt`` as {normalized name: version}."""
    pins = {}
    for line in DEV_PINS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[normalize(name)] = version.strip()
    return pins


def computed_wheels() -> dict[str, str]:
    """{name: version} of what must be carried: the closure less what the device has."""
    pins = dev_pins()
    names = sorted(needed_closure() - DEVICE_HAS)
    missing = [n for n in names if n not in pins]
    if missing:
        raise SystemExit(f"not pinned in {DEV_PINS}: {missing}")
    return {n: pins[n] for n in names}


def listed_wheels(path: Path = WHEELS_FILE) -> dict[str, str]:
    """``gpu_wheels.txt`` as {normalized name: version}."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==", 1)
            out[normalize(name)] = version.strip()
    return out


def device_present() -> list[str]:
    """Pinned packages of the closure that the device already has (a rehearsal venv needs them)."""
    pins = dev_pins()
    return [f"{n}=={pins[n]}" for n in sorted(needed_closure() & DEVICE_HAS) if n in pins]


def write_data(carry: Path) -> None:
    """``carry/data``: a verified copy of the ML-100K cache and the MiniLM embeddings of its items.

    The embeddings file is ``encode_items``'s cache file (with the texts, so that the
    encoder's stand-in can serve single sentences); it is computed with the real
    encoder when the data home has no such file.
    """
    import numpy as np

    from recfeat_ref.datasets import get_data_home, load_movielens_100k
    from recfeat_ref.text import embedding_cache_path, encode_items, item_texts

    data = carry / "data"
    if data.exists():
        shutil.rmtree(data)
    ml = load_movielens_100k(verbose=False)  # fetches into the data home if needed
    shutil.copytree(get_data_home() / "ml-100k", data / "ml-100k")
    check = load_movielens_100k(data_home=data, sources=("cache",), verbose=False)  # verifies the copy
    assert len(check.ratings) == 100_000
    texts = item_texts(ml.items)
    src = embedding_cache_path(texts)
    dest = embedding_cache_path(texts, cache_dir=data / "embeddings")
    if src.exists():
        with np.load(src, allow_pickle=False) as npz:
            has_texts = "texts" in npz.files
        if has_texts:
            dest.parent.mkdir(parents=True)
            shutil.copy2(src, dest)
    start = time.perf_counter()
    emb = encode_items(texts, cache_dir=dest.parent)  # reads the copy, or encodes and writes it
    print(f"embeddings {emb.shape} -> {dest.relative_to(carry)} ({time.perf_counter() - start:.1f} s)")
    with np.load(dest, allow_pickle=False) as npz:
        assert "texts" in npz.files, f"{dest} has no texts: the encoder stand-in could not use it"


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def tree_bytes() -> int:
    """Bytes of what travels besides the carry: tracked files and untracked files git does not ignore."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return 0
    return sum((ROOT / p).stat().st_size for p in out.decode().split("\0") if p and (ROOT / p).is_file())


def write_manifest(carry: Path, python: str) -> dict:
    """``carry/manifest.json``: what is in the carry, its size, the Python its wheels are for."""
    files = sorted(p for p in carry.rglob("*") if p.is_file() and p.name != "manifest.json")
    entries = {str(p.relative_to(carry)): {"bytes": p.stat().st_size,
                                           "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in files}
    total = sum(e["bytes"] for e in entries.values())
    tree = tree_bytes()
    manifest = {"created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": _git_commit(),
                "python": python, "carry_bytes": total, "working_tree_bytes": tree,
                "wheels": sorted(p.name for p in (carry / "wheels").glob("*.whl")), "files": entries}
    (carry / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    mib = 2**20
    print(f"carry {carry}: {total / mib:.1f} MiB ({len(manifest['wheels'])} wheels "
          f"{sum(e['bytes'] for k, e in entries.items() if k.startswith('wheels/')) / mib:.1f} MiB, "
          f"data {sum(e['bytes'] for k, e in entries.items() if k.startswith('data/')) / mib:.1f} MiB); "
          f"working tree {tree / mib:.1f} MiB; together {(total + tree) / mib:.1f} MiB of {CARRY_LIMIT_BYTES / mib:.0f}")
    if total + tree > CARRY_LIMIT_BYTES:
        raise SystemExit("over the device call's 64 MiB limit")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("requirements", help="print the computed wheel list")
    sub.add_parser("check-wheels", help="gpu_wheels.txt must equal the computed list")
    sub.add_parser("device-present", help="print the pinned packages of the closure the device has")
    p = sub.add_parser("data", help="write CARRY/data")
    p.add_argument("carry", type=Path)
    p = sub.add_parser("manifest", help="write CARRY/manifest.json and check the size")
    p.add_argument("carry", type=Path)
    p.add_argument("--python", required=True, help="the X.Y the wheels are for")
    args = parser.parse_args(argv)
    if args.cmd == "requirements":
        print("\n".join(f"{n}=={v}" for n, v in computed_wheels().items()))
    elif args.cmd == "check-wheels":
        want, have = computed_wheels(), listed_wheels()
        if want != have:
            print(f"{WHEELS_FILE.name} differs from the computed list:\n  missing {sorted(set(want) - set(have))}\n"
                  f"  extra {sorted(set(have) - set(want))}\n"
                  f"  other version {sorted(n for n in set(want) & set(have) if want[n] != have[n])}", file=sys.stderr)
            return 1
        print(f"{WHEELS_FILE.name}: {len(have)} wheels, as computed")
    elif args.cmd == "device-present":
        print("\n".join(device_present()))
    elif args.cmd == "data":
        write_data(args.carry)
    elif args.cmd == "manifest":
        write_manifest(args.carry, args.python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
