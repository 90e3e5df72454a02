"""Password hashing with scrypt (memory-hard), from the standard library.

A stored hash reads ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>``, so the cost can be raised later while old hashes
still verify. The default cost (n = 2**14, r = 8, p = 1: 16 MiB of memory per check) is the minimum RFC 7914
section 2 and OWASP's Password Storage Cheat Sheet give for interactive sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["hash_password", "verify_password", "MIN_PASSWORD_LENGTH", "check_password_strength"]

MIN_PASSWORD_LENGTH = 10
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_DKLEN, maxmem=128 * r * (n + p + 2) + 1024
    )


def hash_password(password: str, *, n: int = _N, r: int = _R, p: int = _P) -> str:
    """The storable scrypt hash of ``password`` with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    return f"scrypt${n}${r}${p}${salt.hex()}${_scrypt(password, salt, n, r, p).hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time compare).

    With ``stored`` ``None`` (an unknown user) a dummy hash is still computed, so the time taken does not tell
    whether the user exists.
    """
    if stored is None:
        _scrypt(password, b"\0" * 16, _N, _R, _P)
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


def check_password_strength(password: str) -> str | None:
    """A reason the password is refused, or ``None`` (length only: NIST SP 800-63B section 5.1.1.2)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > 1024:
        return "at most 1024 characters"
    return None
