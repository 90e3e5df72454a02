import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ipvalue.collateral import REASON_CODES, Loan, check_eligibility, load_policy, normalize_owner

AS_OF = dt.date(2026, 6, 30)  # the date conftest.make_valued builds for
BORROWER = "深圳市示例科技有限公司"


def _loan(**kw):
    return Loan(
        amount=1_000_000, currency="CNY", tenor_years=1.0, borrower=kw.pop("borrower", BORROWER), **kw
    )


def _set(df, i, col, val):
    df.loc[df.index[i], col] = val


# one row per refusal ground (CNIPA 专利权质押登记办法 2021 / FAQ 2009, reference 3.2) plus the policy's own
CASES = {
    1: ("legal_status", "pending", "NOT_GRANTED"),
    2: ("legal_status", "lapsed", "LAPSED"),
    3: ("legal_status", "expired", "EXPIRED"),
    4: ("legal_status", "revoked", "INVALIDATED"),
    5: ("remaining_life_years", 1.5, "TERM_SHORTER_THAN_LOAN"),  # tenor 1y + disposal buffer 1y
    6: ("fees_paid_through", pd.Timestamp(AS_OF) - pd.Timedelta(days=10), "FEES_UNPAID"),
    7: ("pledged", True, "ALREADY_PLEDGED"),
    8: ("invalidation_pending", True, "INVALIDATION_PENDING"),
    9: ("owner", "Another Holding Ltd", "OWNER_MISMATCH"),
    10: ("patent_type", "design", "TYPE_NOT_ACCEPTED"),
    11: ("value", np.nan, "NOT_VALUED"),
    12: ("legal_status", None, "STATUS_UNKNOWN"),
    13: ("remaining_life_years", np.nan, "TERM_UNKNOWN"),
    14: ("owner", None, "OWNER_UNKNOWN"),
    15: ("jurisdiction", "US", "JURISDICTION_NOT_ACCEPTED"),  # CNIPA registers pledges of its own patents
}


@pytest.fixture
def frame(make_frame):
    df = make_frame(16)
    df["legal_status"] = df["legal_status"].astype(object)
    df["owner"] = df["owner"].astype(object)
    df["pledged"] = df["pledged"].astype(object)
    df["patent_type"] = df["patent_type"].astype(object)
    df["jurisdiction"] = df["jurisdiction"].astype(object)
    for i, (col, val, _) in CASES.items():
        _set(df, i, col, val)
    return df


def test_each_reason_is_triggered_alone(frame):
    out = check_eligibility(frame, _loan(), "cn-bank-standard", as_of=AS_OF)
    assert list(out.index) == list(frame.index)
    assert out["eligible"].iloc[0] and out["ineligible_reasons"].iloc[0] == ""
    for i, (_, _, code) in CASES.items():
        assert code in REASON_CODES
        reasons = out["ineligible_reasons"].iloc[i].split(";")
        assert code in reasons, (i, reasons)
        assert not out["eligible"].iloc[i]
    # the single-cause rows carry exactly one code
    for i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15):
        assert out["ineligible_reasons"].iloc[i] == CASES[i][2], out["ineligible_reasons"].iloc[i]


def test_every_code_is_covered_by_a_test():
    covered = {code for _, _, code in CASES.values()} | {"CO_OWNED", "IN_LITIGATION", "LIFE_BELOW_MINIMUM"}
    assert covered == set(REASON_CODES)


def test_basel_internal_accepts_any_office(frame):
    out = check_eligibility(frame, _loan(), "basel-internal", as_of=AS_OF)
    assert out["eligible"].iloc[15]


def test_codes_keep_their_order_and_join_with_semicolons(frame):
    _set(frame, 0, "pledged", True)
    _set(frame, 0, "invalidation_pending", True)
    out = check_eligibility(frame, _loan(), "cn-bank-standard", as_of=AS_OF)
    assert out["ineligible_reasons"].iloc[0] == "ALREADY_PLEDGED;INVALIDATION_PENDING"


def test_conservative_policy_adds_its_own_refusals(make_frame):
    df = make_frame(4)
    df["owner"] = df["owner"].astype(object)
    _set(df, 1, "owner", f"{BORROWER};某某大学")
    _set(df, 2, "in_litigation", True)
    _set(df, 3, "remaining_life_years", 4.0)  # above tenor + 2y buffer, below the 5-year minimum
    cons = check_eligibility(df, _loan(), "conservative", as_of=AS_OF)["ineligible_reasons"].tolist()
    assert cons == ["", "CO_OWNED", "IN_LITIGATION", "LIFE_BELOW_MINIMUM"]
    std = check_eligibility(df, _loan(), "cn-bank-standard", as_of=AS_OF)
    assert std["eligible"].all()  # the standard policy accepts all three


def test_owner_names_are_normalised_before_comparing(make_frame):
    assert normalize_owner("Shenzhen Example Technology Co., Ltd.") == normalize_owner(
        "SHENZHEN EXAMPLE TECHNOLOGY COMPANY LIMITED"
    )
    assert normalize_owner("ＡＢＣ科技有限公司") == normalize_owner("ABC 科技有限公司")
    assert normalize_owner("（深圳）示例有限责任公司") == normalize_owner("(深圳)示例有限公司")
    assert normalize_owner("Alpha Ltd") != normalize_owner("Alpha Two Ltd")
    df = make_frame(3)
    df["owner"] = [
        "Shenzhen Example Technology Co., Ltd.",
        "ＳＨＥＮＺＨＥＮ EXAMPLE TECHNOLOGY COMPANY LIMITED",
        "Shenzhen Sample Technology Co., Ltd.",
    ]
    out = check_eligibility(
        df, _loan(borrower="shenzhen example technology co ltd"), "cn-bank-standard", as_of=AS_OF
    )
    assert out["ineligible_reasons"].tolist() == ["", "", "OWNER_MISMATCH"]
    assert out["owner_match"].tolist() == [True, True, False]


def test_owner_check_is_skipped_without_a_borrower(frame):
    out = check_eligibility(frame, _loan(borrower=None), "cn-bank-standard", as_of=AS_OF)
    joined = ";".join(out["ineligible_reasons"])
    assert "OWNER_MISMATCH" not in joined and "OWNER_UNKNOWN" not in joined
    assert out["owner_match"].isna().all()


def test_fee_grace_and_missing_fee_dates(make_frame):
    df = make_frame(3)
    df["fees_paid_through"] = [pd.Timestamp(AS_OF) - pd.Timedelta(days=10), pd.NaT, pd.Timestamp(AS_OF)]
    std = check_eligibility(df, _loan(), "cn-bank-standard", as_of=AS_OF)
    assert std["ineligible_reasons"].tolist() == ["FEES_UNPAID", "", ""]
    assert std["fees_verified"].tolist() == [True, False, True]
    lenient = load_policy("cn-bank-standard").replace("[C] test", fee_grace_days=30)
    assert check_eligibility(df, _loan(), lenient, as_of=AS_OF)["eligible"].all()


def test_a_later_loan_start_lengthens_the_horizon(make_frame):
    df = make_frame(2)
    df["remaining_life_years"] = [2.5, 3.5]
    now = check_eligibility(df, _loan(), "cn-bank-standard", as_of=AS_OF)
    assert now["eligible"].tolist() == [True, True]
    later = _loan(start_date=AS_OF + dt.timedelta(days=365))
    out = check_eligibility(df, later, "cn-bank-standard", as_of=AS_OF)
    assert out["ineligible_reasons"].tolist() == ["TERM_SHORTER_THAN_LOAN", ""]


def test_a_bad_fee_date_names_the_patent(make_frame):
    from ipvalue.collateral import CollateralInputError

    df = make_frame(3)
    df["fees_paid_through"] = df["fees_paid_through"].astype(object)
    df.loc[df.index[1], "fees_paid_through"] = "soon"
    with pytest.raises(CollateralInputError, match=f"{df.index[1]}.*fees_paid_through"):
        check_eligibility(df, _loan(), "cn-bank-standard", as_of=AS_OF)


@pytest.mark.parametrize(
    ("jur", "expiry", "expired"),
    [
        ("CN", AS_OF, True),  # CN: the expiry date is the 期满终止日, the first day without the right
        ("CN", AS_OF + dt.timedelta(days=1), False),
        ("US", AS_OF, False),  # US: the term ends ON the expiry date (35 USC 154(a)(2), MPEP 2701)
        ("US", AS_OF - dt.timedelta(days=1), True),
    ],
)
def test_a_given_expiry_date_ends_the_term_by_the_office_rule(make_frame, jur, expiry, expired):
    df = make_frame(1)
    df["jurisdiction"] = jur
    df["expiry_date"] = pd.Timestamp(expiry)
    out = check_eligibility(df, _loan(), "basel-internal", as_of=AS_OF)
    assert ("EXPIRED" in out["ineligible_reasons"].iloc[0]) is expired
