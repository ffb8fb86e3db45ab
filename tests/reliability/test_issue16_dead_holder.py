"""Issue 16, item 11: after the lease holder dies (``kill -9``) on a new page, the next request
waits a bounded time set by the lease refresh interval, not ``wait_timeout``.

A render in progress refreshes its lease every second (``lease_refresh_seconds``), which moves
the lease's expiry; a waiter that sees the expiry stand still for ``holder_silent_seconds``
(3 s) knows the holder is gone: it takes the lease over at its expiry when that is near (a 4 s
lease), else renders uncached at once (a longer lease)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from lambda_isr.clock import SystemClock
from lambda_isr.isr.config import IsrConfig
from lambda_isr.isr.lease_keeper import LeaseKeeper
from lambda_isr.store.contract import Lease
from lambda_isr.store.files import FileHtmlStore
from lambda_isr.store.memory import MemoryMetaStore
from lambda_isr.store.sqlite import SqliteMetaStore
from lambda_isr.testing import FakeClock
from tests.isr.helpers import HookClock, key_for, make_env, stream
from tests.support.events import load_event


def test_a_render_refreshes_its_lease_every_second() -> None:
    clock = FakeClock(1000.0)
    meta = MemoryMetaStore(clock=clock)
    lease = meta.try_acquire_lease("k", 4)
    assert isinstance(lease, Lease)
    keeper = LeaseKeeper(meta, lease, 4, clock, Logger(service="keeper-test"))
    clock.advance(0.9)
    keeper.tick()
    assert keeper.refreshes == 0
    clock.advance(0.1)
    keeper.tick()  # 1 s after the last refresh (a 4 s lease used to wait 2 s)
    assert (keeper.refreshes, keeper.lease.expires_at) == (1, 1005.0)
    for _ in range(3):
        clock.advance(1.0)
        keeper.tick()
    assert (keeper.refreshes, keeper.lease.expires_at) == (4, 1008.0)
    assert IsrConfig(revalidate=60, lease_seconds=15).lease_refresh_seconds == 1.0


@pytest.mark.parametrize("lease_seconds", [None, 4.0, 15.0], ids=["default", "4s", "15s"])
def test_the_wait_for_a_dead_holder_is_bounded_by_the_refresh_interval(
    lease_seconds: float | None,
) -> None:
    clock = HookClock()
    options: dict[str, Any] = {} if lease_seconds is None else {"lease_seconds": lease_seconds}
    env = make_env(clock=clock, wait_timeout=10, **options)
    cfg = env.face.driver.config
    dead = env.meta.inner.try_acquire_lease(key_for(), cfg.lease_seconds)  # then never refreshed
    assert isinstance(dead, Lease)
    started = clock.now()
    answer = stream(env, load_event("get"))
    waited = clock.now() - started
    assert (answer.status, answer.ended, answer.error) == (200, True, None)
    assert answer.body.startswith(b"<html>")
    assert waited <= 2 * cfg.holder_silent_seconds + 1  # about 3-7 s, never wait_timeout (10 s)
    if cfg.lease_seconds <= cfg.holder_silent_seconds + 1:
        assert answer.headers["x-isr-cache"] == "miss"  # took the lease over and stored
        assert env.meta.inner.get(key_for()) is not None
    else:
        assert answer.headers["cache-status"] == "lambda-isr; fwd=bypass; detail=holder-silent"


_HOLDER = """
import json, pathlib, sys, time
from lambda_isr.face import isr_face
from lambda_isr.store.contract import Store
from lambda_isr.store.files import FileHtmlStore
from lambda_isr.store.sqlite import SqliteMetaStore

root = pathlib.Path(sys.argv[1])

def face(request):
    (root / "started").write_text("rendering")
    time.sleep(300)  # killed long before
    return "never"

store = Store(SqliteMetaStore(root / "meta.db"), FileHtmlStore(root / "html"))
isr_face(revalidate=60, store=store)(face)(json.loads(sys.argv[2]), None)
"""


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_kill_9_of_the_holder_on_a_new_page(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path), json.dumps(load_event("get"))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "started").exists():
            assert holder.poll() is None, "the holder exited before rendering"
            assert time.monotonic() < deadline, "the holder never started rendering"
            time.sleep(0.05)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
    meta = SqliteMetaStore(tmp_path / "meta.db", clock=SystemClock())
    try:
        env = make_env(
            lambda r: "<p>rendered by the next request</p>",
            clock=SystemClock(),
            meta_store=meta,
            html_store=FileHtmlStore(tmp_path / "html", fsync=False),
            wait_timeout=30,  # waiting it out would take 30 s
        )
        started = time.monotonic()
        answer = stream(env, load_event("get"))
        waited = time.monotonic() - started
    finally:
        meta.close()
    assert (answer.status, answer.body) == (200, b"<p>rendered by the next request</p>")
    assert answer.ended
    assert answer.headers["x-isr-cache"] in {"miss", "bypass"}
    assert waited < 15, waited  # bounded by the refresh interval (about 3-5 s), not 30 s
