"""Merging the facts several sources give for one patent, with field-level provenance and conflicts."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ipvalue.facts.patent import Patent

__all__ = ["merge_patent", "DEFAULT_PRIORITY", "FIELD_PRIORITY", "comparable"]

#: order in which sources win a field when they disagree: the offices' own registers first
DEFAULT_PRIORITY: tuple[str, ...] = ("uspto_odp", "epo_ops", "lens", "file", "offline")

#: per-field orders that differ from :data:`DEFAULT_PRIORITY`
FIELD_PRIORITY: dict[str, tuple[str, ...]] = {
    "forward_citations": ("lens", "uspto_odp", "epo_ops", "file", "offline"),
    "claims": ("lens", "uspto_odp", "epo_ops", "file", "offline"),
    # the bank's own records are the authority on its pledges and contracts
    "pledged": ("file", "offline"),
    "licensed": ("file", "offline"),
    "in_litigation": ("file", "offline"),
    "invalidation_pending": ("file", "offline"),
}

_META = {"patent_id", "source", "fetched_at"}

#: fields a pledge decision rests on; when no source states one, the row says so in ``unstated_fields``
#: (``legal_status`` would otherwise show the model's default)
KEY_FIELDS: tuple[str, ...] = ("legal_status", "filing_date", "owner")
_ALNUM = re.compile(r"[\W_]+", re.UNICODE)


def _facts(p: Patent) -> dict[str, Any]:
    d = {k: getattr(p, k) for k in p.model_fields_set if k not in _META}
    d.update({k: v for k, v in (p.model_extra or {}).items() if v is not None})
    return {k: v for k, v in d.items() if v is not None and v != []}


def comparable(value: Any) -> Any:
    """A form of a value in which formatting differences do not count (case, punctuation, list order)."""
    if isinstance(value, str):
        return _ALNUM.sub("", value.casefold())
    if isinstance(value, list | tuple | set):
        return frozenset(comparable(v) for v in value)
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def merge_patent(
    number: str,
    found: Mapping[str, Patent],
    *,
    priority: Sequence[str] = DEFAULT_PRIORITY,
    field_priority: Mapping[str, Sequence[str]] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Merge the patents several sources returned for one number.

    Parameters
    ----------
    number : str
        Canonical number.
    found : mapping
        Source name to the :class:`ipvalue.Patent` it returned.
    priority : sequence of str
        Source order for fields without their own order; sources not listed come after, by name.
    field_priority : mapping, optional
        Per-field source orders, merged over :data:`FIELD_PRIORITY`.

    Returns
    -------
    fields : dict
        The chosen value of every field some source gave, plus ``source`` (the sources that supplied a
        chosen value, ``;``-joined, in priority order), ``fetched_at`` (the latest of them) and
        ``unstated_fields`` (the :data:`KEY_FIELDS` no source gave, ``;``-joined, or None).
    provenance : list of dict
        One row per (patent, field): ``patent_id``, ``field``, ``value``, ``source``, ``fetched_at``,
        ``conflict`` (another source gave a different value) and ``alternatives`` (``source=value; ...``).
    """
    orders = {**FIELD_PRIORITY, **(field_priority or {})}
    facts = {s: _facts(p) for s, p in found.items()}
    when = {s: p.fetched_at for s, p in found.items()}

    def rank(order: Sequence[str]) -> list[str]:
        known = [s for s in order if s in facts]
        return known + sorted(s for s in facts if s not in known)

    default_rank = rank(priority)
    fields: dict[str, Any] = {}
    prov: list[dict[str, Any]] = []
    used: set[str] = set()
    all_fields = sorted({k for f in facts.values() for k in f})
    for fld in all_fields:
        order = rank(orders[fld]) if fld in orders else default_rank
        givers = [s for s in order if fld in facts[s]]
        winner = givers[0]
        value = facts[winner][fld]
        others = [(s, facts[s][fld]) for s in givers[1:]]
        conflict = any(comparable(v) != comparable(value) for _, v in others)
        fields[fld] = value
        used.add(winner)
        prov.append(
            {
                "patent_id": number,
                "field": fld,
                "value": _text(value),
                "source": winner,
                "fetched_at": when[winner],
                "conflict": conflict,
                "alternatives": "; ".join(f"{s}={_text(v)}" for s, v in others) or None,
            }
        )
    unstated = [f for f in KEY_FIELDS if f not in fields]
    for fld in unstated:  # the frame shows a model default or a blank here: say that no source stated it
        prov.append(
            {
                "patent_id": number,
                "field": fld,
                "value": None,
                "source": None,
                "fetched_at": None,
                "conflict": False,
                "alternatives": "no source stated it",
            }
        )
    fields["unstated_fields"] = ";".join(unstated) or None
    used_sorted = [s for s in default_rank if s in used] or default_rank[:1]
    fields["source"] = ";".join(used_sorted)
    stamps = [stamp for s in used_sorted if (stamp := when.get(s))]
    fields["fetched_at"] = max(stamps) if stamps else None
    return fields, prov
