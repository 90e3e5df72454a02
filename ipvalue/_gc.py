"""Pausing Python's cyclic garbage collector around short bursts of allocation.

Used where a run makes many objects at once and no cycle of its own needs collecting before it ends: the PDF
layout, ``ipvalue demo``, and an assessment in one pass (:func:`ipvalue.assess_collateral`), whose patent rows,
shock frames and hash texts are tens of thousands of small objects that would otherwise set off collections of
every object in the process (about 0.2 s of a 20,000-patent assessment with stress).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["gc_paused"]


@contextlib.contextmanager
def gc_paused(pause: bool = True) -> Iterator[None]:
    """Pause Python's cyclic garbage collector inside the block (when ``pause``), restoring its state after.

    Reference counting still frees everything not in a cycle; the cycles made inside are collected by the
    collector's next run after the block. Nothing changes when the collector was already off.
    """
    was_on = gc.isenabled()
    if pause and was_on:
        gc.disable()
    try:
        yield
    finally:
        if pause and was_on:
            gc.enable()
