"""What ``lambda-isr dev --reload`` does to the app's cached pages when the code changes.

A soft purge of the app's namespace of the embedded store: every record is marked invalidated
(``invalidated_at`` moves to now, never back: the rule of :func:`lambda_isr.store.rules.purged_at`),
so the next request for each page regenerates it with the new code, and a render the old code
started is fenced off at commit. The records, bodies and the namespace's folder stay: nothing a
build wrote is orphaned, and a stale copy can still be served while a page regenerates.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

__all__ = ["soft_purge"]

META_FILE = "meta.sqlite3"


def soft_purge(directory: Path, *, now: float | None = None, busy_timeout: float = 5.0) -> int:
    """Mark every record of the namespace in ``directory`` invalidated; how many changed.

    A namespace with no store yet (no request was cached) has nothing to purge.
    """
    database = directory / META_FILE
    if not database.is_file():
        return 0
    moment = time.time() if now is None else now
    with closing(sqlite3.connect(database, timeout=busy_timeout, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = conn.execute(
                "UPDATE meta SET invalidated_at = ? "
                "WHERE invalidated_at IS NULL OR invalidated_at < ?",
                (moment, moment),
            )
        except sqlite3.OperationalError:  # no table yet: a store that never held a page
            conn.execute("ROLLBACK")
            return 0
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return max(cursor.rowcount, 0)
