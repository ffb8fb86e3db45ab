"""Hit-for-pass markers this process has seen, per cache key (bounded, thread-safe).

The store holds the marker (``pass_until`` on the ``LOCK`` item); remembering it here spares the
requests of a warm sandbox the conditional write that would only learn it again. The core gets
it as ``Begin.pass_until`` and decides (:mod:`lambda_isr.isr.machine`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict


class PassMemo:
    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._until: OrderedDict[str, float] = OrderedDict()

    def note(self, cache_key: str, until: float) -> None:
        """A marker on ``cache_key`` holds until ``until`` (epoch seconds)."""
        with self._lock:
            self._until[cache_key] = until
            self._until.move_to_end(cache_key)
            while len(self._until) > self.max_entries:
                self._until.popitem(last=False)

    def until(self, cache_key: str, now: float) -> float | None:
        """The live marker's end, or ``None`` (an expired one is forgotten)."""
        with self._lock:
            until = self._until.get(cache_key)
            if until is not None and until <= now:
                del self._until[cache_key]
                return None
            return until

    def __len__(self) -> int:
        with self._lock:
            return len(self._until)
