"""lambda-isr: streaming blocking ISR for Python on AWS Lambda Function URLs.

Public names are loaded lazily so that ``import lambda_isr`` stays cheap and never imports
boto3 (nor even ``typing``): the runtime loop and plain handlers must cold-start without the
store or ISR code.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

    from lambda_isr.app import FaceApp as FaceApp
    from lambda_isr.app import Hydration as Hydration
    from lambda_isr.app import Link as Link
    from lambda_isr.app import Loaded as Loaded
    from lambda_isr.app import Meta as Meta
    from lambda_isr.app import Page as Page
    from lambda_isr.app import PageHead as PageHead
    from lambda_isr.app import Script as Script
    from lambda_isr.errors import LambdaIsrError as LambdaIsrError
    from lambda_isr.face import isr_face as isr_face
    from lambda_isr.http.request import FaceRequest as FaceRequest
    from lambda_isr.http.response import FaceResult as FaceResult
    from lambda_isr.isr.config import ContentionPolicy as ContentionPolicy
    from lambda_isr.isr.config import Regeneration as Regeneration
    from lambda_isr.isr.config import TrailingSlash as TrailingSlash
    from lambda_isr.purge import PurgeResult as PurgeResult
    from lambda_isr.purge import invalidate as invalidate
    from lambda_isr.purge import invalidate_tags as invalidate_tags
    from lambda_isr.revalidate import revalidate_async as revalidate_async
    from lambda_isr.runtime.stream import Head as Head
    from lambda_isr.runtime.stream import ResponseHead as ResponseHead
    from lambda_isr.runtime.stream import StreamingResponse as StreamingResponse
    from lambda_isr.runtime.stream import streaming as streaming
    from lambda_isr.runtime.writer import BufferedWriter as BufferedWriter
    from lambda_isr.runtime.writer import ResponseWriter as ResponseWriter

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "FaceApp": "lambda_isr.app",
    "PageHead": "lambda_isr.app",
    "Page": "lambda_isr.app",
    "Loaded": "lambda_isr.app",
    "Meta": "lambda_isr.app",
    "Link": "lambda_isr.app",
    "Script": "lambda_isr.app",
    "Hydration": "lambda_isr.app",
    "isr_face": "lambda_isr.face",
    "FaceRequest": "lambda_isr.http.request",
    "FaceResult": "lambda_isr.http.response",
    "ContentionPolicy": "lambda_isr.isr.config",
    "TrailingSlash": "lambda_isr.isr.config",
    "Regeneration": "lambda_isr.isr.config",
    "revalidate_async": "lambda_isr.revalidate",
    "streaming": "lambda_isr.runtime.stream",
    "StreamingResponse": "lambda_isr.runtime.stream",
    "Head": "lambda_isr.runtime.stream",
    "ResponseHead": "lambda_isr.runtime.stream",
    "ResponseWriter": "lambda_isr.runtime.writer",
    "BufferedWriter": "lambda_isr.runtime.writer",
    "LambdaIsrError": "lambda_isr.errors",
    "invalidate": "lambda_isr.purge",
    "invalidate_tags": "lambda_isr.purge",
    "PurgeResult": "lambda_isr.purge",
}

__all__ = [
    "BufferedWriter",
    "ContentionPolicy",
    "FaceApp",
    "FaceRequest",
    "FaceResult",
    "Head",
    "Hydration",
    "LambdaIsrError",
    "Link",
    "Loaded",
    "Meta",
    "Page",
    "PageHead",
    "Regeneration",
    "PurgeResult",
    "ResponseHead",
    "ResponseWriter",
    "Script",
    "StreamingResponse",
    "TrailingSlash",
    "invalidate",
    "invalidate_tags",
    "isr_face",
    "revalidate_async",
    "streaming",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lambda_isr' has no attribute {name!r}")
    from importlib import import_module  # noqa: PLC0415 - ~1 ms, paid on first use only

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
