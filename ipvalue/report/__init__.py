"""The collateral report: HTML, PDF and Excel, in Chinese and English.

``write(assessment, path, lang="zh")`` picks the format from the file suffix:

- ``.html`` one self-contained file (inline CSS, charts embedded as PNG), readable on screen and in print;
- ``.pdf`` the same document paginated by WeasyPrint (A4, summary on page 1, repeated table headers), with Chinese
  glyphs from a CJK font (Debian ``fonts-noto-cjk``);
- ``.xlsx`` Summary, Patents, Haircuts, Liquidation, Stress, Assumptions and Audit sheets.

Charts are in :mod:`ipvalue.report.charts` (functions returning matplotlib Figures, no pyplot).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipvalue.report._fonts import CJKFont, CJKFontNotFoundError, find_cjk_font
from ipvalue.report._labels import LANGS

if TYPE_CHECKING:  # pragma: no cover
    from ipvalue.collateral._assessment import CollateralAssessment
    from ipvalue.report import charts

__all__ = [
    "write",
    "to_bytes",
    "MEDIA_TYPES",
    "render_html",
    "FORMATS",
    "LANGS",
    "charts",
    "find_cjk_font",
    "CJKFont",
    "CJKFontNotFoundError",
    "PDFBackendError",
]

#: file suffix -> (module, writer function)
FORMATS: dict[str, tuple[str, str]] = {
    ".html": ("ipvalue.report._html", "write_html"),
    ".htm": ("ipvalue.report._html", "write_html"),
    ".pdf": ("ipvalue.report._pdf", "write_pdf"),
    ".xlsx": ("ipvalue.report._xlsx", "write_xlsx"),
}


#: file suffix -> HTTP media type
MEDIA_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".pdf": "application/pdf",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _writer(suffix: str) -> Any:
    module, func = FORMATS[suffix]
    return getattr(importlib.import_module(module), func)


def _suffix(name: str) -> str:
    suffix = name if name.startswith(".") else "." + name
    suffix = suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"unknown report format {name!r}: use one of {', '.join(sorted(FORMATS))}")
    return suffix


def to_bytes(assessment: CollateralAssessment, fmt: str, *, lang: str = "zh") -> bytes:
    """The report as bytes, without a file (for the HTTP service).

    Parameters
    ----------
    assessment : CollateralAssessment
    fmt : {"html", "pdf", "xlsx"}
        Format, with or without the leading dot; :data:`MEDIA_TYPES` gives its media type.
    lang : {"zh", "en"}
    """
    import io

    from ipvalue.report._labels import check_lang

    check_lang(lang)
    buf = io.BytesIO()
    _writer(_suffix(fmt))(assessment, buf, lang=lang)
    return buf.getvalue()


def write(
    assessment: CollateralAssessment,
    path: str | Path,
    *,
    lang: str = "zh",
    profile: Any = None,
    comparables: Any = None,
) -> Path:
    """Write the collateral report of ``assessment`` to ``path``; the format follows the suffix.

    Parameters
    ----------
    assessment : CollateralAssessment
        The result of :func:`ipvalue.assess_collateral`.
    path : str or pathlib.Path
        Target file ending in ``.html``, ``.pdf`` or ``.xlsx`` (any case). Its folder must exist.
    lang : {"zh", "en"}
        Language of every label. Codes (reasons, flags) are translated; patent titles and owners are shown as
        they are, escaped.
    profile : BorrowerProfile, optional
        The borrower's technology profile (:func:`ipvalue.profile_borrower`): HTML and PDF gain a section with
        its radar chart and indicator table, Excel a "Profile" sheet.
    comparables : MarketResult or DataFrame, optional
        The comparables behind ``value_market`` (:func:`ipvalue.valuation.market_comparables`): HTML and PDF gain
        the market approach section, Excel a "Comparables" sheet, each comparable the market approach used for a
        patent it weighed, with every adjustment factor.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        Unknown suffix or language.
    CJKFontNotFoundError
        For a PDF, or for Chinese charts, when no font with Chinese glyphs is installed (names the package).
    PDFBackendError
        For a PDF, when WeasyPrint or its system libraries are missing (a subclass of ``ImportError``).
    """
    from ipvalue.report._labels import check_lang

    check_lang(lang)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"cannot tell the report format of {str(path)!r}: use one of {', '.join(sorted(FORMATS))}"
        )
    if not path.parent.exists():
        raise FileNotFoundError(f"folder {str(path.parent)!r} does not exist (writing {path.name!r})")
    extra = {k: v for k, v in (("profile", profile), ("comparables", comparables)) if v is not None}
    return _writer(suffix)(assessment, path, lang=lang, **extra)


def render_html(assessment: CollateralAssessment, *, lang: str = "zh") -> str:
    """The HTML report as a string (for the HTTP service)."""
    from ipvalue.report._html import render_html as _render

    return _render(assessment, lang=lang)


def __getattr__(name: str) -> Any:
    if name == "charts":
        return importlib.import_module("ipvalue.report.charts")
    if name == "PDFBackendError":
        return importlib.import_module("ipvalue.report._pdf").PDFBackendError
    raise AttributeError(f"module 'ipvalue.report' has no attribute {name!r}")
