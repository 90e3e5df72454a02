"""Benchmark: ``ipvalue demo`` end to end and part by part, before and after the fast path (issue 17), in one run.

Run as a script: ``python benchmarks/bench_demo.py [--before REV] [--reps N] [--quick]`` prints the Markdown
section and writes it to ``benchmarks/results/demo.md``. For the code before (commit ``BEFORE`` or ``REV``,
extracted with ``git archive``) and for this checkout:

* the whole command, ``ipvalue demo --as-of 2026-06-30 --out <tmp>`` in a new process (wall time, and the CPU
  time of the child process and its waited-for PDF worker from ``resource.getrusage``), as it runs (it lays the
  PDF out in a forked worker only when the load average leaves a core idle) and with that worker forced (the
  load average read as 0), each ``--reps`` times (default 3), before and after taking turns, best wall time kept;
* its parts in a new process, in the command's order: imports, ``value_portfolio``, ``assess_collateral`` (with
  stress), the profile against 300 invented peers (``synthetic_book`` + ``profile_borrower``), then the HTML,
  PDF and Excel reports one by one (each chart drawn once per process, so the PDF after the HTML reuses them),
  then, where the code has it, ``report.write_all`` of the three in this process and with the PDF laid out in a
  forked worker (CPU time there includes the worker's).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _versions import extract_ipvalue, run_worker

BEFORE = "f32f544"  # main before the report fast path of issue 17 (this session)
ROOT = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    """CPU seconds of this process and of its children that were waited for."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def parts(out: Path) -> dict[str, tuple[float, float]]:
    """Each part of the demo command timed in this process: ``{part: (wall, cpu)}``."""
    res: dict[str, tuple[float, float]] = {}

    def step(name: str, fn):
        t, c = time.perf_counter(), _cpu()
        value = fn()
        res[name] = (time.perf_counter() - t, _cpu() - c)
        return value

    def imports():
        import ipvalue as iv
        from ipvalue.demo import load_demo

        return iv, load_demo

    iv, load_demo = step("imports (ipvalue, numpy, pandas)", imports)
    frame, loan, as_of = load_demo()
    valued = step("value_portfolio", lambda: iv.value_portfolio(frame, as_of=as_of, rng=0))
    a = step("assess_collateral with stress", lambda: iv.assess_collateral(valued, loan=loan, rng=0))

    def profile():
        peers = iv.profile.synthetic_book(300, as_of=as_of, mean_patents=30, seed=3)
        return iv.profile_borrower(valued, as_of=as_of, peers=peers)

    prof = step("profile against 300 invented peers", profile)
    for suffix in ("html", "pdf", "xlsx"):
        step(
            f"report: {suffix.upper()}",
            lambda s=suffix: iv.report.write(a, out / f"r.{s}", lang="zh", profile=prof),
        )
    if hasattr(iv.report, "write_all"):
        paths = [out / f"all.{s}" for s in ("html", "pdf", "xlsx")]
        for processes, name in ((0, "this process"), (1, "PDF in a forked worker")):
            step(
                f"reports again: write_all HTML + PDF + XLSX, {name}",
                lambda p=processes: iv.report.write_all(a, paths, lang="zh", profile=prof, processes=p),
            )
    return res


#: runs ``ipvalue demo`` with the load average read as 0, so the command lays the PDF out in its forked worker
FORCE_WORKER = (
    "import os, sys; os.getloadavg = lambda: (0.0, 0.0, 0.0); from ipvalue.cli import main; "
    "sys.argv = ['ipvalue', *sys.argv[1:]]; main()"
)


def _whole(path: Path, out: Path, *, worker: bool = False) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=str(path))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    start = ["-c", FORCE_WORKER] if worker else ["-m", "ipvalue.cli"]
    subprocess.run(
        [sys.executable, *start, "demo", "--as-of", "2026-06-30", "--out", str(out)],
        env=env,
        check=True,
        capture_output=True,
        cwd=str(path),
    )
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _parts(path: Path, out: Path) -> dict:
    return run_worker(__file__, path, str(out))


def run(quick: bool = False, before: str = BEFORE, reps: int = 3) -> str:
    """Both code versions, then the Markdown section (``quick``: one run of each whole command)."""
    reps = 1 if quick else reps
    with tempfile.TemporaryDirectory() as tmp:
        before_dir = extract_ipvalue(before, Path(tmp) / "before")
        load0 = os.getloadavg()[0]
        versions = (("before", before_dir), ("after", ROOT))
        figures: dict[str, dict] = {name: {"whole": [], "worker": []} for name, _ in versions}
        for _ in range(reps):  # the versions take turns, so both see the same load
            for name, path in versions:
                out = Path(tmp) / f"out-{name}"
                out.mkdir(exist_ok=True)
                figures[name]["whole"].append(_whole(path, out / "cli"))
                figures[name]["worker"].append(_whole(path, out / "cli", worker=True))
        for name, path in versions:
            figures[name] = {k: min(v) for k, v in figures[name].items()}
            figures[name]["parts"] = _parts(path, Path(tmp) / f"out-{name}")
        load1 = os.getloadavg()[0]
    b, a = figures["before"], figures["after"]
    targets = {"report: HTML": "< 0.5 s", "report: PDF": "< 3 s"}
    lines = [
        "## `ipvalue demo` end to end and by part (issue 17), before and after in one run",
        "",
        f"Before: commit `{before}` (extracted with `git archive`), after: this checkout. Machine load average "
        f"(1 min) {load0:.1f} before, {load1:.1f} after, on {os.cpu_count()} cores: wall times include waiting "
        "for the CPU; CPU time (in brackets) is the process's own.",
        "",
        "| part | before s wall (CPU) | after s wall (CPU) | target |",
        "|---|---:|---:|---|",
        f"| `ipvalue demo` (new process: imports, facts table, values, assessment, profile, HTML, PDF, Excel; "
        f"best of {reps}) | {b['whole'][0]:.2f} ({b['whole'][1]:.2f}) | {a['whole'][0]:.2f} ({a['whole'][1]:.2f}) "
        "| < 4 s |",
        f"| the same with the PDF worker forced (as on a machine with an idle core; CPU includes the worker) "
        f"| {b['worker'][0]:.2f} ({b['worker'][1]:.2f}) | {a['worker'][0]:.2f} ({a['worker'][1]:.2f}) | < 4 s |",
    ]
    for part, (aw, ac) in a["parts"].items():
        bw, bc = b["parts"].get(part, (float("nan"), float("nan")))
        was = "n/a" if bw != bw else f"{bw:.2f} ({bc:.2f})"  # noqa: PLR0124 - NaN: the part is new
        lines.append(f"| {part} | {was} | {aw:.2f} ({ac:.2f}) | {targets.get(part, '')} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    if "--worker" in sys.argv:
        sys.path.insert(0, os.environ.get("PYTHONPATH", str(ROOT)))
        print(json.dumps(parts(Path(sys.argv[sys.argv.index("--worker") + 1]))))
        sys.exit(0)
    text = run(
        quick="--quick" in sys.argv,
        before=sys.argv[sys.argv.index("--before") + 1] if "--before" in sys.argv else BEFORE,
        reps=int(sys.argv[sys.argv.index("--reps") + 1]) if "--reps" in sys.argv else 3,
    )
    print(text)
    out_md = ROOT / "benchmarks" / "results" / "demo.md"
    out_md.parent.mkdir(exist_ok=True)
    out_md.write_text(text, encoding="utf-8")
