"""The process's memory allocator: glibc's malloc tuned to keep freed memory for the next arrays.

Kept apart from :mod:`ipvalue.runtime` (which re-exports it) so that the ``ipvalue`` command can call it at its
start without importing numpy and pandas.
"""

from __future__ import annotations

__all__ = ["tune_allocator", "ALLOCATOR_MMAP_THRESHOLD", "ALLOCATOR_TRIM_THRESHOLD"]

#: glibc malloc's ``M_MMAP_THRESHOLD`` set by :func:`tune_allocator`: blocks up to this size come from the heap
#: (32 MiB, the largest glibc accepts on 64-bit systems, and the ceiling of its own moving threshold)
ALLOCATOR_MMAP_THRESHOLD = 32 * 2**20
#: glibc malloc's ``M_TRIM_THRESHOLD`` set by :func:`tune_allocator`: free memory kept at the top of the heap
ALLOCATOR_TRIM_THRESHOLD = 64 * 2**20

#: ``mallopt`` parameter numbers (glibc's ``malloc.h``)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def tune_allocator(
    *, mmap_threshold: int = ALLOCATOR_MMAP_THRESHOLD, trim_threshold: int = ALLOCATOR_TRIM_THRESHOLD
) -> bool:
    """Let glibc's malloc keep freed memory for the next arrays instead of returning it and faulting it in again.

    An assessment allocates and frees arrays of 0.1 to a few MB by the hundred (the Monte Carlo's paths, its draws,
    the valuation's draws). glibc returns the free top of its heap to the system once it exceeds a threshold that
    moves with the largest blocks freed, and gives large blocks fresh mappings, so the next arrays land on new pages
    that the kernel must fault in and zero: about 7,000 to 7,800 page faults and 10 to 14 ms of an assessment of
    the demo book (``benchmarks/RESULTS.md``). With the heap keeping up to ``trim_threshold`` free and serving
    blocks up to ``mmap_threshold``, the pages are reused. Nothing computed changes; the process keeps up to
    ``trim_threshold`` of free memory.

    The setting is the process's: the ``ipvalue`` command and the service's computing processes call this at
    their start; a notebook or a program of its own may call it (or set the environment variables
    ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` before Python starts). The library never calls it
    on import or in a function of its API.

    Parameters
    ----------
    mmap_threshold, trim_threshold : int
        Bytes (glibc's ``M_MMAP_THRESHOLD``, at most 32 MiB on 64-bit systems, and ``M_TRIM_THRESHOLD``).

    Returns
    -------
    bool
        Whether both were set: False where the C library is not glibc (macOS, Windows, musl), where nothing
        changes.
    """
    import ctypes

    for name, v in (("mmap_threshold", mmap_threshold), ("trim_threshold", trim_threshold)):
        if int(v) != v or not 0 <= v < 2**31:  # mallopt takes a C int
            raise ValueError(f"{name} must be a whole number of bytes in [0, 2**31), got {v!r}")
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only: its thresholds are the ones set here
        mallopt = libc.mallopt
    except (AttributeError, OSError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)) == 1
    return mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)) == 1 and ok
