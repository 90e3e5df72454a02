"""``ipvalue.runtime.tune_allocator``: glibc's malloc keeps freed memory for the next arrays.

The effect is measured as page faults (not time): a burst of arrays of a few MB, allocated and freed again and
again, faults its pages in anew each time under glibc's default thresholds, and reuses them once tuned. Each case
runs in a process of its own (the setting is the process's).
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
import textwrap

import pytest

from ipvalue import runtime

_PROBE = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from ipvalue.runtime import tune_allocator

    if sys.argv[1] == "tuned":
        assert tune_allocator()

    def burst():
        keep = [np.ones(750_000) for _ in range(3)]  # three arrays of 6 MB alive at once, then freed
        keep += [np.ones(20_000) for _ in range(20)]  # and twenty of 160 KB (the Monte Carlo's paths)
        return sum(float(a[0]) for a in keep)

    for _ in range(3):
        burst()
    r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        burst()
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0) / 20)
    """
)


def _glibc() -> bool:
    try:
        ctypes.CDLL(None).gnu_get_libc_version  # noqa: B018
    except (AttributeError, OSError):
        return False
    return True


def _faults_per_burst(mode: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True, timeout=120
    )
    return float(out.stdout.strip())


@pytest.mark.skipif(not _glibc(), reason="the thresholds are glibc malloc's")
def test_tuned_allocator_reuses_pages_the_default_faults_in_again():
    default, tuned = _faults_per_burst("default"), _faults_per_burst("tuned")
    # 18 MB freed at the top of the heap: above glibc's moving trim threshold, returned and faulted in again
    assert default > 1_000  # 4 KiB pages: several MB faulted per burst
    assert tuned < default / 20


@pytest.mark.skipif(not _glibc(), reason="the thresholds are glibc malloc's")
def test_tune_allocator_says_whether_it_applied():
    # within glibc's range the call succeeds, again and again (a process setting, not a toggle); in a process of
    # its own, so that the test run keeps glibc's defaults
    code = "from ipvalue.runtime import tune_allocator as t; print(t(), t(), t(mmap_threshold=0, trim_threshold=0))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["True", "True", "True"]


@pytest.mark.parametrize("kw", [{"mmap_threshold": -1}, {"trim_threshold": 2**31}, {"mmap_threshold": 1.5}])
def test_tune_allocator_refuses_values_malloc_cannot_take(kw):
    with pytest.raises(ValueError, match="whole number of bytes"):
        runtime.tune_allocator(**kw)


def test_without_glibc_nothing_is_set(monkeypatch):
    class NotGlibc:  # a C library without gnu_get_libc_version (musl, macOS)
        def __init__(self, *_: object) -> None:
            pass

    monkeypatch.setattr(ctypes, "CDLL", NotGlibc)
    assert runtime.tune_allocator() is False
