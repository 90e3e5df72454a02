"""Smoke tests against the real services; run with ``pytest -m live`` and credentials in the environment."""

from __future__ import annotations

import os

import pytest

import data_sources as ds

pytestmark = pytest.mark.live


def _need(*names):
    missing = [n for n in names if not os.environ.get(n)]
    return pytest.mark.skipif(bool(missing), reason=f"credentials not set: {', '.join(missing)}")


@_need("EPO_OPS_KEY", "EPO_OPS_SECRET")
def test_epo_ops_live():
    res = ds.fetch(["EP2400812A1"], sources=["epo_ops"])
    assert res.facts.loc["EP2400812A1", "title"] == "BLUETOOTH NETWORKING"


@_need("LENS_API_TOKEN")
def test_lens_live():
    res = ds.fetch(["EP2471949A1"], sources=["lens"])
    assert res.facts.loc["EP2471949A1", "forward_citations"] >= 5


@_need("USPTO_ODP_API_KEY")
def test_uspto_odp_live():
    res = ds.fetch(["US11646472B2"], sources=["uspto_odp"])
    assert res.facts.loc["US11646472B2", "term_adjustment_days"] == 304
