"""The liquidation Monte Carlo's per-tile arithmetic, compiled (numba): the same numbers as the numpy engine.

:func:`ipvalue.collateral.liquidation.liquidation_partial_sums_many` works tile by tile (a few patents x a few
thousand paths). The numpy engine makes about thirty passes over a tile per run (each multiply, add, compare and
sum its own array); this engine makes two compiled passes over all runs of a tile at once (a shock axis), and
leaves the two exponentials to numpy's own loop: numpy's ``exp`` has its own SIMD implementation whose last bit
can differ from the C library's, so calling it keeps every figure the same to the last bit. :func:`block_sums`
runs every tile of a thread's share of a block in one call, numpy's loop reached through :func:`exp_loop`.

Each compiled step does the numpy engine's floating operations one by one, in the same order (no fused
multiply-add: numba does not contract without ``fastmath``), and each sum gets the patents one after the other,
as ``np.add.reduce`` over the rows does. Tests run both engines on the same books and compare the bits.

The draws too: :func:`draw_patent` and :func:`draw_package` fill a patent's and a package's arrays from a numpy
``Generator`` in one compiled call, and :func:`draw_patents` and :func:`draw_packages` a block's streams, one
generator restarted at each stream's state (:func:`stream_states`). numba draws through the generator's own bit
generator with numpy's algorithms (the ziggurat for the normal and the exponential, 24 bits for a float32), so the
numbers are numpy's to the last bit (a test compares 400 streams, the rare tail branches included), in less than
half of numpy's time on this project's machine (``benchmarks/bench_fast.py`` measures both).

The functions are compiled on first use and kept in numba's on-disk cache (``cache=True``), so a new process
loads them instead of compiling again.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numba
import numpy as np
from numba import njit

from ipvalue._ufunc_loops import UfuncLoop, ufunc_loop

__all__ = [
    "ExpLoop",
    "block_sums",
    "draw_package",
    "draw_packages",
    "draw_patent",
    "draw_patents",
    "exp_loop",
    "finish_paths",
    "liquidity_bisection",
    "numpy_sum",
    "summary_sums",
    "read_only",
    "self_check",
    "state_views",
    "stream_states",
    "tile_arguments",
    "tile_sums",
    "warm_up",
]


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


#: numpy's float64 exp loop as :func:`exp_loop` gives it (:class:`ipvalue._ufunc_loops.UfuncLoop`)
ExpLoop = UfuncLoop


def exp_loop() -> ExpLoop:
    """The float64 ``exp`` strided loop of numpy, looked up once per process (:func:`ipvalue._ufunc_loops.ufunc_loop`).

    numpy's ``exp`` has its own SIMD implementation whose last bit can differ from the C library's, so the compiled
    engine calls numpy's, not one of its own; :func:`self_check` compares it with ``np.exp``.
    """
    return ufunc_loop(np.exp)


@njit(nogil=True, cache=True)
def _exp(  # noqa: PLR0913
    fn: Any, context: int, auxdata: int, row: np.ndarray, lo: int, hi: int, call: np.ndarray
) -> None:
    """``np.exp(row[lo:hi], out=row[lo:hi])`` through numpy's loop; ``call`` holds its pointers and sizes.

    The range is clamped to the row, as a slice would be (numpy's loop writes wherever it is told).
    """
    lo, hi = max(lo, 0), min(hi, row.shape[0])
    if hi <= lo:
        return
    at = row.ctypes.data + lo * 8
    call[0], call[1], call[2], call[3], call[4] = at, at, hi - lo, 8, 8
    fn(context, call.ctypes.data, call.ctypes.data + 16, call.ctypes.data + 24, auxdata)


@njit(nogil=True, cache=True)
def block_sums(  # noqa: PLR0913 - every tile of one thread's share of a block, in one compiled call
    fn: Any,
    context: int,
    auxdata: int,
    z: np.ndarray,
    e: np.ndarray,
    zp: np.ndarray,
    buyer: np.ndarray,
    member: np.ndarray,
    b0: int,
    nrows: int,
    rows: int,
    c_start: int,
    c_stop: int,
    width: int,
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
    b_lead: np.ndarray,
    s_bid: np.ndarray,
    log_med: np.ndarray,
    crash_from: np.ndarray,
    log_keep: np.ndarray,
    a_i: np.ndarray,
    b_p: np.ndarray,
    hazard: np.ndarray,
    ns: np.ndarray,
    present: np.ndarray,
    v_slot: np.ndarray,
    b_slot: np.ndarray,
    theta: np.ndarray,
    acc: np.ndarray,
    v: np.ndarray,
    w: np.ndarray,
    masks: np.ndarray,
) -> None:
    """Rows ``0:nrows`` of the block that starts at draw row ``b0`` added to every run's sums, paths ``c_start:c_stop``.

    Tile by tile (``width`` paths, ``rows`` rows, the order the sums need): :func:`tile_arguments`, numpy's
    ``exp`` of the value arguments and of the bids outside the judicial paths (:func:`exp_loop`), and
    :func:`tile_sums`, without returning to Python between tiles. ``v``, ``w`` and ``masks`` are the tile buffers
    (``width`` paths wide).
    """
    call = np.empty(5, dtype=np.intp)
    for c0 in range(c_start, c_stop, width):
        c1 = min(c_stop, c0 + width)
        ja = max(j0, c0)
        jb = max(ja, min(j1, c1))
        for r0 in range(0, nrows, rows):
            r1 = min(nrows, r0 + rows)
            tile_arguments(
                z, zp, member, b0, r0, r1, c0, c1, j0, j1, setup_of, v_lead, thr, common, t, sig, drift,
                log_vc, v, b_lead, s_bid, log_med, crash_from, log_keep, w,
            )  # fmt: skip
            for s in range(v.shape[0]):
                for i in range(r1 - r0):
                    _exp(fn, context, auxdata, v[s, i], 0, c1 - c0, call)
            for s in range(w.shape[0]):
                for i in range(r1 - r0):
                    _exp(fn, context, auxdata, w[s, i], 0, min(ja, c1) - c0, call)
                    _exp(fn, context, auxdata, w[s, i], jb - c0, c1 - c0, call)
            tile_sums(
                e, zp, buyer, member, b0, r0, r1, c0, c1, j0, j1, setup_of, v_lead, a_i, b_p, hazard, t, v,
                b_lead, ns, w, present, v_slot, b_slot, s_bid, log_keep, crash_from, theta, acc, masks,
            )  # fmt: skip


@njit(nogil=True, cache=True)
def draw_package(
    g: np.random.Generator, zp: np.ndarray, up: np.ndarray, buyer: np.ndarray, threshold: np.float32
) -> None:
    """A package's draws from its stream ``g``: the best-bid normals ``zp``, then the 变卖 uniforms ``up`` (float32).

    ``buyer[j] = up[j] < threshold`` (compared in float32). The same numbers as numpy's ``standard_normal(out=zp)``
    and ``random(dtype=np.float32, out=up)``: numba draws through the generator's own bit generator with numpy's
    algorithms (the ziggurat, the 24-bit float), in about 60% of the time of numpy's fill functions.
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
    threshold: np.float32,
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


# numpy's SeedSequence (its hash constants) and PCG64's multiplier: the state numpy's PCG64(SeedSequence(entropy))
# starts from, computed here for a block of streams at once (stream_states)
_U = np.uint64
_M32 = _U(0xFFFFFFFF)
_INIT_A, _MULT_A, _INIT_B, _MULT_B = _U(0x43B0D7E5), _U(0x931E8875), _U(0x8B51F9DD), _U(0x58F38DED)
_MIX_L, _MIX_R = _U(0xCA01F9DD), _U(0x4973F715)
_PCG_HI, _PCG_LO = _U(0x2360ED051FC65DA4), _U(0x4385DF649FCCF645)


@njit(nogil=True, cache=True)
def _mulhi(a: np.uint64, b: np.uint64) -> np.uint64:
    """The high 64 bits of the 128-bit product ``a b``."""
    a0, a1, b0, b1 = a & _M32, a >> _U(32), b & _M32, b >> _U(32)
    t = a1 * b0 + ((a0 * b0) >> _U(32))
    w1, w2 = t & _M32, t >> _U(32)
    t = a0 * b1 + w1
    return a1 * b1 + w2 + (t >> _U(32))


@njit(nogil=True, cache=True)
def _hashmix(value: np.uint64, hc: np.uint64) -> tuple[np.uint64, np.uint64]:
    """SeedSequence's ``hashmix`` in 32-bit words: the mixed value and the next hash constant."""
    value = value ^ hc
    hc = (hc * _MULT_A) & _M32
    value = (value * hc) & _M32
    return value ^ (value >> _U(16)), hc


@njit(nogil=True, cache=True)
def _mix(x: np.uint64, y: np.uint64) -> np.uint64:
    """SeedSequence's ``mix`` in 32-bit words."""
    r = ((_MIX_L * x) - (_MIX_R * y)) & _M32
    return r ^ (r >> _U(16))


@njit(nogil=True, cache=True)
def stream_states(entropy: np.ndarray, out: np.ndarray) -> None:
    """The PCG64 state of ``Generator(PCG64(SeedSequence([a, b, c])))`` for each row ``(a, b, c)`` of ``entropy``.

    ``out[r]`` is the 128-bit state and increment as four 64-bit words, low word first (``state_lo, state_hi,
    inc_lo, inc_hi``), as they lie in the bit generator's memory. numpy's own steps: each integer in 32-bit words
    (one word for an integer below 2**32, two above), the words mixed into a pool of four, four 64-bit words
    drawn from the pool, and PCG64 seeded with the first two (the state, high word first) and the last two
    (the stream). ``self_check`` and the tests compare it with numpy's objects.
    """
    words = np.zeros(6, dtype=np.uint64)
    pool = np.zeros(4, dtype=np.uint64)
    for r in range(entropy.shape[0]):
        n = 0
        for c in range(3):
            v = entropy[r, c]
            words[n] = v & _M32
            n += 1
            if v >> _U(32) != _U(0):
                words[n] = v >> _U(32)
                n += 1
        hc = _INIT_A
        for i in range(4):  # the pool filled with the first words (zeros past the last)
            pool[i], hc = _hashmix(words[i] if i < n else _U(0), hc)
        for i in range(4):
            for j in range(4):
                if i != j:
                    y, hc = _hashmix(pool[i], hc)
                    pool[j] = _mix(pool[j], y)
        for i in range(4, n):  # words past the pool's size mixed into every pool word
            for j in range(4):
                y, hc = _hashmix(words[i], hc)
                pool[j] = _mix(pool[j], y)
        hb = _INIT_B
        val = np.zeros(4, dtype=np.uint64)
        # generate_state(4, uint64): eight 32-bit words, two per 64-bit word, the low one first
        for i in range(8):
            x = pool[i % 4] ^ hb
            hb = (hb * _MULT_B) & _M32
            x = (x * hb) & _M32
            x = x ^ (x >> _U(16))
            val[i // 2] |= x << _U(32 * (i % 2))
        # PCG64's seeding: state 0, inc = (initseq << 1) | 1, one step, state += initstate, one step
        inc_hi = (val[2] << _U(1)) | (val[3] >> _U(63))
        inc_lo = (val[3] << _U(1)) | _U(1)
        s_lo = inc_lo + val[1]  # the first step from 0 leaves the increment
        s_hi = inc_hi + val[0] + (_U(1) if s_lo < inc_lo else _U(0))
        hi = _mulhi(s_lo, _PCG_LO) + s_lo * _PCG_HI + s_hi * _PCG_LO
        lo = s_lo * _PCG_LO
        s_lo = lo + inc_lo
        out[r, 0], out[r, 1] = s_lo, hi + inc_hi + (_U(1) if s_lo < lo else _U(0))
        out[r, 2], out[r, 3] = inc_lo, inc_hi


def state_views(g: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Arrays over a PCG64 generator's own memory: its state and increment, and its buffered 32-bit word.

    ``(pcg, half)``: ``pcg`` the four 64-bit words of :func:`stream_states`, ``half`` the ``has_uint32`` flag and
    the buffered word. Writing a stream's state and zeros there makes ``g`` that stream's fresh generator: one
    generator per drawing thread serves every stream, with no Python object per stream. Valid while ``g`` lives.
    """
    bit = g.bit_generator
    if type(bit) is not np.random.PCG64:
        raise TypeError("state_views needs a PCG64 generator")
    address = bit.ctypes.state_address
    state = ctypes.c_void_p.from_address(address).value  # pcg64_state: a pointer to the 128-bit state and inc
    if state is None:
        raise RuntimeError("the PCG64 generator has no state")
    pcg = np.ctypeslib.as_array((ctypes.c_uint64 * 4).from_address(state))
    half = np.ctypeslib.as_array((ctypes.c_uint32 * 2).from_address(address + ctypes.sizeof(ctypes.c_void_p)))
    return pcg, half


@njit(nogil=True, cache=True)
def _start(pcg: np.ndarray, half: np.ndarray, state: np.ndarray) -> None:
    """Make the generator behind ``pcg`` and ``half`` (:func:`state_views`) a fresh one at ``state``."""
    pcg[0], pcg[1], pcg[2], pcg[3] = state[0], state[1], state[2], state[3]
    half[0] = 0
    half[1] = 0


@njit(nogil=True, cache=True)
def draw_patents(  # noqa: PLR0913 - one compiled call per thread and block
    g: np.random.Generator,
    pcg: np.ndarray,
    half: np.ndarray,
    states: np.ndarray,
    r0: int,
    r1: int,
    z: np.ndarray,
    e: np.ndarray,
    own_row: np.ndarray,
    zp: np.ndarray,
    up: np.ndarray,
    buyer: np.ndarray,
    threshold: np.float32,
) -> None:
    """:func:`draw_patent` for rows ``r0:r1``, row ``j`` from the stream whose state is ``states[j]``.

    ``g`` is restarted at each stream's state through ``pcg`` and ``half`` (:func:`state_views`); ``own_row[j]``
    is the package row of a patent that is its own package (its draws follow the patent's), -1 otherwise.
    """
    none_f, none_u, none_b = np.empty(0), np.empty(0, dtype=np.float32), np.empty(0, dtype=np.bool_)
    for j in range(r0, r1):
        _start(pcg, half, states[j])
        m = own_row[j]
        if m >= 0:
            draw_patent(g, z[j], e[j], True, zp[m], up[m], buyer[m], threshold)
        else:
            draw_patent(g, z[j], e[j], False, none_f, none_u, none_b, threshold)


@njit(nogil=True, cache=True)
def draw_packages(  # noqa: PLR0913
    g: np.random.Generator,
    pcg: np.ndarray,
    half: np.ndarray,
    states: np.ndarray,
    rows: np.ndarray,
    zp: np.ndarray,
    up: np.ndarray,
    buyer: np.ndarray,
    threshold: np.float32,
) -> None:
    """:func:`draw_package` into package rows ``rows``, the ``i``-th from the stream whose state is ``states[i]``."""
    for i in range(rows.shape[0]):
        _start(pcg, half, states[i])
        k = rows[i]
        draw_package(g, zp[k], up[k], buyer[k], threshold)


@njit(nogil=True, cache=True, error_model="numpy")
def finish_paths(  # noqa: PLR0913 - the finish's inputs and outputs, compiled passes over the paths
    sum_v: np.ndarray,
    s0: np.ndarray,
    cleared: np.ndarray,
    s_sale: np.ndarray,
    j0: int,
    j1: int,
    reserves: np.ndarray,
    delays: np.ndarray,
    t_sell: np.ndarray,
    df0: np.ndarray,
    df_rounds: np.ndarray,
    keep: np.ndarray,
    legal: np.ndarray,
    var_cost: np.ndarray,
    fee: float,
    ead: float,
    shares: np.ndarray,
    caps: np.ndarray,
    out: np.ndarray,
) -> None:
    """The liquidation's finish per path (``finish_liquidation``'s arithmetic, operation by operation).

    The judicial paths are ``j0:j1``; ``cleared`` holds the value of lots clearing each round's reserve (a row per
    round), ``df_rounds`` a row per round and the 变卖. ``out`` gets a row each: gross proceeds, costs, recovery,
    LGD before and after the risk sharing (``shares``/``caps`` per sharer), time to cash, the loan recovered in
    full. Each operation as numpy does it: ``np.sum(..., axis=0)`` adds the rounds one after the other,
    ``np.clip`` is ``min(max(x, 0), ead)`` with NaN kept, ``np.minimum``/``np.maximum`` keep a NaN.

    Written as passes over the paths without a branch inside (a round, a sharer, a step at a time; each path's
    operations in numpy's order), with numpy's error model (a division by zero gives inf or NaN, as numpy does,
    where numba's default would test every divisor and raise): the compiler then vectorises every pass, about
    half the time of one loop over the paths doing it all. Rows of ``out`` hold the intermediate sums on the way.
    """
    rounds = reserves.shape[0]
    n = sum_v.shape[0]
    gross_o, costs_o, rec_o, loss_o, bank_o, ttc_o, full_o = (
        out[0],
        out[1],
        out[2],
        out[3],
        out[4],
        out[5],
        out[6],
    )
    # judicial paths: each round's proceeds g = reserve x (cleared - the previous round's cleared, 0.0 before the
    # first), then the 变卖's at the last reserve, added round after round (from 0.0) into the gross proceeds,
    # their present value (in rec_o for now) and their time-weighted sum (in ttc_o for now)
    ja, jb = max(j0, 0), min(j1, n)
    m = max(jb - ja, 0)
    gross_j, pv_j, tm_j, ts = (
        gross_o[ja : ja + m],
        rec_o[ja : ja + m],
        ttc_o[ja : ja + m],
        t_sell[ja : ja + m],
    )
    for r in range(rounds + 1):
        res = reserves[min(r, rounds - 1)]
        d = delays[r]
        dfr = df_rounds[r, ja : ja + m]
        if r == rounds:
            cur = s_sale[ja : ja + m]
            for j in range(m):
                g = res * cur[j]
                gross_j[j] = gross_j[j] + g
                pv_j[j] = pv_j[j] + dfr[j] * g
                tm_j[j] = tm_j[j] + (d + ts[j]) * g
        elif r == 0:
            cur = cleared[0, ja : ja + m]
            for j in range(m):
                g = res * (cur[j] - 0.0)
                gross_j[j] = 0.0 + g
                pv_j[j] = 0.0 + dfr[j] * g
                tm_j[j] = 0.0 + (d + ts[j]) * g
        else:
            cur, prev = cleared[r, ja : ja + m], cleared[r - 1, ja : ja + m]
            for j in range(m):
                g = res * (cur[j] - prev[j])
                gross_j[j] = gross_j[j] + g
                pv_j[j] = pv_j[j] + dfr[j] * g
                tm_j[j] = tm_j[j] + (d + ts[j]) * g
    for a, b in ((0, min(j0, n)), (max(j1, 0), n)):  # the orderly and distressed paths: one sale
        for j in range(a, b):
            gross_o[j] = s0[j]
            rec_o[j] = df0[j] * s0[j]
            ttc_o[j] = t_sell[j] * s0[j]
    for j in range(n):
        fees = fee * sum_v[j]
        pv_net = keep[j] * rec_o[j]
        pv_time = keep[j] * ttc_o[j]
        net_total = pv_net - fees
        net_total = net_total - legal[j]
        recovery = 0.0 if net_total <= 0.0 else net_total  # np.clip(net_total, 0, ead): NaN stays NaN
        recovery = ead if recovery >= ead else recovery
        gross = gross_o[j]
        undiscounted_net = gross * keep[j]
        costs = gross * var_cost[j]
        costs = costs + fees
        costs_o[j] = costs + legal[j]
        rec_o[j] = recovery
        loss_o[j] = ead - recovery  # the loss, divided by the exposure below
        bank_o[j] = 0.0  # the sharers' part, added sharer by sharer below
        ttc_o[j] = pv_time / undiscounted_net if undiscounted_net > 0 else np.nan
        x = pv_net - fees
        x = x / (1.0 + legal[j] / ead)
        full_o[j] = 0.0 if x < 0.0 else x  # np.maximum(x, 0.0): NaN stays NaN
    for k in range(shares.shape[0]):
        share, cap = shares[k], caps[k]
        for j in range(n):
            paid = share * loss_o[j]
            bank_o[j] = bank_o[j] + (cap if paid > cap else paid)  # np.minimum(paid, cap): NaN stays NaN
    for j in range(n):
        loss = loss_o[j]
        bank = loss - bank_o[j]
        loss_o[j] = loss / ead
        bank_o[j] = bank / ead


@njit(nogil=True, cache=True)
def _pairwise_block(a: np.ndarray, lo: int, n: int) -> float:
    """The pairwise sum of ``a[lo:lo + n]`` as numpy adds a block of at most 128 numbers.

    numpy's ``pairwise_sum`` (``loops_utils.h``): below 8 numbers one after the other from -0.0; else in eight interleaved sums joined as
    ``((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))``, then the rest one by one.
    """
    if n < 8:
        res = -0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    end = n - n % 8
    while i < end:
        k = lo + i
        r0 += a[k]
        r1 += a[k + 1]
        r2 += a[k + 2]
        r3 += a[k + 3]
        r4 += a[k + 4]
        r5 += a[k + 5]
        r6 += a[k + 6]
        r7 += a[k + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(nogil=True, cache=True)
def _pairwise(a: np.ndarray, lo: int, n: int) -> float:
    """The pairwise sum of ``a[lo:lo + n]`` as numpy adds it.

    Above 128 numbers, the sums of the two halves (the first a multiple of 8 long) added, down to blocks of at most
    128 (:func:`_pairwise_block`). numpy recurses; here the halves are walked with a stack of their own (the
    recursive form crashed when loaded from numba's cache), in the same order, each sum the left half's plus the
    right half's.
    """
    if n <= 128:
        return _pairwise_block(a, lo, n)
    los, ns = np.empty(64, dtype=np.int64), np.empty(64, dtype=np.int64)
    phase, vals = np.zeros(64, dtype=np.int64), np.empty(64)
    los[0], ns[0], phase[0] = lo, n, 0
    sp, vp = 1, 0
    while sp > 0:
        t = sp - 1
        m = ns[t]
        if m <= 128:
            vals[vp] = _pairwise_block(a, los[t], m)
            vp += 1
            sp -= 1
            continue
        n2 = m // 2
        n2 -= n2 % 8
        if phase[t] == 0:  # the left half first
            phase[t] = 1
            los[sp], ns[sp], phase[sp] = los[t], n2, 0
            sp += 1
        elif phase[t] == 1:  # then the right half
            phase[t] = 2
            los[sp], ns[sp], phase[sp] = los[t] + n2, m - n2, 0
            sp += 1
        else:  # both done: left + right
            vals[vp - 2] = vals[vp - 2] + vals[vp - 1]
            vp -= 1
            sp -= 1
    return vals[0]


@njit(nogil=True, cache=True)
def numpy_sum(a: np.ndarray) -> float:
    """``float(a.sum())`` of a contiguous float64 array as numpy adds it: its identity 0.0 plus the pairwise sum."""
    return 0.0 + _pairwise(a, 0, a.shape[0])


@njit(nogil=True, cache=True)
def summary_sums(lgd: np.ndarray, gross: np.ndarray, ttc: np.ndarray, buf: np.ndarray) -> tuple:
    """The sums of a liquidation's summary (``MonteCarloResult.summary``) as numpy computes them.

    Returns ``(sum of lgd, sum of squared deviations from its mean, sum of gross lgd, paths with lgd <= 1e-12,
    sum of the finite times to cash, their count)``: each sum numpy's pairwise sum (:func:`numpy_sum`); the
    squared deviations from ``sum / n`` as ``ndarray.std`` takes them, the finite times to cash in path order as
    ``ttc[np.isfinite(ttc)]`` keeps them. ``buf`` (as long as ``lgd``) holds the deviations, then the times.
    """
    n = lgd.shape[0]
    total = numpy_sum(lgd)
    mean = total / n
    full = 0
    for j in range(n):
        d = lgd[j] - mean
        buf[j] = d * d
        if lgd[j] <= 1e-12:
            full += 1
    squares = numpy_sum(buf[:n])
    m = 0
    for j in range(ttc.shape[0]):
        x = ttc[j]
        if np.isfinite(x):
            buf[m] = x
            m += 1
    return total, squares, numpy_sum(gross), full, numpy_sum(buf[:m]), m


def read_only(a: np.ndarray) -> np.ndarray:
    """``a`` as a read-only contiguous float64 array (a view when it is one already).

    numba compiles a function once per argument type, and a read-only array is another type than a writeable
    one: the inputs a caller may hold either way (a pandas column is read-only, a computed array is not) are
    passed read-only, so that one compiled version (the one :func:`warm_up` loads) serves every call.
    """
    out = np.ascontiguousarray(a, dtype=np.float64).view()
    out.flags.writeable = False
    return out


@njit(nogil=True, cache=True)
def liquidity_bisection(
    retain: np.ndarray,
    cap: np.ndarray,
    value: np.ndarray,
    out: np.ndarray,
    ltc: float,
    supported: float,
    buf: np.ndarray,
) -> float:
    """The liquidity haircut's bisection (``kernel.liquidity_haircut``): each maximum loan as numpy computes it.

    ``ltc x sum(value x min(retain x (1 - h), cap))`` over the patents not ``out``; ``h = 0`` when it is within
    ``supported``, else 60 halvings of ``[0, 1]`` keeping the maximum loan within it, and the upper end.
    """

    def max_loan(h: float) -> float:
        keep = 1.0 - h
        for i in range(buf.shape[0]):
            x = retain[i] * keep
            c = cap[i]
            x = x if (x <= c or np.isnan(x)) else c  # np.minimum: a NaN on either side is kept
            buf[i] = 0.0 if out[i] else value[i] * x
        return ltc * numpy_sum(buf)

    if not max_loan(0.0) > supported:
        return 0.0
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if max_loan(mid) <= supported:
            hi = mid
        else:
            lo = mid
    return hi


def self_check() -> str | None:
    """Whether this numba and this numpy agree where the engine relies on it: None if so, else what differs.

    The draws are numpy's only as long as numba's port of numpy's algorithms is numpy's, the streams numpy's as
    long as numpy seeds PCG64 and keeps its state as :func:`stream_states` and :func:`state_views` take it, and
    the sums numpy's as long as numpy adds pairwise as :func:`numpy_sum` does, and the exponentials numpy's as long
    as :func:`exp_loop` finds numpy's loop; all are library internals that a new release could change. Checked on a fixed sample (40,000 draws with a few from the tails, sums of 1 to 300 and 20,000
    numbers, the streams' seeding and a generator restarted at it, numpy's exp loop called from compiled code),
    once per process by the engine's loader.
    """
    mine, ref = np.random.Generator(np.random.PCG64(20261205)), np.random.Generator(np.random.PCG64(20261205))
    versions = f"numba {numba.__version__}, numpy {np.__version__}"
    n = 20_000
    z, e, zp = np.empty(n), np.empty(n), np.empty(n)
    up, buyer = np.empty(5_000, dtype=np.float32), np.empty(5_000, dtype=bool)
    draw_patent(mine, z, e, True, zp, up, buyer, np.float32(0.5))  # the types the engine passes
    ref_z, ref_e, ref_zp = ref.standard_normal(n), ref.standard_exponential(n), ref.standard_normal(n)
    ref_up = ref.random(5_000, dtype=np.float32)
    for name, got, want in (("normal", z, ref_z), ("exponential", e, ref_e), ("normal", zp, ref_zp)):
        if got.tobytes() != want.tobytes():
            return f"numba's {name} draws differ from numpy's ({versions})"
    if up.tobytes() != ref_up.tobytes() or buyer.tobytes() != (ref_up < np.float32(0.5)).tobytes():
        return f"numba's float32 uniforms differ from numpy's ({versions})"
    # the streams' states (numpy's seeding, done here) and a generator restarted at them through its memory
    entropy = np.array([[0, 1, 2], [20261205, 2**32 - 1, 2**32], [2**64 - 1, 5, 2**63 + 11]], dtype=np.uint64)
    states = np.empty((3, 4), dtype=np.uint64)
    stream_states(entropy, states)
    g = np.random.Generator(np.random.PCG64(0))
    g.random(dtype=np.float32)  # half a word buffered: a restart must forget it
    pcg, half = state_views(g)
    m = 1_001
    zs, es, zps = np.empty((3, m)), np.empty((3, m)), np.empty((3, m))
    ups, buyers = np.empty((3, 3), dtype=np.float32), np.empty((3, 3), dtype=bool)
    draw_patents(
        g, pcg, half, states, 0, 3, zs, es, np.arange(3, dtype=np.int64), zps, ups, buyers, np.float32(0.5)
    )
    for r, words in enumerate(entropy.tolist()):
        ref = np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))
        drawn: list[np.ndarray] = [
            ref.standard_normal(m),
            ref.standard_exponential(m),
            ref.standard_normal(m),
        ]
        drawn.append(ref.random(3, dtype=np.float32))
        if any(
            a.tobytes() != b.tobytes() for a, b in zip((zs[r], es[r], zps[r], ups[r]), drawn, strict=True)
        ):
            return f"a generator restarted at numpy's seeding of a stream draws other numbers ({versions})"
    # numpy's exp loop called from compiled code: np.exp's bits (an API numpy marks unstable)
    try:
        exp = exp_loop()
    except Exception as exc:  # noqa: BLE001 - any failure here means: not this engine
        return f"numpy's exp loop is not available to compiled code: {exc} ({versions})"
    x = np.concatenate([ref_z * 30.0, ref_e * -100.0, [-745.2, -708.4, 0.0, -0.0, 1e-300]])
    got_exp, call = x.copy(), np.empty(5, dtype=np.intp)
    _exp(exp.fn, exp.context, exp.auxdata, got_exp, 3, len(x), call)
    with np.errstate(under="ignore"):
        want_exp = np.concatenate([x[:3], np.exp(x[3:])])
    if got_exp.tobytes() != want_exp.tobytes():
        return f"numpy's exp loop called from compiled code differs from np.exp ({versions})"
    x = np.random.Generator(np.random.PCG64(7)).standard_normal(n) * 1e3
    for m in (*range(1, 300, 7), n):
        if np.float64(numpy_sum(x[:m])).tobytes() != np.float64(x[:m].sum()).tobytes():
            return f"numpy adds {m} numbers in another order than numpy_sum ({versions})"
    return None


def warm_up() -> None:
    """Compile (or load from numba's cache) the functions the engine calls, for the argument types it passes.

    The entry points only (a tiny block): the functions they call (:func:`draw_patent`, :func:`tile_arguments`,
    :func:`tile_sums`...) are compiled into them.
    """
    g = np.random.Generator(np.random.PCG64(0))
    row = np.zeros(2)
    states, own = np.zeros((1, 4), dtype=np.uint64), np.zeros(1, dtype=np.int64)
    stream_states(np.zeros((1, 3), dtype=np.uint64), states)
    pcg, half = state_views(g)
    f2, u2, b2 = np.zeros((1, 2)), np.zeros((1, 1), dtype=np.float32), np.zeros((1, 1), dtype=bool)
    draw_patents(g, pcg, half, states, 0, 1, f2, f2, own, f2, u2, b2, np.float32(0.5))
    draw_packages(g, pcg, half, states, own, f2, u2, b2, np.float32(0.5))
    one = np.zeros(1)
    flags = np.zeros(2, dtype=bool)
    liquidity_bisection(read_only(row), read_only(row), read_only(row), flags, 1.0, 0.0, np.zeros(2))
    summary_sums(row, row, row, np.zeros(2))
    finish_paths(
        row, row, np.zeros((1, 2)), row, 0, 1, one, row, row, row, np.zeros((2, 2)), row, row, row, 0.0, 1.0,
        one, one, np.zeros((7, 2)),
    )  # fmt: skip
    f, i = np.zeros((1, 2)), np.zeros(1, dtype=np.int64)
    none = np.empty(0, dtype=np.int64)
    rows, one = np.zeros((1, 1)), np.zeros(1)
    crash = np.zeros((1, 3), dtype=np.int64)
    exp = exp_loop()
    block_sums(
        exp.fn, exp.context, exp.auxdata, f, f, f, np.zeros((1, 1), dtype=np.uint8), none, 0, 1, 1, 0, 2, 2, 1, 2,
        i, i, f, f, f, rows, rows, rows, i, one, f, crash, rows, rows, f, rows, f, np.ones((1, 1), dtype=bool), i, i,
        np.zeros((1, 2, 2)), np.zeros((1, 5, 2)), np.zeros((1, 1, 2)), np.zeros((1, 1, 2)), np.zeros((1, 3, 1, 2)),
    )  # fmt: skip
