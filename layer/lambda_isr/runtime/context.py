"""The context object handed to handlers, shaped like awslambdaric's ``LambdaContext``.

Attribute names and types match the stock runtime (``memory_limit_in_mb`` is the string from the
environment, as awslambdaric gives it), so Powertools and existing handlers accept it.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lambda_isr.errors import InvocationFaultError
from lambda_isr.runtime.protocol import Invocation

CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"


@dataclass(frozen=True, slots=True)
class Client:
    installation_id: str | None = None
    app_title: str | None = None
    app_version_name: str | None = None
    app_version_code: str | None = None
    app_package_name: str | None = None


@dataclass(frozen=True, slots=True)
class ClientContext:
    client: Client | None = None
    custom: Any = None
    env: Any = None


@dataclass(frozen=True, slots=True)
class CognitoIdentity:
    cognito_identity_id: str | None = None
    cognito_identity_pool_id: str | None = None


@dataclass(frozen=True, slots=True)
class LambdaContext:
    aws_request_id: str
    invoked_function_arn: str
    deadline_ms: int
    function_name: str | None = None
    function_version: str | None = None
    memory_limit_in_mb: str | None = None
    log_group_name: str | None = None
    log_stream_name: str | None = None
    client_context: ClientContext | None = None
    identity: CognitoIdentity = field(default_factory=CognitoIdentity)
    tenant_id: str | None = None
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until ``Lambda-Runtime-Deadline-Ms`` (never negative)."""
        return max(0, self.deadline_ms - int(self.clock() * 1000))

    def log(self, msg: object) -> None:
        sys.stdout.write(str(msg))

    @classmethod
    def for_invocation(
        cls,
        invocation: Invocation,
        environ: Mapping[str, str],
        clock: Callable[[], float] = time.time,
    ) -> LambdaContext:
        """Build the context; a malformed client context or identity header raises
        :class:`InvocationFaultError` (``Runtime.LambdaContextUnmarshalError``)."""
        return cls(
            aws_request_id=invocation.request_id,
            invoked_function_arn=invocation.invoked_function_arn,
            deadline_ms=invocation.deadline_ms,
            function_name=environ.get("AWS_LAMBDA_FUNCTION_NAME"),
            function_version=environ.get("AWS_LAMBDA_FUNCTION_VERSION"),
            memory_limit_in_mb=environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
            log_group_name=environ.get("AWS_LAMBDA_LOG_GROUP_NAME"),
            log_stream_name=environ.get("AWS_LAMBDA_LOG_STREAM_NAME"),
            client_context=_client_context(invocation.client_context),
            identity=_identity(invocation.cognito_identity),
            tenant_id=invocation.tenant_id,
            clock=clock,
        )


def _parse(raw: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvocationFaultError(
            f"Unable to parse {what} JSON: {exc}", CONTEXT_UNMARSHAL_ERROR
        ) from exc
    if not isinstance(value, dict):
        raise InvocationFaultError(
            f"Unable to parse {what} JSON: not an object", CONTEXT_UNMARSHAL_ERROR
        )
    return value


def _client_context(raw: str | None) -> ClientContext | None:
    if not raw:
        return None
    data = _parse(raw, "Client Context")
    data.pop("w3c", None)
    client = data.get("client")
    fields = Client.__dataclass_fields__
    return ClientContext(
        client=Client(**{k: v for k, v in client.items() if k in fields})
        if isinstance(client, dict)
        else None,
        custom=data.get("custom"),
        env=data.get("env"),
    )


def _identity(raw: str | None) -> CognitoIdentity:
    if not raw:
        return CognitoIdentity()
    data = _parse(raw, "Cognito Identity")
    return CognitoIdentity(data.get("cognitoIdentityId"), data.get("cognitoIdentityPoolId"))
