"""Execute notebooks in place so their committed outputs come from a real run.

Usage: python scripts/execute_notebooks.py notebooks/*.ipynb

Each notebook runs top to bottom in a fresh ``python3`` kernel from its own
folder; the result is written atomically (temporary file + rename), and the
kernelspec is normalised to ``python3`` (other names break nbval and the book).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def execute(path: Path, timeout: int = 600) -> float:
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = KERNELSPEC
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".ipynb")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        nbformat.write(nb, fh)
    os.chmod(tmp, 0o644)  # mkstemp creates 0600 files
    os.replace(tmp, path)
    return seconds


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        secs = execute(Path(arg))
        print(f"{arg}: executed in {secs:.1f} s")
