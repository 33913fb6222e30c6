"""Open every page of the built website in headless Chromium and check what a reader sees.

Usage: python scripts/check_site.py _build/html [--chromium PATH] [--timeout S]

The site is served on a free local port (``http.server`` in a thread) and each page
is opened in one headless Chromium, driven through the Chrome DevTools Protocol
(``--remote-debugging-port`` and the ``websocket-client`` package). For every page:

* **no console errors**: nothing logged at level "error" (``console.error``, an
  uncaught exception, a resource that failed to load);
* **equations typeset**: a page whose HTML holds math (Sphinx's ``class="math"``)
  must hold MathJax output (``mjx-container`` elements) once MathJax has finished;
* **images loaded**: every ``<img>`` is complete with ``naturalWidth > 0``;
* **Colab link**: a chapter page (``notebooks/NN_name.html``) links to
  ``https://colab.research.google.com/github/<owner>/<repo>/blob/<branch>/notebooks/NN_name.ipynb``,
  with owner, repository and branch from ``repository`` in ``_config.yml``.

Nothing outside the local server is reached: the site vendors MathJax and Mermaid,
and Chromium runs with its background networking off. Exits with status 1 and one
line per problem if any check fails; status 2 if Chromium cannot be started (the
message says how to install it: ``apt-get install -y chromium`` on Debian).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
]
SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
# Console messages that are known, understood and harmless, each matched exactly and
# with its reason. Anything else logged at level "error" fails the check.
KNOWN_CONSOLE_ERRORS = [
    # Jupyter Book 1.0.4 loads sphinx-thebe 0.3.1, whose configuration script is added
    # to every page twice (its env-before-read-docs hook runs twice); the second copy
    # redeclares a const and is rejected, the first one configures thebe. Launching
    # code with thebe is not enabled on this site, so nothing depends on it.
    (r"uncaught exception: SyntaxError: Identifier 'THEBE_JS_URL' has already been declared",
     "duplicate sphinx-thebe config script (Jupyter Book 1 + sphinx-thebe 0.3.1)"),
    # pydata-sphinx-theme 0.17 logs this once, on the first page a fresh browser profile
    # opens (no colour mode stored yet), then uses the "auto" mode, as intended.
    (r"console\.error: Got invalid theme mode: \. Resetting to auto\.", "theme's first-visit message"),
    # Browsers ask every server for /favicon.ico by themselves; no page links to it.
    (r"network: Failed to load resource: .* 404 .*/favicon\.ico", "browser's own favicon request"),
]

# Runs in the page once it has loaded: waits for MathJax to finish, then reports.
PAGE_REPORT_JS = """
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    try { await MathJax.startup.promise; } catch (e) {}
  }
  const imgs = Array.from(document.images);
  await Promise.all(imgs.filter(i => !i.complete).map(i => new Promise(r => { i.onload = i.onerror = r; })));
  return {
    math: document.querySelectorAll('.math').length,
    mjx: document.querySelectorAll('mjx-container').length,
    mathjax_errors: document.querySelectorAll('mjx-merror').length,
    broken_images: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
    colab: Array.from(document.querySelectorAll('a[href^="https://colab.research.google.com/"]')).map(a => a.href),
  };
})()
"""


def expected_colab_prefix() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]
    owner_repo = re.sub(r"^https://github\.com/", "", repo["url"]).rstrip("/")
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{repo.get('branch', 'main')}/"


def find_chromium(explicit: str | None) -> str | None:
    if explicit:
        return explicit if shutil.which(explicit) else None
    for name in CHROMIUM_NAMES:
        if path := shutil.which(name):
            return path
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # one line per request would drown the report
        pass


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


class Browser:
    """One headless Chromium and one tab, driven over the DevTools protocol."""

    def __init__(self, chromium: str, timeout: float):
        import websocket  # websocket-client

        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="check_site_")
        self.proc = subprocess.Popen(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"{chromium} did not start (exit status {self.proc.poll()})")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=timeout, suppress_origin=True)
        self._id = 0
        self.events: list[dict] = []
        for method in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.send(method)

    def send(self, method: str, **params) -> dict:
        """Send a command and return its result; events that arrive meanwhile are kept."""
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, event: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e["method"] == event for e in self.events):
                return True
            self.ws.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                msg = json.loads(self.ws.recv())
            except Exception:  # websocket timeout
                break
            finally:
                self.ws.settimeout(self.timeout)
            if "method" in msg:
                self.events.append(msg)
        return any(e["method"] == event for e in self.events)

    def open(self, url: str) -> tuple[dict, list[str]]:
        """Load ``url``; return the page report and the console errors it produced."""
        self.events = []
        self.send("Page.navigate", url=url)
        if not self.wait_for("Page.loadEventFired", self.timeout):
            return {}, [f"page did not finish loading in {self.timeout:.0f} s"]
        for attempt in range(3):
            try:
                result = self.send("Runtime.evaluate", expression=PAGE_REPORT_JS, awaitPromise=True, returnByValue=True)
                break
            except RuntimeError as exc:  # a redirecting page (index.html) navigated away
                if "navigated" not in str(exc) or attempt == 2:
                    raise
                self.events = [e for e in self.events if e["method"] != "Page.loadEventFired"]
                self.wait_for("Page.loadEventFired", self.timeout)
        self.wait_for("never", 0.2)  # collect late console messages
        report = result.get("result", {}).get("value") or {}
        return report, console_errors(self.events)

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def console_errors(events: list[dict]) -> list[str]:
    errors = []
    for e in events:
        p = e.get("params", {})
        if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errors.append("console." + p["type"] + ": " + " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif e["method"] == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            errors.append("uncaught exception: " + d.get("exception", {}).get("description", d.get("text", "")).splitlines()[0])
        elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            entry = p["entry"]
            errors.append(f"{entry.get('source', 'log')}: {entry.get('text', '')} {entry.get('url', '')}".strip())
    return errors


def check_page(rel: str, report: dict, errors: list[str], colab_prefix: str) -> list[str]:
    problems = [f"{rel}: {e}" for e in errors if not any(re.fullmatch(k, e) for k, _ in KNOWN_CONSOLE_ERRORS)]
    if not report:
        return problems
    if report["math"] and not report["mjx"]:
        problems.append(f"{rel}: {report['math']} math elements but no MathJax output (mjx-container)")
    if report["mathjax_errors"]:
        problems.append(f"{rel}: {report['mathjax_errors']} MathJax errors (mjx-merror)")
    for src in report["broken_images"]:
        problems.append(f"{rel}: image did not load: {src}")
    m = re.fullmatch(r"notebooks/(\d\d_\w+)\.html", rel)
    if m:
        want = f"{colab_prefix}notebooks/{m.group(1)}.ipynb"
        if want not in report["colab"]:
            problems.append(f"{rel}: no Colab link {want} (found: {report['colab'] or 'none'})")
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM"))
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per page")
    args = parser.parse_args(argv)
    site = args.site.resolve()
    if not (site / "index.html").exists():
        print(f"{site}/index.html not found: build the book first", file=sys.stderr)
        return 2
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("check_site: Chromium not found. Install it (Debian/Ubuntu: apt-get install -y chromium)"
              " or name it with --chromium PATH / the CHROMIUM variable.", file=sys.stderr)
        return 2
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                   if p.name not in SKIP_PAGES and "_static" not in p.parts and "_sources" not in p.parts)
    colab_prefix = expected_colab_prefix()
    start = time.perf_counter()
    server, port = serve(site)
    try:
        browser = Browser(chromium, args.timeout)
    except Exception as exc:  # noqa: BLE001 - report why the browser could not start
        server.shutdown()
        print(f"check_site: could not start {chromium}: {exc}", file=sys.stderr)
        return 2
    problems, n_math = [], 0
    try:
        for rel in pages:
            report, errors = browser.open(f"http://127.0.0.1:{port}/{rel}")
            n_math += bool(report.get("mjx"))
            problems += check_page(rel, report, errors, colab_prefix)
    finally:
        browser.close()
        server.shutdown()
    for p in problems:
        print(p, file=sys.stderr)
    n_nb = sum(bool(re.fullmatch(r"notebooks/\d\d_\w+\.html", p)) for p in pages)
    print(f"check_site: {len(pages)} pages opened in {time.perf_counter() - start:.1f} s "
          f"({n_math} with typeset math, {n_nb} chapter pages with Colab links checked), {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
