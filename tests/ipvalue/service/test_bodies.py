"""``check_json_body`` refuses a body exactly when one of its strings or keys is too long or holds a control
character, or one of its numbers is not finite (an oracle written from the rule, over generated JSON text)."""

from __future__ import annotations

import json
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipvalue.service.bodies import check_json_body
from ipvalue.service.errors import ApiError

MAX_TEXT = 12
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

texts = st.text(
    alphabet=st.sampled_from(["a", "Z", "中", "\\", '"', "\t", "\n", "\x00", "\x07", "\x08", "\x0c", "\x1f"]),
    max_size=16,
)
leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts | st.just(1e400)
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=10,
)


def bad(v) -> bool:
    if isinstance(v, str):
        return len(v) > MAX_TEXT or CONTROL.search(v) is not None
    if isinstance(v, float):
        return not math.isfinite(v)
    if isinstance(v, dict):
        return any(bad(k) or bad(x) for k, x in v.items())
    if isinstance(v, list):
        return any(bad(x) for x in v)
    return False


@settings(max_examples=300, deadline=None)
@given(values)
def test_refused_exactly_when_a_string_or_number_breaks_the_rule(value):
    raw = json.dumps(value, ensure_ascii=False).replace("Infinity", "1e400").encode("utf-8")
    parsed = json.loads(raw)
    if bad(parsed):
        with pytest.raises(ApiError) as err:
            check_json_body(raw, max_depth=64, max_text=MAX_TEXT)
        assert err.value.status == 422 and err.value.details
    else:
        assert check_json_body(raw, max_depth=64, max_text=MAX_TEXT) == parsed
