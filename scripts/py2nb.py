"""Build a notebook from its percent-format source (``notebooks/src/NAME.py``).

The ``.py`` files are the readable, diffable source of each chapter; the
``.ipynb`` files (with outputs from a real run) are what the book, nbval and
Colab use. Cells are separated by ``# %%`` (code) and ``# %% [markdown]``
lines; markdown lines are written with a leading ``# `` which is stripped.
Usage: python scripts/py2nb.py [--prose-only] notebooks/src/01_data.py [...]

``--prose-only`` updates the markdown cells of an already executed notebook and keeps
its outputs; it refuses (and writes nothing) if any code cell differs from the source,
because then the outputs would no longer come from this code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def parse(text: str) -> list:
    cells, kind, lines = [], None, []

    def flush():
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(l[2:] if l.startswith("# ") else l.lstrip("#") for l in body.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(body))
        elif body:
            cells.append(nbformat.v4.new_code_cell(body))

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        else:
            lines.append(line)
    flush()
    return cells


def build(src: Path, prose_only: bool = False) -> Path:
    cells = parse(src.read_text(encoding="utf-8"))
    out = src.parent.parent / (src.stem + ".ipynb")
    if prose_only:
        nb = nbformat.read(out, as_version=4)
        old = [(c.cell_type, c.source) for c in nb.cells if c.cell_type == "code"]
        new = [(c.cell_type, c.source) for c in cells if c.cell_type == "code"]
        if old != new:
            raise SystemExit(f"{out}: code cells differ from {src}; rebuild and execute it instead")
        executed = iter([c for c in nb.cells if c.cell_type == "code"])
        cells = [next(executed) if c.cell_type == "code" else c for c in cells]
    else:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = KERNELSPEC
        nb.metadata["language_info"] = {"name": "python"}
    nb.cells = cells
    nbformat.write(nb, out)
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    prose_only = "--prose-only" in args
    for arg in (a for a in args if a != "--prose-only"):
        print(build(Path(arg), prose_only))
