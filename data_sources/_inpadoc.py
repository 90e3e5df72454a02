"""INPADOC legal-event codes that decide status, fees, grant and transfers.

A versioned code table (no network at import). Each code is grouped by what it means for a pledge:
``grant``, ``lapse`` (the right ended early, usually unpaid fees), ``state_lapse`` (a European patent
lapsed in one validation state), ``expiry`` (end of term), ``withdrawn`` (application withdrawn, refused or
discontinued), ``fee_paid`` (a renewal or maintenance fee), ``transfer`` (change of owner).

Sources: codes seen in real OPS responses recorded in ``tests/fixtures/epo_ops`` (PG25, PGFP, GRAA,
RAP1, AS, MAFP, FEPP, STCF, FZDE) and the project notes ``patent_data_sources.md`` section 2 (CN codes
PB01/C06, SE01, GR01/C14, CF01, CX01, EXPY, TR01/C41; GB PCNP). Codes marked ``unverified`` below come
from memory of the EPO INPADOC code lists and were not checked against them; they can be overridden by
passing another table to :func:`data_sources.epo_ops.legal_facts`.
"""

from __future__ import annotations

__all__ = ["CODE_TABLE_VERSION", "EVENT_GROUPS", "group_of"]

CODE_TABLE_VERSION = "2026-11-27"

EVENT_GROUPS: dict[str, str] = {
    # grant
    "GRAA": "grant",  # EP (expected) grant, fixture
    "GR01": "grant",  # CN patent right granted, notes section 2
    "C14": "grant",  # CN grant (old code), notes section 2
    "STCF": "grant",  # US information on status: patent grant, fixture
    # lapse of the whole right
    "CF01": "lapse",  # CN termination for non-payment of the annual fee, notes section 2
    "PCNP": "lapse",  # GB patent ceased through non-payment of renewal fee, notes section 2
    "FP": "lapse",  # US lapsed for failure to pay maintenance fees (unverified)
    "LAPS": "lapse",  # US lapse for failure to pay maintenance fees (unverified)
    # lapse in one state of a European patent
    "PG25": "state_lapse",  # fixture
    # end of term
    "CX01": "expiry",  # CN expiry of the term, notes section 2
    "EXPY": "expiry",  # expiry, notes section 2
    # withdrawn / refused / discontinued
    "FZDE": "withdrawn",  # CA discontinued, fixture
    "18D": "withdrawn",  # EP application deemed withdrawn (unverified)
    "18W": "withdrawn",  # EP application withdrawn (unverified)
    "18R": "withdrawn",  # EP application refused (unverified)
    # fees paid
    "PGFP": "fee_paid",  # annual fee paid to national office, fixture
    "MAFP": "fee_paid",  # US maintenance fee payment, fixture
    # transfers of ownership
    "AS": "transfer",  # US assignment, fixture
    "RAP1": "transfer",  # EP party data changed (applicant changed or rights transferred), fixture
    "TR01": "transfer",  # CN transfer of the patent right, notes section 2
    "C41": "transfer",  # CN transfer (old code), notes section 2
}


def group_of(code: str, table: dict[str, str] | None = None) -> str | None:
    """Group of an INPADOC event code (spaces stripped), or None when it decides nothing here."""
    return (table or EVENT_GROUPS).get(code.strip().upper())
