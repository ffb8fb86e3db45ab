"""PageHead ordering, de-duplication and escaping; hydration data that cannot break out."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from lambda_isr import FaceRequest
from lambda_isr.app import Hydration, Link, Meta, Page, PageHead, Script, safe_json
from lambda_isr.app.head import html_open, render_head
from lambda_isr.app.hydration import render_hydration
from tests.app.helpers import body_of, make_app

HOSTILE = "</script><script>alert(1)</script><!-- \u2028\u2029 & > '\""


def _tags(text: str) -> list[str]:
    return re.findall(r"<(meta|title|link|script)\b", text)


def test_head_order_is_fixed_whatever_the_input_order() -> None:
    head = PageHead(
        scripts=(Script("/app.js"),),
        json_ld=({"@type": "WebSite"},),
        links=(Link("stylesheet", "/a.css"), Link("canonical", "https://x.example/p")),
        meta=(
            Meta("og title", property="og:title"),
            Meta("a page", name="description"),
            Meta("IE=edge", http_equiv="X-UA-Compatible"),
        ),
        title="T",
    )
    out = render_head(head)
    expected = ["meta", "meta", "title", "meta", "meta", "link", "link", "script", "script"]
    assert _tags(out) == expected
    assert out.index("charset") < out.index("http-equiv") < out.index("<title>")
    assert out.index('name="description"') < out.index('property="og:title"')
    assert out.index('rel="canonical"') < out.index('rel="stylesheet"')
    assert out.index("application/ld+json") < out.index('src="/app.js"')
    assert render_head(head) == out  # deterministic


def test_face_entries_override_app_defaults_by_key_in_place() -> None:
    app_head = PageHead(
        title="Site",
        lang="en",
        meta=(Meta("site", name="description"), Meta("width=device-width", name="viewport")),
        links=(Link("canonical", "https://x.example/"), Link("icon", "/favicon.ico")),
        scripts=(Script("/app.js"),),
    )
    page_head = PageHead(
        description="the page",
        canonical="https://x.example/p",
        lang="fr",
        scripts=(Script("/app.js"), Script("/page.js")),
        meta=(Meta("Post", property="og:title"),),
    )
    merged = app_head | page_head
    out = render_head(merged)
    assert out.count('name="description"') == 1
    assert 'content="the page"' in out
    assert out.index('name="description"') < out.index('name="viewport"')  # kept its place
    assert out.count('rel="canonical"') == 1
    assert 'href="https://x.example/p"' in out
    assert out.count('src="/app.js"') == 1
    assert "<title>Site</title>" in out
    assert html_open(merged) == '<html lang="fr">'


def test_every_value_is_escaped() -> None:
    head = PageHead(
        title=HOSTILE,
        meta=(Meta(HOSTILE, name=HOSTILE),),
        links=(Link("alternate", '/a?x=<b>&y="', attrs={"hreflang": HOSTILE}),),
        json_ld=({"name": HOSTILE},),
        html_attrs={"data-x": HOSTILE},
    )
    out = render_head(head) + html_open(head)
    assert "<script>alert" not in out
    assert "<!--" not in out
    assert out.count("</script>") == 1  # only the JSON-LD element's own end tag
    assert "\"'" not in out


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", " JavaScript:x"])
def test_link_and_script_urls_must_be_http_or_relative(url: str) -> None:
    with pytest.raises(ValueError, match="only http"):
        Link("canonical", url)
    with pytest.raises(ValueError, match="only http"):
        Script(url)
    with pytest.raises(ValueError, match="only http"):
        PageHead(canonical=url)


def test_meta_takes_exactly_one_key() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Meta("x")
    with pytest.raises(ValueError, match="exactly one"):
        Meta("x", name="a", property="b")


@pytest.mark.parametrize(
    "data",
    [
        HOSTILE,
        {"html": "</script><!--<script>", "list": ["\u2028", "\u2029", "</SCRIPT >"]},
        ["<", ">", "&", "</scr" + "ipt>"],
    ],
)
def test_hydration_json_cannot_break_out_and_parses_back(data: Any) -> None:
    text = safe_json(data)
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in text
    assert json.loads(text) == data
    script = render_hydration(Hydration(data, bootstrap="/assets/main.js"))
    inner = script.split(">", 1)[1].rsplit("</script><script", 1)[0]
    assert inner.endswith("</script>") is False
    assert json.loads(inner.removesuffix("</script>")) == data
    assert script.endswith('<script type="module" src="/assets/main.js"></script>')


def test_hydration_through_a_cached_page_is_part_of_the_generation() -> None:
    env = make_app(head=PageHead(title="Site", lang="en"))
    version = {"n": 1}

    @env.app.face("/p", revalidate=60)
    def page(request: FaceRequest) -> Page:
        return Page(
            body="<div id=root></div>",
            head=PageHead(description=HOSTILE),
            hydration=Hydration({"n": version["n"], "evil": HOSTILE}, bootstrap="/main.js"),
        )

    first = body_of(env.get("/p"))
    version["n"] = 2
    env.clock.advance(120)
    stale = body_of(env.get("/p", headers={"x-a": "1"}))
    assert '"n":1' in first
    assert stale == first or '"n":2' in stale
    assert first.startswith('<!doctype html><html lang="en"><head><meta charset="utf-8">')
    assert first.count("<script") == 2
    assert "alert(1)" in first  # present, but only as inert escaped text
    assert "<script>alert" not in first
    body = first.split("<body>", 1)[1]
    assert body.startswith("<div id=root></div>")
    assert body.endswith('src="/main.js"></script></body></html>')


def test_data_json_cannot_hold_fails_before_the_first_byte() -> None:
    env = make_app()

    @env.app.face("/p", revalidate=60)
    def page(request: FaceRequest) -> Page:
        return Page(body="x", hydration=Hydration({"when": object()}))

    response = env.get("/p")
    assert response["statusCode"] == 500
    assert env.meta.committed == []
