"""Importing the package or starting the command line loads no heavy library before it is needed.

``ipvalue --help`` imports every command module (a broken one must fail loudly), so those modules must be light:
numpy, pandas, pydantic, httpx and FastAPI load when a command runs, not when the command line starts.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("numpy", "pandas", "pydantic", "httpx", "fastapi", "matplotlib", "scipy")


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import ipvalue",
        "import ipvalue.errors",
        "from ipvalue.cli import register_commands; register_commands()",
    ],
)
def test_no_heavy_library_at_import(code: str) -> None:
    mods = loaded_after(code)
    assert not [m for m in HEAVY if m in mods], sorted(m for m in HEAVY if m in mods)


def test_the_probe_sees_a_heavy_import() -> None:
    # the check above can fail: a name that needs pandas loads it
    assert "pandas" in loaded_after("import ipvalue; ipvalue.read_portfolio")
