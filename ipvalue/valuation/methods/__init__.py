"""The valuation methods, one module each (market so far; income, cost and real option move here)."""

from ipvalue.valuation.methods.market import MarketInputError, MarketResult, market_approach

__all__ = ["market_approach", "MarketResult", "MarketInputError"]
