"""Every example runs through the real runtime loop (streaming) against the fake Runtime API,
and under the stock calling convention (buffered), on a temporary embedded store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from examples.blog.app import handler as blog
from examples.invalidation.app import handler as purge
from examples.plain_buffered.app import handler as plain
from examples.ssr_streaming.app import handler as ssr
from lambda_isr.runtime.recording import BufferedResult, StreamEnd
from tests.isr.helpers import FakeContext
from tests.support.events import make_event
from tests.support.fake_runtime_api import FakeRuntimeApi, run_in_process


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRuntimeApi]:
    monkeypatch.setenv("LAMBDA_ISR_NAMESPACE", "examples")  # the site and its purger share it
    monkeypatch.setenv("LAMBDA_ISR_DIR", str(tmp_path / "store"))
    monkeypatch.delenv("FACETHEORY_CACHE_TABLE_NAME", raising=False)
    with FakeRuntimeApi() as fake:
        yield fake


def test_blog_streams_then_hits_and_on_demand_invalidation_regenerates(
    api: FakeRuntimeApi,
) -> None:
    first, second = run_in_process(api, blog, [make_event("/first"), make_event("/first")])
    assert first.prelude is not None
    assert second.prelude is not None
    assert first.prelude.headers["x-isr-cache"] == "miss"
    assert second.prelude.headers["x-isr-cache"] == "hit"
    assert len(first.body_chunks) >= 2
    assert first.body_chunks[-1].at - first.body_chunks[0].at >= 0.15
    assert b"The first post." in first.body
    assert second.body == first.body
    host = make_event()["headers"]["host"]
    assert purge({"host": host, "paths": ["/first"]}, FakeContext()) == {
        "statusCode": 200,
        "purged": {"/first": True},
    }
    (third,) = run_in_process(api, blog, [make_event("/first")])
    assert third.prelude is not None
    assert third.prelude.headers["x-isr-cache"] == "miss"
    assert purge({"paths": "/first"}, FakeContext())["statusCode"] == 400


def test_ssr_streaming_streams_and_also_runs_buffered(api: FakeRuntimeApi) -> None:
    (streamed,) = run_in_process(api, ssr, [make_event("/search")])
    assert isinstance(streamed.final, StreamEnd)
    assert streamed.prelude is not None
    assert streamed.prelude.headers["cache-control"] == "no-store"
    chunks = streamed.body_chunks
    assert len(chunks) == 5
    assert chunks[-1].at - chunks[0].at >= 0.25
    buffered = ssr(make_event("/search"), FakeContext())
    assert buffered["statusCode"] == 200
    assert buffered["body"].encode() == streamed.body


def test_plain_buffered_handler_is_unchanged_under_the_runtime(api: FakeRuntimeApi) -> None:
    event = make_event("/", query="name=lambda")
    event["queryStringParameters"] = {"name": "lambda"}
    (done,) = run_in_process(api, plain, [event])
    assert isinstance(done.final, BufferedResult)
    result = done.final.json()
    assert result == plain(event, FakeContext(aws_request_id=result_request_id(result)))
    assert json.loads(result["body"])["hello"] == "lambda"


def result_request_id(result: dict[str, object]) -> str:
    body = json.loads(str(result["body"]))
    return str(body["request_id"])
