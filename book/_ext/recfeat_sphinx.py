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
   ``recfeat_ref`` object whose dotted name ends with it; when several documented
   names are the same object (a class defined in :mod:`recfeat_ref.exceptions` and
   re-exported by ``datasets``), to the one where it is defined. A name matching
   several objects, or none, is left alone, so nitpicky mode still reports it.

3. **Re-exported classes.** ``datasets`` lists ``DataValidationError`` in ``__all__``
   for its callers, but the class is defined (and documented) in
   :mod:`recfeat_ref.exceptions`. Documented twice under two indexed names, every
   unqualified reference to it would be ambiguous ("more than one target found"). A
   class re-exported from another *public* module of the package is therefore still
   shown on the re-exporting page, but not indexed there (``:no-index:``); a qualified
   reference to the re-export (``recfeat_ref.datasets.DataValidationError``), or to an
   old private home that still imports it (``recfeat_ref._validation.DataValidationError``),
   is resolved by importing the object and linking to where it is defined.
"""

from __future__ import annotations

import importlib

from sphinx.ext.autodoc import ClassDocumenter, ExceptionDocumenter

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


def _import_dotted(dotted: str):
    """The object a dotted ``recfeat_ref`` name points to (module, then attributes), or None."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for part in parts[cut:]:
                obj = getattr(obj, part)
        except AttributeError:
            return None
        return obj
    return None


def _home(dotted: str) -> str | None:
    """Where the object named ``dotted`` is defined (``module.qualname``), or None."""
    obj = _import_dotted(dotted)
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return f"{module}.{qualname}" if module and qualname else None


def _resolve_in_package(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    domain = env.get_domain("py")
    objects = domain.objects
    if target.startswith(PACKAGE + "."):  # fully qualified: Python's own lookup has already tried it
        home = _home(target)
        if home is None or home == target or home not in objects:
            return None
        return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], home, node, contnode)
    if not target:
        return None
    candidates = [c for c in _base_candidates(node.get("py:module"), node.get("py:class"), target) if c in objects]
    if not candidates:
        # Documented names only: not a private module's canonical name of a re-export.
        candidates = sorted(n for n, entry in objects.items()
                            if n.startswith(PACKAGE + ".") and n.endswith("." + target)
                            and not entry.aliased and "._" not in n)
        if len(candidates) > 1:  # re-exports of one object: keep the module that defines it
            homes = {_home(c) for c in candidates}
            if len(homes) == 1 and (home := homes.pop()) in candidates:
                candidates = [home]
    if len(candidates) != 1:
        return None
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], candidates[0], node, contnode)


def _reexported_from_public_module(documenter) -> bool:
    """True if the class being documented is defined in another public module of the package."""
    home = getattr(documenter.object, "__module__", None) or ""
    return (home != documenter.modname and home.startswith(PACKAGE + ".")
            and not any(part.startswith("_") for part in home.split(".")))


class _ReexportAware:
    def add_directive_header(self, sig: str) -> None:
        if not _reexported_from_public_module(self):
            return super().add_directive_header(sig)
        # The options may be the directive's, shared by every member: set, then restore.
        before = self.options.get("no-index", None)
        self.options["no-index"] = True
        try:
            super().add_directive_header(sig)
        finally:
            if before is None:
                del self.options["no-index"]
            else:
                self.options["no-index"] = before


class ReexportAwareClassDocumenter(_ReexportAware, ClassDocumenter):
    """ClassDocumenter that does not index a class documented in the module that defines it."""


class ReexportAwareExceptionDocumenter(_ReexportAware, ExceptionDocumenter):
    """ExceptionDocumenter that does not index an exception documented in the module that defines it."""


def setup(app):
    app.setup_extension("sphinx.ext.autodoc")
    app.add_autodocumenter(ReexportAwareClassDocumenter, override=True)
    app.add_autodocumenter(ReexportAwareExceptionDocumenter, override=True)
    # Before napoleon (priority 500) converts the docstring.
    app.connect("autodoc-process-docstring", _no_inline_type, priority=400)
    app.connect("missing-reference", _resolve_in_package)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
