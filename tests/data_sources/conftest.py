from __future__ import annotations

from pathlib import Path

import pytest

from data_sources.testing import FakePatentServer, VirtualClock

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
