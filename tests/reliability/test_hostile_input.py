"""Hostile input against the whole buffered handler: near-valid Function URL events with one
or more fields made absurd (wrong types, huge headers, invalid base64, invalid UTF-8 and lone
surrogates, traversal paths, NUL, 10 KB paths and query strings).

Every event gets a well-formed answer (never an exception, never an internal error), and only
a valid cacheable GET/HEAD ever writes to the store (counted at the store boundary)."""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_isr.errors import InvalidEventError, TenantRequiredError
from lambda_isr.face import isr_face
from lambda_isr.http.request import FaceRequest, parse_event
from lambda_isr.isr.keys import build_key
from lambda_isr.store.contract import Store
from lambda_isr.store.faults import FaultPlan, FaultyHtmlStore, FaultyMetaStore
from lambda_isr.store.memory import MemoryHtmlStore, MemoryMetaStore
from lambda_isr.testing import FakeClock
from tests.isr.helpers import FakeContext
from tests.reliability.support import assert_clean
from tests.support.events import make_event

pytestmark = pytest.mark.timeout(120)

WRITES = ("put", "commit_generation", "try_acquire_lease", "release_lease", "refresh_lease")

NO_SURROGATES = st.characters(blacklist_categories=["Cs"])
ANY_CHAR = st.characters()  # lone surrogates included


def _face(request: FaceRequest) -> str:
    return f"<p>ok {len(request.path)} {request.method}</p>"


CLOCK = FakeClock(1_000_000.0)
PLAN = FaultPlan(enabled=False)  # never fails: it only counts calls at the store boundary
HANDLER = isr_face(
    revalidate=60,
    store=Store(
        FaultyMetaStore(MemoryMetaStore(clock=CLOCK), PLAN),
        FaultyHtmlStore(MemoryHtmlStore(), PLAN),
    ),
    clock=CLOCK,
    vary_query=["page"],
    logger=Logger(service="isr-hostile", stream=io.StringIO()),
    metrics=Metrics(namespace="IsrHostile", service="isr-hostile"),
)(_face)
KEYS = HANDLER.config.keys


absurd_paths = st.sampled_from(
    [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/..%2f..%2fetc/passwd",
        "/a/./b/../../../../c",
        "//etc//passwd",
        "/\\..\\..\\windows\\win.ini",
        "/a\x00b",
        "/%00",
        "/%ff%fe",
        "/%c0%ae%c0%ae/",
        "/%",
        "/%zz",
        "/" + "a" * 10_000,
        "/" + "%2e%2e/" * 2_000,
        "/" + "x/" * 4_000,
        "",
        "relative",
        "/\r\nSet-Cookie: a=b",
        "/caf\u00e9/\u202e/\ufeff",
        "/?q=1",
        "/#frag",
    ]
)
paths = absurd_paths | st.text(NO_SURROGATES, max_size=40).map(lambda s: "/" + s)
queries = st.sampled_from(
    [
        "page=%ff",
        "page=%",
        "page=1&page=2&page=",
        "=&&==&page",
        "utm_source=" + "x" * 10_000,
        "page=" + "%2e" * 3_000,
        "page=\x00",
        "a=b;c=d",
    ]
) | st.text(NO_SURROGATES, max_size=60)
header_values = (
    st.text(ANY_CHAR, max_size=30)
    | st.sampled_from(["x" * 16_384, "a\r\nb", "\x00", "\ud800", "v" * 100_000])
    | st.lists(st.text(max_size=5), max_size=3)
    | st.integers()
    | st.none()
    | st.booleans()
)
header_names = st.sampled_from(
    [
        "host",
        "Host",
        "x-request-id",
        "if-none-match",
        "cookie",
        "authorization",
        "x-tenant-id",
        "accept",
        "x-forwarded-host",
        "content-type",
    ]
) | st.text(ANY_CHAR, min_size=1, max_size=10)
bodies = st.sampled_from(
    ["!!!notbase64", "YQ", "YWJj====", "\ud800", "\u00e9", "a" * 50_000, ""]
) | st.text(ANY_CHAR, max_size=20)
junk = st.none() | st.integers() | st.booleans() | st.text(max_size=5) | st.lists(st.integers())


@st.composite
def hostile_events(draw: st.DrawFn) -> Any:
    event = make_event(
        method=draw(st.sampled_from(["GET", "GET", "HEAD", "POST", "get", "BREW", ""]))
    )
    path = draw(paths)
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path
    event["rawQueryString"] = draw(queries)
    for name, value in draw(st.dictionaries(header_names, header_values, max_size=4)).items():
        event["headers"][name] = value
    if draw(st.booleans()):
        event["cookies"] = draw(st.lists(st.text(ANY_CHAR, max_size=12), max_size=3) | junk)
    if draw(st.booleans()):
        event["body"] = draw(bodies | junk)
        event["isBase64Encoded"] = draw(st.booleans() | junk)
    for key in draw(
        st.lists(
            st.sampled_from(
                ["rawPath", "headers", "requestContext", "rawQueryString", "cookies", "body"]
            ),
            max_size=2,
        )
    ):
        if draw(st.booleans()):
            event.pop(key, None)
        else:
            event[key] = draw(junk | st.dictionaries(st.text(max_size=3), junk, max_size=2))
    context = event.get("requestContext")
    if draw(st.booleans()) and isinstance(context, dict) and isinstance(context.get("http"), dict):
        context["requestId"] = draw(header_values)
        context["http"]["method"] = draw(junk | st.sampled_from(["GET", "HEAD"]))
    return event


def _method(event: Any) -> str | None:
    try:
        return parse_event(event).method
    except InvalidEventError:
        return None


def _cacheable(event: Any) -> bool:
    """Would this event be allowed to write to the store?"""
    try:
        request = parse_event(event)
    except InvalidEventError:
        return False
    if request.method != "GET":  # HEAD never renders into the cache
        return False
    try:
        return build_key(request, KEYS).key is not None
    except (InvalidEventError, TenantRequiredError):
        return False


@settings(
    max_examples=2_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(hostile_events())
def test_hostile_events_get_clean_answers_and_never_write_unless_cacheable(event: Any) -> None:
    snapshot = copy.deepcopy(event)
    before = PLAN.calls.copy()
    result = HANDLER(event, FakeContext())
    writes = {op: PLAN.calls[op] - before[op] for op in WRITES if PLAN.calls[op] != before[op]}
    reads = PLAN.calls["get"] - before["get"]
    assert_clean(result)
    json.dumps(result)  # the runtime must be able to serialise the answer
    status = result["statusCode"]
    detail = result["headers"].get("cache-status", "")
    assert status in (200, 400) or (status == 500 and "tenant-required" in detail), (
        status,
        detail,
    )
    head = isinstance(snapshot, dict) and _method(snapshot) == "HEAD"
    if status >= 400:
        assert result["headers"]["cache-control"] == "no-store"
        assert result["body"].startswith("<!doctype html>") or (head and result["body"] == "")
    cacheable = _cacheable(snapshot)
    if not cacheable:
        assert writes == {}, writes
    try:
        request = parse_event(snapshot)
    except InvalidEventError:
        assert status == 400
        assert reads == 0
        return
    if request.method not in ("GET", "HEAD"):
        assert reads == 0
        assert result["headers"]["x-isr-cache"] == "bypass"
    if head and status == 200:
        # HEAD never renders into the cache: served from a copy, or rendered uncached
        assert result["headers"]["x-isr-cache"] in ("hit", "stale", "bypass")
    if cacheable:
        assert status == 200
        assert result["headers"]["x-isr-cache"] in ("hit", "miss")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.update(rawPath="/a\ud800b"),
        lambda e: e.update(rawQueryString="page=\ud800"),
    ],
    ids=["path", "varied-query"],
)
def test_lone_surrogates_in_the_key_are_a_clean_400(mutate: Any) -> None:
    event = make_event()
    mutate(event)
    result = HANDLER(event, FakeContext())
    assert_clean(result)
    assert result["statusCode"] == 400
