"""Tests of ipvalue.quality: the indicator tree, each indicator, aggregation, and the helpers built on it."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipvalue.quality import (
    QUALITY_COLUMNS,
    QualityInputError,
    QualityTreeError,
    aggregate,
    allocation_weights,
    class_diversity,
    cpc_subclass,
    gdp_table,
    legal_haircut_input,
    load_tree,
    market_coverage_share,
    quality_indicators,
    royalty_position,
    score_quality,
    tree_scenarios,
)

AS_OF = dt.date(2025, 6, 30)
PACKAGED = Path(__file__).resolve().parents[2] / "ipvalue" / "data" / "quality_tree.json"


def frame(rows: list[dict], ids: list[str] | None = None) -> pd.DataFrame:
    """A portfolio frame with the dtypes of read_portfolio (Int64 counts, datetime64 dates, bool flags)."""
    df = pd.DataFrame(rows)
    ids = ids or [f"CN{100000 + i}A" for i in range(len(df))]
    df.insert(0, "patent_id", ids)
    for col in ("claims", "independent_claims", "forward_citations", "backward_citations", "family_size"):
        if col in df.columns:
            df[col] = df[col].astype("Int64")
    for col in ("filing_date", "priority_date", "grant_date", "fees_paid_through", "expiry_date"):
        if col in df.columns:
            df[col] = pd.to_datetime(df[col])
    return df.set_index("patent_id", drop=False).rename_axis(index="patent_id")


def base(**kw) -> dict:
    row = {
        "jurisdiction": "CN",
        "patent_type": "invention",
        "legal_status": "granted",
        "filing_date": "2015-06-30",
        "remaining_life_years": 10.0,
        "fees_paid_through": "2026-06-29",
        "claims": 10,
        "independent_claims": 2,
        "forward_citations": 5,
        "backward_citations": 8,
        "family_size": 2,
        "family_jurisdictions": "CN;US",
        "cpc": "H04L9/32",
        "invalidation_pending": False,
        "in_litigation": False,
        "licensed": False,
    }
    row.update(kw)
    return row


def write_tree(tmp_path: Path, mutate) -> Path:
    data = json.loads(PACKAGED.read_text(encoding="utf-8"))
    mutate(data)
    p = tmp_path / "tree.json"
    p.write_text(json.dumps(data), encoding="utf-8")
    return p


# --------------------------------------------------------------------------- the tree
class TestTree:
    def test_packaged_scenarios_load_and_weights_sum_to_one(self):
        names = tree_scenarios()
        assert names.keys() >= {"pledge", "transaction", "licensing", "default"}
        for name in names:
            t = load_tree(scenario=name)
            assert math.isclose(sum(t.global_weights().values()), 1.0, abs_tol=1e-12)
            assert list(t.structure) == ["legal", "technical", "economic"]

    def test_pledge_weights_differ_from_default(self):
        assert load_tree(scenario="pledge").weights["legal"] != load_tree(scenario="default").weights["legal"]

    def test_leaf_weights_not_summing_to_one_refused_naming_the_node(self, tmp_path):
        def bad(d):
            d["tree"]["legal"]["children"]["term"]["children"]["remaining_life"]["weight"] = 0.6

        with pytest.raises(QualityTreeError, match=r"under 'legal/term' sum to 0\.9, not 1") as ei:
            load_tree(write_tree(tmp_path, bad))
        assert ei.value.node == "legal/term"

    def test_dimension_weights_not_summing_to_one_refused(self, tmp_path):
        def bad(d):
            d["tree"]["economic"]["weight"] = 0.4

        with pytest.raises(QualityTreeError, match="of the dimensions sum to 1.1"):
            load_tree(write_tree(tmp_path, bad), scenario="default")

    def test_bad_scenario_refused_even_when_another_is_asked_for(self, tmp_path):
        def bad(d):
            d["scenarios"]["transaction"]["weights"]["legal"] = 0.5  # 0.5 + 0.3 + 0.4

        with pytest.raises(QualityTreeError, match="scenario 'transaction'.*of the dimensions sum to 1.2"):
            load_tree(write_tree(tmp_path, bad), scenario="pledge")

    def test_unknown_leaf_refused(self, tmp_path):
        def bad(d):
            kids = d["tree"]["technical"]["children"]["impact"]["children"]
            kids["patent_karma"] = kids.pop("forward_citations")
            d["leaves"]["patent_karma"] = {"label_en": "karma"}

        with pytest.raises(QualityTreeError, match="unknown leaf 'technical/impact/patent_karma'") as ei:
            load_tree(write_tree(tmp_path, bad))
        assert ei.value.node == "technical/impact/patent_karma"

    def test_leaf_without_definition_refused(self, tmp_path):
        def bad(d):
            del d["leaves"]["claims"]

        with pytest.raises(QualityTreeError, match="'legal/scope/claims' has no definition"):
            load_tree(write_tree(tmp_path, bad))

    def test_unknown_override_node_and_negative_weight_refused(self, tmp_path):
        def bad(d):
            d["scenarios"]["pledge"]["weights"]["legal/terms"] = 0.35

        with pytest.raises(QualityTreeError, match="unknown node 'legal/terms'"):
            load_tree(write_tree(tmp_path, bad))
        with pytest.raises(QualityTreeError, match="must be finite and >= 0"):
            load_tree().with_weights({"legal": -0.1})

    def test_unknown_scenario_and_bad_json(self, tmp_path):
        with pytest.raises(QualityTreeError, match="unknown scenario 'mortgage'"):
            load_tree(scenario="mortgage")
        p = tmp_path / "x.json"
        p.write_text("{not json", encoding="utf-8")
        with pytest.raises(QualityTreeError, match="not valid JSON"):
            load_tree(p)

    def test_weights_argument_must_keep_sums(self):
        f = frame([base()])
        with pytest.raises(QualityTreeError, match="weights argument.*dimensions sum to 1.05"):
            score_quality(f, as_of=AS_OF, weights={"legal": 0.5})
        out = score_quality(f, as_of=AS_OF, weights={"legal": 0.5, "technical": 0.15, "economic": 0.35})
        assert out.attrs["ipvalue_quality"]["weights"]["legal"] == 0.5

    def test_tree_file_passed_as_weights(self, tmp_path):
        def legal_only(d):
            d["scenarios"]["pledge"]["weights"].update({"legal": 1.0, "technical": 0.0, "economic": 0.0})

        f = frame([base()])
        out = score_quality(f, as_of=AS_OF, weights=write_tree(tmp_path, legal_only))
        assert out["quality_score"].iloc[0] == pytest.approx(out["quality_legal"].iloc[0], abs=1e-12)


# --------------------------------------------------------------------------- indicators, hand-worked
class TestIndicators:
    def ind(self, rows, **kw):
        return quality_indicators(frame(rows), as_of=AS_OF, **kw)

    def test_remaining_life_against_maximum_term(self):
        out = self.ind(
            [
                base(remaining_life_years=10.0),  # 10 / 20
                base(patent_type="utility_model", remaining_life_years=5.0),  # 5 / 20 (one scale, issue #13)
                base(patent_type="design", remaining_life_years=3.0),  # 3 / 20
                base(legal_status="expired", remaining_life_years=0.0),
                base(remaining_life_years=np.nan),
            ]
        )
        np.testing.assert_allclose(out["remaining_life"].to_numpy(), [0.5, 0.25, 0.15, 0.0, np.nan])

    def test_remaining_life_argument_overrides_column(self):
        out = self.ind([base(remaining_life_years=10.0)], remaining_life_years=[4.0])
        assert out["remaining_life"].iloc[0] == pytest.approx(4.0 / 20.0)

    def test_remaining_life_from_the_statutory_terms(self):
        # statutory terms: CN Patent Law art. 42 (2020 amendment): invention 20, utility model 10 years from
        # filing; design 10 years for applications filed before 2021-06-01 (15 after)
        rows = [
            base(filing_date="2015-06-30"),  # invention: expires 2035-06-30, 10 years after as_of
            base(patent_type="utility_model", filing_date="2020-06-30"),  # expires 2030-06-30
            base(patent_type="design", filing_date="2019-06-30"),  # CN design before 2021-06-01: 10 years
        ]
        for r in rows:
            del r["remaining_life_years"]
        out = quality_indicators(frame(rows), as_of=AS_OF)
        days = (
            np.array(
                [
                    (dt.date(2035, 6, 30) - AS_OF).days,
                    (dt.date(2030, 6, 30) - AS_OF).days,
                    (dt.date(2029, 6, 30) - AS_OF).days,
                ]
            )
            / 365.25
        )
        # one scale for every type (20 years), so that a utility model never outscores an invention at equal facts
        np.testing.assert_allclose(out["remaining_life"].to_numpy(), days / 20.0)
        assert out.attrs["ipvalue_quality"]["remaining_life_source"] == "ipvalue.terms"

    def test_grant_status_levels(self):
        out = self.ind(
            [
                base(),
                base(patent_type="utility_model"),
                base(legal_status="pending"),
                base(legal_status="revoked"),
                base(legal_status=None),
            ]
        )
        np.testing.assert_allclose(out["grant_status"].to_numpy(), [1.0, 0.7, 0.4, 0.0, np.nan])

    def test_invalidation_history(self):
        rows = [
            base(),
            base(invalidation_pending=True),
            base(invalidation_survived=True),
            base(invalidation_pending=True, invalidation_survived=True),
        ]
        out = self.ind(rows)
        np.testing.assert_allclose(out["invalidation_history"].to_numpy(), [0.7, 0.1, 1.0, 0.1])

    def test_fee_continuity(self):
        rows = [
            base(fees_paid_through="2025-06-30"),  # paid to the day
            base(fees_paid_through="2025-03-31"),  # three months late: grace period
            base(fees_paid_through="2024-06-30"),  # a year late
            base(legal_status="lapsed", fees_paid_through="2030-01-01"),
            base(fees_paid_through=None),
        ]
        out = self.ind(rows)
        np.testing.assert_allclose(out["fee_continuity"].to_numpy(), [1.0, 0.5, 0.0, 0.0, np.nan])

    def test_count_scales(self):
        out = self.ind([base(claims=10, independent_claims=3, backward_citations=0), base(claims=100)])
        assert out["claims"].iloc[0] == pytest.approx(math.log(11) / math.log(31))
        assert out["claims"].iloc[1] == 1.0  # capped
        assert out["independent_claims"].iloc[0] == pytest.approx(math.log(4) / math.log(7))
        assert out["backward_citations"].iloc[0] == 0.0

    def test_flags(self):
        rows = [
            base(in_litigation=True, licensed=True, commercialized=True),
            base(in_litigation=False, licensed=False, commercialized=False),
        ]
        out = self.ind(rows)
        np.testing.assert_allclose(out["litigation"], [0.2, 1.0])
        np.testing.assert_allclose(out["licensing"], [1.0, 0.4])
        np.testing.assert_allclose(out["commercialisation"], [1.0, 0.3])

    def test_nullable_boolean_na_is_missing(self):
        f = frame([base(), base()])
        f["licensed"] = pd.array([True, pd.NA], dtype="boolean")
        out = quality_indicators(f, as_of=AS_OF)
        assert out["licensing"].iloc[0] == 1.0 and np.isnan(out["licensing"].iloc[1])

    def test_market_coverage_weights_by_gdp(self):
        # World Bank WDI GDP 2020 (US$ millions), as in ipvalue/data/quality_gdp.csv: CN 14,722,731; US 20,936,600
        total = gdp_table()["gdp_usd_m"].sum()
        assert market_coverage_share("CN;US") == pytest.approx((14722731 + 20936600) / total)
        # EP stands for DE FR GB IT ES NL CH: listing DE as well does not count it twice; WO covers no market
        assert market_coverage_share("EP;DE;WO") == pytest.approx(market_coverage_share("EP"))
        ep = 3806060 + 2603004 + 2707744 + 1886445 + 1281199 + 912242 + 747969
        assert market_coverage_share("EP") == pytest.approx(ep / total)
        assert market_coverage_share("TW") == 0.0  # not in the World Bank table
        out = self.ind(
            [
                base(family_jurisdictions="US"),
                base(family_jurisdictions=None, family_size=1),
                base(family_jurisdictions=None, family_size=3),
            ]
        )
        assert out["market_coverage"].iloc[0] == pytest.approx(market_coverage_share("CN;US"))
        assert out["market_coverage"].iloc[1] == pytest.approx(market_coverage_share("CN"))
        assert np.isnan(
            out["market_coverage"].iloc[2]
        )  # family abroad but offices unknown: missing, not zero

    def test_family_size_scale_and_derivation(self):
        out = self.ind([base(family_size=3), base(family_size=None, family_jurisdictions="US;EP;WO")])
        assert out["family_size"].iloc[0] == pytest.approx(math.log(4) / math.log(21))
        # CN (own office) + US + EP; WO is not an office of the family
        assert out["family_size"].iloc[1] == pytest.approx(math.log(4) / math.log(21))

    def test_cpc_scope_and_subclass(self):
        assert cpc_subclass("H04L 9/32") == "H04L"
        assert cpc_subclass("g06f17/30") == "G06F"
        assert cpc_subclass("12") is None
        out = self.ind([base(cpc="H04L9/32;H04L 12/00;G06F17/30"), base(cpc=None)])
        assert out["cpc_scope"].iloc[0] == pytest.approx(math.log(3) / math.log(7))
        assert np.isnan(out["cpc_scope"].iloc[1])

    def test_generality_and_originality_oecd_formula(self):
        # OECD (Squicciarini, Dernis & Criscuolo 2013): 1 - sum of squared class shares
        assert class_diversity("A61K;A61K;C07D;C07D") == pytest.approx(1 - (0.5**2 + 0.5**2))
        assert class_diversity("A61K;C07D;G01N") == pytest.approx(1 - 3 * (1 / 3) ** 2)
        assert class_diversity("H04L") == 0.0
        assert math.isnan(class_diversity(""))
        rows = [
            base(forward_citation_classes="A61K;A61K;C07D;C07D", backward_citation_classes="H04L"),
            base(forward_citation_classes=None, backward_citation_classes=None),
        ]
        out = self.ind(rows)
        assert out["generality"].iloc[0] == pytest.approx(0.5)
        assert out["originality"].iloc[0] == 0.0
        assert np.isnan(out["generality"].iloc[1])
        # a precomputed column is used as given
        out = self.ind([base(generality=0.8)])
        assert out["generality"].iloc[0] == 0.8

    def test_expert_scores_on_ten_point_scale(self):
        out = self.ind([base(expert_advancement=7.5, expert_maturity=0)])
        assert out["expert_advancement"].iloc[0] == 0.75
        assert out["expert_maturity"].iloc[0] == 0.0
        assert np.isnan(out["expert_market_size"].iloc[0])


# --------------------------------------------------------------------------- forward citations and cohorts
class TestCohorts:
    def cohort(self, counts, cpc="H04L9/32", filing="2015-06-30", start=0):
        rows = [base(forward_citations=int(c), cpc=cpc, filing_date=filing) for c in counts]
        ids = [f"CN{200000 + start + i}A" for i in range(len(rows))]
        return rows, ids

    def test_winsorised_and_divided_by_the_trimmed_cohort_maximum(self):
        # 100 patents, one cohort, citations 0..99. numpy linear quantiles: p01 = 0.99, p99 = 98.01 (in counts;
        # all patents have the same age, so the age adjustment cancels). Value = clip(c, p01, p99) / p99.
        rows, ids = self.cohort(range(100))
        out = quality_indicators(frame(rows, ids), as_of=AS_OF)
        v = out["forward_citations"].to_numpy()
        assert v[0] == pytest.approx(0.99 / 98.01)
        assert v[50] == pytest.approx(50 / 98.01)
        assert v[99] == 1.0  # 99 is trimmed to p99 = 98.01
        assert v[98] == pytest.approx(98 / 98.01)
        assert (out["forward_citation_level"] == 1).all()

    def test_cohorts_are_class_by_year(self):
        a, ida = self.cohort(range(100), cpc="H04L9/32")
        b, idb = self.cohort([c % 10 for c in range(100)], cpc="A61K31/00", start=100)
        out = quality_indicators(frame(a + b, ida + idb), as_of=AS_OF)
        v = out["forward_citations"].to_numpy()
        # 9 citations is the top of the A61K cohort (p99 = 9) but low in H04L
        assert v[100 + 9] == 1.0
        assert v[9] == pytest.approx(9 / 98.01)

    def test_small_class_cohort_falls_back_to_year_then_fixed_cap(self):
        a, ida = self.cohort(range(60), cpc="H04L9/32")
        b, idb = self.cohort([3], cpc="A61K31/00", start=100)  # alone in its class: year cohort (61 patents)
        c, idc = self.cohort([3], cpc="A61K31/00", filing="2020-06-30", start=200)  # alone in its year
        out = quality_indicators(frame(a + b + c, ida + idb + idc), as_of=AS_OF)
        lvl = out["forward_citation_level"].to_numpy()
        assert (lvl[:60] == 1).all() and lvl[60] == 2 and lvl[61] == 3
        year = np.append(np.arange(60), 3.0)
        p01, p99 = np.quantile(year, [0.01, 0.99])
        assert out["forward_citations"].iloc[60] == pytest.approx(max(3.0, p01) / p99)
        age = (AS_OF - dt.date(2020, 6, 30)).days / 365.25
        assert out["forward_citations"].iloc[61] == pytest.approx(min(1.0, 3 / age / 1.0))

    def test_age_adjustment_in_fixed_cap_mode(self):
        rows = [
            base(forward_citations=4, filing_date="2021-06-30"),
            base(forward_citations=4, filing_date="2011-06-30"),
        ]
        v = quality_indicators(frame(rows), as_of=AS_OF)["forward_citations"].to_numpy()
        ages = np.array([(AS_OF - dt.date(2021, 6, 30)).days, (AS_OF - dt.date(2011, 6, 30)).days]) / 365.25
        np.testing.assert_allclose(v, np.minimum(1.0, 4 / ages))
        assert v[0] > v[1]  # the same count is worth more on a younger patent

    def test_unknown_filing_date_is_missing(self):
        v = quality_indicators(frame([base(filing_date=None)]), as_of=AS_OF)["forward_citations"]
        assert np.isnan(v.iloc[0])

    def test_row_order_does_not_change_scores(self):
        a, ida = self.cohort(range(80))
        b, idb = self.cohort(range(0, 160, 2), cpc="G06F17/30", start=100)
        f = frame(a + b, ida + idb)
        s1 = score_quality(f, as_of=AS_OF)
        s2 = score_quality(f.sample(frac=1.0, random_state=3), as_of=AS_OF)
        pd.testing.assert_frame_equal(s1, s2.loc[s1.index])


# --------------------------------------------------------------------------- aggregation and missing data
class TestAggregation:
    def test_hand_worked_pledge_score(self):
        # Pledge weights: legal 0.45 (stability 0.35, term 0.35, scope 0.15, disputes 0.15), ...
        # Observed: grant_status 1.0 (stability), remaining_life 0.5 and fee_continuity 1.0 (term), litigation 1.0.
        # stability = 1.0 (its only observed leaf); term = (0.7*0.5 + 0.3*1.0) / 1.0 = 0.65; disputes = 1.0;
        # legal = (0.35*1.0 + 0.35*0.65 + 0.15*1.0) / 0.85 = 0.855882...; nothing technical or economic, so the
        # overall score is the legal score.
        f = frame(
            [
                {
                    "patent_type": "invention",
                    "legal_status": "granted",
                    "remaining_life_years": 10.0,
                    "fees_paid_through": "2026-01-01",
                    "in_litigation": False,
                }
            ]
        )
        out = score_quality(f, as_of=AS_OF)
        legal = (0.35 * 1.0 + 0.35 * 0.65 + 0.15 * 1.0) / 0.85
        assert out["quality_legal"].iloc[0] == pytest.approx(100 * legal)
        assert out["quality_score"].iloc[0] == pytest.approx(100 * legal)
        assert np.isnan(out["quality_technical"].iloc[0]) and np.isnan(out["quality_economic"].iloc[0])
        # coverage: nominal global weights of the four observed leaves
        cov = 0.45 * (0.35 * 0.5 + 0.35 * 0.7 + 0.35 * 0.3 + 0.15 * 0.6)
        assert out["quality_coverage"].iloc[0] == pytest.approx(cov)
        missing = out["quality_missing"].iloc[0].split(";")
        assert "claims" in missing and "forward_citations" in missing and "remaining_life" not in missing

    def test_missing_leaf_weight_goes_to_its_siblings(self):
        tree = load_tree()
        leaves = tree.leaf_names
        vals = np.full((2, len(leaves)), np.nan)
        i_rl, i_fee = leaves.index("remaining_life"), leaves.index("fee_continuity")
        i_claims = leaves.index("claims")
        vals[:, i_rl] = 0.4
        vals[0, i_fee] = 0.9
        vals[:, i_claims] = 0.2
        agg = aggregate(vals, tree)
        # row 1: fee missing -> remaining_life carries the whole term weight; legal = (0.35*0.4 + 0.15*0.2)/0.5
        assert agg["dims"][1, 0] == pytest.approx((0.35 * 0.4 + 0.15 * 0.2) / 0.5)
        assert agg["dims"][0, 0] == pytest.approx((0.35 * (0.7 * 0.4 + 0.3 * 0.9) + 0.15 * 0.2) / 0.5)
        # effective weights sum to one and are zero for missing leaves
        np.testing.assert_allclose(agg["effective"].sum(axis=1), 1.0)
        assert agg["effective"][1, i_fee] == 0.0
        assert agg["effective"][1, i_rl] == pytest.approx(0.35 / 0.5)

    def test_missing_is_not_zero(self):
        with_zero = score_quality(frame([base(claims=0, independent_claims=0)]), as_of=AS_OF)
        unknown = score_quality(frame([base(claims=None, independent_claims=None)]), as_of=AS_OF)
        assert unknown["quality_score"].iloc[0] > with_zero["quality_score"].iloc[0]
        assert unknown["quality_coverage"].iloc[0] < with_zero["quality_coverage"].iloc[0]
        assert "claims" in unknown["quality_missing"].iloc[0]

    def test_an_absent_expert_column_equals_a_column_of_missing_values(self):
        f = frame([base(), base(forward_citations=9)])
        g = f.copy()
        g["expert_advancement"] = np.nan
        pd.testing.assert_frame_equal(score_quality(f, as_of=AS_OF), score_quality(g, as_of=AS_OF))

    def test_expert_scores_move_the_score_and_coverage(self):
        lo = score_quality(frame([base(expert_advancement=2.0)]), as_of=AS_OF).iloc[0]
        hi = score_quality(frame([base(expert_advancement=9.0)]), as_of=AS_OF).iloc[0]
        none = score_quality(frame([base()]), as_of=AS_OF).iloc[0]
        assert lo["quality_technical"] < none["quality_technical"] < hi["quality_technical"]
        assert hi["quality_coverage"] > none["quality_coverage"]

    def test_nothing_observed_gives_nan_score_and_zero_coverage(self):
        f = pd.DataFrame({"patent_id": ["CN1"], "title": ["x"]}).set_index("patent_id", drop=False)
        out = score_quality(f, as_of=AS_OF, remaining_life_years=[np.nan])
        assert np.isnan(out["quality_score"].iloc[0])
        assert out["quality_coverage"].iloc[0] == 0.0
        assert out["quality_explanation"].iloc[0] == "no indicator stands out"

    def test_explanation_names_the_biggest_movers_with_their_points(self):
        f = frame([base(legal_status="lapsed", remaining_life_years=0.0, licensed=True)])
        out = score_quality(f, as_of=AS_OF)
        text = out["quality_explanation"].iloc[0]
        parts = text.split("; ")
        assert 1 <= len(parts) <= 3
        # points = 100 x effective weight x (value - neutral value of the leaf); over all leaves they add up to
        # the score minus the score the same patent would have with every observed leaf at its neutral value
        tree = load_tree()
        ind = quality_indicators(f, as_of=AS_OF)[tree.leaf_names].to_numpy()
        agg = aggregate(ind, tree)
        neutral = tree.neutral_values()
        contrib = (100 * agg["effective"] * (np.where(np.isnan(ind), neutral, ind) - neutral))[0]
        baseline = 100 * (agg["effective"][0] * neutral).sum()
        assert contrib.sum() == pytest.approx(out["quality_score"].iloc[0] - baseline)
        order = np.argsort(-np.abs(contrib), kind="stable")[:3]
        expected = [f"{tree.label(tree.leaf_names[j])} {contrib[j]:+.1f}" for j in order]
        assert parts == expected
        # a lapsed patent: status, life and fees pull down; a licence is the unusual plus
        assert {p.rsplit(" ", 1)[0] for p in parts} <= {
            "licensing",
            "remaining life",
            "grant status",
            "fee payment",
        }
        assert "litigation" not in text  # not being in litigation is the normal state, not a mover

    def test_unremarkable_flags_do_not_crowd_the_explanation(self):
        out = score_quality(frame([base(in_litigation=False, licensed=False)]), as_of=AS_OF)
        assert "litigation" not in out["quality_explanation"].iloc[0]
        assert "licensing" not in out["quality_explanation"].iloc[0]
        sued = score_quality(frame([base(in_litigation=True)]), as_of=AS_OF)
        assert "litigation -" in sued["quality_explanation"].iloc[0]

    def test_neutral_value_outside_unit_interval_refused(self, tmp_path):
        def bad(d):
            d["leaves"]["litigation"]["neutral"] = 2

        with pytest.raises(QualityTreeError, match="'legal/disputes/litigation': 'neutral' must be"):
            load_tree(write_tree(tmp_path, bad))

    def test_every_row_kept_in_order(self):
        rows = [base(), {"legal_status": None}, base(claims=None), {}]
        f = frame(rows, ids=["CN1", "CN2", "CN3", "CN4"])
        out = score_quality(f, as_of=AS_OF, remaining_life_years=[10.0, np.nan, 3.0, np.nan])
        assert list(out.index) == ["CN1", "CN2", "CN3", "CN4"]
        assert list(out.columns) == list(QUALITY_COLUMNS)
        empty = score_quality(f.iloc[:0], as_of=AS_OF)
        assert len(empty) == 0 and list(empty.columns) == list(QUALITY_COLUMNS)

    def test_scenarios_change_the_weighting(self):
        f = frame([base(licensed=True, family_jurisdictions="US;EP;JP", family_size=5)])
        pledge = score_quality(f, as_of=AS_OF)["quality_score"].iloc[0]
        trans = score_quality(f, as_of=AS_OF, scenario="transaction")["quality_score"].iloc[0]
        assert pledge != pytest.approx(trans)
        assert (
            score_quality(f, as_of=AS_OF, scenario="transaction").attrs["ipvalue_quality"]["scenario"]
            == "transaction"
        )

    def test_scores_in_bounds_on_the_demo_style_frame(self):
        rng = np.random.default_rng(5)
        n = 300
        f = frame(
            [
                base(
                    claims=int(rng.integers(2, 40)),
                    forward_citations=int(rng.integers(0, 50)),
                    legal_status=str(rng.choice(["granted", "pending", "lapsed"])),
                    remaining_life_years=float(rng.uniform(0, 20)),
                )
                for _ in range(n)
            ]
        )
        out = score_quality(f, as_of=AS_OF)
        for c in ("quality_legal", "quality_technical", "quality_economic", "quality_score"):
            assert out[c].between(0, 100).all()
        assert out["quality_coverage"].between(0, 1).all()


# --------------------------------------------------------------------------- monotonicity (hypothesis)
def _score_of_first(rows, **kw):
    return score_quality(frame(rows), as_of=AS_OF, **kw)["quality_score"].iloc[0]


_peers = st.lists(st.integers(0, 200), min_size=0, max_size=70)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=st.integers(0, 500), extra=st.integers(0, 500), peers=_peers)
def test_more_forward_citations_never_lower_the_score(a, extra, peers):
    others = [base(forward_citations=p) for p in peers]
    lo = _score_of_first([base(forward_citations=a), *others])
    hi = _score_of_first([base(forward_citations=a + extra), *others])
    assert hi >= lo - 1e-9


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(a=st.integers(1, 60), extra=st.integers(0, 60), known=st.booleans())
def test_larger_family_never_lowers_the_score(a, extra, known):
    fj = "US" if known else None
    lo = _score_of_first([base(family_size=a, family_jurisdictions=fj)])
    hi = _score_of_first([base(family_size=a + extra, family_jurisdictions=fj)])
    assert hi >= lo - 1e-9


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(
    offices=st.lists(
        st.sampled_from(["US", "EP", "JP", "KR", "DE", "GB", "IN", "BR", "TW", "WO"]), max_size=6
    ),
    more=st.lists(st.sampled_from(["US", "EP", "JP", "KR", "AU", "CA"]), max_size=3),
)
def test_more_jurisdictions_never_lower_the_score(offices, more):
    a = ";".join(offices) or "CN"
    b = ";".join(offices + more) or "CN"
    lo = _score_of_first([base(family_jurisdictions=a, family_size=None)])
    hi = _score_of_first([base(family_jurisdictions=b, family_size=None)])
    assert hi >= lo - 1e-9


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(
    life=st.floats(0, 25, allow_nan=False),
    extra=st.floats(0, 25, allow_nan=False),
    ptype=st.sampled_from(["invention", "utility_model", "design"]),
    scenario=st.sampled_from(["pledge", "transaction", "licensing", "default"]),
)
def test_longer_life_never_lowers_the_score(life, extra, ptype, scenario):
    lo = _score_of_first([base(patent_type=ptype, remaining_life_years=life)], scenario=scenario)
    hi = _score_of_first([base(patent_type=ptype, remaining_life_years=life + extra)], scenario=scenario)
    assert hi >= lo - 1e-9


# --------------------------------------------------------------------------- bad input
class TestBadInput:
    def test_negative_count_names_patent_and_field(self):
        f = frame([base(), base(claims=-3)], ids=["CN111A", "CN222B"])
        with pytest.raises(
            QualityInputError, match=r"patent CN222B: field 'claims': a count must be >= 0"
        ) as ei:
            score_quality(f, as_of=AS_OF)
        assert ei.value.field == "claims" and ei.value.patent_ids == ["CN222B"]

    @pytest.mark.parametrize(
        ("col", "value", "message"),
        [
            ("forward_citations", -1, "forward_citations"),
            ("family_size", 0, "family_size"),
            ("expert_advancement", 11.0, "0-10 scale"),
            ("legal_status", "alive", "legal_status"),
            ("patent_type", "software", "patent_type"),
            ("remaining_life_years", -2.0, "remaining_life_years"),
            ("licensed", "yes", "True/False"),
            ("claims", "many", "not a number"),
            ("generality", 1.5, "share"),
        ],
    )
    def test_bad_values_raise(self, col, value, message):
        rows = [base(), base()]
        rows[1][col] = value
        f = pd.DataFrame(rows, index=pd.Index(["CN1", "CN2"], name="patent_id"))
        f["filing_date"] = pd.to_datetime(f["filing_date"])
        f["fees_paid_through"] = pd.to_datetime(f["fees_paid_through"])
        with pytest.raises(QualityInputError, match=f"patent CN2: field .*{message}"):
            score_quality(f, as_of=AS_OF)

    def test_more_independent_claims_than_claims(self):
        with pytest.raises(QualityInputError, match="independent_claims"):
            score_quality(frame([base(claims=2, independent_claims=3)]), as_of=AS_OF)

    def test_errors_missing_keeps_the_row_and_reports_it(self):
        f = frame([base(), base(claims=-3)], ids=["CN111A", "CN222B"])
        out = score_quality(f, as_of=AS_OF, errors="missing")
        assert len(out) == 2
        assert "claims(invalid)" in out.loc["CN222B", "quality_missing"]
        assert "claims(invalid)" not in out.loc["CN111A", "quality_missing"]
        assert not np.isnan(out.loc["CN222B", "quality_score"])

    def test_as_of_required_and_typed(self):
        with pytest.raises(TypeError):
            score_quality(frame([base()]))  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="as_of"):
            score_quality(frame([base()]), as_of="2025-06-30")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- helpers for valuation and collateral
class TestUse:
    def test_royalty_position_bounds_shapes_and_monotone(self):
        assert royalty_position(0.0) == 0.0 and royalty_position(100.0) == 1.0
        assert royalty_position(float("nan")) == 0.5
        assert royalty_position(80.0, 0.5) == pytest.approx(0.65)
        arr = royalty_position(np.array([10.0, 50.0, 90.0]))
        np.testing.assert_allclose(arr, [0.1, 0.5, 0.9])
        s = royalty_position(pd.Series([20.0, np.nan], index=["a", "b"]))
        assert list(s.index) == ["a", "b"] and s.iloc[1] == 0.5
        xs = np.linspace(0, 100, 101)
        assert np.all(np.diff(royalty_position(xs, np.full(101, 0.7))) >= 0)
        with pytest.raises(ValueError, match="score"):
            royalty_position(120.0)

    def test_allocation_weights_sum_to_one_per_group(self):
        f = pd.DataFrame(
            {
                "group": ["a", "a", "a", "b", "b", None],
                "quality_score": [60.0, 20.0, 20.0, np.nan, 40.0, 10.0],
                "legal_status": ["granted"] * 6,
            },
            index=[f"P{i}" for i in range(6)],
        )
        w = allocation_weights(f)
        np.testing.assert_allclose(w.groupby(f["group"].fillna("none")).sum(), 1.0)
        np.testing.assert_allclose(w.loc[["P0", "P1", "P2"]], [0.6, 0.2, 0.2])
        np.testing.assert_allclose(w.loc[["P3", "P4"]], [0.5, 0.5])  # NaN score takes the group mean
        assert w.loc["P5"] == 1.0  # no group: a group of its own

    def test_allocation_weights_give_nothing_to_dead_patents(self):
        f = pd.DataFrame(
            {
                "group": ["a", "a", "b", "b"],
                "quality_score": [50.0, 80.0, 30.0, 30.0],
                "legal_status": ["granted", "lapsed", "expired", "revoked"],
            },
            index=["P1", "P2", "P3", "P4"],
        )
        w = allocation_weights(f)
        assert w.loc["P1"] == 1.0 and w.loc["P2"] == 0.0
        np.testing.assert_allclose(w.loc[["P3", "P4"]], [0.5, 0.5])  # all dead: even split keeps the sum at 1

    def test_legal_haircut_input_is_quality_legal_and_lower_when_lapsed(self):
        f = frame([base(), base(legal_status="lapsed", remaining_life_years=0.0)], ids=["CN1", "CN2"])
        scored = score_quality(f, as_of=AS_OF)
        legal = legal_haircut_input(scored)
        pd.testing.assert_series_equal(legal, scored["quality_legal"])
        assert legal.loc["CN2"] < legal.loc["CN1"]


# --------------------------------------------------------------------------- the methodology doc matches the data
def test_methodology_weight_table_matches_the_tree_file():
    doc = (PACKAGED.parents[2] / "docs" / "methodology" / "quality.md").read_text(encoding="utf-8")
    trees = {s: load_tree(scenario=s) for s in ("default", "pledge", "transaction", "licensing")}
    seen = 0
    for line in doc.splitlines():
        if not (line.startswith("| **") or line.startswith("| &nbsp;")):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        path = cells[0].replace("&nbsp;", "").replace("**", "").split()[0]
        for scenario, cell in zip(trees, cells[1:5], strict=True):
            assert float(cell) == pytest.approx(trees[scenario].weights[path]), (path, scenario)
        seen += 1
    assert seen == 3 + sum(len(s) for s in trees["default"].structure.values())
    for leaf in trees["default"].leaf_names:
        row = next(ln for ln in doc.splitlines() if ln.startswith(f"| `{leaf}` |"))
        weight = float(row.split("|")[3])
        assert weight == pytest.approx(trees["default"].weights[trees["default"].leaf_path(leaf)]), leaf


def test_gdp_table_carries_its_source_and_year():
    text = (PACKAGED.parent / "quality_gdp.csv").read_text(encoding="utf-8")
    assert "World Development Indicators" in text and "2020" in text
    table = gdp_table()
    assert (table["year"] == "2020").all()
    assert table["gdp_usd_m"].dropna().gt(0).all()


def test_tree_with_text_weight_and_duplicate_leaf_refused(tmp_path):
    def text_weight(d):
        d["tree"]["technical"]["children"]["breadth"]["weight"] = "0.2"

    with pytest.raises(QualityTreeError, match="'technical/breadth' must be a number"):
        load_tree(write_tree(tmp_path, text_weight))

    def dup(d):
        d["tree"]["economic"]["children"]["exploitation"]["children"]["claims"] = {"weight": 0.0}

    with pytest.raises(QualityTreeError, match="leaf 'claims' appears twice"):
        load_tree(write_tree(tmp_path, dup))


def test_string_dates_are_parsed_and_bad_ones_named():
    f = pd.DataFrame([base(), base()], index=pd.Index(["CN1", "CN2"], name="patent_id"))
    ok = score_quality(f, as_of=AS_OF)  # ISO text dates are read as dates
    assert ok["quality_missing"].str.contains("fee_continuity").sum() == 0
    f.loc["CN2", "fees_paid_through"] = "someday"
    with pytest.raises(QualityInputError, match="patent CN2: field 'fees_paid_through': expected a date"):
        score_quality(f, as_of=AS_OF)


# --------------------------------------------------------------------------- aggregation properties (hypothesis)
@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    scenario=st.sampled_from(["pledge", "transaction", "licensing", "default"]),
)
def test_aggregate_is_a_weighted_mean_of_observed_leaves(data, scenario):
    tree = load_tree(scenario=scenario)
    n_leaf = len(tree.leaf_names)
    vals = np.array(
        data.draw(
            st.lists(
                st.lists(st.one_of(st.none(), st.floats(0, 1)), min_size=n_leaf, max_size=n_leaf),
                min_size=1,
                max_size=5,
            )
        ),
        dtype=float,
    )
    agg = aggregate(vals, tree)
    obs = ~np.isnan(vals)
    any_obs = obs.any(axis=1)
    # effective weights: zero where missing, sum to one where anything is observed
    assert np.all(agg["effective"][~obs] == 0)
    np.testing.assert_allclose(agg["effective"][any_obs].sum(axis=1), 1.0)
    # the score is the effective-weighted mean, so it lies between the smallest and largest observed value
    score = np.nansum(agg["effective"] * np.nan_to_num(vals), axis=1)
    np.testing.assert_allclose(agg["score"][any_obs], score[any_obs], atol=1e-12)
    lo = np.where(obs, vals, np.inf).min(axis=1)
    hi = np.where(obs, vals, -np.inf).max(axis=1)
    assert np.all(agg["score"][any_obs] >= lo[any_obs] - 1e-12)
    assert np.all(agg["score"][any_obs] <= hi[any_obs] + 1e-12)
    assert np.all(np.isnan(agg["score"][~any_obs]))
    # coverage is the nominal weight of what was observed
    nominal = np.array([tree.global_weights()[leaf] for leaf in tree.leaf_names])
    np.testing.assert_allclose(agg["coverage"], obs @ nominal)
    # when everything is observed, the effective weights are the nominal ones
    full = np.nan_to_num(vals, nan=0.3)
    np.testing.assert_allclose(aggregate(full, tree)["effective"], np.tile(nominal, (len(full), 1)))


def test_explanation_in_chinese():
    out = score_quality(frame([base(in_litigation=True)]), as_of=AS_OF, lang="zh")
    assert "诉讼 -" in out["quality_explanation"].iloc[0]
    with pytest.raises(ValueError, match="lang"):
        score_quality(frame([base()]), as_of=AS_OF, lang="fr")


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", None]),
            st.one_of(st.none(), st.floats(0, 100)),
            st.sampled_from(["granted", "pending", "lapsed", "expired"]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_allocation_weights_property(rows):
    f = pd.DataFrame(
        rows, columns=["group", "quality_score", "legal_status"], index=[f"P{i}" for i in range(len(rows))]
    )
    f["quality_score"] = f["quality_score"].astype(float)
    w = allocation_weights(f)
    assert list(w.index) == list(f.index)
    assert (w >= 0).all() and (w <= 1 + 1e-12).all()
    keys = f["group"].astype(object).where(f["group"].notna(), pd.Series(f.index, index=f.index))
    np.testing.assert_allclose(w.groupby(keys).sum(), 1.0)
    # within a group with a live patent, dead patents carry nothing, and a higher score never gets less
    for _, g in f.assign(w=w).groupby(keys):
        live = ~g["legal_status"].isin(["lapsed", "expired"])
        if live.any():
            assert (g.loc[~live, "w"] == 0).all()
            scored = g[live & g["quality_score"].notna()].sort_values("quality_score")
            assert scored["w"].is_monotonic_increasing


class TestCohortReference:
    def test_reference_caps_replace_the_small_portfolio_fallback(self):
        rows = [
            base(forward_citations=6, cpc="H04L9/32", filing_date="2015-06-30"),
            base(forward_citations=6, cpc="A61K31/00", filing_date="2015-06-30"),  # not in the reference
        ]
        ref = pd.DataFrame(
            {"cpc_subclass": ["H04L"], "filing_year": [2015], "rate_p99": [2.0], "rate_p01": [0.1]}
        )
        out = quality_indicators(frame(rows), as_of=AS_OF, cohort_reference=ref)
        age = (AS_OF - dt.date(2015, 6, 30)).days / 365.25
        assert out["forward_citations"].iloc[0] == pytest.approx(min(max(6 / age, 0.1), 2.0) / 2.0)
        assert out["forward_citation_level"].tolist() == [4, 3]
        assert out["forward_citations"].iloc[1] == pytest.approx(min(1.0, 6 / age))

    @pytest.mark.parametrize(
        ("ref", "message"),
        [
            (pd.DataFrame({"cpc_subclass": ["H04L"], "filing_year": [2015]}), "missing columns"),
            (
                pd.DataFrame({"cpc_subclass": ["H04L"], "filing_year": [2015], "rate_p99": [0.0]}),
                "rate_p99 > 0",
            ),
            (
                pd.DataFrame(
                    {"cpc_subclass": ["H04L", "H04L"], "filing_year": [2015, 2015], "rate_p99": [1, 2]}
                ),
                "more than once",
            ),
        ],
    )
    def test_bad_reference_refused(self, ref, message):
        with pytest.raises(ValueError, match=message):
            score_quality(frame([base()]), as_of=AS_OF, cohort_reference=ref)


def test_tree_file_missing_a_parameter_is_named(tmp_path):
    def bad(d):
        del d["leaves"]["litigation"]["params"]["in_litigation"]

    with pytest.raises(
        QualityTreeError, match="'legal/disputes/litigation' lacks the parameter 'in_litigation'"
    ):
        score_quality(frame([base()]), as_of=AS_OF, weights=write_tree(tmp_path, bad))


def test_explanation_tokens_formatted_on_demand_are_the_full_tables():
    # the tokens of the ids present (the fast path) against the whole table of every label and tenth (reference)
    from ipvalue.quality import _score

    labels = ["legal status", "remaining life", "claims"]
    tenths = np.arange(-1000, 1001)
    table = np.array([f"{lab} {t / 10:+.1f}" for lab in labels for t in tenths], dtype=object)
    ids = np.random.default_rng(5).integers(0, len(table), size=(400, 3))
    ids[0] = [0, 1000, 2000]  # -100.0, +0.0 and +100.0 of the first leaf
    np.testing.assert_array_equal(_score._tokens(labels, ids), table[ids])
    assert _score._tokens(labels, np.zeros((0, 3), dtype=np.int64)).shape == (0, 3)


def _quantile_table_reference(key, rate, *, min_size, lo_q, hi_q):
    """The cohort quantiles as first written: pandas groupby size and quantile."""
    ok = (key >= 0) & ~np.isnan(rate)
    df = pd.DataFrame({"k": key[ok], "r": rate[ok]})
    size = df.groupby("k")["r"].size()
    big = size.index[size.to_numpy() >= min_size]
    if df.empty or len(big) == 0:
        return None
    q = df[df["k"].isin(big)].groupby("k")["r"].quantile([lo_q, hi_q]).unstack()
    return pd.DataFrame(
        {
            "size": size.reindex(q.index).to_numpy(np.int64),
            "lo": q[lo_q].to_numpy(),
            "hi": q[hi_q].to_numpy(),
        },
        index=pd.Index(q.index.to_numpy(np.int64), dtype=np.int64),
    ).sort_index()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-1, 6),
            st.one_of(st.floats(0, 50, allow_nan=False), st.sampled_from([0.0, 1.5, np.nan])),
        ),
        max_size=60,
    ),
    st.integers(1, 6),
    st.sampled_from([(0.01, 0.99), (0.05, 0.95), (0.0, 1.0), (0.25, 0.5)]),
)
def test_cohort_quantiles_as_pandas_groupby(pairs, min_size, qs):
    # the numpy cohort quantiles (the fast path) against pandas' groupby quantile (the reference), to the bit
    from ipvalue.quality import _indicators

    key = np.array([k for k, _ in pairs], dtype=np.int64)
    rate = np.array([r for _, r in pairs], dtype=float)
    got = _indicators._quantile_table(key, rate, min_size=min_size, lo_q=qs[0], hi_q=qs[1])
    ref = _quantile_table_reference(key, rate, min_size=min_size, lo_q=qs[0], hi_q=qs[1])
    if ref is None:
        assert got.empty
    else:
        pd.testing.assert_frame_equal(got, ref, check_exact=True)


def test_remaining_life_argument_checked_like_a_column():
    # the remaining life given as an argument is checked on its array (no frame built): the patent named
    f = pd.DataFrame(
        {
            "patent_type": ["invention"] * 3,
            "legal_status": ["granted"] * 3,
            "remaining_life_years": [1.0, 2.0, 3.0],
        },
        index=pd.Index(["CN1", "CN2", "CN3"], name="patent_id"),
    )
    given = [-1.0, 5.0, np.inf]
    with pytest.raises(QualityInputError) as err:
        score_quality(f, as_of=dt.date(2025, 1, 1), remaining_life_years=given)
    assert [(p.patent, p.field) for p in err.value.problems] == [("CN3", "remaining_life_years")]
    out = score_quality(f, as_of=dt.date(2025, 1, 1), remaining_life_years=given, errors="missing")
    invalid = out["quality_missing"].astype(str).str.contains("remaining_life_years(invalid)", regex=False)
    assert invalid.tolist() == [True, False, True]


@pytest.mark.parametrize("scenario", ["pledge", "transaction", "default"])
def test_packaged_tree_kept_once_scores_as_a_tree_read_anew(scenario):
    # the packaged tree and its layout kept per scenario (the fast path) against a tree read from the file now
    from ipvalue.demo import load_demo
    from ipvalue.quality import _score

    frame = load_demo()[0]
    day = dt.date(2026, 6, 30)
    kept = score_quality(frame, as_of=day, scenario=scenario)
    anew = score_quality(frame, as_of=day, weights=load_tree(scenario=scenario))
    pd.testing.assert_frame_equal(kept, anew)
    assert kept.attrs == anew.attrs
    assert _score._packaged(scenario)[0] is _score._packaged(scenario)[0]


def test_cohort_caps_found_by_binary_search_as_by_reindex():
    # sorted cohort tables are searched (the fast path); the same tables unsorted go through pandas' reindex
    from ipvalue.quality import _indicators

    rng = np.random.default_rng(8)
    key1 = rng.integers(-1, 12, 400)
    key2 = rng.integers(-1, 5, 400)
    rate = np.where(rng.random(400) < 0.1, np.nan, rng.gamma(1.0, 2.0, 400))
    kw = {"min_size": 5, "lo_q": 0.01, "hi_q": 0.99, "cap": 3.0}
    tables = tuple(
        _indicators._quantile_table(k, rate, **{x: kw[x] for x in ("min_size", "lo_q", "hi_q")})
        for k in (key1, key2)
    )
    fast = _indicators._cohort_normalise(rate, key1, key2, tables=tables, **kw)
    shuffled = tuple(t.iloc[::-1] for t in tables)
    ref = _indicators._cohort_normalise(rate, key1, key2, tables=shuffled, **kw)
    for got, want in zip(fast, ref, strict=True):
        np.testing.assert_array_equal(got, want)
    assert (fast[1] == 1).any() and (fast[1] == 2).any()
