"""numpy's own inner loops of a ufunc (``np.exp``, ``np.log``, scipy's ``ndtri``), callable from compiled code.

numpy's ``exp`` and ``log`` have their own SIMD implementations whose last bit can differ from the C library's,
and scipy's special functions their own code: the compiled engines (:mod:`ipvalue.collateral._mc_fused`,
:mod:`ipvalue.valuation._range_fused`) call the very loop the ufunc runs, so every number keeps its bits. The
loop is reached through ``ufunc._resolve_dtypes_and_context`` and ``ufunc._get_strided_loop``, the access numpy
gives to its loops for compiled callers (marked unstable by numpy: each engine's self-check compares the loop
with the ufunc before the engine is used). Only ctypes here: numba is not imported.
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["UfuncLoop", "ufunc_loop"]


@dataclass(frozen=True)
class UfuncLoop:
    """The float64 loop of a one-input ufunc, callable from compiled code.

    ``fn`` calls the loop (a ctypes function: numba calls it without the GIL), ``context`` and ``auxdata`` are
    its arguments; ``capsule`` owns them (they live as long as it does).
    """

    capsule: Any
    fn: Any
    context: int
    auxdata: int


@functools.cache
def ufunc_loop(ufunc: Any) -> UfuncLoop:
    """The float64 -> float64 strided loop of ``ufunc`` (a numpy ufunc), looked up once per process and ufunc.

    Raises
    ------
    RuntimeError
        The loop needs the interpreter (it cannot be called without the GIL), or numpy gave no loop.
    """
    _, capsule = ufunc._resolve_dtypes_and_context((np.dtype(np.float64), np.dtype(np.float64)))
    ufunc._get_strided_loop(capsule, fixed_strides=(8, 8))
    # a prototype of our own (setting argtypes on ctypes.pythonapi's would change them for the whole process)
    pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
        ("PyCapsule_GetPointer", ctypes.pythonapi)
    )
    # ufunc_call_info: the loop, its context, its auxdata, then two flags (the GIL needed, errors not set)
    info = pointer(capsule, b"numpy_1.24_ufunc_call_info")
    loop, context, auxdata = (ctypes.c_void_p * 3).from_address(info)
    if (
        loop is None
        or context is None
        or (ctypes.c_ubyte * 1).from_address(info + 3 * ctypes.sizeof(ctypes.c_void_p))[0]
    ):
        raise RuntimeError(
            f"numpy's {getattr(ufunc, '__name__', ufunc)} loop is not available without the interpreter"
        )
    # int loop(context, char **data, npy_intp *dimensions, npy_intp *strides, auxdata): pointers passed as size_t
    size = ctypes.c_size_t
    fn = ctypes.CFUNCTYPE(ctypes.c_int, size, size, size, size, size)(loop)
    return UfuncLoop(capsule, fn, int(context), int(auxdata or 0))
