"""Fixtures shared by the valuation tests."""

from __future__ import annotations

import pytest

from ipvalue.valuation.kernel import STAGES_CACHE


@pytest.fixture
def empty_stages_cache():
    """The process's kept valuation stages forgotten before and after the test."""
    STAGES_CACHE.clear()
    yield STAGES_CACHE
    STAGES_CACHE.clear()
