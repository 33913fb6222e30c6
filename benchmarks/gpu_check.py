"""Run every chapter notebook on this machine's accelerator and record what it cost.

On a CUDA machine each notebook takes its full-size path (the notebooks set
``FULL = torch.cuda.is_available()``); on a CPU-only machine they take the small path,
so the script keeps working where CI runs. Per notebook it writes

* the wall time of the whole notebook,
* the peak GPU memory allocated by torch (``torch.cuda.max_memory_allocated``; null on CPU),
* every number the notebook glued for the book's prose (its key metrics),

with the device name and the machine information, to
``benchmarks/results/gpu_check_<device>.json``. The notebooks are executed in a
temporary copy: the committed notebooks are never touched.

Usage: python benchmarks/gpu_check.py [notebooks/05_recommenders.ipynb ...] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_core import machine_info  # noqa: E402

PROBE = """
import json as _json, torch as _torch
print("GPU_CHECK", _json.dumps({
    "cuda": _torch.cuda.is_available(),
    "peak_gpu_bytes": _torch.cuda.max_memory_allocated() if _torch.cuda.is_available() else None,
}))
"""


def glued_numbers(nb) -> dict[str, float]:
    """The numbers a notebook glued (myst-nb stores them as display data with a 'scrapbook' key)."""
    out = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook", {})
            name = meta.get("name")
            text = output.get("data", {}).get(meta.get("mime_prefix", "") + "text/plain")
            if name and text is not None:
                try:
                    out[name] = float(text)
                except ValueError:
                    continue
    return out


def run(path: Path, timeout: int) -> dict:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    probe = {}
    for output in nb.cells[-1].get("outputs", []):
        match = re.search(r"GPU_CHECK (\{.*\})", output.get("text", ""))
        if match:
            probe = json.loads(match.group(1))
    return {"seconds": seconds, **probe, "glued": glued_numbers(nb)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--timeout", type=int, default=1800, help="per notebook, seconds")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    results = {}
    for path in paths:
        results[path.stem] = run(path, args.timeout)
        r = results[path.stem]
        peak = "-" if r.get("peak_gpu_bytes") is None else f"{r['peak_gpu_bytes'] / 2**30:.2f} GiB"
        print(f"{path.stem:28s} {r['seconds']:7.1f} s  peak GPU memory {peak}  {len(r['glued'])} glued numbers", flush=True)
    slug = re.sub(r"[^a-z0-9]+", "_", device.lower()).strip("_")
    out = args.out or HERE / "results" / f"gpu_check_{slug}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": "gpu_check", "device": device, "full_size": torch.cuda.is_available(),
               "machine": machine_info(torch.get_num_threads()), "notebooks": results}
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
