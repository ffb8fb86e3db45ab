"""Assemble ``lambda-isr dev``: the worker pool, the HTTP front, ``--reload``, the banner.

Used by the CLI and by tests (port 0, a log stream of their own)::

    with DevServer(DevConfig(handler="app.handler", task_root=root, port=0)) as dev:
        urlopen(dev.url)
"""

from __future__ import annotations

import atexit
import os
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from lambda_isr.dev.cache import soft_purge
from lambda_isr.dev.log import DevLog
from lambda_isr.dev.pool import WorkerPool
from lambda_isr.dev.reload import Reloader
from lambda_isr.dev.server import DevHttpServer
from lambda_isr.dev.workers import WRAPPER, WorkerSpec, inspect_handler
from lambda_isr.settings import ENV_STORE_NAMESPACE
from lambda_isr.store.config import (
    DEFAULT_DIR,
    ENV_BUCKET,
    ENV_DIR,
    ENV_PREFIX,
    ENV_TABLE,
    namespace_directory,
)


@dataclass(frozen=True)
class DevConfig:
    handler: str = "app.handler"
    task_root: Path = Path("handler")
    host: str = "127.0.0.1"
    port: int = 3000
    workers: int = 2
    reload: bool = False
    timeout: float = 60.0
    reload_interval: float = 0.5
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


def store_dir(environ: Mapping[str, str]) -> Path:
    """The embedded store every worker shares: ``LAMBDA_ISR_DIR``, else ``./.lambda-isr``."""
    return Path(environ.get(ENV_DIR) or DEFAULT_DIR).resolve()


def describe_store(environ: Mapping[str, str], namespace: str | None = None) -> str:
    table, bucket = environ.get(ENV_TABLE), environ.get(ENV_BUCKET)
    if table and bucket:
        prefix = environ.get(ENV_PREFIX, "isr")
        where = environ.get("AWS_ENDPOINT_URL_DYNAMODB") or environ.get("AWS_ENDPOINT_URL")
        at = f" at {where}" if where else ""
        ns = environ.get(ENV_STORE_NAMESPACE)
        if ns:
            return f"DynamoDB table {table}{at} (TENANT#{ns}) + S3 s3://{bucket}/{prefix}/{ns}/"
        return f"DynamoDB table {table}{at} + S3 s3://{bucket}/{prefix}/"
    if table or bucket:
        return f"misconfigured: set both {ENV_TABLE} and {ENV_BUCKET}, or neither"
    folder = namespace_directory(store_dir(environ), namespace)
    mine = "this app's namespace; " if namespace else ""
    return f"embedded SQLite + files in {folder} ({mine}shared by all workers)"


class DevServer:
    """The running dev server. ``start``/``stop`` (or ``with``); ``serve_forever`` blocks."""

    def __init__(self, config: DevConfig, log: DevLog | None = None) -> None:
        self.config = config
        self.log = log or DevLog()
        task_root = config.task_root.resolve()
        if not task_root.is_dir():
            raise FileNotFoundError(f"task root {task_root} is not a directory")
        if not WRAPPER.is_file():
            raise FileNotFoundError(f"the layer's exec wrapper is missing: {WRAPPER}")
        self.spec = WorkerSpec(
            handler=config.handler,
            task_root=task_root,
            store_dir=store_dir(config.environ),
            base_env=config.environ,
            timeout=config.timeout,
        )
        # With --reload, a worker that cannot start waits for a code change (no restart loop).
        self.pool = WorkerPool(self.spec, config.workers, self.log, hold_failed=config.reload)
        self.http = DevHttpServer((config.host, config.port), self.pool, self.log)
        self.reloader = (
            Reloader(task_root, self._reload, interval=config.reload_interval)
            if config.reload
            else None
        )
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.namespace: str | None = None
        """The embedded store namespace of the app (learnt by importing it once)."""
        self._namespace_known = False

    @property
    def url(self) -> str:
        return self.http.url

    def banner(self) -> str:
        c, s = self.config, self.spec
        lines = [
            f"lambda-isr dev: {s.handler} from {s.task_root}",
            f"  url      {self.url}",
            f"  store    {describe_store(c.environ, self.namespace)}",
            f"  workers  {c.workers} x {s.wrapper.name} {s.python} -m lambda_isr.runtime",
            f"  timeout  {c.timeout:g}s per invocation",
        ]
        if self.reloader is not None:
            lines.append(f"  reload   watching {s.task_root}")
        lines.append("Ctrl-C to stop")
        return "\n".join(lines)

    def check_handler(self) -> tuple[str, str] | None:
        """Import the handler in a throwaway process: None, or ``(errorType, errorMessage)``.
        When it imports, this also learns the app's store namespace (:attr:`namespace`)."""
        check = inspect_handler(self.spec, timeout=max(self.config.timeout, 30.0))
        if check.problem is None:
            self.namespace, self._namespace_known = check.namespace, True
        return check.problem

    def start(self) -> Self:
        self.spec.store_dir.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)
        self.pool.start()
        if self.reloader is not None:
            self.reloader.start()
        return self

    def serve_in_thread(self) -> Self:
        self._thread = threading.Thread(
            target=self.http.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.http.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:
            self.http.shutdown()
            self._thread.join(5)
        self.http.server_close()
        if self.reloader is not None:
            self.reloader.stop()
        self.pool.stop()
        atexit.unregister(self.stop)

    def __enter__(self) -> Self:
        self.start()
        try:
            return self.serve_in_thread()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _reload(self, changed: list[Path]) -> None:
        root = self.spec.task_root
        names = ", ".join(str(p.relative_to(root)) for p in changed[:5])
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        if not self._namespace_known:
            self.check_handler()  # it could not be imported so far: learn where its pages go
        purged: list[str] = []
        self.pool.restart(before=lambda: purged.append(self._purge()))
        self.log.line(f"reload: {names}{more} changed; {purged[0]}restarting the workers")

    def _purge(self) -> str:
        """Soft-purge the app's cached pages (the old code rendered them); what was done."""
        env = self.config.environ
        if env.get(ENV_TABLE) or env.get(ENV_BUCKET):
            return "cached pages on the AWS store stay until they are stale; "
        if not self._namespace_known:
            return ""
        directory = namespace_directory(self.spec.store_dir, self.namespace)
        try:
            count = soft_purge(directory)
        except sqlite3.Error as exc:
            return f"could not mark the cached pages stale ({exc}); "
        return f"{count} cached page{'' if count == 1 else 's'} marked stale; " if count else ""
