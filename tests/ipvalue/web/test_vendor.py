"""The vendored htmx is the pinned npm release, unmodified, and pages load only what the server serves."""

from __future__ import annotations

import hashlib
import re
from importlib import resources

# sha256 of htmx.org@2.0.11 package/dist/htmx.min.js as packed by the npm registry (see ipvalue/web/static/VENDOR.md)
HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"


def test_htmx_is_the_pinned_release():
    data = (resources.files("ipvalue.web") / "static" / "htmx.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == HTMX_SHA256
    assert b'version:"2.0.11"' in data.replace(b" ", b"")


def test_templates_load_nothing_from_elsewhere_and_have_no_inline_script_or_style():
    for t in (resources.files("ipvalue.web") / "templates").iterdir():
        text = t.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)=\"(https?:)?//", text), t.name
        assert "<script>" not in text and not re.search(r"<script(?![^>]*\bsrc=)", text), t.name
        assert " style=" not in text and "<style" not in text, t.name
        assert not re.search(r"\son[a-z]+=", text), t.name  # no inline event handlers
