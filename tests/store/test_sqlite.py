"""SQLite specifics: busy database, fork safety, unreadable rows."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lambda_isr.errors import ConfigError, StoreUnavailableError
from lambda_isr.store.contract import CacheRecord, Lease
from lambda_isr.store.keys import cache_key_hash
from lambda_isr.store.sqlite import SqliteMetaStore
from lambda_isr.testing import FakeClock

ROOT = Path(__file__).resolve().parents[2]


def test_locked_beyond_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite3"
    store = SqliteMetaStore(db, clock=FakeClock(), busy_timeout=0.2)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="locked"):
            store.try_acquire_lease("k", 30)
        assert 0.15 < time.monotonic() - started < 3
        assert store.get("k") is None  # WAL: reads are not blocked by the writer
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert isinstance(store.try_acquire_lease("k", 30), Lease)
    store.close()


def test_forked_child_uses_its_own_connection(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, sys
        from lambda_isr.testing import FakeClock
        from lambda_isr.store.contract import Lease, LeaseHeld
        from lambda_isr.store.sqlite import SqliteMetaStore
        store = SqliteMetaStore({str(tmp_path / "m.sqlite3")!r}, clock=FakeClock())
        parent_conn = store._conn()
        assert isinstance(store.try_acquire_lease("parent", 30), Lease)
        pid = os.fork()
        if pid == 0:
            ok = store._conn() is not parent_conn
            ok = ok and isinstance(store.try_acquire_lease("parent", 30), LeaseHeld)
            ok = ok and isinstance(store.try_acquire_lease("child", 30), Lease)
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        assert isinstance(store.try_acquire_lease("child", 30), LeaseHeld)
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
        env={"PYTHONPATH": str(ROOT / "layer"), "PATH": "/usr/bin:/bin"},
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_unreadable_row_is_a_miss_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "m.sqlite3"
    store = SqliteMetaStore(db, clock=FakeClock())
    lease = store.try_acquire_lease("k", 30)
    assert isinstance(lease, Lease)
    store.commit_generation(lease, CacheRecord("k", "isr/a/b.html", 1000.0, 60))
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE meta SET headers = '{broken' WHERE pk = ?", (cache_key_hash("k"),))
    raw.close()
    assert store.get("k") is None
    assert [(r.name, r.levelname) for r in caplog.records] == [("lambda_isr.store", "WARNING")]
    store.close()


def test_bad_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="busy_timeout"):
        SqliteMetaStore(tmp_path / "m.sqlite3", busy_timeout=0)
    with pytest.raises(ConfigError, match="file path"):
        SqliteMetaStore(":memory:")
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(ConfigError, match="directory"):
        SqliteMetaStore(tmp_path / "file" / "m.sqlite3")


def _open(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT 1").close()
    except sqlite3.ProgrammingError:  # "Cannot operate on a closed database."
        return False
    return True


def test_connections_of_finished_threads_are_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every thread (a lease keeper, a pool worker) opens its own connection; once the thread
    has ended its connection is closed, so 50 short-lived threads leave almost none open."""
    opened: list[sqlite3.Connection] = []
    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = real_connect(*args, **kwargs)
        opened.append(conn)
        return conn

    monkeypatch.setattr("lambda_isr.store.sqlite.sqlite3.connect", connect)
    store = SqliteMetaStore(tmp_path / "m.sqlite3", clock=FakeClock())
    for _ in range(50):
        thread = threading.Thread(target=store.get, args=("k",))
        thread.start()
        thread.join()
    assert len(opened) == 51  # the constructing thread + one per thread
    live = sum(1 for conn in opened if _open(conn))
    assert live <= 2, live  # this thread's, and the last thread's until the next one opens
    assert store.open_connections == live
    # Threads still running keep theirs.
    barrier = threading.Barrier(11)

    def hold() -> None:
        store.get("k")
        barrier.wait(10)
        barrier.wait(10)

    holders = [threading.Thread(target=hold) for _ in range(10)]
    for thread in holders:
        thread.start()
    barrier.wait(10)
    assert store.open_connections >= 10
    assert all(_open(conn) for conn in opened[-10:])
    barrier.wait(10)
    for thread in holders:
        thread.join()
    last = threading.Thread(target=store.try_acquire_lease, args=("k", 30))
    last.start()
    last.join()
    assert store.open_connections <= 2
    assert sum(1 for conn in opened if _open(conn)) <= 2
    store.close()
    assert store.open_connections == 0
    assert not any(_open(conn) for conn in opened)


def test_default_busy_timeout_is_bounded(tmp_path: Path) -> None:
    """A database locked by someone else fails a write within about 2 s, not 5."""
    db = tmp_path / "m.sqlite3"
    store = SqliteMetaStore(db, clock=FakeClock())
    store.get("k")  # the connection exists: only the write waits for the lock
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="locked"):
            store.try_acquire_lease("k", 30)
        elapsed = time.monotonic() - started
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        store.close()
    assert 1.5 < elapsed < 3.5, elapsed


def test_busy_timeout_must_be_finite(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="busy_timeout"):
        SqliteMetaStore(tmp_path / "m.sqlite3", busy_timeout=float("inf"))


def test_a_store_made_before_the_route_attribute_gains_its_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:  # the schema as it was, without ``route``
        old.execute(
            "CREATE TABLE meta (pk TEXT PRIMARY KEY, html_key TEXT NOT NULL, generated_at REAL"
            " NOT NULL, revalidate_seconds INTEGER NOT NULL, etag TEXT, status INTEGER NOT NULL,"
            " content_type TEXT NOT NULL, headers TEXT NOT NULL, tags TEXT NOT NULL,"
            " content_hash TEXT, size INTEGER, invalidated_at REAL) WITHOUT ROWID"
        )
        old.execute(
            "INSERT INTO meta VALUES (?, 'isr/a.html', 1000.0, 60, NULL, 200, 'text/html',"
            " '[]', '[]', NULL, 3, NULL)",
            (cache_key_hash("old"),),
        )
    clock = FakeClock(1000.0)
    store = SqliteMetaStore(path, clock=clock)
    kept = store.get("old")
    assert kept is not None
    assert (kept.html_key, kept.route) == ("isr/a.html", None)
    lease = store.try_acquire_lease("new", 10)
    assert isinstance(lease, Lease)
    new = CacheRecord("new", "isr/b.html", 1000.0, 60, route="/posts/{slug}")
    store.commit_generation(lease, new)
    assert store.get("new") == new
    store.close()


def test_an_unchanged_row_is_decoded_once_and_any_change_is_seen(tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite3"
    store = SqliteMetaStore(db, clock=FakeClock())
    other = SqliteMetaStore(db, clock=FakeClock())  # another process's writes, same file
    lease = store.try_acquire_lease("k", 30)
    assert isinstance(lease, Lease)
    store.commit_generation(
        lease, CacheRecord("k", "isr/a/b.html", 1000.0, 60, tags=frozenset({"t"}))
    )
    first = store.get("k")
    assert first is not None
    assert store.get("k") is first  # same row: the decoded record is reused
    lease = other.try_acquire_lease("k", 30)
    assert isinstance(lease, Lease)
    other.commit_generation(lease, CacheRecord("k", "isr/a/c.html", 2000.0, 60))
    second = store.get("k")
    assert second is not None
    assert second.html_key == "isr/a/c.html"
    assert not second.tags
    other.invalidate("k")
    third = store.get("k")
    assert third is not None
    assert third.invalidated_at is not None
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE meta SET headers = '{broken' WHERE pk = ?", (cache_key_hash("k"),))
    raw.close()
    assert store.get("k") is None  # a damaged row is never answered from the memo
    store.close()
    other.close()
