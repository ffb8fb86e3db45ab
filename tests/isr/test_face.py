"""The decorator: both handler contracts, every event fixture, options, face return shapes."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from lambda_isr import FaceRequest, FaceResult, isr_face
from lambda_isr.errors import ConfigError
from lambda_isr.face import ContentionPolicy
from lambda_isr.store.contract import Store
from lambda_isr.store.memory import MemoryHtmlStore, MemoryMetaStore
from tests.isr.helpers import FakeContext, RecordingWriter, make_env, stream
from tests.support.events import event_names, load_event

EXPECTED = {
    "authorization": (200, "bypass"),
    "cookies": (200, "bypass"),
    "get": (200, "miss"),
    "get-post": (200, "miss"),
    "get-if-none-match": (200, "miss"),
    "head": (200, "bypass"),
    "malformed": (400, "bypass"),
    "other-host": (200, "miss"),
    "path-dot-segments": (200, "miss"),
    "post-bad-base64": (400, "bypass"),
    "post-body": (200, "bypass"),
    "query-tracking": (200, "miss"),
    "request-id": (200, "miss"),
    "tenant-header": (500, "bypass"),
}


def test_every_event_has_an_expectation() -> None:
    assert set(event_names()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_through_buffered_and_streaming_handlers(name: str) -> None:
    status, state = EXPECTED[name]
    buffered_env, streaming_env = make_env(), make_env()
    result = buffered_env.face(load_event(name), FakeContext())
    writer = stream(streaming_env, load_event(name))
    assert set(result) == {"statusCode", "headers", "cookies", "body", "isBase64Encoded"}
    assert (result["statusCode"], result["headers"]["x-isr-cache"]) == (status, state)
    assert (writer.status, writer.headers["x-isr-cache"]) == (status, state)
    assert writer.ended
    assert writer.error is None
    assert result["headers"] == writer.headers
    assert result["body"].encode() == writer.body
    for headers in (result["headers"], writer.headers):
        assert headers["cache-status"].startswith("lambda-isr")
        assert headers["x-request-id"]
    if status >= 400:
        assert buffered_env.meta.calls == {}
        assert buffered_env.renders == []


def test_malformed_event_never_touches_the_store() -> None:
    env = make_env()
    bad: tuple[Any, ...] = (None, [], "x", {"rawPath": "/"}, {"requestContext": {"http": 1}})
    for event in bad:
        result = env.face(event, None)
        assert result["statusCode"] == 400
        assert result["headers"]["cache-control"] == "no-store"
    assert env.meta.calls == {}
    assert env.renders == []


async def _agen(request: FaceRequest) -> AsyncIterator[str]:
    await asyncio.sleep(0)
    yield "<a>"
    yield "sync</a>"


async def _coro(request: FaceRequest) -> FaceResult:
    await asyncio.sleep(0)
    return FaceResult(status=203, headers={"x-kind": "coro"}, body=_agen(request))


def _gen(request: FaceRequest) -> Iterator[bytes]:
    yield b"<b>"
    yield b""
    yield b"bytes</b>"


SHAPES: dict[str, tuple[Any, bytes]] = {
    "str": (lambda r: "<p>s</p>", b"<p>s</p>"),
    "bytes": (lambda r: b"\xff\x00", b"\xff\x00"),
    "list": (lambda r: ["a", b"b"], b"ab"),
    "generator": (_gen, b"<b>bytes</b>"),
    "async generator": (_agen, b"<a>sync</a>"),
    "coroutine FaceResult": (_coro, b"<a>sync</a>"),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_face_return_shapes(shape: str) -> None:
    fn, body = SHAPES[shape]
    env = make_env(fn)
    writer = stream(env, load_event("get"))
    assert writer.body == body
    hit = env.face(load_event("get"), None)
    assert hit["headers"]["x-isr-cache"] == "hit"
    raw = base64.b64decode(hit["body"]) if hit["isBase64Encoded"] else hit["body"].encode()
    assert raw == body


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (42, "int"),
        (None, "None"),
        ({"statusCode": 200, "body": "x"}, "dict"),
        (FaceResult(body={"a": 1}), "dict"),
        (iter([1, 2]), "int"),
    ],
)
def test_wrong_return_values_are_type_errors_naming_the_face_never_cached(
    value: object, named: str
) -> None:
    def wrong(request: object) -> object:
        return value

    env = make_env(wrong)
    writer = stream(env, load_event("get"))
    assert writer.status == 500
    assert writer.headers["cache-control"] == "no-store"
    assert env.meta.calls.get("commit", 0) == 0
    text = env.logs.getvalue()
    assert "TypeError" in text
    assert "face tests.isr.helpers.make_env.<locals>.face_fn" in text  # the face is named
    assert named in text  # and what it returned


def test_face_result_headers_are_validated_before_the_head() -> None:
    env = make_env(lambda r: FaceResult(headers={"x-bad": "a\r\nb"}, body="x"))
    assert stream(env, load_event("get")).status == 500


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"revalidate": 0}, "revalidate"),
        ({"revalidate": 1.5}, "revalidate"),
        ({"revalidate": 5, "lease_seconds": 0}, "lease_seconds"),
        ({"revalidate": 5, "wait_timeout": -1}, "wait_timeout"),
        ({"revalidate": 5, "contention": "wait"}, "contention"),
        ({"revalidate": 5, "cacheable_statuses": [200, 500]}, "5xx"),
        ({"revalidate": 5, "max_body_bytes": -1}, "max_body_bytes"),
        ({"revalidate": 5, "vary_query": "page"}, "vary_query"),
        ({"revalidate": 5, "vary_cookies": [""]}, "vary_cookies"),
        ({"revalidate": 5, "tenant": "acme"}, "tenant"),
        ({"revalidate": 5, "store": "dynamodb"}, "store"),
        ({"revalidate": 5, "error_footer": 3}, "error_footer"),
    ],
)
def test_options_are_validated_at_decoration(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        isr_face(**options)


def test_bare_decorator_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="parentheses"):
        isr_face(lambda r: "x", revalidate=5)


def test_decoration_does_not_create_the_store() -> None:
    created: list[int] = []

    def factory() -> Any:
        created.append(1)
        return Store(MemoryMetaStore(), MemoryHtmlStore())

    face = isr_face(revalidate=5, store=factory, contention=ContentionPolicy.WAIT)(lambda r: "x")
    assert created == []
    assert face.__name__ == "<lambda>"
    face(load_event("get"), None)
    face(load_event("get"), None)
    assert created == [1]


def test_default_store_comes_from_the_environment_lazily(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FACETHEORY_CACHE_TABLE_NAME", raising=False)
    monkeypatch.delenv("FACETHEORY_ISR_BUCKET", raising=False)
    monkeypatch.setenv("LAMBDA_ISR_DIR", str(tmp_path))
    face = isr_face(revalidate=5)(lambda r: "<p>env</p>")
    first = face(load_event("get"), None)
    second = face(load_event("get"), None)
    assert (first["headers"]["x-isr-cache"], second["headers"]["x-isr-cache"]) == ("miss", "hit")


def test_streamed_writer_gets_exactly_one_terminal_call() -> None:
    env = make_env()
    writer = RecordingWriter()
    env.face.__lambda_isr_stream__(load_event("get"), None, writer)
    terminal = [entry for entry in writer.log if entry[0] in ("end", "fail")]
    assert terminal == [("end",)]
