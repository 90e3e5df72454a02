"""The facts of one patent and the portfolio frame schema.

A portfolio is a pandas DataFrame with one row per patent, indexed by ``patent_id``. :class:`Patent` is the
same record as a validated pydantic model; :data:`FACT_COLUMNS` and :data:`ECONOMIC_COLUMNS` list the
canonical columns with their dtypes, and :func:`patents_to_frame` turns a list of :class:`Patent` into the frame.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ipvalue.facts.numbers import ParsedNumber, PatentNumberError, normalize_number, parse_number

__all__ = [
    "Patent",
    "PatentType",
    "LegalStatus",
    "PATENT_TYPES",
    "LEGAL_STATUSES",
    "FACT_COLUMNS",
    "ECONOMIC_COLUMNS",
    "COLUMN_KINDS",
    "COUNT_COLUMNS",
    "normalize_number",
    "parse_number",
    "ParsedNumber",
    "PatentNumberError",
    "patents_to_frame",
    "frame_to_patents",
]

PatentType = Literal["invention", "utility_model", "design"]
LegalStatus = Literal["pending", "granted", "lapsed", "expired", "revoked", "withdrawn"]
PATENT_TYPES: tuple[str, ...] = ("invention", "utility_model", "design")
LEGAL_STATUSES: tuple[str, ...] = ("pending", "granted", "lapsed", "expired", "revoked", "withdrawn")

#: canonical fact columns and their kind: str, date, int, float, bool, list (";"-separated text)
FACT_COLUMNS: dict[str, str] = {
    "patent_id": "str",
    "jurisdiction": "str",
    "patent_type": "str",
    "title": "str",
    "owner": "list",
    "filing_date": "date",
    "priority_date": "date",
    "earliest_filing_date": "date",
    "grant_date": "date",
    "expiry_date": "date",
    "term_adjustment_days": "int",
    "legal_status": "str",
    "fees_paid_through": "date",
    "claims": "int",
    "independent_claims": "int",
    "forward_citations": "int",
    "backward_citations": "int",
    "family_id": "str",
    "family_size": "int",
    "family_jurisdictions": "list",
    "cpc": "list",
    "entity_size": "str",
    "pledged": "bool",
    "invalidation_pending": "bool",
    "in_litigation": "bool",
    "licensed": "bool",
    "source": "str",
    "fetched_at": "str",
}

#: optional economics, per patent or per ``group`` (a product line whose revenue the patents protect)
ECONOMIC_COLUMNS: dict[str, str] = {
    "group": "str",
    "currency": "str",
    "revenue": "float",
    "revenue_growth": "float",
    "royalty_rate": "float",
    "income_method": "str",
    "profit_share": "float",
    "profit_margin": "float",
    "tax_rate": "float",
    "discount_rate": "float",
    "economic_life_years": "float",
    "rd_cost": "float",
    "rd_year": "int",
    "commercialization_cost": "float",
    "volatility": "float",
    "industry": "str",
    "commercialized": "bool",
}

COLUMN_KINDS: dict[str, str] = {**FACT_COLUMNS, **ECONOMIC_COLUMNS}

#: the count columns, which may not be negative (checked by :class:`Patent` and by the portfolio reader)
COUNT_COLUMNS = (
    "term_adjustment_days",
    "claims",
    "independent_claims",
    "forward_citations",
    "backward_citations",
    "family_size",
)


class Patent(BaseModel):
    """The facts of one patent, and optionally its economics.

    Parameters
    ----------
    patent_id : str
        Any number form :func:`normalize_number` reads; stored in canonical form.
    jurisdiction : str
        Two-letter office code; taken from the number when omitted.
    patent_type : {"invention", "utility_model", "design"}
        Taken from the number when it tells (CN application type digit, CN kind code, US ``D``).
    legal_status : {"pending", "granted", "lapsed", "expired", "revoked", "withdrawn"} or None
        Defaults to ``"granted"`` for a patent described by hand; None means unknown (a fetched record whose
        sources did not state it), which collateral eligibility fails with ``STATUS_UNKNOWN``.
    filing_date, priority_date, grant_date, expiry_date, fees_paid_through : datetime.date, optional
        ``expiry_date`` overrides the statutory expiry computed by :mod:`ipvalue.terms`.
    owner, cpc, family_jurisdictions : list of str
        Several owners / classes / offices.

    Notes
    -----
    Extra fields are kept (``model_config.extra = "allow"``) so that bank-specific columns survive a round trip.
    """

    model_config = ConfigDict(extra="allow", validate_assignment=True, frozen=False)

    patent_id: str
    jurisdiction: str | None = None
    patent_type: PatentType | None = None
    title: str | None = None
    owner: list[str] = Field(default_factory=list)
    filing_date: dt.date | None = None
    priority_date: dt.date | None = None
    earliest_filing_date: dt.date | None = None
    grant_date: dt.date | None = None
    expiry_date: dt.date | None = None
    term_adjustment_days: int = Field(default=0, ge=0)
    legal_status: LegalStatus | None = "granted"
    fees_paid_through: dt.date | None = None
    claims: int | None = Field(default=None, ge=0)
    independent_claims: int | None = Field(default=None, ge=0)
    forward_citations: int | None = Field(default=None, ge=0)
    backward_citations: int | None = Field(default=None, ge=0)
    family_id: str | None = None
    family_size: int | None = Field(default=None, ge=1)
    family_jurisdictions: list[str] = Field(default_factory=list)
    cpc: list[str] = Field(default_factory=list)
    entity_size: Literal["large", "small", "micro"] | None = None
    pledged: bool = False
    invalidation_pending: bool = False
    in_litigation: bool = False
    licensed: bool = False
    source: str | None = None
    fetched_at: str | None = None

    @field_validator("patent_id", mode="before")
    @classmethod
    def _canonical_id(cls, v: object) -> str:
        return normalize_number(v)

    @field_validator("owner", "cpc", "family_jurisdictions", mode="before")
    @classmethod
    def _split_list(cls, v: object) -> object:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return []
        if isinstance(v, str):
            return [p.strip() for p in v.replace("；", ";").split(";") if p.strip()]
        return v

    @model_validator(mode="after")
    def _fill_from_number(self) -> Patent:
        parsed = parse_number(self.patent_id)
        if self.jurisdiction is None:
            object.__setattr__(self, "jurisdiction", parsed.country)
        elif self.jurisdiction.upper() != self.jurisdiction:
            object.__setattr__(self, "jurisdiction", self.jurisdiction.upper())
        if self.patent_type is None:
            object.__setattr__(self, "patent_type", parsed.patent_type or "invention")
        elif parsed.patent_type is not None and parsed.patent_type != self.patent_type:
            raise ValueError(
                f"patent {self.patent_id}: patent_type {self.patent_type!r} contradicts the number, "
                f"which says {parsed.patent_type!r}"
            )
        if self.filing_date and self.grant_date and self.grant_date < self.filing_date:
            raise ValueError(
                f"patent {self.patent_id}: grant_date {self.grant_date} is before filing_date {self.filing_date}"
            )
        if self.expiry_date and self.grant_date and self.expiry_date < self.grant_date:
            raise ValueError(
                f"patent {self.patent_id}: expiry_date {self.expiry_date} is before grant_date {self.grant_date}"
            )
        if self.priority_date and self.filing_date and self.priority_date > self.filing_date:
            raise ValueError(
                f"patent {self.patent_id}: priority_date {self.priority_date} is after filing_date {self.filing_date}"
            )
        return self

    def to_row(self) -> dict[str, object]:
        """One portfolio-frame row: lists joined with ``;``, extra fields kept."""
        d = self.model_dump()
        for col in ("owner", "cpc", "family_jurisdictions"):
            d[col] = ";".join(d[col]) if d[col] else None
        return d


def patents_to_frame(patents: list[Patent]) -> pd.DataFrame:
    """Turn patents into a portfolio frame indexed by ``patent_id`` (dates as ``datetime64[ns]``)."""
    rows = [p.to_row() for p in patents]
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=list(FACT_COLUMNS))
    for col, kind in FACT_COLUMNS.items():
        if col not in df.columns:
            df[col] = None
        if kind == "date":
            df[col] = pd.to_datetime(df[col])
    return df.set_index("patent_id", drop=False).rename_axis(index="patent_id")


def frame_to_patents(frame: pd.DataFrame) -> list[Patent]:
    """Turn a portfolio frame back into :class:`Patent` objects (NaN read as missing)."""
    out = []
    for rec in frame.reset_index(drop=True).to_dict("records"):
        clean = {}
        for k, v in rec.items():
            if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
                continue
            if isinstance(v, pd.Timestamp):
                v = v.date()
            clean[k] = v
        out.append(Patent(**clean))
    return out
