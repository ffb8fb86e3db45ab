"""A FaceApp on DynamoDB Local + files, and a small local poller that plays Lambda's SQS event
source mapping on moto's SQS (moto does not run event source mappings)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from lambda_isr import consumer
from lambda_isr.app import FaceApp
from lambda_isr.clock import SystemClock
from lambda_isr.http.request import FaceRequest
from lambda_isr.store.contract import Store
from lambda_isr.store.dynamodb import DynamoDbMetaStore
from lambda_isr.store.files import FileHtmlStore
from tests.conftest import DdbTable
from tests.isr.helpers import FakeContext
from tests.support.ddb_local import REGION

HOST = "site.example"


@dataclass
class Site:
    app: FaceApp
    store: Store
    renders: list[str] = field(default_factory=list)
    gate: Callable[[int], None] = lambda _n: None
    lock: threading.Lock = field(default_factory=threading.Lock)


def make_site(table: DdbTable, tmp_path: Path) -> Site:
    meta = DynamoDbMetaStore(table.name, client=table.client, clock=SystemClock())
    store = Store(meta, FileHtmlStore(tmp_path / "html", fsync=False))
    app = FaceApp(host=HOST, store=store, clock=SystemClock())
    site = Site(app, store)

    @app.face("/posts/{slug}", revalidate=60)
    def post(request: FaceRequest) -> str:
        with site.lock:
            site.renders.append(request.params["slug"])
            n = len(site.renders)
        site.gate(n)
        return f"<p>{request.params['slug']} #{n}</p>"

    return site


def sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "rh",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "awsRegion": REGION,
            }
            for body in bodies
        ]
    }


def sqs_client() -> Any:
    return boto3.session.Session().client(
        "sqs", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


class Poller:
    """Receive -> invoke the consumer -> delete what succeeded; failed messages become visible
    again at once; a crash (an exception out of the handler) leaves the batch in flight until
    its visibility timeout ends, as Lambda does."""

    def __init__(self, sqs: Any, url: str, app: object, remaining_ms: int = 30_000) -> None:
        self.sqs, self.url, self.app = sqs, url, app
        self.remaining_ms = remaining_ms
        self.invocations = 0
        self.crashes = 0

    def poll_once(self) -> int:
        got = self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=1
        ).get("Messages", [])
        if not got:
            return 0
        event = sqs_event(*(m["Body"] for m in got))
        for record, message in zip(event["Records"], got, strict=True):
            record["messageId"] = message["MessageId"]
        self.invocations += 1
        try:
            answer = consumer.handler(
                event, FakeContext(remaining_ms=self.remaining_ms), app=self.app
            )
        except BaseException:  # a killed worker: nothing is deleted or made visible
            self.crashes += 1
            return len(got)
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        for message in got:
            if message["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return len(got)

    def drain(self, *, until: Callable[[], bool], rounds: int = 200, pause: float = 0.1) -> None:
        import time  # noqa: PLC0415

        for _ in range(rounds):
            if until():
                return
            if self.poll_once() == 0:
                time.sleep(pause)
        raise AssertionError("the queue was not drained")
