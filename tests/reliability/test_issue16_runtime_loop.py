"""Issue 16, items 5 and 13: the runtime loop survives what the Runtime API and the events
throw at it, against the fake Runtime API (which parses the real HTTP/1.1 bytes).

- an event that cannot be decoded (JSON nested 100,000 deep raises ``RecursionError``, not a
  ``ValueError``) gets an error answer, and the loop takes the next invocation;
- a failed ``/next`` (a 500, garbage bytes, a reset, a 70 KB head) is retried with backoff a
  bounded number of times, then the process exits with one clear log line;
- a request id holding ``/``, a space or non-ASCII is percent-encoded in the target, so the
  invocation is answered instead of dropped.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from aws_lambda_powertools import Logger, Metrics

from lambda_isr import FaceRequest, isr_face
from lambda_isr.errors import RuntimeApiError
from lambda_isr.runtime import loop
from lambda_isr.runtime.recording import (
    BufferedResult,
    InvocationErrorEvent,
    PendingInvocation,
    Prelude,
    StreamEnd,
)
from lambda_isr.runtime.stream import Head, streaming
from lambda_isr.store.contract import Store
from lambda_isr.store.memory import MemoryHtmlStore, MemoryMetaStore
from tests.runtime.test_process import runtime_process
from tests.support.events import make_event
from tests.support.fake_runtime_api import FakeRuntimeApi, NextFault, fake_api, make_runtime

pytestmark = pytest.mark.timeout(120)

DEEP = b"[" * 100_000 + b"]" * 100_000
FAULTS = {
    "500": NextFault.status(500),
    "garbage": NextFault.garbage(),
    "reset": NextFault.connection_reset(),
    "70KB-head": NextFault.huge_head(),
}


@pytest.fixture
def api() -> Iterator[FakeRuntimeApi]:
    with fake_api() as running:
        yield running


def plain(event: Any, context: Any) -> Any:
    if isinstance(event, dict) and event.get("fail"):
        raise ValueError("handler failed")
    return {"echo": event}


@streaming
def streamed(event: Any, context: Any) -> Iterator[str | Head]:
    yield Head(200, {"content-type": "text/plain"})
    yield f"echo {event!r}"


def _serve(
    api: FakeRuntimeApi,
    handler: Callable[..., Any],
    count: int,
    sleep: Callable[[float], None] | None = None,
) -> BaseException | None:
    """Run the loop for ``count`` invocations in a thread; what it raised, if anything."""
    runtime = make_runtime(api, handler, sleep=sleep)
    raised: list[BaseException] = []

    def target() -> None:
        try:
            runtime.serve(count)
        except BaseException as exc:  # surfaced to the test
            raised.append(exc)
        finally:
            runtime.client.close()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the runtime loop did not finish"
    return raised[0] if raised else None


def _answered(*pendings: PendingInvocation) -> None:
    for pending in pendings:
        pending.wait(20)


# --- item 5: undecodable events ------------------------------------------------------------


def test_deeply_nested_event_is_an_unmarshal_error_and_the_loop_goes_on(
    api: FakeRuntimeApi,
) -> None:
    deep, after = api.enqueue(DEEP), api.enqueue({"n": 1})
    assert _serve(api, plain, 2) is None
    _answered(deep, after)
    assert isinstance(deep.final, InvocationErrorEvent)
    assert deep.final.error_type == "Runtime.UnmarshalError"
    assert deep.final.payload["errorType"] == "Runtime.UnmarshalError"
    assert isinstance(after.final, BufferedResult)
    assert after.final.json() == {"echo": {"n": 1}}


def test_deeply_nested_event_to_a_streaming_handler_is_a_400(api: FakeRuntimeApi) -> None:
    deep, after = api.enqueue(DEEP), api.enqueue({"n": 2})
    assert _serve(api, streamed, 2) is None
    _answered(deep, after)
    assert isinstance(deep.prelude, Prelude)
    assert deep.prelude.status == 400
    assert isinstance(deep.final, StreamEnd)
    assert after.body == b"echo {'n': 2}"


def test_deeply_nested_event_to_an_isr_face_is_a_400(api: FakeRuntimeApi) -> None:
    def page(request: FaceRequest) -> str:
        return "<p>page</p>"

    face = isr_face(
        revalidate=60,
        store=Store(MemoryMetaStore(), MemoryHtmlStore()),
        logger=Logger(service="issue16-loop", stream=io.StringIO()),
        metrics=Metrics(namespace="Issue16", service="issue16-loop"),
    )(page)
    deep, after = api.enqueue(DEEP), api.enqueue(make_event("/p"))
    assert _serve(api, face, 2) is None
    _answered(deep, after)
    assert isinstance(deep.prelude, Prelude)
    assert deep.prelude.status == 400
    assert isinstance(after.prelude, Prelude)
    assert after.prelude.status == 200
    assert after.body == b"<p>page</p>"


def test_deeply_nested_client_context_is_an_error_and_the_loop_goes_on(
    api: FakeRuntimeApi,
) -> None:
    nested = "[" * 20_000 + "]" * 20_000
    bad = api.enqueue({"n": 3}, headers={"Lambda-Runtime-Client-Context": nested})
    after = api.enqueue({"n": 4})
    assert _serve(api, streamed, 2) is None
    _answered(bad, after)
    assert isinstance(bad.final, InvocationErrorEvent)
    assert bad.final.error_type == "Runtime.LambdaContextUnmarshalError"
    assert after.body == b"echo {'n': 4}"


# --- item 13: /next failures ---------------------------------------------------------------


@pytest.mark.parametrize("fault", list(FAULTS.values()), ids=list(FAULTS))
def test_a_failed_next_is_retried(api: FakeRuntimeApi, fault: NextFault) -> None:
    api.fail_next(fault)
    pending = api.enqueue({"n": 5})
    assert _serve(api, plain, 1) is None
    _answered(pending)
    assert isinstance(pending.final, BufferedResult)
    assert pending.final.json() == {"echo": {"n": 5}}
    assert api.faults_served >= 1


def test_failures_short_of_the_limit_are_survived(api: FakeRuntimeApi) -> None:
    api.fail_next(*(NextFault.status(500) for _ in range(loop.NEXT_ATTEMPTS - 1)))
    first, second = api.enqueue({"n": 6}), api.enqueue({"n": 7})
    delays: list[float] = []
    assert _serve(api, plain, 2, sleep=delays.append) is None
    _answered(first, second)
    assert [type(p.final) for p in (first, second)] == [BufferedResult, BufferedResult]
    assert len(delays) == loop.NEXT_ATTEMPTS - 1
    assert delays == sorted(delays)  # backoff never shrinks
    assert all(0 < d <= 1.0 for d in delays)


def test_the_loop_gives_up_after_bounded_attempts_with_a_clear_line(
    api: FakeRuntimeApi, caplog: pytest.LogCaptureFixture
) -> None:
    api.fail_next(*(NextFault.status(500) for _ in range(loop.NEXT_ATTEMPTS + 3)))
    delays: list[float] = []
    with caplog.at_level(logging.WARNING, logger="lambda_isr.runtime"):
        raised = _serve(api, plain, 1, sleep=delays.append)
    assert isinstance(raised, RuntimeApiError)
    assert api.faults_served == loop.NEXT_ATTEMPTS  # no more attempts than the bound
    assert len(delays) == loop.NEXT_ATTEMPTS - 1
    [critical] = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    message = critical.getMessage()
    assert "giving up" in message
    assert f"failed {loop.NEXT_ATTEMPTS} times" in message
    assert "500" in message


def test_the_process_exits_with_its_own_status_when_next_keeps_failing(
    api: FakeRuntimeApi, tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text("def plain(event, context):\n    return event\n")
    api.fail_next(*(NextFault.garbage() for _ in range(loop.NEXT_ATTEMPTS * 3)))
    with runtime_process(api, tmp_path, "app.plain") as process:
        assert process.wait(60) == loop.EXIT_RUNTIME_API_ERROR
    output = (tmp_path / "stdout.log").read_text()
    assert "giving up: GET /runtime/invocation/next failed" in output
    assert "Traceback" not in output


# --- item 13: request ids that are not UUIDs -----------------------------------------------

IDS = ["a/b", "a b", "é-ü", "../../init/error", "a?b#c", "100%25", "a\tb", "x:y@z+1=2&$"]


@pytest.mark.parametrize("request_id", IDS)
@pytest.mark.parametrize("handler", [plain, streamed], ids=["buffered", "streamed"])
def test_every_addressable_invocation_is_answered(
    api: FakeRuntimeApi, request_id: str, handler: Callable[..., Any]
) -> None:
    odd = api.enqueue({"n": 8}, request_id=request_id)
    failing = api.enqueue({"fail": True}, request_id=f"{request_id}-error")
    after = api.enqueue({"n": 9})
    assert _serve(api, handler, 3) is None
    _answered(odd, failing, after)
    for pending in (odd, failing):
        request = api.request_for(pending)
        segments = request.target.split("/")
        assert len(segments) == 6, request.target  # the id stayed one path segment
        assert request.target.isascii()
        assert " " not in request.target
        assert unquote(segments[4], encoding="latin-1") == pending.request_id
    assert isinstance(odd.final, BufferedResult if handler is plain else StreamEnd)
    if handler is plain:
        assert isinstance(failing.final, InvocationErrorEvent)
        assert failing.final.payload["requestId"] == failing.request_id
    assert not api.init_errors
    assert api.invocations[after.request_id].done
