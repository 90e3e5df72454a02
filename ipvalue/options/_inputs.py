"""Input checking and broadcasting shared by the option kernels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ipvalue.errors import InputError, Problem

__all__ = ["OptionInputError", "as_array", "broadcast_inputs", "check_kind", "finish", "to_seed_and_rng"]


class OptionInputError(InputError):
    """An option input that cannot be priced: negative, not finite, not a number, or an unknown kind.

    Parameters
    ----------
    field : str
        The argument at fault (``"volatility"``, ``"fees_by_year"``...).
    reason : str
        What is wrong with it; for arrays it names the first offending index.
    index : tuple of int, optional
        Position of the first offending entry in the argument as given (None for scalars and whole-argument
        problems).
    """

    def __init__(self, field: str, reason: str, index: tuple[int, ...] | None = None):
        self.field = field
        self.reason = reason
        self.index = index
        super().__init__([Problem(None, field, f"{field}: {reason}")])


def _where(arr: np.ndarray, bad: np.ndarray) -> tuple[str, tuple[int, ...] | None]:
    idx = np.argwhere(bad)[0]
    value = arr[tuple(idx)].item()
    if arr.ndim == 0:
        return f"got {value!r}", None
    count = int(bad.sum())
    more = f" ({count} entries in all)" if count > 1 else ""
    pos = tuple(int(i) for i in idx)
    return f"entry {pos if len(pos) > 1 else pos[0]} is {value!r}{more}", pos


def as_array(
    field: str,
    value: object,
    *,
    minimum: float | None = None,
    strict: bool = False,
    allow_nan: bool = False,
) -> np.ndarray:
    """``value`` as a float array, checked.

    Parameters
    ----------
    field : str
        Name used in the error message.
    value : array_like
        Number or array of numbers (bools and strings are refused).
    minimum : float, optional
        Smallest allowed value.
    strict : bool
        If true the value must be strictly greater than ``minimum``.
    allow_nan : bool
        Let NaN through (used where NaN has a meaning, e.g. "no fee: the patent has expired").
    """
    raw = np.asarray(value)
    if raw.dtype.kind in "bSUVMm" or (raw.dtype.kind == "O" and not _all_numbers(raw)):
        raise OptionInputError(field, f"must be a number or an array of numbers, got {value!r:.80}")
    try:
        arr = np.asarray(raw, dtype=float)
    except (TypeError, ValueError) as exc:
        raise OptionInputError(field, f"must be a number or an array of numbers, got {value!r:.80}") from exc
    bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
    if bad.any():
        text, pos = _where(arr, bad)
        raise OptionInputError(field, f"must be finite; {text}", pos)
    if minimum is not None:
        with np.errstate(invalid="ignore"):
            bad = arr <= minimum if strict else arr < minimum
        if bad.any():
            op = ">" if strict else ">="
            text, pos = _where(arr, bad)
            raise OptionInputError(field, f"must be {op} {minimum:g}; {text}", pos)
    return arr


def _all_numbers(raw: np.ndarray) -> bool:
    return raw.dtype.kind == "O" and all(
        isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)
        for v in raw.ravel()
    )


def broadcast_inputs(named: Sequence[tuple[str, np.ndarray]]) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """Broadcast the checked inputs together and flatten them; return the common shape and the 1-D arrays."""
    try:
        shape = np.broadcast_shapes(*(a.shape for _, a in named))
    except ValueError as exc:
        shapes = ", ".join(f"{name}{a.shape}" for name, a in named)
        raise OptionInputError("shape", f"inputs do not broadcast together: {shapes}") from exc
    return shape, [np.broadcast_to(a, shape).ravel() for _, a in named]


def check_kind(kind: str) -> bool:
    """True for a call, False for a put; anything else is an error."""
    if not isinstance(kind, str) or kind.lower() not in ("call", "put"):
        raise OptionInputError("kind", f"must be 'call' or 'put', got {kind!r}")
    return kind.lower() == "call"


def finish(values: np.ndarray, shape: tuple[int, ...]) -> float | np.ndarray:
    """Reshape the flat result to ``shape``; a 0-d result becomes a Python float."""
    out = values.reshape(shape)
    return float(out) if out.ndim == 0 else out


def to_seed_and_rng(rng: int | np.random.Generator | None) -> tuple[int | None, np.random.Generator]:
    """A generator from ``rng`` and the seed to record (None when a Generator was passed in).

    ``None`` draws fresh entropy and records it, so even an unseeded run can be repeated.
    """
    if isinstance(rng, np.random.Generator):
        return None, rng
    if rng is None:
        entropy = np.random.SeedSequence().entropy
        seed = (
            int(entropy) if isinstance(entropy, int) else int(np.random.SeedSequence().generate_state(1)[0])
        )
        return seed, np.random.default_rng(seed)
    if isinstance(rng, bool) or not isinstance(rng, int | np.integer):
        raise OptionInputError("rng", f"must be an int seed, a numpy Generator or None, got {rng!r}")
    if rng < 0:
        raise OptionInputError("rng", f"seed must be >= 0, got {rng}")
    return int(rng), np.random.default_rng(int(rng))
