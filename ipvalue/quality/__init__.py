"""Patent quality: legal, technical and economic indicator scores (GB/T 42748-2023, CNIPA PVD, OECD 2013).

The indicator tree (three dimensions, their sub-indicators and leaves, with default and per-scenario weights)
is data: ``ipvalue/data/quality_tree.json``, read and validated by :func:`load_tree`. :func:`score_quality`
computes the leaves from the portfolio frame, redistributes the weight of missing indicators and returns
``quality_legal``, ``quality_technical``, ``quality_economic``, ``quality_score`` (0-100), ``quality_coverage``,
``quality_missing`` and ``quality_explanation``. :func:`royalty_position`, :func:`allocation_weights` and
:func:`legal_haircut_input` are how valuation and collateral use the scores.
"""

from ipvalue.quality._indicators import (
    citation_cohorts,
    class_diversity,
    cohort_quantiles,
    cpc_subclass,
    gdp_table,
    log_cap,
    market_coverage_share,
    quality_indicators,
)
from ipvalue.quality._inputs import QualityInputError
from ipvalue.quality._score import QUALITY_COLUMNS, aggregate, score_quality
from ipvalue.quality._tree import DIMENSIONS, QualityTree, QualityTreeError, load_tree, tree_scenarios
from ipvalue.quality._use import DEAD_STATUSES, allocation_weights, legal_haircut_input, royalty_position

__all__ = [
    "DIMENSIONS",
    "QUALITY_COLUMNS",
    "DEAD_STATUSES",
    "QualityTree",
    "QualityTreeError",
    "QualityInputError",
    "load_tree",
    "tree_scenarios",
    "score_quality",
    "quality_indicators",
    "aggregate",
    "royalty_position",
    "allocation_weights",
    "legal_haircut_input",
    "gdp_table",
    "market_coverage_share",
    "cpc_subclass",
    "class_diversity",
    "log_cap",
    "citation_cohorts",
    "cohort_quantiles",
]
