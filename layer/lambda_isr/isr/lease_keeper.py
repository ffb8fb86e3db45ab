"""Keeps a regeneration lease alive while a render runs: refreshed every ``every`` seconds.

A daemon thread wakes every ``poll`` real seconds, compares the injected clock with the last
refresh and, once ``every`` seconds have passed (one second by default: ``lease_refresh_seconds``
of the config, a quarter of the lease when shorter), extends the lease to ``duration`` from now.
So a holder that dies blocks its key for at most the lease (4 s by default), and the moving
expiry tells waiters the holder is alive (:mod:`lambda_isr.isr.wait`). The cost: one
conditional write (an ``UpdateItem`` on DynamoDB) per second per render in progress.
Waking is real time (so a fake clock only needs advancing); the decision uses the injected clock.
"""

from __future__ import annotations

import threading

from lambda_isr.clock import Clock
from lambda_isr.errors import LeaseNotOwnedError, StoreError
from lambda_isr.isr.trace import LogLike
from lambda_isr.store.contract import Lease, MetaStore


class LeaseKeeper:
    def __init__(
        self,
        meta: MetaStore,
        lease: Lease,
        duration: float,
        clock: Clock,
        log: LogLike,
        *,
        poll: float = 0.25,
        every: float | None = None,
    ) -> None:
        self._meta = meta
        self._lease = lease
        self._duration = duration
        self._clock = clock
        self._log = log
        self._poll = poll
        self._every = every if every is not None else min(1.0, duration / 4)
        self._last = clock.now()
        self._stop = threading.Event()
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self.refreshes = 0
        self.lost = False

    @property
    def lease(self) -> Lease:
        with self._guard:
            return self._lease

    def start(self) -> LeaseKeeper:
        self._thread = threading.Thread(target=self._run, name="lambda-isr-lease", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            self.tick()
            if self.lost:
                return

    def tick(self) -> None:
        """Refresh the lease if ``every`` seconds have passed since the last refresh."""
        if self._clock.now() - self._last < self._every:
            return
        try:
            with self._guard:
                self._lease = self._meta.refresh_lease(self._lease, self._duration)
                self._last = self._clock.now()
            self.refreshes += 1
        except LeaseNotOwnedError:
            self.lost = True
            self._log.warning("regeneration lease lost during the render")
        except StoreError:
            self._log.warning("lease refresh failed; will retry", exc_info=True)

    def stop(self) -> Lease:
        """Stop refreshing; returns the latest lease (for commit or release)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.lease
