"""INPADOC legal-event codes that decide status, fees, grant and transfers.

A versioned code table (no network at import). Each code is grouped by what it means for a pledge:
``grant``, ``lapse`` (the right ended early: unpaid fees or a surrender), ``state_lapse`` (a European patent
lapsed in one validation state) and ``state_reinstated`` (reinstated there), ``expiry`` (end of term),
``withdrawn`` (application withdrawn, refused or discontinued), ``restoration`` (a lost right restored),
``fee_paid`` (a renewal or maintenance fee), ``transfer`` (change of owner), ``pledge`` / ``pledge_change`` /
``pledge_release``, ``preservation`` / ``preservation_release``, ``licence`` / ``licence_change`` /
``licence_release``, ``invalidated`` (whole right) and ``invalidation`` (a proceeding pending).

Sources: codes seen in real OPS responses recorded in ``tests/fixtures/epo_ops`` (PG25, PGFP, GRAA,
RAP1, AS, MAFP, FEPP, STCF, FZDE) and the project notes ``patent_data_sources.md`` section 2 (CN codes
PB01/C06, SE01, GR01/C14, CF01, CX01, EXPY, TR01/C41; GB PCNP). Codes marked ``unverified`` below come
from memory of the EPO INPADOC code lists and were not checked against them; they can be overridden by
passing another table to :func:`data_sources.epo_ops.legal_facts`.

Verification pass of 2026-11-27 (public sources searched that day):

* confirmed: ``PG25`` "Lapsed in a contracting state", ``PGFP`` "Annual fee paid to national office" and
  ``PGRI`` "Patent reinstated in a contracting state" (epo.org Patent Knowledge News "INPADOC unlocked"); the
  descriptions of ``PG25``, ``PGFP``, ``GRAA``, ``RAP1``, ``26N`` and ``STAA`` also appear verbatim in the
  recorded OPS fixture ``legal_EP.2400812.A1.xml``.
* CN gazette codes, secondary source [S] (pass of 2026-12-04): the code table ``constant`` of a public
  CNIPA-gazette parsing schema (SQL by 闫瑞松 in the public code index; its repository was not named there),
  whose Chinese headings match the sections of the CNIPA 专利公报: ``AV01`` 专利权的主动放弃, ``CF01`` 未缴年费
  专利权终止, ``CX01`` 专利权有效期届满, ``TR01`` 专利权的转移, ``RR01`` 权利的恢复, ``IW01`` 专利权全部无效,
  ``IP01`` 无效公告 (partial invalidation), ``PE01`` / ``PM01`` / ``PC01`` 专利权质押合同登记的生效 / 变更 / 注销,
  ``PP01`` / ``PD01`` 专利权的保全 / 保全的解除, ``EE01`` / ``EM01`` / ``EC01`` 专利实施许可合同备案的生效 / 变更 /
  注销, ``CP01``-``CP03`` and ``CB03`` changes of name, address or other bibliographic data (not transfers,
  not mapped), ``GR01`` (a grant; the schema's design-gazette heading is 外观设计专利权授予). Not found: the
  official CNIPA code standard; ``RJ01`` (rejection) and ``WD01`` (withdrawal), so neither is mapped.
* not confirmed (no copy of the INPADOC legal event table or of a response carrying them was found): US ``FP``
  and ``LAPS``, EP ``18D`` / ``18W`` / ``18R``, and the codes taken from the project notes (``EXPY``, ``C14``,
  ``C41``, GB ``PCNP``). ``EXP.`` is a USPTO maintenance-fee event code (expired for non-payment, bulk product
  PTMNFEE2), not an INPADOC code; it is not mapped here.
* revocation: no INPADOC code for "patent revoked" could be confirmed (a ``27W`` seen in third-party code is
  not backed by a source), so no code maps to it. The EPO reports the status of an EP application or patent as
  ``STAA`` with free text ``STATUS: ...`` in ``L510EP`` (e.g. "STATUS: THE PATENT HAS BEEN GRANTED" in the
  fixture); ``STAA`` itself must NOT be mapped to a group, because its meaning is in the text. ``revoked``,
  withdrawals and pending oppositions now come from that text (:data:`EP_STATUS_TEXTS`, below).

EP Register status texts (``STAA``)
-----------------------------------
``STAA`` ("INFORMATION ON THE STATUS OF AN EP PATENT APPLICATION OR GRANTED EP PATENT") carries the EP
Register status of the application or patent as free text ``STATUS: <text>`` in ``L510EP``. The texts are the
EP Register's ``ep-patent-status`` values, upper-cased. :data:`EP_STATUS_TEXTS` maps the stable part of each
text (matched at the start, case-insensitively, after the ``STATUS:`` prefix) to facts: a ``status`` (pending,
granted, revoked, withdrawn, or None) and ``opposition`` (True: an opposition or a limitation / revocation
request is pending at the EPO, False: none is, None: the text does not say). Sources (key in
:data:`STATUS_TEXT_SOURCES`) are named per row; rows whose wording was not seen in any public source are marked
``verified=False``. There is no status text for a lapse or the end of term: the Register status stays at
"NO OPPOSITION FILED WITHIN TIME LIMIT" after every national part lapsed or expired (recorded OPS answer for
EP1000000A1, source ``patent_client``), so lapse and expiry keep coming from ``PG25`` and the national codes.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "add_years",
    "us_maintenance_year",
    "us_fees_paid_through",
    "US_MAINTENANCE_NEXT_DUE_YEARS",
    "CONVEYANCES",
    "conveyance_of",
    "CODE_TABLE_VERSION",
    "EVENT_GROUPS",
    "group_of",
    "STATUS_TEXT_TABLE_VERSION",
    "STATUS_TEXT_SOURCES",
    "EP_STATUS_TEXTS",
    "StatusText",
    "normalize_status_text",
    "status_text_facts",
]

CODE_TABLE_VERSION = "2026-12-04b"

EVENT_GROUPS: dict[str, str] = {
    # grant
    # grant: the status only ("GRAA" is the EP "(expected) grant" record: its date is not the grant date)
    "GRAA": "grant",  # EP (expected) grant, fixture
    # grant announced in the office's gazette: the event date is the publication date of the grant
    "GR01": "grant_published",  # CN patent right granted (专利权授予), CNIPA-gazette schema [S], see below
    "C14": "grant_published",  # CN grant (old code), notes section 2 (not confirmed 2026-11-27)
    "STCF": "grant",  # US information on status: patent grant, fixture
    # lapse of the whole right
    "CF01": "lapse",  # CN 未缴年费专利权终止 (termination for an unpaid annual fee), CNIPA-gazette schema [S]
    # CN 专利权的主动放弃 (the patentee surrendered the right, Patent Law Art. 44(1)(2)), CNIPA-gazette schema [S]
    "AV01": "lapse",
    "PCNP": "lapse",  # GB patent ceased through non-payment of renewal fee, notes section 2 (not confirmed 2026-11-27)
    "FP": "lapse",  # US lapsed for failure to pay maintenance fees (unverified, not found 2026-11-27)
    "LAPS": "lapse",  # US lapse for failure to pay maintenance fees (unverified, not found 2026-11-27)
    # lapse in one state of a European patent
    "PG25": "state_lapse",  # fixture; epo.org "INPADOC unlocked" (lapsed in a contracting state)
    # a European patent reinstated in one state after it lapsed there: epo.org "INPADOC unlocked" ("Patent
    # reinstated in a contracting state"); the state counts as in force again from the event's date
    "PGRI": "state_reinstated",
    # end of term
    "CX01": "expiry",  # CN 专利权有效期届满 (end of term), CNIPA-gazette schema [S]
    "EXPY": "expiry",  # expiry, notes section 2 (not confirmed 2026-11-27)
    # withdrawn / refused / discontinued
    "FZDE": "withdrawn",  # CA discontinued, fixture
    "18D": "withdrawn",  # EP application deemed withdrawn (unverified, not found 2026-11-27)
    "18W": "withdrawn",  # EP application withdrawn (unverified, not found 2026-11-27)
    "18R": "withdrawn",  # EP application refused (unverified, not found 2026-11-27)
    # fees paid
    "PGFP": "fee_paid",  # annual fee paid to national office, fixture; epo.org "INPADOC unlocked"
    "MAFP": "fee_paid",  # US maintenance fee payment, fixture
    # transfers of ownership
    "AS": "transfer",  # US assignment, fixture
    "RAP1": "transfer",  # EP party data changed (applicant changed or rights transferred), fixture
    "TR01": "transfer",  # CN 专利权的转移 (transfer of the patent right), CNIPA-gazette schema [S]
    "C41": "transfer",  # CN transfer (old code), notes section 2 (not confirmed 2026-11-27)
    # CN patent-pledge contract registration (专利权质押合同登记): entry into force / change / cancellation.
    # Codes from a CNIPA-gazette parsing schema (table ``constant``: PE01 的生效, PM01 的变更, PC01 的注销) whose
    # headings match the gazette sections "专利权质押合同登记的生效 / 变更 / 注销" (CNIPA 专利公报); no recorded
    # OPS answer carrying them was found (2026-12-04)
    "PE01": "pledge",
    "PM01": "pledge_change",
    "PC01": "pledge_release",
    # CN preservation of the patent right by a court (专利权的保全) and its release (专利权保全的解除), same source
    "PP01": "preservation",
    "PD01": "preservation_release",
    # CN invalidation of the whole right (专利权全部无效), same source. IP01 (无效公告; the schema's table for it
    # holds partial invalidations, 部分无效) is NOT mapped: a right invalidated in part stays in force
    "IW01": "invalidated",
    # CN 权利的恢复 (restoration of a right lost by a missed time limit, e.g. an unpaid annual fee; the request
    # procedure is Rule 6 of the Implementing Regulations of the Patent Law, 2010 text, not re-read here), same
    # source, whose table keeps the decision it reverses (``original_decision``): the status before the lapse or
    # withdrawal comes back
    "RR01": "restoration",
    # CN 专利实施许可合同备案的生效 / 变更 / 注销 (licence-contract recordal in force / changed / cancelled), same
    # source: a recorded licence sets ``licensed`` until its recordal is cancelled
    "EE01": "licence",
    "EM01": "licence_change",
    "EC01": "licence_release",
    # US AIA trial filed at the PTAB (inter partes review, post-grant review), recorded fixture
    # family_legal_US.10465445.B2.xml ("AIA TRIAL PROCEEDING FILED BEFORE THE PATENT AND APPEAL BOARD")
    "IPR": "invalidation",
    "PGR": "invalidation",
}

#: US assignment conveyance texts (INPADOC ``AS`` free text, ODP ``conveyanceText``) by what they do to a
#: pledge decision, matched in this order (a release text also says "security"): the USPTO Patent Assignment
#: Dataset's conveyance types (Marco et al., "The USPTO Patent Assignment Dataset", USPTO Economic Working
#: Paper 2015-2, ``convey_ty``: assignment, security, release, namechg, merger, correct, license ...)
CONVEYANCES: tuple[tuple[str, str], ...] = (
    ("RELEASE", "release"),
    ("SECURITY", "security"),
    ("CHANGE OF NAME", "name_change"),
    ("CORRECT", "correction"),
    ("LICENSE", "license"),
    ("MERGER", "transfer"),
    ("ASSIGNMENT", "transfer"),
    ("NUNC PRO TUNC", "transfer"),
)


#: US maintenance fees (35 USC 41(b); 37 CFR 1.20(e)-(g), 1.362(d)): once the fee of fee year 4 (or 8) is paid,
#: the next one falls due 7.5 (or 11.5) years after grant; after the fee of year 12 none is due again
US_MAINTENANCE_NEXT_DUE_YEARS: dict[int, float] = {4: 7.5, 8: 11.5}

_US_MAINTENANCE_PAID = re.compile(r"PAYMENT OF MAINTENANCE FEE,\s*(4|8|12)TH\s*Y", re.IGNORECASE)
_US_MAINTENANCE_CODE = re.compile(r"^M[123]55([123])$")


def add_years(day: dt.date, years: float) -> dt.date:
    """``day`` plus whole years and months (0.5 year = 6 months), clamped to the end of a shorter month."""
    whole = int(years)
    y, m = day.year + whole, day.month + round((years - whole) * 12)
    y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
    return dt.date(y, m, min(day.day, calendar.monthrange(y, m)[1]))


def us_maintenance_year(text: str | None, code: str | None = None) -> int | None:
    """The fee year (4, 8 or 12) a US maintenance-fee payment event pays, or None when it is not one.

    Reads the USPTO event text "Payment of Maintenance Fee, 4th Year, Large Entity" (ODP ``eventDataBag``,
    INPADOC ``MAFP`` free text) or its event code ``M1551`` / ``M2552`` / ``M3553`` (the second character
    the entity, the last the fee: the recorded answers show M1551 "4th Year, Large Entity" and M1552 "8th Year,
    Large Entity" (``application_14230558.json``), M2551 / M2552 "4TH YR / 8TH YR, SMALL ENTITY"
    (``family_legal_EP.2400812.A1.xml``); that 3 means the 12th year, and M3 a micro entity, follows the
    pattern and was not seen in a recording, so the text is read first).
    """
    m = _US_MAINTENANCE_PAID.search(text or "")
    if m:
        return int(m.group(1))
    c = _US_MAINTENANCE_CODE.match((code or "").strip())
    return {1: 4, 2: 8, 3: 12}[int(c.group(1))] if c else None


def us_fees_paid_through(
    grant_date: dt.date | None, last_fee_year: int | None, term_start: dt.date | None
) -> dt.date | None:
    """Date up to which a US patent's maintenance fees are paid: the next fee's due date.

    After the fee of year 4 (8): grant + 7.5 (11.5) years; after the fee of year 12 no fee is due again, so the
    fees are paid to the end of the 20-year term from ``term_start`` (the earliest non-provisional filing). None
    when a needed date is missing or no fee was paid.
    """
    if last_fee_year == 12:
        return add_years(term_start, 20) if term_start else None
    if grant_date is None or last_fee_year not in US_MAINTENANCE_NEXT_DUE_YEARS:
        return None
    return add_years(grant_date, US_MAINTENANCE_NEXT_DUE_YEARS[last_fee_year])


def conveyance_of(text: str | None) -> str | None:
    """What a US assignment conveys (``transfer``, ``security``, ``release``, ``name_change``...), or None."""
    upper = (text or "").upper()
    return next((kind for key, kind in CONVEYANCES if key in upper), None)


def group_of(code: str, table: dict[str, str] | None = None) -> str | None:
    """Group of an INPADOC event code (spaces stripped), or None when it decides nothing here."""
    return (table or EVENT_GROUPS).get(code.strip().upper())


# -------------------------------------------------------------------------------------------------
# EP Register status texts carried by STAA

STATUS_TEXT_TABLE_VERSION = "2026-11-27"

#: where the wording of each status text was read (searched 2026-11-27)
STATUS_TEXT_SOURCES: dict[str, str] = {
    "fixture": "recorded OPS answer tests/fixtures/epo_ops/legal_EP.2400812.A1.xml (STAA L510EP texts, verbatim)",
    "patent_client": "recorded OPS legal answer for EP1000000A1 (2023-12-05) in parkerhancock/patent_client, "
    "patent_client/epo/ops/legal/cassettes/test_async_example.yaml (STAA L510EP text, verbatim)",
    "register_codes": "EP Register ep-patent-status code list 0-17 (status-code to text) as used by public "
    "EPO Register client code (TypeScript, EP_STATUS_BY_CODE; the code index did not name the repository); "
    "codes 10 and 17 also in a real Register answer quoted in Patent2net/P2N p2n/ops/decoder.py",
    "register_help": "EPO, European Patent Register help 'Legal status' (register.epo.org/help?topic=legalstatus): "
    "status events incl. 'Opposition procedure running', 'Patent revoked/limited'; 'Patent granted (this does "
    "not exclude the possibility of an ongoing opposition or appeal procedure)'",
    "ops_refused": "STAA free text 'STATUS: THE APPLICATION HAS BEEN REFUSED' next to 18R 'APPLICATION REFUSED' "
    "in public EPO OPS client tests (TypeScript; the code index did not name the repository)",
    "brief": "wording given in the project brief (issue 6 follow-up); not found in a public source",
}


@dataclass(frozen=True)
class StatusText:
    """One EP Register status text and the facts it states.

    Attributes
    ----------
    pattern : str
        Regular expression for the stable part of the text, matched at its start (upper case, single spaces,
        ``STATUS:`` prefix removed), ending at a word boundary.
    status : str or None
        ``pending``, ``granted``, ``revoked`` or ``withdrawn``; None when the text decides no status.
    opposition : bool or None
        ``invalidation_pending``: True while an opposition (or a limitation / revocation request) is pending at
        the EPO, False when the text says none is, None when it does not say.
    sources : tuple of str
        Keys of :data:`STATUS_TEXT_SOURCES`.
    verified : bool
        False when the wording was not seen in a public source.
    """

    pattern: str
    status: str | None
    opposition: bool | None
    sources: tuple[str, ...]
    verified: bool = True

    @property
    def decides(self) -> bool:
        """Whether the text states any fact (texts that state none are skipped like unknown ones)."""
        return self.status is not None or self.opposition is not None


#: EP Register status texts, first match wins. Register status codes in brackets.
EP_STATUS_TEXTS: tuple[StatusText, ...] = (
    # application stage [17, 16, 15, 14, 12]
    StatusText(r"THE INTERNATIONAL PUBLICATION HAS BEEN MADE", "pending", None, ("register_codes",)),
    StatusText(r"THE APPLICATION HAS BEEN PUBLISHED", "pending", None, ("register_codes",)),
    StatusText(r"REQUEST FOR EXAMINATION WAS MADE", "pending", None, ("register_codes",)),
    StatusText(r"EXAMINATION IS IN PROGRESS", "pending", None, ("fixture", "register_codes")),
    StatusText(r"GRANT OF PATENT IS INTENDED", "pending", None, ("fixture", "register_codes")),
    # granted; the opposition period (nine months) may still be running, so no opposition fact [8]
    StatusText(
        r"THE PATENT HAS BEEN GRANTED", "granted", None, ("fixture", "register_codes", "register_help")
    ),
    # granted, no opposition pending [7, 3, 5, 6]
    StatusText(
        r"NO OPPOSITION FILED WITHIN TIME LIMIT",
        "granted",
        False,
        ("fixture", "patent_client", "register_codes", "register_help"),
    ),
    StatusText(r"(?:THE )?PATENT (?:HAS BEEN )?MAINTAINED AS AMENDED", "granted", False, ("register_codes",)),
    StatusText(r"OPPOSITION REJECTED", "granted", False, ("register_codes", "register_help")),
    StatusText(r"OPPOSITION PROCEDURE CLOSED", "granted", False, ("register_codes", "register_help")),
    # limited at the proprietor's request: still granted, the text says nothing of oppositions [2]
    StatusText(r"THE PATENT HAS BEEN LIMITED", "granted", None, ("register_codes",)),
    # opposition or limitation / revocation request pending (wording not confirmed as a status text)
    StatusText(r"OPPOSITION (?:FILED|PROCEDURE RUNNING)", "granted", True, ("register_help", "brief"), False),
    StatusText(
        r"(?:REQUEST FOR (?:LIMITATION|REVOCATION)|(?:LIMITATION|REVOCATION) (?:HAS BEEN )?REQUESTED)",
        "granted",
        True,
        ("brief",),
        False,
    ),
    # revoked (after opposition, or on the proprietor's request) [4, 1]
    StatusText(
        r"(?:THE )?PATENT (?:HAS BEEN )?REVOKED", "revoked", None, ("register_codes", "register_help")
    ),
    # no right will issue [9, 10, 11]; a refusal is treated as withdrawn (see the methodology notes)
    StatusText(r"THE APPLICATION HAS BEEN WITHDRAWN", "withdrawn", None, ("register_codes",)),
    StatusText(r"THE APPLICATION IS DEEMED TO BE WITHDRAWN", "withdrawn", None, ("register_codes",)),
    StatusText(r"THE APPLICATION HAS BEEN REFUSED", "withdrawn", None, ("register_codes", "ops_refused")),
    # known texts that decide nothing here [13, 0]
    StatusText(
        r"PROCEEDINGS CLOSED FOLLOWING CONSOLIDATION WITH ANOTHER APPLICATION",
        None,
        None,
        ("register_codes",),
    ),
    StatusText(r"UNKNOWN", None, None, ("register_codes",)),
)

_PREFIX = re.compile(r"^\s*STATUS\s*:\s*", re.IGNORECASE)


def normalize_status_text(text: str) -> str:
    """Upper case, single spaces, the ``STATUS:`` prefix and trailing full stops removed."""
    return _PREFIX.sub("", " ".join(text.split())).upper().rstrip(". ")


@lru_cache(maxsize=8)
def _compiled(table: tuple[StatusText, ...]) -> tuple[tuple[re.Pattern[str], StatusText], ...]:
    return tuple((re.compile(rf"(?:{row.pattern})\b"), row) for row in table)


def status_text_facts(text: str | None, table: tuple[StatusText, ...] | None = None) -> StatusText | None:
    """The row of :data:`EP_STATUS_TEXTS` (or ``table``) an ``STAA`` free text matches, or None when unknown."""
    if not text:
        return None
    norm = normalize_status_text(text)
    for rx, row in _compiled(tuple(table) if table is not None else EP_STATUS_TEXTS):
        if rx.match(norm):
            return row
    return None
