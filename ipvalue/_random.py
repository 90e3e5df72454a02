"""Per-patent random streams.

Every patent draws from its own :class:`numpy.random.Generator`, seeded from the run's root seed, a stable
hash of its ``patent_id`` and the name of the stream (``"valuation"``, ``"liquidation"``...). A patent's
numbers therefore do not depend on row order, chunking, the backend or the machine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

__all__ = ["stable_key", "patent_rng", "patent_normals", "patent_uniforms", "root_rng"]


def stable_key(text: str) -> int:
    """A 64-bit integer from ``text`` that is the same on every machine and Python run (BLAKE2b)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def patent_rng(seed: int, patent_id: str, stream: str) -> np.random.Generator:
    """The generator of one patent for one named stream.

    Parameters
    ----------
    seed : int
        The run's root seed (recorded in every result).
    patent_id : str
        Canonical patent number.
    stream : str
        What the draws are for; different streams are independent.
    """
    if isinstance(seed, np.random.Generator):
        raise TypeError("seed must be an int (the recorded root seed), not a Generator")
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, stable_key(patent_id), stable_key(stream)])
    return np.random.Generator(np.random.PCG64(ss))


def root_rng(seed: int, stream: str) -> np.random.Generator:
    """A generator for portfolio-level draws (not tied to one patent)."""
    ss = np.random.SeedSequence(
        [int(seed) & 0xFFFFFFFFFFFFFFFF, stable_key("__portfolio__"), stable_key(stream)]
    )
    return np.random.Generator(np.random.PCG64(ss))


def patent_normals(seed: int, patent_ids: Iterable[str], n: int, stream: str) -> np.ndarray:
    """Standard normal draws, shape ``(len(patent_ids), n)``, row i from patent i's own stream."""
    ids = list(patent_ids)
    out = np.empty((len(ids), n))
    for i, pid in enumerate(ids):
        out[i] = patent_rng(seed, pid, stream).standard_normal(n)
    return out


def patent_uniforms(seed: int, patent_ids: Iterable[str], n: int, stream: str) -> np.ndarray:
    """Uniform [0, 1) draws, shape ``(len(patent_ids), n)``, row i from patent i's own stream."""
    ids = list(patent_ids)
    out = np.empty((len(ids), n))
    for i, pid in enumerate(ids):
        out[i] = patent_rng(seed, pid, stream).random(n)
    return out
