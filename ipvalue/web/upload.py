"""Check an uploaded portfolio file before anything runs.

:func:`check_upload` refuses a file that is too big, is not a spreadsheet (CSV text or an XLSX workbook), or is an
XLSX that would unpack to far more than it weighs (a zip bomb), each with its own message. A file that passes is
read by :func:`ipvalue.read_portfolio`; the result lists the header mapping, the columns nothing maps, and every row
problem (row, patent, field, message), those of the reader and those of the API's own patent model, so the page
can show them all before the analyst runs anything.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ipvalue.errors import InputError
from ipvalue.facts.io import PortfolioError, read_portfolio
from ipvalue.report.assessment_json import frame_records
from ipvalue.service.models import PatentIn

__all__ = ["UploadRefused", "UploadCheck", "check_upload", "sniff_kind"]

_PATENTS = TypeAdapter(list[PatentIn])
_PATENT_FIELDS = frozenset(PatentIn.model_fields)
_MAX_ZIP_MEMBERS = 10_000


class UploadRefused(InputError):
    """The file is not read at all; ``code`` is ``too_big``, ``not_spreadsheet``, ``xlsx_bomb`` or ``too_many``."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class UploadCheck:
    """What the reader made of a file.

    Attributes
    ----------
    kind : {"csv", "xlsx"}
    mapping : list of (str, str)
        Header in the file and the canonical column it maps to.
    unmapped : list of str
        Headers nothing maps (kept, not used by the computation).
    issues : list of dict
        ``row`` (1-based, after the header), ``patent``, ``field``, ``message``.
    rows : list of dict
        The patents as the API takes them (``PatentIn`` fields), empty when there are issues.
    currencies : list of str
        Currencies named in the file's ``currency`` column.
    owners : list of str
        Owners named in the file, most frequent first (to fill in the borrower).
    """

    kind: str
    n_rows: int = 0
    mapping: list[tuple[str, str]] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    currencies: list[str] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Everything but the rows, JSON-ready."""
        return {
            "kind": self.kind,
            "n_rows": self.n_rows,
            "mapping": [list(m) for m in self.mapping],
            "unmapped": self.unmapped,
            "issues": self.issues,
            "currencies": self.currencies,
            "owners": self.owners,
        }


def sniff_kind(data: bytes, filename: str, *, max_unpacked: int, max_ratio: float) -> str:
    """``"xlsx"`` or ``"csv"`` from the content (not the name), or :class:`UploadRefused`."""
    name = filename.lower()
    if data[:4] == b"PK\x03\x04":
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
            infos = zf.infolist()
        except zipfile.BadZipFile as exc:
            raise UploadRefused("not_spreadsheet", "damaged zip archive, not an XLSX workbook") from exc
        names = {i.filename for i in infos}
        if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
            raise UploadRefused("not_spreadsheet", "a zip archive but not an XLSX workbook")
        total = sum(i.file_size for i in infos)
        worst = max((i.file_size / max(i.compress_size, 1) for i in infos), default=0.0)
        if len(infos) > _MAX_ZIP_MEMBERS or total > max_unpacked or worst > max_ratio:
            raise UploadRefused(
                "xlsx_bomb",
                f"the workbook would unpack to {total:,} bytes (ratio {worst:,.0f}:1); "
                f"at most {max_unpacked:,} bytes and {max_ratio:,.0f}:1 are accepted",
            )
        return "xlsx"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise UploadRefused("not_spreadsheet", "an old .xls workbook: save it as .xlsx or .csv")
    if name.endswith((".xlsx", ".xlsm")):
        raise UploadRefused("not_spreadsheet", "named .xlsx but not an XLSX workbook")
    if b"\0" in data[:65536]:
        raise UploadRefused("not_spreadsheet", "binary content, neither CSV text nor an XLSX workbook")
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise UploadRefused("not_spreadsheet", "neither UTF-8 nor GB18030 text, nor an XLSX workbook")
    first = text.lstrip().split("\n", 1)[0]
    if not first or not any(sep in first for sep in (",", "\t", ";")):
        raise UploadRefused("not_spreadsheet", "no header row with separated columns: not a CSV table")
    return "csv"


def check_upload(
    data: bytes,
    filename: str,
    *,
    max_bytes: int,
    max_unpacked: int,
    max_ratio: float,
    max_patents: int,
) -> UploadCheck:
    """Check and read a portfolio file (see the module docstring)."""
    if len(data) > max_bytes:
        raise UploadRefused(
            "too_big", f"the file has {len(data):,} bytes; at most {max_bytes:,} are accepted"
        )
    if not data:
        raise UploadRefused("not_spreadsheet", "the file is empty")
    kind = sniff_kind(data, filename, max_unpacked=max_unpacked, max_ratio=max_ratio)
    with tempfile.TemporaryDirectory(prefix="ipvalue-upload-") as tmp:
        path = Path(tmp) / f"portfolio.{kind}"
        path.write_bytes(data)
        try:
            frame = read_portfolio(path, errors="collect")
        except PortfolioError as exc:
            return UploadCheck(
                kind=kind, issues=[_issue(i.row, i.patent, i.field, i.message) for i in exc.issues]
            )
        except (ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
            raise UploadRefused("not_spreadsheet", f"the table could not be read: {exc}") from exc
    meta = frame.attrs.get("ipvalue_read", {})
    out = UploadCheck(
        kind=kind,
        n_rows=len(frame),
        mapping=[(str(k), str(v)) for k, v in meta.get("header_mapping", {}).items()],
        unmapped=[str(c) for c in meta.get("unmapped_columns", [])],
    )
    if len(frame) > max_patents:
        raise UploadRefused("too_many", f"{len(frame):,} patents; at most {max_patents:,} per assessment")
    if len(frame) == 0:
        raise UploadRefused("not_spreadsheet", "the table has a header but no rows")
    if "input_errors" in frame.columns:  # the reader's problems, each with its row, patent and field
        out.issues = _reader_issues(data, kind)
        return out
    records = frame_records(frame)
    rows = [{k: v for k, v in r.items() if k in _PATENT_FIELDS and v is not None} for r in records]
    try:
        _PATENTS.validate_python(rows)
    except ValidationError as exc:  # the API's own messages, placed on the row and field
        for e in exc.errors():
            loc = e.get("loc", ())
            i = int(loc[0]) if loc and isinstance(loc[0], int) else -1
            fld = ".".join(str(p) for p in loc[1:]) or "-"
            pid = str(rows[i].get("patent_id", "-")) if 0 <= i < len(rows) else "-"
            out.issues.append(_issue(i + 1, pid, fld, str(e.get("msg", ""))))
        return out
    out.rows = rows
    if "currency" in frame.columns:
        out.currencies = sorted({str(c) for c in frame["currency"].dropna() if str(c).strip()})
    if "owner" in frame.columns:
        counts = frame["owner"].dropna().astype(str).str.split(";").explode().str.strip().value_counts()
        out.owners = [str(o) for o in counts.index if o][:20]
    return out


def _reader_issues(data: bytes, kind: str) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="ipvalue-upload-") as tmp:
        path = Path(tmp) / f"portfolio.{kind}"
        path.write_bytes(data)
        try:
            read_portfolio(path)
        except PortfolioError as exc:
            return [_issue(i.row, i.patent, i.field, i.message) for i in exc.issues]
    return []


def _issue(row: int, patent: str, fld: str, message: str) -> dict[str, Any]:
    return {"row": int(row), "patent": str(patent), "field": str(fld), "message": str(message)}
