"""The indicator tree: dimensions, sub-indicators, leaves and their weights, read from JSON and validated."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ipvalue.errors import InputError, Problem

__all__ = [
    "DIMENSIONS",
    "QualityTree",
    "QualityTreeError",
    "load_tree",
    "tree_scenarios",
    "check_weight",
    "check_sibling_sums",
    "read_json_file",
]

#: the three first-level indicators of GB/T 42748-2023 and the CNIPA PVD system, in output order
DIMENSIONS: tuple[str, ...] = ("legal", "technical", "economic")

#: leaves that :mod:`ipvalue.quality` computes from the portfolio frame (expert leaves are read from columns)
COMPUTED_LEAVES: frozenset[str] = frozenset(
    {
        "grant_status",
        "invalidation_history",
        "remaining_life",
        "fee_continuity",
        "claims",
        "independent_claims",
        "litigation",
        "forward_citations",
        "generality",
        "backward_citations",
        "originality",
        "cpc_scope",
        "family_size",
        "market_coverage",
        "licensing",
        "commercialisation",
    }
)

_TOLERANCE = 1e-9
_DEFAULT_FILE = "quality_tree.json"


class QualityTreeError(InputError):
    """A weight file or weight override that cannot be used; ``node`` names the offending node path."""

    def __init__(self, message: str, node: str | None = None) -> None:
        super().__init__([Problem(None, node, message)], message=message)
        self.node = node


@dataclass(frozen=True)
class QualityTree:
    """A validated three-level indicator tree with one resolved set of weights.

    Parameters
    ----------
    structure : dict
        ``{dimension: {sub_indicator: [leaf, ...]}}`` in evaluation order.
    weights : dict
        Weight of every node keyed by its path: ``"legal"``, ``"legal/term"``, ``"legal/term/remaining_life"``.
        Siblings sum to one.
    leaves : dict
        Leaf definitions (labels, inputs, parameters, source) keyed by leaf name.
    scenario : str
        Name of the scenario whose weights were applied.
    version : str
        Version string of the tree file.
    origin : str
        Where the tree was read from.
    labels : dict
        ``label_en`` / ``label_zh`` of dimensions and sub-indicators keyed by path.

    Notes
    -----
    Build one with :func:`load_tree`; :meth:`with_weights` returns a re-validated copy with some weights replaced.
    """

    structure: dict[str, dict[str, list[str]]]
    weights: dict[str, float]
    leaves: dict[str, dict[str, Any]]
    scenario: str
    version: str
    origin: str
    labels: dict[str, dict[str, str]] = field(default_factory=dict)

    # ------------------------------------------------------------------ views
    @property
    def leaf_names(self) -> list[str]:
        """Leaves in evaluation order (dimension, then sub-indicator, then leaf)."""
        return [leaf for subs in self.structure.values() for leaves in subs.values() for leaf in leaves]

    def leaf_path(self, leaf: str) -> str:
        """The path ``dimension/sub/leaf`` of a leaf."""
        for dim, subs in self.structure.items():
            for sub, leaves in subs.items():
                if leaf in leaves:
                    return f"{dim}/{sub}/{leaf}"
        raise KeyError(leaf)

    def global_weights(self) -> dict[str, float]:
        """Nominal weight of each leaf in the overall score (product of the weights on its path; sums to one)."""
        out = {}
        for dim, subs in self.structure.items():
            for sub, leaves in subs.items():
                for leaf in leaves:
                    out[leaf] = (
                        self.weights[dim] * self.weights[f"{dim}/{sub}"] * self.weights[f"{dim}/{sub}/{leaf}"]
                    )
        return out

    def params(self, leaf: str) -> dict[str, Any]:
        """The ``params`` block of a leaf; reading a parameter the file lacks raises :class:`QualityTreeError`."""
        return _Params(self.leaf_path(leaf), self.origin, self.leaves[leaf].get("params", {}))

    def label(self, leaf: str, lang: str = "en") -> str:
        """Short label of a leaf (``lang`` is ``"en"`` or ``"zh"``)."""
        return str(self.leaves[leaf].get(f"label_{lang}", leaf))

    def neutral_values(self) -> np.ndarray:
        """Reference value of each leaf (in :attr:`leaf_names` order) that explanations measure against."""
        return np.array([float(self.leaves[leaf].get("neutral", 0.5)) for leaf in self.leaf_names])

    def expert_columns(self) -> dict[str, str]:
        """``{leaf: input column}`` of the expert-scored leaves (0-10 scales)."""
        return {
            leaf: str(d["column"])
            for leaf, d in self.leaves.items()
            if d.get("kind") == "expert" and leaf in self
        }

    def __contains__(self, leaf: object) -> bool:
        return any(leaf in leaves for subs in self.structure.values() for leaves in subs.values())

    # ------------------------------------------------------------------ changes
    def with_weights(self, overrides: Mapping[str, float], *, label: str = "override") -> QualityTree:
        """A copy with the weights at the given paths replaced, validated again.

        Parameters
        ----------
        overrides : mapping of str to float
            Node path to new weight, e.g. ``{"legal": 0.5, "technical": 0.2, "economic": 0.3}``.
        label : str
            Name used in error messages.

        Raises
        ------
        QualityTreeError
            An unknown path, a negative or non-finite weight, or siblings that no longer sum to one.
        """
        weights = dict(self.weights)
        for path, w in overrides.items():
            if path not in weights:
                raise QualityTreeError(
                    f"{label}: unknown node {path!r} (known: {_known_hint(weights, path)})", path
                )
            weights[path] = check_weight(w, path, label)
        _check_sums(self.structure, weights, label)
        return QualityTree(
            structure=self.structure,
            weights=weights,
            leaves=self.leaves,
            scenario=self.scenario if not overrides else f"{self.scenario}+{label}",
            version=self.version,
            origin=self.origin,
            labels=self.labels,
        )

    def to_dict(self) -> dict[str, Any]:
        """Scenario, version, origin and the resolved weights (for audit records)."""
        return {
            "scenario": self.scenario,
            "version": self.version,
            "origin": self.origin,
            "weights": dict(self.weights),
        }


class _Params(dict):
    """A leaf's parameters; a missing one is an error in the tree file, named as such."""

    def __init__(self, path: str, origin: str, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        self.path = path
        self.origin = origin

    def __missing__(self, key: str) -> Any:
        raise QualityTreeError(f"{self.origin}: leaf {self.path!r} lacks the parameter {key!r}", self.path)


def _known_hint(weights: Mapping[str, float], path: str) -> str:
    parent = path.rsplit("/", 1)[0] if "/" in path else ""
    depth = path.count("/")
    near = [p for p in weights if p.count("/") == depth and (not parent or p.startswith(parent + "/"))]
    return ", ".join(near[:12]) or ", ".join(list(weights)[:12])


def check_weight(
    w: object, path: str, label: str, *, error: Callable[[str, str | None], InputError] = QualityTreeError
) -> float:
    """A weight read from a data file: a finite number >= 0, else ``error(message, path)`` is raised.

    Shared by every weighted data file (the quality tree, the borrower-profile weights).
    """
    if isinstance(w, bool) or not isinstance(w, int | float):
        raise error(f"{label}: weight of {path!r} must be a number, got {w!r}", path)
    w = float(w)
    if not math.isfinite(w) or w < 0:
        raise error(f"{label}: weight of {path!r} must be finite and >= 0, got {w!r}", path)
    return w


def check_sibling_sums(
    groups: Sequence[tuple[str, Sequence[str]]],
    weights: Mapping[str, float],
    label: str,
    *,
    error: Callable[[str, str | None], InputError] = QualityTreeError,
    top: str = "the top level",
) -> None:
    """Raise ``error(message, parent)`` unless the weights of each sibling group sum to one (within 1e-9).

    Parameters
    ----------
    groups : sequence of (parent, [node path, ...])
        Each parent with the paths of its children; the parent ``""`` names the top level.
    weights : mapping of node path to weight
    label : str
        Where the weights come from (a file name), for the message.
    error : callable
        The error class to raise, called as ``error(message, node)``.
    top : str
        How the message names the top level (parent ``""``).
    """
    for parent, paths in groups:
        total = math.fsum(weights[p] for p in paths)
        if abs(total - 1.0) > _TOLERANCE:
            parts = ", ".join(f"{p.rsplit('/', 1)[-1]}={weights[p]:g}" for p in paths)
            where = f"under {parent!r}" if parent else f"of {top}"
            raise error(f"{label}: weights {where} sum to {total:.12g}, not 1 ({parts})", parent or "/")


def _check_sums(
    structure: Mapping[str, Mapping[str, list[str]]], weights: Mapping[str, float], label: str
) -> None:
    groups: list[tuple[str, list[str]]] = [("", list(structure))]
    for dim, subs in structure.items():
        groups.append((dim, [f"{dim}/{s}" for s in subs]))
        for sub, leaves in subs.items():
            groups.append((f"{dim}/{sub}", [f"{dim}/{sub}/{leaf}" for leaf in leaves]))
    check_sibling_sums(groups, weights, label, top="the dimensions")


@functools.cache
def _packaged_text(name: str) -> str:
    """The text of the packaged ``ipvalue/data/<name>``, read once per process."""
    return resources.files("ipvalue").joinpath("data", name).read_text(encoding="utf-8")


def read_json_file(
    path: str | Path | None,
    *,
    default_file: str,
    what: str,
    error: Callable[[str], InputError] = QualityTreeError,
) -> tuple[dict[str, Any], str]:
    """A JSON object from ``path``, or the packaged ``ipvalue/data/<default_file>`` when ``path`` is None.

    Returns the object and its origin (the path as text). A file that cannot be read, is not JSON or is not an
    object raises ``error(message)``; ``what`` names the file's kind in the message.
    """
    if path is None:
        text = _packaged_text(default_file)
        origin = f"ipvalue/data/{default_file}"
    else:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise error(f"cannot read {what} file {str(p)!r}: {exc}") from exc
        origin = str(p)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{origin}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise error(f"{origin}: the top level must be a JSON object")
    return data, origin


def _read_json(path: str | Path | None) -> tuple[dict[str, Any], str]:
    return read_json_file(path, default_file=_DEFAULT_FILE, what="quality tree")


def _parse(data: Mapping[str, Any], origin: str) -> tuple[dict, dict, dict, dict]:
    tree = data.get("tree")
    leaves_def = data.get("leaves")
    if not isinstance(tree, dict) or not tree:
        raise QualityTreeError(f"{origin}: missing or empty 'tree' object", "tree")
    if not isinstance(leaves_def, dict):
        raise QualityTreeError(f"{origin}: missing 'leaves' object", "leaves")
    if tuple(tree) != DIMENSIONS:
        raise QualityTreeError(
            f"{origin}: the tree must have exactly the dimensions {list(DIMENSIONS)} in that order, got {list(tree)}",
            "tree",
        )
    structure: dict[str, dict[str, list[str]]] = {}
    weights: dict[str, float] = {}
    labels: dict[str, dict[str, str]] = {}
    seen: dict[str, str] = {}
    for dim, dnode in tree.items():
        if (
            not isinstance(dnode, dict)
            or not isinstance(dnode.get("children"), dict)
            or not dnode["children"]
        ):
            raise QualityTreeError(f"{origin}: dimension {dim!r} needs a non-empty 'children' object", dim)
        weights[dim] = check_weight(dnode.get("weight"), dim, origin)
        labels[dim] = {k: str(v) for k, v in dnode.items() if k.startswith("label_")}
        structure[dim] = {}
        for sub, snode in dnode["children"].items():
            spath = f"{dim}/{sub}"
            if (
                not isinstance(snode, dict)
                or not isinstance(snode.get("children"), dict)
                or not snode["children"]
            ):
                raise QualityTreeError(
                    f"{origin}: sub-indicator {spath!r} needs a non-empty 'children' object", spath
                )
            weights[spath] = check_weight(snode.get("weight"), spath, origin)
            labels[spath] = {k: str(v) for k, v in snode.items() if k.startswith("label_")}
            structure[dim][sub] = []
            for leaf, lnode in snode["children"].items():
                lpath = f"{spath}/{leaf}"
                if not isinstance(lnode, dict) or "children" in lnode:
                    raise QualityTreeError(
                        f"{origin}: leaf {lpath!r} must be an object with a weight only", lpath
                    )
                if leaf in seen:
                    raise QualityTreeError(
                        f"{origin}: leaf {leaf!r} appears twice ({seen[leaf]} and {lpath})", lpath
                    )
                seen[leaf] = lpath
                d = leaves_def.get(leaf)
                if not isinstance(d, dict):
                    raise QualityTreeError(
                        f"{origin}: leaf {lpath!r} has no definition under 'leaves'", lpath
                    )
                if "neutral" in d:
                    nv = d["neutral"]
                    if isinstance(nv, bool) or not isinstance(nv, int | float) or not 0.0 <= float(nv) <= 1.0:
                        raise QualityTreeError(
                            f"{origin}: leaf {lpath!r}: 'neutral' must be a number in [0, 1]", lpath
                        )
                kind = d.get("kind", "computed")
                if kind == "expert":
                    if not isinstance(d.get("column"), str) or not d["column"]:
                        raise QualityTreeError(
                            f"{origin}: expert leaf {lpath!r} needs a 'column' name", lpath
                        )
                elif kind == "computed":
                    if leaf not in COMPUTED_LEAVES:
                        raise QualityTreeError(
                            f"{origin}: unknown leaf {lpath!r}: ipvalue computes only {sorted(COMPUTED_LEAVES)}; "
                            "declare other indicators as kind 'expert' with an input column",
                            lpath,
                        )
                else:
                    raise QualityTreeError(f"{origin}: leaf {lpath!r} has unknown kind {kind!r}", lpath)
                weights[lpath] = check_weight(lnode.get("weight"), lpath, origin)
                structure[dim][sub].append(leaf)
    return structure, weights, labels, leaves_def


def tree_scenarios(path: str | Path | None = None) -> dict[str, str]:
    """Scenario names of a tree file with their notes (the packaged file when ``path`` is None)."""
    data, _ = _read_json(path)
    scen = data.get("scenarios") or {}
    return {name: str(s.get("note", "")) for name, s in scen.items() if isinstance(s, dict)}


def load_tree(path: str | Path | None = None, *, scenario: str = "pledge") -> QualityTree:
    """Read, validate and resolve an indicator tree.

    Parameters
    ----------
    path : str or Path, optional
        JSON file with ``tree``, ``leaves`` and ``scenarios`` (see ``ipvalue/data/quality_tree.json``);
        the packaged tree when omitted.
    scenario : str
        Weight set to apply on top of the tree's own weights: ``"pledge"`` (default), ``"transaction"``,
        ``"licensing"``, ``"default"`` or any scenario the file defines.

    Returns
    -------
    QualityTree

    Raises
    ------
    QualityTreeError
        A malformed file, an unknown leaf, an unknown scenario or node, or weights that do not sum to one at some
        level (within 1e-9); the message and ``.node`` name the node.
    """
    data, origin = _read_json(path)
    structure, weights, labels, leaves_def = _parse(data, origin)
    _check_sums(structure, weights, f"{origin} (tree weights)")
    scenarios = data.get("scenarios") or {}
    if scenario not in scenarios and scenario != "default":
        raise QualityTreeError(
            f"{origin}: unknown scenario {scenario!r} (available: {', '.join(scenarios) or 'none'})", scenario
        )
    overrides = (scenarios.get(scenario) or {}).get("weights") or {}
    if not isinstance(overrides, dict):
        raise QualityTreeError(f"{origin}: scenario {scenario!r} 'weights' must be an object", scenario)
    base = QualityTree(
        structure=structure,
        weights=weights,
        leaves={k: dict(v) for k, v in leaves_def.items() if isinstance(v, dict)},
        scenario=scenario,
        version=str(data.get("version", "")),
        origin=origin,
        labels=labels,
    )
    for name, spec in scenarios.items():  # a bad scenario anywhere in the file refuses the file
        other = spec.get("weights") if isinstance(spec, dict) else None
        if not isinstance(other, dict):
            raise QualityTreeError(f"{origin}: scenario {name!r} needs a 'weights' object", name)
        if name != scenario:
            base.with_weights(other, label=f"{origin} scenario {name!r}")
    resolved = base.with_weights(overrides, label=f"{origin} scenario {scenario!r}")
    # keep the plain scenario name (with_weights appends a suffix for ad-hoc overrides)
    return QualityTree(
        structure=resolved.structure,
        weights=resolved.weights,
        leaves=resolved.leaves,
        scenario=scenario,
        version=resolved.version,
        origin=origin,
        labels=resolved.labels,
    )
