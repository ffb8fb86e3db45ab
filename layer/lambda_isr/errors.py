"""One exception tree for the whole project.

Every error lambda-isr raises derives from :class:`LambdaIsrError`. Backends translate their
client errors (botocore, sqlite3, OSError) into these at the store boundary, never above it.
"""

from __future__ import annotations


class LambdaIsrError(Exception):
    """Base class of every lambda-isr error."""


class ConfigError(LambdaIsrError, ValueError):
    """Bad configuration, raised at construction with a message that says what to fix."""


# --- store ---------------------------------------------------------------------------------


class StoreError(LambdaIsrError):
    """A store operation failed."""


class StoreUnavailableError(StoreError):
    """The store could not be reached or kept failing (throttling, timeouts, 5xx) after retries."""


class LeaseError(StoreError):
    """Base class of lease problems."""


class LeaseNotOwnedError(LeaseError):
    """The caller's lease expired or was taken over: its refresh or commit was rejected."""


class StaleGenerationError(LeaseNotOwnedError):
    """The commit was rejected because the stored generation is newer than the committer's."""


class InvalidKeyError(StoreError, ValueError):
    """A key or pointer that would escape its namespace (path traversal, bad characters)."""


# --- runtime -------------------------------------------------------------------------------


class RuntimeApiError(LambdaIsrError):
    """The Lambda Runtime API answered something unexpected."""


class HandlerLoadError(LambdaIsrError):
    """The handler named by ``_HANDLER`` could not be imported or found."""

    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class ResponseStateError(LambdaIsrError):
    """A response writer was used out of order (write after end, start twice, ...)."""


class HeaderValueError(LambdaIsrError, ValueError):
    """A header name or value carries CR, LF or NUL, or a status is out of range."""


# --- HTTP ----------------------------------------------------------------------------------


class InvalidEventError(LambdaIsrError, ValueError):
    """The invocation event is not a usable Function URL request (answered with 400)."""


class TenantRequiredError(LambdaIsrError):
    """A tenant header arrived but no tenant rule is configured: fail closed."""


# --- runtime (invocation faults) -----------------------------------------------------------


class InvocationFaultError(LambdaIsrError):
    """The runtime could not run an invocation (``Runtime.UnmarshalError``, ...)."""

    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.error_type = error_type
