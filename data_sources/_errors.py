"""Typed errors raised by the connectors.

Every failure of a source is one of these, so a caller can tell a patent that does not exist from a
quota that ran out or a service that is down; :func:`data_sources.fetch` turns them into failure rows.
"""

from __future__ import annotations

from ipvalue.errors import IpvalueError

__all__ = [
    "DataSourceError",
    "ConfigurationError",
    "AuthError",
    "NotFound",
    "RateLimited",
    "QuotaExceeded",
    "ServiceBlocked",
    "SourceUnavailable",
    "ResponseError",
    "ParseError",
    "InternalError",
]


class DataSourceError(IpvalueError):
    """Base class of every connector error.

    Parameters
    ----------
    message : str
        What went wrong (never contains a credential).
    source : str, optional
        Name of the source (``"epo_ops"``, ``"lens"``, ``"uspto_odp"``...).
    status : int, optional
        HTTP status of the last response, when there was one.
    retry_after : float, optional
        Seconds the service asked to wait before the next request.
    retryable : bool, default False
        Whether the HTTP core may try again (after ``retry_after`` or a backoff).
    """

    code = "SOURCE_ERROR"

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        retryable: bool = False,
    ):
        super().__init__(message)
        self.retryable = retryable
        self.message = message
        self.source = source
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        prefix = f"{self.source}: " if self.source else ""
        status = f" (HTTP {self.status})" if self.status else ""
        return f"{prefix}{self.message}{status}"


class ConfigurationError(DataSourceError):
    """A source cannot be used as configured: missing credentials, unknown source name, bad option."""

    code = "CONFIGURATION"


class AuthError(DataSourceError):
    """The service refused the credentials (bad key, expired and not renewable, blocked developer)."""

    code = "AUTH"


class NotFound(DataSourceError):
    """The service has no record for the number (HTTP 404 or absent from a bulk answer)."""

    code = "NOT_FOUND"


class RateLimited(DataSourceError):
    """The service throttled the client (HTTP 429, an OPS throttling rejection) and retries ran out."""

    code = "RATE_LIMITED"


class QuotaExceeded(RateLimited):
    """An hourly, weekly or monthly quota is spent (OPS ``X-Rejection-Reason``, Lens monthly counters).

    Attributes
    ----------
    reason : str or None
        The service's own reason, e.g. ``"IndividualQuotaPerHour"``.
    """

    code = "QUOTA_EXCEEDED"

    def __init__(self, message: str, *, reason: str | None = None, **kw: object):
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.reason = reason


class ServiceBlocked(RateLimited):
    """An OPS service reported colour ``black`` (blocked) and did not come back within the wait allowed."""

    code = "SERVICE_BLOCKED"


class SourceUnavailable(DataSourceError):
    """The service kept failing: 5xx, timeouts or dropped connections after every retry."""

    code = "UNAVAILABLE"


class ResponseError(DataSourceError):
    """The service answered with an error status that retrying will not fix (400, 405, 415...)."""

    code = "BAD_RESPONSE"


class ParseError(DataSourceError):
    """The body could not be read: truncated, malformed XML or JSON, or missing the expected records."""

    code = "PARSE"


class InternalError(DataSourceError):
    """An unexpected error inside a connector (a bug, or a record shape nobody foresaw) for one number."""

    code = "INTERNAL"
