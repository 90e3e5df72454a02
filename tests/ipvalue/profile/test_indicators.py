"""A hand-worked example of every indicator of the technology profile on a seven-patent portfolio.

Every expected number below is worked out by hand from the table in ``small_portfolio`` (the definitions are in
``docs/methodology/profile.md``); none is read back from the code.
"""

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

import ipvalue as iv
from ipvalue.profile import INDICATORS, ProfileInputError, profile_borrower

AS_OF = dt.date(2026, 6, 30)
# windows: last 3 years = (2023-06-30, 2026-06-30], last 5 = (2021-06-30, 2026-06-30],
# the 5 before = (2016-06-30, 2021-06-30]


def small_portfolio() -> pd.DataFrame:
    rows = [
        # id, type, status, filed, cpc, family, claims, quality, life, licensed, group, revenue, value, fees paid,
        # pledged, litigation, invalidation pending, transfers, transferred out
        ("P1", "invention", "granted", "2024-03-01", "G06F16/00", "CN;US", 10, 80.0, 17.0, True, "L1", 1e6, 500.0,
         "2027-03-01", False, False, False, 1, False),
        ("P2", "invention", "granted", "2019-05-01", "G06F17/10", "CN", 6, 60.0, 12.0, False, "L1", 1e6, 300.0,
         "2026-01-01", True, False, True, 0, False),
        ("P3", "utility_model", "granted", "2022-01-10", "H04L9/00", "CN", 4, 40.0, 5.5, False, "L2", 0.0, 100.0,
         "2027-01-10", False, True, False, 0, True),
        ("P4", "invention", "lapsed", "2015-02-01", "G06F3/01", "CN", 8, 30.0, 0.0, False, None, np.nan, 0.0,
         "2020-02-01", False, False, False, 0, False),
        ("P5", "invention", "pending", "2025-09-01", "G06N3/08", "CN", 12, 70.0, 19.0, False, "L1", 1e6, 0.0,
         None, False, False, False, 0, False),
        ("P6", "design", "revoked", "2018-07-01", None, "CN", 1, 20.0, 0.0, False, None, np.nan, 0.0,
         None, False, False, False, 0, False),
        ("P7", "invention", "granted", "2017-03-01", "G06F21/60", "CN;EP;US", 14, 90.0, 10.5, True, None, np.nan,
         800.0, "2027-03-01", False, False, False, 0, False),
    ]  # fmt: skip
    cols = [
        "patent_id", "patent_type", "legal_status", "filing_date", "cpc", "family_jurisdictions", "claims",
        "quality_score", "remaining_life_years", "licensed", "group", "revenue", "value", "fees_paid_through",
        "pledged", "in_litigation", "invalidation_pending", "transfers", "transferred_out",
    ]  # fmt: skip
    df = pd.DataFrame(rows, columns=cols)
    df["jurisdiction"] = "CN"
    df["owner"] = "示例科技有限公司"
    df["filing_date"] = pd.to_datetime(df["filing_date"])
    df["fees_paid_through"] = pd.to_datetime(df["fees_paid_through"])
    return df.set_index(pd.Index(df["patent_id"], name=None))


# the hand-worked values: G = patents in force = P1, P2, P3, P7 = 4
EXPECTED = {
    "patents_total": 7,
    "patents_in_force": 4,
    "filings_last_3y": 2,  # P1 2024-03-01, P5 2025-09-01
    "filings_last_5y": 3,  # + P3 2022-01-10
    "filings_prior_5y": 3,  # P2 2019, P6 2018, P7 2017 (P4 2015 is older than 10 years)
    "filing_momentum_3y": (2.5 / 3) / (3.5 / 5),  # yearly rates with 0.5 added to each count = 1.190476
    "filing_momentum_5y": 3.5 / 3.5,
    "quality_median": 70.0,  # in force: 80, 60, 40, 90 -> (60 + 80) / 2
    "invention_share": 3 / 4,  # P1, P2, P7
    "remaining_life_median": 11.25,  # 5.5, 10.5, 12, 17 -> (10.5 + 12) / 2
    "family_abroad_share": 2 / 4,  # P1 (US), P7 (EP, US)
    "claims_median": 8.0,  # 4, 6, 10, 14
    "class_entropy": -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)),  # G06F x3, H04L x1 = 0.562335
    "core_class_share": 0.75,
    "product_overlap": 3 / 4,  # P1, P2 (L1), P3 (L2)
    "licensed_share": 2 / 4,  # P1, P7
    "transfers_in": 1,  # P1 (one recorded change of owner)
    "transfers_out": 1,  # P3
    "transfer_share": 2 / 7,
    "product_lines_with_revenue": 1,  # L1 has revenue, L2 has 0
    "value_per_patent": (500 + 300 + 100 + 800) / 4,  # 425
    "lapse_rate": 1 / (4 + 1),  # P4
    "fees_overdue_share": 1 / 4,  # P2 paid through 2026-01-01 < as_of
    "invalidation_rate": (1 + 1) / (4 + 1),  # P6 revoked, P2 invalidation pending
    "litigation_share": 1 / 4,  # P3
    "pledged_share": 1 / 4,  # P2
}


def test_every_indicator_by_hand():
    prof = profile_borrower(small_portfolio(), as_of=AS_OF)
    values = prof.indicators["value"]
    expected_names = {n for names in INDICATORS.values() for n in names} - {"quality_top_decile_share"}
    assert set(EXPECTED) == expected_names
    for name, want in EXPECTED.items():
        assert values[name] == pytest.approx(want, rel=1e-12), name
    # the top-decile share needs a cohort: missing without peers, and said so
    assert np.isnan(values["quality_top_decile_share"])
    assert prof.grade is None and prof.score is None
    assert prof.indicators["percentile"].isna().all()
    assert "No peer cohort" in prof.notes["en"][0] and "未提供同业对照组" in prof.notes["zh"][0]
    assert prof.cohort["size"] == 1 and prof.cohort["core_class"] == "G06"
    # G06F is left out of the bundled concordance (spread over several divisions); P3's H04L points to C39,
    # the only industry among the patents in force
    assert prof.cohort["industry"] == "C39"


def test_industry_from_the_concordance():
    # A61B -> C35 and H04L -> C39 in ipvalue/data/industry_ipc_concordance.json (title match, partial table)
    frame = small_portfolio()
    frame["cpc"] = ["A61B5/00", "A61B5/02", "H04L9/00", "A61B1/00", "A61B3/00", None, "H04L5/00"]
    prof = profile_borrower(frame, as_of=AS_OF)
    # in force: P1, P2 (A61B), P3, P7 (H04L): a tie, broken alphabetically -> C35
    assert prof.cohort["industry"] == "C35"
    assert list(prof.patents["industry"]) == ["C35", "C35", "C39", "C35", "C35", "", "C39"]
    assert prof.firm == "示例科技有限公司"


def test_counts_by_type_and_status_and_every_patent_listed():
    frame = small_portfolio()
    prof = profile_borrower(frame, as_of=AS_OF)
    assert prof.counts.loc["invention", "granted"] == 3
    assert prof.counts.loc["invention", "lapsed"] == 1
    assert prof.counts.loc["design", "revoked"] == 1
    assert int(prof.counts.to_numpy().sum()) == 7
    assert list(prof.patents.index) == list(frame.index)


def peer_firm(name: str, licensed: list[bool], quality: list[float]) -> pd.DataFrame:
    n = len(licensed)
    return pd.DataFrame(
        {
            "firm": name,
            "patent_id": [f"{name}-{i}" for i in range(n)],
            "patent_type": "invention",
            "legal_status": "granted",
            "filing_date": pd.Timestamp("2020-01-01"),
            "cpc": "G06F1/00",
            "quality_score": quality,
            "remaining_life_years": 15.0,
            "licensed": licensed,
        }
    )


def test_percentile_and_top_decile_by_hand():
    # three peer firms, one cohort (all of them: fewer than min_firms in any finer cohort)
    peers = pd.concat(
        [
            peer_firm("A", [True, False, False, False], [10.0, 20.0, 30.0, 40.0]),  # licensed share 0.25
            peer_firm("B", [True, True, False, False], [50.0, 60.0, 70.0, 80.0]),  # 0.5
            peer_firm("C", [True, True, True, True], [90.0, 100.0, 55.0, 65.0]),  # 1.0
        ],
        ignore_index=True,
    )
    prof = profile_borrower(small_portfolio(), as_of=AS_OF, peers=peers)
    ind = prof.indicators
    assert prof.cohort["level"] == "all" and prof.cohort["n_peers"] == 3
    # borrower licensed share 0.5: one peer below (A), one equal (B) -> (1 + 0.5) / 3 = 50th percentile
    assert ind.at["licensed_share", "percentile"] == pytest.approx(100 * 1.5 / 3)
    # top decile: the 90th percentile (linear) of the 12 peer scores 10..100 sorted:
    # position 0.9 * 11 = 9.9 between 80 (index 9) and 90 (index 10) -> 89.0
    assert prof.cohort["quality_threshold"] == pytest.approx(89.0)
    # borrower's in-force scores 80, 60, 40, 90: one of four at or above 89 -> 0.25
    assert ind.at["quality_top_decile_share", "value"] == pytest.approx(0.25)
    # peers' own shares: A 0/4, B 0/4, C 2/4 (90, 100 at or above 89) -> 0.25 lies above two, below one
    assert ind.at["quality_top_decile_share", "percentile"] == pytest.approx(100 * 2 / 3)
    # a lower-is-better indicator: peers have no lapses (0, 0, 0), the borrower 0.2 -> percentile 100, score 0
    assert ind.at["lapse_rate", "percentile"] == pytest.approx(100.0)
    assert ind.at["lapse_rate", "score"] == pytest.approx(0.0)
    assert prof.grade is not None and len(prof.strongest) == 3 and len(prof.weakest) == 3
    assert not set(prof.strongest) & set(prof.weakest)
    assert prof.reasons["en"]["weakest"][0].startswith(prof.indicators.at[prof.weakest[0], "label_en"])


def test_bad_input_names_patent_and_field():
    frame = small_portfolio()
    frame.loc["P3", "legal_status"] = "sleeping"
    with pytest.raises(ProfileInputError) as err:
        profile_borrower(frame, as_of=AS_OF)
    assert err.value.problems[0].patent == "P3" and err.value.problems[0].field == "legal_status"
    assert isinstance(err.value, iv.InputError)
    frame = small_portfolio()
    frame["claims"] = frame["claims"].astype(object)
    frame.loc["P2", "claims"] = "many"
    with pytest.raises(ProfileInputError, match="patent P2: field claims"):
        profile_borrower(frame, as_of=AS_OF)
    with pytest.raises(ProfileInputError, match="no patents"):
        profile_borrower(small_portfolio().iloc[:0], as_of=AS_OF)
    peers = peer_firm("A", [True], [50.0]).assign(firm="")
    with pytest.raises(ProfileInputError, match="field firm is blank"):
        profile_borrower(small_portfolio(), as_of=AS_OF, peers=peers)


def test_absent_inputs_are_missing_not_zero():
    frame = small_portfolio().drop(columns=["licensed", "value", "transfers", "transferred_out"])
    prof = profile_borrower(frame, as_of=AS_OF)
    for name in ("licensed_share", "value_per_patent", "transfers_in", "transfer_share"):
        assert np.isnan(prof.indicators.at[name, "value"]), name
    assert any("licensed" in n for n in prof.notes["en"])


def test_demo_portfolio_profiles_with_and_without_peers():
    from ipvalue.demo import load_demo
    from ipvalue.profile import synthetic_book

    frame, _, as_of = load_demo()
    alone = iv.profile_borrower(frame, as_of=as_of)
    peers = synthetic_book(300, as_of=as_of, mean_patents=30, seed=3)
    prof = iv.profile_borrower(frame, as_of=as_of, peers=peers)
    # the raw indicators do not depend on the peers (top-decile share aside, which needs them)
    a = alone.indicators["value"].drop("quality_top_decile_share")
    b = prof.indicators["value"].drop("quality_top_decile_share")
    pd.testing.assert_series_equal(a, b)
    assert prof.grade in [f"T{i}" for i in range(1, 11)]
    assert 0.0 <= prof.score <= 100.0
    d = prof.to_dict()
    assert d["grade"] == prof.grade and len(d["indicators"]) == len(prof.indicators)
