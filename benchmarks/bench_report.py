"""Time to write the collateral report (HTML, PDF, Excel) for the demo and a larger synthetic portfolio.

Reference, measured in the same run on the same patents: pandas ``DataFrame.to_html`` of the patent frame laid
out by WeasyPrint (a bare table without charts or sections) and ``DataFrame.to_excel`` with openpyxl.

Run ``python benchmarks/bench_report.py`` (``--quick``: the demo only); the section is printed and written to
``benchmarks/results/report.md``.
"""

from __future__ import annotations

import io
import platform
import sys
import tempfile
import time
from pathlib import Path


def _assessments(quick: bool) -> list[tuple[str, object]]:
    import ipvalue as iv
    from ipvalue.demo import load_demo

    portfolio, loan, as_of = load_demo()
    out = [
        ("demo", iv.assess_collateral(iv.value_portfolio(portfolio, as_of=as_of, rng=0), loan=loan, rng=0))
    ]
    if not quick:
        from ipvalue.valuation._synthetic import synthetic_portfolio

        frame = synthetic_portfolio(300, seed=0, as_of=as_of)
        valued = iv.value_portfolio(frame, as_of=as_of, rng=0)
        out.append(("synthetic 300", iv.assess_collateral(valued, loan=loan, rng=0)))
    return out


def _timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    res = fn()
    return time.perf_counter() - t0, res


def run(quick: bool = False) -> str:
    import pandas as pd
    import pypdf
    import weasyprint

    import ipvalue.report as R

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, a in _assessments(quick):
            n = len(a.patents)
            for fmt in ("html", "pdf", "xlsx"):
                path = tmp / f"r.{fmt}"
                t, _ = _timed(lambda p=path, a=a: R.write(a, p, lang="zh"))
                pages = len(pypdf.PdfReader(str(path)).pages) if fmt == "pdf" else ""
                rows.append((name, n, f"ipvalue {fmt}", t, path.stat().st_size, pages))
            plain = a.patents.to_html()
            t, _ = _timed(lambda h=plain: weasyprint.HTML(string=h).write_pdf(str(tmp / "plain.pdf")))
            rows.append(
                (
                    name,
                    n,
                    "reference: to_html + WeasyPrint",
                    t,
                    (tmp / "plain.pdf").stat().st_size,
                    len(pypdf.PdfReader(str(tmp / "plain.pdf")).pages),
                )
            )
            buf = io.BytesIO()
            t, _ = _timed(lambda b=buf, a=a: a.patents.to_excel(b, engine="openpyxl"))
            rows.append((name, n, "reference: DataFrame.to_excel", t, len(buf.getvalue()), ""))
    lines = [
        "## Report writing",
        "",
        f"Python {platform.python_version()}, WeasyPrint {weasyprint.__version__}, pandas {pd.__version__}; "
        "wall time of one call, the machine shared with other jobs (2 cores).",
        "",
        "| portfolio | patents | writer | seconds | bytes | PDF pages |",
        "|---|---:|---|---:|---:|---:|",
    ]
    lines += [f"| {a} | {n} | {w} | {t:.2f} | {b:,} | {p} |" for a, n, w, t, b, p in rows]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    text = run(quick="--quick" in sys.argv)
    print(text)
    out = Path(__file__).parent / "results" / "report.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text, encoding="utf-8")
