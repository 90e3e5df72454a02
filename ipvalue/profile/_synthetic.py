"""A synthetic book of many firms' patents, for tests, benchmarks and the demo's peer cohort.

Every firm and patent is invented. Firms differ in size (lognormal number of patents), technology (a core CPC
class drawn from a fixed list, with some patents outside it), quality, invention propensity and legal trouble; the
patents' facts are drawn around those traits. The draws are vectorised and seeded: the same arguments give the same
frame. It is no statement about any real population of firms.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

__all__ = ["synthetic_book", "SYNTHETIC_CLASSES"]

#: CPC subclasses the synthetic firms work in
SYNTHETIC_CLASSES: tuple[str, ...] = (
    "A61B", "A61K", "B25J", "B65G", "C07D", "C12N", "F16H", "G01N", "G05B", "G06F",
    "G06N", "G06Q", "G06T", "H01L", "H01M", "H02J", "H04L", "H04N", "H04W", "B60L",
)  # fmt: skip


def synthetic_book(
    n_firms: int, *, as_of: dt.date, mean_patents: float = 100.0, seed: int = 0, prefix: str = "F"
) -> pd.DataFrame:
    """The patents of ``n_firms`` invented firms, one row per patent, with a ``firm`` column.

    Parameters
    ----------
    n_firms : int
    as_of : date
        Filing dates fall in the 20 years before it; fees and statuses are set relative to it.
    mean_patents : float
        Mean patents per firm (lognormal sizes with sigma 1, at least one patent).
    seed : int
    prefix : str
        Firm names are ``prefix`` + a zero-padded number.

    Returns
    -------
    DataFrame
        Indexed by ``patent_id``: ``firm``, ``patent_id``, ``jurisdiction``, ``patent_type``, ``legal_status``,
        ``filing_date``, ``fees_paid_through``, ``claims``, ``cpc``, ``family_jurisdictions``, ``quality_score``,
        ``remaining_life_years``, ``licensed``, ``transfers``, ``transferred_out``, ``pledged``,
        ``in_litigation``, ``invalidation_pending``, ``group``, ``revenue``, ``value``.
    """
    rng = np.random.default_rng(seed)
    sizes = np.maximum(1, np.round(rng.lognormal(np.log(mean_patents) - 0.5, 1.0, n_firms))).astype(np.int64)
    n = int(sizes.sum())
    firm = np.repeat(np.arange(n_firms), sizes)
    # firm traits
    core = rng.integers(0, len(SYNTHETIC_CLASSES), n_firms)
    skill = rng.normal(0.0, 1.0, n_firms)
    inv_p = rng.beta(4, 3, n_firms)
    trouble = rng.beta(1, 12, n_firms)
    growth = rng.normal(0.0, 0.6, n_firms)
    # patents
    # filing age in years: firms that grow file more recently (an exponential tilt of the uniform age)
    u = rng.random(n)
    g = growth[firm]
    tilt = np.where(np.abs(g) < 1e-6, u, np.log1p(u * np.expm1(-g)) / np.where(np.abs(g) < 1e-6, 1.0, -g))
    age = 20.0 * np.clip(tilt, 0.0, 0.9999)
    day = np.datetime64(as_of, "D")
    filing = day - np.round(age * 365.25).astype("timedelta64[D]")
    invention = rng.random(n) < inv_p[firm]
    design = ~invention & (rng.random(n) < 0.15)
    ptype = np.where(invention, "invention", np.where(design, "design", "utility_model"))
    term = np.where(invention, 20.0, np.where(design, 15.0, 10.0))
    r = rng.random(n)
    lapse = r < 0.05 + 0.5 * trouble[firm]
    revoked = (r >= 0.05 + 0.5 * trouble[firm]) & (r < 0.06 + 0.55 * trouble[firm])
    pending = invention & (age < 2.5) & (rng.random(n) < 0.6)
    expired = age >= term
    status = np.select(
        [expired, pending, lapse, revoked], ["expired", "pending", "lapsed", "revoked"], default="granted"
    )
    granted = status == "granted"
    life = np.where(granted, np.maximum(term - age, 0.0), 0.0)
    overdue = granted & (rng.random(n) < 0.5 * trouble[firm])
    paid_days = np.where(overdue, -rng.integers(1, 180, n), rng.integers(1, 365, n))
    fees = np.where(
        granted | (status == "lapsed"), day + paid_days.astype("timedelta64[D]"), np.datetime64("NaT")
    )
    own_class = rng.random(n) < 0.7
    cls = np.where(own_class, core[firm], rng.integers(0, len(SYNTHETIC_CLASSES), n))
    cpc = np.asarray(SYNTHETIC_CLASSES, dtype=object)[cls] + "1/00"
    abroad = rng.random(n) < 0.1 + 0.2 * (skill[firm] > 0.5)
    quality = np.clip(55.0 + 8.0 * skill[firm] + rng.normal(0.0, 12.0, n) + 8.0 * invention, 0.0, 100.0)
    lines = np.maximum(1, np.round(np.log1p(sizes) / 1.5)).astype(np.int64)
    line = rng.integers(0, 1 << 30, n) % lines[firm]
    in_line = rng.random(n) < 0.6
    firm_names = np.array([f"{prefix}{i:06d}" for i in range(n_firms)], dtype=object)
    seq = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    ids = pd.Series(firm_names[firm]) + "-" + pd.Series(seq).astype(str)
    revenue = np.where(in_line, np.exp(rng.normal(16.0, 1.0, n_firms))[firm], np.nan)
    frame = pd.DataFrame(
        {
            "firm": firm_names[firm],
            "patent_id": ids.to_numpy(dtype=object),
            "jurisdiction": "CN",
            "patent_type": ptype,
            "legal_status": status,
            "filing_date": filing,
            "fees_paid_through": fees,
            "claims": rng.poisson(6 + 4 * invention).astype(float),
            "cpc": cpc,
            "family_jurisdictions": np.where(abroad, "CN;US", "CN"),
            "quality_score": quality,
            "remaining_life_years": life,
            "licensed": granted & (rng.random(n) < 0.05 + 0.1 * (skill[firm] > 0)),
            "transfers": (rng.random(n) < 0.04).astype(np.int64),
            "transferred_out": rng.random(n) < 0.02,
            "pledged": granted & (rng.random(n) < 2.0 * trouble[firm] * 0.3),
            "in_litigation": granted & (rng.random(n) < 0.2 * trouble[firm]),
            "invalidation_pending": granted & (rng.random(n) < 0.1 * trouble[firm]),
            "group": np.where(
                in_line, pd.Series(firm_names[firm]) + "-L" + pd.Series(line).astype(str), None
            ),
            "revenue": revenue,
            "value": np.where(granted, np.exp(rng.normal(13.0 + 0.3 * skill[firm], 1.0)), 0.0),
        }
    )
    return frame.set_index(pd.Index(frame["patent_id"], name=None))
