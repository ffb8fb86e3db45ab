"""``lambda-isr dev`` as a user runs it: banner, a request, Ctrl-C, and no orphaned workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lambda_isr.cli import build_parser
from tests.dev.cli_support import Running, get, lambda_isr_dev

pytestmark = pytest.mark.slow


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # a zombie is dead; reaping it is its new parent's business


def _wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (alive := [p for p in pids if not _gone(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def _started(running: Running, count: int) -> tuple[str, list[int]]:
    url = running.until(r"url +(http://\S+)").group(1)
    pids = [
        int(running.until(rf"worker {i} started \(pid (\d+)\)").group(1))
        for i in range(1, count + 1)
    ]
    running.until("Ctrl-C to stop")
    return url, pids


def test_dev_is_a_subcommand_with_the_documented_defaults() -> None:
    args = build_parser().parse_args(["dev"])
    assert (args.handler, str(args.task_root), args.port, args.host, args.workers) == (
        "app.handler", "handler", 3000, "127.0.0.1", 2,
    )  # fmt: skip
    assert args.reload is False


def test_banner_serves_then_ctrl_c_stops_every_worker(tmp_path: Path) -> None:
    with lambda_isr_dev(tmp_path, "app.stream", "--port", "0", "--workers", "2") as running:
        url, pids = _started(running, 2)
        assert url.startswith("http://127.0.0.1:")
        store = running.until(r"store +(.*)").group(1)
        assert str(tmp_path / "store") in store
        assert get(url, "/slow") == (200, b"chunk 0\nchunk 1\nchunk 2\n")
        running.until(r"GET /slow 200 cache=- ttfb=[\d.]+ms total=[\d.]+ms bytes=24")
        running.process.send_signal(signal.SIGINT)
        assert running.process.wait(20) == 0
        running.until("stopped")
        assert _wait_gone(pids) == []


def test_workers_die_with_a_killed_server(tmp_path: Path) -> None:
    with lambda_isr_dev(tmp_path, "app.stream", "--port", "0", "--workers", "2") as running:
        _, pids = _started(running, 2)
        os.kill(running.process.pid, signal.SIGKILL)
        running.process.wait(10)
        assert _wait_gone(pids) == []


def test_bad_task_root_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lambda_isr.cli", "dev", "--task-root", str(tmp_path / "nope")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "--task-root" in done.stderr
    assert "does not exist" in done.stderr


def test_reload_serves_the_import_error_and_waits_for_a_fix(tmp_path: Path) -> None:
    def break_it(root: Path) -> None:
        (root / "app.py").write_text((root / "app.py").read_text() + "\ndef broken(:\n")

    args = ("app.stream", "--port", "0", "--workers", "1", "--reload")
    with lambda_isr_dev(tmp_path, *args, edit=break_it) as running:
        running.until(r"cannot import the handler app\.stream .*UserCodeSyntaxError.*--reload")
        url, _ = _started(running, 1)
        for count in (1, 2):
            status, body = get(url, "/slow")
            assert status == 502
            assert b"Runtime.UserCodeSyntaxError" in body
            running.until(r"GET /slow 502", count=count)
        source = tmp_path / "task" / "app.py"
        source.write_text(source.read_text().replace("\ndef broken(:\n", ""))
        running.until("reload: app.py changed; restarting the workers")
        assert get(url, "/slow") == (200, b"chunk 0\nchunk 1\nchunk 2\n")
        running.until(r"GET /slow 200")
        # One start for the broken code, one after the fix: no restart loop in between.
        assert running.text().count("worker 1 started") == 2
        assert running.text().count("failed to start: Runtime.UserCodeSyntaxError") == 1


def test_a_failed_render_logs_its_full_traceback(tmp_path: Path) -> None:
    with lambda_isr_dev(tmp_path, "app.page", "--port", "0", "--workers", "1") as running:
        url, _ = _started(running, 1)
        status, _ = get(url, "/late?fail=late")
        assert status == 200  # the head left before the render failed
        running.until(r"GET /late\?fail=late 200")
        running.until(r"RuntimeError: the template blew up late$")
    log = running.text()
    assert "Traceback (most recent call last):" in log
    app = tmp_path / "task" / "app.py"
    assert f'File "{app}", line ' in log
    assert 'raise RuntimeError("the template blew up late")' in log
