"""Request and response bodies of the HTTP API (their JSON Schemas are the OpenAPI contract)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from ipvalue.facts.patent import Patent

__all__ = [
    "AssumptionsIn",
    "PolicyIn",
    "AS_OF_MIN",
    "AS_OF_MAX",
    "PatentIn",
    "LoanIn",
    "RiskSharingIn",
    "ComparableIn",
    "MAX_COMPARABLES",
    "AssessmentRequest",
    "ValuationRequest",
    "MonitorRequest",
    "PeerPatentIn",
    "OverlayTableIn",
    "ProfileRequest",
    "ProfileOut",
    "AssessmentOut",
    "ValuationOut",
    "JobOut",
    "PolicyList",
    "Health",
    "Readiness",
    "ErrorOut",
    "MonitorOut",
    "AuditTrail",
    "ReplayOut",
    "StoreHealth",
    "WebhookIn",
    "WebhookOut",
    "WebhookList",
    "DeliveryLog",
]

Finite = Annotated[float, Field(allow_inf_nan=False)]
Rate = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
NonNeg = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Spread = Annotated[float, Field(ge=0.0, le=5.0, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=100)]

#: the dates a request may be valued or checked at (the statutory terms and fee tables cover this span)
AS_OF_MIN = dt.date(1980, 1, 1)
AS_OF_MAX = dt.date(2200, 12, 31)


def _as_of_in_range(v: dt.date) -> dt.date:
    if not AS_OF_MIN <= v <= AS_OF_MAX:
        raise ValueError(f"must lie between {AS_OF_MIN.isoformat()} and {AS_OF_MAX.isoformat()}")
    return v


AsOf = Annotated[dt.date, AfterValidator(_as_of_in_range)]


def _fact_date_in_range(v: dt.date) -> dt.date:
    if not dt.date(1850, 1, 1) <= v <= AS_OF_MAX:
        raise ValueError(f"must lie between 1850-01-01 and {AS_OF_MAX.isoformat()}")
    return v


FactDate = Annotated[dt.date, AfterValidator(_fact_date_in_range)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]


class AssumptionsIn(BaseModel):
    """Valuation assumptions a request may set (see :func:`ipvalue.value_portfolio`), each bounded.

    ``draws`` is at most the server's ``max_draws`` (checked against the settings, and ``draws`` times the
    number of patents against ``max_draw_cells``); every number is finite; mappings hold at most 64 entries.
    """

    model_config = ConfigDict(extra="forbid")

    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    tax_rate: Share | None = None
    revenue_growth: Annotated[float, Field(ge=-1.0, le=10.0, allow_inf_nan=False)] | None = None
    discount_rate: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] | None = None
    risk_free: Annotated[float, Field(ge=-0.1, le=1.0, allow_inf_nan=False)] | None = None
    royalty_rate: Share | None = None
    decay_rate: Annotated[float, Field(ge=0.0, le=5.0, allow_inf_nan=False)] | None = None
    volatility: Annotated[float, Field(gt=0.0, le=5.0, allow_inf_nan=False)] | None = None
    economic_life_years: Annotated[float, Field(gt=0.0, le=50.0, allow_inf_nan=False)] | None = None
    tab_years: Annotated[float, Field(gt=0.0, le=50.0, allow_inf_nan=False)] | None = None
    mid_year: bool | None = None
    decay_curve: Literal["exponential", "linear", "none"] | None = None
    draws: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    developer_profit_rate: Annotated[float, Field(ge=-1.0, le=10.0, allow_inf_nan=False)] | None = None
    opportunity_rate: Annotated[float, Field(ge=-1.0, le=10.0, allow_inf_nan=False)] | None = None
    development_years: Annotated[float, Field(ge=0.0, le=50.0, allow_inf_nan=False)] | None = None
    functional_obsolescence: Share | None = None
    economic_obsolescence: Share | None = None
    royalty_spread_relative: Spread | None = None
    discount_rate_sd: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] | None = None
    life_spread_relative: Share | None = None
    growth_sd: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] | None = None
    volatility_log_sd: Spread | None = None
    chunk_patents: Annotated[int, Field(ge=1, le=100_000)] | None = None
    term_errors: Literal["raise", "coerce"] | None = None
    allocation_weight: Name | None = None
    income_method: Name | None = None
    profit_share: Share | None = None
    profit_share_range: tuple[Share, Share] | None = None
    profit_share_decline: Literal["none", "linear"] | None = None
    profit_share_spread_relative: Spread | None = None
    patent_profit_rate: Annotated[float, Field(gt=-1.0, le=10.0, allow_inf_nan=False)] | None = None
    licensee_profit_rate: Annotated[float, Field(gt=-1.0, le=10.0, allow_inf_nan=False)] | None = None
    method_weights: (
        Annotated[dict[Name, Annotated[dict[Name, Share], Field(max_length=16)]], Field(max_length=16)] | None
    ) = None
    royalty_ranges: Annotated[dict[Name, tuple[Share, Share]], Field(max_length=64)] | None = None
    discount_rate_build_up: (
        Annotated[
            dict[Name, Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)]], Field(max_length=16)
        ]
        | None
    ) = None


class PolicyParameter(BaseModel):
    """One parameter of an inline policy: its value and where it comes from."""

    model_config = ConfigDict(extra="forbid")

    value: Any = Field(description="a number, true/false, text, a list or a mapping (checked by the policy)")
    source: str = Field(min_length=1, max_length=2_000)


class PolicyIn(BaseModel):
    """A collateral policy given inline (the shape of the bundled presets; every parameter is checked)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    version: str = Field(default="inline", max_length=100)
    description: str = Field(default="", max_length=2_000)
    sources: Annotated[dict[Name, Annotated[str, Field(max_length=2_000)]], Field(max_length=64)] = Field(
        default_factory=dict
    )
    references: Annotated[dict[Name, Annotated[str, Field(max_length=2_000)]], Field(max_length=64)] = Field(
        default_factory=dict
    )
    parameters: Annotated[dict[Name, PolicyParameter], Field(max_length=200)]


class PatentIn(Patent):
    """One patent given inline: its facts (as :class:`ipvalue.Patent`) and optionally its economics."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=500)
    filing_date: FactDate | None = None
    priority_date: FactDate | None = None
    earliest_filing_date: FactDate | None = None
    grant_date: FactDate | None = None
    expiry_date: FactDate | None = None
    fees_paid_through: FactDate | None = None
    term_adjustment_days: Annotated[int, Field(ge=0, le=20_000)] = 0
    claims: Count | None = None
    independent_claims: Count | None = None
    forward_citations: Count | None = None
    backward_citations: Count | None = None
    family_size: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    family_id: str | None = Field(default=None, max_length=100)
    source: str | None = Field(default=None, max_length=200)
    fetched_at: str | None = Field(default=None, max_length=64)
    jurisdiction: str | None = Field(default=None, max_length=8)
    owner: Annotated[list[Annotated[str, Field(max_length=500)]], Field(max_length=50)] = Field(
        default_factory=list
    )
    cpc: Annotated[list[Annotated[str, Field(max_length=50)]], Field(max_length=200)] = Field(
        default_factory=list
    )
    family_jurisdictions: Annotated[list[Annotated[str, Field(max_length=8)]], Field(max_length=200)] = Field(
        default_factory=list
    )
    group: str | None = Field(
        default=None, max_length=200, description="product line whose revenue the patent protects"
    )
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    revenue: NonNeg | None = None
    revenue_growth: Annotated[float, Field(ge=-1.0, le=10.0, allow_inf_nan=False)] | None = None
    royalty_rate: Rate | None = None
    profit_margin: Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)] | None = None
    tax_rate: Rate | None = None
    discount_rate: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] | None = None
    economic_life_years: Annotated[float, Field(gt=0.0, le=50.0, allow_inf_nan=False)] | None = None
    rd_cost: NonNeg | None = None
    rd_year: Annotated[int, Field(ge=1900, le=2200)] | None = None
    commercialization_cost: NonNeg | None = None
    volatility: Annotated[float, Field(gt=0.0, le=5.0, allow_inf_nan=False)] | None = None
    industry: str | None = Field(default=None, max_length=200)
    commercialized: bool | None = None


class RiskSharingIn(BaseModel):
    """Loss shares of other parties (decimals) and their caps (``null`` = uncapped)."""

    model_config = ConfigDict(extra="forbid")

    compensation_fund: Rate = 0.0
    guarantor: Rate = 0.0
    insurer: Rate = 0.0
    appraiser: Rate = 0.0
    compensation_fund_cap: NonNeg | None = None
    guarantor_cap: NonNeg | None = None
    insurer_cap: NonNeg | None = None
    appraiser_cap: NonNeg | None = None

    @model_validator(mode="after")
    def _shares(self) -> RiskSharingIn:
        total = self.compensation_fund + self.guarantor + self.insurer + self.appraiser
        if total > 1.0 + 1e-12:
            raise ValueError(f"risk-sharing shares add up to {total:.4f}, more than 1")
        return self


class LoanIn(BaseModel):
    """The loan the patents secure (see :class:`ipvalue.Loan`)."""

    model_config = ConfigDict(extra="forbid")

    amount: Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")
    tenor_years: Annotated[float, Field(gt=0.0, le=50.0, allow_inf_nan=False)]
    probability_of_default: Rate | None = None
    borrower: str | None = Field(default=None, max_length=500)
    start_date: AsOf | None = None
    coverage_trigger: Annotated[float, Field(gt=0.0, le=100.0, allow_inf_nan=False)] = 1.0
    interest_rate: Annotated[float, Field(ge=-0.1, le=1.0, allow_inf_nan=False)] = 0.05
    risk_sharing: RiskSharingIn = Field(default_factory=RiskSharingIn)


#: most comparable transactions one request may carry
MAX_COMPARABLES = 10_000
Factor = Annotated[float, Field(gt=0.0, le=10.0, allow_inf_nan=False)]


class ComparableIn(BaseModel):
    """One comparable transaction for the market approach (see :func:`ipvalue.read_comparables`).

    A lump-sum ``price`` (assignment, auction) or a ``royalty_rate`` (licence), not both; money in the run's
    currency unless ``currency`` is given (the valuation then needs no other currency: a comparable in another
    currency is refused by the market approach, naming it).
    """

    model_config = ConfigDict(extra="forbid")

    comparable_id: Annotated[str, Field(min_length=1, max_length=64)]
    price: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None
    royalty_rate: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] | None = None
    royalty_base: Literal["revenue", "profit"] | None = None
    transaction_date: FactDate
    ipc: Annotated[str, Field(min_length=3, max_length=200)] = Field(
        description="IPC / CPC code(s) of the transaction's patents, the main one first (';' between)"
    )
    industry: str | None = Field(default=None, max_length=200)
    patent_type: Literal["invention", "utility_model", "design"] | None = None
    remaining_life_years: Annotated[float, Field(ge=0.0, le=50.0, allow_inf_nan=False)] | None = None
    transaction_kind: (
        Literal[
            "assignment",
            "exclusive_licence",
            "sole_licence",
            "non_exclusive_licence",
            "judicial_auction",
            "other_auction",
        ]
        | None
    ) = None
    territory: Literal["global", "national", "regional"] | None = None
    jurisdiction: str | None = Field(
        default=None, pattern=r"^[A-Z]{2}$", description="office whose right was traded (CN, US, EP ...)"
    )
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    quality_score: Annotated[float, Field(gt=0.0, le=100.0, allow_inf_nan=False)] | None = None
    conditions_factor: Factor | None = None
    scale_factor: Factor | None = None
    source: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _price_or_rate(self) -> ComparableIn:
        if (self.price is None) == (self.royalty_rate is None):
            raise ValueError("give exactly one of `price` (lump sum) or `royalty_rate` (licence)")
        if self.royalty_base is not None and self.price is not None:
            raise ValueError("`royalty_base` goes with a `royalty_rate`, not a price")
        return self


Comparables = Annotated[list[ComparableIn], Field(min_length=1, max_length=MAX_COMPARABLES)]


def _unique_comparables(comparables: list[ComparableIn] | None) -> None:
    seen: set[str] = set()
    for c in comparables or []:
        if c.comparable_id in seen:
            raise ValueError(f"comparable_id {c.comparable_id!r} is given twice")
        seen.add(c.comparable_id)


class _PortfolioRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patents: list[PatentIn] | None = Field(
        default=None, description="the patents inline (give either `patents` or `numbers`)"
    )
    numbers: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, description="patent numbers whose facts the server fetches from public patent services"
    )
    assumptions: AssumptionsIn | None = Field(
        default=None, description="valuation assumptions (see value_portfolio); each bounded"
    )
    seed: int = Field(default=0, ge=0, lt=2**63, description="root seed of every random draw")
    as_of: AsOf = Field(description="valuation date (explicit: nothing defaults to today), 1980 to 2200")

    @model_validator(mode="after")
    def _one_source(self) -> _PortfolioRequest:
        if (self.patents is None) == (self.numbers is None):
            raise ValueError("give exactly one of `patents` (inline) or `numbers` (to fetch)")
        if not (self.patents or self.numbers):
            raise ValueError("the portfolio is empty")
        return self

    def n_patents(self) -> int:
        """Number of patents in the request."""
        return len(self.patents or self.numbers or [])


_COMPARABLES_FIELD = Field(
    default=None,
    description="comparable transactions for the market approach (市场法, at most 10,000); without them the "
    "market approach carries no weight",
)


class AssessmentRequest(_PortfolioRequest):
    """Create a collateral assessment."""

    loan: LoanIn
    policy: Annotated[str, Field(max_length=100)] | PolicyIn | None = Field(
        default=None,
        description="policy by name (GET /v1/policies) or inline; the server default when omitted",
    )
    comparables: Comparables | None = _COMPARABLES_FIELD

    @model_validator(mode="after")
    def _comparables_unique(self) -> AssessmentRequest:
        _unique_comparables(self.comparables)
        return self


class ValuationRequest(_PortfolioRequest):
    """Value a portfolio (no collateral assessment)."""

    comparables: Comparables | None = _COMPARABLES_FIELD

    @model_validator(mode="after")
    def _comparables_unique(self) -> ValuationRequest:
        _unique_comparables(self.comparables)
        return self


class PeerPatentIn(PatentIn):
    """One patent of a peer firm: its facts (as :class:`PatentIn`) and the firm that holds it."""

    firm: Name = Field(description="the peer firm the patent belongs to")


class OverlayTableIn(BaseModel):
    """A bank's PD overlay table (ipvalue ships none): its PD ladder, the notches of every grade, its source."""

    model_config = ConfigDict(extra="forbid")

    master_scale: Annotated[
        list[Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]],
        Field(min_length=2, max_length=100),
    ] = Field(description="the bank's PD ladder, strictly increasing, best rung first")
    notches: Annotated[dict[Name, Annotated[int, Field(ge=-100, le=100)]], Field(max_length=50)] = Field(
        description="notches per grade (T1..T10), negative towards a lower PD"
    )
    source: str = Field(min_length=1, max_length=2_000, description="who set the table and when")


class ProfileRequest(_PortfolioRequest):
    """Profile a borrower's technology strength (科技企业技术实力画像) against peer firms."""

    firm: Name | None = Field(default=None, description="the borrower's name (default: its main owner)")
    peers: list[PeerPatentIn] | None = Field(
        default=None,
        description="the peer firms' patents, each with its `firm` (at most the server's max_patents); "
        "without peers the profile holds raw indicators only: no percentile, score or grade",
    )
    peer_book: Name | None = Field(
        default=None,
        description="a peer book the server holds, by name (instead of inline `peers`); its peer book is "
        "computed once per valuation date",
    )
    value: bool = Field(
        default=True,
        description="value the portfolio first (quality scores, value per patent); false profiles the facts as "
        "given (the value-per-patent indicator is then missing)",
    )
    loan: LoanIn | None = Field(default=None, description="the loan whose PD the overlay moves")
    overlay: OverlayTableIn | None = Field(
        default=None, description="the bank's PD overlay table; needs `loan.probability_of_default`"
    )


class MonitorRequest(BaseModel):
    """Run the post-loan checks (贷后管理) on a stored assessment."""

    model_config = ConfigDict(extra="forbid")

    as_of: AsOf
    within_days: int = Field(default=90, ge=0, le=3660, description="renewal fees due within this many days")
    facts: list[PatentIn] | None = Field(
        default=None,
        description="current facts given by the caller; fetched through data_sources when omitted",
    )
    revalue: bool = Field(default=True, description="re-run valuation and collateral to check coverage")


class Links(BaseModel):
    """Related URLs."""

    self: str
    report: str | None = None
    result: str | None = None
    monitor: str | None = None


class ErrorDetail(BaseModel):
    """One field-level problem."""

    loc: list[str | int]
    path: str
    msg: str
    type: str
    patent: str | None = Field(default=None, description="the patent concerned, when the problem is in one")


class ErrorBody(BaseModel):
    """Error payload."""

    code: str
    message: str
    details: list[ErrorDetail] | None = None


class ErrorOut(BaseModel):
    """Every error response."""

    error: ErrorBody


class AssessmentOut(BaseModel):
    """A stored collateral assessment."""

    id: str
    status: Literal["done"]
    created_at: str
    links: Links
    input_hash: str
    output_hash: str
    version: str
    seed: int
    summary: dict[str, Any]
    patents: list[dict[str, Any]]
    liquidation: list[dict[str, Any]]
    stress: list[dict[str, Any]]
    loan: dict[str, Any]
    policy: dict[str, Any]
    assumptions: list[dict[str, Any]] | dict[str, Any]
    audit: dict[str, Any]


class ValuationOut(BaseModel):
    """A stored valuation."""

    id: str
    status: Literal["done"]
    created_at: str
    links: Links
    input_hash: str
    output_hash: str
    version: str
    seed: int
    patents: list[dict[str, Any]]
    valuation: dict[str, Any]


class ProfileOut(BaseModel):
    """A borrower's technology profile (see :class:`ipvalue.profile.BorrowerProfile`); returned, not stored."""

    id: str = Field(description="the profile's id, as recorded in the audit log")
    stored: bool = Field(description="false: the profile is returned, not stored (its audit entry is)")
    input_hash: str
    output_hash: str
    version: str
    seed: int
    firm: str
    as_of: str
    peers_given: bool
    score: float | None
    grade: str | None
    strongest: list[str]
    weakest: list[str]
    reasons: dict[str, dict[str, list[str]]]
    cohort: dict[str, Any]
    indicators: list[dict[str, Any]]
    dimensions: list[dict[str, Any]]
    counts: dict[str, dict[str, int]]
    notes: dict[str, list[str]]
    overlay: dict[str, Any] | None
    patents: list[dict[str, Any]]
    provenance: dict[str, Any]


class JobOut(BaseModel):
    """A background job (large portfolio)."""

    id: str
    kind: Literal["assessment", "valuation"]
    status: Literal["queued", "running", "done", "failed"]
    progress: float
    created_at: str
    updated_at: str
    links: Links
    error: ErrorBody | None = None


class PolicyList(BaseModel):
    """Policies the server knows."""

    default: str
    policies: list[dict[str, Any]]


class StoreHealth(BaseModel):
    """Whether the store answers, and its schema version against the one this release needs."""

    backend: str
    reachable: bool
    schema_version: int | None
    expected_schema_version: int
    error: str | None = None


class Health(BaseModel):
    """Liveness and version, and the store's reachability and schema version."""

    status: Literal["ok"]
    version: str
    store: StoreHealth | None = None


class Readiness(BaseModel):
    """Whether this instance takes work now, and why not."""

    status: Literal["ready", "not_ready"]
    reasons: list[str]
    in_flight: int
    capacity: int
    store: StoreHealth | None = None


class MonitorEventOut(BaseModel):
    """One monitoring event."""

    code: str
    severity: Literal["info", "warning", "critical"]
    patent_id: str | None
    message: str
    details: dict[str, Any]


class MonitorOut(BaseModel):
    """Result of a monitoring run."""

    assessment_id: str
    as_of: str
    level: Literal["ok", "warning", "critical"]
    exit_code: int
    n_patents: int
    n_monitored: int
    events: list[MonitorEventOut]
    coverage_ratio: float | None
    coverage_trigger: float | None
    output_hash: str
    alert_id: str | None = Field(
        default=None, description="set when the run raised an alert (pushed to the key's webhooks)"
    )


class AuditEntryOut(BaseModel):
    """One audit entry."""

    seq: int
    at: str
    action: str
    who: str
    record_id: str | None
    input_hash: str | None
    output_hash: str | None
    version: str | None
    policy: str | None
    seed: int | None
    details: dict[str, Any]
    prev_hash: str
    entry_hash: str


class AuditTrail(BaseModel):
    """The audit entries of one record, oldest first."""

    record_id: str
    entries: list[AuditEntryOut]


class ReplayOut(BaseModel):
    """Result of re-running a stored assessment."""

    assessment_id: str
    reproduced: bool
    stored_output_hash: str
    replayed_output_hash: str
    stored_version: str
    current_version: str


class WebhookIn(BaseModel):
    """Register a URL to receive this key's monitoring alerts."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, pattern=r"^https?://[^\s]+$", description="http(s) URL receiving POSTs")


class WebhookOut(BaseModel):
    """A webhook subscription (``secret`` only in the answer that created it)."""

    id: str
    url: str
    created_at: str
    secret: str | None = Field(
        default=None, description="HMAC key of the signatures: shown once, at registration"
    )


class WebhookList(BaseModel):
    """The key's active subscriptions."""

    webhooks: list[WebhookOut]


class DeliveryAttemptOut(BaseModel):
    """One attempt to deliver an alert."""

    attempt: int
    at: str
    worker: str
    outcome: Literal["delivered", "http_error", "timeout", "connection_error"]
    status_code: int | None
    error: str | None
    duration_ms: float


class DeliveryOut(BaseModel):
    """One alert to one subscription, with every attempt."""

    id: str
    webhook_id: str
    alert_id: str
    created_at: str
    status: Literal["pending", "delivered"]
    attempts: int
    delivered_at: str | None
    last_error: str | None
    attempts_log: list[DeliveryAttemptOut]


class DeliveryLog(BaseModel):
    """The delivery log of the key's webhooks."""

    deliveries: list[DeliveryOut]
