"""SQLite :class:`~lambda_isr.store.contract.MetaStore`: the embedded store for local
development, shared by several dev-server worker *processes* through one database file.

Every write is one ``BEGIN IMMEDIATE`` transaction (the write lock is taken up front, so a
check-then-write cannot interleave with another process). WAL lets readers run beside the
writer; a busy timeout (2 s by default, like the AWS stores' per-call timeout) bounds waiting
for a lock. One connection per thread and process, re-opened after ``fork``; the connection of
a thread that has ended is closed when the next one is opened.
"""

from __future__ import annotations

import logging
import math
import os
import sqlite3
import threading
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from pathlib import Path

from lambda_isr.clock import SYSTEM_CLOCK, Clock
from lambda_isr.errors import CommitFencedError, ConfigError, LeaseNotOwnedError
from lambda_isr.errors import StoreUnavailableError as Unavailable
from lambda_isr.store import _sqlite_index
from lambda_isr.store._sqlite_row import COLUMNS, PLACEHOLDERS, SCHEMA, RowMemo, encode
from lambda_isr.store.contract import (
    AcquireResult,
    CacheRecord,
    Lease,
    LeaseHeld,
)
from lambda_isr.store.keys import cache_key_hash
from lambda_isr.store.rules import (
    Fence,
    commit_fence,
    lease_expiry,
    lease_is_free,
    lease_is_owned,
    lease_now,
    pass_expiry,
    purged_at,
)

logger = logging.getLogger("lambda_isr.store")

DEFAULT_BUSY_TIMEOUT = 2.0
"""Seconds a statement waits for another connection's write lock before the store reports
itself unavailable (the same per-call bound as the AWS stores' default timeout)."""


def _uuid4() -> str:
    return str(uuid.uuid4())


class SqliteMetaStore:
    """Leases and records in one SQLite file; safe across threads and processes."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock = SYSTEM_CLOCK,
        token_source: Callable[[], str] = _uuid4,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        if not busy_timeout > 0 or not math.isfinite(busy_timeout):
            raise ConfigError(f"busy_timeout must be > 0 seconds and finite, got {busy_timeout!r}")
        self._path = Path(path)
        if str(path) in ("", ":memory:"):
            raise ConfigError("SqliteMetaStore needs a file path shared by all workers")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the directory for {self._path}: {exc}") from exc
        self._clock = clock
        self._tokens = token_source
        self._busy_timeout = busy_timeout
        self._rows = RowMemo()
        self._local = threading.local()
        self._all_lock = threading.Lock()
        # (pid, the thread that uses it, connection). Entries of another pid were inherited
        # through fork: never closed here (nor dropped, which would close them on collection).
        self._all: list[tuple[int, weakref.ref[threading.Thread], sqlite3.Connection]] = []
        with self._write():
            pass  # create the schema now: bad paths fail at construction

    @property
    def path(self) -> Path:
        return self._path

    # --- connections -----------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        pid = os.getpid()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == pid:
            return conn
        # A connection inherited through fork must never be used (nor closed) in the child.
        conn = None
        try:
            conn = sqlite3.connect(
                self._path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            with _transaction(conn):
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                columns = {row[1] for row in conn.execute("PRAGMA table_info(meta)")}
                if "route" not in columns:  # a store made before the route attribute
                    conn.execute("ALTER TABLE meta ADD COLUMN route TEXT")
                columns = {row[1] for row in conn.execute("PRAGMA table_info(lease)")}
                if "pass_until" not in columns:  # a store made before hit-for-pass
                    conn.execute("ALTER TABLE lease ADD COLUMN pass_until INTEGER")
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise Unavailable(f"cannot open SQLite store {self._path}: {exc}") from exc
        self._local.conn, self._local.pid = conn, pid
        with self._all_lock:
            ended = [c for p, t, c in self._all if p == pid and not _alive(t)]
            self._all = [e for e in self._all if e[0] != pid or _alive(e[1])]
            self._all.append((pid, weakref.ref(threading.current_thread()), conn))
        for finished in ended:  # their threads are gone: nobody can be using them
            finished.close()
        return conn

    @property
    def open_connections(self) -> int:
        """Connections this process has open on the database (at most one per live thread
        that used the store, plus those of threads ended since the last one was opened)."""
        pid = os.getpid()
        with self._all_lock:
            return sum(1 for p, _, _ in self._all if p == pid)

    def close(self) -> None:
        """Close this process's connections (other threads must be done with the store)."""
        pid = os.getpid()
        with self._all_lock:
            mine = [c for p, _, c in self._all if p == pid]
            self._all = [e for e in self._all if e[0] != pid]
        for conn in mine:
            conn.close()
        self._local = threading.local()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            with _transaction(conn):
                yield conn
        except sqlite3.Error as exc:
            raise Unavailable(f"SQLite store {self._path}: {exc}") from exc

    # --- MetaStore -------------------------------------------------------------------------

    def get(self, cache_key: str) -> CacheRecord | None:
        try:
            with closing(
                self._conn().execute(
                    f"SELECT {COLUMNS} FROM meta WHERE pk = ?",  # noqa: S608 - constant columns
                    (cache_key_hash(cache_key),),
                )
            ) as cur:
                row = cur.fetchone()
        except sqlite3.Error as exc:
            raise Unavailable(f"SQLite store {self._path}: {exc}") from exc
        if row is None:
            return None
        try:
            return self._rows.decode(cache_key, row)
        except (TypeError, ValueError) as exc:
            logger.warning("unreadable cache record for %.200r ignored: %s", cache_key, exc)
            return None

    def try_acquire_lease(self, cache_key: str, duration: float) -> AcquireResult:
        now = self._clock.now()
        pk = cache_key_hash(cache_key)
        with self._write() as conn:
            row = conn.execute(
                "SELECT expires_at, pass_until FROM lease WHERE pk = ?", (pk,)
            ).fetchone()
            expires, passing = row if row is not None else (None, None)
            if not lease_is_free(expires, now, passing):
                return LeaseHeld(
                    cache_key,
                    float(expires) if expires is not None else None,
                    float(passing) if passing is not None else None,
                )
            lease = Lease(cache_key, self._tokens(), float(lease_expiry(now, duration)), now)
            conn.execute(
                "INSERT OR REPLACE INTO lease (pk, token, expires_at, pass_until)"
                " VALUES (?, ?, ?, NULL)",
                (pk, lease.token, int(lease.expires_at)),
            )
            return lease

    def refresh_lease(self, lease: Lease, duration: float) -> Lease:
        now = self._clock.now()
        expires_at = lease_expiry(now, duration)
        pk = cache_key_hash(lease.cache_key)
        with self._write() as conn:
            if not self._owned(conn, pk, lease.token, now):
                raise LeaseNotOwnedError(f"lease on {lease.cache_key[:200]!r} is no longer held")
            conn.execute("UPDATE lease SET expires_at = ? WHERE pk = ?", (expires_at, pk))
        return replace(lease, expires_at=float(expires_at))

    def commit_generation(self, lease: Lease, record: CacheRecord) -> None:
        now = self._clock.now()
        lock_pk, meta_pk = cache_key_hash(lease.cache_key), cache_key_hash(record.cache_key)
        with self._write() as conn:
            if not self._owned(conn, lock_pk, lease.token, now):
                raise LeaseNotOwnedError(f"lease on {lease.cache_key[:200]!r} is no longer held")
            current = conn.execute(
                "SELECT generated_at, invalidated_at, tags FROM meta WHERE pk = ?", (meta_pk,)
            ).fetchone()
            stored_gen, stored_inv, old_tags = current if current is not None else (None,) * 3
            fence = commit_fence(stored_gen, stored_inv, record.generated_at, now)
            if fence is not Fence.OPEN:
                raise CommitFencedError(
                    f"commit of {record.cache_key[:200]!r} fenced off: {fence.value}"
                )
            conn.execute(
                f"INSERT OR REPLACE INTO meta (pk, {COLUMNS}) VALUES ({PLACEHOLDERS})",  # noqa: S608
                (meta_pk, *encode(record)),
            )
            conn.execute("DELETE FROM lease WHERE pk = ?", (lock_pk,))
            _sqlite_index.write_index(
                conn,
                record.cache_key,
                existed=current is not None,
                old_tags=_sqlite_index.stored_tags(old_tags),
                tags=record.tags,
            )

    def release_lease(self, lease: Lease) -> None:
        try:
            with self._write() as conn:
                conn.execute(
                    "DELETE FROM lease WHERE pk = ? AND token = ?",
                    (cache_key_hash(lease.cache_key), lease.token),
                )
        except Unavailable as exc:  # best effort: the lease expires by itself
            logger.warning("lease release failed (it will expire): %s", exc)

    def mark_uncacheable(self, lease: Lease, seconds: float) -> bool:
        now = self._clock.now()
        with self._write() as conn:
            changed = conn.execute(
                "UPDATE lease SET expires_at = ?, pass_until = ? WHERE pk = ? AND token = ?",
                (
                    lease_now(now),
                    pass_expiry(now, seconds),
                    cache_key_hash(lease.cache_key),
                    lease.token,
                ),
            ).rowcount
        return changed == 1

    def invalidate(self, cache_key: str) -> bool:
        now = self._clock.now()
        pk = cache_key_hash(cache_key)
        with self._write() as conn:
            row = conn.execute("SELECT invalidated_at FROM meta WHERE pk = ?", (pk,)).fetchone()
            if row is None:
                return False
            conn.execute(
                "UPDATE meta SET invalidated_at = ? WHERE pk = ?", (purged_at(row[0], now), pk)
            )
            return True

    def invalidate_path(
        self, path: str, *, host: str | None = None, tenant: str | None = None
    ) -> list[str]:
        now = self._clock.now()
        with self._write() as conn:
            return _sqlite_index.purge_path(conn, path, host=host, tenant=tenant, now=now)

    def invalidate_tag(self, tag: str) -> list[str]:
        now = self._clock.now()
        with self._write() as conn:
            return _sqlite_index.purge_tag(conn, tag, now=now)

    @staticmethod
    def _owned(conn: sqlite3.Connection, pk: str, token: str, now: float) -> bool:
        row = conn.execute("SELECT token, expires_at FROM lease WHERE pk = ?", (pk,)).fetchone()
        stored_token, stored_expiry = row if row is not None else (None, None)
        return lease_is_owned(stored_token, stored_expiry, token, now)


def _alive(thread: weakref.ref[threading.Thread]) -> bool:
    found = thread()
    return found is not None and found.is_alive()


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
