"""The cyclic garbage collector paused around the PDF layout and `ipvalue demo`; WeasyPrint imported without
the library search programs."""

from __future__ import annotations

import gc
import io

import pytest

from ipvalue._gc import gc_paused
from ipvalue.report import _pdf


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
        # type(), not isinstance(): a weak proxy among the tracked objects whose referent died (a library's)
        # raises ReferenceError on isinstance, and is not what this test counts
        kept = sum(type(o) is Node for o in gc.get_objects())
    assert kept == 2  # a cycle reference counting cannot free
    gc.collect()
    assert not any(type(o) is Node for o in gc.get_objects())


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


_IMPORT_PROBE = """
import ctypes.util, subprocess, sys
from ipvalue.report import _pdf

search = ctypes.util.find_library
calls, runs = [], []
real_popen = subprocess.Popen.__init__
def counting_popen(self, *args, **kwargs):
    runs.append(args[0])
    real_popen(self, *args, **kwargs)
subprocess.Popen.__init__ = counting_popen

class Finder:  # with FAIL, the first import fails as on a platform where only find_library finds Pango
    def find_spec(self, name, path, target=None):
        if name == "weasyprint":
            quick = ctypes.util.find_library is _pdf._not_found
            calls.append("quick" if quick else "search")
            if quick and FAIL:
                raise OSError("cannot load library 'libpango-1.0-0'")
        return None

sys.meta_path.insert(0, Finder())
w = _pdf.load_weasyprint()
import json
print(json.dumps([calls, w.__name__, ctypes.util.find_library is search, len(runs)]))
"""


@pytest.mark.parametrize("fail", [False, True])
def test_weasyprint_import_without_then_with_the_library_search(fail):
    """WeasyPrint is imported without ``find_library``'s programs (ldconfig, gcc, ld); a failed load falls back
    to the import with them; the search is restored either way."""
    import json
    import os
    import subprocess
    import sys

    pytest.importorskip("weasyprint")
    code = f"FAIL = {fail}\n" + _IMPORT_PROBE
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    calls, name, restored, runs = json.loads(out.stdout.strip().splitlines()[-1])
    assert name == "weasyprint" and restored
    if fail:
        assert calls == ["quick", "search"]
    else:
        assert calls == ["quick"]
        assert runs == 0  # no program run to find a library


@pytest.mark.slow
def test_the_pdf_is_the_same_with_the_collector_paused_or_running(fx, monkeypatch):
    """The pause changes when cycles are freed, not the layout: same pages, same text on each (the reference
    path is the layout with the collector running, as for documents over ``GC_PAUSE_MAX_CHARS``)."""
    pypdf = pytest.importorskip("pypdf")
    pytest.importorskip("weasyprint")
    from ipvalue.report._fonts import report_font
    from ipvalue.report._html import render_html

    html = render_html(fx.make_assessment(), lang="zh", font_css=report_font().css_stack())
    paused, running = io.BytesIO(), io.BytesIO()
    _pdf.pdf_from_html(html, paused)
    monkeypatch.setattr(_pdf, "GC_PAUSE_MAX_CHARS", 0)
    _pdf.pdf_from_html(html, running)
    pages = [pypdf.PdfReader(b).pages for b in (paused, running)]
    assert len(pages[0]) == len(pages[1]) >= 2
    assert [p.extract_text() for p in pages[0]] == [p.extract_text() for p in pages[1]]
