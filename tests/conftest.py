"""Test-run settings shared by the whole suite."""

import ipaddress
import os
import socket

import pytest
from hypothesis import HealthCheck, settings

# Property tests run on shared CI machines: no per-example deadline (timing is measured in benchmarks/, never
# asserted), and a fixed derivation of examples so that a CI run is reproducible; set HYPOTHESIS_PROFILE=explore
# locally to search new examples.
settings.register_profile("ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# No test sends traffic anywhere but loopback: a connection from the test process to any other address fails
# loudly. (Servers the tests start in subprocesses bind 127.0.0.1 themselves.)
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def check_loopback(sock: socket.socket, address: object) -> None:
    """Raise unless ``address`` is on this machine (loopback, or a non-IP socket family)."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    if sock.type == socket.SOCK_DGRAM:
        return  # connect() on UDP only picks a route (dask's get_ip does this); no packet leaves
    host = address[0] if isinstance(address, tuple) else address
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(str(host).split("%")[0]).is_loopback:
            return
    except ValueError:
        pass
    raise RuntimeError(f"test tried to connect to {address!r}: tests may only talk to loopback")


def _guarded_connect(self, address):
    check_loopback(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    check_loopback(self, address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _loopback_only():
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    yield
    socket.socket.connect = _real_connect
    socket.socket.connect_ex = _real_connect_ex


@pytest.fixture(autouse=True)
def _engine_choice_per_test(monkeypatch):
    # "auto" loads the compiled Monte Carlo engine once a process has spent a while on the numpy one: each test
    # starts with none spent, so that which engine "auto" picks does not depend on the tests run before it
    from ipvalue.collateral import liquidation

    monkeypatch.setattr(liquidation, "_NUMPY_SECONDS", [0.0])
