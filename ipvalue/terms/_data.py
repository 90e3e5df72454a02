"""Lazy loading of the reference tables in ``ipvalue/data`` (nothing is read at import)."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

TERMS_FILE = "terms_rules.json"
CNIPA_FILE = "fees_cnipa_annual.json"
USPTO_FILE = "fees_uspto_maintenance.json"
EPO_FILE = "fees_epo_renewal.json"


@functools.cache
def load_table(name: str) -> dict[str, Any]:
    """Read one JSON reference table from ``ipvalue/data`` (cached; call :func:`clear_cache` to re-read).

    Parameters
    ----------
    name : str
        File name inside ``ipvalue/data``, e.g. ``"terms_rules.json"``.

    Returns
    -------
    dict
        The parsed table, with its ``source`` and ``retrieved`` / ``effective_from`` fields.
    """
    path = resources.files("ipvalue").joinpath("data", name)
    with path.open("r", encoding="utf-8") as fh:
        return json.load(fh)


def clear_cache() -> None:
    """Forget the cached tables (after editing a data file in a running session)."""
    load_table.cache_clear()
