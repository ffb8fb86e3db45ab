"""The context object handed to handlers, shaped like awslambdaric's ``LambdaContext``.

Attribute names and types match the stock runtime (``memory_limit_in_mb`` is the string from the
environment, as awslambdaric gives it), so Powertools and existing handlers accept it.
Plain classes with ``__slots__``: one is built per invocation, and ``dataclasses`` would cost
the cold start its ``inspect`` import.
"""

from __future__ import annotations

import sys
import time

from lambda_isr.errors import InvocationFaultError

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Mapping
    from typing import Any

    from lambda_isr.runtime.protocol import Invocation

CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"


class _Record:
    """Equality and repr over ``_fields`` (what the frozen dataclasses used to give)."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Record)
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({inner})"


class Client(_Record):
    __slots__ = (
        "app_package_name",
        "app_title",
        "app_version_code",
        "app_version_name",
        "installation_id",
    )
    _fields = (
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    )

    def __init__(
        self,
        installation_id: str | None = None,
        app_title: str | None = None,
        app_version_name: str | None = None,
        app_version_code: str | None = None,
        app_package_name: str | None = None,
    ) -> None:
        self.installation_id = installation_id
        self.app_title = app_title
        self.app_version_name = app_version_name
        self.app_version_code = app_version_code
        self.app_package_name = app_package_name


class ClientContext(_Record):
    __slots__ = ("client", "custom", "env")
    _fields = ("client", "custom", "env")

    def __init__(self, client: Client | None = None, custom: Any = None, env: Any = None) -> None:
        self.client = client
        self.custom = custom
        self.env = env


class CognitoIdentity(_Record):
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")
    _fields = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(
        self, cognito_identity_id: str | None = None, cognito_identity_pool_id: str | None = None
    ) -> None:
        self.cognito_identity_id = cognito_identity_id
        self.cognito_identity_pool_id = cognito_identity_pool_id


class LambdaContext(_Record):
    __slots__ = (
        "aws_request_id",
        "client_context",
        "clock",
        "deadline_ms",
        "function_name",
        "function_version",
        "identity",
        "invoked_function_arn",
        "log_group_name",
        "log_stream_name",
        "memory_limit_in_mb",
        "tenant_id",
    )
    _fields = (
        "aws_request_id",
        "invoked_function_arn",
        "deadline_ms",
        "function_name",
        "function_version",
        "memory_limit_in_mb",
        "log_group_name",
        "log_stream_name",
        "client_context",
        "identity",
        "tenant_id",
    )

    def __init__(  # noqa: PLR0917 - positional like the dataclass it replaces
        self,
        aws_request_id: str,
        invoked_function_arn: str,
        deadline_ms: int,
        function_name: str | None = None,
        function_version: str | None = None,
        memory_limit_in_mb: str | None = None,
        log_group_name: str | None = None,
        log_stream_name: str | None = None,
        client_context: ClientContext | None = None,
        identity: CognitoIdentity | None = None,
        tenant_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.aws_request_id = aws_request_id
        self.invoked_function_arn = invoked_function_arn
        self.deadline_ms = deadline_ms
        self.function_name = function_name
        self.function_version = function_version
        self.memory_limit_in_mb = memory_limit_in_mb
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.client_context = client_context
        # A fresh object when none is given (identities are mutable now, never shared).
        self.identity = CognitoIdentity() if identity is None else identity
        self.tenant_id = tenant_id
        self.clock = clock

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
        return cls.build(invocation, function_settings(environ), clock)

    @classmethod
    def build(
        cls,
        invocation: Invocation,
        settings: tuple[str | None, str | None, str | None, str | None, str | None],
        clock: Callable[[], float] = time.time,
    ) -> LambdaContext:
        """:meth:`for_invocation` with the environment already read by
        :func:`function_settings` (the loop reads it once, not per invocation)."""
        name, version, memory, group, stream = settings
        raw_context, raw_identity = invocation.client_context, invocation.cognito_identity
        return cls(
            invocation.request_id,
            invocation.invoked_function_arn,
            invocation.deadline_ms,
            name,
            version,
            memory,
            group,
            stream,
            _client_context(raw_context) if raw_context else None,
            _identity(raw_identity) if raw_identity else None,
            invocation.tenant_id,
            clock,
        )


def function_settings(
    environ: Mapping[str, str],
) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """Function name, version, memory size, log group and log stream from the environment."""
    get = environ.get
    return (
        get("AWS_LAMBDA_FUNCTION_NAME"),
        get("AWS_LAMBDA_FUNCTION_VERSION"),
        get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
        get("AWS_LAMBDA_LOG_GROUP_NAME"),
        get("AWS_LAMBDA_LOG_STREAM_NAME"),
    )


def _parse(raw: str, what: str) -> dict[str, Any]:
    import json  # noqa: PLC0415 - only when the header is present

    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        detail = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise InvocationFaultError(
            f"Unable to parse {what} JSON: {detail}", CONTEXT_UNMARSHAL_ERROR
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
    fields = Client._fields
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
