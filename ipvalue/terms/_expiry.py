"""Statutory expiry per office and type, vectorised over a portfolio frame."""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ipvalue.terms._data import TERMS_FILE, load_table
from ipvalue.terms._dates import NAT, add_years, as_date, to_day
from ipvalue.terms._inputs import TermError, TermInputs, as_frame, office_lookup, term_inputs

Errors = Literal["raise", "coerce"]
_BASES = ("filing", "earliest_filing", "grant", "us_transitional")


@dataclass(frozen=True)
class TermRule:
    """One statutory term rule: who it applies to (office, type, filing window) and how the term runs."""

    jurisdiction: str
    patent_type: str
    base: str
    years: int
    filed_from: np.datetime64 = NAT
    filed_before: np.datetime64 = NAT
    grant_years: int | None = None
    source: str = ""
    verified: bool = True
    term_adjustment: bool = True

    def describe(self) -> str:
        """Short human text of the rule, used in the ``expiry_basis`` column."""
        if self.base == "us_transitional":
            what = f"later of {self.grant_years} years from grant and {self.years} years from earliest filing"
        elif self.base == "earliest_filing":
            what = f"{self.years} years from earliest non-provisional filing"
        else:
            what = f"{self.years} years from {self.base}"
        window = []
        if not np.isnat(self.filed_from):
            window.append(f"filed from {self.filed_from}")
        if not np.isnat(self.filed_before):
            window.append(f"filed before {self.filed_before}")
        w = f" ({', '.join(window)})" if window else ""
        return f"{self.jurisdiction} {self.patent_type}: {what}{w}"


@dataclass(frozen=True)
class TermRules:
    """A set of term rules and grace periods (default: ``ipvalue/data/terms_rules.json``).

    Parameters
    ----------
    rules : tuple of TermRule
    grace_months : dict
        Office -> months of grace after a missed renewal fee before the right lapses.
    expiry_in_force : dict
        Office -> whether the expiry date is itself the last day in force (US, EP: the term ends *on* the
        anniversary) or the first day without the right (CN: the 期满终止日). Offices not listed: the latter.
    terminates_from : dict
        Office -> the day an unpaid renewal fee ends the right once the grace period has run out: ``"due_date"``
        (CN, JP, KR: retroactively from the due date) or ``"grace_end"`` (US: 35 USC 41(b), as of the end of
        the grace period). Offices not listed: not stated.
    source : str
        Where the rules came from (file name and version).

    Notes
    -----
    Build a variant with :meth:`from_dict` (e.g. another reading of the KR design term) and call its
    methods instead of the module functions; the module functions use :meth:`default`.
    """

    rules: tuple[TermRule, ...]
    grace_months: dict[str, int] = field(default_factory=dict)
    source: str = ""
    expiry_in_force: dict[str, bool] = field(default_factory=dict)
    terminates_from: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "") -> TermRules:
        """Build rules from the JSON layout of ``terms_rules.json``."""
        rules = []
        for i, r in enumerate(data["rules"]):
            if r["base"] not in _BASES:
                raise ValueError(f"term rule {i}: base {r['base']!r} is not one of {_BASES}")
            rules.append(
                TermRule(
                    jurisdiction=r["jurisdiction"].upper(),
                    patent_type=r["patent_type"],
                    base=r["base"],
                    years=int(r["years"]),
                    filed_from=to_day(r.get("filed_from")),
                    filed_before=to_day(r.get("filed_before")),
                    grant_years=r.get("grant_years"),
                    source=r.get("source", ""),
                    verified=bool(r.get("verified", True)),
                    term_adjustment=bool(r.get("term_adjustment", True)),
                )
            )
        grace = {
            k.upper(): int(v["months"] if isinstance(v, dict) else v)
            for k, v in data.get("grace_months", {}).items()
        }
        in_force = {
            k.upper(): bool(v["in_force"])
            for k, v in data.get("expiry_date_in_force", {}).items()
            if isinstance(v, dict)
        }
        ends = {
            k.upper(): str(v["terminates_from"])
            for k, v in data.get("grace_months", {}).items()
            if isinstance(v, dict) and v.get("terminates_from")
        }
        return cls(
            rules=tuple(rules),
            grace_months=grace,
            source=source or f"{data.get('name', '?')} {data.get('version', '')}",
            expiry_in_force=in_force,
            terminates_from=ends,
        )

    @classmethod
    def from_file(cls, path: str | Path) -> TermRules:
        """Read rules from a JSON file laid out like ``ipvalue/data/terms_rules.json``."""
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh), source=str(path))

    @classmethod
    def default(cls) -> TermRules:
        """The packaged rules (read once, on first use)."""
        return _default_rules()

    @property
    def offices(self) -> tuple[str, ...]:
        """Offices that have at least one rule."""
        return tuple(sorted({r.jurisdiction for r in self.rules}))

    def types_for(self, office: str) -> tuple[str, ...]:
        """Patent types that have a rule at ``office``."""
        return tuple(sorted({r.patent_type for r in self.rules if r.jurisdiction == office}))

    def last_day_in_force(self, jurisdiction: np.ndarray, expiry: np.ndarray) -> np.ndarray:
        """The last day of the term of each row: the expiry date itself, or the day before it.

        Parameters
        ----------
        jurisdiction : array of str
            Office codes (upper case).
        expiry : array of datetime64[D]
            Expiry dates (statutory or given), NaT where unknown.

        Returns
        -------
        ndarray of datetime64[D]
            ``expiry`` where the office counts the expiry date in the term (US, EP), ``expiry - 1 day``
            elsewhere (CN: the expiry date is the 期满终止日, the first day without the right); NaT kept.
        """
        e = np.asarray(expiry, dtype="datetime64[D]")
        on = office_lookup(jurisdiction, self.expiry_in_force, False).astype(bool)
        return e - np.where(on, 0, 1).astype("timedelta64[D]")

    # -- computation --------------------------------------------------------------------------------------
    def compute(self, inp: TermInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Statutory expiry for every row.

        Returns
        -------
        expiry : ndarray of datetime64[D]
            NaT where it cannot be computed.
        basis : ndarray of str
            The rule used, or ``""``.
        problem : ndarray of str
            Why it could not be computed (names the patent and the field), or ``""``.
        """
        n = len(inp)
        expiry = np.full(n, NAT)
        basis = np.full(n, "", dtype=object)
        problem = np.full(n, "", dtype=object)
        matched = np.zeros(n, dtype=bool)
        has_filing = ~np.isnat(inp.filing)
        # an earliest filing date later than the own filing date is a contradiction, not a start date
        bad_earliest = ~np.isnat(inp.earliest) & has_filing & (inp.earliest > inp.filing)
        start = np.where(
            np.isnat(inp.earliest) | bad_earliest, inp.filing, np.minimum(inp.earliest, inp.filing)
        )
        # a US reissue runs for the unexpired part of the original patent's term (35 USC 251(a)): its term and
        # the rule that sets it follow the original application, given as earliest_filing_date
        reissue = inp.us_series == "RE"
        window = np.where(reissue & ~np.isnat(start), start, inp.filing)
        for rule in self.rules:
            m = (inp.jurisdiction == rule.jurisdiction) & (inp.patent_type == rule.patent_type) & has_filing
            if not np.isnat(rule.filed_from):
                m &= window >= rule.filed_from
            if not np.isnat(rule.filed_before):
                m &= window < rule.filed_before
            if not m.any():
                continue
            matched |= m
            expiry = np.where(m, _rule_expiry(rule, inp, start), expiry)
            basis = np.where(m, rule.describe(), basis)
            _rule_problems(rule, inp, m, problem)
        for i in np.flatnonzero(reissue & np.isnat(inp.earliest) & (basis != "")):
            problem[i] = (
                f"patent {inp.ids[i]}: field earliest_filing_date is missing; a US reissue keeps the unexpired term "
                "of the original patent (35 USC 251(a)): give the original application's filing date there, or "
                "the original expiry in expiry_date"
            )
        tad_given = inp.adjustment_days > 0
        basis = np.where(
            tad_given & (basis != ""),
            basis
            + " + "
            + np.nan_to_num(inp.adjustment_days).astype(np.int64).astype(str)
            + " days adjustment",
            basis,
        )
        for i in np.flatnonzero(~matched | bad_earliest | np.isnan(inp.adjustment_days)):
            problem[i] = self._unmatched_problem(inp, int(i), bool(bad_earliest[i]))
        expiry = np.where(problem != "", NAT, expiry)
        return expiry, basis, problem

    def _unmatched_problem(self, inp: TermInputs, i: int, bad_earliest: bool) -> str:
        """Why row ``i`` has no term: the first of its fields that no rule can take, named with the patent."""
        pid, j, t = inp.ids[i], inp.jurisdiction[i], inp.patent_type[i]
        if bad_earliest:
            return f"patent {pid}: field earliest_filing_date {inp.earliest[i]} is after filing_date {inp.filing[i]}"
        if np.isnan(inp.adjustment_days[i]):
            return f"patent {pid}: field term_adjustment_days is negative or not a number"
        if j == "":
            return f"patent {pid}: field jurisdiction is missing"
        if j not in self.offices:
            return (
                f"patent {pid}: field jurisdiction {j!r} has no term rule "
                f"(offices with rules: {', '.join(self.offices)}; a WO application has no term of its own)"
            )
        if t == "":
            return f"patent {pid}: field patent_type is missing"
        if t not in self.types_for(j):
            return f"patent {pid}: field patent_type {t!r} does not exist at {j} (known: {', '.join(self.types_for(j))})"
        if np.isnat(inp.filing[i]):
            return f"patent {pid}: field filing_date is missing (needed for the {j} {t} term)"
        return f"patent {pid}: field filing_date {inp.filing[i]} falls outside every {j} {t} rule"

    def expiry_dates(self, frame: pd.DataFrame, *, errors: Errors = "raise") -> pd.Series:
        """Expiry date per patent: the ``expiry_date`` column where given, else the statutory expiry.

        Parameters
        ----------
        frame : DataFrame
            Portfolio frame (``jurisdiction``, ``patent_type``, ``filing_date``, optional ``grant_date``,
            ``earliest_filing_date``, ``term_adjustment_days``, ``expiry_date``).
        errors : {"raise", "coerce"}
            ``"raise"``: a :class:`TermError` naming every bad patent and field. ``"coerce"``: NaT for those rows.

        Returns
        -------
        Series of datetime64
            Indexed like ``frame``, named ``expiry_date``.
        """
        inp = term_inputs(frame)
        expiry, _, problem = self.compute(inp)
        has_override = ~np.isnat(inp.override)
        expiry = np.where(has_override, inp.override, expiry)
        bad = (problem != "") & ~has_override
        if errors == "raise" and bad.any():
            raise TermError([(inp.ids[i], "", problem[i]) for i in np.flatnonzero(bad)])
        return pd.Series(expiry.astype("datetime64[s]"), index=frame.index, name="expiry_date")

    def expiry_date(
        self,
        jurisdiction: str,
        patent_type: str,
        filing_date: dt.date | str | None,
        *,
        grant_date: dt.date | str | None = None,
        term_adjustment_days: int = 0,
        earliest_filing_date: dt.date | str | None = None,
    ) -> dt.date:
        """Statutory expiry of one patent (see :func:`ipvalue.terms.expiry_date`)."""
        frame = pd.DataFrame(
            {
                "patent_id": ["(unnamed patent)"],
                "jurisdiction": [jurisdiction],
                "patent_type": [patent_type],
                "filing_date": [pd.Timestamp(filing_date) if filing_date is not None else pd.NaT],
                "grant_date": [pd.Timestamp(grant_date) if grant_date is not None else pd.NaT],
                "earliest_filing_date": [
                    pd.Timestamp(earliest_filing_date) if earliest_filing_date is not None else pd.NaT
                ],
                "term_adjustment_days": [term_adjustment_days],
            }
        )
        inp = term_inputs(frame)
        expiry, _, problem = self.compute(inp)
        if problem[0]:
            raise TermError([("(unnamed patent)", "", problem[0])])
        out = as_date(expiry[0])
        assert out is not None
        return out


def _rule_expiry(rule: TermRule, inp: TermInputs, start: np.ndarray) -> np.ndarray:
    """The expiry ``rule`` gives every row (before its rows are picked), its term adjustment added."""
    if rule.base == "filing":
        e = add_years(inp.filing, rule.years)
    elif rule.base == "earliest_filing":
        e = add_years(start, rule.years)
    elif rule.base == "grant":
        e = add_years(inp.grant, rule.years)
    else:  # us_transitional
        e = np.maximum(add_years(inp.grant, rule.grant_years or 17), add_years(start, rule.years))
        e = np.where(np.isnat(inp.grant), NAT, e)
    adj = np.nan_to_num(inp.adjustment_days, nan=0.0).astype(np.int64).astype("timedelta64[D]")
    return e + adj


def _rule_problems(rule: TermRule, inp: TermInputs, m: np.ndarray, problem: np.ndarray) -> None:
    """Write into ``problem`` why rows ``m`` of ``rule`` get no term: an adjustment it refuses, a missing grant."""
    if not rule.term_adjustment:
        for i in np.flatnonzero(m & (inp.adjustment_days > 0)):
            problem[i] = (
                f"patent {inp.ids[i]}: field term_adjustment_days is {inp.adjustment_days[i]:g}, but "
                f"{rule.jurisdiction} {rule.patent_type} terms get no adjustment"
            )
    needs_grant = m & np.isnat(inp.grant) & (rule.base in ("grant", "us_transitional"))
    for i in np.flatnonzero(needs_grant):
        problem[i] = (
            f"patent {inp.ids[i]}: field grant_date is missing; the {rule.jurisdiction} {rule.patent_type} "
            f"term runs from grant"
        )


@functools.cache
def _default_rules() -> TermRules:
    return TermRules.from_dict(load_table(TERMS_FILE), source=f"ipvalue/data/{TERMS_FILE}")


def expiry_date(
    jurisdiction: str,
    patent_type: str,
    filing_date: dt.date | str | None,
    *,
    grant_date: dt.date | str | None = None,
    term_adjustment_days: int = 0,
    earliest_filing_date: dt.date | str | None = None,
) -> dt.date:
    """Statutory expiry date of one patent.

    Parameters
    ----------
    jurisdiction : str
        Office: ``US``, ``EP``, ``CN``, ``JP`` or ``KR``.
    patent_type : {"invention", "utility_model", "design"}
        ``invention`` is a US utility patent.
    filing_date : date or str
        The application's own filing date (for a PCT national phase, the international filing date).
    grant_date : date or str, optional
        Needed where the term runs from grant (US designs, pre-1995-06-08 US filings, older JP/KR designs).
    term_adjustment_days : int, default 0
        PTA / PTE / CN term compensation, added to the statutory term.
    earliest_filing_date : date or str, optional
        US only: filing date of the earliest non-provisional application whose benefit is claimed under
        35 USC 120/121/365(c)/386(c) (continuation, divisional, CIP chain). The term runs from it.

    Returns
    -------
    datetime.date

    Raises
    ------
    TermError
        Unknown office or type, a type the office does not grant, or a missing date the rule needs.

    Examples
    --------
    >>> expiry_date("CN", "design", "2021-06-01")
    datetime.date(2036, 6, 1)
    """
    return TermRules.default().expiry_date(
        jurisdiction,
        patent_type,
        filing_date,
        grant_date=grant_date,
        term_adjustment_days=term_adjustment_days,
        earliest_filing_date=earliest_filing_date,
    )


def last_day_in_force(jurisdiction: object, expiry: object) -> np.ndarray:
    """The last day of the term for each (office, expiry date) pair, under the packaged rules.

    Parameters
    ----------
    jurisdiction : str or array of str
        Office codes.
    expiry : date-like or array of date-like
        Expiry dates (statutory or given).

    Returns
    -------
    ndarray of datetime64[D]
        The expiry date where the office counts it in the term (US: 35 USC 154(a)(2), MPEP 2701; EP: EPC
        Art. 63(1)), the day before it elsewhere (CN: the 期满终止日 of 专利审查指南 Part V Ch. 9 is the first
        day without the right). The right is in force on a day ``d`` iff ``d <= last_day_in_force``.

    Examples
    --------
    >>> str(last_day_in_force("CN", "2009-09-06")[0]), str(last_day_in_force("US", "2020-01-05")[0])
    ('2009-09-05', '2020-01-05')
    """
    jur = np.atleast_1d(np.asarray(jurisdiction, dtype=object))
    jur = np.array([str(j).upper() for j in jur], dtype=object)
    exp = np.atleast_1d(pd.to_datetime(pd.Series(np.atleast_1d(np.asarray(expiry, dtype=object)))).to_numpy())
    return TermRules.default().last_day_in_force(jur, exp.astype("datetime64[D]"))


def expiry_dates(portfolio: pd.DataFrame, *, errors: Errors = "raise") -> pd.Series:
    """Expiry date of every patent in a portfolio frame, vectorised (``expiry_date`` column overrides).

    Parameters
    ----------
    portfolio : DataFrame
        Portfolio frame indexed by ``patent_id``.
    errors : {"raise", "coerce"}
        Raise a :class:`TermError` listing every bad row (default), or give NaT for them.

    Returns
    -------
    Series of datetime64, indexed like ``portfolio``.
    """
    frame, _ = as_frame(portfolio)
    return TermRules.default().expiry_dates(frame, errors=errors)


def us_earliest_filing_date(continuity: list[dict[str, Any]] | list[tuple[str, object]]) -> dt.date | None:
    """Earliest non-provisional filing date in a US continuity chain (the start of a US utility term).

    Parameters
    ----------
    continuity : list
        Parent records, either as ``(relation, filing_date)`` pairs or as dicts with the USPTO Open Data
        Portal keys ``claimParentageTypeCode`` and ``parentApplicationFilingDate``. Relations ``CON``,
        ``DIV``, ``CIP``, ``NST`` (national stage of a PCT) and ``PCT`` count; ``PRO`` (provisional,
        35 USC 119(e)) does not (35 USC 154(a)(3)); foreign priority is never in this chain.

    Returns
    -------
    datetime.date or None
        ``None`` when no counted parent is listed.
    """
    counted = {"CON", "DIV", "CIP", "NST", "PCT", "REI", "CTN"}
    dates = []
    for rec in continuity:
        if isinstance(rec, dict):
            rel, day = rec.get("claimParentageTypeCode"), rec.get("parentApplicationFilingDate")
        else:
            rel, day = rec
        if rel is None or str(rel).upper() not in counted or day is None:
            continue
        d = to_day(day)
        if not np.isnat(d):
            dates.append(d)
    return as_date(min(dates)) if dates else None


__all__ = ["TermRule", "TermRules", "expiry_date", "expiry_dates", "us_earliest_filing_date"]
