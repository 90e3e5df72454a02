"""Facts for millions of US patents from the PatentsView bulk tables, offline.

PatentsView's query API was shut down in 2026; its bulk tables (granted patents, applications, US citations,
CPC, assignees; tab-separated, zipped, one file per table) remain the way to value a whole book or a country's
granted patents offline. This module streams them with pyarrow, batch by batch, so memory stays bounded by the
size of the result, not of the citation table, and computes forward citations as it goes.

Tables read (columns as published in the PatentsView data dictionary):

``g_patent.tsv.zip``
    patent_id, patent_type (utility / design / plant / reissue ...), patent_date (grant), patent_title,
    wipo_kind, num_claims, withdrawn, filename
``g_application.tsv.zip``
    application_id, patent_id, patent_application_type, filing_date, series_code, rule_47_flag
``g_us_patent_citation.tsv.zip``
    patent_id (citing), citation_sequence, citation_patent_id (cited), citation_date, record_name, wipo_kind,
    citation_category
``g_cpc_current.tsv.zip`` (optional)
    patent_id, cpc_sequence, cpc_section, cpc_class, cpc_subclass, cpc_group, cpc_type
``g_assignee_disambiguated.tsv.zip`` (optional)
    patent_id, assignee_sequence, assignee_id, disambig_assignee_individual_name_first,
    disambig_assignee_individual_name_last, disambig_assignee_organization, assignee_type, location_id
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal, overload

import numpy as np
import pandas as pd

from ipvalue.errors import InputError

__all__ = ["read_patentsview_bulk", "BulkFormatError", "iter_table"]

_TYPE_MAP = {"utility": "invention", "design": "design"}


class BulkFormatError(InputError):
    """A bulk table is missing or does not have the published columns."""


def _require_pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "reading the PatentsView bulk tables needs pyarrow: pip install 'ipvalue[dask]' (or pyarrow)"
        ) from exc
    return pa, pacsv


def _open(path: Path) -> IO[bytes]:
    if path.suffix == ".zip":
        zf = zipfile.ZipFile(path)
        names = [n for n in zf.namelist() if not n.endswith("/")]
        if len(names) != 1:
            raise BulkFormatError(f"{path}: expected one file inside the zip, found {names}")
        return zf.open(names[0])
    return path.open("rb")


@overload
def _find(folder: Path, table: str, *, required: Literal[True]) -> Path: ...
@overload
def _find(folder: Path, table: str, *, required: bool) -> Path | None: ...
def _find(folder: Path, table: str, *, required: bool) -> Path | None:
    for name in (f"{table}.tsv.zip", f"{table}.tsv"):
        p = folder / name
        if p.exists():
            return p
    if required:
        raise BulkFormatError(f"{folder}: {table}.tsv.zip not found")
    return None


def iter_table(path: Path, columns: Iterable[str], *, block_size: int = 16 << 20) -> Iterator[pd.DataFrame]:
    """Stream a bulk table as pandas chunks holding ``columns`` (all read as text).

    Raises
    ------
    BulkFormatError
        When one of ``columns`` is not in the table's header.
    """
    pa, pacsv = _require_pyarrow()
    cols = list(columns)
    with _open(path) as fh:
        header = fh.peek(1 << 16)[: 1 << 16] if hasattr(fh, "peek") else b""
        names = (
            header.split(b"\n", 1)[0].decode("utf-8-sig", "replace").rstrip("\r").split("\t")
            if header
            else None
        )
        if names is not None:
            missing = [c for c in cols if c not in [n.strip('"') for n in names]]
            if missing:
                raise BulkFormatError(f"{path.name}: missing columns {missing}")
        reader = pacsv.open_csv(
            fh,
            read_options=pacsv.ReadOptions(block_size=block_size),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char='"', newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                include_columns=cols, column_types={c: pa.string() for c in cols}, strings_can_be_null=True
            ),
        )
        for batch in reader:
            yield batch.to_pandas()


def read_patentsview_bulk(
    folder: str | Path,
    *,
    as_of: dt.date | None = None,
    patents: Iterable[str] | None = None,
    with_titles: bool = True,
) -> pd.DataFrame:
    """Build the portfolio facts frame of US patents from the PatentsView bulk tables.

    Parameters
    ----------
    folder : path
        Folder holding the ``g_*.tsv.zip`` files (see the module docstring).
    as_of : datetime.date, optional
        Count only patents granted, and forward citations made by patents granted, on or before this date.
    patents : iterable of str, optional
        Restrict to these US numbers (any form :func:`ipvalue.normalize_number` reads). A requested number not
        in the tables is kept as a failure row (``legal_status`` empty, ``input_errors`` saying so).
    with_titles : bool
        Keep the titles (the largest column; drop them for tens of millions of patents).

    Returns
    -------
    pandas.DataFrame
        The portfolio frame (indexed by ``patent_id`` such as ``US11646472B2``) with ``filing_date``,
        ``grant_date``, ``claims``, ``forward_citations``, ``backward_citations``, ``cpc``, ``owner``,
        ``patent_type`` (utility → invention, design → design; plant and reissue patents are left out),
        ``legal_status`` (granted, or withdrawn), ``source`` = ``patentsview-bulk``.
    """
    folder = Path(folder)
    requested = _requested_numbers(patents)
    wanted = set(requested) if requested is not None else None
    cutoff = pd.Timestamp(as_of) if as_of else None
    pat = _granted_patents(folder, wanted, cutoff, with_titles=with_titles)
    ids = pat.index
    filing = _filing_dates(folder, ids)
    forward, backward = _citation_counts(folder, ids, cutoff)
    out = _facts_frame(
        pat,
        filing=filing,
        forward=forward,
        backward=backward,
        cpc=_first_cpc(folder, ids),
        owner=_owners(folder, ids),
        with_titles=with_titles,
    )
    if requested is not None:
        out = _with_missing_rows(out, requested, found=set(ids))
    return out.set_index(pd.Index(out["patent_id"].to_list(), name="patent_id"))


def _requested_numbers(patents: Iterable[str] | None) -> dict[str, str] | None:
    """Read the requested numbers, which must be US ones.

    Parameters
    ----------
    patents : iterable of str or None
        The numbers asked for, in any form :func:`ipvalue.facts.numbers.parse_number` reads; None for all.

    Returns
    -------
    dict or None
        Bare US number (as in the tables' ``patent_id``) -> canonical number, in the order asked; None when
        no selection was given.

    Raises
    ------
    ValueError
        At the first number that is not a US one.
    """
    from ipvalue.facts.numbers import parse_number

    if patents is None:
        return None
    requested: dict[str, str] = {}
    for raw in patents:
        p = parse_number(raw)
        if p.country != "US":
            raise ValueError(f"patent {raw!r}: the PatentsView tables hold US patents only")
        requested[p.number] = p.canonical
    return requested


def _granted_patents(
    folder: Path, wanted: set[str] | None, cutoff: pd.Timestamp | None, *, with_titles: bool
) -> pd.DataFrame:
    """Read the utility and design patents of ``g_patent`` (step 1).

    Parameters
    ----------
    folder : Path
        The bulk tables' folder.
    wanted : set of str or None
        Keep only these bare numbers; None keeps all.
    cutoff : pandas.Timestamp or None
        Keep only patents granted on or before it.
    with_titles : bool
        Read ``patent_title`` too.

    Returns
    -------
    pandas.DataFrame
        Indexed by the bare ``patent_id`` (first row of each), with the table's columns as text and
        ``grant_date`` as a date.
    """
    cols = ["patent_id", "patent_type", "patent_date", "wipo_kind", "num_claims", "withdrawn"]
    if with_titles:
        cols.append("patent_title")
    parts = []
    for chunk in iter_table(_find(folder, "g_patent", required=True), cols):
        chunk = chunk[chunk["patent_type"].isin(list(_TYPE_MAP))]
        if wanted is not None:
            chunk = chunk[chunk["patent_id"].isin(wanted)]
        parts.append(chunk)
    pat = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    pat["grant_date"] = pd.to_datetime(pat["patent_date"], errors="coerce", format="%Y-%m-%d")
    if cutoff is not None:
        pat = pat[pat["grant_date"] <= cutoff]
    return pat.drop_duplicates("patent_id").set_index("patent_id")


def _filing_dates(folder: Path, ids: pd.Index) -> pd.Series:
    """Read the filing dates of ``ids`` from ``g_application`` (step 2).

    Parameters
    ----------
    folder : Path
        The bulk tables' folder.
    ids : pandas.Index
        Bare patent numbers.

    Returns
    -------
    pandas.Series
        Filing date per number (NaT where the table has none; the last row of a number wins).
    """
    filing = pd.Series(pd.NaT, index=ids, dtype="datetime64[ns]")
    app_path = _find(folder, "g_application", required=True)
    for chunk in iter_table(app_path, ["patent_id", "filing_date"]):
        pos = ids.get_indexer(chunk["patent_id"])
        ok = pos >= 0
        filing.iloc[pos[ok]] = pd.to_datetime(
            chunk["filing_date"][ok], errors="coerce", format="%Y-%m-%d"
        ).to_numpy()
    return filing


def _all_grant_dates(folder: Path) -> pd.Series:
    """Read the grant date of every patent in ``g_patent`` (a light second pass).

    Parameters
    ----------
    folder : Path
        The bulk tables' folder.

    Returns
    -------
    pandas.Series
        Grant date by bare ``patent_id`` (first row of each).
    """
    dparts = [c for c in iter_table(_find(folder, "g_patent", required=True), ["patent_id", "patent_date"])]
    d = pd.concat(dparts, ignore_index=True) if dparts else pd.DataFrame(columns=["patent_id", "patent_date"])
    dates_by_id = pd.Series(
        pd.to_datetime(d["patent_date"], errors="coerce", format="%Y-%m-%d").to_numpy(),
        index=pd.Index(d["patent_id"]),
    )
    return dates_by_id[~dates_by_id.index.duplicated()]


def _citation_counts(
    folder: Path, ids: pd.Index, cutoff: pd.Timestamp | None
) -> tuple[np.ndarray, np.ndarray]:
    """Count forward and backward US citations of ``ids``, batch by batch (step 3).

    Parameters
    ----------
    folder : Path
        The bulk tables' folder.
    ids : pandas.Index
        Bare patent numbers.
    cutoff : pandas.Timestamp or None
        Count only citations made by patents granted on or before it.

    Returns
    -------
    forward : numpy.ndarray
        Citations received, per number of ``ids``.
    backward : numpy.ndarray
        Citations made, per number of ``ids``.
    """
    forward = np.zeros(len(ids), dtype=np.int64)
    backward = np.zeros(len(ids), dtype=np.int64)
    cit_path = _find(folder, "g_us_patent_citation", required=True)
    # the citing patent's grant date decides whether a citation existed at as_of; citing patents may be
    # outside the selection, so their dates come from a second light pass over g_patent
    dates_by_id = _all_grant_dates(folder) if cutoff is not None else None
    for chunk in iter_table(cit_path, ["patent_id", "citation_patent_id"]):
        citing = chunk["patent_id"]
        if dates_by_id is not None:
            pos_d = dates_by_id.index.get_indexer(citing)
            cd = np.where(pos_d >= 0, dates_by_id.to_numpy()[np.maximum(pos_d, 0)], np.datetime64("NaT"))
            keep = cd <= pd.Timestamp(cutoff).to_datetime64()
            chunk = chunk[keep]
            citing = chunk["patent_id"]
        cited_pos = ids.get_indexer(chunk["citation_patent_id"])
        forward += np.bincount(cited_pos[cited_pos >= 0], minlength=len(ids))
        citing_pos = ids.get_indexer(citing)
        backward += np.bincount(citing_pos[citing_pos >= 0], minlength=len(ids))
    return forward, backward


def _first_cpc(folder: Path, ids: pd.Index) -> pd.Series:
    """Read the first CPC group (sequence 0) of ``ids`` from the optional ``g_cpc_current`` (step 4).

    Parameters
    ----------
    folder : Path
        The bulk tables' folder.
    ids : pandas.Index
        Bare patent numbers.

    Returns
    -------
    pandas.Series
        CPC group per number; None where there is none or the table is absent.
    """
    cpc = pd.Series(None, index=ids, dtype=object)
    cpc_path = _find(folder, "g_cpc_current", required=False)
    if cpc_path is not None:
        for chunk in iter_table(cpc_path, ["patent_id", "cpc_sequence", "cpc_group"]):
            chunk = chunk[chunk["cpc_sequence"] == "0"]
            pos = ids.get_indexer(chunk["patent_id"])
            ok = pos >= 0
            cpc.iloc[pos[ok]] = chunk["cpc_group"].to_numpy()[ok]
    return cpc


def _owners(folder: Path, ids: pd.Index) -> pd.Series:
    """Read the assignees of ``ids`` from the optional ``g_assignee_disambiguated`` (step 4).

    Parameters
    ----------
    folder : Path
        The bulk tables' folder.
    ids : pandas.Index
        Bare patent numbers.

    Returns
    -------
    pandas.Series
        The organisations (or first and last names of people), ``;``-joined by assignee sequence within a
        batch and in batch order across batches; None where there is none or the table is absent.
    """
    owner = pd.Series(None, index=ids, dtype=object)
    asg_path = _find(folder, "g_assignee_disambiguated", required=False)
    if asg_path is None:
        return owner
    acols = [
        "patent_id",
        "assignee_sequence",
        "disambig_assignee_organization",
        "disambig_assignee_individual_name_first",
        "disambig_assignee_individual_name_last",
    ]
    for chunk in iter_table(asg_path, acols):
        person = (
            chunk["disambig_assignee_individual_name_first"].fillna("")
            + " "
            + chunk["disambig_assignee_individual_name_last"].fillna("")
        ).str.strip()
        name = chunk["disambig_assignee_organization"].fillna(person.where(person != ""))
        chunk = chunk.assign(name=name).dropna(subset=["name"])
        joined = chunk.sort_values("assignee_sequence").groupby("patent_id", sort=False)["name"].agg(";".join)
        pos = ids.get_indexer(joined.index)
        ok = pos >= 0
        prev = pd.Series(owner.iloc[pos[ok]].to_numpy(), dtype=object)
        new = pd.Series(joined.to_numpy()[ok], dtype=object)
        owner.iloc[pos[ok]] = new.where(prev.isna(), prev.astype(str) + ";" + new).to_numpy()
    return owner


def _facts_frame(
    pat: pd.DataFrame,
    *,
    filing: pd.Series,
    forward: np.ndarray,
    backward: np.ndarray,
    cpc: pd.Series,
    owner: pd.Series,
    with_titles: bool,
) -> pd.DataFrame:
    """Assemble the portfolio facts of the patents read, one row each, in ``pat``'s order.

    Parameters
    ----------
    pat : pandas.DataFrame
        From :func:`_granted_patents`.
    filing, cpc, owner : pandas.Series
        Filing date, first CPC group and owners, aligned with ``pat``.
    forward, backward : numpy.ndarray
        Citation counts, aligned with ``pat``.
    with_titles : bool
        Whether ``pat`` has the titles (else ``title`` is None).

    Returns
    -------
    pandas.DataFrame
        The facts, ``patent_id`` as a column (canonical number with the kind code).
    """
    ids = pat.index
    kind = pat["wipo_kind"].fillna("")
    canon = "US" + pd.Series(ids.to_numpy(), dtype=object) + kind.to_numpy().astype(object)
    return pd.DataFrame(
        {
            "patent_id": canon.to_numpy(),
            "jurisdiction": "US",
            "patent_type": pat["patent_type"].map(_TYPE_MAP).to_numpy(),
            "title": pat["patent_title"].to_numpy() if with_titles else None,
            "owner": owner.to_numpy(),
            "filing_date": filing.to_numpy(),
            "grant_date": pat["grant_date"].to_numpy(),
            "legal_status": np.where(
                pat["withdrawn"].fillna("0").isin(["1", "true", "TRUE"]), "withdrawn", "granted"
            ),
            "claims": pd.array(pd.to_numeric(pat["num_claims"], errors="coerce"), dtype="Int64"),
            "forward_citations": pd.array(forward, dtype="Int64"),
            "backward_citations": pd.array(backward, dtype="Int64"),
            "cpc": cpc.to_numpy(),
            "term_adjustment_days": pd.array(np.zeros(len(ids), dtype=np.int64), dtype="Int64"),
            "pledged": False,
            "invalidation_pending": False,
            "in_litigation": False,
            "licensed": False,
            "source": "patentsview-bulk",
            "fetched_at": None,
        }
    )


def _with_missing_rows(out: pd.DataFrame, requested: dict[str, str], *, found: set[str]) -> pd.DataFrame:
    """Append a failure row for each requested number the tables do not hold.

    Parameters
    ----------
    out : pandas.DataFrame
        From :func:`_facts_frame`.
    requested : dict
        Bare number -> canonical number, in the order asked.
    found : set of str
        The bare numbers read.

    Returns
    -------
    pandas.DataFrame
        ``out`` unchanged when nothing is missing; else ``out`` with an empty ``input_errors`` column and the
        failure rows (canonical number, ``input_errors`` saying why) after it.
    """
    lost = [requested[n] for n in requested if n not in found]
    if not lost:
        return out
    fail = pd.DataFrame(
        {
            "patent_id": lost,
            "jurisdiction": "US",
            "source": "patentsview-bulk",
            "input_errors": "not in the PatentsView bulk tables (or granted after as_of)",
        }
    )
    return pd.concat([out.assign(input_errors=""), fail], ignore_index=True)
