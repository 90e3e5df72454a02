"""The offline judicial route for a property right, as 法释〔2004〕16号 (amended 2020-12-23) sets it out, through
the policy parameters the policy files name for it (judicial_first_reserve 1.0, judicial_auction_rounds 3,
judicial_notice_days 15, judicial_second_round_days 60). Text read in LawRefBook/Laws, 司法解释/最高人民法院关于
人民法院民事执行中拍卖、变卖财产的规定.md."""

from __future__ import annotations

import pytest

from ipvalue.collateral.liquidation import judicial_auction_prices, judicial_delays
from ipvalue.collateral.policy import load_policy


def test_offline_reserves_start_at_the_appraisal_and_fall_at_most_20pct_a_round():
    # Art. 5: 拍卖财产经过评估的，评估价即为第一次拍卖的保留价 ... 每次降低的数额不得超过前次保留价的百分之二十
    # Art. 25: 第二次拍卖仍流拍的 ... 其他财产权 ... 第三次拍卖; then 变卖 at the third auction's reserve
    p = judicial_auction_prices(5_000_000.0, first_reserve=1.0, second_round_cut=0.2, rounds=3)
    assert [
        p[k] for k in ("first_auction", "second_auction", "third_auction", "sale_period")
    ] == pytest.approx([5_000_000.0, 4_000_000.0, 3_200_000.0, 3_200_000.0])
    # Art. 32: 最低的变卖价不得低于评估价的二分之一 - the route's lowest price keeps above it
    assert p["sale_period"] >= 0.5 * 5_000_000.0


def test_offline_route_timing_from_the_policy_parameters():
    # Art. 8: 拍卖不动产或者其他财产权的，应当在拍卖十五日前公告; Art. 23 / 25: 六十日内再行拍卖 / 第三次拍卖;
    # Art. 25: 变卖 for 60 days after its notice
    pol = load_policy("cn-bank-standard").replace(
        "[C] offline route (法释〔2004〕16号)",
        judicial_first_reserve=1.0,
        judicial_auction_rounds=3,
        judicial_notice_days=15,
        judicial_second_round_days=60,
    )
    d1, d2, d3, end = judicial_delays(pol)
    assert (d1, d2, d3) == pytest.approx((15 / 365.25, 75 / 365.25, 135 / 365.25), rel=1e-2)
    assert end - d3 == pytest.approx(60 / 365.25, rel=1e-2)
    assert "judicial_first_reserve 1.0" in load_policy("cn-bank-standard").sources["judicial_auction_rounds"]
