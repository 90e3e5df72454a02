"""The cyclic garbage collector is paused around the PDF layout and ``ipvalue demo``, and always restored."""

from __future__ import annotations

import gc
import io

import pytest

from ipvalue.report import _pdf
from ipvalue.report._gc import gc_paused


@pytest.fixture
def gc_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:  # pragma: no cover - pytest runs with the collector on
        gc.disable()


def test_gc_paused_pauses_and_restores(gc_on):
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested: the inner block leaves it off
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with gc_paused(False):
        assert gc.isenabled()
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("inside")
    assert gc.isenabled()


def test_gc_paused_leaves_an_off_collector_off(gc_on):
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_cycles_made_inside_are_collected_after():
    class Node:
        pass

    with gc_paused():
        a, b = Node(), Node()
        a.other, b.other = b, a
        del a, b
        kept = sum(isinstance(o, Node) for o in gc.get_objects())
    assert kept == 2  # a cycle reference counting cannot free
    gc.collect()
    assert not any(isinstance(o, Node) for o in gc.get_objects())


def test_pdf_layout_pauses_the_collector_for_small_documents_only(gc_on, monkeypatch):
    pytest.importorskip("weasyprint")
    states: list[bool] = []

    class Recorder:
        def __init__(self, *, string: str, base_url: object) -> None:
            states.append(gc.isenabled())

        def write_pdf(self, target: object, **options: object) -> None:
            states.append(gc.isenabled())

    fake = type("W", (), {"HTML": Recorder})
    monkeypatch.setattr(_pdf, "load_weasyprint", lambda: fake)
    _pdf.pdf_from_html("<p>x</p>", io.BytesIO())
    monkeypatch.setattr(_pdf, "GC_PAUSE_MAX_CHARS", 3)
    _pdf.pdf_from_html("<p>x</p>", io.BytesIO())
    assert states == [False, False, True, True]
    assert gc.isenabled()
