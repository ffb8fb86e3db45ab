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

from lambda_isr.errors import ConfigError, LeaseNotOwnedError, StoreUnavailableError
from lambda_isr.store import _aws, config
from lambda_isr.store.contract import CacheRecord, Lease
from lambda_isr.store.dynamodb import DynamoDbMetaStore
from lambda_isr.testing import FakeClock
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


class SilentServer:
    """Accepts TCP connections on 127.0.0.1, reads nothing, never answers."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.server.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                self.accepted.append(self.server.accept()[0])
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self.accepted:
            conn.close()
        self.server.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def test_defaults_bound_a_call_to_an_endpoint_that_never_answers(
    silent: SilentServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the store's own default client (endpoint from the environment), get() gives up in
    about 2 x 2 s (connect 1 s, read 2 s, 2 attempts), not the old ~20 s; Lambda allows 30 s
    and a miss makes three store calls before its first byte."""
    assert (_aws.DEFAULT_TIMEOUT, _aws.DEFAULT_MAX_ATTEMPTS) == (2.0, 2)
    assert (config.DEFAULT_TIMEOUT, config.DEFAULT_MAX_ATTEMPTS) == (2.0, 2)
    monkeypatch.setattr(_aws, "_clients", {})  # a client built now, with this environment
    monkeypatch.setattr(_aws, "_sessions", {})
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", silent.url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    s = DynamoDbMetaStore("tbl", clock=FakeClock(1000.0))
    cfg: Any = s._client.meta.config  # botocore Config: untyped attributes
    assert (cfg.connect_timeout, cfg.read_timeout) == (1.0, 2.0)
    assert cfg.retries == {"total_max_attempts": 2, "mode": "standard"}
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="ReadTimeout"):
        s.get(KEY)
    elapsed = time.monotonic() - started
    # 2 attempts x 2 s read + at most 1 s of botocore backoff; 2 x (connect + read) x attempts
    # + slack would be 13 s. The old defaults (5 s, 3 attempts) took 15-17 s here.
    assert 2 * 2.0 <= elapsed < 2 * (2.0 + 1.0) + 1.0 + 1.0, elapsed
    assert elapsed < _aws.call_bound(2.0, 2) + 1.0
    assert len(silent.accepted) == 2  # exactly the configured attempts


@pytest.mark.parametrize("operation", ["get", "acquire", "commit"])
def test_configured_timeout_bounds_every_call(silent: SilentServer, operation: str) -> None:
    """An injected client built from the same settings (timeout=0.3 s, 2 attempts)."""
    c = boto3.session.Session().client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=silent.url,
        config=_aws.botocore_config(0.3, 2),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s = DynamoDbMetaStore("tbl", client=c, clock=FakeClock(1000.0), timeout=0.3, max_attempts=2)
    calls: dict[str, Callable[[], object]] = {
        "get": lambda: s.get(KEY),
        "acquire": lambda: s.try_acquire_lease(KEY, 30),
        "commit": lambda: s.commit_generation(LEASE, RECORD),
    }
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="ReadTimeout"):
        calls[operation]()
    elapsed = time.monotonic() - started
    assert elapsed < _aws.call_bound(0.3, 2) + 1.0, elapsed
    assert len(silent.accepted) == 2  # a timeout is not retried again by our commit loop


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": 1.5}, "max_attempts"),
    ],
)
def test_bad_timeouts_are_config_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DynamoDbMetaStore("tbl", client=client(), **kwargs)


def test_commit_retries_stop_when_the_budget_is_spent() -> None:
    ticks = iter(range(0, 1000, 3))  # every look at the clock is 3 s later
    attempts = list(
        _aws.retrying(5, lambda _: None, budget=5.0, monotonic=lambda: float(next(ticks)))
    )
    assert attempts == [0, 1]  # at 3 s a try still starts; at 6 s the 5 s budget is spent
    assert list(_aws.retrying(3, lambda _: None, budget=60.0)) == [0, 1, 2]
    assert list(_aws.retrying(3, lambda _: None)) == [0, 1, 2]
