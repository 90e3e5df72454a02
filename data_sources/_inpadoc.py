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

Verification pass of 2026-11-27 (public sources searched that day):

* confirmed: ``PG25`` "Lapsed in a contracting state", ``PGFP`` "Annual fee paid to national office" (epo.org
  Patent Knowledge News "INPADOC unlocked", which also lists ``PGRI`` "Patent reinstated in a contracting
  state", not mapped here); the descriptions of ``PG25``, ``PGFP``, ``GRAA``, ``RAP1``, ``26N`` and ``STAA``
  also appear verbatim in the recorded OPS fixture ``legal_EP.2400812.A1.xml``.
* not confirmed (no copy of the INPADOC legal event table or of a response carrying them was found): US ``FP``
  and ``LAPS``, EP ``18D`` / ``18W`` / ``18R``, and the CN / GB codes taken from the project notes (``CF01``,
  ``CX01``, ``EXPY``, ``GR01``, ``C14``, ``TR01``, ``C41``, ``PCNP``). ``EXP.`` is a USPTO maintenance-fee
  event code (expired for non-payment, bulk product PTMNFEE2), not an INPADOC code; it is not mapped here.
* revocation: no INPADOC code for "patent revoked" could be confirmed (a ``27W`` seen in third-party code is
  not backed by a source), so ``revoked`` is still never produced. The EPO reports the status of an EP
  application or patent as ``STAA`` with free text ``STATUS: ...`` in ``L510EP`` (e.g. "STATUS: THE PATENT HAS
  BEEN GRANTED" in the fixture); ``STAA`` itself must NOT be mapped to a group, because its meaning is in the
  text. Producing ``revoked`` would need a rule on the ``STAA`` status text in ``epo_ops.legal_facts`` (exact
  wording to be taken from a real response).
"""

from __future__ import annotations

__all__ = ["CODE_TABLE_VERSION", "EVENT_GROUPS", "group_of"]

CODE_TABLE_VERSION = "2026-11-27"

EVENT_GROUPS: dict[str, str] = {
    # grant
    "GRAA": "grant",  # EP (expected) grant, fixture
    "GR01": "grant",  # CN patent right granted, notes section 2 (not confirmed 2026-11-27)
    "C14": "grant",  # CN grant (old code), notes section 2 (not confirmed 2026-11-27)
    "STCF": "grant",  # US information on status: patent grant, fixture
    # lapse of the whole right
    "CF01": "lapse",  # CN termination for non-payment of the annual fee, notes section 2 (not confirmed 2026-11-27)
    "PCNP": "lapse",  # GB patent ceased through non-payment of renewal fee, notes section 2 (not confirmed 2026-11-27)
    "FP": "lapse",  # US lapsed for failure to pay maintenance fees (unverified, not found 2026-11-27)
    "LAPS": "lapse",  # US lapse for failure to pay maintenance fees (unverified, not found 2026-11-27)
    # lapse in one state of a European patent
    "PG25": "state_lapse",  # fixture; epo.org "INPADOC unlocked" (lapsed in a contracting state)
    # end of term
    "CX01": "expiry",  # CN expiry of the term, notes section 2 (not confirmed 2026-11-27)
    "EXPY": "expiry",  # expiry, notes section 2 (not confirmed 2026-11-27)
    # withdrawn / refused / discontinued
    "FZDE": "withdrawn",  # CA discontinued, fixture
    "18D": "withdrawn",  # EP application deemed withdrawn (unverified, not found 2026-11-27)
    "18W": "withdrawn",  # EP application withdrawn (unverified, not found 2026-11-27)
    "18R": "withdrawn",  # EP application refused (unverified, not found 2026-11-27)
    # fees paid
    "PGFP": "fee_paid",  # annual fee paid to national office, fixture; epo.org "INPADOC unlocked"
    "MAFP": "fee_paid",  # US maintenance fee payment, fixture
    # transfers of ownership
    "AS": "transfer",  # US assignment, fixture
    "RAP1": "transfer",  # EP party data changed (applicant changed or rights transferred), fixture
    "TR01": "transfer",  # CN transfer of the patent right, notes section 2 (not confirmed 2026-11-27)
    "C41": "transfer",  # CN transfer (old code), notes section 2 (not confirmed 2026-11-27)
}


def group_of(code: str, table: dict[str, str] | None = None) -> str | None:
    """Group of an INPADOC event code (spaces stripped), or None when it decides nothing here."""
    return (table or EVENT_GROUPS).get(code.strip().upper())
