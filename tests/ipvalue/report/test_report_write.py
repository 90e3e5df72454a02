"""``ipvalue.report.write``: format from the suffix, clear errors, the font route, and the real demo."""

from __future__ import annotations

from pathlib import Path

import pytest

import ipvalue.report as R
from ipvalue.report import _fonts
from ipvalue.report.explain import with_texts


def test_public_names():
    assert set(R.__all__) >= {"write", "charts", "find_cjk_font", "CJKFontNotFoundError"}
    assert callable(R.charts.waterfall)
    assert issubclass(R.PDFBackendError, ImportError)  # the service turns ImportError into 503


@pytest.mark.parametrize("name", ["r.HTML", "r.XLSX"])
def test_suffix_picks_the_format(fx, tmp_path, name):
    out = R.write(fx.make_assessment(), tmp_path / name, lang="en")
    assert out == tmp_path / name and out.exists()
    head = out.read_bytes()[:4]
    assert head == b"PK\x03\x04" if name.lower().endswith("xlsx") else head.startswith(b"<!DO")


def test_pdf_magic(reports):
    assert Path(reports["zh", "pdf"]).read_bytes()[:5] == b"%PDF-"


@pytest.mark.parametrize("name", ["r.docx", "r", "r.csv"])
def test_unknown_suffix(fx, tmp_path, name):
    with pytest.raises(ValueError, match=r"\.html.*\.pdf.*\.xlsx|\.htm"):
        R.write(fx.make_assessment(), tmp_path / name)


def test_bad_lang_and_missing_folder(fx, tmp_path):
    with pytest.raises(ValueError, match="lang"):
        R.write(fx.make_assessment(), tmp_path / "r.html", lang="de")
    with pytest.raises(FileNotFoundError, match="no_such_dir"):
        R.write(fx.make_assessment(), tmp_path / "no_such_dir" / "r.html")


@pytest.mark.parametrize("ext", ["html", "pdf", "xlsx"])
def test_nan_assessment_writes_every_format(nan_assessment, tmp_path, ext):
    out = R.write(nan_assessment, tmp_path / f"nan.{ext}", lang="zh")
    assert out.stat().st_size > 1000


def test_cjk_font_has_the_glyphs():
    from matplotlib.ft2font import FT2Font

    font = R.find_cjk_font()
    assert Path(font.path).exists()
    charmap = FT2Font(font.path).get_charmap()
    assert all(ord(c) in charmap for c in "知识产权质押融资押品评估报告")
    assert font.css_stack().startswith(f'"{font.family}"')


@pytest.fixture
def no_cjk_font(monkeypatch):
    monkeypatch.setattr(_fonts, "_from_matplotlib", lambda: None)
    monkeypatch.setattr(_fonts, "_from_fontconfig", lambda: None)
    monkeypatch.setattr(_fonts, "_fontconfig_candidates", list)
    _fonts.find_cjk_font.cache_clear()
    _fonts.report_font.cache_clear()
    yield
    _fonts.find_cjk_font.cache_clear()
    _fonts.report_font.cache_clear()


def test_missing_cjk_font_names_the_package(fx, no_cjk_font, tmp_path):
    with pytest.raises(R.CJKFontNotFoundError, match="fonts-noto-cjk"):
        R.find_cjk_font()
    with pytest.raises(R.CJKFontNotFoundError, match="apt-get install -y fonts-noto-cjk"):
        R.write(fx.make_assessment(), tmp_path / "r.pdf", lang="en")
    assert not (tmp_path / "r.pdf").exists()
    with pytest.raises(R.CJKFontNotFoundError):
        R.charts.waterfall(fx.make_assessment(), lang="zh")


def test_fontconfig_route_finds_a_font(monkeypatch):
    """The fallback for a matplotlib font cache built before the font was installed."""
    import shutil

    assert shutil.which("fc-list"), (
        "fontconfig's fc-list is missing: scripts/install-system-deps.sh installs it"
    )
    monkeypatch.setattr(_fonts, "_from_matplotlib", lambda: None)
    _fonts.find_cjk_font.cache_clear()
    try:
        font = R.find_cjk_font()
        assert Path(font.path).exists() and font.family
    finally:
        _fonts.find_cjk_font.cache_clear()


# ------------------------------------------------------------------------------------------------ the real demo
@pytest.fixture(scope="module")
def demo_assessment():
    import ipvalue as iv
    from ipvalue.demo import load_demo

    portfolio, loan, as_of = load_demo()
    return iv.assess_collateral(iv.value_portfolio(portfolio, as_of=as_of, rng=0), loan=loan, rng=0)


@pytest.mark.slow
def test_demo_report_all_formats(demo_assessment, tmp_path):
    import openpyxl
    import pypdf

    a = demo_assessment
    pdf = R.write(a, tmp_path / "demo.pdf", lang="zh")  # the PDF is the HTML report laid out
    reader = pypdf.PdfReader(str(pdf))
    text = "".join("".join((p.extract_text() or "").split()) for p in reader.pages)
    for pid in a.patents.index:
        assert str(pid) in text, pid
    # the Chinese report explains every haircut in Chinese, and shows no English explanation or note
    squeeze = lambda t: "".join(str(t).split())  # noqa: E731
    w = with_texts(a)  # the engine's codes and numbers worded in both languages
    for pid, zh, en in w.patents[["haircut_explanation_zh", "haircut_explanation"]].itertuples():
        assert squeeze(zh) in text, pid
        assert squeeze(en) not in text, pid
    for frame in (w.liquidation, a.stress):
        for zh, en in frame[["description_zh", "description"]].itertuples(index=False):
            assert squeeze(zh) in text and squeeze(en) not in text
    assert "INELIGIBLE(" not in text and "ofpledgedvalue" not in text
    first = "".join((reader.pages[0].extract_text() or "").split())
    assert "押品价值" in first and "最高可贷额" in first
    assert f"{a.summary['collateral_value']:,.0f}" in first
    wb = openpyxl.load_workbook(R.write(a, tmp_path / "demo.xlsx", lang="en"))
    summary = {r[2]: r[1] for r in wb["Summary"].iter_rows(min_row=2, values_only=True) if r[2]}
    assert summary["collateral_value"] == pytest.approx(a.summary["collateral_value"], rel=1e-12)
    assert summary["max_loan"] == pytest.approx(a.summary["max_loan"], rel=1e-12)
    assert wb["Patents"].max_row == len(a.patents) + 1
    # every flag the engine raised is translated (no raw code shown as the text)
    from ipvalue.report import _labels as L

    for flag in a.summary["flags"]:
        assert L.translate_code(flag, L.FLAGS, "zh") != flag, flag
    for shock in a.stress["shock"]:
        assert L.translate_code(shock, L.SHOCKS, "zh") != shock, shock
    for scenario in a.liquidation["scenario"]:
        assert L.translate_code(scenario, L.SCENARIOS, "zh") != scenario, scenario


def test_demo_html_explains_haircuts_in_the_reports_language(demo_assessment):
    import html

    a = demo_assessment
    zh_page = R.render_html(a, lang="zh")
    en_page = R.render_html(a, lang="en")
    w = with_texts(a)  # the engine's codes and numbers worded in both languages
    assert len(w.patents) == len(a.patents) and w.patents["haircut_explanation_zh"].str.len().gt(0).all()
    for pid, zh, en in w.patents[["haircut_explanation_zh", "haircut_explanation"]].itertuples():
        assert html.escape(zh) in zh_page and html.escape(en) not in zh_page, pid
        assert html.escape(en) in en_page and html.escape(zh) not in en_page, pid
    zh_text, en_text = html.unescape(zh_page), html.unescape(en_page)  # the template escapes ' as &#39;
    for frame in (w.liquidation, a.stress):
        for zh, en in frame[["description_zh", "description"]].itertuples(index=False):
            assert zh in zh_text and en not in zh_text
            assert en in en_text and zh not in en_text


def test_demo_waterfall_reconciles(demo_assessment):
    from ipvalue.report import _data as D

    steps = D.waterfall_steps(demo_assessment, "en")
    end = steps.index[steps["key"] == "collateral_value"][0]
    assert steps["amount"].iloc[:end].sum() == pytest.approx(
        demo_assessment.summary["collateral_value"], rel=1e-9
    )


def test_missing_weasyprint_is_a_clear_error(fx, monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import fails as if not installed
    with pytest.raises(R.PDFBackendError, match=r"ipvalue\[pdf\]"):
        R.write(fx.make_assessment(), tmp_path / "r.pdf", lang="zh")


@pytest.mark.parametrize("fmt", ["html", ".xlsx"])
def test_to_bytes_matches_the_file(fx, tmp_path, fmt):
    import io

    import openpyxl

    a = fx.make_assessment()
    data = R.to_bytes(a, fmt, lang="en")
    suffix = "." + fmt.lstrip(".")
    assert suffix in R.MEDIA_TYPES
    if suffix == ".html":
        assert data.decode("utf-8") == R.write(a, tmp_path / "r.html", lang="en").read_text(encoding="utf-8")
    else:
        wb = openpyxl.load_workbook(io.BytesIO(data))
        assert wb.sheetnames[0] == "Summary"
    with pytest.raises(ValueError, match="unknown report format"):
        R.to_bytes(a, "docx")


def test_empty_portfolio(fx, tmp_path):
    a = fx.make_assessment()
    a.patents = a.patents.iloc[0:0]
    a.recovery_draws = a.recovery_draws[:0]
    a.liquidation = a.liquidation.iloc[0:0]
    html = R.write(a, tmp_path / "e.html", lang="en").read_text(encoding="utf-8")
    assert "n = 0" in html
    import openpyxl

    wb = openpyxl.load_workbook(R.write(a, tmp_path / "e.xlsx", lang="en"))
    assert wb["Patents"].max_row == 1


@pytest.mark.slow
@pytest.mark.parametrize("processes", [0, 1, "early"])
def test_write_all_writes_what_write_writes(fx, tmp_path, processes):
    """One HTML rendering feeds the HTML and the PDF (laid out in a forked worker with processes=1, or in one
    started before the assessment was made, as ``ipvalue demo`` does)."""
    import openpyxl
    import pypdf

    worker = R.start_pdf_worker(1) if processes == "early" else None
    assert (worker is None) == (processes != "early")
    a = fx.make_assessment()
    one, many = tmp_path / "one", tmp_path / "many"
    one.mkdir()
    many.mkdir()
    names = ["r.html", "r.pdf", "r.xlsx"]
    singles = [R.write(a, one / n, lang="zh") for n in names]
    if worker is not None:
        written = R.write_all(a, [many / n for n in names], lang="zh", pdf_worker=worker)
    else:
        written = R.write_all(a, [many / n for n in names], lang="zh", processes=int(processes))
    assert written == [many / n for n in names]
    assert written[0].read_text(encoding="utf-8") == singles[0].read_text(encoding="utf-8")
    pages = [pypdf.PdfReader(str(p)).pages for p in (singles[1], written[1])]
    assert len(pages[0]) == len(pages[1]) >= 2
    assert [p.extract_text() for p in pages[0]] == [p.extract_text() for p in pages[1]]
    books = [openpyxl.load_workbook(p) for p in (singles[2], written[2])]
    assert books[0].sheetnames == books[1].sheetnames
    for s in books[0].sheetnames:
        assert list(books[0][s].values) == list(books[1][s].values), s


def test_write_all_fails_before_writing_anything(fx, monkeypatch, tmp_path):
    import sys

    a = fx.make_assessment()
    with pytest.raises(ValueError, match="report format"):
        R.write_all(a, [tmp_path / "r.html", tmp_path / "r.docx"], lang="en")
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import fails as if not installed
    for processes in (0, 1):
        with pytest.raises(R.PDFBackendError, match=r"ipvalue\[pdf\]"):
            R.write_all(a, [tmp_path / "r.html", tmp_path / "r.pdf"], lang="en", processes=processes)
    with pytest.raises(R.PDFBackendError, match=r"ipvalue\[pdf\]"):  # from an early worker's warm-up
        R.write_all(a, [tmp_path / "r.html", tmp_path / "r.pdf"], lang="en", pdf_worker=R.start_pdf_worker(1))
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("processes", [0, 1, "early", "no pdf"])
def test_write_all_calls_meanwhile_once_before_the_other_files(fx, tmp_path, processes):
    """``meanwhile`` (``ipvalue demo`` prints its tables there) runs once: beside the worker's PDF layout, after
    the HTML is rendered and before the HTML and Excel files are written; with no worker or no PDF, before any
    file is written."""
    a = fx.make_assessment()
    names = ["r.html", "r.xlsx"] if processes == "no pdf" else ["r.html", "r.pdf", "r.xlsx"]
    seen: list[list[str]] = []

    def meanwhile() -> None:
        seen.append(sorted(p.name for p in tmp_path.iterdir()))

    options = {"pdf_worker": R.start_pdf_worker(1)} if processes == "early" else {"processes": 1}
    if processes == 0:
        options = {"processes": 0}
    written = R.write_all(a, [tmp_path / n for n in names], lang="en", meanwhile=meanwhile, **options)
    assert len(seen) == 1
    if processes in (1, "early"):  # the worker may have written the PDF already, nothing else is written yet
        assert set(seen[0]) <= {"r.pdf"}
    else:
        assert seen == [[]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    assert [p.name for p in written] == names


def test_write_all_meanwhile_errors_propagate(fx, tmp_path):
    def boom() -> None:
        raise RuntimeError("printing failed")

    with pytest.raises(RuntimeError, match="printing failed"):
        R.write_all(fx.make_assessment(), [tmp_path / "r.html"], lang="en", meanwhile=boom)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("cores", "load", "processes", "forks"),
    [
        (2, 0.0, None, True),
        (2, 1.3, None, True),  # a previous demo run alone leaves about this much: the worker still pays
        (2, 2.0, None, False),  # busier: the worker would only wait for the CPU
        (8, 7.5, None, True),
        (1, 0.0, None, False),
        (2, 9.0, 1, True),
        (2, 0.0, 0, False),
    ],
)
def test_pdf_worker_rule(monkeypatch, cores, load, processes, forks):
    import multiprocessing
    import os

    # without fork (Windows, or macOS's default) the PDF is always laid out in process: no worker whatever the load
    forks = forks and "fork" in multiprocessing.get_all_start_methods()
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    pool = R.start_pdf_worker(processes)
    try:
        assert (pool is not None) == forks
    finally:
        if pool is not None:
            pool.close()


def test_no_pdf_worker_where_processes_cannot_fork(monkeypatch):
    import multiprocessing
    import os

    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert R.start_pdf_worker(None) is None and R.start_pdf_worker(4) is None
