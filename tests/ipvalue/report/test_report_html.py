"""The HTML report: self-contained, escaped, complete, and loaded in headless Chromium."""

from __future__ import annotations

import html as htmllib
import re
from html.parser import HTMLParser

import pytest
from PIL import Image, ImageStat

import ipvalue.report as R
from ipvalue.report import _data as D
from ipvalue.report import _labels as L


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(doc: str) -> _Collect:
    c = _Collect()
    c.feed(doc)
    return c


@pytest.fixture(scope="module")
def html_zh(reports) -> str:
    return reports["zh", "html"].read_text(encoding="utf-8")


@pytest.mark.slow
def test_self_contained(html_zh):
    doc = parse(html_zh)
    tags = [t for t, _ in doc.tags]
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    imgs = [a for t, a in doc.tags if t == "img"]
    assert len(imgs) >= 7
    assert all(a["src"].startswith("data:image/svg+xml;base64,") for a in imgs)  # vector charts, inline
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", html_zh)
    assert "@import" not in html_zh and not re.search(r"url\(\s*['\"]?(https?:|//)", html_zh)
    assert "Content-Security-Policy" in html_zh


def test_untrusted_text_is_escaped(fx, html_zh):
    assert "<script>" not in html_zh
    assert htmllib.escape(fx.SCRIPT_TITLE, quote=False) in html_zh
    doc = parse(html_zh)
    text = "".join(doc.text)
    assert fx.SCRIPT_TITLE in text  # shown as text
    assert "<b>bold</b>" in text and "b" not in [t for t, _ in doc.tags if t == "b"]
    assert fx.FORMULA_TITLE in text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_patent_and_every_section(fx, reports, lang):
    a = fx.make_assessment()
    doc = reports[lang, "html"].read_text(encoding="utf-8")
    text = "".join(parse(doc).text)
    for pid in a.patents.index:
        assert pid in text
    for key in (
        "summary",
        "patents",
        "value_by_method",
        "haircuts",
        "exceptions",
        "quality",
        "liquidation",
        "stress",
        "timeline",
        "assumptions",
        "audit",
    ):
        assert L.label(key, lang) in text, key
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
        assert L.label(key, lang, L.SUMMARY_LABELS) in text, key
    s = a.summary
    for figure in (
        D.fmt_money(s["appraised_value"]),
        D.fmt_money(s["collateral_value"]),
        D.fmt_money(s["max_loan"]),
        D.fmt_pct(s["ltv"]),
        D.fmt_pct(s["lgd_99"]),
        D.fmt_money(s["expected_loss"]),
    ):
        assert figure in text, figure
    # reason codes translated, the audit block present
    assert L.translate_code("FEES_UNPAID", L.REASONS, lang) in text
    assert a.audit["input_hash"] in text and str(a.audit["seed"]) in text
    # the other language's section titles are absent
    other = "en" if lang == "zh" else "zh"
    assert L.label("haircuts", other) not in text


def test_nan_and_extra_columns(nan_assessment):
    doc = R.render_html(nan_assessment, lang="en")
    text = "".join(parse(doc).text)
    assert "nan" not in text.lower().replace("financ", "")
    for pid in nan_assessment.patents.index:
        assert pid in text
    assert L.translate_code("VALUATION_FAILED", L.REASONS, "en") in text


def test_many_patents_all_rows(fx):
    p = fx.make_patents(60, seed=11)
    doc = R.render_html(fx.make_assessment(p), lang="zh")
    assert doc.count("<tr") > 60
    for pid in p.index:
        assert pid in doc


# --------------------------------------------------------------------------------------- headless Chromium
def _nonblank(png) -> float:
    im = Image.open(png).convert("L")
    return ImageStat.Stat(im).stddev[0]


def test_console_check_can_fail(chromium, tmp_path):
    """Control: the console capture does see an error, so an empty capture below means something."""
    page = tmp_path / "bad.html"
    page.write_text("<!doctype html><html><body><script>console.error('boom-42')</script></body></html>")
    console = chromium.screenshot(page, tmp_path / "bad.png", size="400,300")
    assert any("boom-42" in line for line in console)


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_chromium_renders_without_console_errors(chromium, reports, tmp_path, lang):
    path = reports[lang, "html"]
    png = tmp_path / f"shot_{lang}.png"
    console = chromium.screenshot(path, png)
    assert console == [], console
    assert png.exists()
    im = Image.open(png)
    assert im.size == (1200, 1600)
    assert _nonblank(png) > 20  # text, tables and a chart, not an empty page


def test_chromium_shows_script_title_as_text(fx, chromium, reports):
    dom, console = chromium.dom(reports["zh", "html"])
    assert console == [], console
    doc = parse(dom)
    assert "script" not in [t for t, _ in doc.tags]  # nothing became a script element
    assert fx.SCRIPT_TITLE in "".join(doc.text)  # the DOM after loading shows the title as text
