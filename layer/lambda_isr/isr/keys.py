"""Cache keys: which requests share one cached page.

A key is ``<tenant>::<host><normalised path>?<sorted allowlisted query>`` (with a custom key
function: ``<tenant>::<host>::<its value>``) plus, when headers or
cookies vary the page, ``#h.<name>=<hash>&c.<name>=<hash>``. Raw header and cookie values never
enter a key: only the first 24 hex of their sha256.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
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
DEFAULT_TENANT = "default"


@dataclass(frozen=True, slots=True)
class KeyDecision:
    """A cache key, or the reason this request must not touch the cache."""

    key: str | None
    bypass_reason: str | None = None


def normalise_path(raw: str, trailing: TrailingSlash = TrailingSlash.STRIP) -> str:
    """Canonical path: percent-decoded then re-encoded per segment, ``.``/``..`` resolved
    without escaping the root, duplicate slashes collapsed, trailing slash per policy.

    An encoded slash (``%2F``) stays inside its segment. Invalid UTF-8 escapes raise
    :class:`InvalidEventError` (a 400).
    """
    if _CANONICAL_PATH_RE.match(raw):
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
            host = host[: -len(default_port)]
    return host if _HOST_RE.match(host.replace(":", "")) else _digest(host)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _query(request: FaceRequest, allow: tuple[str, ...]) -> str:
    pairs = [(name, value) for name in allow for value in sorted(request.query.get(name, ()))]
    return urlencode(pairs, quote_via=quote)


def _tenant(request: FaceRequest, config: KeyConfig) -> str:
    if config.tenant is None:
        if any(name in request.headers for name in TENANT_HEADERS):
            raise TenantRequiredError(
                "request carries a tenant header but the face has no tenant rule"
            )
        return DEFAULT_TENANT
    tenant = config.tenant(request)
    if tenant is None or tenant == "":
        return DEFAULT_TENANT
    if not isinstance(tenant, str):
        raise TenantRequiredError("the tenant rule must return a string or None")
    return quote(tenant, safe="")


def build_key(request: FaceRequest, config: KeyConfig) -> KeyDecision:
    """The cache key of ``request``; raises :class:`TenantRequiredError` to fail closed and
    :class:`InvalidEventError` (a 400) for text that cannot be encoded (lone surrogates)."""
    try:
        return _build_key(request, config)
    except UnicodeEncodeError as exc:
        raise InvalidEventError("request path, query or tenant is not valid Unicode") from exc


def cache_view(request: FaceRequest, config: KeyConfig) -> FaceRequest:
    """The request a cached render sees: exactly what its key is made of.

    The normalised path, the allowlisted query parameters (values sorted, as in the key), the
    host when it varies the key, the varied headers and cookies, and the tenant headers when a
    tenant rule keys them. Nothing else (``utm_*``, a reflected payload, an unkeyed header or
    cookie, the client's IP) can reach a page other users will be served: two requests that
    share a key get the same render. A custom key function decides itself what varies, so its
    face sees the whole request.
    """
    if config.key is not None:
        return request
    query = {
        name: tuple(sorted(request.query[name]))
        for name in config.vary_query
        if name in request.query
    }
    pairs = [(name, value) for name, values in query.items() for value in values]
    keep = set(config.vary_headers)
    if config.vary_host:
        keep.add("host")
    if config.tenant is not None:
        keep.update(TENANT_HEADERS)
    cookies = set(config.vary_cookies or ())
    return replace(
        request,
        path=normalise_path(request.path, config.trailing_slash),
        query=query,
        raw_query=urlencode(pairs, quote_via=quote),
        headers=RequestHeaders({k: v for k, v in request.headers.items() if k in keep}),
        cookies={k: v for k, v in request.cookies.items() if k in cookies},
        source_ip="",
    )


def _build_key(request: FaceRequest, config: KeyConfig) -> KeyDecision:
    tenant = _tenant(request, config)
    for name in _CREDENTIAL_HEADERS:
        if name in request.headers and name not in config.vary_headers:
            return KeyDecision(None, "credentials")
    if request.cookies and config.vary_cookies is None:
        return KeyDecision(None, "cookies")
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
    key = f"{tenant}::{host}{page}"
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
    return KeyDecision(key)


def page_key(
    path: str,
    *,
    host: str | None,
    tenant: str = DEFAULT_TENANT,
    query: Mapping[str, Sequence[str]] | None = None,
    trailing_slash: TrailingSlash = TrailingSlash.STRIP,
) -> str:
    """The key :func:`build_key` gives a plain request for this page (no varied headers or
    cookies, no custom key function): for code that has no request, such as an on-demand
    invalidation. ``host=None`` for faces decorated with ``vary_host=False``; ``query`` holds
    only the face's ``vary_query`` parameters."""
    page = normalise_path(path, trailing_slash)
    pairs = [(name, value) for name in sorted(query or {}) for value in sorted((query or {})[name])]
    if pairs:
        page = f"{page}?{urlencode(pairs, quote_via=quote)}"
    prefix = normalise_host(host) if host is not None else ""
    return f"{quote(tenant, safe='') or DEFAULT_TENANT}::{prefix}{page}"
