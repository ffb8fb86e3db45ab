"""lambda-isr: streaming blocking ISR for Python on AWS Lambda Function URLs.

Public names are loaded lazily so that ``import lambda_isr`` stays cheap and never imports
boto3: the runtime loop and plain handlers must cold-start without the store or ISR code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "isr_face": "lambda_isr.face",
    "FaceRequest": "lambda_isr.http.request",
    "FaceResult": "lambda_isr.http.response",
    "streaming": "lambda_isr.runtime.stream",
    "StreamingResponse": "lambda_isr.runtime.stream",
    "ResponseWriter": "lambda_isr.runtime.writer",
    "BufferedWriter": "lambda_isr.runtime.writer",
    "LambdaIsrError": "lambda_isr.errors",
}

__all__ = [
    "BufferedWriter",
    "FaceRequest",
    "FaceResult",
    "LambdaIsrError",
    "ResponseWriter",
    "StreamingResponse",
    "__version__",
    "isr_face",
    "streaming",
]

if TYPE_CHECKING:  # pragma: no cover
    from lambda_isr.errors import LambdaIsrError as LambdaIsrError
    from lambda_isr.runtime.writer import BufferedWriter as BufferedWriter
    from lambda_isr.runtime.writer import ResponseWriter as ResponseWriter


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lambda_isr' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
