"""A fake EPO OPS + Lens + USPTO ODP server on loopback, for tests, benchmarks and demos.

:class:`FakePatentServer` listens on ``127.0.0.1`` (a free port), serves the recorded real responses of
``tests/fixtures`` plus synthetic patents, checks credentials the way the services do, enforces per-minute
allowances (OPS ``X-Throttling-Control``, Lens ``x-rate-limit-*``), and injects faults on demand: 429 with
``Retry-After``, an OPS service turned black, 403 quota rejections, 5xx, slow answers, truncated and
malformed bodies, dropped connections, expired tokens. Facts can be changed between two fetches
(:meth:`FakePatentServer.add_event`), which monitoring tests need.

Example
-------
>>> from data_sources.testing import FakePatentServer
>>> import data_sources as ds
>>> with FakePatentServer() as srv:                                        # doctest: +SKIP
...     res = ds.fetch(["EP2400812A1"], sources=["epo_ops"], base_urls=srv.base_urls, env=srv.env)
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

__all__ = [
    "FakePatentServer",
    "Fault",
    "FIXTURES",
    "biblio_document",
    "legal_document",
    "lens_record",
    "odp_record",
    "VirtualClock",
]

#: the recorded responses shipped with the tests
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"

_NS = 'xmlns="http://www.epo.org/exchange" xmlns:ops="http://ops.epo.org" xmlns:xlink="http://www.w3.org/1999/xlink"'


class VirtualClock:
    """A clock and an async sleep that advance virtual time instantly (for rate-limit tests).

    ``now()`` is the clock; ``await sleep(s)`` moves the clock to at least the caller's wake time.
    """

    def __init__(self, start: float = 0.0):
        self.t = start
        self.slept = 0.0

    def now(self) -> float:
        """Current virtual time in seconds."""
        return self.t

    __call__ = now

    async def sleep(self, seconds: float) -> None:
        """Let other tasks run, then move the clock to this caller's wake time."""
        import asyncio

        wake = self.t + max(0.0, seconds)
        self.slept += max(0.0, seconds)
        await asyncio.sleep(0)
        self.t = max(self.t, wake)


@dataclass
class Fault:
    """A fault injected into the next ``times`` matching requests.

    Attributes
    ----------
    kind : str
        ``429``, ``black``, ``quota_hour``, ``quota_week``, ``throttle_403``, ``500``, ``503``, ``slow``,
        ``truncate``, ``malformed``, ``drop``, ``expire_token``, ``lens_month``.
    match : str
        Substring of the request path (``""`` matches every request).
    times : int
    retry_after : str or None
        ``Retry-After`` value to send (seconds; milliseconds for ``black``, as OPS is read).
    delay : float
        Seconds to wait before answering (``slow``).
    """

    kind: str
    match: str = ""
    times: int = 1
    retry_after: str | None = None
    delay: float = 0.0


def _d8(d: dt.date | str | None) -> str:
    if d is None:
        return ""
    if isinstance(d, str):
        d = dt.date.fromisoformat(d)
    return d.strftime("%Y%m%d")


def biblio_document(
    number: str,
    *,
    title: str = "SYNTHETIC INVENTION",
    filing_date: str = "2015-03-02",
    applicants: Iterable[str] = ("ACME CO LTD [CN]",),
    cpc: Iterable[str] = ("H04W84/20",),
    family_id: str = "90000001",
    publication_date: str = "2016-09-07",
) -> str:
    """An OPS ``exchange-document`` for a canonical number (shape of the recorded biblio answers)."""
    from ipvalue.facts.numbers import parse_number

    p = parse_number(number)
    parts = []
    for sym in cpc:
        head, sub = sym.split("/")
        parts.append(
            '<patent-classification><classification-scheme office="EP" scheme="CPCI"/>'
            f"<section>{head[0]}</section><class>{head[1:3]}</class><subclass>{head[3]}</subclass>"
            f"<main-group>{head[4:]}</main-group><subgroup>{sub}</subgroup></patent-classification>"
        )
    apps = "".join(
        f'<applicant sequence="{i + 1}" data-format="epodoc"><applicant-name><name>{escape(a)}</name>'
        "</applicant-name></applicant>"
        for i, a in enumerate(applicants)
    )
    return (
        f'<exchange-document system="ops.epo.org" family-id="{family_id}" country="{p.country}" '
        f'doc-number="{p.number}" kind="{p.kind or ""}"><bibliographic-data>'
        f'<publication-reference><document-id document-id-type="docdb"><country>{p.country}</country>'
        f"<doc-number>{p.number}</doc-number><kind>{p.kind or ''}</kind><date>{_d8(publication_date)}</date>"
        "</document-id></publication-reference>"
        f"<patent-classifications>{''.join(parts)}</patent-classifications>"
        '<application-reference><document-id document-id-type="epodoc">'
        f"<doc-number>{p.country}{p.number}</doc-number><date>{_d8(filing_date)}</date></document-id>"
        "</application-reference>"
        '<priority-claims><priority-claim sequence="1"><document-id document-id-type="epodoc">'
        f"<doc-number>{p.country}{p.number}</doc-number><date>{_d8(filing_date)}</date></document-id>"
        "</priority-claim></priority-claims>"
        f"<parties><applicants>{apps}</applicants></parties>"
        f'<invention-title lang="en">{escape(title)}</invention-title>'
        "</bibliographic-data></exchange-document>"
    )


def legal_document(
    number: str,
    *,
    filing_date: str = "2015-03-02",
    events: Iterable[Mapping[str, Any]] = (),
    family: Iterable[str] = (),
    family_id: str = "90000001",
) -> bytes:
    """An OPS ``family/.../legal`` answer: the number with its events, plus other family members.

    Each event is a mapping with ``code`` and optionally ``date`` (gazette), ``effective``, ``state``,
    ``fee_year``, ``text``, ``infl``, ``desc``.
    """
    from ipvalue.facts.numbers import parse_number

    def member(num: str, evs: Iterable[Mapping[str, Any]]) -> str:
        p = parse_number(num)
        legal = []
        for e in evs:
            inner = [
                f'<ops:L001EP desc="Country Code">{p.country}</ops:L001EP>',
                f'<ops:L007EP desc="Gazette DATE">{e.get("date", "2020-01-01")}</ops:L007EP>',
            ]
            sub = []
            if e.get("state"):
                sub.append(f'<ops:L501EP desc="Ref Country Code">{e["state"]}</ops:L501EP>')
            if e.get("fee_year"):
                sub.append(f'<ops:L520EP desc="Year of Fee Payment">{e["fee_year"]}</ops:L520EP>')
            if e.get("effective"):
                sub.append(f'<ops:L525EP desc="Effective DATE">{_d8(e["effective"])}</ops:L525EP>')
            if e.get("text"):
                inner.append(f'<ops:L510EP desc="Free Format Text">{escape(e["text"])}</ops:L510EP>')
            if sub:
                inner.append(f"<ops:L500EP>{''.join(sub)}</ops:L500EP>")
            legal.append(
                f'<ops:legal code="{e["code"]:<4}" desc="{escape(e.get("desc", e["code"]))}" '
                f'infl="{e.get("infl", " ")}">{"".join(inner)}</ops:legal>'
            )
        return (
            f'<ops:family-member family-id="{family_id}"><publication-reference>'
            f'<document-id document-id-type="docdb"><country>{p.country}</country><doc-number>{p.number}</doc-number>'
            f"<kind>{p.kind or ''}</kind><date>20160907</date></document-id></publication-reference>"
            '<application-reference><document-id document-id-type="docdb">'
            f"<country>{p.country}</country><doc-number>A{p.number}</doc-number><kind>A</kind>"
            f"<date>{_d8(filing_date)}</date></document-id></application-reference>{''.join(legal)}"
            "</ops:family-member>"
        )

    fam = [number, *family]
    body = "".join(member(n, events if n == number else ()) for n in fam)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ops:world-patent-data {_NS}>'
        f'<ops:patent-family legal="true" total-result-count="{len(fam)}">{body}</ops:patent-family>'
        "</ops:world-patent-data>"
    ).encode()


def lens_record(
    number: str,
    *,
    cited_by: int = 3,
    status: str = "ACTIVE",
    granted: bool = True,
    title: str = "SYNTHETIC INVENTION",
    filing_date: str = "2015-03-02",
) -> dict[str, Any]:
    """A Lens patent record for a canonical number (shape of the documented sample)."""
    from ipvalue.facts.numbers import parse_number

    p = parse_number(number)
    return {
        "lens_id": f"000-000-{zlib.crc32(number.encode()) % 1000:03d}-000-000",
        "jurisdiction": p.country,
        "doc_number": p.number,
        "kind": p.kind or "",
        "date_published": "2016-09-07",
        "biblio": {
            "application_reference": {"jurisdiction": p.country, "doc_number": p.number, "date": filing_date},
            "invention_title": [{"text": title, "lang": "en"}],
            "parties": {"applicants": [{"extracted_name": {"value": "ACME CO LTD"}}]},
            "cited_by": {"patent_count": cited_by},
            "references_cited": {"patent_count": 4},
        },
        "families": {
            "simple_family": {
                "family_id": 1,
                "size": 2,
                "members": [{"document_id": {"jurisdiction": p.country}}],
            }
        },
        "legal_status": {"granted": granted, "patent_status": status},
    }


def odp_record(
    patent_number: str,
    application: str,
    *,
    filing_date: str = "2018-02-01",
    grant_date: str | None = "2020-06-02",
    status_code: int = 150,
    status_text: str = "Patented Case",
    pta: int = 0,
    parents: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A USPTO ODP application record (shape of the recorded answer)."""
    return {
        "applicationNumberText": application,
        "applicationMetaData": {
            "patentNumber": patent_number,
            "inventionTitle": "SYNTHETIC INVENTION",
            "filingDate": filing_date,
            "grantDate": grant_date,
            "applicationStatusCode": status_code,
            "applicationStatusDescriptionText": status_text,
            "applicationTypeLabelName": "Utility",
            "entityStatusData": {"businessEntityStatusCategory": "Small"},
            "applicantBag": [{"applicantNameText": "ACME INC"}],
            "cpcClassificationBag": ["H01M  50/46"],
        },
        "patentTermAdjustmentData": {"adjustmentTotalQuantity": pta},
        "parentContinuityBag": list(parents),
    }


@dataclass
class _State:
    ep_docs: dict[str, str] = field(default_factory=dict)  # canonical number -> exchange-document xml
    ep_legal: dict[str, bytes] = field(default_factory=dict)  # canonical number -> family legal answer
    lens: dict[str, dict[str, Any]] = field(default_factory=dict)
    odp: dict[str, dict[str, Any]] = field(default_factory=dict)  # application number -> full record
    odp_sub: dict[str, dict[str, bytes]] = field(default_factory=dict)  # application -> {"continuity": ..}


class FakePatentServer:
    """Fake OPS, Lens and ODP on ``127.0.0.1`` in a background thread (real sockets).

    Parameters
    ----------
    ops_allowance : mapping, optional
        Requests per minute per OPS service, announced in ``X-Throttling-Control`` and enforced
        (403 ``ThrottlingControlQuota`` past it). Default: retrieval 200, inpadoc 200, others 1000.
    lens_per_minute : int, default 1000
        Lens requests per minute (``x-rate-limit-remaining-request-per-minute``; 429 past it).
    clock : callable, default time.monotonic
        Clock of the allowance windows (share a :class:`VirtualClock` with the client in tests).
    fixtures : bool, default True
        Load the recorded responses (EP2400812A1, EP2533477A1/B1, Lens EP2471949A1, US11646472B2).
    odp_split : bool, default True
        Answer ODP searches without continuity and adjustment, so clients fetch those sub-resources.
    lens_page_limit : int, optional
        Most Lens records per page whatever ``size`` asks (a plan's maximum), so clients must scroll.

    Attributes
    ----------
    log : list of dict
        Every request: ``method``, ``path``, ``status``, ``t`` (server clock), ``service``.
    rejections : int
        Requests refused because an allowance was exceeded.
    """

    key = "fake-ops-key"
    secret = "fake-ops-secret-value"
    lens_token = "fake-lens-token-value"
    odp_key = "fake-odp-key-value"

    def __init__(
        self,
        *,
        ops_allowance: Mapping[str, int] | None = None,
        lens_per_minute: int = 1000,
        clock: Callable[[], float] = time.monotonic,
        fixtures: bool = True,
        odp_split: bool = True,
        lens_page_limit: int | None = None,
    ):
        self.lens_page_limit = lens_page_limit
        self.ops_allowance = {
            "retrieval": 200,
            "inpadoc": 200,
            "search": 1000,
            "images": 1000,
            "other": 1000,
            **(ops_allowance or {}),
        }
        self.lens_per_minute = lens_per_minute
        self.clock = clock
        self.odp_split = odp_split
        self.state = _State()
        self.faults: list[Fault] = []
        self.log: list[dict[str, Any]] = []
        self.rejections = 0
        self.tokens: dict[str, float] = {}
        self.token_lifetime = 1200.0
        self._windows: dict[str, deque[float]] = {}
        self._lens_scrolls: dict[str, list[dict[str, Any]]] = {}
        self._events: dict[str, list[Mapping[str, Any]]] = {}
        self.ops_bytes = 0
        self.inflight: dict[str, int] = {}
        #: most requests in progress at once per service root (``epo``, ``lens``, ``uspto``)
        self.max_inflight: dict[str, int] = {}
        self._filing: dict[str, str] = {}
        self._lock = threading.RLock()
        self._seq = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        if fixtures:
            self.load_fixtures()

    # -- data -------------------------------------------------------------------------------------
    def load_fixtures(self) -> None:
        """Serve the recorded responses (``tests/fixtures`` of a source checkout)."""
        import re

        if not (FIXTURES / "epo_ops").is_dir():
            raise FileNotFoundError(
                f"recorded responses not found under {FIXTURES} (they ship with the source tree, not the wheel); "
                "use FakePatentServer(fixtures=False) and add synthetic patents"
            )

        for name in ("biblio_multiple.xml", "biblio_EP.2400812.A1.xml"):
            text = (FIXTURES / "epo_ops" / name).read_text(encoding="utf-8")
            for m in re.finditer(r"<exchange-document .*?</exchange-document>", text, re.S):
                head = re.search(r'country="(\w+)" doc-number="(\w+)" kind="(\w+)"', m.group(0))
                if head:
                    self.state.ep_docs["".join(head.groups())] = m.group(0)
        self.state.ep_legal["EP2400812A1"] = (
            FIXTURES / "epo_ops" / "family_legal_EP.2400812.A1.xml"
        ).read_bytes()
        lens = json.loads((FIXTURES / "lens" / "search_lens_id_031-156-664-516-153.json").read_bytes())
        for rec in lens["data"]:
            self.state.lens[f"{rec['jurisdiction']}{rec['doc_number']}{rec['kind']}"] = rec
        app = json.loads((FIXTURES / "uspto_odp" / "application_17248024.json").read_bytes())
        rec = app["patentFileWrapperDataBag"][0]
        self.state.odp[rec["applicationNumberText"]] = rec
        self.state.odp_sub[rec["applicationNumberText"]] = {
            "continuity": (FIXTURES / "uspto_odp" / "continuity_17248024.json").read_bytes(),
            "adjustment": (FIXTURES / "uspto_odp" / "adjustment_17248024.json").read_bytes(),
        }

    def add_ep(
        self, number: str, *, events: Iterable[Mapping[str, Any]] = (), legal: bool = True, **biblio: Any
    ) -> None:
        """Serve a synthetic OPS patent (any office, docdb number) with legal events."""
        from ipvalue.facts.numbers import normalize_number

        n = normalize_number(number)
        with self._lock:
            self.state.ep_docs[n] = biblio_document(n, **biblio)
            if legal:
                self._events[n] = list(events)
                self._filing[n] = biblio.get("filing_date", "2015-03-02")
                self.state.ep_legal[n] = legal_document(
                    n, events=self._events[n], filing_date=self._filing[n]
                )

    def add_event(self, number: str, **event: Any) -> None:
        """Append a legal event to a synthetic OPS patent (its next ``legal`` answer changes)."""
        from ipvalue.facts.numbers import normalize_number

        n = normalize_number(number)
        with self._lock:
            self._events.setdefault(n, []).append(event)
            self.state.ep_legal[n] = legal_document(
                n, events=self._events[n], filing_date=self._filing.get(n, "2015-03-02")
            )

    def add_synthetic(
        self, count: int, *, start: int = 3_000_000, office: str = "EP", kind: str = "B1"
    ) -> list[str]:
        """Add ``count`` synthetic granted patents and return their numbers."""
        nums = []
        for i in range(count):
            n = f"{office}{start + i}{kind}"
            self.add_ep(
                n,
                events=[{"code": "PGFP", "state": "DE", "fee_year": 8, "date": "2022-07-01"}],
                title=f"SYNTHETIC INVENTION {i}",
            )
            nums.append(n)
        return nums

    def add_lens(self, number: str, **fields: Any) -> None:
        """Serve a synthetic Lens record."""
        from ipvalue.facts.numbers import normalize_number

        n = normalize_number(number)
        with self._lock:
            self.state.lens[n] = lens_record(n, **fields)

    def add_odp(self, patent_number: str, application: str, **fields: Any) -> None:
        """Serve a synthetic ODP application."""
        with self._lock:
            self.state.odp[application] = odp_record(patent_number, application, **fields)

    def inject(
        self,
        kind: str,
        match: str = "",
        *,
        times: int = 1,
        retry_after: str | None = None,
        delay: float = 0.0,
    ) -> Fault:
        """Inject a fault into the next ``times`` requests whose path contains ``match``."""
        f = Fault(kind, match, times, retry_after, delay)
        with self._lock:
            self.faults.append(f)
        return f

    def expire_tokens(self) -> None:
        """Make every OPS access token issued so far invalid (OPS answers 400 ``invalid_access_token``)."""
        with self._lock:
            self.tokens.clear()

    # -- addresses ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Root URL of the server (``http://127.0.0.1:PORT``)."""
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_urls(self) -> dict[str, str]:
        """``base_urls`` for :func:`data_sources.fetch`."""
        return {
            "epo_ops": f"{self.url}/epo/3.2",
            "lens": f"{self.url}/lens",
            "uspto_odp": f"{self.url}/uspto",
        }

    @property
    def env(self) -> dict[str, str]:
        """Environment with the fake credentials (pass as ``env=``)."""
        return {
            "EPO_OPS_KEY": self.key,
            "EPO_OPS_SECRET": self.secret,
            "LENS_API_TOKEN": self.lens_token,
            "USPTO_ODP_API_KEY": self.odp_key,
        }

    def requests(self, prefix: str = "", *, method: str | None = None) -> list[dict[str, Any]]:
        """Logged requests whose path starts with ``prefix``."""
        with self._lock:
            return [
                r
                for r in self.log
                if r["path"].startswith(prefix) and (method is None or r["method"] == method)
            ]

    def start(self) -> FakePatentServer:
        """Start listening on a free loopback port."""
        server = self

        class Handler(_Handler):
            fake = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-patent-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the server."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakePatentServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling (called from the handler threads) -------------------------------------
    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.times > 0 and f.match in path:
                    f.times -= 1
                    return f
        return None

    def _allow(self, key: str, per_minute: int) -> bool:
        with self._lock:
            now = self.clock()
            win = self._windows.setdefault(key, deque())
            while win and win[0] <= now - 60.0:
                win.popleft()
            if len(win) >= per_minute:
                self.rejections += 1
                return False
            win.append(now)
            return True

    def _remaining(self, key: str, per_minute: int) -> int:
        with self._lock:
            return max(0, per_minute - len(self._windows.get(key, ())))

    def _throttle_header(self, black: str | None = None) -> str:
        parts = []
        for svc in ("images", "inpadoc", "other", "retrieval", "search"):
            colour = "black" if svc == black else "green"
            parts.append(f"{svc}={colour}:{0 if svc == black else self.ops_allowance[svc]}")
        return f"idle ({', '.join(parts)})"


_FAULT_XML = (
    '<?xml version="1.0" encoding="UTF-8"?><fault xmlns="http://ops.epo.org"><code>{code}</code>'
    "<message>{message}</message></fault>"
)


class _Handler(BaseHTTPRequestHandler):
    fake: FakePatentServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in separate writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the default stderr log
        return None

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    # -- plumbing -------------------------------------------------------------------------------
    def _send(
        self,
        status: int,
        body: bytes,
        ctype: str = "application/xml",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(body)
        self._status = status

    def _dispatch(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self._status = 0
        started = fake.clock()
        top = path.strip("/").split("/", 1)[0]
        with fake._lock:
            fake.inflight[top] = fake.inflight.get(top, 0) + 1
            fake.max_inflight[top] = max(fake.max_inflight.get(top, 0), fake.inflight[top])
        service = (
            "lens"
            if path.startswith("/lens")
            else "uspto"
            if path.startswith("/uspto")
            else _ops_service(path)
        )
        try:
            fault = fake._take_fault(path)
            if fault is not None and self._fault(fault, service, path):
                return
            if path.startswith("/epo/3.2/auth/accesstoken"):
                self._token(body)
            elif path.startswith("/epo/3.2/rest-services/"):
                self._ops(method, path[len("/epo/3.2/rest-services/") :], body, service)
            elif path.startswith("/lens/"):
                self._lens(method, path[len("/lens") :], body)
            elif path.startswith("/uspto/"):
                self._odp(path[len("/uspto") :], parse_qs(parts.query))
            else:
                self._send(404, b"no such route", "text/plain")
        finally:
            with fake._lock:
                fake.inflight[top] -= 1
                fake.log.append(
                    {
                        "method": method,
                        "path": path,
                        "status": self._status,
                        "t": started,
                        "service": service,
                    }
                )

    def _fault(self, f: Fault, service: str, path: str) -> bool:
        fake = self.fake
        k = f.kind
        if k == "slow":
            time.sleep(f.delay)
            return False
        if k == "expire_token":
            fake.expire_tokens()
            return False
        if k == "429":
            self._send(
                429,
                (FIXTURES / "epo_ops" / "fault_429.xml").read_bytes(),
                headers={"Retry-After": f.retry_after or "1"},
            )
        elif k == "black":
            self._send(
                403,
                _FAULT_XML.format(code="403", message="service blocked").encode(),
                headers={
                    "X-Throttling-Control": fake._throttle_header(black=service),
                    "Retry-After": f.retry_after or "2000",
                },
            )
        elif k in ("quota_hour", "quota_week", "throttle_403"):
            reason = {
                "quota_hour": "IndividualQuotaPerHour",
                "quota_week": "RegisteredQuotaPerWeek",
                "throttle_403": "ThrottlingControlQuota",
            }[k]
            headers = {"X-Rejection-Reason": reason, "X-Throttling-Control": fake._throttle_header()}
            if f.retry_after:
                headers["Retry-After"] = f.retry_after
            self._send(
                403,
                _FAULT_XML.format(
                    code="403",
                    message="This request has been rejected due to the violation of Fair Use policy",
                ).encode(),
                headers=headers,
            )
        elif k == "lens_month":
            self._send(
                429,
                b'{"error":"monthly limit"}',
                "application/json",
                headers={
                    "x-rate-limit-remaining-request-per-month": "0",
                    "x-rate-limit-retry-after-seconds": "3600",
                },
            )
        elif k in ("500", "503"):
            self._send(
                int(k),
                _FAULT_XML.format(
                    code="SERVER.LimitedServerResources", message="Please request again later"
                ).encode(),
            )
        elif k == "truncate":
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", "5000")
            self.end_headers()
            self.wfile.write(b"<?xml version='1.0'?><ops:world-patent-data")
            self.wfile.flush()
            self.close_connection = True
            self._status = -1
        elif k == "malformed":
            ctype = "application/json" if service in ("lens", "uspto") else "application/xml"
            self._send(
                200,
                b"<ops:world-patent-data><unclosed>" if ctype.endswith("xml") else b'{"data": [',
                ctype,
                headers={"X-Throttling-Control": fake._throttle_header()},
            )
        elif k == "drop":
            self.close_connection = True
            self._status = -2
        else:  # pragma: no cover - a typo in a test
            raise ValueError(f"unknown fault {k!r}")
        return True

    # -- EPO OPS --------------------------------------------------------------------------------
    def _token(self, body: bytes) -> None:
        import base64

        fake = self.fake
        expected = "Basic " + base64.b64encode(f"{fake.key}:{fake.secret}".encode()).decode()
        if self.headers.get("Authorization") != expected or b"grant_type=client_credentials" not in body:
            self._send(401, b'{"error":"invalid_client"}', "application/json")
            return
        with fake._lock:
            fake._seq += 1
            token = f"tok{fake._seq:06d}"
            fake.tokens[token] = fake.clock() + fake.token_lifetime
        self._send(
            200,
            json.dumps(
                {
                    "access_token": token,
                    "token_type": "BearerToken",
                    "expires_in": str(int(fake.token_lifetime)),
                    "issued_at": str(int(time.time() * 1000)),
                }
            ).encode(),
            "application/json",
        )

    def _ops(self, method: str, rest: str, body: bytes, service: str) -> None:
        fake = self.fake
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with fake._lock:
            valid = token in fake.tokens and fake.tokens[token] > fake.clock()
        if not valid:
            self._send(
                400,
                _FAULT_XML.format(code="CLIENT.InvalidAccessToken", message="invalid_access_token").encode(),
            )
            return
        if not fake._allow(f"ops:{service}", fake.ops_allowance.get(service, 1000)):
            self._send(
                403,
                _FAULT_XML.format(code="403", message="throttling control").encode(),
                headers={
                    "X-Rejection-Reason": "ThrottlingControlQuota",
                    "X-Throttling-Control": fake._throttle_header(),
                    "Retry-After": "5",
                },
            )
            return
        with fake._lock:
            fake.ops_bytes += 1  # a stand-in for the byte count, enough to show the header is read
        th = {
            "X-Throttling-Control": fake._throttle_header(),
            "X-IndividualQuotaPerHour-Used": str(fake.ops_bytes),
        }
        segs = rest.strip("/").split("/")
        if segs[:1] == ["published-data"] and segs[-1] == "biblio":
            if method == "POST":
                numbers = [n.strip() for n in body.decode().splitlines() if n.strip()]
            else:
                numbers = [segs[3]]
            found = [d for n in numbers for d in _lookup(fake.state.ep_docs, n, segs[2])]
            if not found:
                self._send(404, (FIXTURES / "epo_ops" / "fault_404.xml").read_bytes(), headers=th)
                return
            out = (
                f'<?xml version="1.0" encoding="UTF-8"?><ops:world-patent-data {_NS}><exchange-documents>'
                + "".join(found)
                + "</exchange-documents></ops:world-patent-data>"
            )
            self._send(200, out.encode(), headers=th)
            return
        if segs[:1] == ["family"] and segs[-1] == "legal":
            docs = _lookup(fake.state.ep_legal, segs[3], segs[2])
            doc = docs[0] if docs else None
            if doc is None:
                self._send(404, (FIXTURES / "epo_ops" / "fault_404.xml").read_bytes(), headers=th)
            else:
                self._send(200, doc, headers=th)
            return
        self._send(404, (FIXTURES / "epo_ops" / "fault_404.xml").read_bytes(), headers=th)

    # -- Lens -----------------------------------------------------------------------------------
    def _lens(self, method: str, rest: str, body: bytes) -> None:
        fake = self.fake
        if self.headers.get("Authorization") != f"Bearer {fake.lens_token}":
            self._send(401, b'{"error":"unauthorized"}', "application/json")
            return
        if not fake._allow("lens", fake.lens_per_minute):
            self._send(
                429,
                b'{"error":"rate limit"}',
                "application/json",
                headers={
                    "x-rate-limit-remaining-request-per-minute": "0",
                    "x-rate-limit-retry-after-seconds": "60",
                },
            )
            return
        rl = {
            "x-rate-limit-remaining-request-per-minute": str(fake._remaining("lens", fake.lens_per_minute)),
            "x-rate-limit-remaining-request-per-month": "100000",
            "x-rate-limit-remaining-record-per-month": "1000000",
        }
        if rl["x-rate-limit-remaining-request-per-minute"] == "0":
            rl["x-rate-limit-retry-after-seconds"] = "60"
        if rest != "/patent/search" or method != "POST":
            self._send(404, b'{"error":"not found"}', "application/json", headers=rl)
            return
        try:
            req = json.loads(body)
        except ValueError:
            self._send(400, b'{"error":"bad json"}', "application/json", headers=rl)
            return
        if "scroll_id" in req:
            with fake._lock:
                pending = fake._lens_scrolls.pop(req["scroll_id"], None)
            if pending is None:
                self._send(404, b'{"error":"scroll expired"}', "application/json", headers=rl)
                return
            size = fake.lens_page_limit or len(pending)
            total = None
        else:
            ids = req.get("query", {}).get("terms", {}).get("ids", [])
            pending = [fake.state.lens[i] for i in ids if i in fake.state.lens]
            size = int(req.get("size", 20))
            total = len(pending)
        size = max(1, min(size, fake.lens_page_limit or size))
        page, rest_recs = pending[:size], pending[size:]
        if not page:
            self._send(204, b"", "application/json", headers=rl)
            return
        out: dict[str, Any] = {
            "total": total if total is not None else len(page),
            "data": page,
            "results": len(page),
        }
        if rest_recs:
            with fake._lock:
                fake._seq += 1
                sid = f"scroll{fake._seq}"
                fake._lens_scrolls[sid] = rest_recs
            out["scroll_id"] = sid
            if total is None:
                out["total"] = len(page) + len(rest_recs) + 10**6  # keeps the client paging
        self._send(200, json.dumps(out).encode(), "application/json", headers=rl)

    # -- USPTO ODP ------------------------------------------------------------------------------
    def _odp(self, rest: str, query: Mapping[str, list[str]]) -> None:
        fake = self.fake
        if self.headers.get("X-API-KEY") != fake.odp_key:
            self._send(403, b'{"code":403,"message":"Forbidden"}', "application/json")
            return
        base = "/api/v1/patent/applications"
        if not rest.startswith(base):
            self._send(404, b'{"code":404,"message":"Not Found"}', "application/json")
            return
        tail = rest[len(base) :].strip("/")
        not_found = b'{"code":404,"message":"No matching records found","errorDetails":null}'
        if tail == "search":
            q = (query.get("q") or [""])[0]
            field_, _, value = q.partition(":")
            hit = None
            for rec in fake.state.odp.values():
                meta = rec.get("applicationMetaData", {})
                if (field_.endswith("patentNumber") and meta.get("patentNumber") == value) or (
                    field_.endswith("earliestPublicationNumber")
                    and meta.get("earliestPublicationNumber") == value
                ):
                    hit = rec
            if hit is None:
                self._send(404, not_found, "application/json")
                return
            if fake.odp_split and hit["applicationNumberText"] in fake.state.odp_sub:
                hit = {
                    k: v
                    for k, v in hit.items()
                    if k not in ("parentContinuityBag", "patentTermAdjustmentData")
                }
            self._send(
                200, json.dumps({"count": 1, "patentFileWrapperDataBag": [hit]}).encode(), "application/json"
            )
            return
        app, _, sub = tail.partition("/")
        rec = fake.state.odp.get(app)
        if rec is None:
            self._send(404, not_found, "application/json")
        elif not sub:
            self._send(
                200, json.dumps({"count": 1, "patentFileWrapperDataBag": [rec]}).encode(), "application/json"
            )
        elif sub in ("continuity", "adjustment"):
            stored = fake.state.odp_sub.get(app, {}).get(sub)
            if stored is None:
                keep = "parentContinuityBag" if sub == "continuity" else "patentTermAdjustmentData"
                stored = json.dumps(
                    {
                        "count": 1,
                        "patentFileWrapperDataBag": [{"applicationNumberText": app, keep: rec.get(keep)}],
                    }
                ).encode()
            self._send(200, stored, "application/json")
        else:
            self._send(404, not_found, "application/json")


def _ops_service(path: str) -> str:
    from data_sources.epo_ops import service_of

    return service_of(path) if "/rest-services/" in path else "auth"


def _lookup(store: Mapping[str, Any], inp: str, fmt: str) -> list[Any]:
    """Stored items for an OPS input: the docdb number exactly, or every kind of an epodoc number."""
    import re

    key = _from_ops(inp, fmt)
    if fmt == "docdb":
        return [store[key]] if key in store else []
    pattern = re.compile(re.escape(key) + r"[A-Z]\d?$")
    return [v for k, v in sorted(store.items()) if pattern.match(k)]


def _from_ops(inp: str, fmt: str) -> str:
    """Canonical number of an OPS input (``EP.2400812.A1`` docdb or ``EP2400812`` epodoc)."""
    if fmt == "docdb":
        return inp.replace(".", "")
    return inp
