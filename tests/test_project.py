"""Project-level consistency: environments, notebook sources, the Colab cell, the book config."""

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _load_py2nb():
    import importlib.util

    spec = importlib.util.spec_from_file_location("py2nb", ROOT / "scripts" / "py2nb.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_environment_yml_installs_what_make_setup_installs():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert "-r requirements/dev.txt" in pip
    assert "-e .[book,test,text,responsible]" in pip
    makefile = (ROOT / "Makefile").read_text()
    assert "-r requirements/dev.txt -e '.[book,test,text,responsible]'" in makefile


def test_dev_requirements_pin_torch_and_satisfy_pyproject():
    import tomllib

    from packaging.requirements import Requirement

    pins = {}
    for line in (ROOT / "requirements" / "dev.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    assert pins["torch"] == "2.13.0", "CI must pin the CPU torch wheel"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    for spec in wanted:
        req = Requirement(spec)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} is required by pyproject.toml but not pinned in requirements/dev.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} violates {req.specifier}"
    torch_req = next(Requirement(r) for r in project["dependencies"] if r.startswith("torch"))
    assert str(torch_req.specifier).startswith(">="), "pyproject.toml keeps a torch range for Colab"


def test_notebooks_match_their_sources():
    py2nb = _load_py2nb()
    sources = sorted((ROOT / "notebooks" / "src").glob("*.py"))
    assert [p.stem for p in sources] == [p.stem for p in NOTEBOOKS]
    for src in sources:
        expected = [(c.cell_type, c.source) for c in py2nb.parse(src.read_text(encoding="utf-8"))]
        nb = json.loads((ROOT / "notebooks" / f"{src.stem}.ipynb").read_text())
        actual = [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]
        assert actual == expected, f"{src.name} and its notebook differ: run `make notebooks`"


def test_every_notebook_is_executed_titled_and_has_the_colab_cell():
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        assert nb["metadata"]["kernelspec"]["name"] == "python3", path.name
        first = "".join(nb["cells"][0]["source"])
        assert nb["cells"][0]["cell_type"] == "markdown" and re.match(r"# \S", first), f"{path.name}: no H1 title"
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        setup = "".join(code[0]["source"])
        assert '"google.colab" in sys.modules' in setup and f'REPO_URL = "{url}"' in setup, path.name
        for c in code:
            assert c["execution_count"] is not None, f"{path.name}: unexecuted cell; run `make notebooks`"
            assert not any(o["output_type"] == "error" for o in c["outputs"]), f"{path.name}: committed error output"
            stderr = "".join("".join(o["text"]) for o in c["outputs"] if o.get("name") == "stderr")
            assert "Warning" not in stderr, f"{path.name}: a cell printed a warning (hidden on the site): {stderr[:300]}"


def test_toc_lists_every_notebook_and_page():
    toc = (ROOT / "_toc.yml").read_text()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}" in toc, f"{path.name} is missing from _toc.yml"
    for page in (ROOT / "book").glob("*.md"):
        assert f"book/{page.stem}" in toc, f"{page.name} is missing from _toc.yml"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in ci and "make test" in readme and "make book" in readme
