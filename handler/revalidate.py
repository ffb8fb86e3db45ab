"""On-demand revalidation for the demo site: the function that purges (``RevalidateFunction``).

Invoke it with ``{"paths": ["/posts/hello-world"]}`` (a CMS webhook, ``aws lambda invoke``). The
pages become stale in the store for every reader (a soft purge: the next request regenerates),
then, when ``LAMBDA_ISR_CLOUDFRONT_DISTRIBUTION_ID`` is set, CloudFront forgets ``<path>*``.
The Lambda request id is the CloudFront caller reference, so a retried invocation creates no
second invalidation. A CDN failure is reported in the answer (``ok: false``), never raised.
"""

from __future__ import annotations

import os
from typing import Any

from lambda_isr import invalidate

SITE_HOST_ENV = "LAMBDA_ISR_SITE_HOST"
"""The host the pages are keyed under: the demo function's URL domain (set by the template)."""


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    paths = event.get("paths") if isinstance(event, dict) else None
    if (
        not isinstance(paths, list)
        or not paths
        or not all(isinstance(p, str) and p.startswith("/") for p in paths)
    ):
        return {"ok": False, "error": 'send {"paths": ["/posts/hello-world", ...]}'}
    reference = getattr(context, "aws_request_id", None) or None
    result = invalidate(paths, host=os.environ.get(SITE_HOST_ENV) or None, reference=reference)
    cdn = result.cdn
    answer: dict[str, Any] = {"ok": cdn is None or cdn.ok, "purged": dict(result), "cdn": None}
    if cdn is not None:
        answer["cdn"] = {
            "distribution": cdn.distribution_id,
            "paths": list(cdn.paths),
            "invalidations": list(cdn.invalidations),
            "errors": list(cdn.errors),
        }
    return answer
