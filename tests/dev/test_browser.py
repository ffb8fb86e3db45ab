"""A real browser renders the first part of a streamed page while the rest is still rendering.

The page's first part holds an inline script that stamps ``performance.now()`` on ``<body>`` when
it runs; the handler then pauses before sending the second part, whose script stamps again.
Both stamps are read from the final DOM: if Chromium only got the page at the end, both scripts
would run back to back; streamed, the first ran a full pause before the second.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.dev.helpers import dev_server
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
