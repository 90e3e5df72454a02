"""Grades (T1 strongest .. T10 weakest, thresholds from the weight file) and the reasons behind a grade."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.profile._weights import ProfileWeights

__all__ = ["grade_of", "strongest_weakest", "reason_text", "format_value"]


def grade_of(score: np.ndarray | float, weights: ProfileWeights) -> np.ndarray:
    """The grade of each overall score: the first grade (strongest first) whose ``min_score`` it reaches.

    A missing score has no grade (``None``).
    """
    s = np.atleast_1d(np.asarray(score, dtype=float))
    names = np.array([g for g, _ in weights.grades] + [None], dtype=object)
    mins = np.array([m for _, m in weights.grades])
    # mins fall strictly to 0: the grade index is the number of thresholds above the score
    idx = np.sum(s[:, None] < mins[None, :], axis=1)
    idx = np.where(np.isnan(s), len(mins), idx)
    return names[idx]


def strongest_weakest(scores: pd.Series, weights: ProfileWeights, k: int = 3) -> tuple[list[str], list[str]]:
    """The ``k`` strongest and ``k`` weakest scored indicators of one firm (weight > 0, score known).

    Ties go to the indicator with the larger weight in the overall score, then to the file's order. The two
    lists never share an indicator; with fewer than ``2 k`` scored indicators the weakest list is shorter.
    """
    gw = weights.global_weights()
    order = {name: i for i, name in enumerate(weights.indicator_names)}
    cand = [(n, float(v)) for n, v in scores.items() if gw.get(str(n), 0.0) > 0 and not math.isnan(float(v))]
    best = sorted(cand, key=lambda t: (-t[1], -gw[t[0]], order[t[0]]))[:k]
    chosen = {n for n, _ in best}
    worst = sorted((t for t in cand if t[0] not in chosen), key=lambda t: (t[1], -gw[t[0]], order[t[0]]))[:k]
    return [n for n, _ in best], [n for n, _ in worst]


def format_value(value: float, unit: str) -> str:
    """An indicator value for a sentence: shares as percentages, counts as integers, money with separators."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if unit == "share":
        return f"{100.0 * value:.0f}%"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "money":
        return f"{value:,.0f}"
    return f"{value:.2f}"


def reason_text(
    name: str, value: float, percentile: float, n_peers: int, weights: ProfileWeights, lang: str
) -> str:
    """One sentence: the indicator, its value and its place among the peers, in ``lang`` (``"zh"`` or ``"en"``)."""
    spec: dict[str, Any] = weights.indicators[name]
    v = format_value(value, str(spec["unit"]))
    better_high = spec["direction"] > 0
    if lang == "zh":
        side = "越高越好" if better_high else "越低越好"
        return f"{spec['label_zh']}：{v}（在同组{n_peers}家企业中位于第{percentile:.0f}百分位，{side}）"
    side = "higher is better" if better_high else "lower is better"
    return f"{spec['label_en']}: {v} ({percentile:.0f}th percentile of {n_peers} peer firms; {side})"
