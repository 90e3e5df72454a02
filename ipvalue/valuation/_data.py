"""Loading the valuation reference tables in ``ipvalue/data/valuation_*`` (read on first use, then cached)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["load_defaults", "royalty_ranges", "royalty_aliases", "decay_table", "price_index"]


def _path(name: str) -> Traversable:
    return resources.files("ipvalue") / "data" / name


@lru_cache(maxsize=1)
def _defaults_text() -> str:
    return _path("valuation_defaults.json").read_text(encoding="utf-8")


def load_defaults() -> dict[str, Any]:
    """The default assumptions (a fresh copy each call)."""
    return json.loads(_defaults_text())


@lru_cache(maxsize=1)
def _royalty_frame() -> pd.DataFrame:
    with resources.as_file(_path("valuation_royalty_ranges.csv")) as p:
        return pd.read_csv(p, dtype={"industry": str, "label_zh": str, "scheme": str, "source": str})


def royalty_ranges() -> dict[str, tuple[float, float, str]]:
    """Industry -> (low, high, source) royalty ranges on net sales (a fresh dict each call)."""
    return dict(_royalty_ranges())


@lru_cache(maxsize=1)
def _royalty_ranges() -> dict[str, tuple[float, float, str]]:
    df = _royalty_frame()
    return {r.industry: (float(r.low), float(r.high), str(r.source)) for r in df.itertuples()}


def royalty_aliases() -> dict[str, str]:
    """Names (code, lower-case code, Chinese label) that map onto an industry code (a fresh dict each call)."""
    return dict(_royalty_aliases())


@lru_cache(maxsize=1)
def _royalty_aliases() -> dict[str, str]:
    df = _royalty_frame()
    out: dict[str, str] = {}
    for r in df.itertuples():
        out[r.industry] = r.industry
        out[r.industry.lower()] = r.industry
        out[str(r.label_zh)] = r.industry
    return out


@lru_cache(maxsize=1)
def _decay_frame() -> pd.DataFrame:
    with resources.as_file(_path("valuation_decay_rates.csv")) as p:
        return pd.read_csv(p, dtype={"field": str, "cpc_prefixes": str}, keep_default_na=False)


def decay_table() -> pd.DataFrame:
    """Technology field, CPC prefixes, yearly decay rate and volatility (copy)."""
    return _decay_frame().copy()


@lru_cache(maxsize=1)
def _cpi() -> tuple[np.ndarray, np.ndarray]:
    with resources.as_file(_path("valuation_price_index.csv")) as p:
        df = pd.read_csv(p)
    years = df["year"].to_numpy(dtype=float)
    level = np.cumprod(df["cpi_prev_year_100"].to_numpy(dtype=float) / 100.0)
    return years, level


def price_index() -> tuple[np.ndarray, np.ndarray]:
    """Years and the chained price level (first year of the table = its own change), for trending costs."""
    y, lv = _cpi()
    return y.copy(), lv.copy()


@lru_cache(maxsize=1)
def _grant_frame() -> pd.DataFrame:
    with resources.as_file(_path("valuation_grant_rates.csv")) as p:
        return pd.read_csv(p, dtype={"office": str, "patent_type": str, "basis": str, "source": str})


def grant_rates() -> pd.DataFrame:
    """Probability of grant and pendency (years) by ``office`` and ``patent_type``; ``*`` is the fallback row."""
    return _grant_frame().copy()
