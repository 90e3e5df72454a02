"""The PDF report: Chinese glyphs embedded, the summary on page 1, tables split with repeated headers."""

from __future__ import annotations

import re
import shutil
import subprocess

import pypdf
import pytest
from PIL import Image, ImageStat

from ipvalue.report import _data as D
from ipvalue.report import _labels as L
from ipvalue.report._fonts import find_cjk_font

CJK = re.compile(r"[\u4e00-\u9fff]")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _texts(path) -> list[str]:
    """Text of each page with white space removed (line breaks fall anywhere in a wrapped cell)."""
    return [_squash(page.extract_text() or "") for page in pypdf.PdfReader(str(path)).pages]


def _fonts(path) -> set[str]:
    names = set()
    for page in pypdf.PdfReader(str(path)).pages:
        fonts = page.get("/Resources", {}).get("/Font", {})
        for ref in fonts.values():
            f = ref.get_object()
            names.add(str(f.get("/BaseFont", "")))
            for d in f.get("/DescendantFonts", []) or []:
                desc = d.get_object().get("/FontDescriptor")
                if desc is not None and any(
                    k in desc.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3")
                ):
                    names.add("embedded:" + str(d.get_object().get("/BaseFont", "")))
    return names


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_summary_page_has_the_figures(fx, reports, lang):
    a = fx.make_assessment()
    pages = _texts(reports[lang, "pdf"])
    first = pages[0]
    s = a.summary
    for key in (
        "appraised_value",
        "collateral_value",
        "max_loan",
        "ltv",
        "coverage_ratio",
        "expected_lgd",
        "lgd_99",
        "expected_loss",
    ):
        assert _squash(L.label(key, lang, L.SUMMARY_LABELS)) in first, key
    for figure in (
        D.fmt_money(s["appraised_value"]),
        D.fmt_money(s["appraised_value_p05"]),
        D.fmt_money(s["collateral_value"]),
        D.fmt_money(s["max_loan"]),
        D.fmt_pct(s["ltv"]),
        D.fmt_pct(s["coverage_ratio"]),
        D.fmt_pct(s["lgd_99"]),
        D.fmt_money(s["expected_loss"]),
    ):
        assert figure in first, figure
    assert _squash(L.translate_code("SHORTFALL", L.FLAGS, lang)) in first
    # the summary stands alone on page 1: the next section starts on page 2
    assert _squash(L.label("patents", lang)) not in first
    assert _squash(L.label("patents", lang)) in pages[1]


def test_chinese_text_is_real_glyphs(reports):
    pages = _texts(reports["zh", "pdf"])
    text = "\n".join(pages)
    for key in ("report_title", "haircuts", "liquidation", "stress", "assumptions", "audit"):
        assert _squash(L.label(key, "zh")) in text, key
    assert "深圳市星河智能科技有限公司" in text
    assert "一种锂电池正极材料的制备方法" in text
    assert "\ufffd" not in text  # no replacement characters
    fonts = _fonts(reports["zh", "pdf"])
    family = find_cjk_font().family.replace(" ", "-")
    assert any(family in f and f.startswith("embedded:") for f in fonts), fonts
    # every font in the PDF is embedded (a reader without the font would otherwise substitute boxes)
    assert {f.removeprefix("embedded:") for f in fonts if f.startswith("embedded:")} >= {
        f for f in fonts if not f.startswith("embedded:")
    }


def test_english_report_keeps_chinese_titles(reports):
    text = "\n".join(_texts(reports["en", "pdf"]))
    assert "1.Summary" in text and "一种锂电池正极材料的制备方法" in text
    assert "<script>alert(1)</script>" in text


@pytest.mark.slow
def test_patent_table_splits_with_repeated_header(fx, tmp_path):
    from ipvalue.report._pdf import write_pdf

    p = fx.make_patents(48, seed=5)
    path = write_pdf(
        fx.make_assessment(p), tmp_path / "long.pdf", lang="zh", dpi=40
    )  # low-resolution charts: faster
    pages = _texts(path)
    header = _squash(L.label("haircut_total", "zh", L.COLUMNS))  # only the patent table has this header
    table_pages = [i for i, t in enumerate(pages) if header in t]
    assert len(table_pages) >= 2, "48 patents should not fit one page"
    assert table_pages == list(range(1, 1 + len(table_pages)))  # consecutive, starting after the summary
    table_text = "\n".join(pages[i] for i in table_pages)
    ids_per_page = [sum(pid in pages[i] for pid in p.index) for i in table_pages]
    assert all(n > 0 for n in ids_per_page)  # every page of the table holds rows and the header
    assert all(pid in table_text for pid in p.index)  # no row lost at a page break
    reader = pypdf.PdfReader(str(path))
    box = reader.pages[table_pages[0]].mediabox
    assert box.width > box.height  # the wide table is on landscape pages
    box0 = reader.pages[0].mediabox
    assert box0.height > box0.width


def test_pdftoppm_pages(reports, tmp_path):
    exe = shutil.which("pdftoppm")
    if exe is None:
        pytest.fail(
            "pdftoppm is not installed: run scripts/install-system-deps.sh (poppler-utils)", pytrace=False
        )
    path = reports["zh", "pdf"]
    n_pages = len(pypdf.PdfReader(str(path)).pages)
    subprocess.run([exe, "-r", "40", "-png", str(path), str(tmp_path / "page")], check=True, timeout=120)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == n_pages >= 6
    for png in pngs:
        im = Image.open(png).convert("L")
        assert ImageStat.Stat(im).stddev[0] > 10, png.name  # no blank page
    first = Image.open(pngs[0]).convert("L")
    w, h = first.size
    assert h > w  # A4 portrait summary


def test_pdftotext_agrees(fx, reports):
    exe = shutil.which("pdftotext")
    if exe is None:
        pytest.fail(
            "pdftotext is not installed: run scripts/install-system-deps.sh (poppler-utils)", pytrace=False
        )
    out = subprocess.run(
        [exe, "-l", "1", str(reports["zh", "pdf"]), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "押品价值" in out and "最高可贷额" in out
    assert D.fmt_money(fx.make_assessment().summary["collateral_value"]) in out
