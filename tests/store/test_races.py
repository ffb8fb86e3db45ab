"""Lease races on the backends that are correct under concurrency: DynamoDB Local (32 threads,
one client each) and SQLite (32 processes sharing one file)."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from lambda_isr.store.dynamodb import DynamoDbMetaStore
from lambda_isr.store.sqlite import SqliteMetaStore
from lambda_isr.testing import FakeClock
from tests.support.ddb_local import DynamoDbLocal, create_table
from tests.support.lease_race import ContenderResult, contend, race_key, sqlite_contender

CONTENDERS = 32
ROUNDS = 200


def check(results: list[ContenderResult], rounds: int) -> None:
    errors = [e for r in results for e in r.errors]
    assert errors == []
    first = Counter(i for r in results for i in r.first)
    second = Counter(i for r in results for i in r.second)
    assert first == Counter(range(rounds)), "exactly one phase-1 winner per round"
    assert second == Counter(range(rounds)), "exactly one takeover winner per expired lease"
    assert sum(r.stale_accepted for r in results) == 0
    assert sum(r.stale_rejected for r in results) == 2 * rounds
    assert sum(r.committed for r in results) == rounds


@pytest.mark.ddb_local
@pytest.mark.slow
def test_ddb_local_race(ddb_local: DynamoDbLocal) -> None:
    table = create_table(ddb_local.client())
    barrier = threading.Barrier(CONTENDERS)
    results: list[ContenderResult] = [ContenderResult() for _ in range(CONTENDERS)]

    def run(n: int) -> None:
        clock = FakeClock()
        store = DynamoDbMetaStore(table, client=ddb_local.client(max_attempts=5), clock=clock)
        results[n] = contend(store, clock, barrier, "ddb", ROUNDS)

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(n,)) for n in range(CONTENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    check(results, ROUNDS)
    reader = DynamoDbMetaStore(table, client=ddb_local.client(), clock=FakeClock(2000.0))
    for r in (0, ROUNDS - 1):
        got = reader.get(race_key("ddb", r))
        assert got is not None
        assert got.html_key == "isr/a/b.html"
    print(f"ddb_local race: {time.monotonic() - started:.1f} s")


@pytest.mark.slow
def test_sqlite_process_race(tmp_path: Path) -> None:
    db = tmp_path / "race.sqlite3"
    SqliteMetaStore(db).close()  # create the schema once
    ctx = multiprocessing.get_context("forkserver")
    barrier = ctx.Barrier(CONTENDERS)
    out = ctx.Queue()
    started = time.monotonic()
    procs = [
        ctx.Process(target=sqlite_contender, args=(str(db), barrier, "sql", ROUNDS, n, out))
        for n in range(CONTENDERS)
    ]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=180) for _ in procs)
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    check(list(results.values()), ROUNDS)
    reader = SqliteMetaStore(db, clock=FakeClock(2000.0))
    got = reader.get(race_key("sql", ROUNDS - 1))
    assert got is not None
    assert got.html_key == "isr/a/b.html"
    reader.close()
    print(f"sqlite race: {time.monotonic() - started:.1f} s")
