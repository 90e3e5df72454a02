from __future__ import annotations

import datetime as dt

import pandas as pd
from typer.testing import CliRunner

import data_sources as ds
from data_sources._merge import merge_patent
from data_sources.offline import FileSource, OfflineSource
from ipvalue import Patent


def P(**kw):
    return Patent(patent_id="EP2400812A1", fetched_at="2026-01-01T00:00:00+00:00", **kw)


def test_merge_keeps_priority_and_reports_conflicts():
    found = {
        "lens": P(legal_status="lapsed", forward_citations=4, owner=["9Solutions Oy"], source="lens"),
        "epo_ops": P(legal_status="granted", owner=["9SOLUTIONS OY"], family_size=5, source="epo_ops"),
    }
    fields, prov = merge_patent("EP2400812A1", found)
    assert fields["legal_status"] == "granted"  # OPS before Lens by default
    assert fields["forward_citations"] == 4  # Lens is the authority there
    assert fields["source"] == "epo_ops;lens"
    rows = {r["field"]: r for r in prov}
    assert rows["legal_status"]["conflict"] and rows["legal_status"]["alternatives"] == "lens=lapsed"
    assert not rows["owner"]["conflict"]  # same name, other case and punctuation
    assert rows["family_size"]["source"] == "epo_ops" and not rows["family_size"]["conflict"]
    # defaults that no source set are not facts: Patent's default legal_status is not a "granted" claim
    only_lens = merge_patent("EP2400812A1", {"lens": P(forward_citations=1, source="lens")})[0]
    assert "legal_status" not in only_lens


def test_merge_priority_can_be_changed():
    found = {"lens": P(legal_status="lapsed"), "epo_ops": P(legal_status="granted")}
    fields, _ = merge_patent("EP2400812A1", found, priority=("lens", "epo_ops"))
    assert fields["legal_status"] == "lapsed"


def test_conflicts_reach_the_result(server):
    server.add_ep(
        "EP2471949A1",
        title="OTHER TITLE",
        filing_date="2010-12-31",
        events=[{"code": "GRAA", "date": "2013-12-25"}],
    )
    res = ds.fetch(["EP2471949A1"], sources=["epo_ops", "lens"], base_urls=server.base_urls, env=server.env)
    conflicts = res.conflicts.set_index("field")
    assert "title" in conflicts.index and conflicts.loc["title", "source"] == "epo_ops"
    assert "lens=Method for the identification" in conflicts.loc["title", "alternatives"]
    assert res.facts.loc["EP2471949A1", "forward_citations"] == 5


def test_merged_facts_that_contradict_become_a_failure_row():
    class Fixed(ds.OfflineSource):
        def __init__(self, name, **kw):
            super().__init__(pd.DataFrame([{"patent_id": "EP2400812A1", **kw}]))
            self.name = name

    res = ds.fetch(
        ["EP2400812A1"],
        sources=[
            Fixed("file", grant_date=dt.date(2009, 1, 1)),
            Fixed("offline", filing_date=dt.date(2010, 6, 24)),
        ],
    )
    assert res.facts.empty
    assert res.failures.loc[0, "error"] == "CONFLICT" and "grant_date" in res.failures.loc[0, "reason"]


def test_offline_default_serves_the_injected_frame():
    from ipvalue.demo import load_demo

    demo = load_demo()[0]
    ids = list(demo["patent_id"])
    res = ds.fetch([*ids, "CN105123456B"], env={}, source_options={"offline": {"frame": demo}})
    assert set(res.facts.index) == set(ids)
    assert list(res.failures["patent_id"]) == ["CN105123456B"]
    assert (res.facts["source"] == "offline").all()
    for col in ("legal_status", "filing_date", "grant_date", "claims", "family_size"):
        assert res.facts.loc[ids, col].equals(demo.loc[ids, col].astype(res.facts[col].dtype)), col
    assert res.requests == 0


def test_offline_source_without_a_frame_is_a_configuration_failure_per_number():
    res = ds.fetch(["EP2400812A1", "EP2533477B1"], env={})
    assert res.facts.empty
    assert list(res.failures["patent_id"]) == ["EP2400812A1", "EP2533477B1"]
    assert set(res.failures["error"]) == {"CONFIGURATION"}, res.failures
    assert res.failures["reason"].str.contains("needs a frame").all()


def test_data_sources_imports_nothing_of_the_demo_or_the_domain():
    """data_sources depends on ipvalue.facts and ipvalue.errors only (DESIGN.md, Layout)."""
    import ast
    from pathlib import Path

    root = Path(ds.__file__).parent
    allowed = ("ipvalue.facts", "ipvalue.errors")
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name == "ipvalue" or name.startswith("ipvalue."):
                    assert name.startswith(allowed), f"{path.name} imports {name}"
                assert not name.startswith("tests"), f"{path.name} imports {name}"


def test_offline_source_with_a_frame():
    from ipvalue.facts.numbers import cn_check_digit

    good = f"CN201510123456.{cn_check_digit('201510123456')}"
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    frame = pd.DataFrame([{"patent_id": good, "legal_status": "lapsed", "claims": 7}])
    res = ds.fetch([good, bad], sources=[OfflineSource(frame)])
    assert res.facts.loc[good, "legal_status"] == "lapsed" and res.facts.loc[good, "claims"] == 7
    assert res.failures.set_index("patent_id").loc[bad, "error"] == "BAD_NUMBER"


def test_file_source_reads_through_read_portfolio(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_text(
        "专利号,专利名称,法律状态,申请日,授权公告日\nCN105123456B,一种电池,有效,2015-03-02,2017-08-01\n",
        encoding="utf-8",
    )
    res = ds.fetch(["CN105123456B"], sources=[FileSource(path)])
    row = res.facts.loc["CN105123456B"]
    assert row["title"] == "一种电池" and row["legal_status"] == "granted" and row["source"] == "file"


def test_cli_fetch_offline(tmp_path):
    import typer

    from data_sources.cli import make_fetch_command
    from ipvalue.demo import load_demo

    app = typer.Typer()
    app.command("fetch")(make_fetch_command(lambda: load_demo()[0]))
    app.command("noop")(lambda: None)
    ids = list(load_demo()[0]["patent_id"])[:3]
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("\n".join([*ids, "EP9999999A1  # unknown", "garbage"]), encoding="utf-8")
    out, fail = tmp_path / "facts.xlsx", tmp_path / "failures.csv"
    runner = CliRunner(env={"EPO_OPS_KEY": "", "LENS_API_TOKEN": "", "USPTO_ODP_API_KEY": ""})
    r = runner.invoke(
        app,
        [
            "fetch",
            "--input",
            str(numbers),
            "--output",
            str(out),
            "--failures",
            str(fail),
            "--cache",
            str(tmp_path / "c.sqlite"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "3 patents fetched, 2 failed" in r.output
    facts = pd.read_excel(out)
    assert list(facts["patent_id"]) == ids
    failures = pd.read_csv(fail)
    assert set(failures["patent_id"]) == {"EP9999999A1", "garbage"}


def test_cli_fetch_against_fake_server(server, tmp_path, monkeypatch):
    import typer

    from data_sources.cli import BASE_URL_ENV, make_fetch_command

    app = typer.Typer()
    app.command("fetch")(make_fetch_command())
    app.command("noop")(lambda: None)
    env = {**server.env, **{BASE_URL_ENV[k]: v for k, v in server.base_urls.items()}}
    out = tmp_path / "facts.parquet"
    r = CliRunner(env=env).invoke(
        app,
        [
            "fetch",
            "EP2400812A1",
            "US11646472B2",
            "--source",
            "epo_ops",
            "--source",
            "uspto_odp",
            "-o",
            str(out),
            "--failures",
            str(tmp_path / "f.csv"),
            "--provenance",
            str(tmp_path / "prov.csv"),
            "--no-cache",
        ],
    )
    assert r.exit_code == 0, r.output
    facts = pd.read_parquet(out)
    assert set(facts["patent_id"]) == {"EP2400812A1", "US11646472B2"}
    assert facts.set_index("patent_id").loc["US11646472B2", "term_adjustment_days"] == 304
    assert server.secret not in r.output and server.odp_key not in r.output
