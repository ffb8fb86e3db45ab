"""2. The cost of a cache hit: AWS calls per hit and hit latency vs the raw boto3 calls.

    .venv/bin/python -m bench.bench_hit [--rounds N]

DynamoDB Local (metadata) + moto's S3 server in its own process (bodies), both over real HTTP.
AWS calls are counted with a botocore ``before-call.*.*`` hook on both clients.

- cold hit: a face whose in-process body cache is empty (a new face on the same store and
  clients for every sample): expected GetItem + GetObject.
- warm hit: the same face again and again: expected GetItem only.
- raw: the calls a cold hit replaces, replayed with the very parameters the face sent
  (``GetItem`` with ``ConsistentRead`` + ``GetObject`` and reading the body), same clients.

Each round interleaves the three; a round's figure is its median; the output is the median of
the rounds (min, max). Hits are served buffered (``face(event)``), logging and EMF metrics
formatted into a sink.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import redirect_stdout
from typing import Any

from bench.common import (
    NULL,
    REPO,
    ddb_local,
    moto_s3_server,
    new_bucket,
    quiet_observability,
    spread,
)
from bench.common import s3_client as make_s3_client
from lambda_isr import FaceRequest, isr_face
from lambda_isr.face import IsrFace
from lambda_isr.isr.bodycache import BodyCache
from lambda_isr.store.contract import Store
from lambda_isr.store.dynamodb import DynamoDbMetaStore
from lambda_isr.store.s3 import S3HtmlStore

PAGE = "<!doctype html><html><body>" + "<p>cached paragraph</p>" * 1000 + "</body></html>"


class CallCounter:
    """Counts API calls (``before-call``) and keeps the parameters of the last ones."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.params: dict[str, dict[str, Any]] = {}

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.*.*", self._call)
        client.meta.events.register("before-parameter-build.*.*", self._params)

    def _call(self, event_name: str, **_: Any) -> None:
        self.calls[event_name.removeprefix("before-call.")] += 1

    def _params(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        self.params[event_name.removeprefix("before-parameter-build.")] = dict(params)

    def during(self, fn: Callable[[], object]) -> Counter[str]:
        before = Counter(self.calls)
        fn()
        return self.calls - before


def _page(request: FaceRequest) -> str:
    return PAGE


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def _fmt(calls: Counter[str]) -> str:
    return ", ".join(f"{n} {name}" for name, n in sorted(calls.items())) or "none"


def run(rounds: int = 5, per_round: int = 40) -> dict[str, float]:
    print(
        f"2. cost of a hit on DynamoDB Local + moto S3 server ({rounds} rounds x {per_round}"
        " samples each)"
    )
    sys.path.insert(0, str(REPO))
    from tests.support.ddb_local import create_table  # noqa: PLC0415
    from tests.support.events import make_event  # noqa: PLC0415

    with ddb_local() as ddb, moto_s3_server() as s3_endpoint:
        dynamodb = ddb.client(max_attempts=3)
        s3 = make_s3_client(s3_endpoint)
        table, bucket = create_table(dynamodb), new_bucket(s3)
        store = Store(
            DynamoDbMetaStore(table, client=dynamodb), S3HtmlStore(bucket, client=s3), "bench"
        )
        counter = CallCounter()
        counter.attach(dynamodb)
        counter.attach(s3)
        observability = quiet_observability()

        def face(cache: BodyCache | None = None) -> IsrFace:
            return isr_face(
                revalidate=3600, store=store, body_cache=cache or BodyCache(), **observability
            )(_page)

        event = make_event("/bench/hit")
        warm_face = face()
        with redirect_stdout(NULL):
            first = warm_face(event)
            miss_calls = counter.during(lambda: None)
            cold_face = face()
            cold: list[dict[str, Any]] = []
            cold_calls = counter.during(lambda: cold.append(cold_face(event)))
            warm: list[dict[str, Any]] = []
            warm_face(event)
            warm_calls = counter.during(lambda: warm.append(warm_face(event)))
        states = (first["headers"]["x-isr-cache"], cold[0]["headers"]["x-isr-cache"])
        print(f"  states: first {states[0]}, then {states[1]}, {warm[0]['headers']['x-isr-cache']}")
        del miss_calls
        get_item = counter.params["dynamodb.GetItem"]
        get_object = counter.params["s3.GetObject"]

        def raw() -> None:
            dynamodb.get_item(**get_item)
            s3.get_object(**get_object)["Body"].read()

        raw_calls = counter.during(raw)
        print(f"  AWS calls per cold hit (body cache empty): {_fmt(cold_calls)}")
        print(f"  AWS calls per warm hit (body cache warm):  {_fmt(warm_calls)}")
        print(f"  raw calls replayed:                        {_fmt(raw_calls)}")

        cold_ms: list[float] = []
        warm_ms: list[float] = []
        raw_ms: list[float] = []
        cold_ratio: list[float] = []
        warm_ratio: list[float] = []
        with redirect_stdout(NULL):
            for _ in range(rounds):
                c, w, r = [], [], []
                for _ in range(per_round):
                    fresh = face()
                    c.append(_timed(lambda f=fresh: f(event)))  # type: ignore[misc]
                    w.append(_timed(lambda: warm_face(event)))
                    r.append(_timed(raw))
                cold_ms.append(statistics.median(c))
                warm_ms.append(statistics.median(w))
                raw_ms.append(statistics.median(r))
                cold_ratio.append(cold_ms[-1] / raw_ms[-1])
                warm_ratio.append(warm_ms[-1] / raw_ms[-1])
        print(f"  raw GetItem+GetObject   {spread(raw_ms, ' ms', 2)}")
        print(f"  cold hit                {spread(cold_ms, ' ms', 2)}")
        print(f"  warm hit                {spread(warm_ms, ' ms', 2)}")
        print(f"  cold hit / raw          {spread(cold_ratio, '', 3)}  (goal <= 1.05)")
        print(f"  warm hit / raw          {spread(warm_ratio, '', 3)}  (goal well below 1)")
    return {
        "hit_cold_ratio": statistics.median(cold_ratio),
        "hit_warm_ratio": statistics.median(warm_ratio),
        "hit_cold_ms": statistics.median(cold_ms),
        "hit_warm_ms": statistics.median(warm_ms),
        "raw_ms": statistics.median(raw_ms),
        "warm_ddb_calls": float(warm_calls["dynamodb.GetItem"]),
        "warm_s3_calls": float(sum(n for k, n in warm_calls.items() if k.startswith("s3."))),
        "warm_calls": float(sum(warm_calls.values())),
        "cold_calls": float(sum(cold_calls.values())),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=40)
    args = parser.parse_args(argv)
    run(args.rounds, args.per_round)


if __name__ == "__main__":
    main()
