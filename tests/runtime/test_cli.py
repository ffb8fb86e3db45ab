"""``lambda-isr invoke``: streaming through the real loop, and the stock (buffered) way."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_isr import cli

HANDLER = """
import time
from lambda_isr.runtime.stream import ResponseHead, streaming

@streaming
def page(event, context):
    yield ResponseHead(200, {"content-type": "text/html"}, ["s=1"])
    yield "<p>one</p>"
    time.sleep(0.2)
    yield "<p>two</p>"

def broken(event, context):
    raise ValueError("bad")
"""


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "cli_app.py").write_text(HANDLER)
    (tmp_path / "event.json").write_text(json.dumps({"rawPath": "/"}))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "restored-after-test")
    yield tmp_path
    sys.modules.pop("cli_app", None)


def invoke(app: Path, handler: str, *extra: str) -> int:
    event = str(app / "event.json")
    return cli.main(["invoke", event, "--handler", handler, "--task-root", str(app), *extra])


def test_invoke_streams_with_arrival_times(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert invoke(app, "cli_app.page") == 0
    out = capsys.readouterr().out
    assert "status 200" in out
    assert "content-type: text/html" in out
    assert "set-cookie: s=1" in out
    stamps = [float(m) for m in re.findall(r"\[\+\s*([\d.]+) ms\] chunk", out)]
    assert len(stamps) == 2
    assert stamps[1] - stamps[0] >= 150
    assert out.index("<p>one</p>") < out.index("<p>two</p>") < out.index("end of stream")


def test_invoke_buffered(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert invoke(app, "cli_app.page", "--buffered") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["body"] == "<p>one</p><p>two</p>"
    assert result["cookies"] == ["s=1"]


def test_invoke_reports_errors(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert invoke(app, "cli_app.broken") == 1
    assert "invocation error ValueError" in capsys.readouterr().out
    assert invoke(app, "cli_app.broken", "--buffered") == 1
    assert json.loads(capsys.readouterr().out)["errorType"] == "ValueError"
    assert invoke(app, "cli_app.missing") == 1
    assert "init error Runtime.HandlerNotFound" in capsys.readouterr().out
