"""Outages become StoreUnavailableError at the DynamoDB boundary; conflicts are retried."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from lambda_isr.clock import FakeClock
from lambda_isr.errors import LeaseNotOwnedError, StoreUnavailableError
from lambda_isr.store.contract import CacheRecord, Lease
from lambda_isr.store.dynamodb import DynamoDbMetaStore
from tests.support.ddb_local import REGION, free_port

KEY = "k"
RECORD = CacheRecord(KEY, "isr/a/b.html", 1000.0, 60)
LEASE = Lease(KEY, "tok", 1030.0, 1000.0)


def client(endpoint: str = "http://127.0.0.1:9", timeout: float = 0.5) -> Any:
    return boto3.session.Session().client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=endpoint,
        config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1}),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def store(c: Any, sleeps: list[float] | None = None) -> DynamoDbMetaStore:
    return DynamoDbMetaStore(
        "tbl",
        client=c,
        clock=FakeClock(1000.0),
        sleep=(sleeps if sleeps is not None else []).append,
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ProvisionedThroughputExceededException", 400),
        ("ThrottlingException", 400),
        ("RequestLimitExceeded", 400),
        ("InternalServerError", 500),
        ("ServiceUnavailable", 503),
        ("ResourceNotFoundException", 400),
    ],
)
def test_client_errors_become_unavailable(code: str, status: int) -> None:
    c = client()
    s = store(c)
    calls: list[tuple[str, Callable[[], object]]] = [
        ("get_item", lambda: s.get(KEY)),
        ("put_item", lambda: s.try_acquire_lease(KEY, 30)),
        ("update_item", lambda: s.refresh_lease(LEASE, 30)),
        ("transact_write_items", lambda: s.commit_generation(LEASE, RECORD)),
        ("update_item", lambda: s.invalidate(KEY)),
    ]
    with Stubber(c) as stub:
        for operation, call in calls:
            stub.add_client_error(operation, service_error_code=code, http_status_code=status)
            with pytest.raises(StoreUnavailableError, match=code) as info:
                call()
            assert info.value.__cause__ is not None
        stub.add_client_error("delete_item", service_error_code=code, http_status_code=status)
        s.release_lease(LEASE)  # best effort: logged, not raised
        stub.assert_no_pending_responses()


def _cancelled(*reasons: str) -> dict[str, Any]:
    return {
        "service_error_code": "TransactionCanceledException",
        "service_message": "Transaction cancelled",
        "http_status_code": 400,
        "response_meta": {},
        "modeled_fields": {"CancellationReasons": [{"Code": r} for r in reasons]},
    }


def test_transaction_conflict_is_retried_then_succeeds() -> None:
    c, sleeps = client(), list[float]()
    s = store(c, sleeps)
    with Stubber(c) as stub:
        stub.add_client_error("transact_write_items", **_cancelled("None", "TransactionConflict"))
        stub.add_client_error("transact_write_items", **_cancelled("TransactionConflict", "None"))
        stub.add_response("transact_write_items", {})
        s.commit_generation(LEASE, RECORD)
        stub.assert_no_pending_responses()
    assert len(sleeps) == 2
    assert all(0 <= d <= 0.5 for d in sleeps)


def test_transaction_conflict_gives_up_after_bounded_attempts() -> None:
    c, sleeps = client(), list[float]()
    s = store(c, sleeps)
    with Stubber(c) as stub:
        for _ in range(3):
            stub.add_client_error("transact_write_items", **_cancelled("ThrottlingError", "None"))
        with pytest.raises(StoreUnavailableError, match="ThrottlingError"):
            s.commit_generation(LEASE, RECORD)
        stub.assert_no_pending_responses()
    assert len(sleeps) == 2


def test_lost_lease_reason_is_not_retried() -> None:
    c = client()
    s = store(c)
    with Stubber(c) as stub:
        stub.add_client_error(
            "transact_write_items", **_cancelled("TransactionConflict", "ConditionalCheckFailed")
        )
        with pytest.raises(LeaseNotOwnedError):
            s.commit_generation(LEASE, RECORD)


def test_connection_refused_is_unavailable() -> None:
    s = store(client(f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(StoreUnavailableError, match="EndpointConnectionError"):
        s.get(KEY)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections on 127.0.0.1 and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.1)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def test_read_timeout_is_unavailable_within_the_deadline(silent_server: str) -> None:
    s = DynamoDbMetaStore(
        "tbl",
        client=client(silent_server, timeout=0.3),
        clock=FakeClock(1000.0),
    )
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="ReadTimeout"):
        s.try_acquire_lease(KEY, 30)
    assert time.monotonic() - started < 3
