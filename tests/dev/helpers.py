"""Run the real dev server (real worker processes) on port 0 and talk HTTP to it."""

from __future__ import annotations

import http.client
import io
import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lambda_isr.dev.log import DevLog
from lambda_isr.dev.runner import DevConfig, DevServer

SITE = Path(__file__).with_name("site")


class LogBuffer(io.StringIO):
    """The server's log, readable while it is written."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            return super().write(text)

    def text(self) -> str:
        with self._lock:
            return self.getvalue()

    def wait_for(self, needle: str, timeout: float = 20.0, *, count: int = 1) -> str:
        """The log once ``needle`` appears ``count`` times in it."""
        deadline = time.monotonic() + timeout
        while self.text().count(needle) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never logged:\n{self.text()}")
            time.sleep(0.05)
        return self.text()


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    """Each read as it arrived: (monotonic seconds, data)."""
    complete: bool = True
    """False when the connection ended inside the body (no last chunk)."""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


@dataclass
class Dev:
    server: DevServer
    log: LogBuffer
    root: Path
    renders: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.http.server_address[:2]
        return str(host), int(port)

    def render_lines(self) -> list[str]:
        return self.renders.read_text().splitlines() if self.renders.exists() else []

    def request(
        self,
        method: str,
        target: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 60.0,
    ) -> Response:
        host, port = self.address
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request(method, target, body=body, headers=dict(headers or {}))
            response = conn.getresponse()
            chunks: list[tuple[float, bytes]] = []
            complete = True
            try:
                while data := response.read1(65536):
                    chunks.append((time.monotonic(), data))
            except http.client.IncompleteRead as cut:
                complete = False
                if cut.partial:
                    chunks.append((time.monotonic(), cut.partial))
            body = b"".join(data for _, data in chunks)
            return Response(response.status, response.getheaders(), body, chunks, complete)
        finally:
            conn.close()

    def get(self, target: str, **kwargs: object) -> Response:
        return self.request("GET", target, **kwargs)  # type: ignore[arg-type]


def worker_environ(tmp: Path) -> dict[str, str]:
    """The test process's environment without AWS store settings, with a private store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACETHEORY_", "AWS_"))}
    env["LAMBDA_ISR_DIR"] = str(tmp / "store")
    env["DEV_TEST_RENDERS"] = str(tmp / "renders.log")
    env["POWERTOOLS_METRICS_NAMESPACE"] = "lambda-isr-dev-tests"
    return env


@contextmanager
def dev_server(
    tmp_path: Path, handler: str, *, workers: int = 2, reload: bool = False, timeout: float = 30
) -> Iterator[Dev]:
    root = tmp_path / "task"
    shutil.copytree(SITE, root, ignore=shutil.ignore_patterns("__pycache__"))
    log = LogBuffer()
    config = DevConfig(
        handler=handler,
        task_root=root,
        port=0,
        workers=workers,
        reload=reload,
        timeout=timeout,
        reload_interval=0.2,
        environ=worker_environ(tmp_path),
    )
    with DevServer(config, DevLog(log)) as server:
        yield Dev(server, log, root, tmp_path / "renders.log")
