"""Configuration mistakes are configuration errors: named, raised when the face is built, never
a 503 with retry-after."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_isr import isr_face
from lambda_isr.errors import ConfigError
from lambda_isr.runtime.loop import Runtime, RuntimeConfig
from lambda_isr.settings import (
    ENV_BUCKET,
    ENV_TABLE,
    ENV_TIMEOUT,
    observability_settings,
    store_settings,
)
from tests.support.fake_runtime_api import FakeRuntimeApi, fake_api

HALF_CONFIGURED = {ENV_TABLE: "pages", "AWS_DEFAULT_REGION": "us-east-1"}


def test_table_without_bucket_fails_at_decoration_naming_both_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_TABLE, "pages")
    monkeypatch.delenv(ENV_BUCKET, raising=False)
    with pytest.raises(ConfigError) as caught:
        isr_face(revalidate=60)(lambda request: "x")
    message = str(caught.value)
    assert ENV_TABLE in message
    assert f"set {ENV_BUCKET}" in message
    assert "503" not in message


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({ENV_BUCKET: "b"}, ENV_TABLE),
        ({ENV_TABLE: " ", ENV_BUCKET: "b"}, ENV_TABLE),
        ({ENV_TIMEOUT: "soon"}, ENV_TIMEOUT),
        ({ENV_TIMEOUT: "-1"}, ENV_TIMEOUT),
        ({"FACETHEORY_ISR_PREFIX": "../x"}, "FACETHEORY_ISR_PREFIX"),
    ],
)
def test_every_bad_store_setting_names_its_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        store_settings(environ)


def test_settings_resolve_argument_then_environment_then_default() -> None:
    assert store_settings({}).directory == ".lambda-isr"
    assert store_settings({"AWS_LAMBDA_FUNCTION_NAME": "f"}).directory == "/tmp/lambda-isr"
    assert store_settings({"LAMBDA_ISR_DIR": "/x"}, directory="/y").directory == "/y"
    both = store_settings({ENV_TABLE: "t", ENV_BUCKET: "b"})
    assert (both.aws, both.table, both.bucket, both.timeout) == (True, "t", "b", 2.0)
    assert observability_settings({}).tracing is False
    assert observability_settings({"POWERTOOLS_TRACE_DISABLED": "false"}).tracing is True
    assert observability_settings({"POWERTOOLS_SERVICE_NAME": "s"}, service="t").service == "t"


def test_settings_never_import_boto3() -> None:
    import subprocess  # noqa: PLC0415

    code = (
        "import sys; from lambda_isr.settings import store_settings;"
        "from lambda_isr import isr_face;"
        "store_settings({'FACETHEORY_CACHE_TABLE_NAME': 't', 'FACETHEORY_ISR_BUCKET': 'b'});"
        "isr_face(revalidate=5)(lambda r: 'x');"
        "assert 'boto3' not in sys.modules, 'boto3';"
        "assert 'lambda_isr.store.dynamodb' not in sys.modules, 'store'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture
def api() -> Iterator[FakeRuntimeApi]:
    with fake_api() as running:
        yield running


@pytest.fixture
def task_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_under_the_runtime_a_half_configured_store_is_an_init_error(
    api: FakeRuntimeApi, task_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in HALF_CONFIGURED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(ENV_BUCKET, raising=False)
    (task_root / "site_half.py").write_text(
        "from lambda_isr import isr_face\n\n"
        "@isr_face(revalidate=60)\n"
        "def handler(request):\n    return 'page'\n"
    )
    runtime = Runtime(RuntimeConfig(api.address, "site_half.handler", str(task_root)), {})
    assert runtime.init() == 1
    runtime.client.close()
    [(header, payload)] = api.init_errors
    assert header == payload["errorType"] == "ConfigError"
    assert ENV_BUCKET in payload["errorMessage"]
