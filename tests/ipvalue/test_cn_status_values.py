"""CNIPA legal-status wording a bank's export carries, read onto the portfolio statuses (rules review, 2026-12-04).

The wording is that of the CNIPA gazette sections (专利权的主动放弃, 权利的恢复, 无效公告 of a partial invalidation)
and of Patent Law Art. 38 (驳回 of an application)."""

from __future__ import annotations

import pandas as pd
import pytest

import ipvalue as iv


@pytest.mark.parametrize(
    ("wording", "status"),
    [
        ("专利权的主动放弃", "lapsed"),  # surrendered: the right ended before its term (Patent Law Art. 44)
        ("主动放弃", "lapsed"),
        ("权利恢复", "granted"),  # restored after a missed time limit: in force again
        ("部分无效", "granted"),  # invalidated in part: the rest of the right stays in force
        ("驳回", "withdrawn"),  # a rejected application gives no right
        ("未缴年费专利权终止", "lapsed"),  # already read before; kept as the reference case
    ],
)
def test_cnipa_status_wording(wording, status):
    frame = pd.DataFrame(
        {
            "专利号": ["ZL201510123456.1"],
            "专利类型": ["发明"],
            "申请日": ["2015-01-12"],
            "法律状态": [wording],
        }
    )
    out = iv.read_portfolio(frame)
    assert out["legal_status"].iloc[0] == status
