from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_runtime_api import FakeRuntimeApi, fake_api


@pytest.fixture
def api() -> Iterator[FakeRuntimeApi]:
    with fake_api() as running:
        yield running
