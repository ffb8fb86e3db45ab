"""The dev server's pure parts: Function URL response mapping, reload snapshots, log lines."""

from __future__ import annotations

import argparse
import base64
import errno
import json
import os
import socket
from pathlib import Path

import pytest

from lambda_isr.cli import handler_spec
from lambda_isr.dev.cli import listen_problem
from lambda_isr.dev.log import AccessRecord, compact_worker_line
from lambda_isr.dev.reload import changes, snapshot
from lambda_isr.dev.responses import (
    body_allowed,
    buffered_answer,
    failure_answer,
    prelude_headers,
)
from lambda_isr.dev.runner import describe_store
from lambda_isr.dev.workers import WorkerSpec
from lambda_isr.runtime.recording import BufferedResult, Prelude


def _buffered(value: object) -> BufferedResult:
    return BufferedResult(json.dumps(value).encode(), "application/json", 0.0)


def test_full_result_maps_status_headers_cookies_and_base64() -> None:
    answer = buffered_answer(
        _buffered(
            {
                "statusCode": 418,
                "headers": {"Content-Type": "image/png", "Content-Length": "9", "X-N": 3},
                "cookies": ["a=1", "b=2"],
                "body": base64.b64encode(b"\x89PNG").decode(),
                "isBase64Encoded": True,
            }
        )
    )
    assert answer.status == 418
    assert answer.headers == (
        ("content-type", "image/png"),
        ("x-n", "3"),
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
    )
    assert answer.body == b"\x89PNG"


def test_other_json_is_200_application_json_as_is() -> None:
    for value in ("hello", {"no": "status"}, [1, 2], 3, None):
        answer = buffered_answer(_buffered(value))
        assert answer.status == 200
        assert answer.headers == (("content-type", "application/json"),)
        assert json.loads(answer.body) == value


def test_invalid_results_become_502() -> None:
    bad_base64 = {"statusCode": 200, "body": "%%%", "isBase64Encoded": True}
    for value in ({"statusCode": "x"}, {"statusCode": 200, "headers": []}, bad_base64):
        answer = buffered_answer(_buffered(value))
        assert answer.status == 502
        assert json.loads(answer.body)["errorType"] == "Runtime.InvalidResponse"


def test_failure_answer_names_the_error() -> None:
    answer = failure_answer("Runtime.ExitError", "exit status 3", "rid-1")
    payload = json.loads(answer.body)
    assert answer.status == 502
    assert (payload["errorType"], payload["errorMessage"], payload["requestId"]) == (
        "Runtime.ExitError",
        "exit status 3",
        "rid-1",
    )


def test_prelude_drops_hop_by_hop_headers_and_adds_cookies() -> None:
    prelude = Prelude(
        200, {"Content-Type": "text/html", "Transfer-Encoding": "chunked", "Connection": "x"},
        ["s=1"], 0.0,
    )  # fmt: skip
    assert prelude_headers(prelude) == [("content-type", "text/html"), ("set-cookie", "s=1")]
    assert body_allowed("GET", 200)
    assert not body_allowed("HEAD", 200)
    assert not body_allowed("GET", 304)
    assert not body_allowed("GET", 204)


def test_reload_snapshot_sees_code_and_templates_only(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "__pycache__").mkdir()
    for name in ("app.py", "templates/page.html", "data.bin", "__pycache__/app.pyc"):
        (tmp_path / name).write_text("x")
    before = snapshot(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in before) == [
        "app.py",
        "templates/page.html",
    ]
    page = tmp_path / "templates/page.html"
    later = before[page][0] + 10**9
    os.utime(page, ns=(later, later))
    (tmp_path / "new.py").write_text("y")
    (tmp_path / "data.bin").write_text("z")
    assert changes(before, snapshot(tmp_path)) == [tmp_path / "new.py", page]


def test_worker_environment_is_lambda_like_with_a_shared_store(tmp_path: Path) -> None:
    spec = WorkerSpec(
        "app.handler", tmp_path, tmp_path / "store", base_env={"PYTHONPATH": "/extra", "X": "1"}
    )
    env = spec.environ("127.0.0.1:9001")
    assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    assert env["_HANDLER"] == "app.handler"
    assert env["LAMBDA_TASK_ROOT"] == str(tmp_path)
    assert env["AWS_LAMBDA_FUNCTION_NAME"]
    assert env["LAMBDA_ISR_DIR"] == str(tmp_path / "store")
    assert env["PYTHONPATH"].endswith(":/extra")
    assert Path(env["PYTHONPATH"].split(":")[0], "lambda_isr").is_dir()
    assert env["X"] == "1"


def test_store_description() -> None:
    assert "embedded SQLite" in describe_store({"LAMBDA_ISR_DIR": "/tmp/x"})
    ddb = {
        "FACETHEORY_CACHE_TABLE_NAME": "t",
        "FACETHEORY_ISR_BUCKET": "b",
        "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000",
    }
    assert describe_store(ddb) == "DynamoDB table t at http://127.0.0.1:8000 + S3 s3://b/isr/"
    assert describe_store({"FACETHEORY_CACHE_TABLE_NAME": "t"}).startswith("misconfigured")


def test_access_line() -> None:
    record = AccessRecord("GET", "/p?x=1", 200, "miss", 0.0123, 0.3456, 42, 2)
    assert record.format() == (
        "GET /p?x=1 200 cache=miss ttfb=12.3ms total=345.6ms bytes=42 worker=2"
    )
    assert "ttfb=- " in AccessRecord("GET", "/", 503, None, None, 1.0, 0, None).format()


def test_worker_lines_are_compacted_for_the_dev_log() -> None:
    summary = '{"level":"INFO","message":"lambda-isr request","cache_state":"hit"}'
    emf = '{"_aws":{"Timestamp":1},"CacheHit":[1.0]}'
    error = (
        '{"level":"ERROR","message":"stream failed after the head was sent",'
        '"exception":"Traceback (most recent call last):\\n  File x\\nRuntimeError: boom"}'
    )
    assert compact_worker_line(summary) is None
    assert compact_worker_line(emf) is None
    assert compact_worker_line(error) == (
        "ERROR stream failed after the head was sent | RuntimeError: boom\n"
        "    Traceback (most recent call last):\n"
        "      File x\n"
        "    RuntimeError: boom"
    )
    assert compact_worker_line("print from a handler") == "print from a handler"
    assert compact_worker_line('{"not": "a log record"}') == '{"not": "a log record"}'
    assert compact_worker_line("{broken json") == "{broken json"


def test_handler_argument_is_module_dot_function() -> None:
    for good in ("app.handler", "pkg.mod.fn", "pkg/mod.fn"):
        assert handler_spec(good) == good
    for bad in ("handler", "app.", ".handler", "app.handler()", "my-app.handler"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"is not module\.function"):
            handler_spec(bad)


def test_listen_errors_name_the_option_to_change() -> None:
    busy = OSError(errno.EADDRINUSE, "Address already in use")
    assert "port 3000 on 127.0.0.1 is already in use" in listen_problem(busy, "127.0.0.1", 3000)
    denied = OSError(errno.EACCES, "Permission denied")
    assert "above 1023 with --port" in listen_problem(denied, "127.0.0.1", 80)
    unknown = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert "--host nowhere (Name or service not known)" in listen_problem(unknown, "nowhere", 0)
