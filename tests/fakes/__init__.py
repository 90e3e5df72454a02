"""Fakes of the patent services for the tests: recorded answers served in process or on loopback."""

from tests.fakes.records import (
    FIXTURES,
    VirtualClock,
    biblio_document,
    legal_document,
    lens_record,
    odp_record,
)
from tests.fakes.server import FakePatentServer
from tests.fakes.service import FakePatentService, Fault, Reply

__all__ = [
    "FIXTURES",
    "FakePatentServer",
    "FakePatentService",
    "Fault",
    "Reply",
    "VirtualClock",
    "biblio_document",
    "legal_document",
    "lens_record",
    "odp_record",
]
