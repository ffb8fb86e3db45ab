"""Cache keys: which requests share one cached page, and what a cached render sees.

A key is ``<tenant>::<host><normalised path>?<sorted allowlisted query>`` (with a custom key
function: ``<tenant>::<host>::<its value>``) plus, when headers or
cookies vary the page, ``#h.<name>=<hash>&c.<name>=<hash>``. Raw header and cookie values never
enter a key: only the first 24 hex of their sha256. ``<tenant>`` is ``default`` without a tenant
(no rule, or the rule gave ``None``/``""``), else the rule's value percent-encoded; a rule's
literal ``"default"`` is keyed ``%64efault``, so it never shares pages with requests that have
no tenant.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, unquote, urlencode

from lambda_isr.errors import InvalidEventError, TenantRequiredError
from lambda_isr.http.request import FaceRequest, RequestHeaders
from lambda_isr.isr.config import TENANT_HEADERS, KeyConfig, TrailingSlash

_SEGMENT_SAFE = "!$&'()*+,;=:@-._~"
_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization")
_HOST_RE = re.compile(r"^[a-z0-9.-]{1,253}$")
_CANONICAL_PATH_RE = re.compile(r"^(?:/(?!\.\.?(?:/|$))[A-Za-z0-9._~!$&'()*+,;=:@-]+)*$")
"""A path :func:`normalise_path` leaves as it is: no escapes, no dot or empty segment, no
trailing slash, only characters it never re-encodes (the fast path of every request)."""
DEFAULT_TENANT = ""
"""The tenant of a request without one (no rule, or the rule gave ``None`` or ``""``)."""
_NO_TENANT_KEY = "default"
_CACHED_REQUEST_ID = ""
"""The request id a cached render sees: none (a per-request value would be served to everyone)."""


@dataclass(frozen=True, slots=True)
class KeyDecision:
    """A cache key, or the reason this request must not touch the cache."""

    key: str | None
    bypass_reason: str | None = None
    tenant: str | None = None
    """What the tenant rule gave (``None``: no rule, or no tenant)."""


def normalise_path(raw: str, trailing: TrailingSlash = TrailingSlash.STRIP) -> str:
    """Canonical path: percent-decoded then re-encoded per segment, ``.``/``..`` resolved
    without escaping the root, duplicate slashes collapsed, trailing slash per policy.

    An encoded slash (``%2F``) stays inside its segment. Invalid UTF-8 escapes raise
    :class:`InvalidEventError` (a 400).
    """
    if _CANONICAL_PATH_RE.fullmatch(raw):
        return raw or "/"
    segments: list[str] = []
    parts = raw.split("/")
    for part in parts:
        try:
            seg = unquote(part, errors="strict")
        except UnicodeDecodeError as exc:
            raise InvalidEventError("path has invalid percent-encoding") from exc
        if seg in ("", "."):
            continue
        if seg == "..":
            if segments:
                segments.pop()
            continue
        segments.append(quote(seg, safe=_SEGMENT_SAFE))
    path = "/" + "/".join(segments)
    ends_with_slash = raw.endswith("/") or raw.endswith("/.") or raw.endswith("/..")
    if trailing is TrailingSlash.KEEP and segments and ends_with_slash:
        path += "/"
    return path


def normalise_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    for default_port in (":443", ":80"):
        if host.endswith(default_port):
            host = host[: -len(default_port)].rstrip(".")
    return host if _HOST_RE.fullmatch(host.replace(":", "")) else _digest(host)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _query(request: FaceRequest, allow: tuple[str, ...]) -> str:
    pairs = [(name, value) for name in allow for value in sorted(request.query.get(name, ()))]
    return urlencode(pairs, quote_via=quote)


def _tenant(request: FaceRequest, config: KeyConfig) -> str | None:
    """The tenant rule's value (``None``: no tenant); fails closed without a rule. A cache view
    already carries it (``request.tenant``: its tenant headers are gone)."""
    if request.tenant is not None:
        return request.tenant
    if config.tenant is None:
        if any(name in request.headers for name in TENANT_HEADERS):
            raise TenantRequiredError(
                "request carries a tenant header but the face has no tenant rule"
            )
        return None
    return _rule_tenant(request, config)


def _rule_tenant(request: FaceRequest, config: KeyConfig) -> str | None:
    if request.tenant is not None or config.tenant is None:
        return request.tenant
    tenant = config.tenant(request)
    if tenant is None or tenant == "":
        return None
    if not isinstance(tenant, str):
        raise TenantRequiredError("the tenant rule must return a string or None")
    return tenant


def tenant_key(tenant: str | None) -> str:
    """The tenant part of a key: ``default`` for no tenant; a rule's value percent-encoded,
    its literal ``"default"`` as ``%64efault`` (``quote`` never encodes a letter, so no other
    value can produce either)."""
    if not tenant:
        return _NO_TENANT_KEY
    part = quote(tenant, safe="")
    return "%64efault" if part == _NO_TENANT_KEY else part


def build_key(request: FaceRequest, config: KeyConfig) -> KeyDecision:
    """The cache key of ``request``; raises :class:`TenantRequiredError` to fail closed and
    :class:`InvalidEventError` (a 400) for text that cannot be encoded (lone surrogates)."""
    try:
        return _build_key(request, config)
    except UnicodeEncodeError as exc:
        raise InvalidEventError("request path, query or tenant is not valid Unicode") from exc


class CachedContext:
    """The Lambda context a cached render sees: the function's, not the invocation's.

    Everything about the function (name, version, ARN, memory, log group, remaining time) is
    passed on; what belongs to one invocation (``aws_request_id``, ``identity``,
    ``client_context``) is blank, so it can never be written into a page served to others.
    """

    __slots__ = ("_inner",)
    aws_request_id = ""
    identity = None
    client_context = None

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def cache_view(request: FaceRequest, config: KeyConfig) -> FaceRequest:
    """The request a cached render sees: exactly what its key is made of.

    The normalised path, the allowlisted query parameters (values sorted, as in the key), the
    normalised host when it varies the key (lowercase, no ``:80``/``:443``, no trailing dot),
    the varied headers and cookies, and ``tenant``: the tenant rule's value (the tenant headers
    themselves never: only the rule's value is keyed). Nothing else (``utm_*``, a reflected
    payload, a GET body, an unkeyed header or cookie, the client's IP, the request id or the
    invocation's Lambda request id) can reach a page other users will be served: two requests
    that share a key get the same render. A custom key function decides itself what varies, so
    its face sees the whole request (but never the request ids: they would be served to all).
    """
    neutral = CachedContext(request.context) if request.context is not None else None
    if config.key is not None:
        return replace(
            request,
            request_id=_CACHED_REQUEST_ID,
            context=neutral,
            tenant=_rule_tenant(request, config),
        )
    query = {
        name: tuple(sorted(request.query[name]))
        for name in config.vary_query
        if name in request.query
    }
    pairs = [(name, value) for name, values in query.items() for value in values]
    keep = set(config.vary_headers)  # a tenant header only when it is keyed itself
    headers = {k: v for k, v in request.headers.items() if k in keep}
    if config.vary_host and request.host:
        headers["host"] = normalise_host(request.host)
    cookies = set(config.vary_cookies or ())
    return replace(
        request,
        path=normalise_path(request.path, config.trailing_slash),
        query=query,
        raw_query=urlencode(pairs, quote_via=quote),
        headers=RequestHeaders(headers),
        cookies={k: v for k, v in request.cookies.items() if k in cookies},
        body=b"",
        source_ip="",
        request_id=_CACHED_REQUEST_ID,
        context=neutral,
        tenant=_rule_tenant(request, config),
    )


def _build_key(request: FaceRequest, config: KeyConfig) -> KeyDecision:
    tenant = _tenant(request, config)
    for name in _CREDENTIAL_HEADERS:
        if name in request.headers and name not in config.vary_headers:
            return KeyDecision(None, "credentials", tenant)
    if request.cookies and config.vary_cookies is None:
        return KeyDecision(None, "cookies", tenant)
    if config.key is not None:
        page = config.key(request)
        if not isinstance(page, str) or not page:
            raise TypeError("the custom key function must return a non-empty string")
        page = f"::{page}"
    else:
        page = normalise_path(request.path, config.trailing_slash)
        query = _query(request, config.vary_query)
        if query:
            page = f"{page}?{query}"
    host = normalise_host(request.host) if config.vary_host else ""
    key = f"{tenant_key(tenant)}::{host}{page}"
    varied = [
        f"h.{name}={_digest(request.headers[name])}"
        for name in config.vary_headers
        if name in request.headers
    ]
    varied += [
        f"c.{name}={_digest(request.cookies[name])}"
        for name in config.vary_cookies or ()
        if name in request.cookies
    ]
    if varied:
        key = f"{key}#{'&'.join(varied)}"
    return KeyDecision(key, tenant=tenant)


def page_key(
    path: str,
    *,
    host: str | None,
    tenant: str | None = DEFAULT_TENANT,
    query: Mapping[str, Sequence[str]] | None = None,
    trailing_slash: TrailingSlash = TrailingSlash.STRIP,
) -> str:
    """The key :func:`build_key` gives a plain request for this page (no varied headers or
    cookies, no custom key function): for code that has no request, such as an on-demand
    invalidation. ``host=None`` for faces decorated with ``vary_host=False``; ``query`` holds
    only the face's ``vary_query`` parameters; ``tenant`` is what the tenant rule gives (the
    default, ``""``, or ``None``: no tenant)."""
    page = normalise_path(path, trailing_slash)
    pairs = [(name, value) for name in sorted(query or {}) for value in sorted((query or {})[name])]
    if pairs:
        page = f"{page}?{urlencode(pairs, quote_via=quote)}"
    prefix = normalise_host(host) if host is not None else ""
    return f"{tenant_key(tenant)}::{prefix}{page}"
