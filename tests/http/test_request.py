"""Event parsing: the fixtures, odd-but-valid shapes, and anything else -> InvalidEventError."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_isr.errors import InvalidEventError
from lambda_isr.face import isr_face
from lambda_isr.http.request import FaceRequest, Headers, parse_event
from lambda_isr.store.contract import Store
from lambda_isr.store.memory import MemoryHtmlStore, MemoryMetaStore
from tests.support.events import load_event


def test_get_fixture() -> None:
    context = object()
    request = parse_event(load_event("get"), context)
    assert request.method == "GET"
    assert request.path == "/blog/hello-world"
    assert request.headers["Accept"] == "text/html"
    assert request.host == "abc123.lambda-url.us-east-1.on.aws"
    assert request.request_id == "11111111-0000-4000-8000-000000000001"
    assert request.source_ip == "203.0.113.1"
    assert request.context is context
    assert request.body == b""
    assert request.cookies == {}


def test_query_keeps_every_value() -> None:
    request = parse_event(load_event("query-tracking"))
    assert request.query["page"] == ("2", "3")
    assert request.first("page") == "2"
    assert request.first("missing", "d") == "d"


def test_base64_body_and_cookies() -> None:
    assert parse_event(load_event("post-body")).body == b"name=Ada&message=hello+%E2%9C%93"
    cookies = parse_event(load_event("cookies")).cookies
    assert cookies == {"session": "s3cr3t", "theme": "dark"}


def test_odd_shapes_that_are_still_requests() -> None:
    minimal = parse_event({"requestContext": {"http": {"method": "get", "path": "/x"}}})
    assert (minimal.method, minimal.path, minimal.raw_query) == ("GET", "/x", "")
    v1 = parse_event(
        {
            "httpMethod": "GET",
            "path": "/v1",
            "headers": {"Cookie": "a=1; b=2", "Host": "h"},
            "multiValueQueryStringParameters": {"t": ["1", "2"]},
            "queryStringParameters": {"t": "2", "u": "3"},
            "body": None,
        }
    )
    assert v1.query == {"t": ("1", "2"), "u": ("3",)}
    assert v1.cookies == {"a": "1", "b": "2"}
    assert v1.host == "h"
    listed = parse_event({"rawPath": "/", "httpMethod": "GET", "headers": {"x": ["a", "b"]}})
    assert listed.headers["x"] == "a, b"


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        "GET /",
        {},
        {"rawPath": "/"},
        {"httpMethod": "GET"},
        {"httpMethod": "GET", "path": "relative"},
        {"httpMethod": "G ET", "path": "/"},
        {"httpMethod": "GET", "path": "/\r\nx"},
        {"httpMethod": "GET", "path": "/" + "a" * 9000},
        {"httpMethod": "GET", "path": "/", "headers": {"a": 1}},
        {"httpMethod": "GET", "path": "/", "headers": []},
        {"httpMethod": "GET", "path": "/", "cookies": "a=b"},
        {"httpMethod": "GET", "path": "/", "body": 5},
        {"httpMethod": "GET", "path": "/", "body": "x", "isBase64Encoded": "yes"},
        {"httpMethod": "GET", "path": "/", "body": "@@", "isBase64Encoded": True},
        {"httpMethod": "GET", "path": "/", "body": "é", "isBase64Encoded": True},
        {"httpMethod": "GET", "path": "/", "rawQueryString": 3},
        {"httpMethod": "GET", "path": "/", "queryStringParameters": {"a": 1}},
        {"httpMethod": "GET", "path": "/", "requestContext": "x"},
        load_event("malformed"),
        load_event("post-bad-base64"),
    ],
)
def test_unusable_events_raise_invalid_event(event: Any) -> None:
    with pytest.raises(InvalidEventError):
        parse_event(event)


def test_headers_are_case_insensitive_and_immutable() -> None:
    headers = Headers({"X-A": "1"})
    assert headers["x-a"] == headers["X-A"] == "1"
    assert "x-A" in headers
    assert object() not in headers
    assert headers == Headers({"x-a": "1"})
    assert hash(headers) == hash(Headers({"x-a": "1"}))
    assert not hasattr(headers, "__setitem__")
    request = FaceRequest("GET", "/", headers=headers)
    with pytest.raises(AttributeError):
        request.path = "/other"  # type: ignore[misc]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
event_keys = st.sampled_from(
    [
        "rawPath",
        "path",
        "httpMethod",
        "headers",
        "multiValueHeaders",
        "cookies",
        "rawQueryString",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "body",
        "isBase64Encoded",
        "requestContext",
    ]
)
events = st.one_of(
    json_values,
    st.dictionaries(event_keys, json_values, max_size=8),
    st.fixed_dictionaries(
        {"httpMethod": st.sampled_from(["GET", "POST", "HEAD"]), "path": st.text(max_size=20)},
        optional={
            "headers": st.dictionaries(st.text(max_size=6), json_values, max_size=3),
            "body": json_values,
            "isBase64Encoded": json_values,
            "cookies": json_values,
            "rawQueryString": json_values,
        },
    ),
)

_face = isr_face(revalidate=5, store=Store(MemoryMetaStore(), MemoryHtmlStore()))(
    lambda request: "<p>ok</p>"
)


@settings(max_examples=300, deadline=None)
@given(events)
def test_random_events_never_raise_and_answer_cleanly(event: Any) -> None:
    try:
        parse_event(event)
        valid = True
    except InvalidEventError:
        valid = False
    result = _face(event, None)
    assert isinstance(result["statusCode"], int)
    assert isinstance(result["body"], str)
    assert isinstance(result["headers"], dict)
    if not valid:
        assert result["statusCode"] == 400
        assert result["headers"]["cache-control"] == "no-store"
    else:
        assert result["statusCode"] in (200, 400)  # 400: an undecodable path escape
