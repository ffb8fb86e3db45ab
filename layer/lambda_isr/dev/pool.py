"""A fixed pool of dev workers, one invocation at a time each, kept alive by a supervisor.

The supervisor thread is the only one that spawns processes (see :mod:`.workers` on
``PR_SET_PDEATHSIG``). It replaces:

- a worker that died during an invocation (a crash): at once, and requests wait for it;
- a worker that failed at startup (init error, import crash): after a backoff, and meanwhile
  requests are handed that dead worker so they get its init error, as Lambda retries init on
  the next invoke. With ``hold_failed`` (``--reload``) it is not retried until the code changes
  (:meth:`WorkerPool.restart`): requests keep getting its init error, nothing restart-loops;
- a worker from an older generation (``--reload``): once it is idle.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from lambda_isr.dev.log import DevLog
from lambda_isr.dev.workers import Worker, WorkerSpec

_BACKOFF_FIRST = 0.5
_BACKOFF_MAX = 10.0


@dataclass
class Slot:
    """A place for one worker (mutable; guarded by the pool's condition)."""

    index: int
    worker: Worker | None = None
    busy: bool = False
    replacing: bool = False
    released_at: float = 0.0
    startup_failures: int = 0
    retry_at: float = 0.0


@dataclass(frozen=True, slots=True)
class WorkerLease:
    """A worker handed to one request; give it back with :meth:`WorkerPool.release`."""

    slot: Slot
    worker: Worker


class WorkerPool:
    def __init__(
        self,
        spec: WorkerSpec,
        size: int,
        log: DevLog,
        *,
        poll: float = 0.05,
        hold_failed: bool = False,
    ) -> None:
        if size < 1:
            raise ValueError("the pool needs at least one worker")
        self.spec = spec
        self.log = log
        self.poll = poll
        self.hold_failed = hold_failed
        self.generation = 0
        self.slots = [Slot(i + 1) for i in range(size)]
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._last_init_error: tuple[str, str] | None = None
        self._thread = threading.Thread(target=self._supervise, name="dev-pool", daemon=True)

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> WorkerPool:
        self._thread.start()
        self._started.wait(30)
        return self

    def stop(self) -> None:
        """Stop the supervisor, then every worker. Idempotent; safe from ``atexit``."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(10)
        for slot in self.slots:
            if slot.worker is not None:
                slot.worker.stop(grace=0.5)

    def restart(self, before: Callable[[], None] | None = None) -> None:
        """Replace every worker (each once it is idle): used by ``--reload``.

        ``before`` runs once the old workers can no longer be handed a request and before any
        new one is spawned (the dev server soft-purges the app's cached pages there, so no
        request can see a page rendered by the old code as fresh).
        """
        with self._cond:
            self.generation += 1
            self._last_init_error = None  # the new code's error is worth logging again
            try:
                if before is not None:
                    before()
            finally:
                self._cond.notify_all()

    def pids(self) -> list[int]:
        with self._cond:
            return [s.worker.pid for s in self.slots if s.worker is not None]

    # --- requests ------------------------------------------------------------------------------

    def acquire(self, timeout: float) -> WorkerLease | None:
        """An idle worker (least recently used first), or None after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._stopping.is_set():
                lease = self._pick()
                if lease is not None:
                    lease.slot.busy = True
                    if lease.worker.exit_code() is None:
                        lease.worker.invoked = True
                    elif not self.hold_failed:
                        lease.slot.retry_at = 0.0  # Lambda retries init on the next invoke
                    return lease
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(min(remaining, 0.25))
        return None

    def release(self, lease: WorkerLease) -> None:
        with self._cond:
            slot = lease.slot
            slot.busy = False
            slot.released_at = time.monotonic()
            if lease.worker.exit_code() is None:
                lease.worker.served += 1
                slot.startup_failures = 0
            self._cond.notify_all()

    def _pick(self) -> WorkerLease | None:
        live: list[tuple[Slot, Worker]] = []
        failed: list[tuple[Slot, Worker]] = []
        for slot in self.slots:
            worker = slot.worker
            if slot.busy or slot.replacing or worker is None:
                continue
            if worker.generation < self.generation:
                continue  # code changed: its replacement is on the way
            if worker.exit_code() is None:
                live.append((slot, worker))
            elif _failed_at_startup(worker):
                # It failed at startup and its replacement is in backoff: hand it out so the
                # request reports why. A worker that crashed in an invocation is being replaced.
                failed.append((slot, worker))
        group = live or failed
        if not group:
            return None
        slot, worker = min(group, key=lambda pair: pair[0].released_at)
        return WorkerLease(slot, worker)

    # --- the supervisor ------------------------------------------------------------------------

    def _due(self, slot: Slot, now: float) -> bool:
        worker = slot.worker
        if slot.busy or slot.replacing:
            return False
        if worker is None:
            return now >= slot.retry_at
        if worker.generation < self.generation:
            return True
        if worker.exit_code() is None:
            return False
        if not worker.exit_reported:
            worker.exit_reported = True
            self._report_exit(slot, worker)
        if not _failed_at_startup(worker):
            return True  # crashed in an invocation: replace it at once
        return not self.hold_failed and now >= slot.retry_at

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            now = time.monotonic()
            with self._cond:
                due = [s for s in self.slots if self._due(s, now)]
                for slot in due:
                    slot.replacing = True
                generation = self.generation
            for slot in due:
                if self._stopping.is_set():
                    break
                self._replace(slot, generation)
            self._started.set()
            with self._cond:
                if not self._stopping.is_set():
                    self._cond.wait(self.poll)
        self._started.set()

    def _replace(self, slot: Slot, generation: int) -> None:
        old = slot.worker
        if old is not None:
            old.stop(grace=0.5)
        try:
            worker: Worker | None = Worker(self.spec, slot.index, generation, self.log)
        except OSError as exc:
            self.log.line(f"worker {slot.index} could not start: {exc}")
            slot.retry_at = time.monotonic() + _BACKOFF_MAX
            worker = None
        with self._cond:
            slot.worker = worker
            slot.replacing = False
            self._cond.notify_all()
        if worker is not None:
            self.log.line(f"worker {slot.index} started (pid {worker.pid})")

    def _report_exit(self, slot: Slot, old: Worker) -> None:
        if not _failed_at_startup(old):
            self.log.line(f"worker {slot.index} (pid {old.pid}) died: {old.describe_exit()}")
            return
        slot.startup_failures += 1
        delay = min(_BACKOFF_FIRST * 2 ** (slot.startup_failures - 1), _BACKOFF_MAX)
        slot.retry_at = time.monotonic() + delay
        error = old.init_error()
        if error != self._last_init_error:
            self._last_init_error = error
            detail = f"{error[0]}: {error[1]}" if error else old.describe_exit()
            wait = "; waiting for a code change (--reload)" if self.hold_failed else ""
            self.log.line(f"worker {slot.index} failed to start: {detail}{wait}")


def _failed_at_startup(worker: Worker) -> bool:
    """It exited before any invocation reached it, or it posted an init error."""
    return not worker.invoked or worker.init_error() is not None
