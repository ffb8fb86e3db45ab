"""Every event fixture through the real streaming runtime loop (fake Runtime API parsing the
chunked bytes) and through the buffered handler: the same status, cache state, headers and
body either way."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from lambda_isr.runtime.recording import InvocationErrorEvent, StreamEnd
from tests.isr.helpers import FakeContext, make_env
from tests.support.events import event_names, load_event
from tests.support.fake_runtime_api import FakeRuntimeApi, run_in_process

COMPARED = ("content-type", "cache-control", "x-isr-cache", "cache-status", "x-request-id")


@pytest.fixture
def api() -> Iterator[FakeRuntimeApi]:
    with FakeRuntimeApi() as fake:
        yield fake


@pytest.mark.parametrize("name", event_names())
def test_event_streams_the_same_answer_it_gives_buffered(name: str, api: FakeRuntimeApi) -> None:
    buffered = make_env().face(load_event(name), FakeContext())
    (streamed,) = run_in_process(api, make_env().face, [load_event(name)])
    assert not isinstance(streamed.final, InvocationErrorEvent), streamed.final
    assert isinstance(streamed.final, StreamEnd)
    assert streamed.final.error_type is None
    assert streamed.prelude is not None
    assert streamed.prelude.status == buffered["statusCode"]
    for header in COMPARED:
        assert streamed.prelude.headers.get(header) == buffered["headers"].get(header), header
    assert streamed.prelude.cookies == buffered["cookies"]
    body = buffered["body"]
    expected = base64.b64decode(body) if buffered["isBase64Encoded"] else body.encode()
    assert streamed.body == expected
