"""``lambda-isr dev`` as a user runs it: banner, a request, Ctrl-C, and no orphaned workers."""

from __future__ import annotations

import http.client
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from lambda_isr.cli import build_parser
from tests.dev.helpers import SITE, worker_environ

pytestmark = pytest.mark.slow


@dataclass
class Running:
    process: subprocess.Popen[str]
    lines: queue.Queue[str]
    seen: list[str]

    def until(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        for line in self.seen:
            if match := re.search(pattern, line):
                return match
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"{pattern!r} not in the output:\n" + "".join(self.seen))


@contextmanager
def lambda_isr_dev(tmp_path: Path, *args: str) -> Iterator[Running]:
    root = tmp_path / "task"
    shutil.copytree(SITE, root, ignore=shutil.ignore_patterns("__pycache__"))
    command = [sys.executable, "-m", "lambda_isr.cli", "dev", *args, "--task-root", str(root)]
    process = subprocess.Popen(
        command, env=worker_environ(tmp_path), stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    stderr = process.stderr

    def read() -> None:
        for line in stderr:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield Running(process, lines, [])
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        reader.join(5)
        stderr.close()


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


def _get(url: str, path: str) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


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
        assert _get(url, "/slow") == (200, b"chunk 0\nchunk 1\nchunk 2\n")
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
    assert done.returncode == 1
    assert "is not a directory" in done.stderr
