"""Configuration mistakes are configuration errors: named, raised when the face is built, never
a 503 with retry-after."""

from __future__ import annotations

import sys

import pytest

from lambda_isr import isr_face
from lambda_isr.errors import ConfigError
from lambda_isr.settings import (
    ENV_BUCKET,
    ENV_TABLE,
    ENV_TIMEOUT,
    observability_settings,
    store_settings,
)


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
