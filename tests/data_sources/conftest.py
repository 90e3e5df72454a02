from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import FakePatentServer, FakePatentService, VirtualClock

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def server():
    with FakePatentServer() as srv:
        yield srv


@pytest.fixture
def vclock() -> VirtualClock:
    return VirtualClock(start=1_000.0)


def pytest_collection_modifyitems(config, items):
    """Live tests talk to the real services: they run only when asked for (``-m live``), never by default."""
    if "live" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="live test: run with -m live (and credentials) to reach the real service")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def service() -> FakePatentService:
    """The fake services in process: pass ``transport=service.transport()`` (no socket at all)."""
    return FakePatentService()


@pytest.fixture(params=["in_process", "loopback"])
def any_server(request):
    """The same fake services reached through an ``httpx.MockTransport`` and through real loopback sockets."""
    if request.param == "in_process":
        yield FakePatentService()
    else:
        with FakePatentServer() as srv:
            yield srv
