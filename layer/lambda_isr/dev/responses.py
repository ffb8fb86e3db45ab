"""What a Function URL sends the client for each outcome, as plain values (no I/O).

- a streamed prelude: its status, headers (hop-by-hop ones dropped) and one ``Set-Cookie`` per
  cookie; the body follows chunk by chunk;
- a buffered result (a handler the stock way): ``statusCode``/``headers``/``cookies``/``body``/
  ``isBase64Encoded``; any other JSON value is sent as is, ``200 application/json``;
- a failure before the head: ``502`` with the error, as Lambda answers an invocation error.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lambda_isr.runtime.recording import BufferedResult, Prelude

HOP_BY_HOP = frozenset(
    {
        "connection",
        "content-length",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
NO_BODY_STATUSES = frozenset({204, 304})


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete (non-streamed) answer."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def _header_pairs(headers: Mapping[str, Any], cookies: Iterable[Any]) -> list[tuple[str, str]]:
    pairs = [
        (str(name).lower(), str(value))
        for name, value in headers.items()
        if str(name).lower() not in HOP_BY_HOP and value is not None
    ]
    pairs.extend(("set-cookie", str(cookie)) for cookie in cookies)
    return pairs


def prelude_headers(prelude: Prelude) -> list[tuple[str, str]]:
    """The headers a streamed response is sent with (before ``transfer-encoding``)."""
    return _header_pairs(prelude.headers, prelude.cookies)


def body_allowed(method: str, status: int) -> bool:
    return method != "HEAD" and status not in NO_BODY_STATUSES and status >= 200


def buffered_answer(result: BufferedResult) -> Answer:
    """Map a buffered result the way a Function URL does."""
    try:
        value = json.loads(result.body)
    except ValueError:
        content_type = result.content_type or "application/octet-stream"
        return Answer(200, (("content-type", content_type),), result.body)
    if not isinstance(value, dict) or "statusCode" not in value:
        return Answer(200, (("content-type", "application/json"),), result.body)
    try:
        status = int(value["statusCode"])
    except (TypeError, ValueError):
        return failure_answer("Runtime.InvalidResponse", "statusCode is not a number", None)
    headers = {} if value.get("headers") is None else value["headers"]
    cookies = [] if value.get("cookies") is None else value["cookies"]
    if not isinstance(headers, dict) or not isinstance(cookies, list):
        return failure_answer("Runtime.InvalidResponse", "bad headers or cookies", None)
    raw = value.get("body")
    text = "" if raw is None else raw if isinstance(raw, str) else json.dumps(raw)
    if value.get("isBase64Encoded"):
        try:
            body = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return failure_answer("Runtime.InvalidResponse", "body is not valid base64", None)
    else:
        body = text.encode("utf-8")
    return Answer(status, tuple(_header_pairs(headers, cookies)), body)


def failure_answer(error_type: str, message: str, request_id: str | None) -> Answer:
    """``502``: the function failed before it sent a response."""
    payload = {
        "message": "Internal Server Error: the function failed before sending a response",
        "errorType": error_type,
        "errorMessage": message,
        "requestId": request_id,
    }
    body = (json.dumps(payload, indent=2) + "\n").encode()
    headers = (("content-type", "application/json"), ("x-amzn-errortype", error_type))
    return Answer(502, headers, body)


def describe_error(payload: Mapping[str, Any] | None, fallback: str | None = None) -> str:
    """``errorType: errorMessage`` of a runtime error payload."""
    if not payload:
        return fallback or "Unknown error"
    kind = payload.get("errorType") or fallback or "Error"
    return f"{kind}: {payload.get('errorMessage', '')}"
