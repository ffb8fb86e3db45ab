"""Local caches separated per app (issue 17): the embedded store's namespace comes from the
resolved path of the module that defines the app; an explicit LAMBDA_ISR_NAMESPACE names it and
is the only thing that partitions the AWS store; dev's reload soft-purges one namespace."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambda_isr.dev.cache import soft_purge
from lambda_isr.errors import ConfigError
from lambda_isr.namespace import (
    app_source,
    defining_source,
    effective_namespace,
    namespace_for_file,
)
from lambda_isr.store.config import namespace_directory, store_from_env
from lambda_isr.store.contract import CacheRecord, Lease
from lambda_isr.store.sqlite import SqliteMetaStore

ROOT = Path(__file__).resolve().parents[2]
DEMO, BLOG = ROOT / "handler" / "app.py", ROOT / "examples" / "blog" / "app.py"


def test_two_app_py_files_get_two_readable_stable_namespaces(tmp_path: Path) -> None:
    demo, blog = namespace_for_file(DEMO), namespace_for_file(BLOG)
    assert demo != blog
    assert demo.startswith("app-handler-")
    assert blog.startswith("app-blog-")
    assert namespace_for_file(ROOT / "examples" / ".." / "handler" / "app.py") == demo
    link = tmp_path / "link.py"
    link.symlink_to(DEMO)
    assert namespace_for_file(link) == demo  # the resolved path
    odd = namespace_for_file(tmp_path / "we ird$" / "mo dule.py")
    assert odd.startswith("mo_dule-we_ird-")


def test_the_embedded_store_keeps_each_app_in_its_own_folder(tmp_path: Path) -> None:
    env = {"LAMBDA_ISR_DIR": str(tmp_path)}
    demo = store_from_env(env, source=DEMO)
    blog = store_from_env(env, source=BLOG)
    assert isinstance(demo.meta, SqliteMetaStore)
    assert isinstance(blog.meta, SqliteMetaStore)
    assert demo.meta.path == tmp_path / namespace_for_file(DEMO) / "meta.sqlite3"
    assert blog.meta.path.parent == tmp_path / namespace_for_file(BLOG)
    assert "sqlite+files:" in blog.description
    root = store_from_env(env)  # no defining file (python -c, a REPL): the store's root
    assert isinstance(root.meta, SqliteMetaStore)
    assert root.meta.path == tmp_path / "meta.sqlite3"
    for store in (demo, blog, root):
        assert isinstance(store.meta, SqliteMetaStore)
        store.meta.close()


def test_an_explicit_namespace_wins_and_is_checked(tmp_path: Path) -> None:
    env = {"LAMBDA_ISR_DIR": str(tmp_path), "LAMBDA_ISR_NAMESPACE": "shared-site"}
    store = store_from_env(env, source=DEMO)
    assert isinstance(store.meta, SqliteMetaStore)
    assert store.meta.path == tmp_path / "shared-site" / "meta.sqlite3"
    store.meta.close()
    assert effective_namespace(env, source=DEMO) == "shared-site"
    assert effective_namespace(env, namespace="mine", source=DEMO) == "mine"
    assert effective_namespace({}, source=DEMO) == namespace_for_file(DEMO)
    assert effective_namespace({}) is None
    for bad in ("../up", "a/b", "a#b", ".hidden", "x" * 101):
        with pytest.raises(ConfigError, match="LAMBDA_ISR_NAMESPACE"):
            store_from_env({**env, "LAMBDA_ISR_NAMESPACE": bad})
    assert namespace_directory(tmp_path, None) == tmp_path


class _Client:
    """Stands for a boto3 client: the stores only keep it until the first call."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"no AWS call expected, got {name}")


def _aws(env: dict[str, str], **kwargs: Any) -> Any:
    return store_from_env(
        {"FACETHEORY_CACHE_TABLE_NAME": "pages", "FACETHEORY_ISR_BUCKET": "bodies", **env},
        dynamodb_client=_Client(),  # type: ignore[arg-type]
        s3_client=_Client(),  # type: ignore[arg-type]
        **kwargs,
    )


def test_the_aws_store_is_namespaced_only_when_told(tmp_path: Path) -> None:
    from lambda_isr.store.keys import partition_key  # noqa: PLC0415

    shared = _aws({}, source=DEMO)
    assert shared.description == "dynamodb:pages + s3://bodies/isr/"
    assert shared.meta._tenant is None
    told = _aws({"LAMBDA_ISR_NAMESPACE": "blog"}, source=DEMO)
    assert told.description == "dynamodb:pages + s3://bodies/isr/blog/"
    assert told.meta._tenant == "blog"
    assert partition_key("k", tenant=told.meta._tenant).startswith("TENANT#blog#CACHE#")
    assert _aws({}, namespace="n").description == "dynamodb:pages + s3://bodies/isr/n/"


@pytest.fixture
def site_module(tmp_path: Path) -> Iterator[Path]:
    """A user module that builds its handler through lambda-isr code (a stand-in frame)."""
    fake = {"__name__": "lambda_isr.fake_factory", "defining_source": defining_source}
    exec(compile("def build():\n    return defining_source()\n", "<factory>", "exec"), fake)
    sys.modules["lambda_isr_test_factory"] = type(sys)("lambda_isr_test_factory")
    sys.modules["lambda_isr_test_factory"].build = fake["build"]  # type: ignore[attr-defined]
    path = tmp_path / "mysite" / "site_app.py"
    path.parent.mkdir()
    path.write_text(
        textwrap.dedent(
            """
            import lambda_isr_test_factory
            SOURCE = lambda_isr_test_factory.build()
            """
        )
    )
    sys.path.insert(0, str(path.parent))
    try:
        yield path
    finally:
        sys.path.remove(str(path.parent))
        sys.modules.pop("site_app", None)
        sys.modules.pop("lambda_isr_test_factory", None)


def test_the_defining_file_is_the_first_caller_outside_lambda_isr(site_module: Path) -> None:
    import site_app  # type: ignore[import-not-found]  # noqa: PLC0415

    assert str(site_module) == site_app.SOURCE
    assert app_source("site_app") == str(site_module.resolve())
    assert app_source(site_app) == str(site_module.resolve())
    assert app_source(str(site_module)) == str(site_module.resolve())
    assert app_source(site_module) == str(site_module.resolve())

    class Recorded:
        source_file = "/somewhere/app.py"

    assert app_source(Recorded()) == "/somewhere/app.py"
    assert app_source(None) is None
    with pytest.raises(ConfigError, match="no module of that name"):
        app_source("no_such_module_here")
    with pytest.raises(ConfigError, match="no such file"):
        app_source("missing/app.py")
    with pytest.raises(ConfigError, match="app= must be"):
        app_source(42)


def _record(key: str, at: float) -> CacheRecord:
    return CacheRecord(key, "isr/x.html", at, 3600)


def test_soft_purge_marks_every_record_of_one_namespace_and_keeps_it(tmp_path: Path) -> None:
    mine, other = tmp_path / "mine", tmp_path / "other"
    stores = [SqliteMetaStore(folder / "meta.sqlite3") for folder in (mine, mine, other)]
    for store, key in zip(stores, ("a", "b", "a"), strict=True):
        lease = store.try_acquire_lease(key, 30)
        assert isinstance(lease, Lease)
        store.commit_generation(lease, _record(key, lease.acquired_at))
    assert soft_purge(mine, now=stores[0].get("a").generated_at + 1) == 2  # type: ignore[union-attr]
    for key in ("a", "b"):
        record = stores[0].get(key)
        assert record is not None
        assert record.invalidated_at is not None
    untouched = stores[2].get("a")
    assert untouched is not None
    assert untouched.invalidated_at is None
    assert soft_purge(mine, now=0.0) == 0  # never moves a purge back
    assert soft_purge(tmp_path / "never-used") == 0
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "meta.sqlite3").touch()
    assert soft_purge(tmp_path / "empty") == 0
    for store in stores:
        store.close()


def _records_source() -> bool:
    from lambda_isr.app import FaceApp  # noqa: PLC0415

    return isinstance(getattr(FaceApp(), "source_file", None), str)


APP = """
from lambda_isr import FaceApp, FaceRequest

app = FaceApp(host="site.example")
handler = app


@app.face("/", revalidate=3600, vary_cookies=[])
def home(request: FaceRequest) -> str:
    return "<p>{name} home</p>"
"""


@pytest.mark.skipif(
    not _records_source(), reason="handler.py does not record the defining file yet"
)
def test_dev_invoke_and_a_direct_call_share_one_namespace_per_app(tmp_path: Path) -> None:
    from lambda_isr.dev.log import DevLog  # noqa: PLC0415
    from lambda_isr.dev.runner import DevConfig, DevServer  # noqa: PLC0415
    from tests.dev.helpers import Dev, LogBuffer, worker_environ  # noqa: PLC0415

    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(APP.format(name=name))
    env = worker_environ(tmp_path)
    served = {}
    for name in ("first", "second"):
        config = DevConfig(task_root=tmp_path / name, port=0, workers=1, environ=env)
        with DevServer(config, DevLog(LogBuffer())) as server:
            response = Dev(server, LogBuffer(), tmp_path, tmp_path / "r").get("/")
            served[name] = (response.header("x-isr-cache"), response.body)
    assert served["first"] == ("miss", served["first"][1])
    assert b"first home" in served["first"][1]
    assert served["second"][0] == "miss"  # not the first app's page as a hit
    assert b"second home" in served["second"][1]
    store = Path(env["LAMBDA_ISR_DIR"])
    assert sorted(p.parent.name for p in store.rglob("meta.sqlite3")) == sorted(
        namespace_for_file(tmp_path / name / "app.py") for name in ("first", "second")
    )

    event = tmp_path / "get.json"
    event.write_text((ROOT / "events" / "get.json").read_text().replace("/blog/hello-world", "/"))
    invoke = subprocess.run(
        [sys.executable, "-m", "lambda_isr.cli", "invoke", str(event), "app.handler",
         "--task-root", str(tmp_path / "first")],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert invoke.returncode == 0, invoke.stderr
    assert "x-isr-cache: hit" in invoke.stdout  # what dev cached for this app
    assert "first home" in invoke.stdout
    direct = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import app; "
        "print(app.handler(json.load(open(sys.argv[2])), None)['headers']['x-isr-cache'])"
    )
    call = subprocess.run(
        [sys.executable, "-c", direct, str(tmp_path / "second"), str(event)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert call.stdout.splitlines()[-1] == "hit", call.stderr  # after the log lines


def _invalidate_takes_app() -> bool:
    import inspect  # noqa: PLC0415

    from lambda_isr.purge import invalidate  # noqa: PLC0415

    return "app" in inspect.signature(invalidate).parameters


@pytest.mark.skipif(
    not (_records_source() and _invalidate_takes_app()),
    reason="handler.py does not record the defining file, or invalidate() takes no app= yet",
)
def test_a_purge_from_another_process_names_the_app(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "app.py").write_text(APP.format(name="purged"))
    event = tmp_path / "get.json"
    event.write_text((ROOT / "events" / "get.json").read_text().replace("/blog/hello-world", "/"))
    call = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import app; "
        "print(app.handler(json.load(open(sys.argv[2])), None)['headers']['x-isr-cache'])"
    )
    env = {**worker_environ_for(tmp_path)}
    states = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", call, str(tmp_path / "site"), str(event)],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        states.append(done.stdout.splitlines()[-1])
    purge = (
        "import sys; from lambda_isr import invalidate; "
        "print(dict(invalidate(['/'], host='site.example', app=sys.argv[1])), "
        "dict(invalidate(['/'], host='site.example')))"
    )
    purged = subprocess.run(
        [sys.executable, "-c", purge, str(tmp_path / "site" / "app.py")],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert states == ["miss", "hit"]
    # PurgeResult: entries purged per path (issue 14)
    assert purged.stdout.splitlines()[-1] == "{'/': 1} {'/': 0}", purged.stderr


def worker_environ_for(tmp_path: Path) -> dict[str, str]:
    from tests.dev.helpers import worker_environ  # noqa: PLC0415

    return worker_environ(tmp_path)
