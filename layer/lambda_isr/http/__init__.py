"""HTTP side of a face: Function URL events in (:mod:`.request`), results and pages out."""

from lambda_isr.http.request import FaceRequest, Headers, parse_event
from lambda_isr.http.response import FaceResult

__all__ = ["FaceRequest", "FaceResult", "Headers", "parse_event"]
