"""Collateral policies: the bank's rules and calibration, as validated data.

A policy is a JSON file with ``name``, ``version``, ``description``, ``sources`` and ``parameters``; every
parameter is ``{"value": ..., "source": "..."}`` where the source names a publication or says the number is a
choice (tag ``[C]``). Three presets ship in ``ipvalue/data/policy_*.json``: ``cn-bank-standard``,
``basel-internal`` and ``conservative``. :func:`load_policy` takes a preset name, a path to such a file, a
mapping of the same shape, or a :class:`Policy`.
"""

from __future__ import annotations

import copy
import functools
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from ipvalue.errors import InputError, Problem
from ipvalue.facts.patent import PATENT_TYPES

__all__ = ["Policy", "PolicyError", "load_policy", "list_policies", "POLICY_PARAMETERS"]

MODES: tuple[str, ...] = ("orderly", "judicial", "distressed")
MARKET_METHODS: tuple[str, ...] = ("lognormal_quantile", "basel_scaling")
#: what a disposal package can be formed by (the first one a patent has a label for)
PACKAGE_DIMENSIONS: tuple[str, ...] = ("product_line", "family", "technology_class")


class PolicyError(InputError):
    """A policy that cannot be found or does not validate."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__([Problem(None, field, message)])


# --- validators --------------------------------------------------------------------------------------------


def _num(
    lo: float, hi: float, *, lo_open: bool = False, integer: bool = False
) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            return f"must be a finite number, got {v!r}"
        if integer and int(v) != v:
            return f"must be a whole number, got {v!r}"
        if v < lo or v > hi or (lo_open and v == lo):
            left = "(" if lo_open else "["
            return f"must lie in {left}{lo}, {hi}], got {v!r}"
        return None

    return check


def _bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else f"must be true or false, got {v!r}"


def _choice(options: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        return None if v in options else f"must be one of {', '.join(options)}, got {v!r}"

    return check


def _types(v: Any) -> str | None:
    if not isinstance(v, list) or not all(t in PATENT_TYPES for t in v):
        return f"must be a list drawn from {', '.join(PATENT_TYPES)}, got {v!r}"
    return None


def _package_by(v: Any) -> str | None:
    if not isinstance(v, list) or not all(d in PACKAGE_DIMENSIONS for d in v) or len(set(v)) != len(v):
        return (
            f"must be a list drawn from {', '.join(PACKAGE_DIMENSIONS)} (empty: each patent alone), got {v!r}"
        )
    return None


def _codes(v: Any) -> str | None:
    if not isinstance(v, list) or not all(isinstance(c, str) and len(c) == 2 and c.isupper() for c in v):
        return f"must be a list of two-letter office codes (or null for any), got {v!r}"
    return None


def _per_key(
    keys: tuple[str, ...], inner: Callable[[Any], str | None], *, sums_to_one: bool = False
) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if not isinstance(v, Mapping) or set(v) != set(keys):
            return f"must map exactly the keys {', '.join(keys)}, got {v!r}"
        for k in keys:
            msg = inner(v[k])
            if msg:
                return f"[{k!r}] {msg}"
        if sums_to_one and abs(sum(v.values()) - 1.0) > 1e-9:
            return f"must add up to 1, got {sum(v.values()):.6f}"
        return None

    return check


def _optional(inner: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    return lambda v: None if v is None else inner(v)


_SHARE = _num(0.0, 1.0)
_SHARE_OPEN = _num(0.0, 1.0, lo_open=True)

#: every parameter a policy must carry, with its check
POLICY_PARAMETERS: dict[str, Callable[[Any], str | None]] = {
    # eligibility
    "accepted_types": _types,
    "accepted_jurisdictions": _optional(_codes),
    "disposal_buffer_years": _num(0.0, 10.0),
    "min_remaining_life_years": _num(0.0, 30.0),
    "require_owner_match": _bool,
    "accept_co_owned": _bool,
    "reject_in_litigation": _bool,
    "fee_grace_days": _num(0, 366, integer=True),
    # haircuts
    "quantile": _num(0.5, 0.9999),
    "market_method": _choice(MARKET_METHODS),
    "default_volatility": _num(0.0, 3.0),
    "obsolescence_rate": _num(-0.5, 2.0),
    "revaluation_interval_days": _num(1, 2500, integer=True),
    "liquidation_period_days": _num(1, 2500, integer=True),
    "estimation_period_days": _num(1, 2500, integer=True),
    "valuation_k": _num(0.0, 5.0),
    "valuation_missing_range_haircut": _SHARE,
    "legal_max_haircut": _SHARE,
    "life_discount_rate": _num(0.0, 1.0),
    "concentration_weights": _per_key(("family", "technology_class", "product_line"), _SHARE),
    "concentration_free_share": _num(0.0, 0.99),
    "recovery_confidence": _num(0.0, 0.999),
    "valuation_max_age_months": _num(1, 120, integer=True),
    "pledge_rate_cap": _per_key(PATENT_TYPES, _SHARE),
    "loan_to_collateral": _num(0.0, 2.0),
    # liquidation
    "mode_probabilities": _per_key(MODES, _SHARE, sums_to_one=True),
    "bid_median": _per_key(MODES, _num(0.0, 5.0, lo_open=True)),
    "bid_dispersion": _num(0.0, 3.0),
    "no_sale_probability": _per_key(("orderly", "distressed"), _num(0.0, 0.999)),
    "crash_no_sale_probability": _per_key(("orderly", "distressed"), _num(0.0, 0.999)),
    "crash_probability": _SHARE,
    "crash_price_drop": _SHARE,
    "time_to_sale_median_years": _per_key(MODES, _num(0.0, 20.0, lo_open=True)),
    "time_to_sale_dispersion": _num(0.0, 3.0),
    "judicial_first_reserve": _SHARE_OPEN,
    "judicial_second_round_cut": _num(0.0, 0.2),
    "judicial_auction_rounds": _num(1, 3, integer=True),
    "judicial_notice_days": _num(0, 365, integer=True),
    "judicial_renotice_days": _num(0, 365, integer=True),
    "judicial_second_round_days": _num(0, 365, integer=True),
    "judicial_sale_period_days": _num(0, 365, integer=True),
    "judicial_sale_success": _SHARE,
    "variable_cost": _per_key(MODES, _SHARE),
    "appraisal_fee": _SHARE,
    "legal_cost": _per_key(MODES, _SHARE),
    "invalidation_hazard": _num(0.0, 5.0),
    "litigation_hazard_multiplier": _num(1.0, 100.0),
    "market_correlation": _SHARE,
    "package_by": _package_by,
    "recovery_discount_rate": _optional(_num(-0.5, 1.0)),
}


@dataclass(frozen=True)
class Policy:
    """A validated collateral policy.

    Attributes
    ----------
    name, version, description : str
    values : dict
        Parameter name -> value (see :data:`POLICY_PARAMETERS`).
    sources : dict
        Parameter name -> where the number comes from, or ``[C]`` for a choice.
    references : dict
        Short keys used in the sources -> full citation.
    origin : str
        The preset name or the file the policy was read from.
    """

    name: str
    version: str
    description: str
    values: dict[str, Any]
    sources: dict[str, str]
    references: dict[str, str] = field(default_factory=dict)
    origin: str = ""

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def replace(self, reason: str, **changes: Any) -> Policy:
        """A copy with some parameters changed (validated again); ``reason`` becomes their source."""
        doc = self.to_dict()
        for k, v in changes.items():
            if k not in POLICY_PARAMETERS:
                raise PolicyError(f"policy {self.name!r}: unknown parameter {k!r}")
            doc["parameters"][k] = {"value": v, "source": reason}
        return _from_mapping(doc, origin=self.origin)

    def to_dict(self) -> dict[str, Any]:
        """The policy in its file shape (name, version, description, sources, parameters)."""
        # the values copied through JSON, in one round trip for all of them
        values = json.loads(json.dumps(self.values))
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "sources": dict(self.references),
            "parameters": {k: {"value": values[k], "source": self.sources[k]} for k in self.values},
        }


@functools.cache
def _preset_files() -> dict[str, str]:
    out = {}
    for entry in resources.files("ipvalue.data").iterdir():
        n = entry.name
        if n.startswith("policy_") and n.endswith(".json"):
            out[n[len("policy_") : -len(".json")].replace("_", "-")] = n
    return out


@functools.cache
def _preset(name: str) -> Policy:
    """The bundled preset ``name``, read and validated once per process."""
    text = resources.files("ipvalue.data").joinpath(_preset_files()[name]).read_text(encoding="utf-8")
    return _from_mapping(json.loads(text), origin=name)


def list_policies() -> list[str]:
    """Names of the bundled policy presets."""
    return sorted(_preset_files())


def _from_mapping(doc: Mapping[str, Any], *, origin: str) -> Policy:
    where = f"policy {doc.get('name', origin)!r}" if isinstance(doc, Mapping) else f"policy {origin!r}"
    if not isinstance(doc, Mapping):
        raise PolicyError(f"{where}: must be a JSON object, got {type(doc).__name__}")
    for key in ("name", "version", "parameters"):
        if key not in doc:
            raise PolicyError(f"{where}: missing top-level field {key!r}")
    params = doc["parameters"]
    if not isinstance(params, Mapping):
        raise PolicyError(f"{where}: 'parameters' must be an object")
    missing = [k for k in POLICY_PARAMETERS if k not in params]
    if missing:
        raise PolicyError(f"{where}: missing parameters {', '.join(missing)}")
    unknown = [k for k in params if k not in POLICY_PARAMETERS]
    if unknown:
        raise PolicyError(
            f"{where}: unknown parameters {', '.join(unknown)} (known: {', '.join(POLICY_PARAMETERS)})"
        )
    values, sources = {}, {}
    for k, check in POLICY_PARAMETERS.items():
        entry = params[k]
        if not isinstance(entry, Mapping) or "value" not in entry:
            raise PolicyError(f"{where}: parameter {k!r} must be {{'value': ..., 'source': ...}}")
        src = entry.get("source")
        if not isinstance(src, str) or not src.strip():
            raise PolicyError(
                f"{where}: parameter {k!r} has no source (name the publication or say '[C] choice')"
            )
        msg = check(entry["value"])
        if msg:
            raise PolicyError(f"{where}: parameter {k!r} {msg}")
        values[k] = entry["value"]
        sources[k] = src
    if values["judicial_first_reserve"] < 0.70:
        raise PolicyError(
            f"{where}: parameter 'judicial_first_reserve' must be at least 0.70 "
            f"(法释〔2016〕18号 Art. 10), got {values['judicial_first_reserve']!r}"
        )
    return Policy(
        name=str(doc["name"]),
        version=str(doc["version"]),
        description=str(doc.get("description", "")),
        values=values,
        sources=sources,
        references=dict(doc.get("sources", {})),
        origin=origin,
    )


def load_policy(policy: str | Path | Mapping[str, Any] | Policy = "cn-bank-standard") -> Policy:
    """Load and validate a collateral policy.

    Parameters
    ----------
    policy : str, pathlib.Path, mapping or Policy
        A preset name (see :func:`list_policies`), a path to a JSON policy file, a mapping of the same shape,
        or a :class:`Policy` (returned unchanged).

    Returns
    -------
    Policy

    Raises
    ------
    PolicyError
        Unknown name (the message lists the presets), unreadable file, or a parameter that is missing,
        out of range or without a source.
    """
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, Mapping):
        return _from_mapping(policy, origin="<mapping>")
    if not isinstance(policy, str | Path):
        raise PolicyError(
            f"policy must be a preset name, a path, a mapping or a Policy, got {type(policy).__name__}"
        )
    presets = _preset_files()
    if isinstance(policy, str) and policy in presets:
        # parsed once per process; each caller gets its own copy of the parameter values
        cached = _preset(policy)
        return replace(cached, values=copy.deepcopy(cached.values))
    path = Path(policy)
    if path.suffix.lower() == ".json" and path.is_file():
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise PolicyError(f"policy file {path}: not valid JSON ({exc})") from exc
        return _from_mapping(doc, origin=str(path))
    raise PolicyError(
        f"unknown policy {str(policy)!r}; known presets: {', '.join(sorted(presets))} "
        "(or pass the path of a JSON policy file)"
    )
