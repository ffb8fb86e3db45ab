"""Test tooling for lambda-isr: shipped in the wheel, left out of the Lambda layer.

Nothing under ``lambda_isr`` that runs in Lambda may import this package
(``layer/build_layer.py`` excludes it; ``tests/deploy/test_layer_contents.py`` checks it).
"""

from lambda_isr.testing.clock import FakeClock

__all__ = ["FakeClock"]
