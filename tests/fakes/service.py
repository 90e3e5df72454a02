"""The fake EPO OPS + Lens + USPTO ODP service: state, answers and faults, with no socket.

:class:`FakePatentService` holds the patents it serves (the recorded real responses of ``tests/fixtures`` plus
synthetic patents), checks credentials the way the services do, enforces per-minute allowances (OPS
``X-Throttling-Control``, Lens ``x-rate-limit-*``) and injects faults on demand: 429 with ``Retry-After``, an
OPS service turned black, 403 quota rejections, 5xx, slow answers, truncated and malformed bodies, dropped
connections, expired tokens. Facts can change between two fetches (:meth:`FakePatentService.add_event`).

Two ways to reach it:

- in process: :meth:`FakePatentService.transport` is a stateful ``httpx.MockTransport`` (pass it as
  ``transport=`` to :func:`data_sources.fetch`); a dropped or truncated answer raises the ``httpx`` error a
  real socket would;
- over real sockets on loopback: :class:`tests.fakes.server.FakePatentServer`, for the fault tests and the
  command line.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from data_sources.epo_ops import service_of
from ipvalue.facts.numbers import normalize_number
from tests.fakes.records import (
    FIXTURES,
    OPS_NAMESPACES,
    biblio_document,
    legal_document,
    lens_record,
    odp_record,
)

__all__ = ["FakePatentService", "Fault", "Reply", "FAKE_ROOT"]

#: the root the in-process transport answers on (any host works; this one reads well in logs)
FAKE_ROOT = "http://fake-patent-service.test"

FAULT_XML = (
    '<?xml version="1.0" encoding="UTF-8"?><fault xmlns="http://ops.epo.org"><code>{code}</code>'
    "<message>{message}</message></fault>"
)
NOT_FOUND_ODP = b'{"code":404,"message":"No matching records found","errorDetails":null}'
#: parts of an ODP record served by a sub-resource (record key -> sub-resource); ``continuityBag`` is the beta
#: API's form of the parent links
ODP_SUB_KEYS = {
    "parentContinuityBag": "continuity",
    "continuityBag": "continuity",
    "patentTermAdjustmentData": "adjustment",
    "assignmentBag": "assignment",
}


@dataclass
class Fault:
    """A fault injected into the next ``times`` matching requests.

    Attributes
    ----------
    kind : str
        ``429``, ``black``, ``quota_hour``, ``quota_week``, ``throttle_403``, ``anonymous_minute``, ``500``,
        ``503``, ``slow``, ``truncate``, ``malformed``, ``drop``, ``expire_token``, ``lens_month``.
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


@dataclass
class Reply:
    """One answer of the fake service.

    Attributes
    ----------
    status : int
    body : bytes
    headers : dict
        Content type included.
    delay : float
        Seconds to wait before sending (a ``slow`` fault).
    wire : str
        ``""`` for a normal answer, ``"truncate"`` (headers promise more bytes than come) or ``"drop"`` (the
        connection closes with no answer).
    """

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    wire: str = ""


def reply(status: int, body: bytes, ctype: str = "application/xml", **headers: str) -> Reply:
    """A :class:`Reply` with a content type and extra headers."""
    return Reply(status, body, {"Content-Type": ctype, **headers})


@dataclass
class ServiceState:
    """What the fake service serves, by canonical number or application number."""

    ep_docs: dict[str, str] = field(default_factory=dict)  # canonical number -> exchange-document xml
    ep_legal: dict[str, bytes] = field(default_factory=dict)  # canonical number -> family legal answer
    lens: dict[str, dict[str, Any]] = field(default_factory=dict)
    odp: dict[str, dict[str, Any]] = field(default_factory=dict)  # application number -> full record
    odp_sub: dict[str, dict[str, bytes]] = field(default_factory=dict)  # application -> {"continuity": ..}


class FakePatentService:
    """Fake OPS, Lens and ODP answers, reached through :meth:`transport` or a socket server.

    Parameters
    ----------
    ops_allowance : mapping, optional
        Requests per minute per OPS service, announced in ``X-Throttling-Control`` and enforced
        (403 ``ThrottlingControlQuota`` past it). Default: retrieval 200, inpadoc 200, others 1000.
    lens_per_minute : int, default 1000
        Lens requests per minute (``x-rate-limit-remaining-request-per-minute``; 429 past it).
    clock : callable, default time.monotonic
        Clock of the allowance windows (share a :class:`tests.fakes.records.VirtualClock` with the client).
    fixtures : bool, default True
        Load the recorded responses (see :meth:`load_fixtures`).
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
        self.state = ServiceState()
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
        if fixtures:
            self.load_fixtures()

    # -- data -------------------------------------------------------------------------------------
    def load_fixtures(self) -> None:
        """Serve the recorded responses of ``tests/fixtures`` (listed with their origin in its README).

        Every OPS ``exchange-document`` of the biblio recordings, every ``family/.../legal`` recording under
        the number it was asked for, every Lens record and every ODP application (with its continuity and
        adjustment sub-resources where recorded).
        """
        for path in sorted((FIXTURES / "epo_ops").glob("biblio_*.xml")):
            text = path.read_text(encoding="utf-8")
            for m in re.finditer(r"<exchange-document .*?</exchange-document>", text, re.S):
                head = re.search(r'country="(\w+)" doc-number="(\w+)" kind="(\w+)"', m.group(0))
                if head:
                    self.state.ep_docs.setdefault("".join(head.groups()), m.group(0))
        for path in sorted((FIXTURES / "epo_ops").glob("family_legal_*.xml")):
            number = path.name[len("family_legal_") : -len(".xml")].replace(".", "")
            self.state.ep_legal[number] = path.read_bytes()
        for path in sorted((FIXTURES / "lens").glob("*.json")):
            for rec in json.loads(path.read_bytes()).get("data", []):
                self.state.lens[f"{rec['jurisdiction']}{rec['doc_number']}{rec['kind']}"] = rec
        for path in sorted((FIXTURES / "uspto_odp").glob("application_*.json")):
            app = json.loads(path.read_bytes())
            rec = (app.get("patentFileWrapperDataBag") or app.get("patentBag"))[0]  # ODP, or the beta API
            number = rec["applicationNumberText"]
            self.state.odp[number] = rec
            subs = {}
            for sub in ("continuity", "adjustment", "assignment"):
                sub_path = path.with_name(f"{sub}_{number.replace('/', '')}.json")
                if sub_path.exists():
                    subs[sub] = sub_path.read_bytes()
            if subs:
                self.state.odp_sub[number] = subs

    def add_ep(
        self, number: str, *, events: Iterable[Mapping[str, Any]] = (), legal: bool = True, **biblio: Any
    ) -> None:
        """Serve a synthetic OPS patent (any office, docdb number) with legal events."""
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
        """Root URL the service answers on (the in-process root; a socket server overrides it)."""
        return FAKE_ROOT

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

    # -- in process -----------------------------------------------------------------------------
    def transport(self) -> httpx.MockTransport:
        """A stateful ``httpx.MockTransport`` answering from this service (no socket, no network).

        A ``slow`` fault sleeps (asynchronously under an async client); ``drop`` and ``truncate`` raise the
        ``httpx`` errors a closed or cut connection gives.
        """

        def sync_handler(request: httpx.Request) -> httpx.Response:
            with self.in_flight(request.url.path):
                answer = self._handle_request(request)
                if answer.delay:
                    time.sleep(answer.delay)
                return self._to_response(answer, request)

        async def async_handler(request: httpx.Request) -> httpx.Response:
            with self.in_flight(request.url.path):
                answer = self._handle_request(request)
                if answer.delay:
                    await asyncio.sleep(answer.delay)
                return self._to_response(answer, request)

        class _Both(httpx.MockTransport):
            def handle_request(self, request: httpx.Request) -> httpx.Response:
                request.read()
                return sync_handler(request)

            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                await request.aread()
                return await async_handler(request)

        return _Both(sync_handler)

    def _handle_request(self, request: httpx.Request) -> Reply:
        return self.handle(
            request.method,
            request.url.raw_path.decode("ascii"),
            dict(request.headers),
            request.content,
        )

    @staticmethod
    def _to_response(answer: Reply, request: httpx.Request) -> httpx.Response:
        if answer.wire == "drop":
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        if answer.wire == "truncate":
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            )
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body, request=request)

    # -- request handling -----------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """The answer to one request (thread-safe).

        Parameters
        ----------
        method : str
        target : str
            Path with query string, as on the request line.
        headers : mapping
            Request headers (names in any case).
        body : bytes
        """
        hdrs = {k.lower(): v for k, v in headers.items()}
        parts = urlsplit(target)
        path = unquote(parts.path)
        started = self.clock()
        service = (
            "lens"
            if path.startswith("/lens")
            else "uspto"
            if path.startswith("/uspto")
            else _ops_service(path)
        )
        answer = Reply(0)
        try:
            delay = 0.0
            fault = self._take_fault(path)
            if fault is not None:
                if fault.kind == "slow":
                    delay = fault.delay
                elif fault.kind == "expire_token":
                    self.expire_tokens()
                else:
                    answer = self._fault(fault, service)
                    return answer
            if path.startswith("/epo/3.2/auth/accesstoken"):
                answer = self._token(hdrs, body)
            elif path.startswith("/epo/3.2/rest-services/"):
                answer = self._ops(method, path[len("/epo/3.2/rest-services/") :], hdrs, body, service)
            elif path.startswith("/lens/"):
                answer = self._lens(method, path[len("/lens") :], hdrs, body)
            elif path.startswith("/uspto/"):
                answer = self._odp(path[len("/uspto") :], hdrs, parse_qs(parts.query))
            else:
                answer = reply(404, b"no such route", "text/plain")
            answer.delay = delay
            return answer
        finally:
            status = {"truncate": -1, "drop": -2}.get(answer.wire, answer.status)
            with self._lock:
                self.log.append(
                    {"method": method, "path": path, "status": status, "t": started, "service": service}
                )

    @contextlib.contextmanager
    def in_flight(self, target: str) -> Iterator[None]:
        """Count a request as in progress (for :attr:`max_inflight`) from its arrival to its last byte."""
        top = unquote(urlsplit(target).path).strip("/").split("/", 1)[0]
        with self._lock:
            self.inflight[top] = self.inflight.get(top, 0) + 1
            self.max_inflight[top] = max(self.max_inflight.get(top, 0), self.inflight[top])
        try:
            yield
        finally:
            with self._lock:
                self.inflight[top] -= 1

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

    def _fault(self, f: Fault, service: str) -> Reply:
        k = f.kind
        if k == "429":
            return reply(
                429,
                (FIXTURES / "epo_ops" / "fault_429.xml").read_bytes(),
                **{"Retry-After": f.retry_after or "1"},
            )
        if k == "black":
            return reply(
                403,
                FAULT_XML.format(code="403", message="service blocked").encode(),
                **{
                    "X-Throttling-Control": self._throttle_header(black=service),
                    "Retry-After": f.retry_after or "2000",
                },
            )
        if k in ("quota_hour", "quota_week", "throttle_403", "anonymous_minute"):
            reason = {
                "quota_hour": "IndividualQuotaPerHour",
                "quota_week": "RegisteredQuotaPerWeek",
                "throttle_403": "ThrottlingControlQuota",
                "anonymous_minute": "AnonymousQuotaPerMinute",
            }[k]
            headers = {"X-Rejection-Reason": reason, "X-Throttling-Control": self._throttle_header()}
            if f.retry_after:
                headers["Retry-After"] = f.retry_after
            return reply(
                403,
                FAULT_XML.format(
                    code="403",
                    message="This request has been rejected due to the violation of Fair Use policy",
                ).encode(),
                **headers,
            )
        if k == "lens_month":
            return reply(
                429,
                b'{"error":"monthly limit"}',
                "application/json",
                **{
                    "x-rate-limit-remaining-request-per-month": "0",
                    "x-rate-limit-retry-after-seconds": "3600",
                },
            )
        if k in ("500", "503"):
            return reply(
                int(k),
                FAULT_XML.format(
                    code="SERVER.LimitedServerResources", message="Please request again later"
                ).encode(),
            )
        if k == "truncate":
            return Reply(
                200,
                b"<?xml version='1.0'?><ops:world-patent-data",
                {"Content-Type": "application/xml"},
                wire="truncate",
            )
        if k == "malformed":
            ctype = "application/json" if service in ("lens", "uspto") else "application/xml"
            return reply(
                200,
                b"<ops:world-patent-data><unclosed>" if ctype.endswith("xml") else b'{"data": [',
                ctype,
                **{"X-Throttling-Control": self._throttle_header()},
            )
        if k == "drop":
            return Reply(0, wire="drop")
        raise ValueError(f"unknown fault {k!r}")  # a typo in a test

    # -- EPO OPS --------------------------------------------------------------------------------
    def _token(self, headers: Mapping[str, str], body: bytes) -> Reply:
        expected = "Basic " + base64.b64encode(f"{self.key}:{self.secret}".encode()).decode()
        if headers.get("authorization") != expected or b"grant_type=client_credentials" not in body:
            return reply(401, b'{"error":"invalid_client"}', "application/json")
        with self._lock:
            self._seq += 1
            token = f"tok{self._seq:06d}"
            self.tokens[token] = self.clock() + self.token_lifetime
        payload = {
            "access_token": token,
            "token_type": "BearerToken",
            "expires_in": str(int(self.token_lifetime)),
            "issued_at": str(int(time.time() * 1000)),
        }
        return reply(200, json.dumps(payload).encode(), "application/json")

    def _ops(self, method: str, rest: str, headers: Mapping[str, str], body: bytes, service: str) -> Reply:
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with self._lock:
            valid = token in self.tokens and self.tokens[token] > self.clock()
        if not valid:
            return reply(
                400,
                FAULT_XML.format(code="CLIENT.InvalidAccessToken", message="invalid_access_token").encode(),
            )
        if not self._allow(f"ops:{service}", self.ops_allowance.get(service, 1000)):
            return reply(
                403,
                FAULT_XML.format(code="403", message="throttling control").encode(),
                **{
                    "X-Rejection-Reason": "ThrottlingControlQuota",
                    "X-Throttling-Control": self._throttle_header(),
                    "Retry-After": "5",
                },
            )
        with self._lock:
            self.ops_bytes += 1  # a stand-in for the byte count, enough to show the header is read
        th = {
            "X-Throttling-Control": self._throttle_header(),
            "X-IndividualQuotaPerHour-Used": str(self.ops_bytes),
        }
        not_found = (FIXTURES / "epo_ops" / "fault_404.xml").read_bytes()
        segs = rest.strip("/").split("/")
        if segs[:1] == ["published-data"] and segs[-1] == "biblio":
            numbers = (
                [n.strip() for n in body.decode().splitlines() if n.strip()]
                if method == "POST"
                else [segs[3]]
            )
            found = [d for n in numbers for d in _lookup(self.state.ep_docs, n, segs[2])]
            if not found:
                return reply(404, not_found, **th)
            out = (
                f'<?xml version="1.0" encoding="UTF-8"?><ops:world-patent-data {OPS_NAMESPACES}>'
                "<exchange-documents>" + "".join(found) + "</exchange-documents></ops:world-patent-data>"
            )
            return reply(200, out.encode(), **th)
        if segs[:1] == ["family"] and segs[-1] == "legal":
            docs = _lookup(self.state.ep_legal, segs[3], segs[2])
            return reply(200, docs[0], **th) if docs else reply(404, not_found, **th)
        return reply(404, not_found, **th)

    # -- Lens -----------------------------------------------------------------------------------
    def _lens(self, method: str, rest: str, headers: Mapping[str, str], body: bytes) -> Reply:
        if headers.get("authorization") != f"Bearer {self.lens_token}":
            return reply(401, b'{"error":"unauthorized"}', "application/json")
        if not self._allow("lens", self.lens_per_minute):
            return reply(
                429,
                b'{"error":"rate limit"}',
                "application/json",
                **{
                    "x-rate-limit-remaining-request-per-minute": "0",
                    "x-rate-limit-retry-after-seconds": "60",
                },
            )
        rl = {
            "x-rate-limit-remaining-request-per-minute": str(self._remaining("lens", self.lens_per_minute)),
            "x-rate-limit-remaining-request-per-month": "100000",
            "x-rate-limit-remaining-record-per-month": "1000000",
        }
        if rl["x-rate-limit-remaining-request-per-minute"] == "0":
            rl["x-rate-limit-retry-after-seconds"] = "60"
        if rest != "/patent/search" or method != "POST":
            return reply(404, b'{"error":"not found"}', "application/json", **rl)
        try:
            req = json.loads(body)
        except ValueError:
            return reply(400, b'{"error":"bad json"}', "application/json", **rl)
        total: int | None
        if "scroll_id" in req:
            with self._lock:
                pending = self._lens_scrolls.pop(req["scroll_id"], None)
            if pending is None:
                return reply(404, b'{"error":"scroll expired"}', "application/json", **rl)
            size = self.lens_page_limit or len(pending)
            total = None
        else:
            ids = req.get("query", {}).get("terms", {}).get("ids", [])
            pending = [self.state.lens[i] for i in ids if i in self.state.lens]
            size = int(req.get("size", 20))
            total = len(pending)
        size = max(1, min(size, self.lens_page_limit or size))
        page, rest_recs = pending[:size], pending[size:]
        if not page:
            return reply(204, b"", "application/json", **rl)
        out: dict[str, Any] = {
            "total": total if total is not None else len(page),
            "data": page,
            "results": len(page),
        }
        if rest_recs:
            with self._lock:
                self._seq += 1
                sid = f"scroll{self._seq}"
                self._lens_scrolls[sid] = rest_recs
            out["scroll_id"] = sid
            if total is None:
                out["total"] = len(page) + len(rest_recs) + 10**6  # keeps the client paging
        return reply(200, json.dumps(out).encode(), "application/json", **rl)

    # -- USPTO ODP ------------------------------------------------------------------------------
    def _odp(self, rest: str, headers: Mapping[str, str], query: Mapping[str, list[str]]) -> Reply:
        if headers.get("x-api-key") != self.odp_key:
            return reply(403, b'{"code":403,"message":"Forbidden"}', "application/json")
        base = "/api/v1/patent/applications"
        if not rest.startswith(base):
            return reply(404, b'{"code":404,"message":"Not Found"}', "application/json")
        tail = rest[len(base) :].strip("/")
        if tail == "search":
            q = (query.get("q") or [""])[0]
            field_, _, value = q.partition(":")
            hit = None
            for rec in self.state.odp.values():
                meta = rec.get("applicationMetaData") or rec
                if (field_.endswith("patentNumber") and meta.get("patentNumber") == value) or (
                    field_.endswith("earliestPublicationNumber")
                    and meta.get("earliestPublicationNumber") == value
                ):
                    hit = rec
            if hit is None:
                return reply(404, NOT_FOUND_ODP, "application/json")
            if self.odp_split:  # the sub-resources are asked for separately, as a client of the real API must
                hit = {k: v for k, v in hit.items() if k not in ODP_SUB_KEYS}
            return reply(
                200, json.dumps({"count": 1, "patentFileWrapperDataBag": [hit]}).encode(), "application/json"
            )
        app, _, sub = tail.partition("/")
        found = self.state.odp.get(app)
        if found is None:
            return reply(404, NOT_FOUND_ODP, "application/json")
        if not sub:
            return reply(
                200,
                json.dumps({"count": 1, "patentFileWrapperDataBag": [found]}).encode(),
                "application/json",
            )
        if sub in ("continuity", "adjustment", "assignment"):
            stored = self.state.odp_sub.get(app, {}).get(sub)
            if stored is None:
                part = {k: found[k] for k in ODP_SUB_KEYS if k in found and ODP_SUB_KEYS[k] == sub}
                if sub == "assignment" and not part.get("assignmentBag"):
                    return reply(404, NOT_FOUND_ODP, "application/json")  # no assignment recorded
                stored = json.dumps(
                    {"count": 1, "patentFileWrapperDataBag": [{"applicationNumberText": app, **part}]}
                ).encode()
            return reply(200, stored, "application/json")
        return reply(404, NOT_FOUND_ODP, "application/json")


def _ops_service(path: str) -> str:
    return service_of(path) if "/rest-services/" in path else "auth"


def _lookup(store: Mapping[str, Any], inp: str, fmt: str) -> list[Any]:
    """Stored items for an OPS input: the docdb number exactly, or every kind of an epodoc number."""
    key = inp.replace(".", "") if fmt == "docdb" else inp
    if fmt == "docdb":
        return [store[key]] if key in store else []
    pattern = re.compile(re.escape(key) + r"[A-Z]\d?$")
    return [v for k, v in sorted(store.items()) if pattern.match(k)]
