"""The website's generated pages and its checkers: API pages, runtimes table, link and browser checks."""

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


gen_api_pages = _load("gen_api_pages")
check_links = _load("check_links")
check_site = _load("check_site")
notebook_runtimes = _load("notebook_runtimes")


def test_every_public_module_has_an_api_page():
    modules = sorted(p.stem for p in (ROOT / "recfeat_ref").glob("*.py") if not p.stem.startswith("_"))
    assert modules == gen_api_pages.public_modules()
    for name in modules:
        page = ROOT / "book" / "api" / f"{name}.rst"
        assert page.exists(), f"no API page for recfeat_ref.{name}: run python scripts/gen_api_pages.py"
        assert f".. automodule:: recfeat_ref.{name}" in page.read_text()
    assert gen_api_pages.stale_pages() == [], "API pages are stale: run python scripts/gen_api_pages.py"
    assert "glob: book/api/*" in (ROOT / "_toc.yml").read_text()


def test_runtimes_table_is_generated_from_the_notebooks():
    text, rows = notebook_runtimes.render()
    assert (ROOT / "book" / "_generated" / "runtimes.md").read_text() == text, "run python scripts/notebook_runtimes.py"
    assert rows and all(r["cpu_s"] > 0 for r in rows)
    for page in ("syllabus", "teaching"):
        assert "{include} _generated/runtimes.md" in (ROOT / "book" / f"{page}.md").read_text()


def test_runtime_is_first_cell_start_to_last_cell_end(tmp_path):
    import json

    cell = lambda busy, idle: {"cell_type": "code", "metadata": {"execution": {"iopub.status.busy": busy, "iopub.status.idle": idle}}, "source": "", "outputs": []}
    nb = {"cells": [{"cell_type": "markdown", "source": "# A title", "metadata": {}},
                    cell("2026-01-01T10:00:00.000Z", "2026-01-01T10:00:01.000Z"),
                    cell("2026-01-01T10:00:02.000Z", "2026-01-01T10:01:30.500Z")]}
    path = tmp_path / "09_x.ipynb"
    path.write_text(json.dumps(nb))
    row = notebook_runtimes.measure(path)
    assert row == {"notebook": "09_x", "title": "A title", "cpu_s": 90.5, "date": "2026-01-01"}
    assert "not measured yet" in notebook_runtimes.table([row], None)
    gpu = notebook_runtimes.table([row], {"device": "H100", "runtimes_s": {"09_x": 150.0}})
    assert "| GPU (H100) |" in gpu and "| 90 s | 2.5 min |" in gpu


def _tiny_site(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "index.html").write_text('<a href="sub/page.html#here">x</a><a href="https://example.org/missing">ext</a>')
    (root / "sub" / "page.html").write_text(
        '<h1 id="here">t</h1><a href="../index.html">up</a><a href="#nowhere">bad anchor</a>'
        '<img src="../nope.png"><a href="other.html">missing page</a>')
    return root


def test_check_links_finds_missing_pages_and_anchors(tmp_path):
    site = _tiny_site(tmp_path / "html")
    checked, problems = check_links.check_site(site)
    assert checked == 5  # the external link is not checked
    assert len(problems) == 3
    assert any("'#nowhere'" in p for p in problems)
    assert any("nope.png" in p for p in problems)
    assert any("other.html" in p for p in problems)


@pytest.mark.skipif(check_site.find_chromium(None) is None, reason="Chromium is not installed")
def test_check_site_reports_console_errors_images_and_colab_links(tmp_path):
    site = tmp_path / "html"
    (site / "notebooks").mkdir(parents=True)
    (site / "index.html").write_text("<p>fine</p>")
    (site / "notebooks" / "01_data.html").write_text('<script>console.error("boom")</script><img src="missing.png">')
    assert check_site.main([str(site), "--timeout", "20"]) == 1
    prefix = check_site.expected_colab_prefix()
    assert prefix.startswith("https://colab.research.google.com/github/") and prefix.endswith("/blob/main/")
    problems = check_site.check_page("notebooks/01_data.html", {"math": 2, "mjx": 0, "mathjax_errors": 0, "broken_images": [], "colab": []}, [], prefix)
    assert len(problems) == 2  # math not typeset, no Colab link
    ok = check_site.check_page("notebooks/01_data.html", {"math": 2, "mjx": 2, "mathjax_errors": 0, "broken_images": [], "colab": [prefix + "notebooks/01_data.ipynb"]}, [], prefix)
    assert ok == []
