"""Issue 16, item 12: ``lambda-isr dev`` answers hostile requests and responses the way a
Function URL does, over a real socket against the real server and worker process:

- a body over the 6 MiB request payload limit (``Content-Length: 100000000000000``, a chunk
  size of ``0xffffffffffff``) is a 413, never read into memory;
- unusable framing (``Content-Length: 1e14`` or ``-1``, a chunk size that is not hex) is a 400
  at once, without holding a thread;
- a handler whose response head holds CR/LF (or NUL, or a header name that is not a token) gets
  a 502, and none of its head reaches the client.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lambda_isr.dev.log import DevLog
from lambda_isr.dev.runner import DevConfig, DevServer
from lambda_isr.dev.server import MAX_BODY
from tests.dev.helpers import SITE, Dev, LogBuffer, worker_environ

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

HOSTILE = """
import json

BAD = {
    "/crlf": {"headers": {"x-evil": "a\\r\\nInjected: yes"}},
    "/lf": {"headers": {"x-evil": "a\\nInjected: yes"}},
    "/nul": {"headers": {"x-evil": "a\\u0000b"}},
    "/name": {"headers": {"bad name": "v"}},
    "/cookie": {"cookies": ["a=b\\r\\nInjected: yes"]},
}


def handler(event, context):
    extra = BAD.get(event["rawPath"], {})
    body = json.dumps({"path": event["rawPath"], "length": len(event.get("body") or "")})
    return {"statusCode": 200, "body": body, **extra}
"""


@contextmanager
def hostile_dev(tmp_path: Path) -> Iterator[Dev]:
    root = tmp_path / "task"
    shutil.copytree(SITE, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "hostile.py").write_text(HOSTILE)
    log = LogBuffer()
    config = DevConfig(
        handler="hostile.handler",
        task_root=root,
        port=0,
        workers=1,
        timeout=30,
        environ=worker_environ(tmp_path),
    )
    with DevServer(config, DevLog(log)) as server:
        yield Dev(server, log, root, tmp_path / "renders.log")


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    with hostile_dev(tmp_path_factory.mktemp("issue16-dev")) as running:
        yield running


def exchange(dev: Dev, raw: bytes) -> tuple[int, dict[str, str], bytes, bytes]:
    """Send ``raw`` as it is; (status, headers, body, raw head) of the one answer.

    A refused request sends nothing the server leaves unread: closing a socket with unread
    bytes is a reset, which may discard the answer before the client reads it."""
    with socket.create_connection(dev.address, timeout=60) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        head = bytes(str(response.msg), "latin-1")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body, head


def post_head(*headers: str) -> bytes:
    lines = ["POST /upload HTTP/1.1", "Host: localhost", *headers, "", ""]
    return "\r\n".join(lines).encode()


def assert_still_serving(dev: Dev) -> None:
    status, _, body, _ = exchange(dev, b"GET /ok HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert (status, json.loads(body)["path"]) == (200, "/ok")


@pytest.mark.parametrize(
    "raw",
    [
        post_head("Content-Length: 100000000000000"),
        post_head(f"Content-Length: {MAX_BODY + 1}"),
        post_head("Transfer-Encoding: chunked") + b"ffffffffffff\r\n",
        post_head("Transfer-Encoding: chunked") + b"400000\r\n" + b"x" * 0x400000 + b"\r\n"
        b"300000\r\n",  # 4 MiB, then 3 more announced: over the limit in total
    ],
    ids=["content-length-1e14", "content-length-6MiB+1", "chunk-0xffffffffffff", "chunks-total"],
)
def test_a_body_over_the_payload_limit_is_a_413(dev: Dev, raw: bytes) -> None:
    status, headers, body, _ = exchange(dev, raw)
    assert status == 413
    assert headers.get("connection") == "close"
    assert json.loads(body)["Message"]
    assert_still_serving(dev)


@pytest.mark.parametrize(
    "raw",
    [
        post_head("Content-Length: 1e14"),
        post_head("Content-Length: -1"),
        post_head("Content-Length: 5", "Content-Length: 6"),
        post_head("Transfer-Encoding: chunked") + b"zz\r\n",
        post_head("Transfer-Encoding: chunked") + b"-1\r\n",
        post_head("Transfer-Encoding: gzip, chunked"),
    ],
    ids=["1e14", "minus-one", "two-lengths", "chunk-not-hex", "chunk-negative", "gzip"],
)
def test_unusable_framing_is_a_400_at_once(dev: Dev, raw: bytes) -> None:
    status, headers, _, _ = exchange(dev, raw)
    assert status == 400
    assert headers.get("connection") == "close"
    assert_still_serving(dev)


def test_bodies_within_the_limit_still_reach_the_function(dev: Dev) -> None:
    payload = b"a" * 100_000
    pieces = (payload[:60_000], payload[60_000:])
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    text = "Content-Type: text/plain"
    for raw in (
        post_head(f"Content-Length: {len(payload)}", text) + payload,
        post_head("Transfer-Encoding: chunked", text) + chunked,
    ):
        status, _, body, _ = exchange(dev, raw)
        assert (status, json.loads(body)["length"]) == (200, len(payload))


@pytest.mark.parametrize("path", ["/crlf", "/lf", "/nul", "/name", "/cookie"])
def test_a_response_head_with_control_characters_is_a_502(dev: Dev, path: str) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
    status, headers, body, head = exchange(dev, request)
    assert status == 502
    assert b"Injected" not in head
    assert "x-evil" not in headers
    assert "injected" not in headers
    assert json.loads(body)["errorType"] == "Runtime.InvalidResponse"
    assert_still_serving(dev)


def test_no_traceback_in_the_server_log(dev: Dev) -> None:
    for raw in (post_head("Content-Length: 100000000000000"), post_head("Content-Length: -1")):
        exchange(dev, raw)
    exchange(dev, b"GET /crlf HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert_still_serving(dev)
    text = dev.log.text()
    assert "Traceback" not in text
    assert "MemoryError" not in text
    assert "POST /upload 413" in text
