"""``make bench``: every benchmark once, each figure a ratio measured in the same run.

    .venv/bin/python -m bench [--only ttfb,hit,...,app,revalidation,build]

Prints, never asserts: a section that crashes prints its traceback, the others still run, and
the exit status is then 1. Ends with a markdown summary table (README's Performance section).
Needs DynamoDB Local (``make ddb-local``) and python3.13 (pyenv) for the cold-start section.
"""

from __future__ import annotations

import argparse
import io
import math
import re
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import redirect_stdout
from typing import TextIO

from bench import (
    bench_app,
    bench_build,
    bench_coldstart,
    bench_contention,
    bench_hit,
    bench_revalidation,
    bench_runtime,
    bench_ttfb,
    cost_model,
)
from bench.common import machine_line

SECTIONS = (
    "ttfb",
    "hit",
    "contention",
    "runtime",
    "coldstart",
    "cost",
    "app",
    "revalidation",
    "build",
)
Results = dict[str, float]


class Tee(io.TextIOBase):
    """Writes through to ``out`` and keeps a copy (to read bench_runtime's ratios back)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.copy = io.StringIO()

    def write(self, s: str) -> int:
        self.copy.write(s)
        return self.out.write(s)

    def flush(self) -> None:
        self.out.flush()


def runtime_section() -> Results:
    print("4. runtime loop (bench.bench_runtime --quick)")
    tee = Tee(sys.stdout)
    with redirect_stdout(tee):
        bench_runtime.main(["--quick"])
    out: Results = {}
    text = tee.copy.getvalue()
    # Tolerant of both "ratio ...: 1.23" and "ratio ...: wall 1.23 (...), CPU 0.98 (...)".
    for key, label in (("runtime", ""), ("runtime_312", " in python3.12+ mode")):
        line = re.search(rf"ratio ours/awslambdaric{re.escape(label)}: ([^\n]*)", text)
        if line is None:
            continue
        wall = re.match(r"(?:wall )?([0-9.]+)", line.group(1))
        cpu = re.search(r"CPU ([0-9.]+)", line.group(1))
        if wall:
            out[f"{key}_ratio"] = float(wall.group(1))
        if cpu:
            out[f"{key}_cpu_ratio"] = float(cpu.group(1))
    for key, label in (
        ("isr_hit", "awslambdaric"),
        ("isr_hit_quiet", "awslambdaric, quiet"),
        ("constant", "awslambdaric, constant page"),
    ):
        hit = re.search(
            rf"rate ratio ISR hit/{re.escape(label)}: wall ([0-9.]+)[^\n]*CPU ([0-9.]+)", text
        )
        if hit is not None:
            out[f"{key}_rate_ratio"] = float(hit.group(1))
            out[f"{key}_cpu_rate_ratio"] = float(hit.group(2))
    return out


def _f(results: Results, key: str, fmt: str = "{:.2f}") -> str:
    value = results.get(key)
    if value is None or math.isnan(value):
        return "n/a"
    return fmt.format(value)


def summary(r: Results) -> list[str]:
    renders = (
        f"stale {_f(r, 'stale_renders_min', '{:.0f}')}-{_f(r, 'stale_renders_max', '{:.0f}')}, "
        f"new {_f(r, 'new_renders_min', '{:.0f}')}-{_f(r, 'new_renders_max', '{:.0f}')}"
    )
    errors = f"{_f(r, 'stale_errors', '{:.0f}')} / {_f(r, 'new_errors', '{:.0f}')}"
    return [
        "| Figure (one run, medians) | Goal | Measured |",
        "|---|---|---|",
        f"| TTFB / render time on a miss (1 s render), streamed | < 0.05 "
        f"| {_f(r, 'ttfb_ratio', '{:.4f}')} ({_f(r, 'ttfb_ms', '{:.1f}')} ms) |",
        f"| same, rendered then sent (FaceTheory's way) | 1.0 | {_f(r, 'ttfb_ratio_buffered')} |",
        f"| AWS calls per hit, warm body cache | 1 GetItem, 0 S3 "
        f"| {_f(r, 'warm_ddb_calls', '{:.0f}')} GetItem, {_f(r, 'warm_s3_calls', '{:.0f}')} S3 |",
        f"| hit latency / raw GetItem+GetObject, cold body cache | <= 1.05 "
        f"| {_f(r, 'hit_cold_ratio', '{:.3f}')} |",
        f"| hit latency / raw GetItem+GetObject, warm body cache | well below 1 "
        f"| {_f(r, 'hit_warm_ratio', '{:.3f}')} |",
        f"| renders per round, 64 processes at once (stale / new page) | 1 | {renders} |",
        f"| errors, 64 processes (stale / new page) | 0 | {errors} |",
        f"| waiters p50 / p99 as x render time, stale page | - "
        f"| {_f(r, 'stale_p50')}x / {_f(r, 'stale_p99')}x |",
        f"| waiters p50 / p99 as x render time, new page (1 s render) | p99 <= 1.3x "
        f"| {_f(r, 'new_p50')}x / {_f(r, 'new_p99')}x |",
        f"| new page (1 s render): record reads / lease attempts per waiter per second of its"
        f" wait | bounded | {_f(r, 'new_reads_per_waiter_s', '{:.1f}')} / "
        f"{_f(r, 'new_tries_per_waiter_s', '{:.1f}')} |",
        f"| new page: commit returned after the release / waiters saw it, p99 after the commit"
        f" | - | {_f(r, 'new_commit_x')}x / {_f(r, 'new_seen_p99_ms', '{:.0f}')} ms |",
        f"| runtime loop per invocation / awslambdaric: wall (CPU) | - "
        f"| {_f(r, 'runtime_ratio')} ({_f(r, 'runtime_cpu_ratio')}); 3.12+ mode "
        f"{_f(r, 'runtime_312_ratio')} ({_f(r, 'runtime_312_cpu_ratio')}) |",
        f"| warm ISR hit through the streaming loop, invocations/s / bare awslambdaric:"
        f" wall (CPU) | >= 0.8 "
        f"| {_f(r, 'isr_hit_rate_ratio')} ({_f(r, 'isr_hit_cpu_rate_ratio')}) |",
        f"| same, summary line and EMF metrics switched off (what they cost) | - "
        f"| {_f(r, 'isr_hit_quiet_rate_ratio')} ({_f(r, 'isr_hit_quiet_cpu_rate_ratio')}) |",
        f"| the ceiling: the same 2 kB page as a constant, streamed through the loop (no key,"
        f" store, log line or metrics) | - "
        f"| {_f(r, 'constant_rate_ratio')} ({_f(r, 'constant_cpu_rate_ratio')}) |",
        f"| cold start: import + init of the demo handler (store is lazy) / boto3 + DynamoDB"
        f" client | <= 1.3 | {_f(r, 'cold_import_net')}x (CPU {_f(r, 'cold_import_cpu_net')}x) |",
        f"| same + what a first request needs: the store's DynamoDB client + its S3 client,"
        f" Lambda's environment | <= 1.2 | {_f(r, 'cold_init_net')}x (CPU"
        f" {_f(r, 'cold_init_cpu_net')}x; vs both boto3 clients {_f(r, 'cold_init_vs_both')}x) |",
        f"| same, tracing on (Tracer created) | <= 1.8 | {_f(r, 'cold_init_tracing_net')}x"
        f" (CPU {_f(r, 'cold_init_tracing_cpu_net')}x; vs both boto3 clients"
        f" {_f(r, 'cold_init_tracing_vs_both')}x) |",
        f"| origin invocations per 1M views, 10 / 100 / 1000 views/s (FaceTheory: 1M) | - "
        f"| {_f(r, 'invocations_10', '{:,.0f}')} / {_f(r, 'invocations_100', '{:,.0f}')} / "
        f"{_f(r, 'invocations_1000', '{:,.0f}')} |",
        f"| FaceApp route lookup, 200 routes (with path normalisation) | <= 20 us "
        f"| {_f(r, 'route_lookup_us')} us ({_f(r, 'route_full_us')} us) |",
        f"| warm ISR hit CPU per invocation, FaceApp / bare @isr_face | <= 1.05 "
        f"| {_f(r, 'app_hit_cpu_ratio', '{:.3f}')} |",
        f"| TTFB / render time on a miss, FaceApp page with head + load (1 s body) | < 0.05 "
        f"| {_f(r, 'app_ttfb_ratio', '{:.4f}')} ({_f(r, 'app_ttfb_ms', '{:.1f}')} ms) |",
        f"| lease winner on a stale page (1 s render), after the response: p50 / p99 as x a"
        f" hit's p50 / p99 | p99 <= 2x "
        f"| {_f(r, 'after_p50_x_hit')}x / {_f(r, 'after_p99_x_hit')}x |",
        f"| same, blocking | ~ render time | {_f(r, 'blocking_p50_x_hit', '{:.0f}')}x / "
        f"{_f(r, 'blocking_p99_x_hit', '{:.0f}')}x |",
        f"| async: 100 pages, each delivered 3x concurrently -> renders | 100 "
        f"| {_f(r, 'async_renders', '{:.0f}')} |",
        f"| build of 1,000 pages (50 ms renders, concurrency 8), wall / ideal | <= 1.3 "
        f"| {_f(r, 'build_ratio', '{:.3f}')} |",
        f"| objects written by an unchanged rebuild | 0 | {_f(r, 'rebuild_objects', '{:.0f}')} |",
        f"| invalidate_tags, store calls per purged entry (1,000 entries, DynamoDB Local) "
        f"| <= 1.1 | {_f(r, 'purge_calls_per_entry', '{:.3f}')} "
        f"({_f(r, 'purge_ms_per_entry')} ms each) |",
    ]


_GOAL = re.compile(r"^(p99\s+)?(<=|>=|<|>)\s*([0-9][0-9,.]*)")
_NUMBER = re.compile(r"[0-9][0-9,]*(?:\.[0-9]+)?")


def goals_line(rows: list[str]) -> str:
    """One line: how many numeric goals (``<= 1.3``, ``>= 0.8``, ``< 0.05``, ``p99 <= 2x``)
    the summary table's rows meet. The goal is compared with the first number of Measured
    (the second for a ``p99`` goal over a "p50 / p99" figure); rows without a numeric goal, or
    whose figure is missing (n/a), are not counted as met or missed."""
    met: list[str] = []
    missed: list[str] = []
    unmeasured = 0
    for row in rows:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) < 3:
            continue
        figure, goal, measured = cells[0], cells[-2], cells[-1]
        m = _GOAL.match(goal)
        if m is None:
            continue
        numbers = [float(n.replace(",", "")) for n in _NUMBER.findall(measured)]
        index = 1 if m.group(1) else 0
        if measured.startswith("n/a") or len(numbers) <= index:
            unmeasured += 1
            continue
        value, op, target = numbers[index], m.group(2), float(m.group(3).replace(",", ""))
        ok = {
            "<=": value <= target,
            ">=": value >= target,
            "<": value < target,
            ">": value > target,
        }[op]
        name = figure if len(figure) <= 60 else figure[:57] + "..."
        (met if ok else missed).append(f"{name} ({value:g} vs {goal})")
    line = f"goals: {len(met)} met, {len(missed)} missed"
    if unmeasured:
        line += f", {unmeasured} not measured"
    if missed:
        line += "; missed: " + "; ".join(missed)
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    args = parser.parse_args(argv)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    print(machine_line())
    print(
        "note: wall-clock figures on a shared machine (other jobs may be running on the same"
        " cores); ratios are taken within one run to cancel most of that noise"
    )
    results: Results = {}
    failed: list[str] = []

    def cost() -> Results:
        d = cost_model.Durations(
            hit_ms=results.get("hit_warm_ms", cost_model.Durations.hit_ms),
            raw_ms=results.get("raw_ms", cost_model.Durations.raw_ms),
            render_ms=results.get("render_ms", cost_model.Durations.render_ms),
        )
        return cost_model.run(d)

    sections: dict[str, Callable[[], Results]] = {
        "ttfb": bench_ttfb.run,
        "hit": bench_hit.run,
        "contention": bench_contention.run,
        "runtime": runtime_section,
        "coldstart": bench_coldstart.run,
        "cost": cost,
        "app": bench_app.run,
        "build": bench_build.run,
        "revalidation": bench_revalidation.run,
    }
    began = time.perf_counter()
    for name in wanted:
        started = time.perf_counter()
        try:
            results.update(sections[name]())
        except Exception:
            failed.append(name)
            print(f"  section {name!r} crashed:")
            traceback.print_exc(file=sys.stdout)
        print(f"  ({name}: {time.perf_counter() - started:.1f} s)", flush=True)
    print(machine_line())
    print(f"total {time.perf_counter() - began:.1f} s")
    print()
    rows = summary(results)
    print("\n".join(rows))
    print(goals_line(rows))
    if failed:
        print(f"crashed sections: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
