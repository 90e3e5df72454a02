"""The weight file is validated like the quality tree; the PD overlay comes only from a bank's table."""

import copy
import datetime as dt
import json

import numpy as np
import pytest

import ipvalue as iv
from ipvalue.profile import (
    OverlayTableError,
    ProfileWeightsError,
    apply_pd_overlay,
    grade_of,
    load_profile_weights,
    profile_borrower,
    read_notch_table,
    synthetic_book,
)
from ipvalue.quality._tree import read_json_file

W = load_profile_weights()
GRADES = [g for g, _ in W.grades]


def packaged() -> dict:
    data, _ = read_json_file(None, default_file="profile_weights.json", what="profile weights")
    return data


def write(tmp_path, data) -> str:
    p = tmp_path / "w.json"
    p.write_text(json.dumps(data), encoding="utf-8")
    return str(p)


def test_packaged_file_sums_to_one_and_has_ten_grades():
    assert sum(W.global_weights().values()) == pytest.approx(1.0, abs=1e-12)
    assert GRADES == [f"T{i}" for i in range(1, 11)]
    assert W.grades[-1][1] == 0.0


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d["dimensions"]["legal"].__setitem__("weight", 0.3), "of the dimensions sum to 1.1"),
        (
            lambda d: d["dimensions"]["use"]["indicators"]["licensed_share"].__setitem__("weight", -0.1),
            ">= 0",
        ),
        (
            lambda d: d["dimensions"]["use"]["indicators"]["licensed_share"].__setitem__("weight", 0.4),
            "under 'use'",
        ),
        (lambda d: d["dimensions"]["use"]["indicators"].pop("value_per_patent"), "must list exactly"),
        (lambda d: d["indicators"]["lapse_rate"].__setitem__("direction", "up"), "'direction'"),
        (lambda d: d["indicators"].__setitem__("made_up", {}), "unknown indicators"),
        (lambda d: d["grades"]["scale"][3].__setitem__("min_score", 99.0), "strictly"),
        (lambda d: d["grades"]["scale"][-1].__setitem__("min_score", 5.0), "min_score 0"),
        (lambda d: d["cohort"].__setitem__("top_quantile", 1.5), "top_quantile"),
        (lambda d: d["cohort"].__setitem__("size_edges", [5, 1]), "size_edges"),
    ],
)
def test_bad_files_are_refused_naming_the_node(tmp_path, mutate, match):
    data = copy.deepcopy(packaged())
    mutate(data)
    with pytest.raises(ProfileWeightsError, match=match) as err:
        load_profile_weights(write(tmp_path, data))
    assert isinstance(err.value, iv.InputError) and err.value.problems[0].field


def test_not_json_is_refused(tmp_path):
    p = tmp_path / "w.json"
    p.write_text("{", encoding="utf-8")
    with pytest.raises(ProfileWeightsError, match="not valid JSON"):
        load_profile_weights(p)


def test_weight_overrides_are_validated():
    w = W.with_weights({"legal/lapse_rate": 0.2, "legal/invalidation_rate": 0.35})
    assert w.weights["legal/lapse_rate"] == 0.2
    with pytest.raises(ProfileWeightsError, match="under 'legal'"):
        W.with_weights({"legal/lapse_rate": 0.9})
    with pytest.raises(ProfileWeightsError, match="unknown node"):
        W.with_weights({"legal/nothing": 0.1})


def test_grade_thresholds_from_the_file():
    # T1 from 85, T2 from 75 ... T10 from 0 (ipvalue/data/profile_weights.json)
    got = grade_of(np.array([100.0, 85.0, 84.999, 50.0, 49.9, 0.0, np.nan]), W)
    assert list(got) == ["T1", "T1", "T2", "T5", "T6", "T10", None]


TABLE = {
    "master_scale": [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1],
    "notches": {g: n for g, n in zip(GRADES, [-2, -2, -1, -1, 0, 0, 1, 1, 2, 3], strict=True)},
    "source": "test bank, 2026 (invented for the test)",
}


def test_overlay_moves_pd_by_the_bank_notches():
    loan = iv.Loan(amount=1e6, currency="CNY", tenor_years=3, probability_of_default=0.011)
    table = read_notch_table(TABLE, GRADES)
    # 0.011 is nearest (in log) to the rung 0.01 (index 3); T3 moves one notch better -> 0.005
    moved, rec = apply_pd_overlay(loan, "T3", table)
    assert moved.probability_of_default == 0.005 and rec["rung_before"] == 3 and rec["rung_after"] == 2
    assert rec["pd_before"] == 0.011 and rec["applied"]
    # T10: three notches worse from rung 3 -> rung 6 (0.1); T1 from rung 0 would go below the ladder: held at 0
    assert apply_pd_overlay(loan, "T10", table)[0].probability_of_default == 0.1
    low = iv.Loan(amount=1e6, currency="CNY", tenor_years=3, probability_of_default=0.001)
    m, r = apply_pd_overlay(low, "T1", table)
    assert m.probability_of_default == 0.001 and r["clamped"]
    # no grade: unchanged, said so
    same, r = apply_pd_overlay(loan, None, table)
    assert same is loan and not r["applied"]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"master_scale": [0.01, 0.005]}, "strictly increasing"),
        ({"notches": {"T1": 1}}, "missing"),
        ({"source": ""}, "source"),
        ({"notches": {**TABLE["notches"], "T2": 1.5}}, "integers"),
    ],
)
def test_overlay_table_is_validated(change, match):
    with pytest.raises(OverlayTableError, match=match):
        read_notch_table({**TABLE, **change}, GRADES)


def test_profile_applies_and_records_the_overlay():
    as_of = dt.date(2026, 6, 30)
    peers = synthetic_book(200, as_of=as_of, mean_patents=20, seed=5)
    borrower = synthetic_book(1, as_of=as_of, mean_patents=30, seed=9, prefix="B")
    loan = iv.Loan(amount=1e6, currency="CNY", tenor_years=3, probability_of_default=0.02)
    prof = profile_borrower(borrower, as_of=as_of, peers=peers, loan=loan, overlay=TABLE)
    want = TABLE["master_scale"][4 + TABLE["notches"][prof.grade]]
    assert prof.loan.probability_of_default == pytest.approx(want)
    assert prof.overlay["grade"] == prof.grade and prof.overlay["table"]["source"].startswith("test bank")
    assert loan.probability_of_default == 0.02  # the given loan is not changed
    with pytest.raises(iv.InputError, match="needs the loan"):
        profile_borrower(borrower, as_of=as_of, peers=peers, overlay=TABLE)
    no_pd = iv.Loan(amount=1e6, currency="CNY", tenor_years=3)
    with pytest.raises(OverlayTableError, match="probability_of_default"):
        profile_borrower(borrower, as_of=as_of, peers=peers, loan=no_pd, overlay=TABLE)
