"""The demo site (handler/app.py) on FaceApp, through the real runtime loop."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from lambda_isr.runtime.recording import StreamEnd
from tests.support.events import make_event
from tests.support.fake_runtime_api import FakeRuntimeApi, run_in_process

HANDLER_DIR = Path(__file__).resolve().parents[2] / "handler"


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.setenv("LAMBDA_ISR_DIR", str(tmp_path / "store"))
    monkeypatch.delenv("FACETHEORY_CACHE_TABLE_NAME", raising=False)
    monkeypatch.delenv("LAMBDA_ISR_SITE_HOST", raising=False)
    monkeypatch.syspath_prepend(str(HANDLER_DIR))
    for name in ("app", "data"):
        sys.modules.pop(name, None)
    data = importlib.import_module("data")
    monkeypatch.setattr(data, "DELAY", 0.05)
    yield importlib.import_module("app")
    for name in ("app", "data"):
        sys.modules.pop(name, None)


@pytest.fixture
def api() -> Iterator[FakeRuntimeApi]:
    with FakeRuntimeApi() as fake:
        yield fake


def test_demo_pages_stream_with_the_shell_first(demo: ModuleType, api: FakeRuntimeApi) -> None:
    paths = ["/", "/posts/hello-world", "/posts/hello-world", "/docs", "/docs/routing", "/live"]
    paths += ["/no/such/page", "/another/unknown", "/posts/nope", "/docs/nope"]
    answers = run_in_process(api, demo.handler, [make_event(p) for p in paths], timeout=60)
    got: dict[str, list[tuple[int, str]]] = {}
    for path, answer in zip(paths, answers, strict=True):
        assert isinstance(answer.final, StreamEnd), (path, answer.final)
        assert answer.final.error_type is None
        assert answer.prelude is not None
        got.setdefault(path, []).append(
            (answer.prelude.status, answer.prelude.headers["x-isr-cache"])
        )
        first = answer.body_chunks[0].data
        assert first.startswith(b'<!doctype html><html lang="en"><head>'), path
        if answer.prelude.headers["x-isr-cache"] != "hit":  # a hit is the stored copy
            assert first.endswith(b"<body>"), path
        assert answer.body.endswith(b"</body></html>"), path
    assert got["/posts/hello-world"] == [(200, "miss"), (200, "hit")]
    assert got["/live"] == [(200, "bypass")]
    assert got["/no/such/page"] == [(404, "miss")]
    assert got["/another/unknown"] == [(404, "hit")]  # one shared not-found page
    assert got["/posts/nope"] == [(404, "miss")]
    assert got["/docs/nope"] == [(404, "miss")]
    post = answers[1]
    assert b"<title>Hello, streaming world \xc2\xb7 lambda-isr demo</title>" in post.body
    assert len(post.body_chunks) > 2  # the slow "more posts" list streams after the shell


def test_demo_handler_answers_buffered_too(demo: ModuleType) -> None:
    response = demo.handler(make_event("/docs/routing/catch-all"), None)
    assert response["statusCode"] == 200
    assert "Catch-all routes" in response["body"]
