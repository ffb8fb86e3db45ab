"""End to end through the dev server: real HTTP, real worker processes, the embedded store."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.dev.helpers import Dev, dev_server

pytestmark = pytest.mark.slow


@pytest.fixture
def isr(tmp_path: Path) -> Iterator[Dev]:
    # One sandbox: a page is stored after its response ended, before the runtime asks for the
    # next event, so the next request is a plain ``hit`` (with two, it may be a ``wait-hit``).
    with dev_server(tmp_path, "app.page", workers=1) as dev:
        yield dev


@pytest.fixture
def streams(tmp_path: Path) -> Iterator[Dev]:
    with dev_server(tmp_path, "app.stream") as dev:
        yield dev


def test_isr_page_misses_then_hits_then_304(isr: Dev) -> None:
    first = isr.get("/posts/a")
    second = isr.get("/posts/a")
    assert (first.status, first.header("x-isr-cache")) == (200, "miss")
    assert (second.status, second.header("x-isr-cache")) == (200, "hit")
    assert first.body == second.body == b"<h1>/posts/a</h1><p>the end</p>"
    assert len(isr.render_lines()) == 1
    etag = second.header("etag")
    assert etag
    cached = isr.get("/posts/a", headers={"If-None-Match": etag})
    assert (cached.status, cached.body) == (304, b"")
    log = isr.log.wait_for("GET /posts/a 304")
    assert "GET /posts/a 200 cache=miss ttfb=" in log
    assert "GET /posts/a 200 cache=hit" in log


def test_head_has_headers_and_no_body(isr: Dev) -> None:
    isr.get("/h")
    head = isr.request("HEAD", "/h")
    assert head.status == 200
    assert head.header("x-isr-cache") == "hit"
    assert head.header("content-type") == "text/html; charset=utf-8"
    assert head.body == b""


def test_late_failure_ends_with_the_footer_and_logs_the_error(isr: Dev) -> None:
    response = isr.get("/posts/b?fail=late")
    assert response.status == 200
    assert response.body.startswith(b"<h1>/posts/b</h1>")
    assert b"data-lambda-isr-error" in response.body
    log = isr.log.wait_for("stream ended with an error")
    assert "RuntimeError: the template blew up late" in log


def test_chunks_reach_the_client_as_the_handler_produces_them(streams: Dev) -> None:
    response = streams.get("/slow")
    assert response.complete
    assert response.body == b"chunk 0\nchunk 1\nchunk 2\n"
    assert response.header("transfer-encoding") == "chunked"
    arrivals = {}
    for at, data in response.chunks:
        for line in data.decode().splitlines():
            arrivals[line] = at
    assert list(arrivals) == ["chunk 0", "chunk 1", "chunk 2"]
    # The handler sleeps 300 ms between chunks: the client saw them apart, not all at once.
    assert arrivals["chunk 1"] - arrivals["chunk 0"] >= 0.15
    assert arrivals["chunk 2"] - arrivals["chunk 1"] >= 0.15


def test_post_body_query_and_cookies_both_ways(streams: Dev) -> None:
    response = streams.request(
        "POST",
        "/echo?q=1&q=2",
        headers={"Content-Type": "application/json", "Cookie": "a=1; b=two"},
        body=b'{"hello": "world"}',
    )
    assert response.status == 201
    assert response.all("set-cookie") == ["x=1; Path=/", "y=2; HttpOnly"]
    echoed = json.loads(response.body)
    assert echoed["method"] == "POST"
    assert echoed["body"] == '{"hello": "world"}'
    assert echoed["isBase64Encoded"] is False
    assert echoed["cookies"] == ["a=1", "b=two"]
    assert echoed["queryStringParameters"] == {"q": "1,2"}
    assert "cookie" not in echoed["headers"]


def test_binary_post_is_base64(streams: Dev) -> None:
    payload = bytes(range(256))
    response = streams.request(
        "PUT", "/echo", headers={"Content-Type": "application/octet-stream"}, body=payload
    )
    echoed = json.loads(response.body)
    assert echoed["method"] == "PUT"
    assert echoed["isBase64Encoded"] is True
    assert base64.b64decode(echoed["body"]) == payload


def test_buffered_results_map_like_a_function_url(tmp_path: Path) -> None:
    with dev_server(tmp_path, "app.plain", workers=1) as dev:
        text = dev.get("/string")
        binary = dev.get("/binary")
        full = dev.request("POST", "/full", body=b"abc", headers={"Content-Type": "text/plain"})
        failed = dev.get("/fail")
        head = dev.request("HEAD", "/string")
        log = dev.log.wait_for("GET /fail 502")
    assert (text.status, text.header("content-type"), text.body) == (
        200,
        "application/json",
        b'"hello"',
    )
    assert binary.body == bytes(range(256))
    assert full.status == 202
    assert full.header("x-plain") == "yes"
    assert full.all("set-cookie") == ["p=1"]
    assert json.loads(full.body) == {"body": "abc", "b64": False}
    assert failed.status == 502
    error = json.loads(failed.body)
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "plain handler failed")
    assert "invocation error: ValueError: plain handler failed" in log
    assert (head.status, head.body, head.header("content-length")) == (200, b"", "7")


def test_crashed_worker_gets_a_502_and_is_replaced(tmp_path: Path) -> None:
    with dev_server(tmp_path, "app.stream", workers=1) as dev:
        before = dev.server.pool.pids()
        crashed = dev.get("/crash")
        after = dev.get("/slow")
        log = dev.log.wait_for("died: Runtime exited with error: exit status 3")
        pids = dev.server.pool.pids()
    assert crashed.status == 502
    error = json.loads(crashed.body)
    assert error["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in error["errorMessage"]
    assert after.status == 200
    assert after.body == b"chunk 0\nchunk 1\nchunk 2\n"
    assert pids != before
    assert "GET /crash 502" in log


def test_worker_dying_mid_stream_cuts_the_response(streams: Dev) -> None:
    cut = streams.get("/crash-late")
    assert (cut.status, cut.body, cut.complete) == (200, b"<p>before the crash</p>", False)
    streams.log.wait_for("died: Runtime exited with error: exit status 4")
    assert streams.get("/slow").status == 200


def test_invocation_timeout_is_a_502_and_a_new_sandbox(tmp_path: Path) -> None:
    with dev_server(tmp_path, "app.stream", workers=1, timeout=1) as dev:
        slept = dev.get("/sleep")
        after = dev.get("/slow")
        log = dev.log.wait_for("Task timed out after 1.00 seconds")
    assert slept.status == 502
    assert json.loads(slept.body)["errorType"] == "Sandbox.Timedout"
    assert after.status == 200
    assert "died: Runtime exited with error: signal: SIGKILL" in log


def test_init_error_is_logged_and_answered_502(tmp_path: Path) -> None:
    with dev_server(tmp_path, "app.missing", workers=1) as dev:
        response = dev.get("/")
        log = dev.log.wait_for("failed to start: Runtime.HandlerNotFound")
    assert response.status == 502
    error = json.loads(response.body)
    assert error["errorType"] == "Runtime.HandlerNotFound"
    assert "missing" in error["errorMessage"]
    assert "GET / 502" in log


def test_stale_page_under_16_concurrent_requests_renders_once(tmp_path: Path) -> None:
    with dev_server(tmp_path, "app.stale_page", workers=4) as dev:
        assert dev.get("/stale").header("x-isr-cache") == "miss"
        # warm every worker on other pages, then let /stale go stale (revalidate=3)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: dev.get(f"/warm{i}"), range(4)))
        renders_before = [line for line in dev.render_lines() if line.startswith("/stale ")]
        time.sleep(3.2)
        with ThreadPoolExecutor(16) as pool:
            responses = list(pool.map(lambda _: dev.get("/stale"), range(16)))
        renders = [line for line in dev.render_lines() if line.startswith("/stale ")]
    assert len(renders_before) == 1
    assert [r.status for r in responses] == [200] * 16
    states = [r.header("x-isr-cache") for r in responses]
    print("x-isr-cache:", states)
    assert len(renders) == 2, (states, renders)
    assert states.count("miss") == 1
    assert set(states) <= {"miss", "stale", "hit", "wait-hit"}
    assert "stale" in states or "wait-hit" in states


def test_reload_restarts_workers_on_change(tmp_path: Path) -> None:
    with dev_server(tmp_path, "app.stream", workers=1, reload=True) as dev:
        assert dev.get("/slow").body.startswith(b"chunk 0")
        source = dev.root / "app.py"
        source.write_text(source.read_text().replace('f"chunk {index}\\n"', 'f"part {index}\\n"'))
        dev.log.wait_for("reload: app.py changed; restarting the workers")
        body = dev.get("/slow").body
        log = dev.log.text()
    # The first request after the change already sees the new code (the old worker was idle).
    assert body == b"part 0\npart 1\npart 2\n"
    assert log.count("worker 1 started") == 2


def test_reload_after_a_syntax_error_recovers(tmp_path: Path) -> None:
    with dev_server(tmp_path, "app.stream", workers=1, reload=True) as dev:
        source = dev.root / "app.py"
        good = source.read_text()
        source.write_text(good + "\ndef broken(:\n")
        dev.log.wait_for("failed to start: Runtime.UserCodeSyntaxError")
        broken = dev.get("/slow")
        source.write_text(good)
        dev.log.wait_for("reload: app.py changed", timeout=10, count=2)
        fixed = dev.get("/slow")
    assert broken.status == 502
    assert json.loads(broken.body)["errorType"] == "Runtime.UserCodeSyntaxError"
    assert fixed.status == 200
