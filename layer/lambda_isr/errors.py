"""One exception tree for the whole project.

Every error lambda-isr raises derives from :class:`LambdaIsrError`::

    LambdaIsrError
    ├── ConfigError (ValueError)        bad configuration, raised when a face/app is built
    ├── StoreError                      a store operation failed
    │   ├── StoreUnavailableError       unreachable or failing after bounded retries
    │   └── LeaseError
    │       ├── LeaseNotOwnedError      the lease expired or was taken over
    │       └── CommitFencedError       a newer generation or a later purge fenced the commit
    ├── InvalidKeyError (ValueError)    a key or pointer that cannot be stored (400)
    ├── RuntimeApiError, HandlerLoadError, ResponseStateError, HeaderValueError (ValueError),
    │   InvocationFaultError            the runtime loop and response writers
    ├── InvalidEventError (ValueError)  not a usable Function URL request (400)
    ├── TenantRequiredError             a tenant header without a tenant rule (fail closed)
    └── IsrProtocolError                an event the ISR decision core did not expect (a bug)
 Backends translate their
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


class CommitFencedError(LeaseError):
    """The commit was fenced off: the stored generation is newer than the committer's, or the
    page was purged after this render started. The lease was still held; nothing changed."""


StaleGenerationError = CommitFencedError
"""The former name of :class:`CommitFencedError` (kept for one release)."""


# --- keys ----------------------------------------------------------------------------------


class InvalidKeyError(LambdaIsrError, ValueError):
    """A key, prefix or pointer that cannot be stored: it would escape its namespace (path
    traversal, bad characters) or exceed a backend's limit. A bad request or a programming
    error, never a store outage: a request whose key is invalid is answered 400."""


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
