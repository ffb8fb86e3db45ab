"""Handlers the dev-server tests serve (copied into a temporary task root per test)."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lambda_isr import FaceRequest, FaceResult, isr_face
from lambda_isr.runtime.stream import Head, streaming

RENDERS = Path(os.environ.get("DEV_TEST_RENDERS", "renders.log"))
BROWSER_PAUSE = 2.0
HTML = {"content-type": "text/html; charset=utf-8"}
PADDING = "<!-- padding -->" * 128  # past any sniffing buffer: the parser must start now


def _record(what: str) -> None:
    with RENDERS.open("a") as log:
        log.write(f"{what} pid={os.getpid()} at={time.time():.3f}\n")


@isr_face(revalidate=3600, vary_query=["fail"])
def page(request: FaceRequest) -> FaceResult:
    """An ISR page; ``?fail=late`` raises after its first chunk."""
    _record(request.path)

    def body() -> Iterator[str]:
        yield f"<h1>{request.path}</h1>"
        if request.first("fail") == "late":
            time.sleep(0.05)
            raise RuntimeError("the template blew up late")
        yield "<p>the end</p>"

    return FaceResult(headers=HTML, body=body())


@isr_face(revalidate=3, lease_seconds=10, wait_timeout=10)
def stale_page(request: FaceRequest) -> FaceResult:
    """Stale three seconds after each render; renders take a while."""
    _record(request.path)
    time.sleep(0.5)
    return FaceResult(headers=HTML, body=f"<p>rendered at {time.time()}</p>")


@streaming
def stream(event: dict[str, Any], context: object) -> Iterator[str | Head]:
    path = event["rawPath"]
    if path == "/crash":
        os._exit(3)
    if path == "/sleep":
        time.sleep(30)
    if path == "/crash-late":
        yield Head(200, HTML)
        yield "<p>before the crash</p>"
        time.sleep(0.2)
        os._exit(4)
    if path == "/echo":
        yield Head(201, {"content-type": "application/json"}, ["x=1; Path=/", "y=2; HttpOnly"])
        keys = ("body", "isBase64Encoded", "cookies", "queryStringParameters", "headers")
        method = event["requestContext"]["http"]["method"]
        yield json.dumps({"method": method, **{k: event.get(k) for k in keys}})
        return
    if path == "/browser":
        yield Head(200, HTML)
        yield (
            "<!doctype html><html><head><title>streamed</title></head><body>"
            '<p id="first">first part</p>'
            "<script>document.body.dataset.first = String(performance.now())</script>"
            f"{PADDING}"
        )
        time.sleep(BROWSER_PAUSE)
        yield (
            '<p id="second">second part</p>'
            "<script>document.body.dataset.second = String(performance.now())</script>"
            "</body></html>"
        )
        return
    yield Head(200, {"content-type": "text/plain; charset=utf-8"})
    for index in range(3):
        if index:
            time.sleep(0.3)
        yield f"chunk {index}\n"


def plain(event: dict[str, Any], context: object) -> Any:
    """A handler the stock way: buffered results."""
    path = event["rawPath"]
    if path == "/string":
        return "hello"
    if path == "/fail":
        raise ValueError("plain handler failed")
    if path == "/binary":
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/octet-stream"},
            "body": base64.b64encode(bytes(range(256))).decode(),
            "isBase64Encoded": True,
        }
    return {
        "statusCode": 202,
        "headers": {"content-type": "application/json", "x-plain": "yes"},
        "cookies": ["p=1"],
        "body": json.dumps({"body": event.get("body"), "b64": event.get("isBase64Encoded")}),
    }
