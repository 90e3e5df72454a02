"""Alerts to a loopback receiver that fails, times out and restarts: every alert arrives, signed; duplicates
carry the same delivery id; the delivery log shows each attempt. Run on SQLite and on PostgreSQL."""

from __future__ import annotations

import random
import time

import httpx
import pytest
from _pg import free_port
from _receiver import Receiver

from ipvalue.service.store import AuditEntry
from ipvalue.service.webhooks import (
    WebhookDispatcher,
    backoff_s,
    sign_delivery,
    verify_signature,
)


def test_signature_round_trip_and_replay_window():
    body = b'{"a":1}'
    sig = sign_delivery("whsec_x", 1_700_000_000, body)
    assert verify_signature("whsec_x", "1700000000", body, sig, now=1_700_000_100)
    assert not verify_signature("whsec_y", "1700000000", body, sig, now=1_700_000_100)  # another secret
    assert not verify_signature("whsec_x", "1700000000", body + b" ", sig, now=1_700_000_100)  # edited body
    assert not verify_signature("whsec_x", "1700000000", body, sig, now=1_700_001_000)  # replayed too late
    assert not verify_signature("whsec_x", None, body, sig) and not verify_signature(
        "whsec_x", "x", body, sig
    )


def test_backoff_doubles_up_to_its_cap():
    rng = random.Random(0)
    waits = [backoff_s(n, 60, rng) for n in range(1, 10)]
    assert all(2 ** (n - 1) / 2 <= w <= 2 ** (n - 1) for n, w in zip(range(1, 7), waits, strict=False))
    assert max(waits) <= 60 and waits[-1] >= 30


@pytest.mark.slow
def test_every_alert_arrives_signed_through_failures_timeouts_and_a_restart(make_store):
    store = make_store()
    port = free_port()
    hook = store.add_webhook("loan-system", f"http://127.0.0.1:{port}/ipvalue")
    alerts = []
    for i in range(6):
        entry = AuditEntry(action="monitor.run", who="loan-system", record_id=f"asm_{i}")
        alerts.append(store.record_alert("loan-system", f"asm_{i}", {"level": "critical", "n": i}, entry)[0])
    sender = WebhookDispatcher(store, "sender-1", timeout_s=0.4, max_backoff_s=0.3, poll_s=0.05)
    with httpx.Client(timeout=0.4) as client:
        sender.deliver_due(client)  # the receiver is down: connection refused, all six retried later
        receiver = Receiver(port, hook["secret"], fail=3, stall=2, stall_s=1.0).start()
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                sender.deliver_due(client)
                if all(d["status"] == "delivered" for d in store.deliveries("loan-system")):
                    break
                if len(receiver.seen) == 4:  # the receiver restarts (down for a moment, then back)
                    receiver.stop()
                    time.sleep(0.2)
                    receiver.start()
                time.sleep(0.05)
        finally:
            receiver.stop()
    log = store.deliveries("loan-system")
    assert [d["status"] for d in log] == ["delivered"] * 6
    assert all(s["valid"] for s in receiver.seen)
    got = {s["body"]["alert_id"] for s in receiver.seen}
    assert got == set(alerts)  # every alert at least once
    by_delivery: dict[str, set[str]] = {}
    for s in receiver.seen:
        assert s["body"]["delivery_id"] == s["delivery"]
        by_delivery.setdefault(s["delivery"], set()).add(s["body"]["alert_id"])
    assert all(len(v) == 1 for v in by_delivery.values())  # a duplicate is the same delivery, same alert
    assert len(receiver.seen) > len(by_delivery)  # the stalled ones were sent again: duplicates
    outcomes = [a["outcome"] for d in log for a in d["attempts_log"]]
    for kind in ("connection_error", "http_error", "timeout", "delivered"):
        assert kind in outcomes, kind
    assert sum(d["attempts"] for d in log) == len(outcomes)
