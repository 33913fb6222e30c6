"""Sphinx glue for the API reference (book/api/): two fixes, each for a known mismatch.

1. **Attribute docstrings are numpy style, not Google style.** For a module constant,
   a class attribute or a property, napoleon reads the first line as Google's
   ``type: description``, so ``#: Lower edges of the age groups (Harper, 2015): a
   bucket holds ...`` is rendered as an attribute of *type* "Lower edges of the age
   groups (Harper, 2015)" (and, in nitpicky mode, each word of it is a broken
   cross-reference). NumPy's convention has no inline type, so the docstring is handed
   to napoleon behind an empty comment line (``..``), which it reads as "no type" and
   which renders as nothing; everything else napoleon does (sections, fields) is
   unchanged.

2. **Unqualified names inside the package.** A docstring of ``IAutoRec`` may write
   :meth:`predict` for the method it inherits from ``Recommender``, and a docstring of
   ``preprocessing`` may write :class:`DataValidationError`, defined in a private
   module and documented where ``datasets`` re-exports it. Python's own lookup (the
   current class, then the current module) misses both. When it does, this resolves
   the name (a) through the bases of the current class, then (b) to the one documented
   ``recfeat_ref`` object whose dotted name ends with it. A name matching several
   objects, or none, is left alone, so nitpicky mode still reports it.
"""

from __future__ import annotations

import importlib

PACKAGE = "recfeat_ref"


def _no_inline_type(app, what, name, obj, options, lines):
    if what in ("data", "attribute", "property") and any(line.strip() for line in lines):
        lines[:0] = ["..", ""]


def _base_candidates(modname: str | None, clsname: str | None, target: str) -> list[str]:
    if not modname or not clsname:
        return []
    try:
        obj = importlib.import_module(modname)
        for part in clsname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return []
    return [f"{b.__module__}.{b.__qualname__}.{target}" for b in getattr(obj, "__mro__", ())[1:]
            if b.__module__.startswith(PACKAGE)]


def _resolve_in_package(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target or target.startswith(PACKAGE + "."):
        return None  # fully qualified: Python's own lookup has already tried it
    domain = env.get_domain("py")
    objects = domain.objects
    candidates = [c for c in _base_candidates(node.get("py:module"), node.get("py:class"), target) if c in objects]
    if not candidates:
        # Documented names only: not a private module's canonical name of a re-export.
        candidates = sorted(n for n, entry in objects.items()
                            if n.startswith(PACKAGE + ".") and n.endswith("." + target)
                            and not entry.aliased and "._" not in n)
    if len(candidates) != 1:
        return None
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], candidates[0], node, contnode)


def setup(app):
    # Before napoleon (priority 500) converts the docstring.
    app.connect("autodoc-process-docstring", _no_inline_type, priority=400)
    app.connect("missing-reference", _resolve_in_package)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
