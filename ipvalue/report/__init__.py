"""The collateral report: HTML, PDF and Excel, in Chinese and English.

``write(assessment, path, lang="zh")`` picks the format from the file suffix:

- ``.html`` one self-contained file (inline CSS, charts embedded as SVG), readable on screen and in print;
- ``.pdf`` the same document paginated by WeasyPrint (A4, summary on page 1, repeated table headers), with Chinese
  glyphs from a CJK font (Debian ``fonts-noto-cjk``);
- ``.xlsx`` Summary, Patents, Haircuts, Liquidation, Stress, Assumptions and Audit sheets.

Charts are in :mod:`ipvalue.report.charts` (functions returning matplotlib Figures, no pyplot); the HTML and PDF
embed the same charts as SVG (``ipvalue/report/_svgcharts.py``), drawn without matplotlib.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipvalue.report._fonts import CJKFont, CJKFontNotFoundError, find_cjk_font, report_font
from ipvalue.report._labels import LANGS

if TYPE_CHECKING:  # pragma: no cover
    from ipvalue.collateral._assessment import CollateralAssessment
    from ipvalue.report import charts

__all__ = [
    "write",
    "write_all",
    "start_pdf_worker",
    "PDFWorker",
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
    path = _checked_path(path)
    extra = {k: v for k, v in (("profile", profile), ("comparables", comparables)) if v is not None}
    return _writer(path.suffix.lower())(assessment, path, lang=lang, **extra)


def _checked_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(
            f"cannot tell the report format of {str(path)!r}: use one of {', '.join(sorted(FORMATS))}"
        )
    if not path.parent.exists():
        raise FileNotFoundError(f"folder {str(path.parent)!r} does not exist (writing {path.name!r})")
    return path


def _pdf_pool(processes: int | None) -> Any:
    """A one-process pool (forked: it shares what this process computed) for the PDF layout, or None.

    By default only when the 1-minute load average is below the core count: then the second process finds CPU
    time a single one would not use (2 cores, load 0.8-1.3, which a previous run of the demo alone makes: demo
    3.3-3.5 s with the worker, 3.9-4.1 s without); on a machine busier than that the worker only waits for the
    CPU (load 2-2.6: 6% slower; measured in ``benchmarks/RESULTS.md``).
    """
    import multiprocessing
    import os

    if processes == 0 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    if processes is None:
        cores = os.cpu_count() or 1
        if cores < 2 or os.getloadavg()[0] >= cores:
            return None
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))


class PDFWorker:
    """A forked process that imports WeasyPrint and loads the report font, then lays out the PDFs handed to it.

    Made by :func:`start_pdf_worker` and given to :func:`write_all` (``pdf_worker=``), which uses it and shuts it
    down; :meth:`close` shuts it down when it is not used.
    """

    def __init__(self, pool: Any, font_css: str) -> None:
        import gc

        from ipvalue.report import _pdf

        self._pool = pool
        gc.freeze()  # the worker is forked now: its garbage collector leaves our objects (and pages) alone
        try:
            self._warm = pool.submit(_pdf.warm_up, font_css)
        finally:
            gc.unfreeze()

    def ready(self) -> None:
        """Wait for the warm-up; raises :class:`PDFBackendError` (from the worker) when WeasyPrint is missing."""
        self._warm.result()

    def submit(self, html: str, path: Path) -> Any:
        """Lay out ``html`` and write the PDF to ``path`` in the worker; a ``concurrent.futures.Future``."""
        from ipvalue.report import _pdf

        return self._pool.submit(_pdf.pdf_from_html, html, path)

    def close(self) -> None:
        """Shut the worker down (after the layouts handed to it are done)."""
        self._pool.shutdown()


def start_pdf_worker(processes: int | None = None) -> PDFWorker | None:
    """Start the PDF worker early, so WeasyPrint's import and the font loading run while this process works.

    ``processes`` as for :func:`write_all`; None when no worker would be used (then :func:`write_all` lays the
    PDF out in this process). Raises :class:`CJKFontNotFoundError` when no CJK font is installed.
    """
    font_css = report_font().css_stack()
    pool = _pdf_pool(processes)
    return None if pool is None else PDFWorker(pool, font_css)


def write_all(
    assessment: CollateralAssessment,
    paths: Sequence[str | Path],
    *,
    lang: str = "zh",
    profile: Any = None,
    comparables: Any = None,
    processes: int | None = None,
    pdf_worker: PDFWorker | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> list[Path]:
    """Write one report in several formats, sharing the work between them.

    The HTML document is rendered once (each chart drawn once) and feeds both the ``.html`` file and the
    ``.pdf`` layout; the PDF (most of the time) can be laid out in a worker process while this one writes the
    other files (see ``processes``). Each file is the one :func:`write` would write with the same arguments.

    Parameters
    ----------
    assessment, lang, profile, comparables
        As for :func:`write`.
    paths : sequence of str or pathlib.Path
        Files to write, each ending in ``.html``, ``.pdf`` or ``.xlsx``; their folders must exist.
    processes : int, optional
        ``0`` writes everything in this process; ``None`` (default) lays the PDF out in one forked worker when
        the platform can fork and the 1-minute load average is below the core count (and there are two or more);
        ``1`` does so whatever the cores and the load.
    pdf_worker : PDFWorker, optional
        A worker from :func:`start_pdf_worker` (started earlier, so it is warm); used for the PDF instead of a
        new one, and shut down on return. ``processes`` is then ignored.
    meanwhile : callable, optional
        Called once with no arguments: while the worker lays the PDF out (for example to print results), or,
        when there is no worker or no PDF, after the checks and before anything is rendered or written. Its
        exceptions propagate (the worker is shut down).

    Returns
    -------
    list of pathlib.Path
        The paths written, in the order given.

    Raises
    ------
    ValueError, FileNotFoundError, CJKFontNotFoundError, PDFBackendError
        As for :func:`write`, before any file is written.
    """
    from ipvalue.report import _pdf
    from ipvalue.report._html import render_html as _render
    from ipvalue.report._html import write_html
    from ipvalue.report._labels import check_lang

    check_lang(lang)
    checked = [_checked_path(p) for p in paths]
    kinds = [FORMATS[p.suffix.lower()][1] for p in checked]
    extra = {k: v for k, v in (("profile", profile), ("comparables", comparables)) if v is not None}
    worker, font_css = pdf_worker, None
    try:
        if "write_pdf" in kinds and worker is None:
            worker = start_pdf_worker(processes)  # warms up while this process renders the HTML
        if "write_pdf" in kinds:
            font_css = report_font().css_stack()  # fail before any work when Chinese text would not render
            if worker is None:
                _pdf.load_weasyprint()  # fail before any work when WeasyPrint is missing
        if meanwhile is not None and (worker is None or "write_pdf" not in kinds):
            meanwhile()  # nothing runs beside this process
            meanwhile = None
        html = ""
        if "write_html" in kinds or "write_pdf" in kinds:
            html = _render(assessment, lang=lang, font_css=font_css, **extra)
        pending = []
        if worker is not None and "write_pdf" in kinds:
            worker.ready()  # PDFBackendError from the worker, before any file is written
            pending = [
                worker.submit(html, p) for p, k in zip(checked, kinds, strict=True) if k == "write_pdf"
            ]
            if meanwhile is not None:
                meanwhile()  # while the worker lays the PDF out
        for path, kind in zip(checked, kinds, strict=True):
            if kind == "write_pdf" and worker is None:
                _pdf.pdf_from_html(html, path)
            elif kind == "write_html":
                write_html(assessment, path, lang=lang, html=html)
            elif kind != "write_pdf":
                _writer(path.suffix.lower())(assessment, path, lang=lang, **extra)
        for job in pending:
            job.result()
    finally:
        if worker is not None:
            worker.close()
    return checked


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
