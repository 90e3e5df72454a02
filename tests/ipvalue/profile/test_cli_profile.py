"""``ipvalue profile``: a thin command over profile_borrower."""

import datetime as dt
import json

import pytest

from ipvalue.cli import main
from ipvalue.demo import demo_portfolio_path
from ipvalue.profile import synthetic_book

AS_OF = dt.date(2026, 6, 30)


def test_profile_command_with_peers_and_overlay(tmp_path, capsys):
    peers = tmp_path / "peers.csv"
    synthetic_book(150, as_of=AS_OF, mean_patents=20, seed=3).to_csv(peers, index=False)
    table = tmp_path / "table.json"
    notches = dict(zip([f"T{i}" for i in range(1, 11)], [-2, -2, -1, -1, 0, 0, 1, 1, 2, 2], strict=True))
    table.write_text(json.dumps({"master_scale": [0.01, 0.03, 0.09], "notches": notches, "source": "test"}))
    out = tmp_path / "p.json"
    args = ["profile", str(demo_portfolio_path()), "--as-of", "2026-06-30", "--peers", str(peers)]
    with pytest.raises(SystemExit) as ex:
        main([*args, "--lang", "en", "--overlay", str(table), "--pd", "0.03", "-o", str(out)])
    assert ex.value.code == 0
    text = capsys.readouterr().out
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert f"grade: {saved['grade']}" in text and "strongest:" in text and "PD overlay: 3.0000%" in text
    want = [0.01, 0.03, 0.09][min(max(1 + notches[saved["grade"]], 0), 2)]
    assert saved["overlay"]["pd_after"] == pytest.approx(want)


def test_profile_command_without_peers_says_so_and_refuses_overlay_without_pd(tmp_path, capsys):
    with pytest.raises(SystemExit) as ex:
        main(["profile", str(demo_portfolio_path()), "--as-of", "2026-06-30", "--lang", "en"])
    assert ex.value.code == 0
    assert "No peer cohort was given" in capsys.readouterr().out
    with pytest.raises(SystemExit) as ex:
        main(
            [
                "profile",
                str(demo_portfolio_path()),
                "--as-of",
                "2026-06-30",
                "--overlay",
                str(tmp_path / "t.json"),
            ]
        )
    assert ex.value.code == 2
    assert "--overlay needs --pd" in capsys.readouterr().err
