"""Post-loan monitoring: the renewal-fee check of a pledged book (``ipvalue.monitor.renewal_events``).

The terms module's fee schedules are read for the whole book at once (``ipvalue.terms._fees.first_fees_due``).
Reference in the same run: the same check asking ``renewal_schedule`` patent by patent (a wrapped schedule, which
``renewal_events`` cannot recognise as the terms module's own), on the first ``REF`` patents, scaled per patent;
the events of both are compared on those patents.

Run as a script: ``python benchmarks/bench_monitor.py [--quick]`` (writes ``benchmarks/results/monitor.md``).
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
from bench_terms import _portfolio

from ipvalue.monitor import renewal_events
from ipvalue.terms import renewal_schedule

AS_OF = dt.date(2026, 6, 30)
REF = 300


def _one_by_one(row, as_of, until=None):
    return renewal_schedule(row, as_of, until=until)


def _book(n: int):
    pf = _portfolio(n)
    rng = np.random.default_rng(11)
    paid = rng.random(n) < 0.5  # half with a paid-through date, half read from the schedule
    pf["fees_paid_through"] = np.where(
        paid,
        np.datetime64("2026-03-01") + rng.integers(0, 700, n).astype("timedelta64[D]"),
        np.datetime64("NaT"),
    )
    return pf


def _cpu(fn):
    c = time.process_time()
    out = fn()
    return out, time.process_time() - c


def run(quick: bool = False) -> str:
    """The Markdown section."""
    sizes = [1_000, 5_000] if quick else [1_000, 10_000, 50_000]
    ref_book = _book(REF)
    fast_ref, _ = _cpu(lambda: renewal_events(ref_book, as_of=AS_OF, within_days=90))
    slow_ref, t_ref = _cpu(
        lambda: renewal_events(ref_book, as_of=AS_OF, within_days=90, schedule=_one_by_one)
    )
    per_patent = t_ref / REF
    lines = [
        "## Monitoring: renewal-fee check of a pledged book (`bench_monitor.py`)",
        "",
        f"Synthetic book (CN/US/EP mix, as in `bench_terms.py`; half with `fees_paid_through`), as_of {AS_OF}, "
        "90-day window. CPU seconds. Reference: `renewal_schedule` asked patent by patent (the check before), "
        f"timed on {REF} patents and scaled; its events equal the book-wide check's on those patents: "
        f"{'yes' if fast_ref == slow_ref else 'NO'} ({len(fast_ref)} events).",
        "",
        "| patents | events | book-wide s (CPU) | per-patent reference s (CPU, scaled) | ratio |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        book = _book(n)
        ev, t = _cpu(lambda book=book: renewal_events(book, as_of=AS_OF, within_days=90))
        lines.append(f"| {n:,} | {len(ev):,} | {t:.3f} | {per_patent * n:.1f} | {per_patent * n / t:,.0f}x |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    text = run(quick="--quick" in sys.argv)
    print(text)
    out = Path(__file__).parent / "results" / "monitor.md"
    out.write_text(text, encoding="utf-8")
