"""Log lines, EMF metrics and trace subsegments, per request, streamed part included."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from lambda_isr.http.request import FaceRequest
from lambda_isr.observability import tracing_enabled
from tests.isr.helpers import FakeContext, key_for, make_env, stream
from tests.support.events import load_event


def _emf(out: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if "_aws" in line]


def test_every_line_of_a_request_carries_both_request_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def face(request: FaceRequest) -> Iterator[str]:
        yield "<p>a</p>"
        env.face.observability.logger.info("inside the streamed part")
        yield "<p>b</p>"

    env = make_env(face)
    stream(env, load_event("get"), FakeContext(aws_request_id="lambda-123"))
    env.face.observability.logger.info("between requests")
    lines = env.log_lines()
    inside = next(line for line in lines if line["message"] == "inside the streamed part")
    summary = env.summaries()[0]
    for line in (inside, summary):
        assert line["correlation_id"] == "11111111-0000-4000-8000-000000000001"
        assert line["function_request_id"] == "lambda-123"
        assert line["function_name"] == "isr-fn"
    after = next(line for line in lines if line["message"] == "between requests")
    assert "correlation_id" not in after or after["correlation_id"] is None
    assert "function_request_id" not in after
    assert summary["cache_state"] == "miss"
    assert summary["cache_key"] == key_for()
    assert summary["stored"] is True
    assert summary["bytes"] == len(b"<p>a</p><p>b</p>")
    assert {"metadata_read_ms", "first_byte", "render_ms", "commit_ms", "total"} <= set(
        summary["timings_ms"]
    )
    assert summary["cold_start"] is True
    stream(env, load_event("get"))
    assert env.summaries()[1]["cold_start"] is False
    metrics = _emf(capsys.readouterr().out)
    assert [m.get("CacheMiss") for m in metrics] == [[1.0], None]
    assert metrics[1]["CacheHit"] == [1.0]
    assert "RenderTime" in metrics[0]


def test_stream_error_and_contention_are_counted(capsys: pytest.CaptureFixture[str]) -> None:
    def face(request: FaceRequest) -> Iterator[str]:
        yield "<p>a</p>"
        raise RuntimeError("late")

    env = make_env(face)
    stream(env, load_event("get"))
    metrics = _emf(capsys.readouterr().out)
    assert metrics[-1]["StreamError"] == [1.0]
    errors = [line for line in env.log_lines() if line["level"] == "ERROR"]
    assert errors
    assert errors[0]["correlation_id"] == "11111111-0000-4000-8000-000000000001"


def test_metrics_flush_after_the_commit(capsys: pytest.CaptureFixture[str]) -> None:
    env = make_env()
    original = env.meta.inner.commit_generation
    seen: list[str] = []

    def commit(*args: Any) -> None:
        seen.append(capsys.readouterr().out)
        original(*args)

    env.meta.inner.commit_generation = commit
    stream(env, load_event("get"))
    assert seen == [""]  # nothing flushed before the commit
    assert _emf(capsys.readouterr().out)


def test_repeated_hits_emit_the_same_metrics_as_the_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A (name, unit) pair goes through Powertools' add_metric once; later requests put their
    values into its metric set directly: the EMF documents must not tell the difference."""
    env = make_env()
    for _ in range(4):
        stream(env, load_event("get"))
    metrics = _emf(capsys.readouterr().out)
    hits = [m for m in metrics if "CacheHit" in m]
    assert len(hits) == 3
    for m in hits:
        m["_aws"].pop("Timestamp")
    assert hits[1] == hits[0] == hits[2]
    definitions = hits[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    assert {"Name": "CacheHit", "Unit": "Count"} in definitions
    assert hits[0]["CacheHit"] == [1.0]
    # A metric of the same name the application added during the request is merged, as
    # add_metric would (the direct path never replaces an entry).
    env.face.observability.metrics.add_metric(name="CacheHit", unit="Count", value=1)
    stream(env, load_event("get"))
    assert _emf(capsys.readouterr().out)[-1]["CacheHit"] == [1.0, 1.0]


class FakeTracer:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.provider = self

    @contextlib.contextmanager
    def in_subsegment(self, name: str) -> Iterator[None]:
        self.names.append(name)
        yield


def test_tracer_subsegments() -> None:
    tracer = FakeTracer()
    env = make_env(tracer=tracer)
    stream(env, load_event("get"))
    assert tracer.names[0] == "## metadata_read"
    assert {"## render", "## commit"} <= set(tracer.names)


def test_tracing_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    assert not tracing_enabled(None)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    assert tracing_enabled(None)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert not tracing_enabled(None)
    assert tracing_enabled(True)


def test_import_and_decoration_load_neither_boto3_nor_the_tracer() -> None:
    code = (
        "import sys\n"
        "from lambda_isr import isr_face, FaceRequest, FaceResult\n"
        "h = isr_face(revalidate=5)(lambda r: 'x')\n"
        "bad = [m for m in ('boto3', 'botocore.client', 'aws_xray_sdk') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    env = {"PATH": "/usr/bin:/bin", "POWERTOOLS_TRACE_DISABLED": "true"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr


def _emit(logger: Any, method: str, *args: Any, **kwargs: Any) -> None:
    getattr(logger, method)(*args, **kwargs)  # one call site: the same "location" for both


@pytest.mark.filterwarnings("ignore:POWERTOOLS_DEV environment variable")
@pytest.mark.parametrize("pretty", [False, True])
def test_the_faster_logger_writes_exactly_the_lines_of_a_default_powertools_logger(
    pretty: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from aws_lambda_powertools import Logger  # noqa: PLC0415

    from lambda_isr.observability import powertools_logger  # noqa: PLC0415

    if pretty:
        monkeypatch.setenv("POWERTOOLS_DEV", "true")
    outputs = []
    # Distinct services: Powertools shares one formatter between Loggers of the same service.
    for name, make in (("default", Logger), ("fast", powertools_logger)):
        logger = make(service=f"svc-{pretty}-{name}")
        capsys.readouterr()
        logger.append_keys(function_request_id="abc", cold_start=False)
        logger.set_correlation_id("corr")
        messages: list[tuple[Any, ...]] = [
            ("lambda-isr request",),
            ('{"a": [1, 2.5, null]}',),  # JSON text becomes structured, both ways
            ("  123",),
            ("true",),
            ("-1e3",),
            ("NaN",),
            ("[unclosed",),
            ("n/a",),
            ("",),
            ("é ✓ \u2028",),
            ("%s and %d", "args", 3),
        ]
        for args in messages:
            _emit(logger, "info", *args, extra={"cache_key": "k", "timings_ms": {"t": 0.5}})
        _emit(logger, "info", {"a dict": "message"})
        try:
            raise ValueError("boom")
        except ValueError:
            _emit(logger, "exception", "failed")
        outputs.append(capsys.readouterr().out.replace(f"svc-{pretty}-{name}", "svc"))
    default, ours = (_without_timestamps(o) for o in outputs)
    assert ours == default
    assert len(default) == 13


def _without_timestamps(out: str) -> list[str]:
    import re  # noqa: PLC0415

    return [
        re.sub(r'"timestamp": ?"[^"]*"', "TS", block)
        for block in re.split(r"\n(?=\{)", out.strip())
    ]
