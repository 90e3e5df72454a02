"""Run every benchmark and write ``benchmarks/RESULTS.md``.

Each ``benchmarks/bench_<topic>.py`` exposes ``run(quick: bool = False) -> str`` returning a Markdown section
whose figures include the reference measured in the same run (QuantLib, a naive per-patent loop...).

Usage: ``python benchmarks/run.py [--quick] [--only kernels,valuation]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> str:
    import numpy as np
    import pandas as pd

    cpus = os.cpu_count()
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
            mem = f", {kb / 2**20:.0f} GiB RAM"
    except OSError:
        pass
    return (
        f"{platform.processor() or platform.machine()}, {cpus} cores{mem}; Python {platform.python_version()}, "
        f"numpy {np.__version__}, pandas {pd.__version__}"
    )


def load(path: Path):
    if str(HERE) not in sys.path:  # the scripts' shared helpers (``_versions``), as when a script runs alone
        sys.path.insert(0, str(HERE))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = mod
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="")
    parser.add_argument(
        "--from-results",
        action="store_true",
        help="assemble RESULTS.md from benchmarks/results/*.md without re-running",
    )
    args = parser.parse_args()
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    sections = []
    (HERE / "results").mkdir(exist_ok=True)
    for path in sorted(HERE.glob("bench_*.py")):
        topic = path.stem.removeprefix("bench_")
        if only and topic not in only:
            continue
        out = HERE / "results" / f"{topic}.md"
        if args.from_results:
            if out.exists():
                sections.append(out.read_text(encoding="utf-8"))
            continue
        print(f"== {topic}", flush=True)
        text = load(path).run(quick=args.quick)
        out.write_text(text, encoding="utf-8")
        sections.append(text)
        print(text, flush=True)
    header = (
        "# Benchmark results\n\n"
        f"Assembled {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} by `python benchmarks/run.py`"
        f"{' --quick' if args.quick else ''}{' --from-results' if args.from_results else ''}.\n"
        f"Machine: {machine()}.\n\n"
        "Each section measures ipvalue against a reference in the same run. Timings on a shared 2-core machine\n"
        "vary by tens of per cent between runs; ratios against the in-run reference are the stable figure.\n\n"
    )
    (HERE / "RESULTS.md").write_text(
        header + "\n\n".join(s.strip() for s in sections) + "\n", encoding="utf-8"
    )
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
