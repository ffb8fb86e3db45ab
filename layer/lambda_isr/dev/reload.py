"""``--reload``: poll the modification times of code and template files under the task root and
call back with what changed (the runner then restarts the workers)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

WATCHED_SUFFIXES = frozenset(
    {".py", ".html", ".htm", ".jinja", ".jinja2", ".j2", ".txt", ".json", ".css", ".js", ".svg"}
)
SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", ".lambda-isr", ".venv", "venv"})

Snapshot = dict[Path, tuple[int, int]]
"""path -> (mtime in ns, size)"""


def _files(root: Path) -> Iterator[Path]:
    for directory, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".")]
        for name in names:
            if os.path.splitext(name)[1] in WATCHED_SUFFIXES:
                yield Path(directory, name)


def snapshot(root: Path) -> Snapshot:
    out: Snapshot = {}
    for path in _files(root):
        try:
            stat = path.stat()
        except FileNotFoundError:  # removed while walking
            continue
        out[path] = (stat.st_mtime_ns, stat.st_size)
    return out


def changes(before: Snapshot, after: Snapshot) -> list[Path]:
    """Files added, removed or modified between two snapshots, sorted."""
    keys = before.keys() | after.keys()
    return sorted(p for p in keys if before.get(p) != after.get(p))


class Reloader:
    """A daemon thread calling ``on_change(paths)`` after files under ``root`` change."""

    def __init__(
        self, root: Path, on_change: Callable[[list[Path]], None], *, interval: float = 0.5
    ) -> None:
        self.root = root
        self.on_change = on_change
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dev-reload", daemon=True)
        self._ready = threading.Event()

    def start(self) -> Reloader:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        before = snapshot(self.root)
        self._ready.set()
        while not self._stop.wait(self.interval):
            after = snapshot(self.root)
            changed = changes(before, after)
            before = after
            if changed:
                self.on_change(changed)
