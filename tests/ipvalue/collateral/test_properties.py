import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipvalue.collateral import COMPONENTS, SUMMARY_KEYS, Loan, assess_collateral
from ipvalue.facts.patent import LEGAL_STATUSES, PATENT_TYPES

AS_OF = dt.date(2026, 6, 30)  # the date conftest.make_valued builds for
BORROWER = "深圳市示例科技有限公司"

maybe_nan = lambda s: st.one_of(s, st.just(float("nan")))  # noqa: E731


@st.composite
def portfolios(draw):
    n = draw(st.integers(1, 8))
    rows = []
    for i in range(n):
        value = draw(maybe_nan(st.floats(0.0, 1e8)))
        lo = draw(st.floats(0.05, 1.0))
        hi = draw(st.floats(1.0, 6.0))
        rows.append(
            {
                "patent_id": f"CN{300000000 + i * 13}{draw(st.sampled_from('ABC'))}",
                "jurisdiction": draw(st.sampled_from(["CN", "CN", "US"])),
                "patent_type": draw(st.sampled_from(PATENT_TYPES)),
                "legal_status": draw(st.sampled_from(LEGAL_STATUSES + ("granted", "granted"))),
                "owner": draw(st.sampled_from([BORROWER, f"{BORROWER};某大学", "Other Co", None])),
                "fees_paid_through": pd.Timestamp(AS_OF) + pd.Timedelta(days=draw(st.integers(-400, 400))),
                "family_id": draw(st.sampled_from(["F1", "F2", None])),
                "cpc": draw(st.sampled_from(["H04L 9/00", "G06F 3/01;H04L 1/00", None])),
                "group": draw(st.sampled_from(["a", "b", None])),
                "pledged": draw(st.booleans()),
                "invalidation_pending": draw(st.booleans()),
                "in_litigation": draw(st.booleans()),
                "remaining_life_years": draw(maybe_nan(st.floats(0.0, 25.0))),
                "quality_legal": draw(maybe_nan(st.floats(0.0, 100.0))),
                "quality_score": draw(maybe_nan(st.floats(0.0, 100.0))),
                "volatility": draw(maybe_nan(st.floats(0.0, 1.5))),
                "value": value,
                "value_p05": value * lo,
                "value_p50": value,
                "value_p95": value * hi,
                "currency": "CNY",
            }
        )
    df = pd.DataFrame(rows).drop_duplicates("patent_id")
    return df.set_index("patent_id", drop=False).rename_axis(index="patent_id")


loans = st.builds(
    Loan,
    amount=st.floats(1e4, 1e8),
    currency=st.just("CNY"),
    tenor_years=st.floats(0.25, 5.0),
    probability_of_default=st.one_of(st.none(), st.floats(0.0, 0.5)),
    borrower=st.sampled_from([BORROWER, None]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frame=portfolios(),
    loan=loans,
    policy=st.sampled_from(["cn-bank-standard", "basel-internal", "conservative"]),
)
def test_collateral_properties(frame, loan, policy):
    a = assess_collateral(frame, loan=loan, policy=policy, as_of=AS_OF, paths=64, stress=False)
    p = a.patents
    # no input patent missing, none added
    assert list(p.index) == list(frame.index)
    # every haircut in [0, 1]
    for c in [*(f"haircut_{c}" for c in COMPONENTS), "haircut_total"]:
        h = p[c].to_numpy(dtype=float)
        assert np.all((h >= 0) & (h <= 1)), c
    cv = p["collateral_value"].to_numpy(dtype=float)
    v = np.nan_to_num(frame["value"].to_numpy(dtype=float))
    # collateral value never above value, never negative
    assert np.all(cv >= 0) and np.all(cv <= v * (1 + 1e-12))
    # an ineligible patent contributes 0, and says why
    inel = ~p["eligible"].to_numpy(dtype=bool)
    assert np.all(cv[inel] == 0)
    assert (p["ineligible_reasons"][inel].str.len() > 0).all()
    assert (p["ineligible_reasons"][~inel] == "").all()
    s = a.summary
    assert set(SUMMARY_KEYS) <= set(s)
    assert s["collateral_value"] <= s["eligible_value"] * (1 + 1e-12) + 1e-6
    assert 0 <= s["expected_lgd"] <= 1 and 0 <= s["lgd_99"] <= 1
    assert 0 <= s["prob_full_recovery"] <= 1
    assert np.all((a.recovery_draws >= 0) & (a.recovery_draws <= 1))
