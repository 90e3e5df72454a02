"""The liquidation Monte Carlo's per-tile arithmetic, compiled (numba): the same numbers as the numpy engine.

:func:`ipvalue.collateral.liquidation.liquidation_partial_sums_many` works tile by tile (a few patents x a few
thousand paths). The numpy engine makes about thirty passes over a tile per run (each multiply, add, compare and
sum its own array); this engine makes two compiled passes over all runs of a tile at once (a shock axis), and
leaves the two exponentials to numpy: numpy's ``exp`` has its own SIMD implementation whose last bit can differ
from the C library's, so calling it keeps every figure the same to the last bit.

Each compiled step does the numpy engine's floating operations one by one, in the same order (no fused
multiply-add: numba does not contract without ``fastmath``), and each sum gets the patents one after the other,
as ``np.add.reduce`` over the rows does. Tests run both engines on the same books and compare the bits.

The draws too: :func:`draw_patent` and :func:`draw_package` fill a patent's and a package's arrays from its numpy
``Generator`` in one compiled call. numba draws through the generator's own bit generator with numpy's
algorithms (the ziggurat for the normal and the exponential, 24 bits for a float32), so the numbers are numpy's to
the last bit (a test compares 400 streams, the rare tail branches included), in about half numpy's time on this
project's machine (``benchmarks/bench_fast.py`` measures both).

The functions are compiled on first use and kept in numba's on-disk cache (``cache=True``), so a new process
loads them instead of compiling again.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["draw_package", "draw_patent", "tile_arguments", "tile_sums", "warm_up"]


@njit(nogil=True, cache=True)
def tile_arguments(  # noqa: PLR0913 - one compiled call takes the whole tile's inputs
    z: np.ndarray,
    zp: np.ndarray,
    member: np.ndarray,
    b0: int,
    r0: int,
    r1: int,
    c0: int,
    c1: int,
    j0: int,
    j1: int,
    setup_of: np.ndarray,
    v_lead: np.ndarray,
    thr: np.ndarray,
    common: np.ndarray,
    t: np.ndarray,
    sig: np.ndarray,
    drift: np.ndarray,
    log_vc: np.ndarray,
    v_out: np.ndarray,
    b_lead: np.ndarray,
    s_bid: np.ndarray,
    log_med: np.ndarray,
    crash_from: np.ndarray,
    log_keep: np.ndarray,
    w_out: np.ndarray,
) -> None:
    """The exponentials' arguments of a tile: the log value at the sale, and the log bid of orderly/distressed lots.

    For each value class leader ``k = v_lead[s]``: ``v_out[s, i, j] = ((Z thr + common) sigma + drift t) + ln(V c)``;
    for each bid class leader ``k = b_lead[s]``, on the paths outside the judicial slice ``j0:j1``:
    ``w_out[s, i, j] = (s Zb + ln median) [+ ln(1 - drop) on crashed paths]``. Rows ``r0:r1`` of the block that
    starts at draw row ``b0``, paths ``c0:c1``; ``member`` maps a block row to its package row (empty: the same row).
    The per-path arrays (``thr``, ``common``, ``t``, ``log_med``) have a row per path-level setup; run ``k``
    reads row ``setup_of[k]``.
    Every loop runs over views that start at the tile's first path, so that the compiler vectorises it.
    """
    nr, w = r1 - r0, c1 - c0
    for s in range(v_lead.shape[0]):
        k = v_lead[s]
        q = setup_of[k]
        thr_k, com_k, t_k = thr[q, c0:c1], common[q, c0:c1], t[q, c0:c1]
        for i in range(nr):
            g = b0 + r0 + i
            sg, dr, lv = sig[k, g], drift[k, g], log_vc[k, g]
            zi = z[r0 + i, c0:c1]
            out = v_out[s, i]
            for j in range(w):
                q = zi[j] * thr_k[j]
                q = q + com_k[j]
                x3 = q * sg
                p = x3 + dr * t_k[j]
                out[j] = p + lv
    for s in range(b_lead.shape[0]):
        k = b_lead[s]
        q = setup_of[k]
        sb = s_bid[k]
        for i in range(nr):
            g = b0 + r0 + i
            m = r0 + i if member.shape[0] == 0 else member[r0 + i]
            keep = log_keep[k, g]
            for a, b, cf in ((c0, min(c1, j0), crash_from[k, 0]), (max(c0, j1), c1, crash_from[k, 2])):
                if b <= a:
                    continue
                cut = min(max(cf, a), b)  # crashed paths from here: + ln(1 - drop)
                zb, med, out = zp[m, a:cut], log_med[q, a:cut], w_out[s, i, a - c0 : cut - c0]
                for j in range(cut - a):
                    x = zb[j] * sb
                    out[j] = x + med[j]
                zb, med, out = zp[m, cut:b], log_med[q, cut:b], w_out[s, i, cut - c0 : b - c0]
                for j in range(b - cut):
                    x = zb[j] * sb
                    x = x + med[j]
                    out[j] = x + keep


@njit(nogil=True, cache=True)
def tile_sums(  # noqa: PLR0913
    e: np.ndarray,
    zp: np.ndarray,
    buyer: np.ndarray,
    member: np.ndarray,
    b0: int,
    r0: int,
    r1: int,
    c0: int,
    c1: int,
    j0: int,
    j1: int,
    setup_of: np.ndarray,
    v_lead: np.ndarray,
    a_i: np.ndarray,
    b_p: np.ndarray,
    hazard: np.ndarray,
    t: np.ndarray,
    v_buf: np.ndarray,
    b_lead: np.ndarray,
    ns: np.ndarray,
    w_buf: np.ndarray,
    present: np.ndarray,
    v_slot: np.ndarray,
    b_slot: np.ndarray,
    s_bid: np.ndarray,
    log_keep: np.ndarray,
    crash_from: np.ndarray,
    theta: np.ndarray,
    acc: np.ndarray,
    masks: np.ndarray,
) -> None:
    """After the exponentials: the run-off and survival, the sale masks, the products, added to every run's sums.

    ``v_buf`` holds ``exp`` of the value arguments (multiplied here by ``(1 - A B)+ x alive``), ``w_buf`` ``exp`` of
    the bid arguments (multiplied here by ``Zb > no-sale threshold``). Then for each run ``k`` and each of its
    rows in order: ``acc[k, 0] += V`` (all paths), ``acc[k, 1] += V x m01`` (the bid term outside the judicial slice,
    the first round's mask inside it), ``acc[k, 2]``/``acc[k, 3] += V x`` the later rounds' masks, ``acc[k, 4] +=
    V x`` the 变卖 mask (judicial paths). ``buyer`` (``uint8``) is indexed by judicial path ``j - j0``. ``masks``
    (bid classes x (rounds + 1) x rows x paths) takes each bid class's judicial masks, the 变卖's last.
    """
    nr, w = r1 - r0, c1 - c0
    rounds = theta.shape[1]
    for s in range(v_lead.shape[0]):
        k = v_lead[s]
        q = setup_of[k]
        bk, tk = b_p[q, c0:c1], t[q, c0:c1]
        for i in range(nr):
            g = b0 + r0 + i
            a, h = a_i[k, g], hazard[k, g]
            ei = e[r0 + i, c0:c1]
            out = v_buf[s, i]
            for j in range(w):
                la = 1.0 - a * bk[j]
                if la < 0.0:  # np.maximum(la, 0.0): NaN stays NaN
                    la = 0.0
                alive = 1.0 if ei[j] > h * tk[j] else 0.0
                la = la * alive
                out[j] = out[j] * la
    segments = ((c0, min(c1, j0)), (max(c0, j1), c1))  # orderly / distressed paths of the tile
    ja = min(max(c0, j0), c1)  # the tile's judicial paths ja:jb (empty when the tile lies outside j0:j1)
    jb = max(min(c1, j1), ja)
    nj = jb - ja
    for s in range(b_lead.shape[0]):
        k = b_lead[s]
        q = setup_of[k]
        sb = s_bid[k]
        cut = min(max(crash_from[k, 1], ja), jb) - ja  # judicial paths from here are crashed: + ln(1 - drop)
        for i in range(nr):
            g = b0 + r0 + i
            m = r0 + i if member.shape[0] == 0 else member[r0 + i]
            for a, b in segments:
                if b <= a:
                    continue
                zb, nsk, out = zp[m, a:b], ns[q, a:b], w_buf[s, i, a - c0 : b - c0]
                for j in range(b - a):
                    out[j] = out[j] * (1.0 if zb[j] > nsk[j] else 0.0)
            if nj == 0:
                continue
            # judicial lots: the log best bid, each round's mask (1.0 / 0.0), the 变卖 mask after the last round
            keep = log_keep[k, g]
            zb, by, lw = zp[m, ja:jb], buyer[m, ja - j0 : jb - j0], masks[s, rounds, i, :nj]
            for j in range(cut):
                lw[j] = zb[j] * sb
            for j in range(cut, nj):
                x = zb[j] * sb
                lw[j] = x + keep
            for rnd in range(rounds):
                th, mk = theta[q, rnd, ja:jb], masks[s, rnd, i, :nj]
                for j in range(nj):
                    mk[j] = 1.0 if lw[j] >= th[j] else 0.0
            mk = masks[s, rounds - 1, i, :nj]
            for j in range(nj):  # the 变卖 mask over the log bid (no longer needed)
                lw[j] = 1.0 if np.float64(by[j]) > mk[j] else 0.0
    for k in range(present.shape[0]):
        vs, bs = v_slot[k], b_slot[k]
        sum_v = acc[k, 0, c0:c1]
        for i in range(nr):
            g = b0 + r0 + i
            if not present[k, g]:
                continue
            v = v_buf[vs, i]
            for j in range(w):
                sum_v[j] = sum_v[j] + v[j]
            for a, b in segments:  # orderly / distressed lots: the bid term
                if b <= a:
                    continue
                s01, va, wa = acc[k, 1, a:b], v[a - c0 : b - c0], w_buf[bs, i, a - c0 : b - c0]
                for j in range(b - a):
                    s01[j] = s01[j] + va[j] * wa[j]
            if nj == 0:
                continue
            vj = v[ja - c0 : jb - c0]
            for rnd in range(rounds + 1):  # the rounds' sums (s01 on the judicial paths, s2, s3), then s_sale
                sr, mk = acc[k, 4 if rnd == rounds else 1 + rnd, ja:jb], masks[bs, rnd, i, :nj]
                for j in range(nj):
                    sr[j] = sr[j] + vj[j] * mk[j]


@njit(nogil=True, cache=True)
def draw_package(
    g: np.random.Generator, zp: np.ndarray, up: np.ndarray, buyer: np.ndarray, threshold: float
) -> None:
    """A package's draws from its stream ``g``: the best-bid normals ``zp``, then the 变卖 uniforms ``up`` (float32).

    ``buyer[j] = up[j] < threshold`` (compared in float32). The same numbers as numpy's ``standard_normal(out=zp)``
    and ``random(dtype=np.float32, out=up)``: numba draws through the generator's own bit generator with numpy's
    algorithms (the ziggurat, the 24-bit float), about twice as fast as numpy's fill functions.
    """
    for j in range(zp.shape[0]):
        zp[j] = g.standard_normal()
    thr = np.float32(threshold)
    for j in range(up.shape[0]):
        u = g.random(dtype=np.float32)
        up[j] = u
        buyer[j] = u < thr


@njit(nogil=True, cache=True)
def draw_patent(  # noqa: PLR0913 - one call per patent: the generator is unboxed once
    g: np.random.Generator,
    z: np.ndarray,
    e: np.ndarray,
    own: bool,
    zp: np.ndarray,
    up: np.ndarray,
    buyer: np.ndarray,
    threshold: float,
) -> None:
    """A patent's draws from its stream ``g``: the value shocks ``z``, the invalidation times ``e``, its package's.

    The package's draws (:func:`draw_package`) come after ``z`` and ``e`` when ``own`` (the patent is its own
    package). The same numbers as numpy's ``standard_normal(out=z)`` then ``standard_exponential(out=e)``.
    """
    for j in range(z.shape[0]):
        z[j] = g.standard_normal()
    for j in range(e.shape[0]):
        e[j] = g.standard_exponential()
    if own:
        draw_package(g, zp, up, buyer, threshold)


def warm_up() -> None:
    """Compile (or load from numba's cache) the functions for the argument types the engine passes: a tiny tile."""
    g = np.random.Generator(np.random.PCG64(0))
    row, up, buyer = np.zeros(2), np.zeros(1, dtype=np.float32), np.zeros(1, dtype=bool)
    draw_patent(g, row, row, True, row, up, buyer, 0.5)
    f, i = np.zeros((1, 2)), np.zeros(1, dtype=np.int64)
    none = np.empty(0, dtype=np.int64)
    rows, one = np.zeros((1, 1)), np.zeros(1)
    crash = np.zeros((1, 3), dtype=np.int64)
    tile_arguments(
        f, f, none, 0, 0, 1, 0, 2, 1, 2, i, i, f, f, f, rows, rows, rows, np.zeros((1, 1, 2)),
        i, one, f, crash, rows, np.zeros((1, 1, 2)),
    )  # fmt: skip
    tile_sums(
        f, f, np.zeros((1, 1), dtype=np.uint8), none, 0, 0, 1, 0, 2, 1, 2, i, i, rows, f, rows, f,
        np.zeros((1, 1, 2)), i, f, np.zeros((1, 1, 2)), np.ones((1, 1), dtype=bool), i, i, one, rows, crash,
        np.zeros((1, 2, 2)), np.zeros((1, 5, 2)), np.zeros((1, 3, 1, 1)),
    )  # fmt: skip
