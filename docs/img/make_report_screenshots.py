"""Regenerate the screenshots of the demo collateral report shown in the README.

Run from the repository root (needs Debian's poppler-utils, fonts-noto-cjk and, for the HTML shot, chromium):

    python docs/img/make_report_screenshots.py

It values the bundled demo portfolio, writes the report in Chinese and English, turns the first PDF pages into
PNG with pdftoppm and takes a headless-Chromium screenshot of the HTML report.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import ipvalue as iv
from ipvalue.demo import load_demo
from ipvalue.report import write

HERE = Path(__file__).resolve().parent
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def main() -> None:
    """Write the screenshots next to this script."""
    portfolio, loan, as_of = load_demo()
    assessment = iv.assess_collateral(iv.value_portfolio(portfolio, as_of=as_of, rng=0), loan=loan, rng=0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for lang, pages in (("zh", 2), ("en", 1)):
            pdf = write(assessment, tmp / f"demo_{lang}.pdf", lang=lang)
            subprocess.run(
                [
                    "pdftoppm",
                    "-r",
                    "70",
                    "-png",
                    "-f",
                    "1",
                    "-l",
                    str(pages),
                    str(pdf),
                    str(tmp / f"page_{lang}"),
                ],
                check=True,
            )
            for i, png in enumerate(sorted(tmp.glob(f"page_{lang}-*.png")), start=1):
                shutil.copy(png, HERE / f"report_demo_{lang}_p{i}.png")
        html = write(assessment, tmp / "demo_zh.html", lang="zh")
        exe = shutil.which("chromium")
        if exe:
            subprocess.run(
                [
                    exe,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={tmp / 'profile'}",
                    "--window-size=1100,1400",
                    f"--screenshot={HERE / 'report_demo_zh_html.png'}",
                    html.as_uri(),
                ],
                check=True,
                capture_output=True,
                cwd=tmp,
            )
    for png in sorted(HERE.glob("report_demo_*.png")):
        print(png.relative_to(HERE.parent.parent), png.stat().st_size)


if __name__ == "__main__":
    main()
