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


def nesting(v) -> int:
    """Arrays and objects nested in ``v`` (the oracle for the depth rule)."""
    if isinstance(v, dict):
        return 1 + max((nesting(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((nesting(x) for x in v), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(values, st.integers(1, 4))
def test_too_deep_is_refused_first_whatever_else_the_body_holds(value, max_depth):
    # the usual body is parsed first and answered when it is fine; anything else takes the checks in their order:
    # nesting deeper than the limit is a 400 before the strings and numbers are looked at
    raw = json.dumps(value, ensure_ascii=False).replace("Infinity", "1e400").encode("utf-8")
    parsed = json.loads(raw)
    if nesting(parsed) > max_depth:
        with pytest.raises(ApiError) as err:
            check_json_body(raw, max_depth=max_depth, max_text=MAX_TEXT)
        assert err.value.status == 400 and "nested deeper" in err.value.message
    elif bad(parsed):
        with pytest.raises(ApiError) as err:
            check_json_body(raw, max_depth=max_depth, max_text=MAX_TEXT)
        assert err.value.status == 422
    else:
        assert check_json_body(raw, max_depth=max_depth, max_text=MAX_TEXT) == parsed


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[[[[[[1]]]]]", "nested deeper"),  # too deep and not JSON: the depth is said first, as before
        (b"[" * 5000 + b"]" * 5000, "nested deeper"),  # deeper than the parser's own recursion limit
        (b'{"a": [1, 2}', "not valid JSON"),
        (b'{"a": NaN}', "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_malformed_bodies_say_what_is_wrong(raw, message):
    with pytest.raises(ApiError) as err:
        check_json_body(raw, max_depth=4, max_text=MAX_TEXT)
    assert err.value.status == 400 and message in err.value.message
