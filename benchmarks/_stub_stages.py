"""Stand-in valuation and assessment stages for ``bench_service_compare.py --stub``: each process computes the real
result once (for the first portfolio it is given) and returns it from then on, so what a request costs the
server is everything but the valuation and the collateral pass (HTTP, validation, reading the portfolio, the
result's JSON and hash, the hand-off, the store, the answer)."""

from __future__ import annotations

from typing import Any

_cache: dict[str, Any] = {}


def value(portfolio: Any, assumptions: Any, *, as_of: Any, rng: int) -> Any:
    """The real ``value_portfolio`` of the first portfolio, then that result."""
    if "valued" not in _cache:
        from ipvalue import value_portfolio

        _cache["valued"] = value_portfolio(portfolio, assumptions, as_of=as_of, rng=rng)
    return _cache["valued"]


def assess(valued: Any, *, loan: Any, policy: Any, rng: int) -> Any:
    """The real ``assess_collateral`` of the first valued portfolio, then that result."""
    if "assessed" not in _cache:
        from ipvalue import assess_collateral

        _cache["assessed"] = assess_collateral(valued, loan=loan, policy=policy, rng=rng)
    return _cache["assessed"]
