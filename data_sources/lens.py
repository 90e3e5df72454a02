"""Lens.org Patent API: forward citations, families and legal status worldwide.

:func:`parse_lens` reads a ``/patent/search`` answer; :class:`Lens` looks numbers up by id
(``{"query": {"terms": {"ids": [...]}}}``), pages with the scroll cursor, and follows the
``x-rate-limit-*`` headers. Bearer token from ``LENS_API_TOKEN``. Facts from
``patent_data_sources.md`` section 3 and the documented sample in ``tests/fixtures/lens``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from data_sources._base import HttpSource, Outcome, Progress, env_secret, make_patent, require
from data_sources._errors import AuthError, DataSourceError, NotFound, ParseError, QuotaExceeded, RateLimited
from data_sources._http import Secret, parse_retry_after
from ipvalue.facts.numbers import PatentNumberError, parse_number
from ipvalue.facts.patent import Patent

__all__ = ["Lens", "parse_lens", "lens_record_fields", "STATUS_MAP", "ENV_TOKEN", "PAGE_SIZE"]

ENV_TOKEN = "LENS_API_TOKEN"
BASE_URL = "https://api.lens.org"
#: records per page (Lens allows 100 to 500 depending on the plan)
PAGE_SIZE = 100

#: Lens ``legal_status.patent_status`` to the portfolio vocabulary; ``granted`` decides ACTIVE / DISCONTINUED
STATUS_MAP: dict[str, str | None] = {
    "ACTIVE": "granted",
    "PATENTED": "granted",
    "PENDING": "pending",
    "DISCONTINUED": "withdrawn",  # an application that died before grant; a granted one that stopped is lapsed
    "INACTIVE": "lapsed",  # lapsed, may be revived
    "EXPIRED": "expired",
    "UNKNOWN": None,
}

_INCLUDE = [
    "lens_id",
    "jurisdiction",
    "doc_number",
    "kind",
    "date_published",
    "biblio",
    "families",
    "legal_status",
    "claims.claims.claim_text",
]


def _d(text: Any) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def _current_owners(owners_all: Sequence[Mapping[str, Any]]) -> list[str | None]:
    """The owners of the latest recorded date in ``owners_all``.

    Each entry carries the ``recorded_date`` (and ``execution_date``) of the recorded assignment that named it
    (recorded record: "owners_all":[{"recorded_date":"2013-12-11","execution_date":"2013-12-11",...}]): the
    list reads as the owners over time, so an assignor and its assignee would both be listed and look like
    co-owners. The entries of the latest recorded date are the current owners; entries without a date count
    only when no entry has one. (The Lens documentation of the field was not found; this reading rests on the
    entries' dates.)
    """
    dated = [(o.get("recorded_date") or o.get("execution_date") or "", o) for o in owners_all]
    latest = max((d for d, _ in dated), default="")
    return [o.get("extracted_name", {}).get("value") for d, o in dated if d == latest]


def lens_record_fields(rec: Mapping[str, Any]) -> dict[str, Any]:
    """Portfolio fields of one Lens patent record (missing parts give None, never a default)."""
    bib = rec.get("biblio") or {}
    titles = {t.get("lang"): t.get("text") for t in bib.get("invention_title") or []}
    title = titles.get("en") or next(iter(titles.values()), None)
    parties = bib.get("parties") or {}
    owners = _current_owners(parties.get("owners_all") or [])
    applicants = [a.get("extracted_name", {}).get("value") for a in parties.get("applicants") or []]
    cpc = [c.get("symbol") for c in (bib.get("classifications_cpc") or {}).get("classifications") or []]
    fam = (rec.get("families") or {}).get("simple_family") or {}
    members = fam.get("members") or []
    juris = sorted({m.get("document_id", {}).get("jurisdiction") for m in members} - {None})
    legal = rec.get("legal_status") or {}
    status = STATUS_MAP.get(str(legal.get("patent_status", "UNKNOWN")).upper())
    if status == "withdrawn" and legal.get("granted"):
        status = "lapsed"
    claims_blocks = rec.get("claims") or []
    n_claims = None
    if claims_blocks:
        en = next((b for b in claims_blocks if b.get("lang") == "en"), claims_blocks[0])
        n_claims = len(en.get("claims") or []) or None
    cited_by = (bib.get("cited_by") or {}).get("patent_count")
    refs = (bib.get("references_cited") or {}).get("patent_count")
    return {
        "title": " ".join(title.split()) if title else None,
        "filing_date": _d((bib.get("application_reference") or {}).get("date")),
        "priority_date": _d(((bib.get("priority_claims") or {}).get("earliest_claim") or {}).get("date")),
        "owner": [o for o in (owners or applicants) if o],
        "cpc": list(dict.fromkeys(c for c in cpc if c)),
        "forward_citations": int(cited_by) if cited_by is not None else None,
        "backward_citations": int(refs) if refs is not None else None,
        "family_id": str(fam["family_id"]) if fam.get("family_id") is not None else None,
        "family_size": fam.get("size"),
        "family_jurisdictions": juris,
        "legal_status": status,
        "grant_date": _d(legal.get("grant_date")),
        "claims": n_claims,
        "term_adjustment_days": legal.get("term_extension_days"),
        "anticipated_term_date": _d(legal.get("anticipated_term_date")),
        "lens_id": rec.get("lens_id"),
        "publication_date": _d(rec.get("date_published")),
    }


def _record_id(rec: Mapping[str, Any]) -> str:
    return f"{rec.get('jurisdiction', '')}{rec.get('doc_number', '')}{rec.get('kind', '')}"


def _load(body: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        return body
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"Lens answer is not JSON ({exc})", source="lens") from exc
    if not isinstance(data, dict) or not isinstance(data.get("data", []), list):
        raise ParseError("Lens answer has no data list", source="lens")
    return data


def parse_lens(
    body: bytes | str | Mapping[str, Any], *, source: str = "lens", fetched_at: float | None = None
) -> list[Patent]:
    """Patents from a Lens ``/patent/search`` answer.

    Returns
    -------
    list of ipvalue.Patent
        One per record; ``patent_id`` is jurisdiction + doc number + kind (``EP2471949A1``). Extra fields:
        ``lens_id``, ``anticipated_term_date`` (a cross-check, not an authority), ``publication_date``.

    Raises
    ------
    ParseError
        Not JSON, no ``data`` list, or a record that does not validate.
    """
    import time

    data = _load(body)
    when = time.time() if fetched_at is None else fetched_at
    return [
        make_patent(_record_id(r), lens_record_fields(r), source=source, fetched_at=when)
        for r in data.get("data", [])
    ]


class Lens(HttpSource):
    """Lens.org connector.

    Parameters
    ----------
    token : str, optional
        API token; read from ``LENS_API_TOKEN`` when omitted.
    page_size : int, default 100
    **kwargs
        See :class:`data_sources._base.HttpSource`.

    Notes
    -----
    Numbers are looked up in chunks of ``page_size`` ids with ``scroll`` paging (a new ``scroll_id`` on
    every page; 204 or an empty page ends it). Each record is cached under a per-number key, so a second run
    sends nothing. ``x-rate-limit-remaining-request-per-minute`` at 0 holds requests for
    ``x-rate-limit-retry-after-seconds`` (60 s when absent); a monthly counter at 0 stops the run with
    :class:`QuotaExceeded`.
    """

    name = "lens"
    authority = ("forward_citations",)
    default_base_url = BASE_URL
    #: one request at a time: the remaining-per-minute counter is then exact (no overshoot in flight)
    default_concurrency = 1

    def __init__(self, *, token: str | None = None, page_size: int = PAGE_SIZE, **kwargs: Any):
        self._token = Secret(token) if token else None
        super().__init__(**kwargs)
        self.page_size = page_size
        self.remaining: dict[str, int] = {}

    def _check_credentials(self, env: Mapping[str, str] | None) -> None:
        self._token = self._token or env_secret(ENV_TOKEN, env)
        require(self._token, ENV_TOKEN, self.name)

    async def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token.reveal()}"}  # type: ignore[union-attr]

    def _on_response(self, resp: httpx.Response) -> None:
        h = resp.headers
        for name in ("request-per-minute", "request-per-month", "record-per-month"):
            v = h.get(f"x-rate-limit-remaining-{name}")
            if v is not None and v.strip().lstrip("-").isdigit():
                self.remaining[name] = int(v)
        if self.remaining.get("request-per-minute", 1) <= 0:
            wait = _lens_wait(resp)
            self.core.limiter.block("search", wait if wait is not None else 60.0)

    def _classify(self, what: str) -> Callable[[httpx.Response], Any]:
        def classify(resp: httpx.Response) -> Any:
            s = resp.status_code
            if s == 204:
                return "ok"
            if s == 429:
                if (
                    self.remaining.get("request-per-month") == 0
                    or self.remaining.get("record-per-month") == 0
                ):
                    return QuotaExceeded(
                        f"{what}: Lens monthly quota spent", reason="month", source=self.name, status=429
                    )
                return RateLimited(
                    f"{what}: Lens rate limit",
                    source=self.name,
                    status=429,
                    retry_after=_lens_wait(resp),
                    retryable=True,
                )
            if s in (401, 403):
                return AuthError(f"{what}: Lens refused the token", source=self.name, status=s)
            return None

        return classify

    def _key(self, n: str) -> str | None:
        return self.core.cache_key("GET", f"{self.base_url}/patent/lookup/{n}")

    async def fetch_many(
        self, numbers: Sequence[str], *, progress: Progress | None = None
    ) -> dict[str, Outcome]:
        """Facts per number from id lookups with scroll paging."""
        import asyncio

        out: dict[str, Outcome] = {}
        todo = []
        for n in numbers:
            hit = self.core.cached(self._key(n))
            if hit is None:
                todo.append(n)
                continue
            out[n] = (
                NotFound(f"{n}: not in Lens (cached)", source=self.name, status=404)
                if hit.status == 404
                else self._patent(n, json.loads(hit.body), hit.fetched_at)
            )
            if progress:
                progress(n, 1)
        chunks = [todo[i : i + self.page_size] for i in range(0, len(todo), self.page_size)]
        for res in await asyncio.gather(*(self._lookup(c, progress) for c in chunks)):
            out.update(res)
        return out

    def _patent(self, n: str, rec: Mapping[str, Any], fetched_at: float) -> Outcome:
        try:
            return make_patent(n, lens_record_fields(rec), source=self.name, fetched_at=fetched_at)
        except DataSourceError as exc:
            return exc

    async def _lookup(self, chunk: list[str], progress: Progress | None) -> dict[str, Outcome]:
        label = f"Lens lookup of {len(chunk)} ids ({chunk[0]}...)"
        records: list[tuple[Mapping[str, Any], float]] = []
        body: dict[str, Any] = {
            "query": {"terms": {"ids": chunk}},
            "size": self.page_size,
            "scroll": "1m",
            "include": _INCLUDE,
        }
        try:
            while True:
                ans = await self.core.request(
                    "POST",
                    f"{self.base_url}/patent/search",
                    kind="status",
                    service="search",
                    json_body=body,
                    auth=self._auth,
                    classify=self._classify(label),
                    on_response=self._on_response,
                    validate=_validate,
                    use_cache=False,
                    label=label,
                )
                if ans.status == 204 or not ans.body.strip():
                    break
                data = _load(ans.body)
                page = data.get("data") or []
                records += [(r, ans.fetched_at) for r in page]
                scroll_id = data.get("scroll_id")
                if not page or not scroll_id or len(records) >= int(data.get("total", 0) or 0):
                    break
                body = {"scroll_id": scroll_id, "scroll": "1m", "include": _INCLUDE}
        except DataSourceError as exc:
            if progress:
                for n in chunk:
                    progress(n, 1)
            return {n: exc for n in chunk}
        out: dict[str, Outcome] = {}
        index = _index(records)
        for n in chunk:
            found = _find(n, index)
            if found is None:
                self.core.store(self._key(n), kind="status", status=404, body=b"")
                out[n] = NotFound(f"{n}: not in the Lens answer", source=self.name, status=404)
            else:
                rec, when = found
                self.core.store(
                    self._key(n),
                    kind="status",
                    status=200,
                    body=json.dumps(rec).encode(),
                    content_type="application/json",
                )
                out[n] = self._patent(n, rec, when)
            if progress:
                progress(n, 1)
        return out


def _validate(body: bytes) -> None:
    if body.strip():
        _load(body)


def _lens_wait(resp: httpx.Response) -> float | None:
    h = resp.headers
    ms = h.get("x-rate-limit-retry-after-millis")
    if ms is not None:
        return parse_retry_after(ms, unit="ms")
    s = h.get("x-rate-limit-retry-after-seconds")
    if s is not None:
        return parse_retry_after(s)
    return parse_retry_after(h.get("retry-after"))


def _index(records: list[tuple[Mapping[str, Any], float]]) -> dict[str, tuple[Mapping[str, Any], float]]:
    idx: dict[str, tuple[Mapping[str, Any], float]] = {}
    for rec, when in records:
        cc, num, kind = rec.get("jurisdiction", ""), str(rec.get("doc_number", "")), rec.get("kind", "")
        idx.setdefault(f"{cc}{num}{kind}", (rec, when))
        idx.setdefault(f"{cc}{num}", (rec, when))
    return idx


def _find(n: str, idx: dict[str, tuple[Mapping[str, Any], float]]) -> tuple[Mapping[str, Any], float] | None:
    if n in idx:
        return idx[n]
    try:
        p = parse_number(n)
    except PatentNumberError:
        return None
    return idx.get(f"{p.country}{p.number}") if not p.kind else None
