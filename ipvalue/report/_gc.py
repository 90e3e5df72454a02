"""Pausing Python's cyclic garbage collector around short bursts of allocation (the PDF layout, ``ipvalue demo``).

The helper is :func:`ipvalue._gc.gc_paused` (the collateral engine uses it too); this module keeps the name the
report's code imports.
"""

from __future__ import annotations

from ipvalue._gc import gc_paused

__all__ = ["gc_paused"]
