"""Generate the bundled demo portfolio (FICTIONAL company, fictional patents).

The demo borrower, 示例智能装备科技有限公司 (Shili Intelligent Equipment Technology Co., Ltd.), does not exist.
Its patents are made up: numbers are well-formed (CN application numbers carry a valid check digit) but the
titles, dates and figures are invented to exercise every path of the toolkit: CN invention and utility-model
patents, a few US and EP family members, patents in force, lapsed for unpaid fees, pending, already pledged,
under invalidation, near expiry, a design patent and a co-owned one; economics for three product lines.

Run ``python examples/make_demo_portfolio.py`` to rewrite ``examples/demo_portfolio.csv`` and the packaged copy
``ipvalue/data/demo_portfolio.csv``; the output is the same on every run (seeded).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

from ipvalue.facts.numbers import cn_check_digit

BORROWER = "示例智能装备科技有限公司"
ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 6, 30)

HEADERS = [
    "专利号",
    "专利名称",
    "专利类型",
    "国家/地区",
    "申请日",
    "优先权日",
    "授权公告日",
    "专利权人",
    "法律状态",
    "年费缴至",
    "权利要求数",
    "独立权利要求数",
    "被引用次数",
    "引用次数",
    "同族号",
    "同族数",
    "同族国家",
    "分类号",
    "是否质押",
    "无效宣告中",
    "诉讼",
    "许可",
    "产品线",
    "收入",
    "收入增长率",
    "提成率",
    "折现率",
    "研发成本",
    "研发年份",
    "币种",
    "行业",
]

# product lines: annual revenue (CNY), growth, royalty rate, industry key of ipvalue/data royalty tables
GROUPS = {
    "智能分拣机器人": dict(revenue=68_000_000, growth=0.12, royalty=0.045, industry="machinery", cpc="B25J"),
    "机器视觉检测系统": dict(
        revenue=42_000_000, growth=0.18, royalty=0.055, industry="electronics", cpc="G06T"
    ),
    "伺服驱动器": dict(revenue=25_000_000, growth=0.05, royalty=0.035, industry="electrical", cpc="H02P"),
}

TITLES = {
    "智能分拣机器人": [
        "一种基于视觉定位的分拣机械臂控制方法",
        "一种多关节分拣机器人的轨迹规划方法",
        "一种柔性夹爪及分拣装置",
        "一种分拣线路径调度系统",
        "一种机器人抓取姿态估计方法",
        "一种快换末端执行器",
        "一种输送带跟随抓取方法",
        "一种分拣机器人防碰撞检测方法",
        "一种吸盘式抓取装置",
        "一种分拣工位安全光幕装置",
    ],
    "机器视觉检测系统": [
        "一种表面缺陷检测方法及系统",
        "一种基于深度学习的焊点检测方法",
        "一种线阵相机标定装置",
        "一种多光谱照明检测装置",
        "一种图像拼接与畸变校正方法",
        "一种检测结果追溯系统",
        "一种高速图像采集卡",
        "一种同轴光源结构",
        "一种缺陷分类模型训练方法",
    ],
    "伺服驱动器": [
        "一种永磁同步电机无位置传感器控制方法",
        "一种伺服驱动器散热结构",
        "一种电流环自整定方法",
        "一种编码器信号抗干扰电路",
        "一种驱动器制动电阻保护电路",
        "一种多轴伺服同步控制方法",
    ],
}


def cn_number(year: int, type_digit: int, serial: int) -> str:
    body = f"{year:04d}{type_digit}{serial:07d}"
    return f"ZL{body}.{cn_check_digit(body)}"


def fee_paid_through(filing: dt.date, as_of: dt.date, *, lapsed_years_ago: int = 0) -> dt.date:
    """End of the fee year that covers ``as_of`` (CN fee years run from the filing anniversary)."""
    years = as_of.year - filing.year + (1 if (as_of.month, as_of.day) >= (filing.month, filing.day) else 0)
    years -= lapsed_years_ago
    try:
        return filing.replace(year=filing.year + years) - dt.timedelta(days=1)
    except ValueError:  # 29 February
        return filing.replace(year=filing.year + years, day=28) - dt.timedelta(days=1)


def build_rows() -> list[dict[str, object]]:
    rng = np.random.default_rng(20260630)
    rows: list[dict[str, object]] = []
    serial = 100_000
    family_no = 1000

    def base(group: str, title: str, ptype: str, year: int, td: int) -> dict[str, object]:
        nonlocal serial, family_no
        serial += int(rng.integers(1_000, 90_000))
        family_no += 1
        filing = dt.date(year, int(rng.integers(1, 13)), int(rng.integers(1, 29)))
        lag_days = int(rng.integers(420, 1100)) if ptype == "invention" else int(rng.integers(150, 320))
        grant = filing + dt.timedelta(days=lag_days)
        g = GROUPS[group]
        claims = int(rng.integers(6, 21)) if ptype == "invention" else int(rng.integers(3, 11))
        return {
            "专利号": cn_number(year, td, serial),
            "专利名称": title,
            "专利类型": {"invention": "发明", "utility_model": "实用新型", "design": "外观设计"}[ptype],
            "国家/地区": "CN",
            "申请日": filing.isoformat(),
            "优先权日": "",
            "授权公告日": grant.isoformat() if grant <= AS_OF else "",
            "专利权人": BORROWER,
            "法律状态": "有效" if grant <= AS_OF else "审中",
            "年费缴至": fee_paid_through(filing, AS_OF).isoformat() if grant <= AS_OF else "",
            "权利要求数": claims,
            "独立权利要求数": int(rng.integers(1, 4)),
            "被引用次数": int(rng.poisson(4 if ptype == "invention" else 1.5)),
            "引用次数": int(rng.integers(2, 15)),
            "同族号": f"FAM{family_no}",
            "同族数": 1,
            "同族国家": "CN",
            "分类号": f"{g['cpc']}{int(rng.integers(1, 20))}/{int(rng.integers(1, 99)):02d}",
            "是否质押": "否",
            "无效宣告中": "否",
            "诉讼": "否",
            "许可": "否",
            "产品线": group,
            "收入": g["revenue"],
            "收入增长率": g["growth"],
            "提成率": g["royalty"],
            "折现率": "",
            "研发成本": int(rng.integers(30, 260)) * 10_000
            if ptype == "invention"
            else int(rng.integers(5, 40)) * 10_000,
            "研发年份": year - 1,
            "币种": "CNY",
            "行业": g["industry"],
        }

    for group, titles in TITLES.items():
        for k, title in enumerate(titles):
            ptype = "invention" if k % 3 != 2 else "utility_model"
            year = int(rng.integers(2014, 2024)) if ptype == "invention" else int(rng.integers(2018, 2025))
            rows.append(base(group, title, ptype, year, 1 if ptype == "invention" else 2))

    # pending inventions (filed recently, not granted)
    for title in ("一种基于大模型的分拣任务规划方法", "一种三维点云缺陷检测方法", "一种伺服系统振动抑制方法"):
        group = {
            "一种基于大模型的分拣任务规划方法": "智能分拣机器人",
            "一种三维点云缺陷检测方法": "机器视觉检测系统",
        }.get(title, "伺服驱动器")
        r = base(group, title, "invention", 2025, 1)
        r.update({"授权公告日": "", "法律状态": "审中", "年费缴至": "", "被引用次数": 0})
        rows.append(r)

    # special cases
    r = rows[1]
    r.update(
        {
            "法律状态": "未缴年费终止",
            "年费缴至": fee_paid_through(
                dt.date.fromisoformat(str(r["申请日"])), AS_OF, lapsed_years_ago=2
            ).isoformat(),
        }
    )
    r = rows[11]
    r.update(
        {
            "法律状态": "失效",
            "年费缴至": fee_paid_through(
                dt.date.fromisoformat(str(r["申请日"])), AS_OF, lapsed_years_ago=1
            ).isoformat(),
        }
    )
    rows[3]["是否质押"] = "是"
    rows[13]["是否质押"] = "是"
    rows[4]["无效宣告中"] = "是"
    rows[6]["诉讼"] = "是"
    rows[0]["许可"] = "是"
    rows[10]["许可"] = "是"
    rows[8]["专利权人"] = f"{BORROWER};示例理工大学"
    # a utility model close to its 10-year term
    old = base("伺服驱动器", "一种驱动器安装支架", "utility_model", 2017, 2)
    old["申请日"] = "2017-03-15"
    old["授权公告日"] = "2017-09-22"
    old["年费缴至"] = "2027-03-14"
    rows.append(old)
    # a design patent (not accepted as pledge collateral by cn-bank-standard)
    d = base("智能分拣机器人", "分拣机器人（外观）", "design", 2022, 3)
    d.update({"权利要求数": "", "独立权利要求数": "", "引用次数": "", "被引用次数": 0})
    rows.append(d)

    # US and EP family members of the strongest vision and sorting inventions (fictional numbers)
    for src_idx, us_no, ep_no in (
        (0, "US 11,203,458 B2", "EP 3 811 827 B1"),
        (10, "US 10,287,902 B2", "EP 3 320 411 B1"),
    ):
        src = rows[src_idx]
        fam = str(src["同族号"])
        filing = dt.date.fromisoformat(str(src["申请日"])) + dt.timedelta(days=360)
        for number, cc, lag in ((us_no, "US", 900), (ep_no, "EP", 1250)):
            grant = filing + dt.timedelta(days=lag)
            rows.append(
                {
                    **src,
                    "专利号": number,
                    "国家/地区": cc,
                    "申请日": filing.isoformat(),
                    "优先权日": src["申请日"],
                    "授权公告日": grant.isoformat() if grant <= AS_OF else "",
                    "法律状态": "有效" if grant <= AS_OF else "审中",
                    "年费缴至": "",
                    "专利名称": src["专利名称"] + ("（美国同族）" if cc == "US" else "（欧洲同族）"),
                    "是否质押": "否",
                    "无效宣告中": "否",
                    "许可": "否",
                    "诉讼": "否",
                }
            )
        for r in rows:
            if r["同族号"] == fam:
                r["同族数"] = 3
                r["同族国家"] = "CN;US;EP"
    return rows


def write(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=HEADERS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def main() -> None:
    rows = build_rows()
    for path in (ROOT / "examples" / "demo_portfolio.csv", ROOT / "ipvalue" / "data" / "demo_portfolio.csv"):
        write(path, rows)
        print(f"wrote {len(rows)} patents to {path}")


if __name__ == "__main__":
    main()
