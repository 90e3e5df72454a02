"""Pausing Python's cyclic garbage collector around short bursts of allocation (the PDF layout, ``ipvalue demo``)."""

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
