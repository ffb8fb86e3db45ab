"""Root logger set up like awslambdaric: ``AWS_LAMBDA_LOG_LEVEL`` and ``AWS_LAMBDA_LOG_FORMAT``."""

from __future__ import annotations

import logging
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping
    from typing import Any, TextIO

TEXT_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "aws_request_id",
    "tenant_id",
    "message",
    "asctime",
}


class RequestIdFilter(logging.Filter):
    """Stamps every record with the current invocation's request id."""

    def __init__(self) -> None:
        super().__init__()
        self.request_id = ""
        self.tenant_id: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        record.tenant_id = self.tenant_id
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line with awslambdaric's keys."""

    def __init__(self) -> None:
        super().__init__(datefmt="%Y-%m-%dT%H:%M:%SZ")

    def format(self, record: logging.LogRecord) -> str:
        import json  # noqa: PLC0415 - loaded already by the loop; not at import time
        import traceback  # noqa: PLC0415

        exc = record.exc_info
        result: dict[str, Any] = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": logging.getLevelName(min(50, max(0, record.levelno)) // 10 * 10),
            "message": record.msg
            if isinstance(record.msg, dict) and not record.args
            else record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", None) or None,
        }
        if exc and exc[0] is not None:
            result["errorType"] = exc[0].__name__
            result["errorMessage"] = str(exc[1])
            result["stackTrace"] = traceback.format_tb(exc[2])
            result["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
        tenant = getattr(record, "tenant_id", None)
        if tenant is not None:
            result["tenantId"] = tenant
        for key, value in vars(record).items():
            if key not in _RESERVED and key not in result and not key.startswith("_"):
                result[key] = value
        clean = {k: v for k, v in result.items() if v is not None}
        return json.dumps(clean, ensure_ascii=False, default=str) + "\n"


class _StreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    terminator = ""  # both formats end records with "\n" themselves


def log_level(environ: Mapping[str, str]) -> str:
    raw = environ.get("AWS_LAMBDA_LOG_LEVEL") or ""
    return "DEBUG" if raw.upper() == "TRACE" else raw.upper()


def setup_logging(environ: Mapping[str, str], stream: TextIO | None = None) -> RequestIdFilter:
    """Install the root handler; returns the filter the loop updates per invocation."""
    logging.Formatter.converter = time.gmtime
    handler = _StreamHandler(stream or sys.stdout)
    if (environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, "%Y-%m-%dT%H:%M:%S"))
    request_filter = RequestIdFilter()
    handler.addFilter(request_filter)
    root = logging.getLogger()
    level = log_level(environ)
    if level in logging.getLevelNamesMapping():
        root.setLevel(level)
    root.addHandler(handler)
    return request_filter
