"""On-demand revalidation from a second function (a CMS webhook, a queue consumer): a soft
purge of the listed paths in the same store the site uses (same environment variables).

Event: ``{"host": "<function-url-domain>", "paths": ["/posts/hello-world"]}``.
"""

from __future__ import annotations

from typing import Any

from lambda_isr import invalidate


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    paths = event.get("paths")
    host = event.get("host")
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        return {"statusCode": 400, "body": "paths must be a list of strings"}
    if host is not None and not isinstance(host, str):
        return {"statusCode": 400, "body": "host must be a string"}
    return {"statusCode": 200, "purged": invalidate(paths, host=host)}
