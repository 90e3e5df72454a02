"""The profile's weights, peer-cohort settings and grade scale, read from JSON and validated.

The file (``ipvalue/data/profile_weights.json`` by default) is checked with the same validators as the quality
tree (:func:`ipvalue.quality._tree.check_weight`, :func:`~ipvalue.quality._tree.check_sibling_sums`,
:func:`~ipvalue.quality._tree.read_json_file`): every weight a finite number >= 0, the dimension weights and the
indicator weights inside each dimension summing to one, every indicator computed by ipvalue and defined once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ipvalue.errors import InputError, Problem
from ipvalue.quality._tree import check_sibling_sums, check_weight, read_json_file

__all__ = ["ProfileWeights", "ProfileWeightsError", "load_profile_weights", "INDICATORS", "DIMENSION_ORDER"]

_DEFAULT_FILE = "profile_weights.json"

#: the dimensions of the profile, in output order
DIMENSION_ORDER: tuple[str, ...] = ("output", "quality", "protection", "breadth", "use", "legal")

#: every indicator :func:`ipvalue.profile.firm_indicators` computes, by dimension
INDICATORS: dict[str, tuple[str, ...]] = {
    "output": (
        "patents_total",
        "patents_in_force",
        "filings_last_3y",
        "filings_last_5y",
        "filings_prior_5y",
        "filing_momentum_3y",
        "filing_momentum_5y",
    ),
    "quality": ("quality_median", "quality_top_decile_share"),
    "protection": ("invention_share", "remaining_life_median", "family_abroad_share", "claims_median"),
    "breadth": ("class_entropy", "core_class_share", "product_overlap"),
    "use": (
        "licensed_share",
        "transfers_in",
        "transfers_out",
        "transfer_share",
        "product_lines_with_revenue",
        "value_per_patent",
    ),
    "legal": ("lapse_rate", "fees_overdue_share", "invalidation_rate", "litigation_share", "pledged_share"),
}

_DIRECTIONS = {"higher": 1.0, "lower": -1.0}


class ProfileWeightsError(InputError):
    """A profile weight file (or override) that cannot be used; ``node`` names the offending entry."""

    def __init__(self, message: str, node: str | None = None) -> None:
        super().__init__([Problem(None, node, message)], message=message)
        self.node = node


@dataclass(frozen=True)
class ProfileWeights:
    """A validated profile configuration.

    Attributes
    ----------
    dimensions : dict
        ``{dimension: [indicator, ...]}`` in output order.
    weights : dict
        Weight of every node by path: ``"legal"`` and ``"legal/lapse_rate"``; siblings sum to one.
    indicators : dict
        Per indicator: ``direction`` (+1 higher is better, -1 lower is better), ``unit``, ``label_en``,
        ``label_zh``.
    dimension_labels : dict
        ``{dimension: {"en": ..., "zh": ...}}``.
    size_edges : tuple of int
        Lower edges of the size buckets (patents in force); a firm with none is bucket 0.
    min_firms : int
        Smallest peer cohort used before falling back to a coarser one.
    top_quantile : float
        The cohort quantile of quality scores above which a patent is in the "top decile".
    grades : tuple of (str, float)
        ``(grade, min_score)`` from the strongest grade down; the last min_score is 0.
    version, origin : str
        Version of the file and where it was read from.
    """

    dimensions: dict[str, list[str]]
    weights: dict[str, float]
    indicators: dict[str, dict[str, Any]]
    dimension_labels: dict[str, dict[str, str]]
    size_edges: tuple[int, ...]
    min_firms: int
    top_quantile: float
    grades: tuple[tuple[str, float], ...]
    version: str
    origin: str
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def indicator_names(self) -> list[str]:
        """Every indicator, dimension by dimension."""
        return [name for names in self.dimensions.values() for name in names]

    def dimension_of(self, indicator: str) -> str:
        """The dimension an indicator belongs to."""
        for dim, names in self.dimensions.items():
            if indicator in names:
                return dim
        raise KeyError(indicator)

    def global_weights(self) -> dict[str, float]:
        """Nominal weight of each indicator in the overall score (dimension weight x indicator weight)."""
        return {
            name: self.weights[dim] * self.weights[f"{dim}/{name}"]
            for dim, names in self.dimensions.items()
            for name in names
        }

    def label(self, indicator: str, lang: str = "en") -> str:
        """The indicator's label in ``lang`` (``"en"`` or ``"zh"``)."""
        return str(self.indicators[indicator][f"label_{lang}"])

    def with_weights(self, overrides: Mapping[str, float], *, label: str = "override") -> ProfileWeights:
        """A copy with some weights replaced (``{"legal": 0.3, "output": 0.05}``), validated again."""
        weights = dict(self.weights)
        for path, w in overrides.items():
            if path not in weights:
                raise ProfileWeightsError(f"{label}: unknown node {path!r}", path)
            weights[path] = check_weight(w, path, label, error=ProfileWeightsError)
        _check_sums(self.dimensions, weights, label)
        return ProfileWeights(**{**self.__dict__, "weights": weights})

    def to_dict(self) -> dict[str, Any]:
        """Version, origin, weights and grade thresholds (for the audit record)."""
        return {
            "version": self.version,
            "origin": self.origin,
            "weights": dict(self.weights),
            "grades": [list(g) for g in self.grades],
            "size_edges": list(self.size_edges),
            "min_firms": self.min_firms,
            "top_quantile": self.top_quantile,
        }


def _check_sums(dimensions: Mapping[str, list[str]], weights: Mapping[str, float], label: str) -> None:
    groups: list[tuple[str, list[str]]] = [("", list(dimensions))]
    groups += [(dim, [f"{dim}/{n}" for n in names]) for dim, names in dimensions.items()]
    check_sibling_sums(groups, weights, label, error=ProfileWeightsError, top="the dimensions")


def _need(cond: bool, message: str, node: str | None) -> None:
    if not cond:
        raise ProfileWeightsError(message, node)


def _parse_dimensions(
    data: Mapping[str, Any], origin: str
) -> tuple[dict[str, list[str]], dict[str, float], dict[str, dict[str, str]]]:
    dims = data.get("dimensions")
    _need(
        isinstance(dims, dict) and bool(dims), f"{origin}: missing or empty 'dimensions' object", "dimensions"
    )
    assert isinstance(dims, dict)
    _need(
        tuple(dims) == DIMENSION_ORDER,
        f"{origin}: the dimensions must be exactly {list(DIMENSION_ORDER)} in that order, got {list(dims)}",
        "dimensions",
    )
    dimensions: dict[str, list[str]] = {}
    weights: dict[str, float] = {}
    labels: dict[str, dict[str, str]] = {}
    for dim, node in dims.items():
        _need(
            isinstance(node, dict) and isinstance(node.get("indicators"), dict),
            f"{origin}: dimension {dim!r} needs an 'indicators' object",
            dim,
        )
        weights[dim] = check_weight(node.get("weight"), dim, origin, error=ProfileWeightsError)
        labels[dim] = {"en": str(node.get("label_en", dim)), "zh": str(node.get("label_zh", dim))}
        given = list(node["indicators"])
        _need(
            given == list(INDICATORS[dim]),
            f"{origin}: dimension {dim!r} must list exactly the indicators {list(INDICATORS[dim])} "
            f"(in that order; a weight of 0 reports an indicator without scoring it), got {given}",
            dim,
        )
        for name, spec in node["indicators"].items():
            path = f"{dim}/{name}"
            _need(
                isinstance(spec, dict), f"{origin}: indicator {path!r} must be an object with a weight", path
            )
            weights[path] = check_weight(spec.get("weight"), path, origin, error=ProfileWeightsError)
        dimensions[dim] = given
    return dimensions, weights, labels


def _parse_indicators(data: Mapping[str, Any], origin: str) -> dict[str, dict[str, Any]]:
    defs = data.get("indicators")
    _need(isinstance(defs, dict), f"{origin}: missing 'indicators' object", "indicators")
    assert isinstance(defs, dict)
    out: dict[str, dict[str, Any]] = {}
    for name in (n for names in INDICATORS.values() for n in names):
        d = defs.get(name)
        _need(isinstance(d, dict), f"{origin}: indicator {name!r} has no definition under 'indicators'", name)
        assert isinstance(d, dict)
        direction = d.get("direction")
        _need(
            direction in _DIRECTIONS,
            f"{origin}: indicator {name!r}: 'direction' must be 'higher' or 'lower', got {direction!r}",
            name,
        )
        for key in ("label_en", "label_zh", "unit"):
            _need(
                isinstance(d.get(key), str) and bool(d[key]),
                f"{origin}: indicator {name!r} needs {key!r}",
                name,
            )
        out[name] = {**d, "direction": _DIRECTIONS[str(direction)]}
    unknown = sorted(set(defs) - set(out))
    _need(not unknown, f"{origin}: unknown indicators {unknown} (ipvalue computes only these)", "indicators")
    return out


def _parse_cohort(data: Mapping[str, Any], origin: str) -> tuple[tuple[int, ...], int, float]:
    c = data.get("cohort")
    _need(isinstance(c, dict), f"{origin}: missing 'cohort' object", "cohort")
    assert isinstance(c, dict)
    edges = c.get("size_edges")
    _need(
        isinstance(edges, list)
        and len(edges) > 0
        and all(isinstance(e, int) and not isinstance(e, bool) and e >= 1 for e in edges)
        and all(a < b for a, b in zip(edges, edges[1:], strict=False)),
        f"{origin}: cohort 'size_edges' must be increasing integers >= 1, got {edges!r}",
        "cohort/size_edges",
    )
    m = c.get("min_firms")
    _need(
        isinstance(m, int) and not isinstance(m, bool) and m >= 1,
        f"{origin}: cohort 'min_firms' must be an integer >= 1, got {m!r}",
        "cohort/min_firms",
    )
    q = c.get("top_quantile")
    _need(
        isinstance(q, int | float) and not isinstance(q, bool) and 0.0 < float(q) < 1.0,
        f"{origin}: cohort 'top_quantile' must be a number in (0, 1), got {q!r}",
        "cohort/top_quantile",
    )
    assert isinstance(edges, list) and isinstance(m, int) and isinstance(q, int | float)
    return tuple(int(e) for e in edges), int(m), float(q)


def _parse_grades(data: Mapping[str, Any], origin: str) -> tuple[tuple[str, float], ...]:
    g = data.get("grades")
    scale = g.get("scale") if isinstance(g, dict) else None
    _need(isinstance(scale, list) and len(scale) >= 2, f"{origin}: 'grades' needs a 'scale' list", "grades")
    assert isinstance(scale, list)
    out: list[tuple[str, float]] = []
    for i, row in enumerate(scale):
        node = f"grades/scale/{i}"
        _need(
            isinstance(row, dict) and isinstance(row.get("grade"), str) and bool(row["grade"]),
            f"{origin}: grade row {i} needs a 'grade' name",
            node,
        )
        ms = row.get("min_score")
        _need(
            isinstance(ms, int | float) and not isinstance(ms, bool) and math.isfinite(ms) and 0 <= ms <= 100,
            f"{origin}: grade {row.get('grade')!r}: 'min_score' must be a number in [0, 100], got {ms!r}",
            node,
        )
        out.append((str(row["grade"]), float(ms)))
    names = [n for n, _ in out]
    _need(len(set(names)) == len(names), f"{origin}: grade names repeat: {names}", "grades")
    mins = [m for _, m in out]
    _need(
        all(a > b for a, b in zip(mins, mins[1:], strict=False)),
        f"{origin}: grade thresholds must fall strictly from the strongest grade to the weakest, got {mins}",
        "grades",
    )
    _need(mins[-1] == 0.0, f"{origin}: the weakest grade must start at min_score 0, got {mins[-1]}", "grades")
    return tuple(out)


def load_profile_weights(path: str | Path | None = None) -> ProfileWeights:
    """Read and validate a profile weight file.

    Parameters
    ----------
    path : str or Path, optional
        A JSON file shaped like ``ipvalue/data/profile_weights.json``; the packaged file when omitted.

    Returns
    -------
    ProfileWeights

    Raises
    ------
    ProfileWeightsError
        A malformed file, an unknown or missing indicator, weights that are negative or do not sum to one within
        a level (1e-9), bad cohort settings, or grade thresholds that are not strictly falling to 0.
    """
    data, origin = read_json_file(
        path, default_file=_DEFAULT_FILE, what="profile weights", error=ProfileWeightsError
    )
    dimensions, weights, labels = _parse_dimensions(data, origin)
    indicators = _parse_indicators(data, origin)
    _check_sums(dimensions, weights, origin)
    edges, min_firms, top_q = _parse_cohort(data, origin)
    grades = _parse_grades(data, origin)
    notes = {
        k: str(v["note"])
        for k, v in data.items()
        if isinstance(v, dict) and isinstance(v.get("note"), str) and k in ("cohort", "grades")
    }
    return ProfileWeights(
        dimensions=dimensions,
        weights=weights,
        indicators=indicators,
        dimension_labels=labels,
        size_edges=edges,
        min_firms=min_firms,
        top_quantile=top_q,
        grades=grades,
        version=str(data.get("version", "")),
        origin=origin,
        notes=notes,
    )
