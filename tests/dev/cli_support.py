"""Run the ``lambda-isr`` console script as a user does: a subprocess, stderr read by line."""

from __future__ import annotations

import http.client
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.dev.helpers import SITE, worker_environ

REPO = Path(__file__).resolve().parents[2]
CLI = (sys.executable, "-m", "lambda_isr.cli")


@dataclass
class Running:
    process: subprocess.Popen[str]
    lines: queue.Queue[str]
    seen: list[str]

    def until(self, pattern: str, timeout: float = 60.0, *, count: int = 1) -> re.Match[str]:
        """The ``count``-th line matching ``pattern``, reading more output as needed."""
        deadline = time.monotonic() + timeout
        matches = [m for line in self.seen if (m := re.search(pattern, line))]
        while len(matches) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} x{count} not in the output:\n" + self.text())
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if match := re.search(pattern, line):
                matches.append(match)
        return matches[count - 1]

    def text(self) -> str:
        return "".join(self.seen)


def copy_site(tmp_path: Path) -> Path:
    """A private copy of the test site (``tests/dev/site``) to serve."""
    root = tmp_path / "task"
    if not root.exists():
        shutil.copytree(SITE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@contextmanager
def lambda_isr_dev(
    tmp_path: Path, *args: str, edit: Callable[[Path], None] | None = None
) -> Iterator[Running]:
    """``lambda-isr dev ARGS --task-root <copy of the site>``; ``edit`` changes the copy first."""
    root = copy_site(tmp_path)
    if edit is not None:
        edit(root)
    command = [*CLI, "dev", *args, "--task-root", str(root)]
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


def run_cli(
    tmp_path: Path, *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``lambda-isr ARGS`` to completion (the store in ``tmp_path``)."""
    environ = {**worker_environ(tmp_path), **(env or {})}
    return subprocess.run(
        [*CLI, *args],
        capture_output=True, text=True, timeout=120, check=False, cwd=cwd or tmp_path,
        env=environ,
    )  # fmt: skip


def get(url: str, path: str) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()
