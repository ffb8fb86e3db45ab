"""A FaceApp over memory stores and a fake clock, with every committed key recorded."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from lambda_isr.app import FaceApp
from lambda_isr.store.contract import CacheRecord, Lease, Store
from lambda_isr.store.memory import MemoryHtmlStore, MemoryMetaStore
from lambda_isr.testing import FakeClock
from tests.isr.helpers import FakeContext
from tests.support.events import make_event

HOST = "abc123.lambda-url.us-east-1.on.aws"


class RecordingMeta(MemoryMetaStore):
    """A memory metadata store that remembers every committed key."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.committed: list[str] = []

    def commit_generation(self, lease: Lease, record: CacheRecord) -> None:
        super().commit_generation(lease, record)
        self.committed.append(record.cache_key)


@dataclass
class AppEnv:
    app: FaceApp
    clock: FakeClock
    meta: RecordingMeta
    html: MemoryHtmlStore
    logs: io.StringIO = field(default_factory=io.StringIO)

    def get(self, path: str, **kw: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.app(make_event(path, **kw), FakeContext())
        return result


_seq = iter(range(1_000_000))


def make_app(**options: Any) -> AppEnv:
    clock = FakeClock(1_000_000.0)
    meta = RecordingMeta(clock)
    html = MemoryHtmlStore()
    logs = io.StringIO()
    options.setdefault("logger", Logger(service=f"app-test-{next(_seq)}", stream=logs))
    options.setdefault("metrics", Metrics(namespace="AppTest", service="app-test"))
    app = FaceApp(store=Store(meta, html), clock=clock, **options)
    return AppEnv(app, clock, meta, html, logs)


def body_of(response: dict[str, Any]) -> str:
    assert not response["isBase64Encoded"], response
    body: str = response["body"]
    return body


Face = Callable[..., Any]
