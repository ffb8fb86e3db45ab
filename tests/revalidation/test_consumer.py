"""Async regeneration: revalidate_async -> moto SQS -> the consumer, on DynamoDB Local.

Duplicate and concurrent deliveries render once (``REQ#`` + the lease); a replayed key with a
different payload is rejected and acknowledged; a killed consumer's message is redelivered and
completed; a request made while a regeneration runs is not swallowed."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lambda_isr import consumer
from lambda_isr.errors import ConfigError
from lambda_isr.isr.detached import detached_request, regenerate
from lambda_isr.revalidate import message_for, revalidate_async
from lambda_isr.store.dynamodb import DynamoDbMetaStore
from lambda_isr.store.keys import META_SK
from lambda_isr.store.requests import REQ_PREFIX
from tests.conftest import DdbTable
from tests.isr.helpers import FakeContext
from tests.revalidation.support import HOST, Poller, Site, make_site, sqs_client, sqs_event

pytestmark = pytest.mark.ddb_local
PATH = "/posts/hello"
KEY = f"default::{HOST}{PATH}"

REQ_ATTRIBUTES = {
    "pk", "sk", "request_hash", "status", "result_s3_key", "ttl", "owner_token",
    "enqueued_at_ms", "generated_at_ms",
}  # fmt: skip
"""The ``REQ#`` item of a completed regeneration, as README's "The REQ# item" lists it."""


@pytest.fixture
def site(ddb_local_table: DdbTable, tmp_path: Path) -> Site:
    s = make_site(ddb_local_table, tmp_path)
    route = s.app.router.match(PATH)
    assert route is not None
    assert route.value.driver is not None
    face = consumer.resolve(s.app, PATH)
    assert face is not None
    regenerate(face.driver, face.face, detached_request(PATH, host=HOST))  # generation 1
    return s


@pytest.fixture
def queue(moto_aws: None) -> tuple[Any, str]:
    sqs = sqs_client()
    return sqs, sqs.create_queue(QueueName="revalidate")["QueueUrl"]


def _record(site: Site) -> Any:
    return site.store.meta.get(KEY)


def test_a_message_regenerates_the_page_and_completes_its_req_item(
    site: Site, queue: tuple[Any, str], ddb_local_table: DdbTable
) -> None:
    sqs, url = queue
    result = revalidate_async(paths=[PATH], host=HOST, request_id="req-1", sqs=sqs,
                              queue_url=url, store=site.store)  # fmt: skip
    assert result[PATH] == 1
    assert result.cache_keys == (KEY,)
    assert not _record(site).is_fresh(time.time())  # soft-purged at once
    poller = Poller(sqs, url, site.app)
    poller.drain(until=lambda: _record(site).is_fresh(time.time()))
    assert site.renders == ["hello", "hello"]
    meta_pk = ddb_local_table.client.get_item(
        TableName=ddb_local_table.name,
        Key={"pk": {"S": _pk(site)}, "sk": {"S": META_SK}},
    )["Item"]
    item = ddb_local_table.client.get_item(
        TableName=ddb_local_table.name,
        Key={"pk": {"S": _pk(site)}, "sk": {"S": REQ_PREFIX + "req-1"}},
    )["Item"]
    assert set(item) == REQ_ATTRIBUTES
    assert item["status"] == {"S": "COMPLETED"}
    assert item["result_s3_key"] == meta_pk["s3_key"]
    assert int(item["generated_at_ms"]["N"]) >= int(item["enqueued_at_ms"]["N"])
    assert int(item["ttl"]["N"]) > time.time() + 86_400
    assert len(item["request_hash"]["S"]) == 64
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("### The REQ# item", 1)[1].split("\n## ", 1)[0]
    for name in REQ_ATTRIBUTES - {"pk", "sk"} | {"in_progress_until", "reason"}:
        assert f"`{name}`" in section, name


def _pk(site: Site) -> str:
    meta = site.store.meta
    assert isinstance(meta, DynamoDbMetaStore)
    return meta._key(KEY, META_SK)["pk"]["S"]


def test_ten_concurrent_deliveries_of_one_message_render_once(site: Site) -> None:
    gate = threading.Event()

    def wait_for_release(_n: int) -> None:
        assert gate.wait(30)

    site.gate = wait_for_release
    site.store.meta.invalidate(KEY)
    body = json.dumps(message_for(PATH, host=HOST, tenant=None))

    def deliver(_: int) -> int:
        tries = 0
        while True:
            tries += 1
            answer = consumer.handler(sqs_event(body), FakeContext(), app=site.app)
            if not answer["batchItemFailures"]:
                return tries
            gate.set()  # every other delivery has met the owner: let its render finish
            time.sleep(0.05)

    with ThreadPoolExecutor(10) as pool:
        tries = list(pool.map(deliver, range(10)))
    assert site.renders == ["hello", "hello"]  # generation 1, then exactly one regeneration
    assert max(tries) > 1  # duplicates were returned as batch item failures, then acknowledged
    assert _record(site).is_fresh(time.time())


def test_a_replay_with_a_different_payload_is_rejected_and_acknowledged(site: Site) -> None:
    first = message_for(PATH, host=HOST, tenant=None, request_id="same")
    assert consumer.consume(site.app, json.dumps(first)) is consumer.Handled.COMMITTED
    site.store.meta.invalidate(KEY)
    other = {**first, "host": "other.example"}  # the same page (site host) and key, altered
    counted: list[str] = []
    handled = consumer.consume(site.app, json.dumps(other), counters=counted.append)
    assert handled is consumer.Handled.MISMATCH
    assert counted == ["RevalidationReplayRejected"]
    answer = consumer.handler(sqs_event(json.dumps(other)), FakeContext(), app=site.app)
    assert answer["batchItemFailures"] == []  # acknowledged: never retried forever
    assert site.renders == ["hello", "hello"]
    assert not _record(site).is_fresh(time.time())  # the replay did not regenerate it


class Killed(BaseException):
    """A worker's death (not an error its code handles)."""


def test_a_consumer_killed_mid_render_has_its_message_redelivered_and_completed(
    site: Site, queue: tuple[Any, str]
) -> None:
    sqs, url = queue

    def die_once(n: int) -> None:
        if n == 2:
            raise Killed

    site.gate = die_once
    revalidate_async(paths=[PATH], host=HOST, sqs=sqs, queue_url=url, store=site.store)
    poller = Poller(sqs, url, site.app, remaining_ms=1_000)  # its claim lasts its invocation
    poller.drain(until=lambda: _record(site).is_fresh(time.time()), pause=0.3)
    assert poller.crashes == 1
    assert site.renders == ["hello", "hello", "hello"]  # the killed render, then the retry


def test_a_request_made_while_a_regeneration_runs_is_not_swallowed(
    site: Site, queue: tuple[Any, str]
) -> None:
    sqs, url = queue
    rendering, release = threading.Event(), threading.Event()

    def hold_second(n: int) -> None:
        if n == 2:
            rendering.set()
            assert release.wait(30)

    site.gate = hold_second
    revalidate_async(paths=[PATH], host=HOST, sqs=sqs, queue_url=url, store=site.store)
    first = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"][0]
    worker = threading.Thread(
        target=consumer.handler,
        args=(sqs_event(first["Body"]), FakeContext()),
        kwargs={"app": site.app},
    )
    worker.start()
    assert rendering.wait(30)
    time.sleep(0.01)
    revalidate_async(paths=[PATH], host=HOST, sqs=sqs, queue_url=url, store=site.store)
    second_enqueued = time.time()
    release.set()
    worker.join(30)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    Poller(sqs, url, site.app).drain(until=lambda: _record(site).is_fresh(time.time()))
    record = _record(site)
    assert record.generated_at >= second_enqueued - 0.01  # rendered after the second request
    assert len(site.renders) == 3


def test_tags_enqueue_the_tagged_pages(site: Site, queue: tuple[Any, str]) -> None:
    from lambda_isr import purge  # noqa: PLC0415

    sqs, url = queue
    if not hasattr(purge, "invalidate_tags"):
        with pytest.raises(ConfigError, match="tag index"):
            revalidate_async(tags=["t"], host=HOST, sqs=sqs, queue_url=url, store=site.store)
        return
    result = revalidate_async(tags=["nothing-tagged"], sqs=sqs, queue_url=url, store=site.store)
    assert result["nothing-tagged"] == 0
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_without_a_queue_revalidate_async_names_the_variable(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAMBDA_ISR_REVALIDATION_QUEUE_URL", raising=False)
    with pytest.raises(ConfigError, match="LAMBDA_ISR_REVALIDATION_QUEUE_URL"):
        revalidate_async(paths=[PATH], host=HOST, store=site.store)
