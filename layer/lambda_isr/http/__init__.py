"""HTTP side of a face: Function URL events in (:mod:`.request`), results and pages out."""

from lambda_isr.http.request import FaceRequest, RequestHeaders, parse_event
from lambda_isr.http.response import FaceResult

__all__ = ["FaceRequest", "FaceResult", "RequestHeaders", "parse_event"]
