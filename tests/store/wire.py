"""Helpers for the tests of the store's botocore clients: what a client puts on the wire and
what it makes of an answer, without a network (a ``before-send`` handler captures the request
and answers it with canned bytes); the trimmed data the layer build writes; a session on it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import botocore
import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError

from lambda_isr.store._botocore import light_loader
from lambda_isr.store._models import write_models

PER_CALL = frozenset({"authorization", "x-amz-date", "user-agent", "amz-sdk-invocation-id"})
"""Headers that differ between two calls of the same client (signature, clock, ids)."""


class _Raw:
    """The raw body urllib3 would hand botocore: streamed or read at once."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> list[bytes]:
        return [self._body] if self._body else []

    def read(self, *_: Any) -> bytes:
        body, self._body = self._body, b""
        return body


def call(
    client: Any,
    method: str,
    params: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(request, answer)``: the request sent (minus :data:`PER_CALL` headers) and the parsed
    answer to ``status``/``headers``/``body`` (a ``ClientError``'s response for an error; a
    streamed body read whole; ``ResponseMetadata`` without its per-call fields)."""
    seen: dict[str, Any] = {}

    def capture(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        sent: Any = request.body
        seen["request"] = {
            "method": request.method,
            "url": request.url,
            "headers": {
                k.lower(): v for k, v in request.headers.items() if k.lower() not in PER_CALL
            },
            "body": sent.read() if hasattr(sent, "read") else sent,
        }
        answer_headers = HTTPHeaders()
        for name, value in (headers or {}).items():
            answer_headers[name] = value
        return AWSResponse(request.url, status, answer_headers, _Raw(body))

    client.meta.events.register_first("before-send", capture, unique_id="wire-capture")
    try:
        answer: dict[str, Any] = getattr(client, method)(**params)
    except ClientError as exc:
        answer = dict(exc.response)
        answer["error_class"] = type(exc).__name__
    finally:
        client.meta.events.unregister("before-send", unique_id="wire-capture")
    for name, value in list(answer.items()):
        if hasattr(value, "read"):  # a StreamingBody
            answer[name] = value.read()
    metadata = dict(answer.pop("ResponseMetadata", {}))
    metadata.pop("RetryAttempts", None)
    answer["ResponseMetadata"] = metadata
    return seen["request"], answer


def write_trimmed(folder: Path) -> Path:
    """What the layer build writes, from this virtualenv's botocore, into ``folder``; the
    ``_models`` folder (:func:`lambda_isr.store._models.models_dir`'s ``root``)."""
    python_dir = folder / "python"
    python_dir.mkdir()
    (python_dir / "botocore").symlink_to(Path(botocore.__file__).parent)
    written = write_models(python_dir)
    models = python_dir / "lambda_isr" / "store" / "_models"
    assert written == models / f"botocore-{botocore.__version__}"
    return models


def session_with(models: str | None) -> botocore.session.Session:
    """A botocore session on the store's loader, with the trimmed data ``models`` (or none)."""
    session = botocore.session.get_session()
    session.register_component("data_loader", light_loader(None, models))
    return session


def aws_environment(monkeypatch: pytest.MonkeyPatch, region: str) -> None:
    """Dummy credentials and ``region``; no endpoint override."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
