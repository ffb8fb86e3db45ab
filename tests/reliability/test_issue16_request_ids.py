"""Issue 16, item 4: a request id is matched in full. One ending in a newline (``$`` matches
before a final newline) used to reach the ``x-request-id`` header and raise out of the handler
after the render and the lease; now a malformed id is ignored and a well-formed one is used."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics

from lambda_isr import FaceRequest, isr_face
from lambda_isr.face import IsrFace
from lambda_isr.http.request import event_request_id, parse_event, response_request_id
from lambda_isr.runtime.recording import Prelude, StreamEnd
from lambda_isr.store.contract import Store
from lambda_isr.store.memory import MemoryHtmlStore, MemoryMetaStore
from tests.support.events import make_event
from tests.support.fake_runtime_api import FakeRuntimeApi, fake_api, run_in_process

GOOD = "11111111-0000-4000-8000-000000000001"
BAD = ["abc\n", f"{GOOD}\n", "a\r\nx-injected: 1", "a b", "é", "x" * 129, ""]


class Context:
    aws_request_id = "lambda-req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _face() -> tuple[IsrFace, list[str]]:
    renders: list[str] = []

    def page(request: FaceRequest) -> str:
        renders.append(request.path)
        return "<p>page</p>"

    face = isr_face(
        revalidate=60,
        store=Store(MemoryMetaStore(), MemoryHtmlStore()),
        logger=Logger(service="issue16-ids", stream=io.StringIO()),
        metrics=Metrics(namespace="Issue16", service="issue16-ids"),
    )(page)
    return face, renders


@pytest.fixture
def api() -> Iterator[FakeRuntimeApi]:
    with fake_api() as running:
        yield running


@pytest.mark.parametrize("bad", BAD)
def test_malformed_ids_are_never_chosen(bad: str) -> None:
    assert response_request_id(bad, GOOD, None) == GOOD
    assert response_request_id(None, bad, Context()) == "lambda-req-1"
    fresh = response_request_id(bad, bad, None)
    assert fresh not in (bad, "unknown")
    uuid.UUID(fresh)  # a fresh, well-formed id
    event = make_event(request_id=bad)
    assert event_request_id(event) == ""
    assert parse_event(event).request_id == ""


def test_inbound_header_ending_in_newline_falls_back_to_the_function_url_id() -> None:
    face, renders = _face()
    result = face(make_event("/a", headers={"x-request-id": "client-id\n"}), Context())
    assert result["statusCode"] == 200
    assert result["headers"]["x-request-id"] == GOOD
    assert result["headers"]["x-isr-cache"] == "miss"
    assert renders == ["/a"]
    again = face(make_event("/a", headers={"x-request-id": "client-id\n"}), Context())
    assert (again["statusCode"], again["headers"]["x-isr-cache"]) == (200, "hit")


def test_function_url_id_ending_in_newline_falls_back_to_the_lambda_id() -> None:
    face, renders = _face()
    result = face(make_event("/b", request_id=f"{GOOD}\n"), Context())
    assert result["statusCode"] == 200
    assert result["headers"]["x-request-id"] == "lambda-req-1"
    assert renders == ["/b"]


def test_no_well_formed_id_gets_a_fresh_one() -> None:
    face, _ = _face()
    event = make_event("/c", headers={"x-request-id": "x\n"}, request_id="y\n")
    result = face(event, None)
    assert result["statusCode"] == 200
    uuid.UUID(result["headers"]["x-request-id"])


def test_malformed_ids_through_the_runtime_loop_stream_a_normal_page(api: FakeRuntimeApi) -> None:
    """Under the layer's loop the face streams; the old failure was a 502 after the render."""
    face, renders = _face()
    events: list[Any] = [
        make_event("/d", headers={"x-request-id": "x\n"}, request_id="y\n"),
        make_event("/d", headers={"x-request-id": "x\n"}, request_id="y\n"),
    ]
    first, second = run_in_process(api, face, events)
    for pending, state in ((first, "miss"), (second, "hit")):
        prelude = pending.prelude
        assert isinstance(prelude, Prelude)
        assert prelude.status == 200
        assert prelude.headers["x-isr-cache"] == state
        assert prelude.headers["x-request-id"] == pending.request_id  # the Lambda request id
        assert isinstance(pending.final, StreamEnd)
        assert pending.final.error_type is None
        assert pending.body == b"<p>page</p>"
    assert renders == ["/d"]
