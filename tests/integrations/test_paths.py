"""Path traversal through every mounting: encoded, double-encoded and look-alike dot segments.

The proxies serve ``location="media"``; ``secret.txt`` sits at the bucket's
root, so any traversal that worked would show its content.
"""

from __future__ import annotations

import pytest

from tests.integrations.helpers import OBJECTS, SECRET, raw_request

# Request-targets after the proxy's prefix, sent byte for byte.
TRAVERSALS = [
    "../secret.txt",
    "%2e%2e/secret.txt",
    "%2E%2E/secret.txt",
    ".%2e/secret.txt",
    "%2e./secret.txt",
    "..%2fsecret.txt",
    "..%2Fsecret.txt",
    "%2e%2e%2fsecret.txt",
    "%252e%252e%252fsecret.txt",
    "..%252fsecret.txt",
    "%25252e%25252e/secret.txt",
    "..\\secret.txt",
    "..%5csecret.txt",
    "%2e%2e%5csecret.txt",
    "..%00/secret.txt",
    "%00../secret.txt",
    "secret.txt%00.png",
    "./../secret.txt",
    "/../secret.txt",
    ".%2f..%2fsecret.txt",
    "..%2f..%2f..%2fsecret.txt",
    "x/../../secret.txt",
    "%c0%ae%c0%ae/secret.txt",
    "..%c0%afsecret.txt",
    "%e0%80%ae%e0%80%ae/secret.txt",
    "%EF%BC%8E%EF%BC%8E/secret.txt",
    "%EF%BC%8E%EF%BC%8E%EF%BC%8Fsecret.txt",
    "..%EF%BC%8Fsecret.txt",
    "%u002e%u002e/secret.txt",
    "..;/secret.txt",
    "....//secret.txt",
    "...%2f/secret.txt",
]


def _prefix(any_mount_base: str) -> str:
    return "/" + any_mount_base.split("/", 3)[3]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_a_traversal_never_leaves_the_location(any_mount_base: str, target: str) -> None:
    """A traversal attempt answers 4xx and never the content of an object outside location."""
    response = raw_request(any_mount_base, _prefix(any_mount_base) + target)

    assert 400 <= response.status < 500
    assert SECRET not in response.body
    assert b"TOP SECRET" not in response.body


@pytest.mark.parametrize(
    "target", ["./hello.txt", "%2e/hello.txt", "x/../hello.txt", "x/%2e%2e/hello.txt"]
)
def test_a_dot_segment_spelling_of_a_key_is_refused(any_mount_base: str, target: str) -> None:
    """A key spelled with dot segments is refused with 404, not repaired into another key."""
    response = raw_request(any_mount_base, _prefix(any_mount_base) + target)

    assert response.status == 404
    assert OBJECTS["hello.txt"].body not in response.body


def test_a_percent_encoded_key_is_decoded_once(any_mount_base: str) -> None:
    """The proxy decodes the path once: the encoded spelling of a key serves that key."""
    response = raw_request(any_mount_base, _prefix(any_mount_base) + "r%C3%A9sum%C3%A9.html")

    assert response.status == 200
    assert response.body == OBJECTS["résumé.html"].body
