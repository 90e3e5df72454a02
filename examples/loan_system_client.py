"""A loan-origination system calling the ipvalue HTTP service.

Start the service first (it prints the API key once)::

    ipvalue serve --keys-file keys.json --add-key loan-system --scopes read,write
    ipvalue serve --keys-file keys.json --db service.db --port 8000

then run::

    IPVALUE_API_KEY=<secret> python examples/loan_system_client.py --url http://127.0.0.1:8000

The client sends the bundled fictional demo portfolio inline with the demo loan, with an ``Idempotency-Key`` so
that a retry after a timeout never creates a second assessment, retries (same key) when the service answers 503
with ``Retry-After`` (busy), waits for the job when it answers 202, prints the collateral summary and downloads
the HTML report.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import uuid
from pathlib import Path

import httpx
import pandas as pd

from ipvalue.demo import load_demo

PATENT_FIELDS = (
    "patent_id", "jurisdiction", "patent_type", "title", "owner", "filing_date", "priority_date", "grant_date",
    "legal_status", "fees_paid_through", "claims", "independent_claims", "forward_citations", "backward_citations",
    "family_id", "family_size", "family_jurisdictions", "cpc", "pledged", "invalidation_pending", "in_litigation",
    "licensed", "group", "currency", "revenue", "revenue_growth", "royalty_rate", "rd_cost", "rd_year", "industry",
)


def to_json_value(v: object) -> object:
    if v is None or v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return v


def portfolio_payload(frame: pd.DataFrame) -> list[dict[str, object]]:
    rows = []
    for rec in frame.reset_index(drop=True).to_dict("records"):
        row = {k: to_json_value(rec.get(k)) for k in PATENT_FIELDS if k in rec}
        for k in ("owner", "cpc", "family_jurisdictions"):
            if isinstance(row.get(k), str):
                row[k] = row[k].split(";")
        rows.append({k: v for k, v in row.items() if v is not None})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, default=Path("report_from_service.html"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    key = os.environ.get("IPVALUE_API_KEY")
    if not key:
        print("set IPVALUE_API_KEY to the secret printed by `ipvalue serve --add-key`", file=sys.stderr)
        return 2

    frame, loan, as_of = load_demo()
    body = {
        "patents": portfolio_payload(frame),
        "loan": loan.to_dict(),
        "policy": "cn-bank-standard",
        "seed": args.seed,
        "as_of": as_of.isoformat(),
    }
    body["loan"]["risk_sharing"] = {k: (None if v == math.inf else v) for k, v in body["loan"]["risk_sharing"].items()}
    body["loan"]["risk_sharing"] = {k: v for k, v in body["loan"]["risk_sharing"].items() if v is not None}
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": str(uuid.uuid4())}
    with httpx.Client(base_url=args.url, headers=headers, timeout=120.0) as client:
        for _attempt in range(5):  # a busy service answers 503 with Retry-After; the same Idempotency-Key is safe
            resp = client.post("/v1/assessments", json=body)
            if resp.status_code != 503:
                break
            time.sleep(min(30.0, float(resp.headers.get("Retry-After", "2"))))
        if resp.status_code == 202:
            status_url = resp.headers["Location"]
            while True:
                job = client.get(status_url).json()
                print(f"job {job.get('status')}: {job.get('progress', 0):.0%}")
                if job.get("status") in ("done", "succeeded", "failed", "error"):
                    break
                time.sleep(1.0)
            resp = client.get(job["links"]["result"])
        if resp.status_code >= 400:
            print(f"service refused the request ({resp.status_code}): {resp.text}", file=sys.stderr)
            return 1
        assessment = resp.json()
        s = assessment["summary"]
        print(json.dumps({k: s[k] for k in ("appraised_value", "collateral_value", "max_loan", "coverage_ratio",
                                            "expected_lgd", "expected_loss") if k in s}, indent=2))
        report = client.get(f"/v1/assessments/{assessment['id']}/report", params={"format": "html", "lang": "en"})
        report.raise_for_status()
        args.out.write_bytes(report.content)
        print(f"assessment {assessment['id']}; report written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
