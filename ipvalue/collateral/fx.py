"""Currency pairs' annual volatility for the currency-mismatch haircut (``ipvalue/data/fx_volatility.json``)."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import numpy as np

from ipvalue.collateral._inputs import CollateralInputError

__all__ = ["fx_volatility_table", "pair_volatility", "fx_haircut"]


@functools.cache
def fx_volatility_table() -> dict[str, Any]:
    """The bundled table: ``{"volatility": {"USD/CNY": {"value": ..., "source": ...}, ...}, "sources": ...}``."""
    text = resources.files("ipvalue.data").joinpath("fx_volatility.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def _against_cny(code: str) -> float | None:
    if code == "CNY":
        return 0.0
    entry = fx_volatility_table()["volatility"].get(f"{code}/CNY")
    return None if entry is None else float(entry["value"])


def pair_volatility(currency: str, loan_currency: str, *, patent_id: str | None = None) -> float:
    """Annual volatility of ``currency`` against ``loan_currency``.

    A pair in the table is read directly (in either order); two currencies both listed against CNY take the
    upper bound ``sigma(A/B) <= sigma(A/CNY) + sigma(B/CNY)`` (the standard deviation of a difference is at most
    the sum of the standard deviations).

    Raises
    ------
    CollateralInputError
        When a currency is not in the table (naming the patent and ``currency``).
    """
    a, b = currency.upper(), loan_currency.upper()
    if a == b:
        return 0.0
    table = fx_volatility_table()["volatility"]
    for key in (f"{a}/{b}", f"{b}/{a}"):
        if key in table:
            return float(table[key]["value"])
    va, vb = _against_cny(a), _against_cny(b)
    if va is None or vb is None:
        missing = a if va is None else b
        known = sorted({"CNY", *(k.split("/")[0] for k in table)})
        raise CollateralInputError(
            f"no FX volatility for {missing} (ipvalue/data/fx_volatility.json knows {', '.join(known)})",
            patent_id=patent_id,
            field="currency",
        )
    return va + vb


def fx_haircut(volatility: Any, horizon_years: float, quantile: float) -> np.ndarray:
    """``1 - exp(-z_q sigma sqrt(T))``: the currency's fall at the policy's confidence over its horizon."""
    from scipy.special import ndtri

    sig = np.asarray(volatility, dtype=float)
    h = 1.0 - np.exp(-float(ndtri(quantile)) * sig * np.sqrt(max(horizon_years, 0.0)))
    return np.clip(h, 0.0, 1.0)


def patent_fx_volatility(currencies: Any, loan_currency: str, ids: Any) -> np.ndarray:
    """Per patent, the volatility of its valuation currency against the loan's (0 where they are the same).

    ``currencies`` are the patents' valuation currency codes (upper case, the loan's where missing).
    """
    cur = np.asarray(currencies, dtype=object)
    out = np.zeros(len(cur))
    for code in dict.fromkeys(cur.tolist()):
        hit = cur == code
        first = str(np.asarray(ids, dtype=object)[hit][0])
        out[hit] = pair_volatility(str(code), loan_currency, patent_id=first)
    return out
