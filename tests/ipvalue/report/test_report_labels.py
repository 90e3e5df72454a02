"""Every label exists in Chinese and English, and every code the collateral engine emits is translated."""

from __future__ import annotations

import importlib
import re

import pytest

from ipvalue.report import _labels as L

CJK = re.compile(r"[\u4e00-\u9fff]")
TABLES = {
    "LABELS": L.LABELS,
    "SUMMARY_LABELS": L.SUMMARY_LABELS,
    "COLUMNS": L.COLUMNS,
    "REASONS": L.REASONS,
    "FLAGS": L.FLAGS,
    "COMPONENTS": L.COMPONENTS,
    "SCENARIOS": L.SCENARIOS,
    "SHOCKS": L.SHOCKS,
    "METHODS": L.METHODS,
    "PATENT_TYPES": L.PATENT_TYPES,
    "LEGAL_STATUSES": L.LEGAL_STATUSES,
}
# reason codes named in shared/DESIGN.md
DESIGN_REASONS = [
    "NOT_GRANTED",
    "LAPSED",
    "TERM_SHORTER_THAN_LOAN",
    "FEES_UNPAID",
    "ALREADY_PLEDGED",
    "INVALIDATION_PENDING",
    "OWNER_MISMATCH",
    "TYPE_NOT_ACCEPTED",
]


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_entry_has_both_languages(name):
    for key, entry in TABLES[name].items():
        assert set(entry) == {"zh", "en"}, (name, key)
        assert entry["zh"].strip() and entry["en"].strip(), (name, key)
        if entry["zh"] != "—":
            assert CJK.search(entry["zh"]), f"{name}[{key}] zh has no Chinese: {entry['zh']!r}"
            assert not CJK.search(entry["en"]), f"{name}[{key}] en has Chinese: {entry['en']!r}"


def test_summary_keys_all_labelled():
    from ipvalue.collateral._assessment import SUMMARY_KEYS

    assert set(SUMMARY_KEYS) <= set(L.SUMMARY_LABELS)


@pytest.mark.parametrize("code", DESIGN_REASONS)
@pytest.mark.parametrize("lang", L.LANGS)
def test_design_reason_codes_translated(code, lang):
    text = L.translate_code(code, L.REASONS, lang)
    assert text != code
    assert bool(CJK.search(text)) == (lang == "zh")


def test_engine_reason_codes_translated():
    eligibility = importlib.import_module("ipvalue.collateral.eligibility")
    for code in eligibility.REASON_CODES:
        assert CJK.search(L.translate_code(code, L.REASONS, "zh")), code
        assert L.translate_code(code, L.REASONS, "en") != code


def test_engine_haircut_components_translated():
    haircut = importlib.import_module("ipvalue.collateral.haircut")
    for comp in haircut.COMPONENTS:
        assert comp in L.COMPONENTS, comp


def test_unknown_codes_are_kept_not_dropped():
    assert L.translate_code("BRAND_NEW_CODE", L.FLAGS, "zh") == "BRAND_NEW_CODE"
    assert L.translate_code("BRAND_NEW_CODE", L.FLAGS, "en") == "Brand new code"
    assert L.translate_codes("LAPSED;BRAND_NEW_CODE", L.REASONS, "en")[1] == "Brand new code"
    assert L.translate_codes("", L.REASONS, "en") == []
    assert L.translate_codes(float("nan"), L.REASONS, "en") == []


def test_bad_lang_rejected():
    with pytest.raises(ValueError, match="lang"):
        L.check_lang("fr")
