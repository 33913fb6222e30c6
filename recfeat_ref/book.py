"""Small helpers for the book's notebooks.

:func:`glue` stores a value computed by a cell so that the prose can quote it
(``{glue:text}`name```): numbers in the text come from executed cells, never
typed by hand. Outside a Jupyter Book build (on Colab, say) MyST-NB may be
absent; the value is then simply not stored.
"""

from __future__ import annotations

import sys

__all__ = ["glue", "on_colab"]


def glue(name: str, value, display: bool = False) -> None:
    """Record ``value`` under ``name`` for the book's ``{glue}`` roles (no-op without myst-nb)."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()  # NumPy/torch scalar -> Python number, so "{glue:text}`x:.3f`" formats
    try:
        from myst_nb import glue as _glue
    except ImportError:  # e.g. on Colab, where the book tooling is not installed
        return
    _glue(name, value, display=display)


def on_colab() -> bool:
    """True when running inside Google Colab.

    Examples
    --------
    >>> on_colab()   # False outside Google Colab
    False
    """
    return "google.colab" in sys.modules
