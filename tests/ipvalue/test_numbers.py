import pytest

import ipvalue as iv
from ipvalue.facts.numbers import PatentNumberError, cn_check_digit, parse_number


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("US 11,646,472 B2", "US11646472B2"),
        ("us11646472b2", "US11646472B2"),
        ("EP2400812A1", "EP2400812A1"),
        ("EP 2 400 812 A1", "EP2400812A1"),
        ("CN 105123456 B", "CN105123456B"),
        ("CN105123456B", "CN105123456B"),
        ("CN.105123456.B", "CN105123456B"),
        ("CN 105123456", "CN105123456"),
        ("WO 2020/123456 A1", "WO2020123456A1"),
        ("WO2020/12345 A1", "WO2020012345A1"),
        ("JP 2020-123456 A", "JP2020123456A"),
        ("KR 10-2012345 B1", "KR102012345B1"),
        ("USD900000S", "USD900000S"),
        # CN application / certificate numbers; check digits from the worked examples cited below
        ("ZL201710601862.3", "CN201710601862.3"),
        ("201710601862.3", "CN201710601862.3"),
        ("ZL 2017 1 0601862.3", "CN201710601862.3"),
        ("ZL95115608.X", "CN95115608.X"),
        ("95115608.x", "CN95115608.X"),
        ("ＺＬ２０１７１０６０１８６２．３", "CN201710601862.3"),
    ],
)
def test_normalize_forms(raw, canonical):
    assert iv.normalize_number(raw) == canonical


def test_check_digit_worked_examples():
    # Worked examples of the CNIPA check digit (weights 2..9, 2..5; mod 11; 10 -> X) as published on
    # Chinese patent-agency pages explaining 专利申请号校验位: 201710601862.3 and ZL95115608.X (9x2+5x3+...=186).
    assert cn_check_digit("201710601862") == "3"
    assert cn_check_digit("95115608") == "X"


@pytest.mark.parametrize(
    ("raw", "ptype", "pct"),
    [
        ("ZL201710601862.3", "invention", False),
        (f"ZL201720601862.{cn_check_digit('201720601862')}", "utility_model", False),
        (f"ZL201730601862.{cn_check_digit('201730601862')}", "design", False),
        (f"201780601862.{cn_check_digit('201780601862')}", "invention", True),
        (f"201790601862.{cn_check_digit('201790601862')}", "utility_model", True),
        ("ZL95115608.X", "invention", False),
        ("CN203456789U", "utility_model", False),
        ("CN305123456S", "design", False),
        ("USD900000S", "design", False),
    ],
)
def test_type_from_number(raw, ptype, pct):
    p = parse_number(raw)
    assert p.patent_type == ptype
    assert p.pct_national_phase is pct


def test_filing_year_from_application_number():
    assert parse_number("ZL201710601862.3").filing_year == 2017
    assert parse_number("ZL95115608.X").filing_year == 1995


@pytest.mark.parametrize(
    "raw",
    [
        "ZL201510123456.7",  # check digit should be 1
        "ZL201710601862.4",
        "95115608.1",
        f"ZL201750601862.{cn_check_digit('201750601862')}",  # type digit 5 does not exist
        "",
        "   ",
        "hello",
        "XX1234567B2",  # unknown office
        "US 12",  # too short
        "CN105123456Q",  # unknown CN kind code
        "EPD123456",
    ],
)
def test_bad_numbers_name_the_input(raw):
    with pytest.raises(PatentNumberError) as err:
        iv.normalize_number(raw)
    assert repr(raw) in str(err.value)


def test_non_string_rejected():
    with pytest.raises(PatentNumberError, match="expected a string"):
        iv.normalize_number(105123456)


def test_patent_model_fills_from_number_and_checks_dates():
    p = iv.Patent(patent_id="CN 203456789 U", owner="甲公司；乙大学")
    assert p.patent_id == "CN203456789U"
    assert p.jurisdiction == "CN" and p.patent_type == "utility_model"
    assert p.owner == ["甲公司", "乙大学"]
    with pytest.raises(ValueError, match="grant_date .* before filing_date"):
        iv.Patent(patent_id="EP2400812A1", filing_date="2011-06-01", grant_date="2010-01-01")
    with pytest.raises(ValueError, match="contradicts the number"):
        iv.Patent(patent_id="CN203456789U", patent_type="invention")
