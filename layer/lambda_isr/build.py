"""``lambda-isr build module.app``: prerender every generated page of a :class:`FaceApp`.

For each route with ``generate_static_params`` (every ``mode="ssg"`` route, and ISR routes that
declare it) the build records the route's generated params in the store, then renders each page
once through the same render pipeline and commit as a request
(:func:`lambda_isr.isr.detached.regenerate`): same keys (built with the site host rule), same
store (DynamoDB + S3 from the environment, or the app's embedded store).

- bounded concurrency (``--concurrency N`` renders at once), a progress line, a summary;
- incremental: a page whose content did not change writes no new object (bodies are
  content-addressed), and is counted ``unchanged``;
- a failed page fails the build (exit status 1, the failed pages listed); running the build
  again completes it (every page is rendered again; those already stored are ``unchanged``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, TextIO

from lambda_isr.errors import LambdaIsrError, StoreError

if TYPE_CHECKING:
    from lambda_isr.app import FaceApp
    from lambda_isr.app.app import Route

DEFAULT_CONCURRENCY = 8


class PageOutcome(Enum):
    WRITTEN = "written"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class BuiltPage:
    route: str
    path: str
    outcome: PageOutcome
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class BuildSummary:
    pages: tuple[BuiltPage, ...]
    seconds: float
    routes: int = 0

    def count(self, outcome: PageOutcome) -> int:
        return sum(1 for p in self.pages if p.outcome is outcome)

    @property
    def failed(self) -> tuple[BuiltPage, ...]:
        return tuple(p for p in self.pages if p.outcome is PageOutcome.FAILED)

    @property
    def ok(self) -> bool:
        return not self.failed

    def line(self) -> str:
        return (
            f"{len(self.pages)} pages: {self.count(PageOutcome.WRITTEN)} written,"
            f" {self.count(PageOutcome.UNCHANGED)} unchanged, {len(self.failed)} failed"
            f" in {self.seconds:.1f}s"
        )


@dataclass(frozen=True, slots=True)
class _Job:
    route: Route
    path: str
    params: dict[str, str]


@dataclass
class _Progress:
    total: int
    out: TextIO | None
    done: int = 0
    width: int = 30
    lines: list[str] = field(default_factory=list)

    def step(self) -> None:
        self.done += 1
        if self.out is None:
            return
        filled = self.width * self.done // max(self.total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        self.out.write(f"\r[{bar}] {self.done}/{self.total}")
        if self.done == self.total:
            self.out.write("\n")
        self.out.flush()


def _jobs(app: FaceApp) -> Iterator[_Job]:
    from lambda_isr.app.static import fill, generated, record_params  # noqa: PLC0415

    store = app.store()
    for pattern in app.router.patterns:
        found = app.router.match(fill(pattern, dict.fromkeys(pattern.params, "x")))
        route = found.value if found is not None and found.pattern == pattern else None
        if route is None or route.static is None or route.driver is None:
            continue
        params = generated(route.static.generate, pattern)
        if not record_params(
            store, app.clock, route.static.key, params, lease_seconds=route.config.lease_seconds
        ):
            raise LambdaIsrError(f"route {pattern.pattern!r}: another build is recording it")
        for item in params:
            yield _Job(route, fill(pattern, item), item)


def _build_one(app: FaceApp, job: _Job) -> BuiltPage:
    from lambda_isr.app.app import with_host  # noqa: PLC0415
    from lambda_isr.isr.detached import (  # noqa: PLC0415
        DetachedOutcome,
        detached_request,
        regenerate,
    )
    from lambda_isr.isr.keys import build_key  # noqa: PLC0415

    route, driver = job.route, job.route.driver
    assert driver is not None
    pattern = route.pattern.pattern
    request = detached_request(job.path, host=app.site_host or "", params=job.params)
    if app.site_host is not None:
        request = with_host(request, app.site_host)
    try:
        key = build_key(request, driver.config.keys).key
        before = driver.store().meta.get(key) if key is not None else None
        done = regenerate(driver, route.render, request, log=app.observability.logger)
    except (StoreError, LambdaIsrError, ValueError, TypeError) as exc:
        return BuiltPage(pattern, job.path, PageOutcome.FAILED, str(exc))
    if done.outcome is not DetachedOutcome.COMMITTED:
        return BuiltPage(pattern, job.path, PageOutcome.FAILED, done.reason or done.outcome.value)
    after = driver.store().meta.get(done.cache_key or "")
    same = before is not None and after is not None and before.html_key == after.html_key
    return BuiltPage(pattern, job.path, PageOutcome.UNCHANGED if same else PageOutcome.WRITTEN)


def build(
    app: FaceApp,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> BuildSummary:
    """Prerender every generated page of ``app`` (see module docstring)."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency!r}")
    started = clock()
    jobs = list(_jobs(app))
    bar = _Progress(len(jobs), progress)

    def one(job: _Job) -> BuiltPage:
        page = _build_one(app, job)
        bar.step()
        return page

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        pages = tuple(pool.map(one, jobs))
    routes = len({job.route.pattern.pattern for job in jobs})
    return BuildSummary(pages, clock() - started, routes)


# --- the subcommand -------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """``lambda-isr build`` (the cli's subcommand protocol; no import of the cli itself, which
    stays out of the layer)."""
    parser = subparsers.add_parser("build", help="prerender every generated page into the store")
    parser.add_argument("handler", help="the FaceApp, module.attribute (app.app for app.py)")
    parser.add_argument("--task-root", default=".", help="the folder that holds its module")
    parser.add_argument(
        "--concurrency", type=_positive, default=DEFAULT_CONCURRENCY, help="renders at once"
    )
    parser.set_defaults(func=run)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"'{value}' is not a whole number >= 1")
    return number


def _fail(message: str, status: int) -> int:
    print(f"lambda-isr build: {message}", file=sys.stderr)
    return status


def run(args: argparse.Namespace) -> int:
    from pathlib import Path  # noqa: PLC0415

    from lambda_isr.app import FaceApp  # noqa: PLC0415
    from lambda_isr.runtime.loader import load_handler  # noqa: PLC0415

    task_root = Path(args.task_root).resolve()
    if not task_root.is_dir():
        return _fail(f"no folder {task_root}: pass the folder of the app with --task-root", 2)
    try:
        app = load_handler(args.handler, str(task_root))
    except Exception as exc:
        return _fail(f"cannot import {args.handler}: {exc}", 1)
    if not isinstance(app, FaceApp):
        return _fail(f"{args.handler} is not a FaceApp (build prerenders a site)", 2)
    try:
        summary = build(app, concurrency=args.concurrency, progress=sys.stderr)
    except LambdaIsrError as exc:
        return _fail(str(exc), 1)
    print(summary.line())
    for page in summary.failed:
        print(f"failed: {page.path} ({page.route}): {page.reason}", file=sys.stderr)
    return 0 if summary.ok else 1
