"""benchmarks/: gpu_check.py keeps working on a CPU-only machine (CI), and the GPU session's cheap-to-check parts."""

import importlib.util
import json
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_gpu_check_runs_a_notebook_and_collects_its_glued_numbers(tmp_path):
    gpu_check = _load("gpu_check")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from recfeat_ref.book import glue\nimport torch\nFULL = torch.cuda.is_available()\n"
        "glue('answer', 42.5)\nglue('full', int(FULL))"
    )]
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    result = gpu_check.run(path, timeout=120)
    assert result["glued"] == {"answer": 42.5, "full": float(result["cuda"])}
    assert result["seconds"] > 0
    assert (result["peak_gpu_bytes"] is None) == (not result["cuda"])
    json.dumps(result)  # what the script writes must be JSON
    assert len(nbformat.read(path, as_version=4).cells) == 1, "the notebook on disk is not modified"


# --- the GPU session: gpu_check's limits, the session script, the carried wheels --------------

KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = KERNEL
    nbformat.write(nb, path)
    return path


def test_gpu_check_records_errors_timeouts_and_skips_and_goes_on(tmp_path):
    import time

    gpu_check = _load("gpu_check")
    err = _notebook(tmp_path / "a_err.ipynb", "x = 1", "1 / 0")
    slow = _notebook(tmp_path / "b_slow.ipynb",
                     "from recfeat_ref.book import glue\nglue('early', 1.5)\nprint('recfeat_ref.text: a notice')",
                     "import time\ntime.sleep(120)")
    out = tmp_path / "check.json"
    start = time.perf_counter()
    assert gpu_check.main([str(err), str(slow), "--timeout", "8", "--out", str(out)]) == 1
    assert time.perf_counter() - start < 60, "the slow notebook must be killed at its limit"
    result = json.loads(out.read_text())["notebooks"]
    assert result["a_err"]["status"] == "error"
    assert result["a_err"]["error"]["ename"] == "ZeroDivisionError" and result["a_err"]["error"]["cell"] == 1
    slow = result["b_slow"]
    assert slow["status"] == "timeout" and slow["limit_seconds"] == 8
    # the cells that ran before the limit still count (on a very busy machine the kernel
    # may not even have finished the first cell in 8 s: then there is nothing to count)
    first_ran = any(c["cell"] == 0 for c in slow["slowest_cells"])
    assert slow["glued"] == ({"early": 1.5} if first_ran else {})
    assert slow["notices"] == (["recfeat_ref.text: a notice"] if first_ran else [])
    # a deadline already passed: nothing runs, everything is recorded as skipped
    late = tmp_path / "late.json"
    assert gpu_check.main([str(err), "--deadline", str(time.time() - 1), "--out", str(late)]) == 0
    assert json.loads(late.read_text())["notebooks"]["a_err"]["status"] == "skipped"
    merged = tmp_path / "merged.json"
    assert gpu_check.main(["--merge", str(out), str(late), "--out", str(merged)]) == 0
    payload = json.loads(merged.read_text())
    assert set(payload["notebooks"]) == {"a_err", "b_slow"} and len(payload["parts"]) == 2


SESSION = ROOT / "benchmarks" / "gpu_session.sh"


def _session(*args, carry=None, out=None):
    import os
    import subprocess

    env = dict(os.environ, CARRY=str(carry), OUT=str(out or carry / "out"))
    return subprocess.run(["bash", str(SESSION), *args], capture_output=True, text=True, env=env, timeout=60)


def _fake_carry(tmp_path):
    carry = tmp_path / "carry"
    (carry / "wheels").mkdir(parents=True)
    (carry / "wheels" / "x-1.0-py3-none-any.whl").write_bytes(b"")
    (carry / "data" / "ml-100k").mkdir(parents=True)
    (carry / "manifest.json").write_text(json.dumps({"python": "3.12"}))
    return carry


def test_session_scripts_parse_and_the_session_resolves_its_arguments(tmp_path):
    import subprocess

    for script in ("gpu_session.sh", "prepare_gpu_session.sh", "run_peers.sh"):
        subprocess.run(["bash", "-n", str(ROOT / "benchmarks" / script)], check=True)
    carry = _fake_carry(tmp_path)
    plan = _session("--dry-run", "--timeout", "90", "--budget", "300", "1", "10_transfer", "16", carry=carry)
    assert plan.returncode == 0, plan.stderr
    assert "notebooks/01_data.ipynb notebooks/10_transfer.ipynb notebooks/16_privacy.ipynb" in plan.stdout
    assert "timeout 90 s per notebook, budget 300 s" in plan.stdout
    assert "_ch01-16.json" in plan.stdout and "throughput_" in plan.stdout
    everything = _session("--dry-run", "--no-throughput", carry=carry)
    assert everything.returncode == 0 and "notebooks (17)" in everything.stdout
    assert re.search(r"/gpu_check_\d{8}\.json$", everything.stdout, re.MULTILINE), everything.stdout
    assert "throughput_" not in everything.stdout
    for bad, message in [(("99",), "no notebook for chapter '99'"), (("--timeout", "x"), "--timeout needs seconds"),
                         (("--frobnicate",), "unknown option")]:
        r = _session("--dry-run", *bad, carry=carry)
        assert r.returncode == 2 and message in r.stderr, (bad, r.stderr)
    r = _session("--dry-run", carry=tmp_path / "nothing")
    assert r.returncode == 2 and "prepare_gpu_session.sh" in r.stderr


def test_carried_wheels_cover_what_the_notebooks_need_and_are_pinned():
    gpu_carry = _load("gpu_carry")
    listed = gpu_carry.listed_wheels()
    # gpu_check.py and its kernel, the glue of recfeat_ref.book, chapters 15 and 16
    assert {"nbformat", "nbclient", "jupyter-client", "ipykernel", "myst-nb", "docutils", "captum", "opacus"} <= set(listed)
    assert listed == gpu_carry.computed_wheels(), "benchmarks/gpu_wheels.txt is stale: python benchmarks/gpu_carry.py requirements"
    assert not set(listed) & gpu_carry.DEVICE_HAS
    pins = gpu_carry.dev_pins()
    assert all(pins[name] == version for name, version in listed.items())
