"""Check that every internal link of the built website resolves (offline).

Usage: python scripts/check_links.py _build/html

Parses every HTML page under the folder and checks each ``href`` and ``src``
(``<a>``, ``<link>``, ``<img>``, ``<script>``, ``<source>``, ``<iframe>``):

* a relative URL must name a file that exists in the built site (a folder must
  hold an ``index.html``);
* a fragment (``page.html#section`` or ``#section``) must be the ``id`` (or the
  ``name`` of an ``<a>``) of an element of the target page.

External links (``http:``, ``https:``, ``mailto:``, ``data:``, protocol-relative
``//host``, ``javascript:``) are not checked: the check runs offline. Exits with
status 1 and lists each broken link (page, attribute, URL, reason) if any.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bs4 import BeautifulSoup

ATTRIBUTES = {"a": "href", "link": "href", "img": "src", "script": "src", "source": "src", "iframe": "src"}
EXTERNAL_SCHEMES = {"http", "https", "mailto", "data", "javascript", "tel", "ftp"}
# Files Sphinx writes that are not meant to be link targets of their own.
SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}


@lru_cache(maxsize=None)
def _parse(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8", errors="replace"), "html.parser")


@lru_cache(maxsize=None)
def anchors(path: Path) -> frozenset[str]:
    """Every ``id`` in the page, and the ``name`` of its ``<a>`` elements."""
    soup = _parse(path)
    ids = {el["id"] for el in soup.find_all(id=True)}
    ids |= {el["name"] for el in soup.find_all("a", attrs={"name": True})}
    return frozenset(ids)


def links(page: Path):
    """(attribute, url) pairs of one page, external links excluded."""
    for tag, attr in ATTRIBUTES.items():
        for el in _parse(page).find_all(tag, attrs={attr: True}):
            url = el[attr].strip()
            parts = urlsplit(url)
            if not url or parts.scheme in EXTERNAL_SCHEMES or url.startswith("//"):
                continue
            yield f"<{tag} {attr}>", url


def check_link(site: Path, page: Path, url: str) -> str | None:
    """None if ``url`` (found in ``page``) resolves, else the reason it does not."""
    parts = urlsplit(url)
    if parts.scheme:  # some other scheme (file:, ...): not a link a website may use
        return f"unexpected scheme {parts.scheme!r}"
    if parts.path.startswith("/"):
        return "absolute path: breaks when the site is not served from the domain root"
    target = (page.parent / unquote(parts.path)).resolve() if parts.path else page.resolve()
    if not target.is_relative_to(site.resolve()):
        return "points outside the built site"
    if target.is_dir():
        target = target / "index.html"
    if not target.exists():
        return f"no such file: {target.relative_to(site.resolve())}"
    fragment = unquote(parts.fragment)
    if fragment and target.suffix == ".html" and fragment not in anchors(target):
        return f"no element with id {fragment!r} in {target.relative_to(site.resolve())}"
    return None


def check_site(site: Path) -> tuple[int, list[str]]:
    """Number of links checked, and one message per broken link."""
    site = site.resolve()
    pages = sorted(p for p in site.rglob("*.html") if p.name not in SKIP_PAGES and "_static" not in p.parts)
    checked, problems = 0, []
    for page in pages:
        for attr, url in links(page):
            checked += 1
            reason = check_link(site, page, url)
            if reason:
                problems.append(f"{page.relative_to(site)}: {attr} {url!r}: {reason}")
    return checked, problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    site = Path(argv[0])
    if not (site / "index.html").exists():
        print(f"{site}/index.html not found: build the book first", file=sys.stderr)
        return 2
    checked, problems = check_site(site)
    for p in problems:
        print(p, file=sys.stderr)
    n_pages = len({p.split(':')[0] for p in problems})
    print(f"check_links: {checked} internal links checked, {len(problems)} broken" + (f" (on {n_pages} pages)" if problems else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
