"""Passwords, the workbench store (users, lockout counting, append-only sign-offs) and ``serve --add-user``."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipvalue.service.store import SQLiteAssessmentStore
from ipvalue.service.store.workbench import SignOff, User, UserExists
from ipvalue.web.passwords import hash_password, verify_password


@settings(max_examples=5)
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_password_round_trip_and_refusal(a, b):
    stored = hash_password(a, n=2**10)  # a low cost keeps the property test fast; the default is 2**14
    assert verify_password(a, stored)
    assert verify_password(b, stored) == (a == b)


def test_hash_is_salted_scrypt_and_unknown_user_never_matches():
    h1, h2 = hash_password("same-password"), hash_password("same-password")
    assert h1 != h2 and h1.startswith("scrypt$16384$8$1$")
    assert not verify_password("anything", None)
    assert not verify_password("x", "md5$abc")


def test_store_counts_failures_and_locks(tmp_path):
    store = SQLiteAssessmentStore(tmp_path / "s.db")
    try:
        store.add_user(User("ann", "analyst", hash_password("ann-password-1")))
        with pytest.raises(UserExists):
            store.add_user(User("ann", "reviewer", "x"))
        counts = [store.record_failed_login("ann", 3, "2999-01-01T00:00:00+00:00") for _ in range(3)]
        assert counts == [1, 2, 3]
        user = store.get_user("ann")
        assert user.locked_until == "2999-01-01T00:00:00+00:00" and user.failed_logins == 0
    finally:
        store.close()


def test_signoffs_are_append_only(tmp_path):
    store = SQLiteAssessmentStore(tmp_path / "s.db")
    try:
        seq = store.add_signoff(SignOff("asm_1", "rita", "approve", "ok"))
        assert [s.comment for s in store.signoffs("asm_1")] == ["ok"]
    finally:
        store.close()
    con = sqlite3.connect(tmp_path / "s.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE web_signoffs SET comment = 'changed' WHERE seq = ?", (seq,))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM web_signoffs")
    con.close()


@pytest.mark.slow
def test_serve_add_user(tmp_path):
    db = tmp_path / "s.db"
    env = {**os.environ, "IPVALUE_NEW_PASSWORD": "a-long-password"}
    cmd = [
        sys.executable,
        "-m",
        "ipvalue.cli",
        "serve",
        "--db",
        str(db),
        "--add-user",
        "bob",
        "--role",
        "reviewer",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0, r.stderr
    store = SQLiteAssessmentStore(db)
    try:
        bob = store.get_user("bob")
        assert bob.role == "reviewer" and verify_password("a-long-password", bob.password_hash)
    finally:
        store.close()
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    assert again.returncode == 2 and "already exists" in again.stderr
    short = subprocess.run(
        [*cmd[:-3], "carl"], capture_output=True, text=True, env={**env, "IPVALUE_NEW_PASSWORD": "short"}
    )
    assert short.returncode == 2 and "at least 10" in short.stderr
