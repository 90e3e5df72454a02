"""The collateral pass's serial fast paths answer as their references (the code they replaced).

* ``stress._one_draw_pass`` (whether the base case and the shocks can share one set of draws) counts distinct
  patents and (patent, package) pairs with Python sets; the reference joined the pairs as numpy text and
  counted them with ``np.unique``.
* ``technology_classes`` reads each distinct ``cpc`` text once and takes the classes back row by row; the
  reference is the same chain of pandas string steps on every row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipvalue.collateral import stress
from ipvalue.collateral._columns import subclass_of_texts, technology_classes
from ipvalue.collateral.liquidation import LiquidationPaths, LiquidationPool
from ipvalue.facts.columns import text_series


def one_draw_pass_reference(runs) -> bool:
    """``_one_draw_pass`` as first written (numpy text and ``np.unique``)."""
    ps0 = runs[0][1]
    for _, ps in runs:
        if (ps.paths, ps.seed, ps.sale_success, len(ps.reserves), ps.j0, ps.j1) != (
            ps0.paths,
            ps0.seed,
            ps0.sale_success,
            len(ps0.reserves),
            ps0.j0,
            ps0.j1,
        ):
            return False
    ids = np.concatenate([p.ids for p, _ in runs])
    pkgs = np.concatenate([p.ids if p.package is None else p.package for p, _ in runs])
    pairs = np.char.add(np.char.add(ids.astype(str), "\x1f"), pkgs.astype(str))
    return len(np.unique(ids)) == len(np.unique(pairs))


class _Setup:
    """The fields of a run's path set-up that the rule reads."""

    def __init__(self, paths=100, seed=0, sale_success=0.5, reserves=(1.0, 0.8), j0=0, j1=50):
        self.paths, self.seed, self.sale_success = paths, seed, sale_success
        self.reserves, self.j0, self.j1 = reserves, j0, j1


def _pool(ids, package=None) -> LiquidationPool:
    n = len(ids)
    z = np.zeros(n)
    return LiquidationPool(
        ids=np.asarray(ids, dtype=str),
        value=z,
        volatility=z,
        remaining_life=z,
        hazard=z,
        crash_drop=z,
        package=None if package is None else np.asarray(package, dtype=str),
    )


_ID = st.sampled_from(["CN1", "CN2", "CN3", "US10", "EP7", "名称9"])
_PKG = st.sampled_from(["family:F1", "family:F2", "product_line:P", "technology_class:H04L"])


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.tuples(_ID, _PKG), min_size=0, max_size=6, unique_by=lambda x: x[0]),
            st.booleans(),
        ),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_one_draw_pass_answers_as_the_reference(pools, same_setup):
    runs = []
    for k, (rows, by_package) in enumerate(pools):
        ids = [i for i, _ in rows]
        pkgs = [p for _, p in rows] if by_package else None
        setup = _Setup() if same_setup or k == 0 else _Setup(seed=k)
        runs.append((_pool(ids, pkgs), setup))
    assert stress._one_draw_pass(runs) == one_draw_pass_reference(runs)


@pytest.mark.parametrize("n", [10, 5_000])
def test_one_draw_pass_on_large_pools(n):
    ids = np.array([f"CN{100000 + i}" for i in range(n)])
    pkgs = np.array([f"family:F{i // 3}" for i in range(n)])
    base = (_pool(ids, pkgs), _Setup())
    shock = (_pool(ids[: n // 2], pkgs[: n // 2]), _Setup())
    assert stress._one_draw_pass([base, shock]) is True
    assert one_draw_pass_reference([base, shock]) is True
    moved = pkgs[: n // 2].copy()
    moved[0] = "family:other"  # a patent in another package in the shock: the draws differ
    shock = (_pool(ids[: n // 2], moved), _Setup())
    assert stress._one_draw_pass([base, shock]) is False
    assert one_draw_pass_reference([base, shock]) is False


def test_the_setup_fields_the_rule_reads_are_those_of_the_paths():
    # the stand-in above carries the fields of LiquidationPaths the rule compares
    names = {"paths", "seed", "sale_success", "reserves", "j0", "j1"}
    assert names <= set(LiquidationPaths.__dataclass_fields__)


_CPC = np.array(
    [
        "H04L 9/32; G06F 21/00",
        "h04l9/32",
        "",
        "  ",
        None,
        np.nan,
        "\uff28\uff10\uff14\uff2c",  # full-width letters and digits
        "G06F\uff1bH04L",  # a full-width semicolon
        "\u00df06x",  # a letter whose upper case is two letters
        "A",
        " a b c d e",
    ],
    dtype=object,
)


@pytest.mark.parametrize("n", [0, 1, 7, 40, 3_000])
@pytest.mark.parametrize("kind", ["object", "str", "string", "python", "all_missing", "absent"])
def test_technology_classes_read_as_the_reference(n, kind):
    g = np.random.default_rng(n)
    cells = _CPC[g.integers(0, len(_CPC), n)]
    column = {
        "object": cells,
        "str": pd.array(cells, dtype="str"),
        "string": pd.array(cells, dtype="string"),
        "python": pd.array(cells, dtype=pd.StringDtype("python")),
        "all_missing": np.full(n, None, dtype=object),
        "absent": None,
    }[kind]
    frame = pd.DataFrame(
        {"x": np.arange(n)} if column is None else {"cpc": column, "x": np.arange(n)},
        index=pd.Index([f"CN{i}" for i in g.permutation(n)], name="patent_id"),
    )
    reference = subclass_of_texts(text_series(frame, "cpc"))
    pd.testing.assert_series_equal(technology_classes(frame), reference, check_exact=True)
