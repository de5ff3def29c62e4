"""What the integration tests share besides fixtures: the seeded objects and a raw HTTP client."""

from __future__ import annotations

import http.client
import socket
from urllib.parse import urlsplit

import attrs

from r2store import _serving

__all__ = [
    "BIG",
    "CACHE_CONTROL",
    "CONTROL_HEADERS",
    "FAKE_CHUNK_SIZE",
    "LOCATION",
    "NOT_MODIFIED_SECURITY_HEADERS",
    "OBJECTS",
    "SECRET",
    "SECURITY_HEADERS",
    "SIGNING_KEY",
    "RawResponse",
    "StoredObject",
    "raw_exchange",
    "raw_request",
]

#: Every proxy serves keys under this prefix of the bucket.
LOCATION = "media"
#: Stored at the bucket's root, outside LOCATION: a traversal that works would show it.
SECRET = b"TOP SECRET: the bucket root must never be reachable through the proxy\n"
SIGNING_KEY = "integration-tests-proxy-signing-key-0123456789"
#: Several chunks' worth (the default chunk is 1 MiB), and not a multiple of one.
BIG = bytes(range(256)) * (3 * 4096) + b"tail"
SECURITY_HEADERS = dict(_serving.SECURITY_HEADERS)
NOT_MODIFIED_SECURITY_HEADERS = dict(_serving.NOT_MODIFIED_SECURITY_HEADERS)
#: The proxies' Cache-Control for objects stored without one.
CACHE_CONTROL = "public, max-age=600"
#: The chunk size of the proxies in front of the fake upstream: small, so bytes flow early.
FAKE_CHUNK_SIZE = 64 * 1024


@attrs.frozen
class StoredObject:
    """One object the session bucket holds under LOCATION."""

    body: bytes
    content_type: str | None = None
    cache_control: str | None = None


OBJECTS: dict[str, StoredObject] = {
    "hello.txt": StoredObject(b"hello, world\n"),
    "data.bin": StoredObject(bytes(range(100)), content_type="application/x-r2store-test"),
    "cached.txt": StoredObject(b"cache me\n", cache_control="max-age=31536000, immutable"),
    "empty.txt": StoredObject(b""),
    "big.bin": StoredObject(BIG),
    "page.html": StoredObject(b"<script>alert(document.domain)</script>\n"),
    "image.svg": StoredObject(
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>\n'
    ),
    "app.js": StoredObject(b"alert(document.cookie);\n"),
    "résumé.html": StoredObject(b"<p>curriculum vitae</p>\n"),
    "private/doc.txt": StoredObject(b"for authorized eyes only\n"),
    # Characters a URL gives meaning to, and non-ASCII segments.
    "odd name+&=?#%;.txt": StoredObject(b"odd\n"),
    "文件/ünïcødé.txt": StoredObject(b"unicode\n"),
}


#: The headers ``control.txt`` is stored with, past save() (which refuses them), through a
#: presigned PUT: control characters in every header the proxy sends on.
CONTROL_HEADERS = {
    "Content-Type": "text/plain\x1b]0;PWNED\x07",
    "Cache-Control": "max-age=60\x1b[31m",
    "Content-Disposition": "inline\x1b[2J",
    "Content-Encoding": "identity\x1f",
}


@attrs.frozen
class RawResponse:
    """A response read by :func:`raw_request`; header names are lower-case."""

    status: int
    headers: dict[str, str]
    body: bytes


def raw_request(
    base: str, target: str, method: str = "GET", headers: dict[str, str] | None = None
) -> RawResponse:
    """Send *target* exactly as given, on a new connection to the server of *base*.

    httpx normalises paths (it removes dot segments, for one); this sends the
    request-target byte for byte, so the server and the proxy see what an
    attacker would send.
    """
    parts = urlsplit(base)
    assert parts.hostname is not None
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        try:
            body = response.read()
        finally:
            response.close()
        return RawResponse(
            response.status, {name.lower(): value for name, value in response.getheaders()}, body
        )
    finally:
        connection.close()


def raw_exchange(base: str, method: str, target: str) -> bytes:
    """Everything the server sends back, byte for byte, for one request on a closing connection.

    For what an HTTP client would hide: a HEAD response's stray body, say.
    """
    parts = urlsplit(base)
    assert parts.hostname is not None
    assert parts.port is not None
    request = f"{method} {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n"
    chunks = []
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request.encode("latin-1"))
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)
