"""Regenerate the screenshot of the demo firm's technology profile in the demo report (docs/img/).

Run from the repository root (needs poppler-utils and fonts-noto-cjk):

    python docs/img/make_profile_screenshot.py

It values and assesses the bundled demo portfolio, profiles the demo firm against an invented peer book
(``ipvalue.profile.synthetic_book``, 300 firms, seed 3: no real firms), writes the Chinese PDF report with the
profile section and turns the page holding the section into ``report_demo_profile_zh.png``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import ipvalue as iv
from ipvalue.demo import load_demo
from ipvalue.profile import synthetic_book
from ipvalue.report import write

HERE = Path(__file__).resolve().parent


def main() -> None:
    """Write ``report_demo_profile_zh.png`` next to this script."""
    portfolio, loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    assessment = iv.assess_collateral(valued, loan=loan, rng=0)
    peers = synthetic_book(300, as_of=as_of, mean_patents=30, seed=3)
    profile = iv.profile_borrower(valued, as_of=as_of, peers=peers)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        pdf = write(assessment, tmp_dir / "demo_zh.pdf", lang="zh", profile=profile)
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
        )
        pages = text.stdout.split("\f")
        page = next(i for i, p in enumerate(pages, start=1) if "借款人技术实力画像" in p)
        subprocess.run(
            [
                "pdftoppm",
                "-r",
                "70",
                "-png",
                "-f",
                str(page),
                "-l",
                str(page),
                str(pdf),
                str(tmp_dir / "profile"),
            ],
            check=True,
        )
        shutil.copy(next(tmp_dir.glob("profile*.png")), HERE / "report_demo_profile_zh.png")
    print(f"grade {profile.grade}, score {profile.score:.1f}, page {page}")


if __name__ == "__main__":
    main()
