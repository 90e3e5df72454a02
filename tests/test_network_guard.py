"""The suite-wide guard (tests/conftest.py) refuses any connection that leaves loopback."""

import socket

import pytest


def test_outside_host_is_refused():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(RuntimeError, match="only talk to loopback"):
            s.connect(("192.0.2.1", 80))  # TEST-NET-1 (RFC 5737): documentation-only, never routed
    finally:
        s.close()


def test_loopback_is_allowed():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        c.connect(srv.getsockname())
        conn, _ = srv.accept()
        conn.close()
    finally:
        c.close()
        srv.close()
