"""The Vite manifest reader: the demo's own Vite 8 build, hand-written edge cases (shared
chunks, CSS-only imports, cycles), errors when the app is built, and FaceApp's entries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lambda_isr import FaceRequest, Hydration, Page, PageHead
from lambda_isr.app.assets import IMMUTABLE, ViteManifest, content_type
from lambda_isr.errors import ConfigError
from tests.app.assets_support import MANIFEST, ensure_frontend
from tests.app.helpers import body_of, make_app


def chunk(
    file: str,
    *,
    imports: list[str] | None = None,
    css: list[str] | None = None,
    entry: bool = False,
) -> dict[str, Any]:
    out: dict[str, Any] = {"file": file}
    if imports:
        out["imports"] = imports
    if css:
        out["css"] = css
    if entry:
        out["isEntry"] = True
    return out


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "dist" / ".vite" / "manifest.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    return path


# --- the demo's real build ----------------------------------------------------------------------


def test_the_demo_manifest_from_vite_8() -> None:
    dist = ensure_frontend()
    raw = json.loads(MANIFEST.read_text())
    manifest = ViteManifest.load(MANIFEST)
    post = manifest.entry("src/post.js")
    main = manifest.entry("src/main.js")
    (shared_key,) = raw["src/post.js"]["imports"]  # Vite's shared chunk ("_shared-<hash>.js")
    shared = raw[shared_key]
    # the shared chunk's stylesheet first (dependencies first), then the entry's own
    assert post.styles == ("/" + shared["css"][0], "/" + raw["src/post.js"]["css"][0])
    assert post.preloads == ("/" + shared["file"],)
    assert post.script == "/" + raw["src/post.js"]["file"]
    assert main.preloads == post.preloads  # one shared chunk for both entries
    assert main.script == "/" + raw["src/main.js"]["file"]
    assert post.script is not None
    for url in (*post.styles, *post.preloads, post.script, *main.styles):
        assert url.startswith("/assets/")
        assert (dist / url.lstrip("/")).is_file(), url  # every URL is a built file
    head = post.head()
    assert [(link.rel, link.href) for link in head.links] == [
        *(("stylesheet", url) for url in post.styles),
        *(("modulepreload", url) for url in post.preloads),
    ]
    assert [(s.src, s.module) for s in head.scripts] == [(post.script, True)]


# --- hand-written edge cases ----------------------------------------------------------------


def test_shared_chunks_are_followed_recursively_and_written_once(tmp_path: Path) -> None:
    manifest = ViteManifest.parse(
        {
            "src/app.js": chunk(
                "assets/app.js", imports=["_a.js", "_b.js"], css=["assets/app.css"], entry=True
            ),
            "_a.js": chunk("assets/a.js", imports=["_shared.js"], css=["assets/a.css"]),
            "_b.js": chunk("assets/b.js", imports=["_shared.js"]),
            "_shared.js": chunk("assets/shared.js", css=["assets/shared.css", "assets/a.css"]),
            "src/lazy.js": {"file": "assets/lazy.js", "isDynamicEntry": True},
        }
    )
    found = manifest.entry("src/app.js")
    assert found.preloads == ("/assets/shared.js", "/assets/a.js", "/assets/b.js")
    assert found.styles == ("/assets/shared.css", "/assets/a.css", "/assets/app.css")
    assert found.script == "/assets/app.js"
    assert "/assets/lazy.js" not in found.preloads  # dynamic imports are not preloaded
    assert manifest.entry("src/app.js") is found  # resolved once


def test_css_only_imports_and_css_entries_are_stylesheets(tmp_path: Path) -> None:
    manifest = ViteManifest.parse(
        {
            "src/app.js": chunk("assets/app.js", imports=["_theme.css", "_util.js"], entry=True),
            "_theme.css": {"file": "assets/theme.css", "src": "_theme.css"},
            "_util.js": chunk("assets/util.js", css=["assets/util.css"]),
            "src/print.css": chunk("assets/print.css", entry=True),
        }
    )
    found = manifest.entry("src/app.js")
    assert found.styles == ("/assets/theme.css", "/assets/util.css")
    assert found.preloads == ("/assets/util.js",)  # never a stylesheet as a module
    print_css = manifest.entry("src/print.css")
    assert print_css.styles == ("/assets/print.css",)
    assert (print_css.preloads, print_css.script) == ((), None)
    assert print_css.head().scripts == ()


def test_import_cycles_end_and_the_entry_is_never_preloaded(tmp_path: Path) -> None:
    manifest = ViteManifest.parse(
        {
            "src/app.js": chunk("assets/app.js", imports=["_x.js"], entry=True),
            "_x.js": chunk("assets/x.js", imports=["_y.js"], css=["assets/x.css"]),
            "_y.js": chunk("assets/y.js", imports=["_x.js", "src/app.js"], css=["assets/y.css"]),
        }
    )
    found = manifest.entry("src/app.js")
    assert found.preloads == ("/assets/y.js", "/assets/x.js")
    assert found.styles == ("/assets/y.css", "/assets/x.css")
    assert found.script == "/assets/app.js"


def test_the_order_is_the_same_whatever_the_json_order(tmp_path: Path) -> None:
    entries = {
        "src/app.js": chunk("assets/app.js", imports=["_a.js", "_b.js"], entry=True),
        "_a.js": chunk("assets/a.js", css=["assets/a.css"]),
        "_b.js": chunk("assets/b.js", css=["assets/b.css"]),
    }
    reversed_entries = dict(reversed(list(entries.items())))
    one = ViteManifest.parse(entries).entry("src/app.js")
    two = ViteManifest.parse(reversed_entries).entry("src/app.js")
    assert one == two
    assert one.preloads == ("/assets/a.js", "/assets/b.js")


def test_base_is_prefixed_to_every_url() -> None:
    data = {"src/app.js": chunk("assets/app.js", css=["assets/app.css"], entry=True)}
    found = ViteManifest.parse(data, base="https://cdn.example.com/site/").entry("src/app.js")
    assert found.script == "https://cdn.example.com/site/assets/app.js"
    assert found.styles == ("https://cdn.example.com/site/assets/app.css",)
    for bad in ("", "assets/", "/assets", "./", "javascript:x/", "/a b/"):
        with pytest.raises(ConfigError, match="base"):
            ViteManifest.parse(data, base=bad)


# --- errors, when the app is built ----------------------------------------------------------


def test_a_missing_entry_names_the_entries(tmp_path: Path) -> None:
    data = {"src/main.js": chunk("a/m.js", entry=True), "_s.js": chunk("a/s.js")}
    manifest = ViteManifest.load(write(tmp_path, data))
    with pytest.raises(ConfigError, match=r"'src/mian\.js' is not in .*src/main\.js"):
        manifest.entry("src/mian.js")
    with pytest.raises(ConfigError, match="not an entry"):
        manifest.entry("_s.js")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found: build the front end"),
        ("{not json", "is not JSON"),
        ("[]", "is not a JSON object"),
        ('{"src/a.js": {"isEntry": true}}', "'file' must be a relative path"),
        ('{"src/a.js": {"file": "../../etc/passwd"}}', "not a plain relative path"),
        ('{"src/a.js": {"file": "/abs.js"}}', "must be a relative path"),
        ('{"src/a.js": {"file": "a.js", "imports": ["_gone.js"]}}', "imports '_gone.js'"),
        ('{"src/a.js": {"file": "a.js", "css": "a.css"}}', "must be a list of strings"),
    ],
)
def test_an_unusable_manifest_is_a_config_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "manifest.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        ViteManifest.load(path)
    with pytest.raises(ConfigError, match=message):
        make_app(manifest=path)  # when the app is built, not at the first request


def test_face_entries_are_checked_when_registered(tmp_path: Path) -> None:
    path = write(tmp_path, {"src/main.js": chunk("assets/main.js", entry=True)})
    with pytest.raises(ConfigError, match=r"'src/nope\.js' is not in"):
        make_app(manifest=path, entry="src/nope.js")
    env = make_app(manifest=path)
    with pytest.raises(ConfigError, match=r"route '/x'.*'src/nope\.js' is not in"):
        env.app.face("/x", revalidate=60, entry="src/nope.js")
    with pytest.raises(ConfigError, match="needs the Vite manifest"):
        make_app().app.face("/x", revalidate=60, entry="src/main.js")


# --- FaceApp: the head, and the bootstrap written once ----------------------------------------

MANIFEST_DATA = {
    "src/main.js": chunk("assets/main.js", imports=["_s.js"], css=["assets/main.css"], entry=True),
    "src/post.js": chunk("assets/post.js", imports=["_s.js"], entry=True),
    "_s.js": chunk("assets/s.js", css=["assets/s.css"]),
}


def test_a_face_gets_its_entry_and_the_app_default(tmp_path: Path) -> None:
    path = write(tmp_path, MANIFEST_DATA)
    env = make_app(manifest=path, entry="src/main.js", head=PageHead(title="Site"))

    @env.app.face("/", revalidate=60)
    def home(request: FaceRequest) -> str:
        return "<h1>home</h1>"

    @env.app.face("/posts/{slug}", revalidate=60, entry="src/post.js")
    def post(request: FaceRequest) -> Page:
        return Page(body="<p>post</p>", hydration=Hydration({"slug": request.params["slug"]}))

    home_html = body_of(env.get("/"))
    assert (
        '<link rel="stylesheet" href="/assets/s.css"><link rel="stylesheet" '
        'href="/assets/main.css"><link rel="modulepreload" href="/assets/s.js">'
        '<script type="module" src="/assets/main.js"></script></head>'
    ) in home_html
    post_html = body_of(env.get("/posts/a"))
    assert '<script type="module" src="/assets/post.js"></script></head>' in post_html
    assert "/assets/main.js" not in post_html
    assert post_html.count("/assets/post.js") == 1
    assert post_html.endswith(
        '<script type="application/json" id="__lambda_isr_data__">{"slug":"a"}</script>'
        "</body></html>"
    )
    not_found = body_of(env.get("/no/such/page"))
    assert '<script type="module" src="/assets/main.js"></script></head>' in not_found


@pytest.mark.parametrize("bootstrap", ["src/post.js", "/assets/post.js"])
def test_a_bootstrap_naming_the_entry_is_written_once(tmp_path: Path, bootstrap: str) -> None:
    env = make_app(manifest=write(tmp_path, MANIFEST_DATA))

    @env.app.face("/p", revalidate=60, entry="src/post.js")
    async def page(request: FaceRequest) -> Page:
        return Page(body="x", hydration=Hydration({"n": 1}, bootstrap=bootstrap))

    html = body_of(env.get("/p"))
    assert html.count("/assets/post.js") == 1
    assert html.index("/assets/post.js") < html.index("</head>")


def test_a_bootstrap_naming_another_entry_brings_its_tags(tmp_path: Path) -> None:
    env = make_app(manifest=write(tmp_path, MANIFEST_DATA))

    @env.app.face("/p", revalidate=60)
    def page(request: FaceRequest) -> Page:
        return Page(body="x", hydration=Hydration({"n": 1}, bootstrap="src/main.js"))

    @env.app.face("/url", revalidate=60)
    def plain(request: FaceRequest) -> Page:
        return Page(body="x", hydration=Hydration({"n": 1}, bootstrap="/static/boot.js"))

    html = body_of(env.get("/p"))
    head = html[: html.index("</head>")]
    assert '<link rel="stylesheet" href="/assets/main.css">' in head
    assert '<link rel="modulepreload" href="/assets/s.js">' in head
    assert html.count('src="/assets/main.js"') == 1
    assert '<script type="module" src="/static/boot.js"></script></body>' in body_of(
        env.get("/url")
    )


def test_content_types_and_cache_control() -> None:
    assert content_type("assets/a-1.js") == "text/javascript; charset=utf-8"
    assert content_type("assets/a-1.CSS") == "text/css; charset=utf-8"
    assert content_type("assets/f.woff2") == "font/woff2"
    assert content_type("assets/x.unknown") == "application/octet-stream"
    assert IMMUTABLE == "public, max-age=31536000, immutable"
