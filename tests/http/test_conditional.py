from __future__ import annotations

import pytest

from lambda_isr.http.conditional import if_none_match
from lambda_isr.http.response import default_footer, error_page


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ('"x",W/"abc" ', True),
        ('"a,bc"', False),
        ('"x"', False),
        ("*", True),
        ("", False),
        (None, False),
    ],
)
def test_if_none_match(header: str | None, expected: bool) -> None:
    assert if_none_match(header, '"abc"') is expected


def test_weak_stored_etag_and_no_etag() -> None:
    assert if_none_match('"abc"', 'W/"abc"')
    assert not if_none_match("*", None)


def test_pages_escape_the_request_id() -> None:
    assert b"&lt;x&gt;" in error_page(500, "<x>")
    assert b"<title>503 Service Unavailable</title>" in error_page(503, "r")
    assert default_footer('a"b') == (
        '<template data-lambda-isr-error data-request-id="a&quot;b"></template>'
    )
