"""The optional PD overlay: notches on the bank's own master scale, from a table the bank supplies.

ipvalue ships no overlay table and no calibration: how many notches a technology grade is worth is the bank's
own estimate (from its default history), so the table is always an input. A table has

* ``master_scale``: the bank's PD ladder, strictly increasing PDs in (0, 1] (rung 0 is the best);
* ``notches``: for every grade of the profile scale, an integer; negative moves towards a lower PD (better),
  positive towards a higher PD;
* ``source``: who set the table and when (recorded with the result).

Applied to a :class:`ipvalue.Loan`: the loan's PD is placed on the rung nearest to it in log terms (ties to
the riskier rung), moved by the grade's notches, held inside the ladder, and the rung's PD becomes the loan's
``probability_of_default``. The record keeps the PD before and after, both rungs and the notches.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ipvalue.profile._weights import ProfileWeightsError
from ipvalue.quality._tree import read_json_file

__all__ = ["NotchTable", "OverlayTableError", "read_notch_table", "apply_pd_overlay"]


class OverlayTableError(ProfileWeightsError):
    """A PD overlay table that cannot be used; ``node`` names the offending entry."""


@dataclass(frozen=True)
class NotchTable:
    """A bank's PD overlay table (see the module notes). Build one with :func:`read_notch_table`."""

    master_scale: tuple[float, ...]
    notches: dict[str, int]
    source: str

    def to_dict(self) -> dict[str, Any]:
        """The table as plain data (for the audit record)."""
        return {"master_scale": list(self.master_scale), "notches": dict(self.notches), "source": self.source}


def read_notch_table(table: NotchTable | Mapping[str, Any] | str | Path, grades: list[str]) -> NotchTable:
    """Validate a bank's overlay table against the profile's grade scale.

    Parameters
    ----------
    table : NotchTable, mapping, or path of a JSON file
        ``{"master_scale": [...], "notches": {"T1": -2, ...}, "source": "..."}``.
    grades : list of str
        The profile's grades; the table must give notches for each of them and for no other.

    Raises
    ------
    OverlayTableError
        A missing or non-increasing ladder, a PD outside (0, 1], a grade without notches or an unknown grade,
        a non-integer notch, or no ``source``.
    """
    if isinstance(table, NotchTable):
        data: Mapping[str, Any] = table.to_dict()
        origin = "overlay table"
    elif isinstance(table, Mapping):
        data, origin = table, "overlay table"
    else:
        data, origin = read_json_file(
            Path(table), default_file="", what="PD overlay table", error=OverlayTableError
        )
    scale = data.get("master_scale")
    if (
        not isinstance(scale, list | tuple)
        or len(scale) < 2
        or not all(isinstance(p, int | float) and not isinstance(p, bool) for p in scale)
    ):
        raise OverlayTableError(
            f"{origin}: 'master_scale' must be a list of at least two PDs", "master_scale"
        )
    pds = tuple(float(p) for p in scale)
    if not all(0.0 < p <= 1.0 and math.isfinite(p) for p in pds) or any(
        a >= b for a, b in zip(pds, pds[1:], strict=False)
    ):
        raise OverlayTableError(
            f"{origin}: 'master_scale' must be strictly increasing PDs in (0, 1], got {list(pds)}",
            "master_scale",
        )
    notches = data.get("notches")
    if not isinstance(notches, Mapping):
        raise OverlayTableError(f"{origin}: 'notches' must map each grade to an integer", "notches")
    missing = [g for g in grades if g not in notches]
    unknown = [g for g in notches if g not in grades]
    if missing or unknown:
        raise OverlayTableError(
            f"{origin}: 'notches' must list exactly the grades {grades}; missing {missing}, unknown {unknown}",
            "notches",
        )
    bad = [g for g, v in notches.items() if isinstance(v, bool) or not isinstance(v, int)]
    if bad:
        raise OverlayTableError(f"{origin}: notches must be integers, not for {bad}", "notches")
    source = data.get("source")
    if not isinstance(source, str) or not source.strip():
        raise OverlayTableError(
            f"{origin}: 'source' must say who set the table and when (ipvalue ships no calibration)", "source"
        )
    return NotchTable(master_scale=pds, notches={g: int(notches[g]) for g in grades}, source=source)


def apply_pd_overlay(loan: Any, grade: str | None, table: NotchTable) -> tuple[Any, dict[str, Any]]:
    """The loan with its PD moved by the grade's notches, and the record of the move.

    Parameters
    ----------
    loan : ipvalue.Loan
        Must carry a ``probability_of_default``.
    grade : str or None
        The profile grade; ``None`` (no peers, so no grade) leaves the loan as it is and says so.
    table : NotchTable

    Raises
    ------
    OverlayTableError
        When the loan has no PD to move.
    """
    pd_before = getattr(loan, "probability_of_default", None)
    if pd_before is None:
        raise OverlayTableError(
            "the PD overlay needs Loan.probability_of_default (the bank's PD before the overlay)",
            "probability_of_default",
        )
    record: dict[str, Any] = {"table": table.to_dict(), "grade": grade, "pd_before": float(pd_before)}
    if grade is None:
        record.update(
            applied=False, pd_after=float(pd_before), note="no grade (no peer cohort): PD unchanged"
        )
        return loan, record
    ladder = np.asarray(table.master_scale)
    # nearest rung in log terms; a PD of 0 sits on the best rung
    dist = np.abs(np.log(ladder) - math.log(max(float(pd_before), ladder[0] * 1e-6)))
    rung = int(np.flatnonzero(dist == dist.min())[-1])
    notch = table.notches[grade]
    new = min(max(rung + notch, 0), len(ladder) - 1)
    pd_after = float(ladder[new])
    record.update(
        applied=True,
        rung_before=rung,
        notches=notch,
        rung_after=new,
        clamped=new != rung + notch,
        pd_after=pd_after,
    )
    return dataclasses.replace(loan, probability_of_default=pd_after), record
