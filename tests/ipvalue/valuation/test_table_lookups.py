"""The economics' table look-ups on arrays equal the pandas forms they replaced (issue 17: value_portfolio faster).

``grant_lookup`` (each distinct office and type looked up once), the group's market (most common jurisdiction
per group counted on arrays) and the technology field's decay and volatility: each against the pandas code it
replaced, kept here as the reference, on random books with ties, unknown offices, given markets and clashes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ipvalue.valuation import economics
from ipvalue.valuation._data import decay_table, grant_rates
from ipvalue.valuation.asof import GrantRates, grant_lookup
from ipvalue.valuation.inputs import ValuationInputError


def _grant_lookup_reference(office: np.ndarray, patent_type: np.ndarray) -> GrantRates:
    tbl = grant_rates()
    key = pd.Series(office.astype(str), dtype=object) + "|" + pd.Series(patent_type.astype(str), dtype=object)
    keys = tbl["office"].astype(str) + "|" + tbl["patent_type"].astype(str)
    fallback = tbl[(tbl["office"] == "*") & (tbl["patent_type"] == "*")].iloc[0]
    p_map = dict(zip(keys, tbl["grant_probability"].astype(float), strict=True))
    w_map = dict(zip(keys, tbl["pendency_years"].astype(float), strict=True))
    return GrantRates(
        key.isin(p_map).to_numpy(),
        key.map(p_map).to_numpy(dtype=float, na_value=float(fallback["grant_probability"])),
        key.map(w_map).to_numpy(dtype=float, na_value=float(fallback["pendency_years"])),
    )


def _group_market_reference(market, given, juris, codes, names, ids):
    in_group = codes >= 0
    if not in_group.any():
        return market
    g = pd.DataFrame(
        {"g": codes[in_group], "m": market[in_group], "given": given[in_group], "j": juris[in_group]}
    )
    gm = g[g["given"]].drop_duplicates(["g", "m"])
    clash = gm["g"][gm["g"].duplicated()].unique()
    if len(clash):
        raise ValuationInputError(
            [
                (ids[np.flatnonzero(codes == c)[0]], "market",
                 f"group {names[c]!r}: field market differs between its patents; a product line sells in one market")
                for c in clash
            ]
        )  # fmt: skip
    counts = g.groupby(["g", "j"]).size().rename("k").reset_index()
    counts = counts.sort_values(["g", "k", "j"], ascending=[True, False, True]).drop_duplicates("g")
    by_group = dict(zip(counts["g"], counts["j"], strict=True))
    by_group.update(dict(zip(gm["g"], gm["m"], strict=True)))
    out = market.copy()
    out[in_group] = pd.Series(codes[in_group]).map(by_group).to_numpy(dtype=object)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_grant_lookup_equals_the_pandas_form(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 60))
    tbl = grant_rates()
    offices = [*tbl["office"].astype(str).unique(), "XX", "", "None"]
    types = [*tbl["patent_type"].astype(str).unique(), "design", "", "plant"]
    office = np.asarray(rng.choice(offices, n), dtype=object)
    kind = np.asarray(rng.choice(types, n), dtype=object)
    got, ref = grant_lookup(office, kind), _grant_lookup_reference(office, kind)
    np.testing.assert_array_equal(got.known, ref.known)
    np.testing.assert_array_equal(got.probability, ref.probability)
    np.testing.assert_array_equal(got.pendency_years, ref.pendency_years)
    assert got.probability.dtype == ref.probability.dtype and got.known.dtype == ref.known.dtype


@pytest.mark.parametrize("seed", range(20))
def test_group_market_equals_the_pandas_form(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))
    juris = np.asarray(rng.choice(["CN", "US", "EP", "JP", ""], n), dtype=object)
    n_groups = int(rng.integers(1, 6))
    codes = rng.integers(-1, n_groups, n)
    names = pd.Index([f"line {k}" for k in range(n_groups)])
    ids = np.asarray([f"P{k:04d}" for k in range(n)], dtype=object)
    given = rng.random(n) < (0.0 if seed % 3 == 0 else 0.15)
    # a given market is the group's one market, except in some books (a clash the error must name the same way)
    market = juris.copy()
    group_market = rng.choice(["CN", "US", "EP"], n_groups)
    market[given & (codes >= 0)] = group_market[codes[given & (codes >= 0)]]
    if seed % 5 == 4 and (given & (codes >= 0)).sum() >= 2:
        market[np.flatnonzero(given & (codes >= 0))[0]] = "XX"
    try:
        ref = _group_market_reference(market, given, juris, codes, names, ids)
    except ValuationInputError as exc:
        with pytest.raises(ValuationInputError) as got:
            economics._group_market(market, given, juris, codes, names, ids)
        assert got.value.problems == exc.problems
        return
    out = economics._group_market(market, given, juris, codes, names, ids)
    assert out.tolist() == ref.tolist()


def test_group_market_ties_go_to_the_first_jurisdiction_in_text_order():
    juris = np.asarray(["US", "CN", "US", "CN", "EP"], dtype=object)
    codes = np.array([0, 0, 0, 0, -1])
    out = economics._group_market(juris.copy(), np.zeros(5, bool), juris, codes, pd.Index(["a"]), juris)
    assert out.tolist() == ["CN", "CN", "CN", "CN", "EP"]


@pytest.mark.parametrize("n", [0, 34, 400])
def test_field_decay_and_volatility_are_the_table_rows(n):
    from ipvalue.demo import load_demo
    from ipvalue.valuation import Assumptions
    from ipvalue.valuation._synthetic import synthetic_portfolio
    from ipvalue.valuation.kernel import prepare_stages

    if n == 34:
        book, _, day = load_demo()
    else:
        book, day = synthetic_portfolio(max(n, 1), seed=3).iloc[:n], pd.Timestamp("2026-06-30").date()
    tables = prepare_stages(book, Assumptions.of(None).as_dict(), day).markets.tables
    ref = decay_table().set_index("field").reindex(tables.field)
    np.testing.assert_array_equal(tables.field_decay, ref["decay_rate"].to_numpy(dtype=float))
    np.testing.assert_array_equal(tables.field_volatility, ref["volatility"].to_numpy(dtype=float))
    assert len(tables.field_decay) == n


@pytest.mark.parametrize("seed", range(4))
def test_industry_keys_are_the_alias_map(seed):
    # each distinct industry text looked up once (the fast path) against Series.map(aliases).fillna("unknown")
    from ipvalue.facts.columns import texts
    from ipvalue.valuation import Assumptions
    from ipvalue.valuation._data import royalty_aliases, royalty_ranges
    from ipvalue.valuation._synthetic import synthetic_portfolio
    from ipvalue.valuation.kernel import prepare_stages

    rng = np.random.default_rng(seed)
    book = synthetic_portfolio(120, seed=seed)
    names = [
        *royalty_ranges(),
        *(k.lower() for k in royalty_ranges()),
        *royalty_aliases(),
        "",
        "no such industry",
    ]
    book["industry"] = rng.choice(np.array(names, dtype=object), len(book))
    book.loc[book.index[::9], "industry"] = None
    tables = prepare_stages(
        book, Assumptions.of(None).as_dict(), pd.Timestamp("2026-06-30").date()
    ).markets.tables
    aliases = economics._industry_aliases(royalty_ranges())
    ref = (
        pd.Series(texts(book, "industry"), dtype=object).map(aliases).fillna("unknown").to_numpy(dtype=object)
    )
    ref = np.where(tables.from_ipc, tables.ipc_note[0], ref)
    np.testing.assert_array_equal(tables.industry_key, ref)
    assert (ref == "unknown").any() and (ref != "unknown").sum() > 50


def test_royalty_tables_are_fresh_dicts_each_call():
    # the tables are read once a process; each caller gets its own dict (economics adds the assumption's rows)
    from ipvalue.valuation._data import royalty_aliases, royalty_ranges

    ranges, aliases = royalty_ranges(), royalty_aliases()
    ranges["added_by_a_caller"] = (0.0, 1.0, "assumption")
    aliases["added_by_a_caller"] = "added_by_a_caller"
    assert "added_by_a_caller" not in royalty_ranges()
    assert "added_by_a_caller" not in royalty_aliases()
    assert royalty_ranges() == {k: v for k, v in ranges.items() if k != "added_by_a_caller"}
