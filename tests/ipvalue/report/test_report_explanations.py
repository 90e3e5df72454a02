"""Haircut explanations and scenario/shock descriptions in the report's language.

The collateral engine writes each text twice: ``haircut_explanation`` / ``description`` in English and
``haircut_explanation_zh`` / ``description_zh`` in Chinese. The Chinese report shows the Chinese text (the English
one where a Chinese text is missing, e.g. an assessment stored before the Chinese columns existed); the English
report shows the English text and is the same whether or not the Chinese columns exist.
"""

from __future__ import annotations

import html
import importlib
import io

import numpy as np
import pandas as pd
import pytest

import ipvalue.report as R
from ipvalue.report import _data as D
from ipvalue.report import _labels as L
from ipvalue.report import explain as E
from ipvalue.report._html import build_context, render_html


def _bilingual(fx):
    """The fixture assessment with distinct English and Chinese texts per patent, scenario and shock."""
    a = fx.make_assessment()
    p = a.patents.copy()
    ids = p.index.astype(str)
    p["haircut_explanation"] = [
        f"valuation {10 + i}.0% (range log-sd 0.{i:02d}); EN-{pid}" for i, pid in enumerate(ids)
    ]
    p["haircut_explanation_zh"] = [
        f"估值不确定性 {10 + i}.0%（区间）；中文-{pid}" for i, pid in enumerate(ids)
    ]
    a.patents = p
    liq = a.liquidation.copy()
    liq["description"] = [f"English scenario note {s}" for s in liq["scenario"]]
    liq["description_zh"] = [f"情景说明 {s}" for s in liq["scenario"]]
    a.liquidation = liq
    st = a.stress.copy()
    st["description"] = [f"English shock note {s}" for s in st["shock"]]
    st["description_zh"] = [f"压力情景说明 {s}" for s in st["shock"]]
    a.stress = st
    return a


def _without_zh(a):
    from dataclasses import replace

    drop = lambda f: f.drop(columns=[c for c in f.columns if str(c).endswith("_zh")])  # noqa: E731
    return replace(a, patents=drop(a.patents), liquidation=drop(a.liquidation), stress=drop(a.stress))


# -------------------------------------------------------------------------------------------------- the helpers
def test_localized_text_prefers_chinese_and_falls_back_per_row():
    f = pd.DataFrame(
        {
            "haircut_explanation": ["en a", "en b", "en c", None],
            "haircut_explanation_zh": ["中文 a", None, "  ", "中文 d"],
        }
    )
    assert D.localized_text(f, "haircut_explanation", "zh").tolist() == ["中文 a", "en b", "en c", "中文 d"]
    assert D.localized_text(f, "haircut_explanation", "en").tolist()[:3] == ["en a", "en b", "en c"]
    old = f[["haircut_explanation"]]  # an assessment from older JSON
    assert D.localized_text(old, "haircut_explanation", "zh").tolist()[:3] == ["en a", "en b", "en c"]
    assert D.localized_text(f[["haircut_explanation_zh"]], "haircut_explanation", "zh").iloc[0] == "中文 a"
    assert D.localized_text(f, "no_such_column", "zh") is None
    assert D.localized_text(None, "description", "zh") is None


def test_localize_frame_keeps_one_column_in_the_language():
    f = pd.DataFrame({"scenario": ["x"], "description": ["en"], "description_zh": ["中文"], "lgd": [0.4]})
    zh, en = D.localize_frame(f, "zh"), D.localize_frame(f, "en")
    assert list(zh.columns) == list(en.columns) == ["scenario", "description", "lgd"]
    assert zh.loc[0, "description"] == "中文" and en.loc[0, "description"] == "en"
    assert f.columns.tolist()[-2:] == ["description_zh", "lgd"]  # the input is not changed
    only_zh = D.localize_frame(f.drop(columns="description"), "zh")
    assert list(only_zh.columns) == ["scenario", "description", "lgd"]


def test_chinese_texts_are_not_haircut_components(fx):
    df = _bilingual(fx).patents
    assert D.haircut_components(df) == list(fx.COMPONENTS)


def test_engine_component_names_match_the_report_labels():
    haircut = importlib.import_module("ipvalue.collateral.haircut")
    for c in haircut.COMPONENTS:  # every component the engine composes is named in both languages
        assert L.COMPONENTS[c]["zh"].startswith(E.COMPONENT_NAMES[c]["zh"]), c
        assert E.COMPONENT_NAMES[c]["en"] == c  # the English text names the column's component
    assert set(E.PATENT_TYPE_NAMES) == set(L.PATENT_TYPES)


# ---------------------------------------------------------------------- the engine's basis, worded by the report
def _with_basis(fx):
    """The fixture assessment with the basis a real engine run gives, and no stored text at all."""
    from dataclasses import replace

    import ipvalue as iv
    from ipvalue.demo import load_demo

    portfolio, loan, as_of = load_demo()
    real = iv.assess_collateral(
        iv.value_portfolio(portfolio, as_of=as_of, rng=0), loan=loan, paths=300, stress=False
    )
    a = fx.make_assessment()
    return replace(
        a, patents=real.patents, liquidation=real.liquidation, summary=real.summary, loan=real.loan
    )


def test_the_engine_gives_no_words_and_each_report_language_words_its_basis(fx):
    a = _with_basis(fx)
    for frame in (a.patents, a.liquidation):
        assert not any("explanation" in str(c) or "description" in str(c) for c in frame.columns)
    zh_texts, en_texts = E.haircut_texts(a.patents, "zh"), E.haircut_texts(a.patents, "en")
    zh_page, en_page = render_html(a, lang="zh", dpi=30), render_html(a, lang="en", dpi=30)
    for pid in a.patents.index:  # every patent explained, every component named, one language per report
        zh, en = zh_texts[pid], en_texts[pid]
        assert html.escape(zh) in zh_page and html.escape(en) not in zh_page, pid
        assert html.escape(en) in en_page and html.escape(zh) not in en_page, pid
        for c in importlib.import_module("ipvalue.collateral.haircut").COMPONENTS:
            assert f"{E.COMPONENT_NAMES[c]['zh']} " in zh and f"{c} " in en, (pid, c)
    for lang, page in (("zh", zh_page), ("en", en_page)):
        for text in E.scenario_texts(a.liquidation, lang):
            assert text and text in html.unescape(page)
    assert "haircut_basis" not in zh_page and "bid_median" not in zh_page  # the basis itself is not shown


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_workbook_words_the_basis_and_hides_it(fx, lang):
    import openpyxl

    a = _with_basis(fx)
    wb = openpyxl.load_workbook(io.BytesIO(R.to_bytes(a, "xlsx", lang=lang)))
    rows = list(wb["Patents"].iter_rows(values_only=True))
    head = list(rows[0])
    assert "haircut_basis" not in head and L.label("haircut_basis", lang, L.COLUMNS) not in head
    j = head.index(L.label("haircut_explanation", lang, L.COLUMNS))
    assert [r[j] for r in rows[1:]] == E.haircut_texts(a.patents, lang).tolist()
    rows = list(wb["Liquidation"].iter_rows(values_only=True))
    j = list(rows[0]).index(L.label("description", lang, L.COLUMNS))
    assert [r[j] for r in rows[1:]] == E.scenario_texts(a.liquidation, lang).tolist()


def test_json_round_trip_keeps_the_basis_and_the_service_texts(fx):
    import json

    serialize = importlib.import_module("ipvalue.report.assessment_json")
    a = _with_basis(fx)
    doc = json.loads(json.dumps(serialize.assessment_to_json(a), allow_nan=False))
    first = doc["patents"][0]
    assert first["haircut_basis"]["valuation"]["code"] and first["haircut_basis"]["pledge_rate"] is not None
    # the service returns the English and Chinese wording as before the basis existed
    assert first["haircut_explanation"] == E.haircut_texts(a.patents, "en").iloc[0]
    assert first["haircut_explanation_zh"] == E.haircut_texts(a.patents, "zh").iloc[0]
    assert doc["liquidation"][0]["description"] == E.scenario_texts(a.liquidation, "en").iloc[0]
    back = serialize.assessment_from_json(doc)
    assert E.haircut_texts(back.patents, "zh").tolist() == E.haircut_texts(a.patents, "zh").tolist()
    assert E.scenario_texts(back.liquidation, "en").tolist() == E.scenario_texts(a.liquidation, "en").tolist()


# ------------------------------------------------------------------------------------------------------ HTML
def test_chinese_html_shows_chinese_texts_only(fx):
    a = _bilingual(fx)
    page = render_html(a, lang="zh", dpi=40)
    for en, zh in zip(a.patents["haircut_explanation"], a.patents["haircut_explanation_zh"], strict=True):
        assert html.escape(zh) in page
        assert html.escape(en) not in page
    assert page.count('<table class="data notes explanations">') == 1
    for frame in (a.liquidation, a.stress):
        for en, zh in zip(frame["description"], frame["description_zh"], strict=True):
            assert html.escape(zh) in page and html.escape(en) not in page
    assert "English" not in page and "EN-" not in page


def test_english_html_shows_english_texts_only(fx):
    a = _bilingual(fx)
    page = render_html(a, lang="en", dpi=40)
    for en, zh in zip(a.patents["haircut_explanation"], a.patents["haircut_explanation_zh"], strict=True):
        assert html.escape(en) in page and html.escape(zh) not in page
    for frame in (a.liquidation, a.stress):
        for en, zh in zip(frame["description"], frame["description_zh"], strict=True):
            assert html.escape(en) in page and html.escape(zh) not in page


def test_english_report_is_the_same_with_or_without_chinese_columns(fx):
    a = _bilingual(fx)
    with_zh = build_context(a, lang="en", dpi=30)
    without = build_context(_without_zh(a), lang="en", dpi=30)
    assert with_zh == without


def test_chinese_html_falls_back_to_english_without_chinese_columns(fx):
    a = _bilingual(fx)
    p = a.patents.copy()
    p.loc[p.index[2], "haircut_explanation_zh"] = np.nan  # one row without its Chinese text
    a.patents = p
    ctx = build_context(a, lang="zh", dpi=30)
    texts = [r["text"] for r in ctx["explanation_rows"]]
    assert len(texts) == len(p)  # every patent, none dropped
    assert texts[2] == p["haircut_explanation"].iloc[2]
    assert texts[3] == p["haircut_explanation_zh"].iloc[3]
    old = build_context(_without_zh(a), lang="zh", dpi=30)  # e.g. loaded from JSON written before
    assert [r["text"] for r in old["explanation_rows"]] == p["haircut_explanation"].tolist()
    assert [n["text"] for n in old["stress_notes"]] == a.stress["description"].tolist()


def test_old_json_without_chinese_columns_still_renders(fx):
    serialize = importlib.import_module("ipvalue.report.assessment_json")
    a = _without_zh(_bilingual(fx))
    back = serialize.assessment_from_json(serialize.assessment_to_json(a))
    page = render_html(back, lang="zh", dpi=30)
    assert html.escape(a.patents["haircut_explanation"].iloc[0]) in page


# ----------------------------------------------------------------------------------------------------- Excel
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_workbook_texts_follow_the_language(fx, lang):
    import openpyxl

    a = _bilingual(fx)
    buf = io.BytesIO(R.to_bytes(a, "xlsx", lang=lang))
    wb = openpyxl.load_workbook(buf)
    want = "haircut_explanation_zh" if lang == "zh" else "haircut_explanation"
    for sheet in ("Patents", "Haircuts"):
        rows = list(wb[sheet].iter_rows(values_only=True))
        head = list(rows[0])
        assert L.label("haircut_explanation_zh", lang, L.COLUMNS) not in head
        j = head.index(L.label("haircut_explanation", lang, L.COLUMNS))
        assert [r[j] for r in rows[1:]] == a.patents[want].tolist(), sheet
    for sheet, frame in (("Liquidation", a.liquidation), ("Stress", a.stress)):
        rows = list(wb[sheet].iter_rows(values_only=True))
        head = list(rows[0])
        assert L.label("description_zh", lang, L.COLUMNS) not in head
        j = head.index(L.label("description", lang, L.COLUMNS))
        col = "description_zh" if lang == "zh" else "description"
        assert [r[j] for r in rows[1:]] == frame[col].tolist(), sheet
