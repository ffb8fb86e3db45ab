"""Prerendered routes: ``generate_static_params``, the generated-params record, ``dynamic_params``.

``@app.face("/posts/{slug}", mode="ssg", generate_static_params=fn)`` (or an ISR route with
``generate_static_params``) is prerendered by ``lambda-isr build``. The build **records each
route's generated params in the store**, so ``generate_static_params`` never runs at request
time: one record per route, stored like a page (a ``META`` item without ``ttl`` whose body is
the JSON list of params, content-addressed: an unchanged list writes no new object), under the
custom-form key ``default::<site host>::lambda-isr-static-params:<route>``.

With ``dynamic_params=False`` (the default for ``mode="ssg"``) a request whose params were not
generated answers 404. The record is read once per process, and again (at most every
:data:`RELOAD_SECONDS`) when a request names params it does not hold, so a new build is seen
without a restart. When no build ever recorded the route (a new sandbox on an embedded store),
the process runs ``generate_static_params`` once itself and says so in the log.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from lambda_isr.app.router import RoutePattern, SegmentKind
from lambda_isr.clock import Clock
from lambda_isr.errors import ConfigError, StoreError
from lambda_isr.isr.config import IsrConfig
from lambda_isr.isr.keys import tenant_key
from lambda_isr.store.contract import STATIC_REVALIDATE, CacheRecord, Lease, Store

GenerateParams = Callable[[], Iterable[Mapping[str, str]]]
Params = frozenset[tuple[str, str]]
RELOAD_SECONDS = 5.0
LOG = logging.getLogger("lambda_isr.static")
_SAFE = "!$&'()*+,;=:@-._~"


def params_key(route: str, host: str | None) -> str:
    """The key of a route's generated-params record (custom key form: no path, no index)."""
    return f"{tenant_key(None)}::{host or ''}::lambda-isr-static-params:{route}"


def generated(fn: GenerateParams, pattern: RoutePattern) -> list[dict[str, str]]:
    """Call ``generate_static_params`` and check each item names exactly the route's params."""
    names = set(pattern.params)
    out: list[dict[str, str]] = []
    for item in fn():
        if not isinstance(item, Mapping) or set(item) != names:
            raise ConfigError(
                f"route {pattern.pattern!r}: generate_static_params gave {item!r:.80}; each"
                f" item must map exactly {sorted(names)} to strings"
            )
        if not all(isinstance(v, str) and v for v in item.values()):
            raise ConfigError(f"route {pattern.pattern!r}: param values must be non-empty strings")
        out.append({str(k): str(v) for k, v in item.items()})
    return out


def fill(pattern: RoutePattern, params: Mapping[str, str]) -> str:
    """The path of ``pattern`` with ``params`` (a catch-all's ``/`` kept)."""
    parts = []
    for segment in pattern.segments:
        if segment.kind is SegmentKind.STATIC:
            parts.append(quote(segment.value, safe=_SAFE))
        elif segment.kind is SegmentKind.PARAM:
            parts.append(quote(params[segment.value], safe=_SAFE))
        else:
            parts.append(quote(params[segment.value], safe=_SAFE + "/"))
    return "/" + "/".join(p for p in parts if p)


def as_params(params: Mapping[str, str]) -> Params:
    return frozenset(params.items())


def record_params(
    store: Store, clock: Clock, key: str, params: list[dict[str, str]], *, lease_seconds: float
) -> bool:
    """Store the generated params of a route; ``False`` when another build holds its lease."""
    body = json.dumps(sorted(params, key=lambda p: sorted(p.items())), sort_keys=True).encode()
    lease = store.meta.try_acquire_lease(key, lease_seconds)
    if not isinstance(lease, Lease):
        return False
    try:
        obj = store.html.put(key, body, content_type="application/json")
        record = CacheRecord(
            cache_key=key,
            html_key=obj.key,
            generated_at=clock.now(),
            revalidate_seconds=STATIC_REVALIDATE,
            etag=obj.etag,
            content_type="application/json",
            content_hash=obj.content_hash or None,
            size=len(body),
            static=True,
        )
        store.meta.commit_generation(lease, record)
    except BaseException:
        store.meta.release_lease(lease)
        raise
    return True


def read_params(store: Store, key: str) -> set[Params] | None:
    """The recorded params of a route, or ``None`` when none are recorded (or unreadable)."""
    record = store.meta.get(key)
    if record is None:
        return None
    stream = store.html.open(record.html_key)
    if stream is None:
        return None
    try:
        items = json.loads(stream.read_all())
        return {as_params(item) for item in items if isinstance(item, dict)}
    except ValueError:
        return None


@dataclass
class StaticRoute:
    """A prerendered route's params at request time (internal)."""

    pattern: RoutePattern
    generate: GenerateParams
    dynamic_params: bool
    key: str
    clock: Clock
    _known: set[Params] | None = None
    _loaded_at: float = float("-inf")
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allows(self, params: Mapping[str, str], store: Callable[[], Store]) -> bool:
        """Whether a request with these params is served (never calls the store for a param
        already known, nor for a route with ``dynamic_params=True``)."""
        if self.dynamic_params:
            return True
        wanted = as_params(params)
        known = self._known
        if known is not None and wanted in known:
            return True
        with self._lock:
            now = self.clock.now()
            if self._known is None or now - self._loaded_at >= RELOAD_SECONDS:
                self._known = self._load(store)
                self._loaded_at = now
            return wanted in self._known

    def _load(self, store: Callable[[], Store]) -> set[Params]:
        try:
            found = read_params(store(), self.key)
        except StoreError:
            found = None
            LOG.warning("reading the generated params of %s failed", self.pattern.pattern)
        if found is not None:
            return found
        if self._known is not None:
            return self._known
        LOG.warning(
            "no build recorded the params of %s in this store: generate_static_params ran in"
            " this process (run `lambda-isr build`)",
            self.pattern.pattern,
        )
        return {as_params(p) for p in generated(self.generate, self.pattern)}


def static_options(
    route: str, options: dict[str, Any], *, ssg: bool
) -> tuple[GenerateParams | None, bool]:
    """Pop ``generate_static_params`` and ``dynamic_params`` from a route's options."""
    generate = options.pop("generate_static_params", None)
    dynamic = options.pop("dynamic_params", not ssg)
    if generate is not None and not callable(generate):
        raise ConfigError(f"route {route!r}: generate_static_params must be a function")
    if not isinstance(dynamic, bool):
        raise ConfigError(f"route {route!r}: dynamic_params must be True or False")
    return generate, dynamic


def ssg_config(
    pattern: RoutePattern,
    revalidate: int | None,
    generate: GenerateParams | None,
    options: dict[str, Any],
) -> IsrConfig:
    """The page options of a ``mode="ssg"`` route: never stale on a schedule, no ``ttl``."""
    from lambda_isr.face import isr_config  # noqa: PLC0415 - face imports the app's modules

    if revalidate is not None:
        raise ConfigError("mode='ssg' never regenerates on a schedule: remove revalidate")
    if pattern.params and generate is None:
        raise ConfigError("mode='ssg' with route params needs generate_static_params=<function>")
    return isr_config(revalidate=STATIC_REVALIDATE, route=pattern.pattern, static=True, **options)
