"""Settings of the workbench (``IPVALUE_WEB_*`` environment variables)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["WorkbenchSettings"]


class WorkbenchSettings(BaseModel):
    """Limits and security choices of the workbench.

    Parameters
    ----------
    max_upload_bytes : int
        Largest portfolio file accepted.
    max_unpacked_bytes : int
        Largest total size an XLSX may unpack to (a bigger one is refused as a possible zip bomb).
    max_compression_ratio : float
        Largest unpacked / packed ratio of any XLSX member.
    max_failed_logins : int
        Wrong passwords in a row that lock an account.
    lockout_seconds : int
        How long a locked account stays locked.
    failed_login_delay : float
        Seconds the answer to a wrong password waits, times the failures so far (capped at 5 s).
    session_hours : float
        Lifetime of a session.
    secure_cookie : bool or None
        Mark the session cookie ``Secure``: ``None`` (default) does so when the request came over TLS.
    table_page_size : int
        Rows per page of the per-patent table.
    peers_file : Path, optional
        The peer firms' patents (CSV or Parquet, one row per patent with a ``firm`` column: the bank's own book
        or facts read in bulk) that the technology-profile page ranks a borrower against; read once, its peer
        book computed once per valuation date. Without it the page shows raw indicators only.
    """

    model_config = ConfigDict(extra="forbid")

    max_upload_bytes: int = Field(default=5_000_000, gt=0)
    max_unpacked_bytes: int = Field(default=100_000_000, gt=0)
    max_compression_ratio: float = Field(default=200.0, gt=1.0)
    max_failed_logins: int = Field(default=5, ge=1)
    lockout_seconds: int = Field(default=900, ge=1)
    failed_login_delay: float = Field(default=0.5, ge=0.0, le=5.0)
    session_hours: float = Field(default=8.0, gt=0.0)
    secure_cookie: bool | None = None
    table_page_size: int = Field(default=100, ge=10, le=5000)
    peers_file: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> WorkbenchSettings:
        """Settings from ``IPVALUE_WEB_<FIELD>`` (upper case), then ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in cls.model_fields:
            raw = env.get(f"IPVALUE_WEB_{name.upper()}")
            if raw:
                values[name] = raw
        values.update(overrides)
        return cls.model_validate(values)
