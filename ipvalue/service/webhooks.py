"""Monitoring alerts pushed to loan systems: webhook subscriptions, signed deliveries, an outbox, retries.

* A loan system registers a URL for its API key (``POST /v1/webhooks``) and receives a secret, once.
* A monitoring run that raises events (level ``warning`` or ``critical``) stores an *alert*; in the same
  transaction the store writes one *delivery* per active subscription of the key that created the assessment
  (the outbox) and the run's audit entry. Nothing is sent inside the request.
* A :class:`WebhookDispatcher` in every service process claims due deliveries (a lease, so two processes do not
  send one delivery at once), POSTs them, and logs each attempt. A 2xx answer delivers; a 3xx, 4xx or 5xx
  answer, a timeout or a refused connection is retried after a backoff (1 s, 2 s, 4 s, ... up to
  ``webhook_max_backoff_s``, with jitter), without end: an alert is never dropped. A process that dies while
  sending leaves the lease to run out and another process sends again: delivery is *at least once*, and a
  receiver sees a duplicate with the same delivery id.

Each request carries ``X-Ipvalue-Delivery`` (the delivery id, the same on every attempt),
``X-Ipvalue-Timestamp`` (Unix seconds of this attempt) and ``X-Ipvalue-Signature: v1=<hex>``, the HMAC-SHA256
with the subscription's secret of ``"<timestamp>." + body``. A receiver checks it with
:func:`verify_signature`, refuses a timestamp older than a few minutes (a replayed request), and drops a
delivery id it has already processed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
from typing import Any

from ipvalue.service.store.protocol import AlertOutbox

__all__ = [
    "DELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookDispatcher",
    "backoff_s",
    "sign_delivery",
    "verify_signature",
    "alert_payload",
]

log = logging.getLogger("ipvalue.service.webhooks")

DELIVERY_HEADER = "X-Ipvalue-Delivery"
TIMESTAMP_HEADER = "X-Ipvalue-Timestamp"
SIGNATURE_HEADER = "X-Ipvalue-Signature"
#: levels of a monitoring report that raise an alert
ALERT_LEVELS = ("warning", "critical")


def sign_delivery(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=`` + hex HMAC-SHA256 of ``"<timestamp>." + body`` with the subscription's secret."""
    mac = hmac.new(secret.encode("utf-8"), str(int(timestamp)).encode("ascii") + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    *,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """Whether a received delivery is genuine and fresh (for receivers, and the tests).

    Parameters
    ----------
    secret : str
        The subscription's secret.
    timestamp, signature : str or None
        The ``X-Ipvalue-Timestamp`` and ``X-Ipvalue-Signature`` headers.
    body : bytes
        The raw request body.
    tolerance_s : float
        Oldest (or most future) timestamp accepted: a captured request replayed later is refused.
    """
    if not timestamp or not signature:
        return False
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign_delivery(secret, ts, body), signature)


def backoff_s(attempts: int, max_s: float, rng: random.Random | None = None) -> float:
    """Wait before the next attempt after ``attempts`` failed ones: 1, 2, 4, ... s up to ``max_s``, jittered."""
    base = min(float(max_s), 2.0 ** max(0, attempts - 1))
    return base * (0.5 + 0.5 * (rng or random).random())


def alert_payload(record_id: str, key_id: str, report: dict[str, Any]) -> dict[str, Any]:
    """What an alert tells the loan system: the assessment, the level, the date checked and the events."""
    return {
        "type": "monitor.alert",
        "assessment_id": record_id,
        "key_id": key_id,
        "level": report.get("level"),
        "as_of": report.get("as_of"),
        "events": report.get("events", []),
    }


def delivery_body(delivery: dict[str, Any]) -> bytes:
    """The bytes POSTed for a delivery: the same on every attempt (only the timestamp header changes)."""
    body = {
        "delivery_id": delivery["id"],
        "alert_id": delivery["alert_id"],
        "created_at": delivery["created_at"],
        "alert": json.loads(delivery["payload_json"]),
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


class WebhookDispatcher:
    """Sends due deliveries from the outbox, in a thread of its own (one per service process).

    Parameters
    ----------
    store : AlertOutbox
    owner : str
        This process's name in leases and the delivery log.
    timeout_s : float
        Per-request timeout (connect and read).
    max_backoff_s : float
        Longest wait between attempts.
    poll_s : float
        How often the outbox is read when nothing woke the dispatcher.
    batch : int
        Deliveries claimed at once.
    """

    def __init__(
        self,
        store: AlertOutbox,
        owner: str,
        *,
        timeout_s: float = 5.0,
        max_backoff_s: float = 300.0,
        poll_s: float = 1.0,
        batch: int = 10,
    ):
        self.store = store
        self.owner = owner
        self.timeout_s = timeout_s
        self.max_backoff_s = max_backoff_s
        self.poll_s = poll_s
        self.batch = batch
        self.lease_s = 2 * timeout_s + 5.0
        self._rng = random.Random()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start sending in the background."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="ipvalue-webhooks", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Look at the outbox now (an alert was just stored)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the request in flight (a delivery left unsent is sent later, by any process)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        import httpx

        with httpx.Client(timeout=self.timeout_s, follow_redirects=False, trust_env=False) as client:
            while not self._stop.is_set():
                try:
                    sent = self.deliver_due(client)
                except Exception:  # noqa: BLE001 - e.g. the database is unreachable: try again later
                    log.warning("webhook outbox not readable", exc_info=True)
                    sent = 0
                if sent == 0:
                    self._wake.wait(self.poll_s)
                    self._wake.clear()

    def deliver_due(self, client: Any) -> int:
        """Claim and send one batch of due deliveries with ``client`` (an ``httpx.Client``); how many tried."""
        due = self.store.claim_deliveries(self.owner, self.lease_s, self.batch)
        for d in due:
            if self._stop.is_set():
                break
            self._send(client, d)
        return len(due)

    def _send(self, client: Any, delivery: dict[str, Any]) -> None:
        import httpx

        body = delivery_body(delivery)
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json",
            DELIVERY_HEADER: delivery["id"],
            TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: sign_delivery(delivery["secret"], ts, body),
            "User-Agent": "ipvalue-webhooks",
        }
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            resp = client.post(delivery["url"], content=body, headers=headers)
            status = resp.status_code
            outcome = "delivered" if 200 <= status < 300 else "http_error"
            if outcome != "delivered":
                error = f"HTTP {status}"
        except httpx.TimeoutException:
            outcome, error = "timeout", f"no answer within {self.timeout_s:g} s"
        except httpx.HTTPError as exc:
            outcome, error = "connection_error", type(exc).__name__
        duration_ms = (time.perf_counter() - started) * 1000
        retry = (
            0.0
            if outcome == "delivered"
            else backoff_s(delivery["attempts"] + 1, self.max_backoff_s, self._rng)
        )
        self.store.record_delivery_attempt(
            delivery["id"],
            self.owner,
            outcome=outcome,
            status_code=status,
            error=error,
            duration_ms=duration_ms,
            retry_in_s=retry,
        )
