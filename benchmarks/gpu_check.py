"""Run every chapter notebook on this machine's accelerator and record what it cost.

On a CUDA machine each notebook takes its full-size path (the notebooks set
``FULL = torch.cuda.is_available()``); on a CPU-only machine they take the small path,
so the script keeps working where CI runs. Per notebook it writes

* ``status``: ``ok``, ``error`` (a cell raised: ``error`` holds the cell, the exception
  and the end of the traceback), ``timeout`` (the notebook ran past its limit and its
  kernel was killed) or ``skipped`` (the run's deadline left too little time);
* the wall time of the whole notebook and its limit;
* the peak GPU memory allocated by torch (``torch.cuda.max_memory_allocated``; null on
  CPU, or when the notebook did not finish);
* every number the notebook glued for the book's prose (its key metrics; those of the
  cells that ran, when it did not finish);
* the slowest cells, and any notice the package printed (e.g. the text chapters'
  fallback to the cached embeddings, ``recfeat_ref.text.load_encoder``),

with the device name and the machine information, to
``benchmarks/results/gpu_check_<device>.json`` (or ``--out``). The file is rewritten
after every notebook, so a run cut short still leaves its results. Each notebook runs
in a Python process of its own; they are executed in a temporary copy: the committed
notebooks are never touched. Exit status 1
if a notebook failed or timed out.

Usage: python benchmarks/gpu_check.py [notebooks/05_recommenders.ipynb ...] [--timeout S]
       [--deadline UNIX_TIME] [--out FILE]
       python benchmarks/gpu_check.py --merge part1.json part2.json --out FILE
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

PROBE = """
import json as _json, torch as _torch
print("GPU_CHECK", _json.dumps({
    "cuda": _torch.cuda.is_available(),
    "peak_gpu_bytes": _torch.cuda.max_memory_allocated() if _torch.cuda.is_available() else None,
}))
"""
#: Lines the package prints to say it took another path than the book's (one line each).
NOTICE = re.compile(r"^recfeat_ref\.\w+: .*$", re.MULTILINE)
#: A notebook is not started with less time than this left before the deadline.
MIN_SECONDS = 20


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


def _notices(nb) -> list[str]:
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in NOTICE.findall(output.get("text", "")):
                if line not in found:
                    found.append(line)
    return found


def _slowest_cells(nb, n: int = 3) -> list[dict]:
    """The ``n`` slowest code cells, from nbclient's execution timestamps."""
    from datetime import datetime

    rows = []
    for index, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if cell.get("cell_type") == "code" and start and end:
            seconds = (datetime.fromisoformat(end.replace("Z", "+00:00"))
                       - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
            first = next((line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")), "")
            rows.append({"cell": index, "seconds": round(seconds, 2), "first_line": first[:100]})
    return sorted(rows, key=lambda r: -r["seconds"])[:n]


def _note_pid(pid: int | None) -> None:
    pids = os.environ.get("RECFEAT_GPU_PIDS")
    if pids and pid:
        with open(pids, "a") as f:
            f.write(f"{pid}\n")


def _kernel_pid(client) -> int | None:
    provisioner = getattr(getattr(client, "km", None), "provisioner", None)
    return getattr(getattr(provisioner, "process", None), "pid", None) or getattr(provisioner, "pid", None)


def _kill_kernel(client) -> None:
    """SIGKILL the kernel's process group (jupyter_client starts kernels in a new session)."""
    pid = _kernel_pid(client)
    if not pid:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    except OSError:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _error_details(exc: BaseException, nb) -> dict:
    cell = next((i for i, c in enumerate(nb.cells) if any(o.get("output_type") == "error" for o in c.get("outputs", []))), None)
    text = getattr(exc, "traceback", None)  # a cell's error: the kernel's traceback
    if not text:  # nbclient's own (a dead kernel, an assertion): where it was raised
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    tail = text.strip().splitlines()[-12:]
    return {"type": type(exc).__name__, "ename": getattr(exc, "ename", None), "evalue": getattr(exc, "evalue", None),
            "cell": cell, "traceback_tail": [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in tail]}


def run(path: Path, timeout: int) -> dict:
    """Execute one notebook with a limit of ``timeout`` seconds on the whole notebook.

    The kernel is killed at the limit (``status`` ``timeout``); a cell that raises
    ends the notebook (``status`` ``error``). The notebook on disk is not modified.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    # The cell limit is a backstop: the watchdog below ends the notebook at its limit.
    client = NotebookClient(nb, timeout=timeout + 60, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            on_notebook_start=lambda notebook: _note_pid(_kernel_pid(client)))
    timed_out = threading.Event()

    def watchdog():
        timed_out.set()
        _kill_kernel(client)

    timer = threading.Timer(timeout, watchdog)
    timer.daemon = True
    status, error = "ok", None
    start = time.perf_counter()
    timer.start()
    try:
        client.execute()
    except Exception as exc:  # noqa: BLE001 - any failure is recorded and the next notebook runs
        status = "timeout" if timed_out.is_set() else "error"
        error = None if timed_out.is_set() else _error_details(exc, nb)
    finally:
        timer.cancel()
    seconds = time.perf_counter() - start
    probe = {}
    for output in nb.cells[-1].get("outputs", []):
        match = re.search(r"GPU_CHECK (\{.*\})", output.get("text", ""))
        if match:
            probe = json.loads(match.group(1))
    result = {"status": status, "seconds": seconds, "limit_seconds": timeout, **probe,
              "glued": glued_numbers(nb), "notices": _notices(nb), "slowest_cells": _slowest_cells(nb)}
    if error:
        result["error"] = error
    return result


def run_isolated(path: Path, timeout: int) -> dict:
    """:func:`run` in a fresh Python process (``--one``), so that no notebook inherits another's state.

    nbclient keeps its event loop between notebooks; after a kernel was killed, a task it
    left behind was seen to break the next notebook's clean-up (``AssertionError`` in
    ``_async_cleanup_kernel``). A child that dies without a result is recorded as an
    ``error``; one that outlives its limit by 20 s is killed with its process group. With
    ``RECFEAT_GPU_PIDS`` set, the child's and the kernel's process ids are appended to
    that file (``gpu_session.sh`` ends them at its next start if a command was cut short).
    """
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--one", str(path), "--timeout", str(timeout),
               "--out", str(result)]
        start = time.perf_counter()
        child = subprocess.Popen(cmd, start_new_session=True)
        _note_pid(child.pid)
        try:
            code = child.wait(timeout=timeout + 20)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            code = child.wait()
        if result.is_file():
            return json.loads(result.read_text())
    return {"status": "error", "seconds": time.perf_counter() - start, "limit_seconds": timeout, "glued": {},
            "notices": [], "slowest_cells": [],
            "error": {"type": "ChildDied", "ename": None, "evalue": f"gpu_check --one ended with status {code}",
                      "cell": None, "traceback_tail": []}}


def merge(paths: list[Path]) -> dict:
    """One payload from the files of several runs (e.g. the two halves of a GPU session)."""
    parts = [json.loads(Path(p).read_text()) for p in paths]
    payload = {k: v for k, v in parts[0].items() if k != "notebooks"}
    payload["notebooks"] = {}
    payload["parts"] = [{"file": Path(p).name, "started_utc": part.get("started_utc"), "machine": part.get("machine")}
                        for p, part in zip(paths, parts)]
    for part in parts:
        payload["notebooks"].update(part["notebooks"])
    payload["notebooks"] = dict(sorted(payload["notebooks"].items()))
    return payload


def _carry_manifest() -> dict | None:
    carry = os.environ.get("RECFEAT_GPU_CARRY")
    path = Path(carry) / "manifest.json" if carry else None
    if path is None or not path.is_file():
        return None
    manifest = json.loads(path.read_text())
    return {k: manifest.get(k) for k in ("created_utc", "commit", "python", "carry_bytes", "wheels")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--timeout", type=int, default=1800, help="limit per notebook, seconds (the whole notebook)")
    parser.add_argument("--deadline", type=float, default=None,
                        help="unix time by which the run must end: each notebook's limit is cut to fit, "
                             f"and a notebook with less than {MIN_SECONDS} s left is skipped")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--merge", nargs="+", type=Path, default=None, help="merge these result files into --out")
    parser.add_argument("--one", type=Path, default=None, help=argparse.SUPPRESS)  # the child of run_isolated
    args = parser.parse_args(argv)
    if args.one:
        args.out.write_text(json.dumps(run(args.one, args.timeout)) + "\n")
        return 0
    if args.merge:
        if args.out is None:
            parser.error("--merge needs --out")
        args.out.write_text(json.dumps(merge(args.merge), indent=2) + "\n")
        print("wrote", args.out)
        return 0

    import torch

    sys.path.insert(0, str(HERE))
    from bench_core import machine_info

    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    slug = re.sub(r"[^a-z0-9]+", "_", device.lower()).strip("_")
    out = args.out or HERE / "results" / f"gpu_check_{slug}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": "gpu_check", "device": device, "full_size": torch.cuda.is_available(),
               "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "torch_cuda": torch.version.cuda, "machine": machine_info(torch.get_num_threads()),
               "carry": _carry_manifest(), "timeout_seconds": args.timeout, "deadline": args.deadline,
               "notebooks": {}}
    failed = False
    for path in paths:
        left = None if args.deadline is None else int(args.deadline - time.time())
        limit = args.timeout if left is None else min(args.timeout, left)
        if left is not None and left < MIN_SECONDS:
            r = payload["notebooks"][path.stem] = {"status": "skipped", "seconds": 0.0, "limit_seconds": max(left, 0)}
            print(f"{path.stem:28s} skipped: {max(left, 0)} s left before the deadline", flush=True)
        else:
            r = payload["notebooks"][path.stem] = run_isolated(path, limit)
            failed |= r["status"] != "ok"
            peak = "-" if r.get("peak_gpu_bytes") is None else f"{r['peak_gpu_bytes'] / 2**30:.2f} GiB"
            print(f"{path.stem:28s} {r['status']:7s} {r['seconds']:7.1f} s (limit {limit} s)  peak GPU memory {peak}  "
                  f"{len(r['glued'])} glued numbers", flush=True)
            for line in r["notices"]:
                print(f"{'':28s} notice: {line}", flush=True)
            if r.get("error"):
                e = r["error"]
                print(f"{'':28s} cell {e['cell']}: {e['ename'] or e['type']}: {e['evalue']}", flush=True)
        payload["finished_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        out.write_text(json.dumps(payload, indent=2) + "\n")
    counts = {s: sum(r["status"] == s for r in payload["notebooks"].values()) for s in ("ok", "error", "timeout", "skipped")}
    print("wrote", out, " ".join(f"{k} {v}" for k, v in counts.items()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
