"""Function URL (payload 2.0) events -> :class:`FaceRequest`.

The parser accepts any JSON object with a method and a path (emulators and API Gateway send odd
shapes: missing ``cookies``/``queryStringParameters``/``body``, v1 keys) and raises
:class:`~lambda_isr.errors.InvalidEventError` for anything else, never another exception.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from lambda_isr.errors import InvalidEventError

MAX_PATH_LENGTH = 8_192
_METHOD_RE = re.compile(r"^[A-Za-z]{1,16}$")
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
"""A request id safe in a header and a log line; always matched in full (``fullmatch``: ``$``
would accept a trailing newline)."""


class RequestHeaders(Mapping[str, str]):
    """Immutable, case-insensitive request headers (repeats are already comma-joined)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items = {k.lower(): v for k, v in (items or {}).items()}

    @classmethod
    def _of_lowercase(cls, items: dict[str, str]) -> RequestHeaders:
        """Headers from a dict this module built, its names already lowercase (not copied)."""
        headers = cls.__new__(cls)
        headers._items = items
        return headers

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RequestHeaders) and self._items == other._items

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return f"RequestHeaders({self._items!r})"


Headers = RequestHeaders
"""Former name of :class:`RequestHeaders` (kept for one release)."""


SIGV4_HEADERS = ("authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256")
"""Headers CloudFront's origin access control signs a request with (``authorizer.iam`` set)."""


@dataclass(frozen=True, slots=True)
class FaceRequest:
    """One HTTP request to a face, decoded from a Function URL event."""

    method: str
    path: str
    raw_query: str = ""
    query: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    headers: Headers = field(default_factory=Headers)
    cookies: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    request_id: str = ""
    """The Function URL request id (``requestContext.requestId``)."""
    source_ip: str = ""
    context: Any = field(default=None, compare=False, repr=False)
    """The Lambda context object (``None`` outside Lambda)."""
    params: Mapping[str, str] = field(default_factory=dict)
    """Route parameters (``FaceApp``): each percent-decoded once; empty for ``@isr_face``."""
    tenant: str | None = None
    """The tenant the face's tenant rule gave this request (``None``: no rule, or no tenant).
    A cached render never sees the tenant headers themselves: only this value is keyed."""

    @property
    def host(self) -> str:
        return self.headers.get("host", "")

    def first(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def lambda_request_id(self) -> str:
        return str(getattr(self.context, "aws_request_id", "") or "")

    @property
    def response_request_id(self) -> str:
        """The ``x-request-id`` to answer with: a sane inbound value, else our own ids."""
        return response_request_id(self.headers.get("x-request-id"), self.request_id, self.context)


def valid_request_id(value: object) -> str | None:
    """``value`` when it is a well-formed request id (matched in full), else ``None``."""
    if isinstance(value, str) and _REQUEST_ID_RE.fullmatch(value):
        return value
    return None


def response_request_id(inbound: object, function_url_id: object, context: object) -> str:
    """The first well-formed id of: the inbound ``x-request-id``, the Function URL request id,
    the Lambda request id; a fresh one when none is (a malformed id is ignored, never echoed)."""
    for candidate in (inbound, function_url_id, getattr(context, "aws_request_id", None)):
        rid = valid_request_id(candidate)
        if rid is not None:
            return rid
    return str(uuid.uuid4())


def event_request_id(event: object) -> str:
    """``requestContext.requestId`` of a raw event when well-formed, or ``""`` (never raises)."""
    if isinstance(event, Mapping):
        ctx = event.get("requestContext")
        if isinstance(ctx, Mapping):
            return valid_request_id(ctx.get("requestId")) or ""
    return ""


def _str_or_none(value: object, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidEventError(f"{what} must be a string")


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if type(value) is dict and {str}.issuperset(map(type, value)):  # a JSON object: C-level
        return value
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return value
    raise InvalidEventError(f"{what} must be an object with string keys")


def _header_value(name: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    raise InvalidEventError(f"header {name!r} must be a string")


def _parse_headers(event: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in ("headers", "multiValueHeaders"):
        for name, value in _mapping(event.get(key), key).items():
            out.setdefault(name.lower(), _header_value(name, value))
    return out


def _parse_cookies(event: Mapping[str, Any], headers: dict[str, str]) -> dict[str, str]:
    raw = event.get("cookies")
    if raw is None:
        raw = [c for c in headers.get("cookie", "").split(";") if c.strip()]
    if not isinstance(raw, list | tuple) or not all(isinstance(c, str) for c in raw):
        raise InvalidEventError("cookies must be a list of strings")
    cookies: dict[str, str] = {}
    for item in raw:
        for part in item.split(";"):
            name, sep, value = part.strip().partition("=")
            if name and sep:
                cookies.setdefault(name, value)
    return cookies


def _parse_query(event: Mapping[str, Any]) -> tuple[str, dict[str, tuple[str, ...]]]:
    raw = _str_or_none(event.get("rawQueryString"), "rawQueryString")
    pairs: list[tuple[str, str]]
    if raw == "":
        return raw, {}
    if raw is not None:
        pairs = parse_qsl(raw, keep_blank_values=True)
    else:
        pairs = []
        multi = _mapping(event.get("multiValueQueryStringParameters"), "query parameters")
        single = _mapping(event.get("queryStringParameters"), "query parameters")
        for name, values in multi.items():
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise InvalidEventError("multi-value query parameters must be lists of strings")
            pairs.extend((name, v) for v in values)
        for name, value in single.items():
            if name not in multi:
                if not isinstance(value, str):
                    raise InvalidEventError("query parameter values must be strings")
                pairs.append((name, value))
        raw = "&".join(f"{k}={v}" for k, v in pairs)
    query: dict[str, list[str]] = {}
    for name, value in pairs:
        query.setdefault(name, []).append(value)
    return raw, {k: tuple(v) for k, v in query.items()}


def _parse_body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise InvalidEventError("body must be a string or null")
    encoded = event.get("isBase64Encoded", False)
    if not isinstance(encoded, bool):
        raise InvalidEventError("isBase64Encoded must be a boolean")
    if not encoded:
        return body.encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(body.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise InvalidEventError("body is not valid base64") from exc


def parse_event(event: object, context: object = None) -> FaceRequest:
    """Decode a Function URL event; raises :class:`InvalidEventError` for anything unusable."""
    if not isinstance(event, Mapping):
        raise InvalidEventError("event must be a JSON object")
    rc = _mapping(event.get("requestContext"), "requestContext")
    http = _mapping(rc.get("http"), "requestContext.http")
    method = http.get("method", event.get("httpMethod"))
    if not isinstance(method, str) or not _METHOD_RE.fullmatch(method):
        raise InvalidEventError("event has no usable HTTP method")
    path = event.get("rawPath")
    if path is None:
        path = http.get("path", event.get("path"))
    if not isinstance(path, str) or not path.startswith("/") or len(path) > MAX_PATH_LENGTH:
        raise InvalidEventError("event has no usable path")
    if any(c in path for c in ("\0", "\r", "\n")):
        raise InvalidEventError("path contains control characters")
    headers = _parse_headers(event)
    authorizer = rc.get("authorizer")
    if isinstance(authorizer, Mapping) and isinstance(authorizer.get("iam"), Mapping):
        # Behind CloudFront's origin access control these are its SigV4 signature, not the
        # viewer's credentials: they must neither bypass the cache nor vary a key.
        for name in SIGV4_HEADERS:
            headers.pop(name, None)
    if "host" not in headers:
        domain = rc.get("domainName")
        if isinstance(domain, str) and domain:
            headers["host"] = domain
    raw_query, query = _parse_query(event)
    source_ip = http.get("sourceIp", "")
    request_id = valid_request_id(rc.get("requestId")) or ""
    return FaceRequest(
        method=method.upper(),
        path=path,
        raw_query=raw_query,
        query=query,
        headers=RequestHeaders._of_lowercase(headers),
        cookies=_parse_cookies(event, headers),
        body=_parse_body(event),
        request_id=request_id if isinstance(request_id, str) else "",
        source_ip=source_ip if isinstance(source_ip, str) else "",
        context=context,
    )
