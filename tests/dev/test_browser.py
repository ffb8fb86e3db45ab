"""A real browser renders the first part of a streamed page while the rest is still rendering;
the demo site's Vite-built module runs (it reads the page's hydration data) and its stylesheets
apply, served at /assets/* by ``lambda-isr dev``.

The page's first part holds an inline script that stamps ``performance.now()`` on ``<body>`` when
it runs; the handler then pauses before sending the second part, whose script stamps again.
Both stamps are read from the final DOM: if Chromium only got the page at the end, both scripts
would run back to back; streamed, the first ran a full pause before the second.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lambda_isr.dev.log import DevLog
from lambda_isr.dev.runner import DevConfig, DevServer
from tests.app.assets_support import HANDLER, ensure_frontend
from tests.dev.cdp import Browser
from tests.dev.helpers import LogBuffer, dev_server, worker_environ
from tests.dev.site.app import BROWSER_PAUSE
from tests.support.browser import BrowserUnavailableError, dump_dom, ensure_chromium

pytestmark = pytest.mark.slow


def test_chromium_runs_the_first_part_before_the_render_finishes(tmp_path: Path) -> None:
    try:
        ensure_chromium()
    except BrowserUnavailableError as exc:
        pytest.fail(f"headless Chromium is required: {exc}")
    with dev_server(tmp_path, "app.stream", workers=1) as dev:
        dom = dump_dom(dev.url + "browser")
        log = dev.log.wait_for("GET /browser 200")
    first = re.search(r'data-first="([\d.]+)"', dom)
    second = re.search(r'data-second="([\d.]+)"', dom)
    assert first is not None, dom
    assert second is not None, dom
    assert 'id="second"' in dom
    gap_ms = float(second.group(1)) - float(first.group(1))
    print(f"first part ran {gap_ms:.0f} ms before the second")
    # The pause is 2 s; anything near it proves the first part was parsed and run early.
    assert gap_ms >= BROWSER_PAUSE * 1000 / 2, (gap_ms, log)


def test_the_demo_module_hydrates_and_its_stylesheets_apply(tmp_path: Path) -> None:
    """``make dev``'s site in Chromium: the post page's button works only once the module read
    the hydration data; the shared chunk's and the entry's stylesheets are computed styles."""
    try:
        ensure_chromium()
    except BrowserUnavailableError as exc:
        pytest.fail(f"headless Chromium is required: {exc}")
    ensure_frontend()
    environ = {**worker_environ(tmp_path), "DEMO_DATA_DELAY": "0.05"}
    config = DevConfig(handler="app.handler", task_root=HANDLER, port=0, workers=1, environ=environ)
    log = LogBuffer()
    with DevServer(config, DevLog(log)) as server, Browser() as page:
        page.open(server.url + "posts/hello-world")
        page.wait_for("document.documentElement.dataset.hydrated === 'post'")
        button = "document.getElementById('about-post')"
        assert page.evaluate(f"{button}.disabled") is False  # disabled in the server's HTML
        assert page.evaluate(f"{button}.textContent") == "About “Hello, streaming world”"
        page.evaluate(f"{button}.click()")
        output = page.evaluate("document.getElementById('about-post-output').textContent")
        assert output.startswith("“Hello, streaming world” (/posts/hello-world), generated at")
        style = f"getComputedStyle({button})"
        assert page.evaluate(f"{style}.backgroundColor") == "rgb(21, 101, 192)"  # post.css
        assert page.evaluate("getComputedStyle(document.body).maxWidth") == "672px"  # shared
        shot = page.screenshot()
        (tmp_path / "demo-post.png").write_bytes(shot)
        assert shot.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(shot) > 5_000
    lines = log.text()
    for needed in ("GET /posts/hello-world 200", ".js 200", ".css 200"):
        assert needed in lines, lines
    assert not re.search(r"GET /assets/\S+ 404", lines), lines
