"""Properties of the technology profile: direction of every score, legal health under a lapse, row order."""

import datetime as dt
import inspect

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ipvalue as iv
from ipvalue.profile import (
    COHORT_LEVELS,
    cohort_percentiles,
    load_profile_weights,
    profile_borrower,
    score_firms,
    synthetic_book,
)

AS_OF = dt.date(2026, 6, 30)
W = load_profile_weights()
NAMES = W.indicator_names
SCORED = [n for n, w in W.global_weights().items() if w > 0]
PEERS = synthetic_book(120, as_of=AS_OF, mean_patents=15, seed=11)


def test_contract_signature():
    p = inspect.signature(iv.profile_borrower).parameters
    assert list(p)[:3] == ["portfolio", "as_of", "peers"]
    assert p["as_of"].kind is inspect.Parameter.KEYWORD_ONLY and p["as_of"].default is inspect.Parameter.empty
    assert p["peers"].default is None


def _overall(reference: pd.DataFrame, subject: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    keys = pd.DataFrame({lev: "k" for lev in COHORT_LEVELS}, index=reference.index)
    level = np.array(["all"], dtype=object)
    key = np.array(["k"], dtype=object)
    pct = cohort_percentiles(reference, keys.assign(all="k"), subject, level, key, NAMES)
    scores, _, overall = score_firms(pct, W)
    return scores, float(overall[0])


@given(
    data=st.data(),
    which=st.sampled_from(SCORED),
    bump=st.floats(0.01, 5.0),
)
@settings(max_examples=60)
def test_each_score_moves_the_right_way(data, which, bump):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    reference = pd.DataFrame(rng.random((25, len(NAMES))).round(1), columns=NAMES)
    subject = pd.DataFrame(rng.random((1, len(NAMES))).round(1), columns=NAMES, index=["s"])
    s0, o0 = _overall(reference, subject)
    moved = subject.copy()
    moved[which] += bump
    s1, o1 = _overall(reference, moved)
    if W.indicators[which]["direction"] > 0:
        assert s1.at["s", which] >= s0.at["s", which] and o1 >= o0 - 1e-12
    else:
        assert s1.at["s", which] <= s0.at["s", which] and o1 <= o0 + 1e-12
    # and only that indicator's score changed
    others = [n for n in NAMES if n != which]
    pd.testing.assert_frame_equal(s0[others], s1[others])


patent_rows = st.fixed_dictionaries(
    {
        "patent_type": st.sampled_from(["invention", "utility_model", "design"]),
        "legal_status": st.sampled_from(["granted", "granted", "lapsed", "pending", "revoked", "expired"]),
        "filing_year": st.integers(2008, 2026),
        "cpc": st.sampled_from(["G06F1/00", "H04L9/00", "B25J9/16", "A61B5/00"]),
        "claims": st.integers(1, 30),
        "quality_score": st.floats(0, 100),
        "licensed": st.booleans(),
        "pledged": st.booleans(),
        "in_litigation": st.booleans(),
        "invalidation_pending": st.booleans(),
        "overdue": st.booleans(),
    }
)


def frame_of(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["patent_id"] = [f"X{i}" for i in range(len(df))]
    df["filing_date"] = pd.to_datetime(df.pop("filing_year").astype(str) + "-03-01")
    df["fees_paid_through"] = np.where(
        df.pop("overdue"), pd.Timestamp("2026-01-01"), pd.Timestamp("2027-01-01")
    )
    df["jurisdiction"] = "CN"
    df["family_jurisdictions"] = "CN"
    df["remaining_life_years"] = 5.0
    return df.set_index(pd.Index(df["patent_id"], name=None))


@pytest.mark.slow
@given(rows=st.lists(patent_rows, min_size=1, max_size=12), extra=patent_rows)
@settings(max_examples=25)
def test_adding_a_lapsed_patent_never_raises_legal_health(rows, extra):
    before = profile_borrower(frame_of(rows), as_of=AS_OF, peers=PEERS, firm="X")
    after = profile_borrower(
        frame_of([*rows, {**extra, "legal_status": "lapsed"}]), as_of=AS_OF, peers=PEERS, firm="X"
    )
    b, a = before.dimensions.at["legal", "score"], after.dimensions.at["legal", "score"]
    assert np.isnan(b) or a <= b + 1e-12
    # the raw legal indicators: the lapse rate rises, the others do not move
    lapse_b = np.nan_to_num(before.indicators.at["lapse_rate", "value"])
    lapse_a = after.indicators.at["lapse_rate", "value"]
    assert lapse_a > lapse_b or lapse_a == lapse_b == 1.0
    for name in ("fees_overdue_share", "invalidation_rate", "litigation_share", "pledged_share"):
        x, y = before.indicators.at[name, "value"], after.indicators.at[name, "value"]
        assert (np.isnan(x) and np.isnan(y)) or x == y, name
    assert before.cohort == after.cohort


@pytest.mark.slow
@given(rows=st.lists(patent_rows, min_size=1, max_size=12), seed=st.integers(0, 1000))
@settings(max_examples=15)
def test_independent_of_row_order(rows, seed):
    frame = frame_of(rows).assign(value=np.linspace(1.0, 3.3, len(rows)) * 1e5 / 7)
    shuffled = frame.sample(frac=1.0, random_state=seed)
    peers_shuffled = PEERS.sample(frac=1.0, random_state=seed)
    a = profile_borrower(frame, as_of=AS_OF, peers=PEERS, firm="X").to_dict()
    b = profile_borrower(shuffled, as_of=AS_OF, peers=peers_shuffled, firm="X").to_dict()
    a["provenance"].pop("input_hash"), b["provenance"].pop("input_hash")
    assert a == b


def test_licensing_a_patent_never_lowers_the_use_score():
    frame = frame_of(
        [
            {"patent_type": "invention", "legal_status": "granted", "filing_year": 2020, "cpc": "G06F1/00",
             "claims": 5, "quality_score": 50.0, "licensed": False, "pledged": False, "in_litigation": False,
             "invalidation_pending": False, "overdue": False}
        ] * 4
    )  # fmt: skip
    scores = []
    for k in range(5):
        f = frame.copy()
        f["licensed"] = [i < k for i in range(4)]
        scores.append(profile_borrower(f, as_of=AS_OF, peers=PEERS, firm="X").dimensions.at["use", "score"])
    assert all(b >= a for a, b in zip(scores, scores[1:], strict=False))
    assert scores[-1] > scores[0]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_reasons_name_three_strongest_and_three_weakest(lang):
    frame = frame_of(
        [
            {"patent_type": "invention", "legal_status": s, "filing_year": y, "cpc": c, "claims": 9,
             "quality_score": 70.0, "licensed": True, "pledged": False, "in_litigation": False,
             "invalidation_pending": False, "overdue": False}
            for s, y, c in [("granted", 2024, "G06F1/00"), ("granted", 2023, "G06F1/00"), ("lapsed", 2015, "H04L9/00"),
                            ("granted", 2021, "H04L9/00"), ("granted", 2019, "G06F1/00")]
        ]
    )  # fmt: skip
    prof = profile_borrower(frame, as_of=AS_OF, peers=PEERS, firm="X")
    strong, weak = prof.reasons[lang]["strongest"], prof.reasons[lang]["weakest"]
    assert len(strong) == 3 and len(weak) == 3
    s = prof.indicators.loc[prof.strongest, "score"].to_numpy()
    w = prof.indicators.loc[prof.weakest, "score"].to_numpy()
    assert s.min() >= w.max()
    word = "百分位" if lang == "zh" else "percentile"
    assert all(word in t for t in strong + weak)
