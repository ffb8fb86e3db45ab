"""A FaceApp page through the real runtime loop: the document shell is the first chunk and
reaches the client before the body has rendered; buffered and streamed answers agree."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator

import pytest

from lambda_isr import FaceRequest
from lambda_isr.app import Hydration, Loaded, Page, PageHead
from lambda_isr.runtime.recording import PendingInvocation, StreamEnd
from tests.app.helpers import AppEnv, make_app
from tests.isr.helpers import FakeContext
from tests.support.events import make_event
from tests.support.fake_runtime_api import FakeRuntimeApi, make_runtime, run_in_process

COMPARED = ("content-type", "cache-control", "x-isr-cache", "cache-status")


@pytest.fixture
def api() -> Iterator[FakeRuntimeApi]:
    with FakeRuntimeApi() as fake:
        yield fake


def _site(pending: list[PendingInvocation]) -> tuple[AppEnv, list[bool]]:
    env = make_app(head=PageHead(lang="en", title="Site"), title_template="%s · Site")
    shell_arrived_first: list[bool] = []

    def load(request: FaceRequest) -> Loaded:
        return Loaded(request.params["slug"], head=PageHead(title=request.params["slug"]))

    def body(slug: str) -> Iterator[str]:
        # the slow part: it starts only once the client holds the shell
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and pending:
            chunks = pending[0].body_chunks
            if chunks:
                shell_arrived_first.append(chunks[0].data.endswith(b"<body>"))
                break
            time.sleep(0.005)
        yield f"<article>{slug}</article>"

    @env.app.face("/posts/{slug}", revalidate=60, load=load)
    def post(request: FaceRequest, slug: str) -> Page:
        return Page(body=body(slug), hydration=Hydration({"slug": slug}, bootstrap="/main.js"))

    return env, shell_arrived_first


def test_the_shell_is_the_first_chunk_and_arrives_before_the_body(api: FakeRuntimeApi) -> None:
    pending: list[PendingInvocation] = []
    env, arrived = _site(pending)
    pending.append(api.enqueue(make_event("/posts/hello")))
    runtime = make_runtime(api, env.app)
    thread = threading.Thread(target=lambda: runtime.serve(1), daemon=True)
    thread.start()
    (streamed,) = (p.wait(20) for p in pending)
    thread.join(20)
    runtime.client.close()
    assert isinstance(streamed.final, StreamEnd)
    assert streamed.final.error_type is None
    assert streamed.prelude is not None
    assert streamed.prelude.status == 200
    assert streamed.prelude.headers["x-isr-cache"] == "miss"
    first = streamed.body_chunks[0].data
    assert first.startswith(b'<!doctype html><html lang="en"><head><meta charset="utf-8">')
    assert b"<title>hello \xc2\xb7 Site</title>" in first
    assert first.endswith(b"</head><body>")
    assert arrived == [True]
    assert streamed.body.endswith(b'src="/main.js"></script></body></html>')


@pytest.mark.parametrize("path", ["/posts/hello", "/nowhere", "/posts/a%2Fb"])
def test_streamed_and_buffered_answers_agree(api: FakeRuntimeApi, path: str) -> None:
    buffered = _site([])[0].app(make_event(path), FakeContext())
    (streamed,) = run_in_process(api, _site([])[0].app, [make_event(path)])
    assert isinstance(streamed.final, StreamEnd)
    assert streamed.prelude is not None
    assert streamed.prelude.status == buffered["statusCode"]
    for header in COMPARED:
        assert streamed.prelude.headers.get(header) == buffered["headers"].get(header), header
    body = buffered["body"]
    expected = base64.b64decode(body) if buffered["isBase64Encoded"] else body.encode()
    assert streamed.body == expected
