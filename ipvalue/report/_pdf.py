"""The PDF report: the HTML report laid out by WeasyPrint with the print CSS.

Font route: WeasyPrint shapes text with Pango/HarfBuzz and finds fonts through fontconfig; the charts are drawn
by matplotlib with the same CJK font file (see :mod:`ipvalue.report._fonts`). On Debian the system packages are
``fonts-noto-cjk`` (the glyphs) and ``libpango-1.0-0 libpangoft2-1.0-0`` (WeasyPrint's text engine); the Python
package is ``weasyprint`` (extra ``ipvalue[pdf]``).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, BinaryIO

from ipvalue._gc import gc_paused
from ipvalue.report._fonts import report_font
from ipvalue.report._html import REPORT_DPI, render_html

__all__ = ["write_pdf", "pdf_from_html", "load_weasyprint", "warm_up", "PDFBackendError"]

#: Documents up to this many characters of HTML are laid out with the cyclic garbage collector paused (the demo
#: report has about 130,000, a 300-patent book's about 470,000). WeasyPrint makes some 4,000 objects in reference
#: cycles per page, so collections run every few cells and each full one walks the whole heap (pandas, numpy and
#: the assessment in a report-writing process): pausing it took 15-20% off the PDF's CPU time, with the same peak
#: memory on both (``benchmarks/RESULTS.md``). Larger documents keep the collector, so their memory stays bounded.
GC_PAUSE_MAX_CHARS = 2_000_000

_IMPORT_LOCK = threading.Lock()


class PDFBackendError(ImportError):
    """WeasyPrint, or the system libraries it needs, are not installed (an ``ImportError``)."""


def load_weasyprint() -> Any:
    """The ``weasyprint`` module, or :class:`PDFBackendError` naming what to install."""
    try:
        weasyprint = _import_weasyprint()
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


def _import_weasyprint() -> Any:
    """``import weasyprint``, first without ``ctypes.util.find_library``'s search, then with it if that fails.

    WeasyPrint opens Pango, HarfBuzz and fontconfig through cffi, trying several names per library (Windows, macOS
    and Linux spellings). cffi loads a name that looks like a file directly and asks ``find_library`` only when
    that fails; on Linux that search runs ``ldconfig``, ``gcc`` and ``ld`` for every name tried, 54 programs in
    all, about half of the import's wall time (0.3 of 0.7 s measured, ``benchmarks/RESULTS.md``), before a later
    name (``libpango-1.0.so.0``) loads directly. So the import first runs with the search answering "not found";
    if a library then fails to load (a platform where only the search finds it), the partial import is dropped
    and it runs again with the search.
    """
    import sys

    with _IMPORT_LOCK:  # one swap of find_library at a time (threads of the service)
        if "weasyprint" in sys.modules:
            import weasyprint

            return weasyprint
        import ctypes.util

        search = ctypes.util.find_library
        ctypes.util.find_library = _not_found
        try:
            import weasyprint
        except OSError:
            for name in [m for m in sys.modules if m == "weasyprint" or m.startswith("weasyprint.")]:
                del sys.modules[name]
            ctypes.util.find_library = search
            import weasyprint
        finally:
            ctypes.util.find_library = search
        return weasyprint


def _not_found(name: str) -> None:
    """A ``ctypes.util.find_library`` that finds nothing (see :func:`_import_weasyprint`)."""
    return None


def write_pdf(
    assessment: Any,
    path: Path | BinaryIO,
    *,
    lang: str,
    dpi: int = REPORT_DPI,
    profile: Any = None,
    comparables: Any = None,
    html: str | None = None,
) -> Path | BinaryIO:
    """Write the PDF report to ``path`` (A4, summary on page 1, tables split across pages with repeated headers).

    ``html``, when given, is the document :func:`~ipvalue.report._html.render_html` already made for these
    arguments with the CJK font's CSS stack (the HTML report's own text when a CJK font is installed).

    Raises
    ------
    CJKFontNotFoundError
        No font with Chinese glyphs is installed (the PDF would show boxes); names the package to install.
    PDFBackendError
        WeasyPrint or its system libraries are missing.
    """
    font = report_font()  # fail before any work when Chinese text would not render
    load_weasyprint()
    if html is None:
        html = render_html(
            assessment,
            lang=lang,
            font_css=font.css_stack(),
            dpi=dpi,
            profile=profile,
            comparables=comparables,
        )
    return pdf_from_html(html, path)


def pdf_from_html(html: str, path: Path | BinaryIO) -> Path | BinaryIO:
    """Lay out the report's HTML document with WeasyPrint and write the PDF to ``path`` (one layout pass)."""
    weasyprint = load_weasyprint()
    with gc_paused(len(html) <= GC_PAUSE_MAX_CHARS):
        doc = weasyprint.HTML(string=html, base_url=None)
        doc.write_pdf(path if hasattr(path, "write") else str(path), pdf_identifier=False)
    return path


def warm_up(font_css: str | None = None) -> None:
    """Import WeasyPrint (about half a second) in a worker process while its parent works.

    With ``font_css`` (the report font's CSS stack), also lay out one line of Chinese text in that font, so
    fontconfig and the font file are loaded (about 0.1 s) before the report's HTML arrives.
    """
    weasyprint = load_weasyprint()
    if font_css is not None:
        import io

        html = f"<style>p {{ font-family: {font_css} }}</style><p>\u4e2d A 1</p>"
        weasyprint.HTML(string=html, base_url=None).write_pdf(io.BytesIO())
