"""EP Register status texts (INPADOC ``STAA``) mapped to legal status and pending oppositions.

Synthetic answers are copies of the recorded OPS answer ``legal_EP.2400812.A1.xml`` (same namespaces and
element names) with ``STAA`` events edited, added or removed. Status wordings are those of
``data_sources._inpadoc.EP_STATUS_TEXTS`` and its sources (EP Register ``ep-patent-status`` texts).
"""

from __future__ import annotations

import copy
import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_sources._inpadoc import (
    EP_STATUS_TEXTS,
    STATUS_TEXT_SOURCES,
    normalize_status_text,
    status_text_facts,
)
from data_sources.epo_ops import legal_facts, parse_family, parse_legal
from tests.fakes import FIXTURES

OPS = "{http://ops.epo.org}"
FIXTURE = FIXTURES / "epo_ops" / "legal_EP.2400812.A1.xml"
NUMBER = "EP2400812A1"
NEW = ("invalidation_pending", "ep_register_status", "ep_register_status_date")


def edited(
    add: list[tuple[str, str]] = (),  # type: ignore[assignment]
    *,
    drop_staa: bool = False,
    drop_after: str | None = None,
) -> bytes:
    """The recorded answer with STAA events ``(gazette date, L510EP text)`` added at the top of the member
    (so document order says nothing about dates), optionally without its own STAA events or without every
    event published after ``drop_after``."""
    root = ET.fromstring(FIXTURE.read_bytes())
    member = root.find(f".//{OPS}family-member")
    assert member is not None
    events = member.findall(f"{OPS}legal")
    template = next(ev for ev in events if ev.get("code") == "STAA")
    for ev in events:
        gazette = ev.findtext(f"{OPS}L007EP") or ""
        if (drop_staa and ev.get("code") == "STAA") or (drop_after and gazette > drop_after):
            member.remove(ev)
    first = next(i for i, el in enumerate(member) if el.tag == f"{OPS}legal")
    for date, text in add:
        ev = copy.deepcopy(template)
        ev.find(f"{OPS}L007EP").text = date  # type: ignore[union-attr]
        ev.find(f".//{OPS}L510EP").text = text  # type: ignore[union-attr]
        ev.find(f"{OPS}pre").text = (  # type: ignore[union-attr]
            f"EP    10167109A  {date}STAA {template.get('desc')} Free Format Text {text}"
        )
        member.insert(first, ev)
    return ET.tostring(root)


def facts(xml: bytes, **kw) -> dict:
    return legal_facts(parse_family(xml), NUMBER, **kw)


def test_recorded_answer_still_granted_with_no_opposition():
    f = facts(FIXTURE.read_bytes())
    # the four STAA texts of the recording, the latest (2020-10-02) decides
    texts = [e.text for e in parse_legal(FIXTURE.read_bytes()) if e.code == "STAA"]
    assert texts == [
        "STATUS: NO OPPOSITION FILED WITHIN TIME LIMIT",
        "STATUS: THE PATENT HAS BEEN GRANTED",
        "STATUS: GRANT OF PATENT IS INTENDED",
        "STATUS: EXAMINATION IS IN PROGRESS",
    ]
    assert f["legal_status"] == "granted"
    assert f["invalidation_pending"] is False
    assert f["ep_register_status"] == "STATUS: NO OPPOSITION FILED WITHIN TIME LIMIT"
    assert f["ep_register_status_date"] == dt.date(2020, 10, 2)
    # every fact the codes gave is the same as without the status-text rule
    without = facts(FIXTURE.read_bytes(), status_texts=())
    assert {k: v for k, v in f.items() if k not in NEW} == {k: v for k, v in without.items() if k not in NEW}
    assert without["invalidation_pending"] is None and without["ep_register_status"] is None
    # the grant date is the B1's publication: the recording's first event on the B1 document ("2019-11-27AK
    # +DESIGNATED CONTRACTING STATES Kind Code of Ref Document B1"), not the "(EXPECTED) GRANT" record of
    # 2019-10-25 (issue 16)
    assert f["grant_date"] == dt.date(2019, 11, 27) and f["in_force_states"] == "DE;FI;GB;SE"
    assert "STAA" in f["legal_event_codes"].split(";")


@pytest.mark.parametrize(
    ("text", "status", "pending"),
    [
        ("STATUS: THE PATENT HAS BEEN REVOKED", "revoked", None),  # wording of the brief
        ("STATUS: PATENT REVOKED", "revoked", None),  # Register status code 4
        ("status: patent revoked by proprietor", "revoked", None),  # code 1, lower case
        ("STATUS: OPPOSITION FILED", "granted", True),
        ("STATUS: OPPOSITION PROCEDURE RUNNING", "granted", True),
        ("STATUS: NO OPPOSITION FILED WITHIN TIME LIMIT", "granted", False),
        ("STATUS: PATENT MAINTAINED AS AMENDED", "granted", False),
        ("STATUS: OPPOSITION REJECTED", "granted", False),
        ("STATUS: OPPOSITION PROCEDURE CLOSED", "granted", False),
        ("STATUS:   REQUEST FOR LIMITATION  ", "granted", True),
    ],
)
def test_post_grant_texts(text, status, pending):
    f = facts(edited([("2023-05-05", text)]))
    assert f["legal_status"] == status
    assert f["invalidation_pending"] is pending
    assert f["ep_register_status_date"] == dt.date(2023, 5, 5)
    if status == "revoked":
        assert f["lapse_date"] == dt.date(2023, 5, 5)  # the date the status was recorded


@pytest.mark.parametrize(
    "text",
    [
        "STATUS: THE APPLICATION HAS BEEN WITHDRAWN",
        "STATUS: THE APPLICATION IS DEEMED TO BE WITHDRAWN",
        "STATUS: THE APPLICATION HAS BEEN REFUSED",  # refused is treated as withdrawn
    ],
)
def test_application_ends_before_grant(text):
    # the recorded history up to examination (2017), then the application ends
    xml = edited([("2018-09-14", text)], drop_after="2018-01-01")
    f = facts(xml)
    assert f["grant_date"] is None
    assert f["legal_status"] == "withdrawn" and f["lapse_date"] == dt.date(2018, 9, 14)
    assert f["invalidation_pending"] is None
    # the same history without the status text is still pending
    assert facts(xml, status_texts=())["legal_status"] == "pending"


def test_latest_status_text_wins_whatever_the_document_order():
    opposed, maintained = "STATUS: OPPOSITION FILED", "STATUS: PATENT MAINTAINED AS AMENDED"
    f = facts(edited([("2022-06-01", maintained), ("2020-03-01", opposed)]))
    assert f["legal_status"] == "granted" and f["invalidation_pending"] is False
    f = facts(edited([("2020-03-01", maintained), ("2022-06-01", opposed)]))
    assert f["invalidation_pending"] is True and f["ep_register_status"] == opposed
    # revoked, then the revocation set aside and the patent maintained: granted again
    f = facts(edited([("2021-01-01", "STATUS: PATENT REVOKED"), ("2024-01-01", maintained)]))
    assert f["legal_status"] == "granted" and f["lapse_date"] is None


def test_revived_application_is_pending_again():
    xml = edited(
        [
            ("2018-09-14", "STATUS: THE APPLICATION IS DEEMED TO BE WITHDRAWN"),
            ("2018-12-07", "EXAMINATION IS IN PROGRESS"),
        ],
        drop_after="2018-01-01",
    )
    f = facts(xml)
    assert f["legal_status"] == "pending" and f["lapse_date"] is None


def test_pending_text_does_not_undo_a_grant():
    # a stale application-stage text dated after the grant does not make a granted patent pending
    f = facts(edited([("2024-02-02", "STATUS: GRANT OF PATENT IS INTENDED")]))
    assert f["legal_status"] == "granted" and f["grant_date"] == dt.date(2019, 11, 27)  # B1 publication


@pytest.mark.parametrize(
    "text", ["STATUS: A STATUS THE TABLE DOES NOT KNOW", "STATUS: UNKNOWN", "", "NO OPPOSITION"]
)
def test_unknown_text_changes_nothing(text):
    before = facts(FIXTURE.read_bytes())
    after = facts(edited([("2026-01-01", text)]))
    assert after == before  # STAA stays in legal_event_codes either way


def test_opposition_text_means_a_granted_patent():
    # an opposition can only be filed against a granted patent: the text makes the EP-level status granted
    xml = edited([("2018-09-14", "STATUS: OPPOSITION FILED")], drop_after="2018-01-01", drop_staa=True)
    f = facts(xml)
    assert f["legal_status"] == "granted" and f["invalidation_pending"] is True


def test_status_table_is_sourced_and_consistent():
    allowed = {"pending", "granted", "revoked", "withdrawn", None}
    for row in EP_STATUS_TEXTS:
        assert row.status in allowed and row.opposition in (True, False, None)
        assert row.sources and set(row.sources) <= set(STATUS_TEXT_SOURCES), row.pattern
        assert row.verified == ("brief" not in row.sources), row.pattern
    # the EP Register ep-patent-status texts, codes 0-17 (source "register_codes"): each one is known
    register = [
        "Unknown",
        "Patent revoked by proprietor",
        "The patent has been limited",
        "Patent maintained as amended",
        "Patent revoked",
        "Opposition rejected",
        "Opposition procedure closed",
        "No opposition filed within time limit",
        "The patent has been granted",
        "The application has been withdrawn",
        "The application is deemed to be withdrawn",
        "The application has been refused",
        "Grant of patent is intended",
        "Proceedings closed following consolidation with another application",
        "Examination is in progress",
        "Request for examination was made",
        "The application has been published",
        "The international publication has been made",
    ]
    for text in register:
        row = status_text_facts(f"STATUS: {text.upper()}")
        assert row is not None and "register_codes" in row.sources, text
        assert row.verified
    assert (
        normalize_status_text("  Status:  the patent   has been granted. ") == "THE PATENT HAS BEEN GRANTED"
    )
    assert status_text_facts("STATUS: NO OPPOSITION FILED WITHIN TIME LIMIT").opposition is False
    assert status_text_facts("STATUS: OPPOSITION PROCEDURE CLOSED").opposition is False  # not "running"


POST_GRANT = [
    "STATUS: OPPOSITION FILED",
    "STATUS: NO OPPOSITION FILED WITHIN TIME LIMIT",
    "STATUS: PATENT MAINTAINED AS AMENDED",
    "STATUS: OPPOSITION REJECTED",
    "STATUS: THE PATENT HAS BEEN GRANTED",
    "STATUS: PATENT REVOKED",
    "STATUS: A TEXT NOBODY KNOWS",
]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(POST_GRANT), st.dates(dt.date(2020, 11, 1), dt.date(2030, 12, 31))),
        max_size=5,
        unique_by=lambda e: e[1],
    )
)
def test_latest_known_text_decides(history):
    """Property: after the recorded history, the latest known text added decides status and opposition."""
    f = facts(edited([(d.isoformat(), t) for t, d in history]))
    known = [
        (d, status_text_facts(t)) for t, d in sorted(history, key=lambda e: e[1]) if status_text_facts(t)
    ]
    row = known[-1][1] if known else status_text_facts("STATUS: NO OPPOSITION FILED WITHIN TIME LIMIT")
    assert f["invalidation_pending"] is row.opposition
    assert f["legal_status"] == row.status  # recorded history: granted, in force in four states
