"""Server-side rendering that streams, without any cache: ``@streaming`` on a generator.
Runs under the layer's wrapper (streams) and under the stock runtime (buffered)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from lambda_isr import ResponseHead, streaming


@streaming
def handler(event: dict[str, Any], context: Any) -> Iterator[object]:
    yield ResponseHead(
        200, {"content-type": "text/html; charset=utf-8", "cache-control": "no-store"}
    )
    yield "<!doctype html><html><body><h1>Search results</h1><ul>"
    for n in range(1, 4):
        time.sleep(0.1)  # each result arrives as it is found
        yield f"<li>result {n}</li>"
    yield "</ul></body></html>"
