"""A hand-made CollateralAssessment for the report tests.

The numbers are made up but internally consistent (the haircuts multiply, the summary adds up the patents), so
tests can check the report against figures computed here independently of the report code. It includes
untrusted text (a ``<script>`` title, a title that looks like a spreadsheet formula), Chinese titles and
owners, a NaN-valued patent and an extra column the report does not know.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ipvalue.collateral._assessment import SUMMARY_KEYS, CollateralAssessment, Loan, RiskSharing

SCRIPT_TITLE = "<script>alert(1)</script>"
FORMULA_TITLE = '=HYPERLINK("http://example.invalid","x")'
AS_OF = dt.date(2025, 6, 30)
COMPONENTS = ("valuation", "market", "fire_sale", "costs")

_TITLES = [
    "一种锂电池正极材料的制备方法",
    SCRIPT_TITLE,
    "基于深度学习的工业视觉缺陷检测系统",
    "一种高效散热的电机壳体",
    'Method for & <b>bold</b> "quoted" claims',
    "智能仓储机器人调度方法及装置",
    FORMULA_TITLE,
    "一种可降解包装薄膜",
    "新能源汽车电池管理系统的均衡电路",
    "激光焊接头",
    "一种用于半导体封装的导热胶",
    "多模态传感器融合定位方法",
]


def make_patents(n: int = 12, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = [f"CN1{10_000_000 + 137 * i:08d}B" for i in range(n)]
    types = np.where(np.arange(n) % 4 == 3, "utility_model", "invention")
    status = np.array(["granted"] * n, dtype=object)
    status[5 % n] = "lapsed"
    if n > 9:
        status[9] = "pending"
    value = rng.lognormal(np.log(3_000_000), 0.8, n).round(0)
    value_income = value * rng.uniform(0.9, 1.2, n)
    value_cost = value * rng.uniform(0.3, 0.7, n)
    value_option = value * rng.uniform(0.5, 1.5, n)
    value_option[::3] = np.nan  # the option method does not apply to every patent
    life = rng.uniform(0.5, 17.0, n).round(2)
    reasons = [""] * n
    reasons[5 % n] = "LAPSED;FEES_UNPAID"
    if n > 9:
        reasons[9] = "NOT_GRANTED"
    if n > 10:
        reasons[10] = "TERM_SHORTER_THAN_LOAN"
        life[10] = 1.2
    if n > 3:
        reasons[3] = "ALREADY_PLEDGED"
    eligible = np.array([r == "" for r in reasons])
    h = {
        c: rng.uniform(lo, hi, n).round(4)
        for c, (lo, hi) in zip(COMPONENTS, [(0.1, 0.25), (0.2, 0.45), (0.1, 0.3), (0.03, 0.08)], strict=True)
    }
    keep = np.ones(n)
    for c in COMPONENTS:
        keep *= 1.0 - h[c]
    haircut_total = 1.0 - keep
    collateral = np.where(eligible, value * keep, 0.0)
    df = pd.DataFrame(
        {
            "patent_id": ids,
            "jurisdiction": "CN",
            "patent_type": types,
            "title": [_TITLES[i % len(_TITLES)] for i in range(n)],
            "owner": [
                "深圳市星河智能科技有限公司" if i % 5 else "深圳市星河智能科技有限公司;李明" for i in range(n)
            ],
            "filing_date": pd.to_datetime([dt.date(2012 + i % 10, 1 + i % 12, 15) for i in range(n)]),
            "grant_date": pd.to_datetime([dt.date(2014 + i % 10, 1 + i % 12, 20) for i in range(n)]),
            "legal_status": status,
            "fees_paid_through": pd.to_datetime([dt.date(2025, 1 + i % 12, 15) for i in range(n)]),
            "claims": pd.array(rng.integers(3, 25, n), dtype="Int64"),
            "forward_citations": pd.array(rng.integers(0, 40, n), dtype="Int64"),
            "family_size": pd.array(rng.integers(1, 8, n), dtype="Int64"),
            "pledged": [i == 3 for i in range(n)],
            "bank_internal_ref": [f"XH-2025-{i:03d}" for i in range(n)],  # a column the report does not know
            "remaining_life_years": life,
            "quality_legal": rng.uniform(40, 95, n).round(1),
            "quality_technical": rng.uniform(30, 90, n).round(1),
            "quality_economic": rng.uniform(20, 85, n).round(1),
            "value_income": value_income,
            "value_cost": value_cost,
            "value_option": value_option,
            "value": value,
            "value_p05": value * 0.45,
            "value_p50": value * 0.95,
            "value_p95": value * 1.9,
            "methods_used": "income;cost;option",
            "value_notes": "",
            "currency": "CNY",
            "eligible": eligible,
            "ineligible_reasons": reasons,
            **{f"haircut_{c}": np.where(eligible, h[c], np.nan) for c in COMPONENTS},
            "haircut_total": np.where(eligible, haircut_total, 1.0),
            "collateral_value": collateral,
            "haircut_explanation": "估值 × 市场 × 快速处置 × 费用",
        }
    )
    df["quality_score"] = (
        (df["quality_legal"] + df["quality_technical"] + df["quality_economic"]) / 3
    ).round(1)
    return df.set_index(pd.Index(ids, name="patent_id"))


def make_assessment(
    patents: pd.DataFrame | None = None,
    *,
    loan_amount: float = 8_000_000.0,
    pd_default: float | None = 0.03,
    seed: int = 42,
) -> CollateralAssessment:
    patents = make_patents() if patents is None else patents
    value = patents["value"].to_numpy(dtype=float, na_value=np.nan)
    elig = patents["eligible"].to_numpy(dtype=bool)
    coll = np.nansum(patents["collateral_value"].to_numpy(dtype=float, na_value=np.nan))
    loan = Loan(
        amount=loan_amount,
        currency="CNY",
        tenor_years=3.0,
        probability_of_default=pd_default,
        borrower="深圳市星河智能科技有限公司",
        risk_sharing=RiskSharing(compensation_fund=0.4, insurer=0.16),
    )
    rng = np.random.default_rng(seed)
    n_paths = 5000
    draws = np.clip(rng.beta(2.0, 3.0, n_paths) * 1.3, 0.0, 1.0)
    draws[rng.random(n_paths) < 0.12] = 0.0  # no sale
    max_loan = 0.6 * coll
    lgd = 1.0 - draws
    summary = {
        "currency": "CNY",
        "as_of": AS_OF.isoformat(),
        "policy": "cn-bank-standard",
        "seed": seed,
        "n_patents": len(patents),
        "n_eligible": int(elig.sum()),
        "appraised_value": float(np.nansum(value)),
        "appraised_value_p05": float(np.nansum(value) * 0.55),
        "appraised_value_p95": float(np.nansum(value) * 1.6),
        "eligible_value": float(np.nansum(value[elig])),
        "collateral_value": float(coll),
        "max_loan": float(max_loan),
        "loan_amount": loan_amount,
        "ltv": loan_amount / float(np.nansum(value[elig])),
        "coverage_ratio": float(coll) / loan_amount,
        "shortfall": max(0.0, loan_amount - float(max_loan)),
        "bank_retained_exposure": loan_amount * 0.44,
        "expected_lgd": float(lgd.mean()),
        "lgd_95": float(np.quantile(lgd, 0.95)),
        "lgd_99": float(np.quantile(lgd, 0.99)),
        "probability_of_default": pd_default,
        "expected_loss": float("nan") if pd_default is None else pd_default * float(lgd.mean()) * loan_amount,
        "prob_full_recovery": float((draws >= 1.0).mean()),
        "expected_time_to_cash_years": 1.35,
        "flags": ["INELIGIBLE_PATENTS", "SHORTFALL", "TAIL_LGD_100", "SOME_NEW_FLAG"],
    }
    assert set(summary) == set(SUMMARY_KEYS)
    liquidation = pd.DataFrame(
        {
            "scenario": ["orderly", "forced", "no_sale", "monte_carlo"],
            "probability": [0.45, 0.40, 0.15, np.nan],
            "gross_proceeds": [0.45 * coll, 0.25 * coll, 0.0, 0.33 * coll],
            "costs": [0.05 * coll, 0.04 * coll, 150_000.0, 0.04 * coll],
            "recovery": [0.40 * coll, 0.21 * coll, 0.0, 0.29 * coll],
            "recovery_rate": [0.62, 0.38, 0.0, float(draws.mean())],
            "lgd": [0.38, 0.62, 1.0, float(lgd.mean())],
            "time_to_cash_years": [1.5, 0.8, np.nan, 1.35],
        }
    )
    stress = pd.DataFrame(
        {
            "shock": ["base", "invalidation", "obsolescence", "market_crash", "risk_sharer_failure"],
            "description": [
                "基准情景",
                "最有价值的专利被宣告无效",
                "技术过时：年漂移 −20%",
                "IP market crash (Ocean Tomo 2009)",
                "风险补偿资金池耗尽",
            ],
            "appraised_value": [
                np.nansum(value),
                np.nansum(value) * 0.7,
                np.nansum(value) * 0.8,
                np.nansum(value) * 0.5,
                np.nansum(value),
            ],
            "collateral_value": [coll, coll * 0.68, coll * 0.78, coll * 0.42, coll],
            "max_loan": [max_loan, max_loan * 0.68, max_loan * 0.78, max_loan * 0.42, max_loan],
            "coverage_ratio": [
                coll / loan_amount,
                coll * 0.68 / loan_amount,
                coll * 0.78 / loan_amount,
                coll * 0.42 / loan_amount,
                coll / loan_amount,
            ],
            "expected_lgd": [0.45, 0.6, 0.55, 0.75, 0.7],
            "change_collateral_value": [0.0, -0.32 * coll, -0.22 * coll, -0.58 * coll, 0.0],
            "change_pct": [0.0, -0.32, -0.22, -0.58, 0.0],
        }
    )
    assumptions = pd.DataFrame(
        {
            "name": [
                "discount_rate",
                "royalty_rate_range",
                "volatility",
                "loan_to_collateral",
                "holding_period_years",
            ],
            "value": [0.12, "3%–5%", 0.5, 0.6, 1.0],
            "source": [
                "中评协《专利资产评估指导意见》; WACC build-up",
                "RoyaltySource CN 2023 (illustrative)",
                "collateral_and_liquidation.md §5.2",
                "policy cn-bank-standard",
                "Basel II §§154–165",
            ],
        }
    )
    policy = {
        "name": "cn-bank-standard",
        "loan_to_collateral": {"value": 0.6, "source": "bank practice 25–40% of appraisal"},
        "accepted_types": ["invention", "utility_model"],
        "min_remaining_life_years": 3,
    }
    audit = {
        "package_version": "0.1.0",
        "input_hash": "sha256:9f2c1e7ab45d" + "0" * 52,
        "output_hash": "sha256:1b7e" + "f" * 60,
        "policy": "cn-bank-standard",
        "seed": seed,
        "as_of": AS_OF.isoformat(),
        "created_at": "2025-06-30T09:00:00+00:00",
    }
    return CollateralAssessment(
        patents=patents,
        summary=summary,
        liquidation=liquidation,
        stress=stress,
        recovery_draws=draws,
        loan=loan,
        policy=policy,
        assumptions=assumptions,
        audit=audit,
    )


@pytest.fixture
def assessment() -> CollateralAssessment:
    return make_assessment()


@pytest.fixture
def nan_assessment() -> CollateralAssessment:
    """NaN in values, scores, haircuts; no PD; empty stress and no draws; an extra object column with lists."""
    p = make_patents(8, seed=3)
    p.loc[p.index[0], ["value", "value_p05", "value_p95", "quality_score", "remaining_life_years"]] = np.nan
    p.loc[p.index[0], "collateral_value"] = 0.0
    p.loc[p.index[0], "eligible"] = False
    p.loc[p.index[0], "ineligible_reasons"] = "VALUATION_FAILED"
    p.loc[p.index[1], "title"] = None
    p["tags"] = [["a", "b"]] * len(p)
    a = make_assessment(p, pd_default=None)
    a.summary["ltv"] = float("nan")
    a.stress = a.stress.iloc[0:0]
    a.recovery_draws = np.array([])
    a.summary["flags"] = []
    return a


# ----------------------------------------------------------------------------------------------- headless Chromium
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
)


class Chromium:
    """Debian's chromium run headless on a local file: a screenshot or the DOM, plus the console messages."""

    def __init__(self, exe: str, workdir):
        self.exe = exe
        self.workdir = workdir
        self._n = 0

    def run(self, html_path, *extra: str) -> tuple[str, list[str]]:
        import subprocess

        self._n += 1
        profile = self.workdir / f"profile-{self._n}"  # a fresh, empty user-data-dir per run
        cmd = [self.exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, html_path.resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.workdir, check=False)
        assert proc.returncode == 0, f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}"
        console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
        return proc.stdout, console

    def screenshot(self, html_path, png_path, size: str = "1200,1600") -> list[str]:
        _, console = self.run(
            html_path, f"--screenshot={png_path}", f"--window-size={size}", "--hide-scrollbars"
        )
        return console

    def dom(self, html_path) -> tuple[str, list[str]]:
        return self.run(html_path, "--dump-dom")


@pytest.fixture(scope="session")
def chromium(tmp_path_factory) -> Chromium:
    import shutil

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        # the README's test command runs scripts/install-system-deps.sh first: a missing browser is a broken set-up
        pytest.fail("Debian's chromium is not installed: run scripts/install-system-deps.sh", pytrace=False)
    return Chromium(exe, tmp_path_factory.mktemp("chromium"))


@pytest.fixture(scope="session")
def reports(tmp_path_factory) -> dict[tuple[str, str], object]:
    """The fixture assessment written once per language and format: {(lang, suffix): path}."""
    import ipvalue.report as R

    out = tmp_path_factory.mktemp("reports")
    a = make_assessment()
    return {
        (lang, ext): R.write(a, out / f"report_{lang}.{ext}", lang=lang)
        for lang in ("zh", "en")
        for ext in ("html", "pdf", "xlsx")
    }


@pytest.fixture(scope="session")
def fx():
    """The helpers and constants of this conftest (test modules cannot import it under --import-mode=importlib)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        make_assessment=make_assessment,
        make_patents=make_patents,
        SCRIPT_TITLE=SCRIPT_TITLE,
        FORMULA_TITLE=FORMULA_TITLE,
        COMPONENTS=COMPONENTS,
        AS_OF=AS_OF,
    )
