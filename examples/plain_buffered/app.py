"""A plain buffered handler, unchanged: it runs the same under the stock runtime and under the
layer's wrapper (``AWS_LAMBDA_EXEC_WRAPPER=/opt/lambda-isr-wrapper``)."""

from __future__ import annotations

import json
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    name = (event.get("queryStringParameters") or {}).get("name", "world")
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "cookies": ["visited=1; Path=/; HttpOnly"],
        "body": json.dumps({"hello": name, "request_id": context.aws_request_id}),
    }
