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


def _assessed(name: str, policy: str):
    import ipvalue as iv
    from ipvalue.demo import load_demo
    from ipvalue.valuation._synthetic import synthetic_portfolio

    if name == "demo":
        portfolio, loan, as_of = load_demo()
        return iv.value_portfolio(portfolio, as_of=as_of, rng=0), loan, policy
    valued = iv.value_portfolio(synthetic_portfolio(400, seed=3), {"draws": 0}, as_of="2026-06-30", rng=1)
    loan = iv.Loan(
        amount=2e6, currency="CNY", tenor_years=3.0, interest_rate=0.045, probability_of_default=0.03
    )
    return valued, loan, policy


@pytest.mark.parametrize(
    ("name", "policy"),
    [("demo", "cn-bank-standard"), ("demo", "basel-internal"), ("synthetic", "conservative")],
)
def test_the_basis_texts_are_str_of_the_basis_and_the_output_hash_does_not_move(name, policy, monkeypatch):
    # the output hash writes haircut_basis from the columns its dicts were made of (haircut_basis_texts): the
    # texts are str() of the dicts, and the assessment's output hash is the one written with str() of each dict
    import ipvalue as iv
    from ipvalue.collateral import haircut, kernel
    from ipvalue.collateral._inputs import check_frame
    from ipvalue.collateral.kernel import CollateralContext, assess_frame
    from ipvalue.collateral.policy import load_policy
    from ipvalue.facts.columns import as_date, input_hash_reference

    monkeypatch.setattr(haircut, "BASIS_TEXT_ROWS", 0)  # the demo's 34 rows written from columns too
    valued, loan, pol = _assessed(name, policy)
    ctx = CollateralContext(
        loan=loan,
        policy=load_policy(pol),
        as_of=as_date(valued.attrs["ipvalue"]["as_of"], "as_of"),
        seed=0,
        paths=500,
    )
    core = assess_frame(check_frame(valued).sort_index(kind="stable"), ctx)
    known = core.basis_texts()
    assert known is not None
    dicts, texts = known
    assert dicts == core.patents["haircut_basis"].tolist()
    assert all(a is b for a, b in zip(dicts, core.patents["haircut_basis"].tolist(), strict=True))
    assert texts == [str(d) for d in dicts]
    hashed = []
    real = kernel.haircut_basis_texts

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        hashed.append(out is not None)
        return out

    monkeypatch.setattr(kernel, "haircut_basis_texts", spy)
    fast = iv.assess_collateral(valued, loan=loan, policy=pol, rng=0, paths=500)
    assert hashed == [True]  # the output hash took the texts written from columns (the base case's only)
    monkeypatch.setattr(kernel, "haircut_basis_texts", lambda *a, **k: None)  # str() of every dict
    slow = iv.assess_collateral(valued, loan=loan, policy=pol, rng=0, paths=500)
    assert fast.audit["output_hash"] == slow.audit["output_hash"]
    assert input_hash_reference(fast.patents) == input_hash_reference(slow.patents)


def test_no_basis_texts_for_frames_not_made_by_the_engine(monkeypatch):
    from ipvalue.collateral import haircut
    from ipvalue.collateral.haircut import haircut_basis_texts

    monkeypatch.setattr(haircut, "BASIS_TEXT_ROWS", 0)
    before = pd.DataFrame({"haircut_basis": [{"a": 1}]})
    assert (
        haircut_basis_texts(
            before, before, {"haircut_basis": [{"a": 1}], "haircut_basis_spec": {}}, confidence=0.5
        )
        is None
    )
    assert (
        haircut_basis_texts(
            before, before, {"haircut_basis": None, "haircut_basis_spec": None}, confidence=0.5
        )
        is None
    )


def test_one_pass_assessment_runs_with_the_cyclic_collector_paused(monkeypatch):
    # the one-pass assessment makes tens of thousands of small objects at 20k patents: Python's cyclic
    # collector waits until it ends (and is on again after, also after an error); a backend run is left alone
    import gc

    import ipvalue as iv
    from ipvalue.collateral import api
    from ipvalue.demo import load_demo

    portfolio, loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    seen = []
    real = api._assess

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "_assess", spy)
    assert gc.isenabled()
    iv.assess_collateral(valued, loan=loan, rng=0, paths=200, stress=False)
    iv.assess_collateral(valued, loan=loan, rng=0, paths=200, stress=False, backend="serial")
    assert seen == [False, True] and gc.isenabled()
    from ipvalue.collateral._inputs import CollateralInputError

    with pytest.raises(CollateralInputError):  # raised inside the pass: a valuation dated after as_of
        iv.assess_collateral(valued, loan=loan, rng=0, paths=200, as_of="2000-01-01")
    assert seen[-1] is False and gc.isenabled()


@pytest.mark.parametrize("rounds", [2, 3])
def test_liquidation_table_from_rows_equals_the_concatenated_frames(rounds):
    # finish_chunks builds the liquidation table in one frame from the deterministic rows and the Monte Carlo's
    # row; before, the deterministic table and a one-row frame were concatenated: the same frame, dtypes included
    import datetime as dt
    from dataclasses import replace

    import ipvalue as iv
    from ipvalue.collateral import CollateralContext, load_policy
    from ipvalue.collateral._inputs import check_frame
    from ipvalue.collateral.kernel import assess_frame, loan_offset_years
    from ipvalue.collateral.liquidation import LIQUIDATION_COLUMNS, deterministic_scenarios, monte_carlo_row
    from ipvalue.demo import load_demo

    portfolio, loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    policy = load_policy("cn-bank-standard")
    policy = replace(policy, values={**policy.values, "judicial_auction_rounds": rounds})
    ctx = CollateralContext(
        loan=loan, policy=policy, as_of=dt.date.fromisoformat(str(as_of)), seed=0, paths=2_000
    )
    core = assess_frame(check_frame(valued).sort_index(kind="stable"), ctx, checked=True)
    det = deterministic_scenarios(
        None,
        loan=loan,
        policy=policy,
        start_offset_years=loan_offset_years(loan, ctx.as_of),
        values=core.parts[0].scenario_values,
    )
    old = pd.concat([det, pd.DataFrame([monte_carlo_row(core.mc)])], ignore_index=True)[
        list(LIQUIDATION_COLUMNS)
    ]
    pd.testing.assert_frame_equal(core.liquidation, old, check_exact=True, check_dtype=True)
    assert len(core.liquidation) == len(det) + 1 and core.liquidation["scenario"].iloc[-1] == "monte_carlo"
    assert (core.liquidation["scenario"] == "judicial_third_auction").any() == (rounds == 3)
