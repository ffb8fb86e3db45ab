"""The thin driver around the ISR decision core: performs its actions, feeds back events.

:class:`IsrDriver` holds what lives longer than a request (configuration, the lazily created
store, the in-process body cache, the clock). :meth:`IsrDriver.serve` answers one request: it
builds the key, then loops ``action = machine.send(event)`` until the machine says the request
is answered, doing each action's I/O here and nowhere in the machine:

============== ===================================================================
action         performed as
============== ===================================================================
ReadRecord     ``store.meta.get(key)``; a failure -> ``StoreFailed``
AcquireLease   ``store.meta.try_acquire_lease(key, lease_seconds)``
ServeRecord    :func:`~lambda_isr.isr.serve.serve_record` on the reply
Render         :func:`~lambda_isr.isr.pipeline.run_render` (captured + published under a lease)
Sleep          ``clock.sleep`` with jitter (0.5x-1.5x), capped
ReleaseLease   ``store.meta.release_lease`` (best effort)
AnswerPage     :meth:`~lambda_isr.isr.reply.Reply.page` (terminal)
============== ===================================================================
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambda_isr.clock import Clock
from lambda_isr.isr.bodycache import BodyCache
from lambda_isr.isr.config import IsrConfig
from lambda_isr.isr.passes import PassMemo
from lambda_isr.store.contract import Store

if TYPE_CHECKING:
    from lambda_isr.http.request import FaceRequest
    from lambda_isr.isr.reply import Reply

Face = Callable[["FaceRequest"], Any]


class IsrDriver:
    """Shared per-face state; :meth:`serve` runs one request's action loop
    (:mod:`lambda_isr.isr.cycle`, imported at the first request: building a face stays cheap)."""

    def __init__(
        self,
        config: IsrConfig,
        store: Callable[[], Store],
        *,
        clock: Clock,
        bodies: BodyCache | None = None,
        keeper_poll: float = 0.25,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.bodies = bodies if bodies is not None else BodyCache()
        self.keeper_poll = keeper_poll
        self.jitter = jitter
        self.passes = PassMemo()
        self.fallback_logged = False
        """``regeneration=AFTER_RESPONSE`` fell back to blocking: said once in the log."""

    def serve(
        self, request: FaceRequest, reply: Reply, face: Face, remaining: float | None = None
    ) -> None:
        """Answer ``request`` on ``reply``, rendering with ``face`` when needed."""
        from lambda_isr.isr.cycle import RequestCycle  # noqa: PLC0415 - first request only

        RequestCycle(self, request, reply, face).run(remaining)
