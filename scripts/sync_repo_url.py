"""Copy the repository URL from _config.yml into each notebook's Colab set-up cell.

It rewrites both the notebook sources (notebooks/src/*.py) and the notebooks.

The URL lives in one place (``repository.url`` in ``_config.yml``); this script
rewrites the ``REPO_URL = "..."`` line of every notebook, and
``tests/test_project.py`` fails if any notebook disagrees with the config.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PATTERN = re.compile(r'REPO_URL = "[^"]*"')


def repo_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["repository"]["url"]


def sync(path: Path, url: str) -> bool:
    if path.suffix == ".py":
        text = path.read_text()
        new = PATTERN.sub(f'REPO_URL = "{url}"', text)
        if new != text:
            path.write_text(new)
        return new != text
    nb = json.loads(path.read_text())
    changed = False
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        new = PATTERN.sub(f'REPO_URL = "{url}"', source)
        if new != source:
            cell["source"] = new.splitlines(keepends=True)
            changed = True
    if changed:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return changed


if __name__ == "__main__":
    url = repo_url()
    for p in sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks" / "src").glob("*.py")):
        if sync(p, url):
            print(f"updated {p.relative_to(ROOT)}", file=sys.stderr)
