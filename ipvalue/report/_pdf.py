"""The PDF report: the HTML report laid out by WeasyPrint with the print CSS.

Font route: WeasyPrint shapes text with Pango/HarfBuzz and finds fonts through fontconfig; the charts are drawn
by matplotlib with the same CJK font file (see :mod:`ipvalue.report._fonts`). On Debian the system packages are
``fonts-noto-cjk`` (the glyphs) and ``libpango-1.0-0 libpangoft2-1.0-0`` (WeasyPrint's text engine); the Python
package is ``weasyprint`` (extra ``ipvalue[pdf]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

from ipvalue.report._fonts import find_cjk_font
from ipvalue.report._html import REPORT_DPI, render_html

__all__ = ["write_pdf", "PDFBackendError"]


class PDFBackendError(ImportError):
    """WeasyPrint, or the system libraries it needs, are not installed (an ``ImportError``)."""


def _weasyprint() -> Any:
    try:
        import weasyprint
    except ImportError as exc:  # missing package
        raise PDFBackendError(
            "Writing a PDF report needs WeasyPrint: `pip install 'ipvalue[pdf]'` (or `pip install weasyprint`)."
        ) from exc
    except OSError as exc:  # the package is there but Pango is not
        raise PDFBackendError(
            "WeasyPrint could not load its system libraries (Pango). On Debian/Ubuntu: "
            "`apt-get install -y libpango-1.0-0 libpangoft2-1.0-0`. Original error: " + str(exc)
        ) from exc
    return weasyprint


def write_pdf(
    assessment: Any,
    path: Path | BinaryIO,
    *,
    lang: str,
    dpi: int = REPORT_DPI,
    profile: Any = None,
    comparables: Any = None,
) -> Path | BinaryIO:
    """Write the PDF report to ``path`` (A4, summary on page 1, tables split across pages with repeated headers).

    Raises
    ------
    CJKFontNotFoundError
        No font with Chinese glyphs is installed (the PDF would show boxes); names the package to install.
    PDFBackendError
        WeasyPrint or its system libraries are missing.
    """
    font = find_cjk_font()  # fail before any work when Chinese text would not render
    weasyprint = _weasyprint()
    html = render_html(
        assessment, lang=lang, font_css=font.css_stack(), dpi=dpi, profile=profile, comparables=comparables
    )
    doc = weasyprint.HTML(string=html, base_url=None)
    doc.write_pdf(path if hasattr(path, "write") else str(path), pdf_identifier=False)
    return path
