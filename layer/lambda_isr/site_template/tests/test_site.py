"""The site's pages, called the way Lambda calls them: buffered (``sam local invoke``, the
stock runtime), and streamed through lambda-isr's runtime loop (``lambda-isr invoke``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from app import handler

SITE = Path(__file__).resolve().parents[1]


def event(path: str) -> dict[str, Any]:
    """``events/get.json`` for another path."""
    data: dict[str, Any] = json.loads((SITE / "events" / "get.json").read_text())
    data["rawPath"] = data["requestContext"]["http"]["path"] = path
    return data


def get(path: str) -> dict[str, Any]:
    response: dict[str, Any] = handler(event(path), None)
    return response


def test_home_is_rendered_once_then_served_from_the_cache() -> None:
    first, second = get("/"), get("/")
    assert first["statusCode"] == 200
    assert first["headers"]["x-isr-cache"] == "miss"
    assert second["headers"]["x-isr-cache"] == "hit"
    assert second["body"] == first["body"]
    assert '<a href="/posts/hello-world">Hello, world</a>' in first["body"]


def test_a_post_has_its_title_and_an_unknown_one_is_a_404() -> None:
    found, missing = get("/posts/streaming"), get("/posts/nope")
    assert found["statusCode"] == 200
    assert "<title>Streaming · " in found["body"]
    assert missing["statusCode"] == 404
    assert get("/no/such/page")["statusCode"] == 404


def test_now_is_rendered_for_every_request() -> None:
    first, second = get("/now"), get("/now")
    assert first["statusCode"] == second["statusCode"] == 200
    assert "x-isr-cache" not in first["headers"] or first["headers"]["x-isr-cache"] == "bypass"


def test_a_post_streams_through_the_runtime_loop() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lambda_isr.cli", "invoke", "events/get-post.json", "app.handler",
         "--task-root", "handler"],
        cwd=SITE, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "status 200" in done.stdout
    assert done.stdout.count(" chunk ") >= 2  # the head, then the article as it renders
    assert "The first post of" in done.stdout
