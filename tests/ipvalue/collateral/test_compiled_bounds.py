"""The compiled engine's kernels with numba's bounds checks on: no index outside its array.

numba does not check indices by default, so a kernel that indexes past an array reads or writes another object's
memory without an error (a first version of ``_mc_fused.block_sums`` did so for a tile lying wholly before the
judicial paths; the heap was corrupted and the process aborted later, elsewhere). Here the compiled engine's
bit-for-bit tests run again in a process of their own with ``NUMBA_BOUNDSCHECK=1``, where such an index raises
``IndexError``, and with a numba cache of their own (the checked code is compiled apart from the cached one).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ipvalue.collateral import liquidation

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
@pytest.mark.skipif(not liquidation._numba_available(), reason="numba is not installed (the fast extra)")
def test_the_compiled_kernels_index_only_inside_their_arrays(tmp_path):
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    tests = [
        "tests/ipvalue/collateral/test_liquidation_fast.py",
        "tests/ipvalue/collateral/test_compiled_finish.py",
        "tests/ipvalue/valuation/test_range_fused.py",
    ]
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout.splitlines()[-1]
