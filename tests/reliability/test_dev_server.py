"""The dev server's real worker processes: a worker SIGKILLed mid-render, and a short stress
run (``bench/stress.py``) with its goals (no unexpected answer, one render per period)."""

from __future__ import annotations

import http.client
import time
from pathlib import Path

import pytest

from bench.stress import END, DevProcess, run, start_dev

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def _get(dev: DevProcess, target: str) -> tuple[int | None, dict[str, str], bytes, str]:
    """(status or None, headers, body so far, how it ended)."""
    conn = http.client.HTTPConnection("127.0.0.1", dev.port, timeout=30)
    status: int | None = None
    headers: dict[str, str] = {}
    body = b""
    try:
        conn.request("GET", target)
        response = conn.getresponse()
        status, headers = response.status, {k.lower(): v for k, v in response.getheaders()}
        body = response.read()
        return status, headers, body, "complete"
    except http.client.IncompleteRead as cut:
        return status, headers, cut.partial, "truncated"
    except (OSError, http.client.HTTPException) as exc:
        return status, headers, body, type(exc).__name__
    finally:
        conn.close()


def test_worker_killed_mid_render_breaks_the_response_and_commits_nothing(
    tmp_path: Path,
) -> None:
    flag = tmp_path / "kill-once"
    flag.touch()
    dev = start_dev(tmp_path, workers=2, stale_seconds=2, extra_env={"STRESS_KILL_FLAG": str(flag)})
    try:
        status, headers, body, ended = _get(dev, "/kill/a")
        assert not flag.exists()  # the worker really died in the render
        broken = ended != "complete" or (status is not None and status >= 500)
        assert broken, (status, ended, body[:200])
        assert not body.endswith(END.encode())  # never a page that looks whole
        if body and status == 200:
            assert body.startswith(b"<html><h1>/kill/a</h1>")  # what it got is the real prefix
        time.sleep(3.2)  # lease_seconds=2, rounded up: the dead worker's lease has expired
        status, headers, body, ended = _get(dev, "/kill/a")
        assert (status, ended, headers.get("x-isr-cache")) == (200, "complete", "miss")
        assert body.endswith(END.encode())  # nothing partial had been committed
        again = _get(dev, "/kill/a")
        # The miss's response ends before its commit: the next request may find the lease
        # still held and wait for the generation (wait-hit), or find it committed (hit).
        assert (again[0], again[2]) == (200, body)
        assert again[1].get("x-isr-cache") in {"hit", "wait-hit"}
        renders = [line for line in dev.render_lines() if line[0] == "/kill/a"]
        assert len(renders) == 2
        assert len({pid for _, pid, _ in renders}) == 2  # the second came from a new worker
    finally:
        dev.stop()


def test_short_stress_run_meets_its_goals() -> None:
    report = run(seconds=5, connections=10, workers=2, stale_seconds=2)
    print(report.figures())
    assert report.unexpected == []
    assert len(report.answers) > 100
    assert {a.kind for a in report.answers} == {"hit", "stale", "miss", "fail"}
    assert report.max_renders_per_period == 1
    assert report.max_renders_per_hit_page == 1
    assert report.peak_rss_kib
    assert report.passed
