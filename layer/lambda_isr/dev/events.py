"""Turn a browser's HTTP request into a Function URL payload-2.0 event, the way Lambda does.

The query string of each event sent is remembered (a bounded table, by request id) until the
worker's summary line for it arrives: the dev log compares it with the cache key to tell, once,
which parameters a cached page ignores (:class:`lambda_isr.dev.log.QueryNotices`).
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

_TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")


_SENT_QUERIES: OrderedDict[str, tuple[str, str]] = OrderedDict()
_SENT_LOCK = threading.Lock()
_SENT_MAX = 1024


def remember_query(request_id: str, method: str, target: str) -> None:
    """Keep ``(method, target)`` of a request with a query string until :func:`sent_query`."""
    with _SENT_LOCK:
        _SENT_QUERIES[request_id] = (method, target)
        while len(_SENT_QUERIES) > _SENT_MAX:
            _SENT_QUERIES.popitem(last=False)


def sent_query(request_id: str) -> tuple[str, str] | None:
    """``(method, target)`` of the request with this id if it had a query string (once)."""
    with _SENT_LOCK:
        return _SENT_QUERIES.pop(request_id, None)


def _is_text(content_type: str | None) -> bool:
    return content_type is None or content_type.lower().startswith(_TEXT_TYPES)


def build_event(
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    *,
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
    now: float | None = None,
    domain: str = "localhost",
) -> dict[str, Any]:
    """A payload-2.0 event: lowercase header names, repeats comma-joined, cookies split out,
    query parsed (repeats comma-joined in ``queryStringParameters``), binary bodies base64."""
    raw_path, _, raw_query = target.partition("?")
    raw_path = raw_path or "/"
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    epoch = time.time() if now is None else now
    request_id = request_id or str(uuid.uuid4())
    host = joined.get("host", domain)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": joined,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "lambda-isr-dev",
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": method.upper(),
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch)),
            "timeEpoch": int(epoch * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if raw_query:
        remember_query(request_id, method.upper(), target)
    if body:
        if _is_text(joined.get("content-type")):
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode("ascii")
                event["isBase64Encoded"] = True
        else:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event
