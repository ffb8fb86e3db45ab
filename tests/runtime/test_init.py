"""Init: handler import failures, SnapStart hooks, logging set-up."""

from __future__ import annotations

import io
import json
import logging
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import snapshot_restore_py  # type: ignore[import-untyped]

from lambda_isr.errors import HandlerLoadError
from lambda_isr.runtime.loader import load_handler
from lambda_isr.runtime.logs import setup_logging
from lambda_isr.runtime.loop import Runtime, RuntimeConfig
from lambda_isr.settings import ENV_BUCKET, ENV_TABLE
from tests.support.fake_runtime_api import FakeRuntimeApi


@pytest.fixture
def task_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def write(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


@pytest.mark.parametrize(
    ("spec", "source", "error_type"),
    [
        ("nodot", "", "Runtime.MalformedHandlerName"),
        ("missing_mod_x.handler", "", "Runtime.ImportModuleError"),
        ("hmod_a.handler", "def other(e, c): pass\n", "Runtime.HandlerNotFound"),
        ("hmod_b.handler", "def handler(e, c)\n    pass\n", "Runtime.UserCodeSyntaxError"),
        ("hmod_c.handler", "import no_such_dependency_zz\n", "Runtime.ImportModuleError"),
        ("sys.handler", "", "Runtime.BuiltInModuleConflict"),
    ],
)
def test_init_failures_are_posted(
    api: FakeRuntimeApi, task_root: Path, spec: str, source: str, error_type: str
) -> None:
    if source:
        write(task_root, spec.split(".", maxsplit=1)[0] + ".py", source)
    runtime = Runtime(RuntimeConfig(api.address, spec, str(task_root)), {})
    assert runtime.init() == 1
    runtime.client.close()
    [(header, payload)] = api.init_errors
    assert header == error_type
    assert payload["errorType"] == error_type
    assert payload["errorMessage"]
    assert payload["stackTrace"] == []


def test_exception_while_importing_reports_its_type(api: FakeRuntimeApi, task_root: Path) -> None:
    write(task_root, "hmod_d.py", "raise RuntimeError('no config')\n")
    runtime = Runtime(RuntimeConfig(api.address, "hmod_d.handler", str(task_root)), {})
    assert runtime.init() == 1
    [(header, payload)] = api.init_errors
    assert header == "RuntimeError"
    assert payload["errorMessage"] == "no config"
    assert any("hmod_d.py" in line for line in payload["stackTrace"])


@pytest.mark.parametrize("spec", ["pkg_x/sub.handler", "pkg_x.sub.handler"])
def test_handler_forms(task_root: Path, spec: str) -> None:
    write(task_root, "pkg_x/__init__.py", "")
    write(task_root, "pkg_x/sub.py", "def handler(e, c):\n    return 'pkg'\n")
    assert load_handler(spec, str(task_root))(None, None) == "pkg"


def test_handler_not_callable(task_root: Path) -> None:
    write(task_root, "hmod_e.py", "handler = 3\n")
    with pytest.raises(HandlerLoadError) as info:
        load_handler("hmod_e.handler", str(task_root))
    assert info.value.error_type == "Runtime.HandlerNotFound"


@pytest.fixture
def hooks() -> Iterator[list[str]]:
    calls: list[str] = []
    yield calls
    snapshot_restore_py._before_snapshot_registry.clear()
    snapshot_restore_py._after_restore_registry.clear()


def snap_runtime(api: FakeRuntimeApi) -> Runtime:
    config = RuntimeConfig(api.address, "x.handler", snap_start=True)
    return Runtime(config, {}, handler=lambda e, c: None)


def test_snapstart_runs_hooks_around_restore_next(api: FakeRuntimeApi, hooks: list[str]) -> None:
    snapshot_restore_py.register_before_snapshot(hooks.append, "before-1")
    snapshot_restore_py.register_before_snapshot(hooks.append, "before-2")
    snapshot_restore_py.register_after_restore(lambda: hooks.append(f"after:{api.restore_calls}"))
    snapshot_restore_py.register_after_restore(hooks.append, "after-2")
    runtime = snap_runtime(api)
    assert runtime.init() == 0
    runtime.client.close()
    assert hooks == ["before-2", "before-1", "after:1", "after-2"]  # reverse, then in order
    assert [r.target for r in api.requests] == ["/2018-06-01/runtime/restore/next"]


def test_restore_reseeds_random_so_restored_sandboxes_do_not_share_jitter(
    api: FakeRuntimeApi, hooks: list[str]
) -> None:
    random.seed(1234)
    snapshot_state = random.getstate()
    snapshot_restore_py.register_after_restore(lambda: hooks.append(str(random.random())))
    runtime = snap_runtime(api)
    assert runtime.init() == 0
    runtime.client.close()
    random.setstate(snapshot_state)
    assert hooks != [str(random.random())]  # a restored copy would draw this same number


def test_failing_before_snapshot_hook(api: FakeRuntimeApi, hooks: list[str]) -> None:
    def bad() -> None:
        raise OSError("disk")

    snapshot_restore_py.register_before_snapshot(bad)
    assert snap_runtime(api).init() == 64
    [(header, payload)] = api.init_errors
    assert header == "Runtime.BeforeSnapshotError"
    assert payload["errorType"] == "OSError"
    assert api.restore_calls == 0


def test_failing_after_restore_hook(api: FakeRuntimeApi, hooks: list[str]) -> None:
    def bad() -> None:
        raise ValueError("reconnect")

    snapshot_restore_py.register_after_restore(bad)
    assert snap_runtime(api).init() == 65
    [(header, payload)] = api.restore_errors
    assert header == "Runtime.AfterRestoreError"
    assert payload["errorMessage"] == "reconnect"


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_logs_and_level(root_logger: logging.Logger) -> None:
    out = io.StringIO()
    env = {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN"}
    request_filter = setup_logging(env, out)
    request_filter.request_id = "rid-1"
    assert root_logger.level == logging.WARNING
    logging.getLogger("app").info("hidden")
    logging.getLogger("app").warning("shown %s", 1, extra={"k": "v"})
    [line] = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["message"] == "shown 1"
    assert record["level"] == "WARNING"
    assert record["requestId"] == "rid-1"
    assert record["logger"] == "app"
    assert record["k"] == "v"


def test_text_logs_and_trace_level(root_logger: logging.Logger) -> None:
    out = io.StringIO()
    setup_logging({"AWS_LAMBDA_LOG_LEVEL": "TRACE"}, out).request_id = "rid-2"
    assert root_logger.level == logging.DEBUG
    logging.getLogger("app").debug("hello")
    line = out.getvalue()
    assert line.startswith("[DEBUG]\t")
    assert line.endswith("\trid-2\thello\n")


def test_under_the_runtime_a_half_configured_store_is_an_init_error(
    api: FakeRuntimeApi, task_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_TABLE, "pages")
    monkeypatch.delenv(ENV_BUCKET, raising=False)
    (task_root / "site_half.py").write_text(
        "from lambda_isr import isr_face\n\n"
        "@isr_face(revalidate=60)\n"
        "def handler(request):\n    return 'page'\n"
    )
    runtime = Runtime(RuntimeConfig(api.address, "site_half.handler", str(task_root)), {})
    assert runtime.init() == 1
    runtime.client.close()
    [(header, payload)] = api.init_errors
    assert header == payload["errorType"] == "ConfigError"
    assert ENV_BUCKET in payload["errorMessage"]
