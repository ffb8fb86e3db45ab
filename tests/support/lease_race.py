"""One contender of the lease race, shared by the thread (DynamoDB) and process (SQLite) runs.

Round ``r`` uses its own key. Phase 1 (t=1000): everybody tries to acquire. Barrier. Phase 2
(t=2000, the phase-1 lease expired and its holder never released it): everybody tries again;
the phase-1 winner's refresh and late commit must be rejected. After all rounds, each phase-2
winner commits (still within its lease), which must succeed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Protocol

from lambda_isr.errors import LeaseNotOwnedError
from lambda_isr.store.contract import CacheRecord, Lease, MetaStore
from lambda_isr.store.sqlite import SqliteMetaStore
from lambda_isr.testing import FakeClock


class Barrier(Protocol):
    def wait(self, timeout: float | None = None) -> int: ...


@dataclass
class ContenderResult:
    first: list[int] = field(default_factory=list)
    second: list[int] = field(default_factory=list)
    stale_rejected: int = 0
    stale_accepted: int = 0
    committed: int = 0
    errors: list[str] = field(default_factory=list)


def race_key(run: str, round_no: int) -> str:
    return f"race::{run}::{round_no}"


def contend(
    store: MetaStore, clock: FakeClock, barrier: Barrier, run: str, rounds: int
) -> ContenderResult:
    result = ContenderResult()
    mine: list[Lease] = []
    try:
        for r in range(rounds):
            key = race_key(run, r)
            clock.set(1000.0)
            first = store.try_acquire_lease(key, 30)
            if isinstance(first, Lease):
                result.first.append(r)
            barrier.wait(120)
            clock.set(2000.0)
            second = store.try_acquire_lease(key, 30)
            if isinstance(second, Lease):
                result.second.append(r)
                mine.append(second)
            if isinstance(first, Lease):
                stale_writer(store, first, result)
        barrier.wait(120)  # nobody is still contending for the last key
        for lease in mine:
            store.commit_generation(lease, CacheRecord(lease.cache_key, "isr/a/b.html", 2000.0, 60))
            result.committed += 1
    except Exception as exc:  # reported to the test, which fails on it
        result.errors.append(f"{os.getpid()}: {type(exc).__name__}: {exc}")
        barrier_abort = getattr(barrier, "abort", None)
        if barrier_abort is not None:
            barrier_abort()
    return result


def stale_writer(store: MetaStore, lease: Lease, result: ContenderResult) -> None:
    """The interrupted phase-1 holder wakes up: its refresh and commit must both fail."""
    try:
        store.refresh_lease(lease, 30)
        result.stale_accepted += 1
    except LeaseNotOwnedError:
        result.stale_rejected += 1
    try:
        store.commit_generation(lease, CacheRecord(lease.cache_key, "isr/a/stale.html", 1000.0, 60))
        result.stale_accepted += 1
    except LeaseNotOwnedError:
        result.stale_rejected += 1


def sqlite_contender(
    path: str, barrier: Barrier, run: str, rounds: int, n: int, out: object
) -> None:
    """Process entry point: a fresh store on the shared file, results put on ``out``."""
    clock = FakeClock(1000.0)
    store = SqliteMetaStore(path, clock=clock, busy_timeout=30.0)
    result = contend(store, clock, barrier, run, rounds)
    store.close()
    out.put((n, result))  # type: ignore[attr-defined]
