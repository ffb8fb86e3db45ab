"""One request through the ISR decision core: the action loop the driver runs.

:class:`RequestCycle` builds the key, then loops ``action = machine.send(event)`` until the
machine says the request is answered, performing each action here (see
:mod:`lambda_isr.isr.driver` for the table of actions and how each is performed).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lambda_isr.errors import InvalidEventError, InvalidKeyError, StoreError, TenantRequiredError
from lambda_isr.http.request import FaceRequest
from lambda_isr.isr.events import (
    AcquireLease,
    Action,
    AnswerPage,
    Begin,
    Event,
    Finish,
    KeyProblem,
    LeaseResult,
    Note,
    ReadRecord,
    RecordRead,
    Released,
    ReleaseLease,
    Render,
    Rendered,
    Served,
    ServeRecord,
    Sleep,
    StoreFailed,
    Woke,
)
from lambda_isr.isr.keys import build_key, cache_view
from lambda_isr.isr.machine import IsrMachine
from lambda_isr.isr.pipeline import Publisher, release, run_render
from lambda_isr.isr.policy import cache_status
from lambda_isr.isr.render import start_render
from lambda_isr.isr.reply import Reply
from lambda_isr.isr.serve import serve_record
from lambda_isr.isr.sink import DetachedSink
from lambda_isr.isr.states import CacheState
from lambda_isr.isr.trace import RequestTrace
from lambda_isr.store.contract import LeaseHeld, Store

if TYPE_CHECKING:
    from lambda_isr.isr.driver import Face, IsrDriver


_STORE_WARNINGS = {
    ReadRecord: "metadata store unavailable",
    AcquireLease: "lease acquisition failed",
}


class RequestCycle:
    def __init__(self, driver: IsrDriver, request: FaceRequest, reply: Reply, face: Face) -> None:
        self.d = driver
        self.request = request
        self.reply = reply
        self.face = face
        self.trace = reply.trace
        self.machine = IsrMachine(driver.config)
        self.key = ""
        self.tenant: str | None = None
        self.store: Store | None = None

    def run(self, remaining: float | None) -> None:
        clock = self.d.clock
        sink = self.reply.sink
        method = self.request.method
        now = clock.now()
        keyed = self._keyed(now) if method in ("GET", "HEAD") else {"key": None}
        event: Event = Begin(
            method,
            now=now,
            mono=clock.monotonic(),
            remaining=remaining,
            after_response=sink.attached and not sink.eager,
            **keyed,
        )
        while True:
            action = self.machine.send(event)
            for note in self.machine.notes:
                self.trace.count(note.value)
                if note is Note.TENANT_REJECTED:
                    self.trace.log.warning("tenant header without a tenant rule: failing closed")
                if note is Note.AFTER_RESPONSE_UNAVAILABLE and not self.d.fallback_logged:
                    self.d.fallback_logged = True
                    self.trace.log.info(
                        "regeneration=AFTER_RESPONSE needs time after the response (the layer's"
                        " streaming runtime); this runtime buffers the answer: regenerating"
                        " blocking"
                    )
            self.machine.notes.clear()
            if self.machine.detail is not None:
                self.trace.detail = self.machine.detail
            if isinstance(action, AnswerPage):
                self.reply.page(action.status, action.state, action.status_entry, action.headers)
                return
            if isinstance(action, Finish):
                return
            try:
                event = self._perform(action)
            except InvalidKeyError:
                self.trace.log.warning("the cache key cannot be stored: answering 400")
                entry = cache_status(fwd="bypass", detail="invalid-key")
                self.reply.page(400, CacheState.BYPASS, entry)
                return

    def _keyed(self, now: float) -> dict[str, Any]:
        """The key fields of the request's :class:`Begin` (built once, not copied per field)."""
        try:
            decision = build_key(self.request, self.d.config.keys)
        except TenantRequiredError:
            return {"key": None, "problem": KeyProblem.TENANT_REQUIRED}
        except InvalidEventError:
            return {"key": None, "problem": KeyProblem.BAD_REQUEST}
        self.tenant = decision.tenant
        if decision.key is None:
            return {"key": None, "bypass_reason": decision.bypass_reason}
        self.key = self.trace.cache_key = decision.key
        return {"key": decision.key, "pass_until": self.d.passes.until(decision.key, now)}

    def _now(self) -> tuple[float, float]:
        return self.d.clock.now(), self.d.clock.monotonic()

    def _perform(self, action: Action) -> Event:
        if isinstance(action, ReadRecord | AcquireLease):
            try:
                return self._store_call(action)
            except StoreError:
                self.trace.log.warning(_STORE_WARNINGS.get(type(action), "store call failed"),
                                       exc_info=True)  # fmt: skip
                last = self.d.bodies.last(self.key) if isinstance(action, ReadRecord) else None
                return StoreFailed(last if getattr(action, "last_known", False) else None)
        if isinstance(action, ServeRecord):
            ok = serve_record(
                self.reply,
                action.record,
                action.state,
                action.status_entry,
                now=self.d.clock.now(),
                html=self.store.html if self.store is not None else None,
                bodies=self.d.bodies,
                config=self.d.config,
                inm=self.request.headers.get("if-none-match"),
            )
            return Served(ok)
        if isinstance(action, Render):
            return Rendered(self._render(action).outcome)
        if isinstance(action, Sleep):
            pause = min(action.cap, action.seconds * (0.5 + self.d.jitter()))
            with self.trace.timed("wait"):
                self.d.clock.sleep(pause)
            return Woke(*self._now())
        if isinstance(action, ReleaseLease):
            assert self.store is not None
            release(self.store, action.lease, self.reply)
            return Released()
        raise AssertionError(f"unexpected action {action!r}")  # pragma: no cover

    def _store_call(self, action: ReadRecord | AcquireLease) -> Event:
        if self.store is None:
            self.store = self.d.store()
        meta = self.store.meta
        if isinstance(action, ReadRecord):
            with self.trace.timed("metadata_read"):
                record = meta.get(self.key)
            return RecordRead(record, *self._now())
        result = meta.try_acquire_lease(self.key, self.d.config.lease_seconds)
        if isinstance(result, LeaseHeld) and result.pass_until is not None:
            self.d.passes.note(self.key, result.pass_until)
        return LeaseResult(result, *self._now())

    def _render(self, action: Render) -> Any:
        if action.lease is not None:
            view = cache_view(self.request, self.d.config.keys)
        else:
            view = replace(self.request, tenant=self.tenant)
        face, eager, reply = self.face, self.reply.sink.eager, self.reply
        if action.detached:  # the answer has ended: render with no client
            eager = False
            reply = Reply(
                DetachedSink(),
                request_id=self.reply.request_id,
                head_only=False,
                trace=RequestTrace(self.d.clock, self.trace.log),
                footer=self.reply.footer,
            )
        publisher = None
        if action.lease is not None and self.store is not None:
            d = self.d
            publisher = Publisher(
                self.store, self.key, action.lease, d.clock, d.bodies, d.keeper_poll, d.passes
            )
        result = run_render(
            lambda: start_render(face, view, eager=eager),
            reply,
            state=action.state,
            status_entry=action.status_entry,
            config=self.d.config,
            publisher=publisher,
        )
        if action.detached:
            self.trace.counters.update(reply.trace.counters)
            self.trace.stored = reply.trace.stored
            with_timings = reply.trace.timings_ms
            for name in ("render_ms", "commit_ms"):
                if name in with_timings:
                    self.trace.timings_ms[f"after_response_{name}"] = with_timings[name]
        return result
