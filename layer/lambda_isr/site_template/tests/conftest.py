"""The tests run on a private embedded store (never the AWS one, never .lambda-isr/)."""

from __future__ import annotations

import os
import tempfile

for name in ("FACETHEORY_CACHE_TABLE_NAME", "FACETHEORY_ISR_BUCKET", "LAMBDA_ISR_NAMESPACE"):
    os.environ.pop(name, None)
os.environ["LAMBDA_ISR_DIR"] = tempfile.mkdtemp(prefix="lambda-isr-site-tests-")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "site-tests")
