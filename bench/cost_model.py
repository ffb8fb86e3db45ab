"""6. Cost on paper: origin invocations and AWS cost per million page views behind CloudFront.

    .venv/bin/python -m bench.cost_model [--hit-ms 3] [--raw-ms 7] [--render-ms 1000]

One page (one cache key) viewed at a steady rate, ``revalidate=60``, behind CloudFront with a
cache policy that honours the origin's ``Cache-Control`` (minimum TTL 0). Compared:

- lambda-isr: a hit answers ``s-maxage=<remaining>, stale-while-revalidate=<revalidate>``
  (``policy.shared_cache_headers``); a miss, a stale copy or an error ``private, no-cache``.
- FaceTheory: ``s-maxage=0``: every view reaches the origin (one Lambda invocation, one
  DynamoDB read and one S3 GET each).

The model (all assumptions, see docs/cost.md):

- POPs fetch from CloudFront's 13 regional edge caches (RECs); only a REC fetches from the
  origin. Views are spread evenly over the 13 RECs (the even split maximises origin fetches).
  A sensitivity row replaces the RECs by 600 POPs fetching directly.
- Every REC copy of a generation expires together (``s-maxage`` = the generation's remaining
  freshness). A cycle lasts ``revalidate + 1/rate + render`` seconds. In it: 1 rendering
  invocation (the first revalidation after expiry: blocking render, ``private``, not stored),
  then 1 hit fetch per REC that sees a view in the cycle, plus 1 extra fetch for each other REC
  whose first revalidation falls inside the render (it gets ``stale``, ``private``, and asks
  again). CloudFront keeps serving its stale copy meanwhile (stale-while-revalidate) and runs
  one revalidation per REC at a time.
- Each origin invocation makes 1 consistent GetItem (1 RRU, item < 4 KB). lambda-isr hits read
  S3 only with a cold body cache (counted as 1 GET per hit fetch: an upper bound); FaceTheory
  reads S3 on every view. Each render writes the page (1 S3 PUT, about 5 WRU: lease put,
  transactional commit of put + delete) in both designs.
- Lambda at 1024 MB x86_64, billed per ms (rounded up): hit invocations take ``--hit-ms``
  (lambda-isr warm hit) or ``--raw-ms`` (FaceTheory: GetItem + GetObject), renders
  ``--render-ms``. Defaults are this machine's measured figures against local emulators;
  ``python -m bench`` passes the figures it just measured.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

PRICE_LIST_DATE = "2025 (us-east-1 list prices; DynamoDB on-demand after the 1 Nov 2024 cut)"
LAMBDA_PER_REQUEST = 0.20 / 1e6  # $ per invocation
LAMBDA_PER_GB_S = 0.0000166667  # $ per GB-second, x86_64, first tier
MEMORY_GB = 1024 / 1024
DDB_PER_RRU = 0.125 / 1e6  # on-demand read request unit
DDB_PER_WRU = 0.625 / 1e6  # on-demand write request unit
S3_PER_GET = 0.0004 / 1000
S3_PER_PUT = 0.005 / 1000
CLOUDFRONT_PER_REQUEST = 0.0100 / 10_000  # HTTPS, US/Canada/Europe
WRU_PER_RENDER = 5

REVALIDATE = 60
RECS = 13
POPS = 600
RATES = (10, 100, 1000)
VIEWS = 1_000_000


@dataclass(frozen=True)
class Durations:
    hit_ms: float = 3.0
    raw_ms: float = 7.0
    render_ms: float = 1000.0


@dataclass(frozen=True)
class Row:
    rate: float
    caches: int
    cycles: float
    renders: float
    hit_fetches: float

    @property
    def invocations(self) -> float:
        return self.renders + self.hit_fetches


def lambda_cost(invocations: float, ms: float) -> float:
    billed_s = math.ceil(ms) / 1000
    return invocations * (LAMBDA_PER_REQUEST + MEMORY_GB * billed_s * LAMBDA_PER_GB_S)


def origin_load(rate: float, caches: int, render_s: float, revalidate: int = REVALIDATE) -> Row:
    """Origin invocations per ``VIEWS`` views under lambda-isr's policy (see module doc)."""
    cycle = revalidate + 1 / rate + render_s
    cycles = VIEWS / (rate * cycle)
    per_cache = rate / caches
    active = caches * (1 - math.exp(-per_cache * cycle))
    during_render = 1 - math.exp(-per_cache * render_s)
    hit_fetches_per_cycle = active + max(0.0, active - 1) * during_render
    return Row(rate, caches, cycles, cycles, cycles * hit_fetches_per_cycle)


def ours_cost(row: Row, d: Durations) -> float:
    return (
        lambda_cost(row.hit_fetches, d.hit_ms)
        + lambda_cost(row.renders, d.render_ms)
        + row.invocations * DDB_PER_RRU
        + row.hit_fetches * S3_PER_GET
        + row.renders * (S3_PER_PUT + WRU_PER_RENDER * DDB_PER_WRU)
    )


def facetheory_cost(row: Row, d: Durations) -> float:
    hits = VIEWS - row.renders
    return (
        lambda_cost(hits, d.raw_ms)
        + lambda_cost(row.renders, d.render_ms)
        + VIEWS * (DDB_PER_RRU + S3_PER_GET)
        + row.renders * (S3_PER_PUT + WRU_PER_RENDER * DDB_PER_WRU)
    )


def table(d: Durations) -> list[str]:
    cdn = VIEWS * CLOUDFRONT_PER_REQUEST
    lines = [
        f"6. cost per {VIEWS:,} views of one page, revalidate={REVALIDATE} s, Lambda 1024 MB "
        f"(hit {d.hit_ms:.1f} ms, FaceTheory view {d.raw_ms:.1f} ms, render {d.render_ms:.0f} ms)",
        f"   prices: {PRICE_LIST_DATE}; CloudFront requests ${cdn:.2f} per 1M views in both"
        " (not in the origin columns)",
        "| views/s | origin invocations, lambda-isr (13 RECs) | FaceTheory (s-maxage=0) | fewer "
        "| origin $ lambda-isr | origin $ FaceTheory | no-REC bound (600 POPs) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rate in RATES:
        ours = origin_load(rate, RECS, d.render_ms / 1000)
        direct = origin_load(rate, POPS, d.render_ms / 1000)
        lines.append(
            f"| {rate:,} | {ours.invocations:,.0f} | {VIEWS:,} | {VIEWS / ours.invocations:,.0f}x "
            f"| ${ours_cost(ours, d):.4f} | ${facetheory_cost(ours, d):.2f} "
            f"| {direct.invocations:,.0f} |"
        )
    return lines


def run(d: Durations | None = None) -> dict[str, float]:
    d = d or Durations()
    for line in table(d):
        print(line)
    out: dict[str, float] = {}
    for rate in RATES:
        row = origin_load(rate, RECS, d.render_ms / 1000)
        out[f"invocations_{rate}"] = row.invocations
        out[f"cost_ours_{rate}"] = ours_cost(row, d)
        out[f"cost_ft_{rate}"] = facetheory_cost(row, d)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    defaults = Durations()
    parser.add_argument("--hit-ms", type=float, default=defaults.hit_ms)
    parser.add_argument("--raw-ms", type=float, default=defaults.raw_ms)
    parser.add_argument("--render-ms", type=float, default=defaults.render_ms)
    args = parser.parse_args(argv)
    run(Durations(args.hit_ms, args.raw_ms, args.render_ms))


if __name__ == "__main__":
    main()
