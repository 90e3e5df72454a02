"""``profile_borrower`` and ``profile_book``: the technology profile of one firm, or of every firm of a book.

The work is split the same way on every backend (:mod:`ipvalue.runtime`: serial, process pool, Dask):

1. map, one pure function per chunk of whole firms (:func:`profile_chunk`): the patents' facts and each firm's
   raw indicators, plus the quality score of every patent in force (for the cohort's top decile);
2. reduce, in this process, on firm-level rows (about one hundredth of the patent rows): cohorts, the cohort
   quality thresholds, percentiles, scores and grades.

Chunks never split a firm, every firm-level number is computed from integer counts, medians or sums in a fixed
order, and the reduction sees the same rows whatever the backend: the percentiles are identical on every backend.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ipvalue import __version__
from ipvalue.facts import columns as C
from ipvalue.profile._grade import grade_of, reason_text, strongest_weakest
from ipvalue.profile._indicators import ProfileInputError, firm_indicators, patent_facts
from ipvalue.profile._overlay import NotchTable, apply_pd_overlay, read_notch_table
from ipvalue.profile._scoring import (
    COHORT_LEVELS,
    assign_cohorts,
    cohort_keys,
    cohort_percentiles,
    cohort_quality_thresholds,
    score_firms,
    top_decile_shares,
)
from ipvalue.profile._weights import ProfileWeights, load_profile_weights
from ipvalue.runtime import DEFAULT_CHUNK_SIZE, get_backend, require_dask

__all__ = [
    "BorrowerProfile",
    "BookProfile",
    "PeerBook",
    "peer_book",
    "profile_borrower",
    "profile_book",
    "profile_chunk",
]

NO_PEERS_EN = (
    "No peer cohort was given: the indicators are raw values only; no percentile, score or grade is computed, "
    "and the top-decile quality share (which needs a cohort) is missing."
)
NO_PEERS_ZH = (
    "未提供同业对照组：以下仅为原始指标值，不计算百分位、得分和等级；质量前10%占比需要对照组，因而缺失。"
)


# ------------------------------------------------------------------------------------------ per chunk


def _facts(
    frame: pd.DataFrame, *, as_of: dt.date, firm_column: str | None, firm: str
) -> tuple[pd.DataFrame, frozenset[str]]:
    life = None
    if "remaining_life_years" not in frame.columns:
        from ipvalue.terms import remaining_life

        life = np.asarray(remaining_life(frame, as_of), dtype=float)
    return patent_facts(frame, as_of=as_of, firm_column=firm_column, firm=firm, remaining_life_years=life)


def _quality_rows(facts: pd.DataFrame) -> pd.DataFrame:
    q = facts["quality_score"].to_numpy(dtype=float)
    m = (facts["in_force"].to_numpy() == 1.0) & ~np.isnan(q)
    return pd.DataFrame({"firm": facts["firm"].to_numpy(dtype=object)[m], "quality_score": q[m]})


def profile_chunk(
    chunk: pd.DataFrame, *, as_of: dt.date, firm_column: str, size_edges: tuple[int, ...]
) -> dict[str, Any]:
    """The map step: raw indicators of every firm of a chunk (whole firms only) and its in-force quality scores."""
    facts, available = _facts(chunk, as_of=as_of, firm_column=firm_column, firm="")
    return {
        "firms": firm_indicators(facts, available, size_edges=size_edges),
        "quality": _quality_rows(facts),
        "available": available,
    }


def _with_quality_scores(frame: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """The frame with a ``quality_score`` column from :func:`ipvalue.quality.score_quality`.

    Parameters
    ----------
    frame : DataFrame
        Patents without quality scores.
    as_of : datetime.date
        The date the scores are taken at.

    Returns
    -------
    DataFrame
        A copy with ``quality_score``.
    """
    from ipvalue.quality import score_quality

    return frame.assign(quality_score=score_quality(frame, as_of=as_of)["quality_score"].to_numpy())


def _firm_chunks(frame: pd.DataFrame, firm_column: str, chunk_size: int) -> list[pd.DataFrame]:
    if firm_column not in frame.columns:
        raise ProfileInputError([(None, firm_column, f"the peers frame has no firm column {firm_column!r}")])
    codes, _ = pd.factorize(C.texts(frame, firm_column), sort=True)
    order = np.argsort(codes, kind="stable")
    first_row = np.zeros(codes.max() + 1 if len(codes) else 0, dtype=np.int64)
    sorted_codes = codes[order]
    starts: np.ndarray = (
        np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]) if len(codes) else np.empty(0, int)
    )
    first_row[sorted_codes[starts]] = starts
    cid = first_row[sorted_codes] // max(1, int(chunk_size))
    cuts = np.flatnonzero(np.diff(cid)) + 1
    return [frame.iloc[p] for p in np.split(order, cuts) if len(p)]


def _peer_book(
    peers: Any,
    as_of: dt.date,
    firm_column: str,
    weights: ProfileWeights,
    backend: Any,
    chunk_size: int | None,
    client: Any,
) -> PeerBook:
    """Compute the peer book of a peers frame, on a backend (see :func:`peer_book`; the frame is checked here).

    Parameters
    ----------
    peers : DataFrame or dask DataFrame
        The patents of the peer firms; a pandas frame without ``quality_score`` is scored first.
    as_of : datetime.date
        The date.
    firm_column : str
        The firm column.
    weights : ProfileWeights
        Supplies the size buckets.
    backend, chunk_size, client
        Where the per-chunk step runs.

    Returns
    -------
    PeerBook
        Raw firm indicators and in-force quality rows of every firm of the book.

    Raises
    ------
    ProfileInputError
        No firm column, no patents, duplicate ids, a Dask frame without quality scores, or a split firm.
    """
    notes: list[str] = []
    kw: dict[str, Any] = {"as_of": as_of, "firm_column": firm_column, "size_edges": weights.size_edges}
    if C.is_dask_frame(peers):
        if "quality_score" not in peers.columns:
            raise ProfileInputError(
                [(None, "quality_score", "a Dask peers frame needs quality_score (value or score it first)")]
            )
        dask, _ = require_dask()
        parts = peers.shuffle(on=firm_column).to_delayed()
        if client is None and backend is not None and hasattr(backend, "client"):
            client = backend.client
        results = dask.compute(
            *[dask.delayed(profile_chunk)(p, **kw) for p in parts],
            **({"scheduler": client} if client else {}),
        )
    else:
        if not isinstance(peers, pd.DataFrame):
            raise TypeError(
                f"peers must be a DataFrame of the peer firms' patents, got {type(peers).__name__}"
            )
        if chunk_size is not None and (not isinstance(chunk_size, int | np.integer) or chunk_size < 1):
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        if "quality_score" not in peers.columns and len(peers):
            peers = _with_quality_scores(peers, as_of)
            notes.append(
                "peers' quality scores computed by ipvalue.quality.score_quality over the whole book"
            )
        C.check_unique_ids(C.patent_ids(peers), error=ProfileInputError)
        chunks = _firm_chunks(peers, firm_column, chunk_size or DEFAULT_CHUNK_SIZE)
        be, owned = get_backend(backend, client)
        try:
            results = be.map(profile_chunk, be.put(chunks), **kw)
        finally:
            if owned:
                be.close()
    results = [r for r in results if len(r["firms"])]
    if not results:
        raise ProfileInputError([(None, firm_column, "the peers frame holds no patents")])
    firms = pd.concat([r["firms"] for r in results]).sort_index()
    if firms.index.has_duplicates:  # only a Dask frame could split a firm; the shuffle prevents it
        raise ProfileInputError([(None, firm_column, "a firm was split across partitions")])
    quality = pd.concat([r["quality"] for r in results], ignore_index=True)
    return PeerBook(
        firms=firms,
        quality=quality,
        as_of=as_of,
        firm_column=firm_column,
        size_edges=tuple(weights.size_edges),
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class _Prepared:
    """A reference book made ready for one weight file's cohort rules.

    Its firms with their own top-decile shares, their cohort keys and every cohort's quality threshold.
    """

    firms: pd.DataFrame
    keys: pd.DataFrame
    thresholds: dict[str, pd.Series]


def _prepare(reference: pd.DataFrame, reference_quality: pd.DataFrame, weights: ProfileWeights) -> _Prepared:
    """The reference firms with their own top-decile shares (each measured in its own cohort of the book)."""
    ref_keys = cohort_keys(reference)
    thresholds = cohort_quality_thresholds(reference_quality, ref_keys, weights.top_quantile, COHORT_LEVELS)
    level, key, _ = assign_cohorts(ref_keys, ref_keys, weights.min_firms)
    pos = pd.Series(np.arange(len(reference)), index=reference.index)
    q = reference_quality.assign(subject=pos.reindex(reference_quality["firm"]).to_numpy())
    _, share = top_decile_shares(q, level, key, ref_keys, weights.top_quantile, thresholds)
    out = reference.copy()
    out["quality_top_decile_share"] = share
    return _Prepared(firms=out, keys=ref_keys, thresholds=thresholds)


def _against(
    subjects: pd.DataFrame,
    subject_quality: pd.DataFrame,
    prepared: _Prepared,
    weights: ProfileWeights,
    *,
    same_book: bool,
) -> dict[str, Any]:
    ref, ref_keys = prepared.firms, prepared.keys
    level, key, n_peers = assign_cohorts(cohort_keys(subjects), ref_keys, weights.min_firms)
    thr, share = top_decile_shares(
        subject_quality, level, key, ref_keys, weights.top_quantile, prepared.thresholds
    )
    if same_book:
        subj = ref
    else:
        subj = subjects.copy()
        subj["quality_top_decile_share"] = share
    names = weights.indicator_names
    pct = cohort_percentiles(ref, ref_keys, subj, level, key, names)
    scores, dims, overall = score_firms(pct, weights)
    gw = weights.global_weights()
    w = np.array([gw[n] for n in names])
    coverage = (~np.isnan(scores.to_numpy(dtype=float)) * w).sum(axis=1)
    firms = pd.DataFrame(
        {
            "score": overall,
            "grade": grade_of(overall, weights),
            "coverage": coverage,
            "cohort_level": level,
            "cohort_key": key,
            "n_peers": n_peers,
            "quality_threshold": thr,
            "size": subj["size"].to_numpy(),
            "core_class": subj["core_class"].to_numpy(dtype=object),
            "core_industry": subj["core_industry"].to_numpy(dtype=object),
        },
        index=subj.index,
    )
    return {
        "firms": firms,
        "indicators": subj[names],
        "percentiles": pct,
        "scores": scores,
        "dimensions": dims,
    }


@dataclass(frozen=True, eq=False)
class PeerBook:
    """The peers' firm-level reference, computed once and reused by every :func:`profile_borrower` call.

    Build one with :func:`peer_book` (or take ``profile_book(...).peer_book``). Profiling a borrower against it
    costs only the borrower's own indicators and one ranking among the book's firms, instead of recomputing
    every peer patent's facts; the result is identical to passing the raw peers frame.

    Attributes
    ----------
    firms : DataFrame
        Raw indicators of every peer firm (indexed by firm), with ``size``, ``core_class``, ``core_industry``,
        ``core_section``.
    quality : DataFrame
        ``firm`` and ``quality_score`` of every peer patent in force with a score.
    as_of : datetime.date
        The date the book was computed at; a profile must be taken at the same date.
    firm_column : str
    size_edges : tuple of int
        The size buckets of the weight file it was computed with.
    notes : tuple of str
        What was computed for the peers (e.g. quality scores).
    """

    firms: pd.DataFrame
    quality: pd.DataFrame
    as_of: dt.date
    firm_column: str
    size_edges: tuple[int, ...]
    notes: tuple[str, ...] = ()
    cache: dict[tuple[int, float], _Prepared] = field(default_factory=dict, repr=False)

    def prepared(self, weights: ProfileWeights, exclude: str | None = None) -> _Prepared:
        """The book ready for ``weights``' cohort rules, without the firm ``exclude`` (cached when none is left out).

        Raises
        ------
        ProfileInputError
            When ``weights`` bucket firm sizes otherwise than the book was computed with.
        """
        if tuple(weights.size_edges) != tuple(self.size_edges):
            raise ProfileInputError(
                [
                    (
                        None,
                        "weights",
                        f"the peer book was computed with size edges {list(self.size_edges)}, the weights use "
                        f"{list(weights.size_edges)}; compute the peer book with the same weights",
                    )
                ]
            )
        if exclude is not None and exclude in self.firms.index:
            firms = self.firms.drop(index=exclude)
            return _prepare(firms, self.quality[self.quality["firm"] != exclude], weights)
        cache_key = (int(weights.min_firms), float(weights.top_quantile))
        if cache_key not in self.cache:
            self.cache[cache_key] = _prepare(self.firms, self.quality, weights)
        return self.cache[cache_key]


# ------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class BookProfile:
    """Profiles of every firm of a book, each against its own cohort of the book.

    Attributes
    ----------
    firms : DataFrame
        One row per firm: ``score``, ``grade``, ``coverage`` (share of the nominal weight that was available),
        ``cohort_level``, ``cohort_key``, ``n_peers``, ``quality_threshold``, ``size``, ``core_class``.
    indicators, percentiles, scores, dimensions : DataFrame
        Raw indicators, mid-rank percentiles in the cohort (0-100), oriented scores and dimension scores.
    provenance : dict
    peer_book : PeerBook
        The book as a reference for :func:`profile_borrower` (``peers=book.peer_book`` or ``peers=book``).
    """

    firms: pd.DataFrame
    indicators: pd.DataFrame
    percentiles: pd.DataFrame
    scores: pd.DataFrame
    dimensions: pd.DataFrame
    provenance: dict[str, Any] = field(default_factory=dict)
    peer_book: PeerBook | None = field(default=None, repr=False)


@dataclass(frozen=True)
class BorrowerProfile:
    """The technology profile (技术实力画像) of one borrower.

    Attributes
    ----------
    firm : str
    as_of : datetime.date
    peers_given : bool
        False: ``indicators`` holds raw values only (no percentile, score or grade) and ``notes`` says so.
    indicators : DataFrame
        One row per indicator (index ``indicator``): ``dimension``, ``label_en``, ``label_zh``, ``unit``,
        ``direction`` (``higher`` / ``lower`` is better), ``weight`` (in the overall score), ``value``,
        ``percentile`` (mid-rank among the peers, 0-100), ``score`` (oriented, higher is better).
    dimensions : DataFrame
        One row per dimension: ``label_en``, ``label_zh``, ``weight``, ``score``.
    score : float or None
        Overall score 0-100 (the weighted mean of the dimension scores); None without peers.
    grade : str or None
        T1 (strongest) .. T10 from the thresholds in the weight file; None without peers.
    strongest, weakest : list of str
        The three strongest and three weakest scored indicators.
    reasons : dict
        ``{"zh": {"strongest": [...], "weakest": [...]}, "en": {...}}``, one sentence per indicator.
    cohort : dict
        ``level``, ``key``, ``n_peers``, ``size``, ``core_class``, ``quality_threshold``.
    counts : DataFrame
        Patents by type (rows) and legal status (columns).
    patents : DataFrame
        Every input patent with the flags the indicators were counted from.
    notes : dict
        ``{"en": [...], "zh": [...]}``: what was missing, computed or assumed.
    overlay : dict or None
        The PD overlay record (table, PD before and after, rungs, notches) when one was asked for.
    loan : ipvalue.Loan or None
        The loan with the overlaid ``probability_of_default`` (the loan given, when no overlay was asked).
    provenance : dict
        Package version, ``as_of``, input hash, weight file version and weights.
    """

    firm: str
    as_of: dt.date
    peers_given: bool
    indicators: pd.DataFrame
    dimensions: pd.DataFrame
    score: float | None
    grade: str | None
    strongest: list[str]
    weakest: list[str]
    reasons: dict[str, dict[str, list[str]]]
    cohort: dict[str, Any]
    counts: pd.DataFrame
    patents: pd.DataFrame
    notes: dict[str, list[str]]
    overlay: dict[str, Any] | None = None
    loan: Any = None
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: everything but the per-patent frame."""

        def num(v: Any) -> Any:
            if isinstance(v, float | np.floating):
                return None if np.isnan(v) else float(v)
            if isinstance(v, np.integer):
                return int(v)
            return v

        ind = [
            {"indicator": str(i), **{k: num(v) for k, v in row.items()}}
            for i, row in self.indicators.iterrows()
        ]
        dims = [
            {"dimension": str(i), **{k: num(v) for k, v in row.items()}}
            for i, row in self.dimensions.iterrows()
        ]
        return {
            "firm": self.firm,
            "as_of": self.as_of.isoformat(),
            "peers_given": self.peers_given,
            "score": self.score,
            "grade": self.grade,
            "strongest": list(self.strongest),
            "weakest": list(self.weakest),
            "reasons": self.reasons,
            "cohort": {k: num(v) for k, v in self.cohort.items()},
            "indicators": ind,
            "dimensions": dims,
            "counts": {str(t): {str(s): int(v) for s, v in row.items()} for t, row in self.counts.iterrows()},
            "notes": self.notes,
            "overlay": self.overlay,
            "provenance": self.provenance,
        }


# ------------------------------------------------------------------------------------------ entry points


def _weights(weights: ProfileWeights | Mapping[str, float] | str | Path | None) -> ProfileWeights:
    if isinstance(weights, ProfileWeights):
        return weights
    if isinstance(weights, Mapping):
        return load_profile_weights().with_weights(weights)
    return load_profile_weights(weights)


def _day_and_weights(
    as_of: dt.date | str, weights: ProfileWeights | Mapping[str, float] | str | Path | None
) -> tuple[dt.date, ProfileWeights]:
    """The checked ``as_of`` date and the weights an entry point was given.

    Parameters
    ----------
    as_of : date or str
        The profile date.
    weights : ProfileWeights, mapping of overrides, path or None
        As for :func:`profile_book`.

    Returns
    -------
    day : datetime.date
    weights : ProfileWeights

    Raises
    ------
    ProfileInputError
        A date that cannot be read.
    """
    return C.as_date(as_of, "as_of", error=ProfileInputError), _weights(weights)


def profile_book(
    peers: Any,
    *,
    as_of: dt.date | str,
    firm_column: str = "firm",
    weights: ProfileWeights | Mapping[str, float] | str | Path | None = None,
    backend: Any = None,
    chunk_size: int | None = None,
    client: Any = None,
) -> BookProfile:
    """Profile every firm of a book against its own cohort of that book.

    Parameters
    ----------
    peers : DataFrame or dask DataFrame
        The patents of many firms, one row per patent, with a ``firm_column``.
    as_of : date
    firm_column : str
    weights : ProfileWeights, mapping of overrides, or path of a weight file, optional
    backend : {"serial", "processes", "dask"} or Backend, optional
        Where the per-chunk step runs (:mod:`ipvalue.runtime`); a Dask DataFrame always runs on Dask.
    chunk_size : int, optional
        Patents per chunk (whole firms are kept together).
    client : distributed.Client, optional

    Returns
    -------
    BookProfile
    """
    day, w = _day_and_weights(as_of, weights)
    book = _peer_book(peers, day, firm_column, w, backend, chunk_size, client)
    ref, quality = book.firms, book.quality
    pos = pd.Series(np.arange(len(ref)), index=ref.index)
    subject_quality = quality.assign(subject=pos.reindex(quality["firm"]).to_numpy())
    out = _against(ref, subject_quality, book.prepared(w), w, same_book=True)
    prov = {
        "version": __version__,
        "as_of": day.isoformat(),
        "weights": w.to_dict(),
        "notes": list(book.notes),
    }
    return BookProfile(provenance=prov, peer_book=book, **out)


def peer_book(
    peers: Any,
    *,
    as_of: dt.date | str,
    firm_column: str = "firm",
    weights: ProfileWeights | Mapping[str, float] | str | Path | None = None,
    backend: Any = None,
    chunk_size: int | None = None,
    client: Any = None,
) -> PeerBook:
    """Compute the peers' reference once, for many :func:`profile_borrower` calls against the same book.

    Parameters
    ----------
    peers : DataFrame or dask DataFrame
        The patents of the peer firms, one row per patent, with a ``firm_column``.
    as_of : date
        Every profile taken against the book must use this date.
    firm_column, weights, backend, chunk_size, client
        As for :func:`profile_book`.

    Returns
    -------
    PeerBook
        Prepared for ``weights``' cohort rules (other rules with the same size buckets are prepared on first use).
    """
    day, w = _day_and_weights(as_of, weights)
    book = _peer_book(peers, day, firm_column, w, backend, chunk_size, client)
    book.prepared(w)
    return book


def _borrower_name(frame: pd.DataFrame, firm: str | None) -> str:
    if firm:
        return str(firm)
    owners = C.texts(frame, "owner")
    first = pd.Series([o.split(";")[0].strip() for o in owners if o], dtype=object)
    if len(first):
        counts = first.value_counts()
        return str(sorted(counts.index[counts == counts.max()])[0])
    return "borrower"


def profile_borrower(
    portfolio: pd.DataFrame,
    *,
    as_of: dt.date | str,
    peers: Any = None,
    firm: str | None = None,
    firm_column: str = "firm",
    weights: ProfileWeights | Mapping[str, float] | str | Path | None = None,
    loan: Any = None,
    overlay: NotchTable | Mapping[str, Any] | str | Path | None = None,
    backend: Any = None,
    chunk_size: int | None = None,
    client: Any = None,
) -> BorrowerProfile:
    """The technology profile (科技企业技术实力画像) of a borrower from its patent portfolio.

    Parameters
    ----------
    portfolio : DataFrame
        The borrower's patents (a portfolio frame, see :func:`ipvalue.read_portfolio`), ideally valued by
        :func:`ipvalue.value_portfolio` (``quality_score``, ``value``, ``remaining_life_years``). Without
        ``quality_score`` the scores are computed with :func:`ipvalue.quality.score_quality`.
    as_of : date
        The date the profile is taken on (filing windows, remaining life, fees overdue).
    peers : DataFrame, dask DataFrame, PeerBook or BookProfile, optional
        The patents of the peer firms (a bank's own book, or facts read in bulk), with a ``firm_column``; or that
        book computed once before (:func:`peer_book`, or a :func:`profile_book` result), which gives the same
        profile without recomputing the peers. Without peers the result holds raw indicators only: no
        percentile, score or grade (``notes`` says so).
    firm : str, optional
        The borrower's name (default: the most frequent first owner). A peer firm of that name is left out of
        the reference so that the borrower is not its own peer.
    firm_column : str
        The firm column of ``peers``.
    weights : ProfileWeights, mapping of weight overrides, or path, optional
        Default: ``ipvalue/data/profile_weights.json``.
    loan : ipvalue.Loan, optional
        The loan whose ``probability_of_default`` the overlay moves.
    overlay : NotchTable, mapping or path, optional
        A bank-supplied notch table (see :mod:`ipvalue.profile`); ipvalue ships none. Needs ``loan``.
    backend, chunk_size, client
        Where the peers' per-chunk step runs (see :func:`profile_book`).

    Returns
    -------
    BorrowerProfile

    Raises
    ------
    ProfileInputError
        An empty portfolio, a bad value (naming the patent and field), or an overlay without a loan.
    ProfileWeightsError, OverlayTableError
        A weight file or overlay table that cannot be used.
    """
    day = C.as_date(as_of, "as_of", error=ProfileInputError)
    _check_borrower_inputs(portfolio, overlay=overlay, loan=loan)
    w = _weights(weights)
    name = _borrower_name(portfolio, firm)
    notes = _Notes()
    frame = portfolio
    if "quality_score" not in frame.columns:
        frame = _with_quality_scores(frame, day)
        notes.add(
            "quality scores computed by ipvalue.quality.score_quality (no quality_score column)",
            "组合无质量得分列：质量得分由 ipvalue.quality.score_quality 计算",
        )
    facts, available = _facts(frame, as_of=day, firm_column=None, firm=name)
    own = firm_indicators(facts, available, size_edges=w.size_edges)
    _note_missing_inputs(available, notes)
    cohort = _own_cohort(own)
    ref_notes: list[str] = []
    if peers is None:
        standing = _unranked(own, w)
        notes.first(NO_PEERS_EN, NO_PEERS_ZH)
    else:
        book = _given_book(peers, day)
        if book is None:
            book = _peer_book(peers, day, firm_column, w, backend, chunk_size, client)
        ref_notes = list(book.notes)
        standing = _ranked(own, facts, book, name, w, cohort, notes)
    indicators, dimensions = _tables(w, standing)
    record = None
    new_loan = loan
    if overlay is not None:
        table = read_notch_table(overlay, [g for g, _ in w.grades])
        new_loan, record = apply_pd_overlay(loan, standing.grade, table)
    return BorrowerProfile(
        firm=name,
        as_of=day,
        peers_given=peers is not None,
        indicators=indicators,
        dimensions=dimensions,
        score=standing.score,
        grade=standing.grade,
        strongest=standing.strongest,
        weakest=standing.weakest,
        reasons=_reasons(indicators, standing, cohort["n_peers"], w),
        cohort=cohort,
        counts=_status_counts(frame),
        patents=facts.drop(columns=["_line_with_revenue"]),
        notes={"en": notes.en, "zh": notes.zh},
        overlay=record,
        loan=new_loan,
        provenance={
            "version": __version__,
            "as_of": day.isoformat(),
            "input_hash": C.input_hash(portfolio),
            "weights": w.to_dict(),
            "peers_notes": ref_notes,
        },
    )


# ------------------------------------------------------------------------------------------ borrower steps


@dataclass
class _Notes:
    """The notes of a borrower profile, each in English and Chinese."""

    en: list[str] = field(default_factory=list)
    zh: list[str] = field(default_factory=list)

    def add(self, en: str, zh: str) -> None:
        """Append one note.

        Parameters
        ----------
        en, zh : str
            The note in English and in Chinese.
        """
        self.en.append(en)
        self.zh.append(zh)

    def first(self, en: str, zh: str) -> None:
        """Put one note before the others.

        Parameters
        ----------
        en, zh : str
            The note in English and in Chinese.
        """
        self.en.insert(0, en)
        self.zh.insert(0, zh)


@dataclass(frozen=True)
class _Standing:
    """Where the borrower stands: its indicator values and, with peers, its percentiles, scores and grade.

    Attributes
    ----------
    values, percentiles, scores : numpy.ndarray
        One entry per indicator of the weight file (percentiles and scores NaN without peers).
    dimensions : dict
        Dimension -> score (NaN without peers).
    score : float or None
        Overall score; None without peers or when it cannot be computed.
    grade : str or None
    strongest, weakest : list of str
    """

    values: np.ndarray
    percentiles: np.ndarray
    scores: np.ndarray
    dimensions: dict[str, Any]
    score: float | None
    grade: str | None
    strongest: list[str]
    weakest: list[str]


#: the portfolio inputs whose absence leaves an indicator missing
_INDICATOR_INPUTS = frozenset(
    {"family_jurisdictions", "claims", "group", "licensed", "value", "transfers", "in_litigation", "pledged"}
)


def _check_borrower_inputs(portfolio: Any, *, overlay: Any, loan: Any) -> None:
    """Check the portfolio is a non-empty frame and an overlay comes with its loan.

    Parameters
    ----------
    portfolio : Any
        As given to :func:`profile_borrower`.
    overlay : Any
        The notch table, or None.
    loan : Any
        The loan, or None.

    Raises
    ------
    TypeError
        The portfolio is not a DataFrame.
    ProfileInputError
        An empty portfolio, or an overlay without a loan.
    """
    if not isinstance(portfolio, pd.DataFrame):
        raise TypeError(
            f"portfolio must be a DataFrame (use ipvalue.read_portfolio), got {type(portfolio).__name__}"
        )
    if not len(portfolio):
        raise ProfileInputError([(None, "patent_id", "the portfolio holds no patents")])
    if overlay is not None and loan is None:
        raise ProfileInputError(
            [(None, "loan", "the PD overlay needs the loan whose probability_of_default it moves")]
        )


def _note_missing_inputs(available: frozenset[str], notes: _Notes) -> None:
    """Say which inputs of the indicators the portfolio lacks.

    Parameters
    ----------
    available : frozenset of str
        The inputs the portfolio has.
    notes : _Notes
        Gets one note when some are absent.
    """
    missing = sorted(_INDICATOR_INPUTS - set(available))
    if missing:
        notes.add(
            f"inputs absent, their indicators missing: {', '.join(missing)}",
            f"缺少以下输入，相应指标缺失：{', '.join(missing)}",
        )


def _own_cohort(own: pd.DataFrame) -> dict[str, Any]:
    """The borrower's cohort record before any ranking: its size, core class and industry.

    Parameters
    ----------
    own : DataFrame
        The borrower's one row of firm indicators.

    Returns
    -------
    dict
        ``level``, ``key``, ``n_peers``, ``size``, ``core_class``, ``industry``, ``quality_threshold``.
    """
    return {
        "level": None,
        "key": None,
        "n_peers": 0,
        "size": int(own["size"].iloc[0]),
        "core_class": str(own["core_class"].iloc[0]),
        "industry": str(own["core_industry"].iloc[0]),
        "quality_threshold": None,
    }


def _unranked(own: pd.DataFrame, w: ProfileWeights) -> _Standing:
    """The borrower's raw indicator values, with no peers to rank them against.

    Parameters
    ----------
    own : DataFrame
        The borrower's one row of firm indicators.
    w : ProfileWeights
        Supplies the indicators and dimensions.

    Returns
    -------
    _Standing
        Raw values; NaN percentiles, scores and dimension scores; no score, grade, strongest or weakest.
    """
    names = w.indicator_names
    return _Standing(
        values=own.iloc[0][names].to_numpy(dtype=float),
        percentiles=np.full(len(names), np.nan),
        scores=np.full(len(names), np.nan),
        dimensions={d: np.nan for d in w.dimensions},
        score=None,
        grade=None,
        strongest=[],
        weakest=[],
    )


def _given_book(peers: Any, as_of: dt.date) -> PeerBook | None:
    """The peer book given as ``peers`` (itself, or a book profile's), checked for its date; None for a frame.

    Parameters
    ----------
    peers : DataFrame, dask DataFrame, PeerBook or BookProfile
        As given to :func:`profile_borrower`.
    as_of : datetime.date
        The profile date; a given peer book must have been computed at it.

    Returns
    -------
    PeerBook or None
        None when ``peers`` is a frame to compute the book from.

    Raises
    ------
    ProfileInputError
        A peer book computed at another date.
    """
    if isinstance(peers, BookProfile) and peers.peer_book is not None:
        peers = peers.peer_book
    if not isinstance(peers, PeerBook):
        return None
    if peers.as_of != as_of:
        raise ProfileInputError(
            [
                (
                    None,
                    "as_of",
                    f"the peer book was computed at {peers.as_of.isoformat()}, the profile is asked "
                    f"at {as_of.isoformat()}; compute the peer book at the profile's date",
                )
            ]
        )
    return peers


def _ranked(
    own: pd.DataFrame,
    facts: pd.DataFrame,
    book: PeerBook,
    name: str,
    w: ProfileWeights,
    cohort: dict[str, Any],
    notes: _Notes,
) -> _Standing:
    """Rank the borrower in its cohort of the peer book (the borrower's namesake left out of the book).

    Parameters
    ----------
    own : DataFrame
        The borrower's one row of firm indicators.
    facts : DataFrame
        The borrower's patent facts (for its in-force quality scores).
    book : PeerBook
        The reference.
    name : str
        The borrower's name.
    w : ProfileWeights
        The weights.
    cohort : dict
        Updated with the cohort level, key, peer count and quality threshold.
    notes : _Notes
        Gets the notes on the namesake left out and on the cohort.

    Returns
    -------
    _Standing

    Raises
    ------
    ProfileInputError
        The book holds no firm other than the borrower.
    """
    if name in book.firms.index:
        notes.add(
            f"the peers' firm {name!r} is the borrower and was left out of the reference",
            f"对照组中的同名企业 {name!r} 即借款人本身，已从对照组中剔除",
        )
        if len(book.firms) == 1:
            raise ProfileInputError(
                [(None, book.firm_column, "the peers frame holds no firm other than the borrower")]
            )
    names = w.indicator_names
    q = _quality_rows(facts).assign(subject=0)
    res = _against(own, q, book.prepared(w, exclude=name), w, same_book=False)
    f = res["firms"].iloc[0]
    score_row = res["scores"].iloc[0][names].to_numpy(dtype=float)
    cohort.update(
        level=str(f["cohort_level"]),
        key=str(f["cohort_key"]),
        n_peers=int(f["n_peers"]),
        quality_threshold=None if np.isnan(f["quality_threshold"]) else float(f["quality_threshold"]),
    )
    strongest, weakest = strongest_weakest(pd.Series(score_row, index=names), w)
    notes.add(
        f"peer cohort: {cohort['level']} = {cohort['key']} ({cohort['n_peers']} firms); industry from the bundled "
        "partial IPC-to-GB/T 4754 concordance (ipvalue.facts.industry), else the core CPC class",
        f"同业对照组：{cohort['level']} = {cohort['key']}（{cohort['n_peers']}家企业）；行业按内置的部分"
        "IPC与国民经济行业分类对照表确定，无对应时按企业核心CPC大类",
    )
    return _Standing(
        values=res["indicators"].iloc[0][names].to_numpy(dtype=float),
        percentiles=res["percentiles"].iloc[0][names].to_numpy(dtype=float),
        scores=score_row,
        dimensions=res["dimensions"].iloc[0].to_dict(),
        score=None if np.isnan(f["score"]) else float(f["score"]),
        grade=f["grade"],
        strongest=strongest,
        weakest=weakest,
    )


def _tables(w: ProfileWeights, standing: _Standing) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The borrower's indicator and dimension tables.

    Parameters
    ----------
    w : ProfileWeights
        Supplies the indicators and dimensions, their labels, units, directions and weights.
    standing : _Standing
        The borrower's values, percentiles, scores and dimension scores.

    Returns
    -------
    indicators : DataFrame
        Indexed by ``indicator``: ``dimension``, ``label_en``, ``label_zh``, ``unit``, ``direction``, ``weight``,
        ``value``, ``percentile``, ``score``.
    dimensions : DataFrame
        Indexed by ``dimension``: ``label_en``, ``label_zh``, ``weight``, ``score``.
    """
    names = w.indicator_names
    gw = w.global_weights()
    indicators = pd.DataFrame(
        {
            "dimension": [w.dimension_of(n) for n in names],
            "label_en": [w.label(n, "en") for n in names],
            "label_zh": [w.label(n, "zh") for n in names],
            "unit": [w.indicators[n]["unit"] for n in names],
            "direction": ["higher" if w.indicators[n]["direction"] > 0 else "lower" for n in names],
            "weight": [gw[n] for n in names],
            "value": standing.values,
            "percentile": standing.percentiles,
            "score": standing.scores,
        },
        index=pd.Index(names, name="indicator"),
    )
    dimensions = pd.DataFrame(
        {
            "label_en": [w.dimension_labels[d]["en"] for d in w.dimensions],
            "label_zh": [w.dimension_labels[d]["zh"] for d in w.dimensions],
            "weight": [w.weights[d] for d in w.dimensions],
            "score": [float(standing.dimensions[d]) for d in w.dimensions],
        },
        index=pd.Index(list(w.dimensions), name="dimension"),
    )
    return indicators, dimensions


def _reasons(
    indicators: pd.DataFrame, standing: _Standing, n_peers: int, w: ProfileWeights
) -> dict[str, dict[str, list[str]]]:
    """One sentence per strongest and weakest indicator, in Chinese and English.

    Parameters
    ----------
    indicators : DataFrame
        From :func:`_tables`.
    standing : _Standing
        Names the strongest and weakest indicators.
    n_peers : int
        Firms in the cohort.
    w : ProfileWeights
        Supplies the labels.

    Returns
    -------
    dict
        ``{"zh": {"strongest": [...], "weakest": [...]}, "en": {...}}``.
    """
    return {
        lang: {
            side: [
                reason_text(n, indicators.at[n, "value"], indicators.at[n, "percentile"], n_peers, w, lang)
                for n in picked
            ]
            for side, picked in (("strongest", standing.strongest), ("weakest", standing.weakest))
        }
        for lang in ("zh", "en")
    }


def _status_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Patents by type (rows) and legal status (columns); a blank type or status counts as ``unknown``.

    Parameters
    ----------
    frame : DataFrame
        The portfolio.

    Returns
    -------
    DataFrame
        The cross-table of counts.
    """
    ptype = C.texts(frame, "patent_type", lower=True)
    status = C.texts(frame, "legal_status", lower=True)
    return pd.crosstab(
        pd.Series(np.where(ptype == "", "unknown", ptype), name="patent_type"),
        pd.Series(np.where(status == "", "unknown", status), name="legal_status"),
    )
