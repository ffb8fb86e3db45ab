from __future__ import annotations

import base64

from lambda_isr.dev.events import build_event


def test_get_with_query_cookies_and_repeated_headers() -> None:
    event = build_event(
        "get",
        "/blog/hello?page=2&tag=a&tag=b&utm_source=x",
        [
            ("Host", "localhost:3000"),
            ("Cookie", "a=1; b=2"),
            ("Accept", "text/html"),
            ("X-Multi", "1"),
            ("x-multi", "2"),
        ],
        b"",
        request_id="rid-1",
        now=1_795_341_600.0,
    )
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/blog/hello"
    assert event["rawQueryString"] == "page=2&tag=a&tag=b&utm_source=x"
    assert event["queryStringParameters"] == {"page": "2", "tag": "a,b", "utm_source": "x"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-multi"] == "1,2"
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["requestId"] == "rid-1"
    assert event["requestContext"]["timeEpoch"] == 1_795_341_600_000
    assert "body" not in event


def test_text_body_stays_text_and_binary_body_is_base64() -> None:
    text = build_event("POST", "/f", [("content-type", "application/json")], b'{"a":1}')
    assert text["body"] == '{"a":1}'
    assert text["isBase64Encoded"] is False
    raw = bytes(range(256))
    binary = build_event("POST", "/f", [("content-type", "application/octet-stream")], raw)
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == raw
    bad_utf8 = build_event("POST", "/f", [("content-type", "text/plain")], b"\xff\xfe")
    assert bad_utf8["isBase64Encoded"] is True
