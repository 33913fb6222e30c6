"""benchmarks/gpu_check.py keeps working on a CPU-only machine (CI): run it on a tiny notebook."""

import importlib.util
import json
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
