"""A LocalStore's files through real gunicorn: sent by wsgi.file_wrapper (sendfile).

The WSGI adapter hands the open file to gunicorn's ``wsgi.file_wrapper``, which sends
Content-Length bytes from the descriptor's offset with ``sendfile``; these check the
bytes that arrive. ``tests/test_localstore.py`` checks that the adapter hands the
file over, at the range's start.
"""

from __future__ import annotations

import hashlib

import httpx

from tests.integrations.conftest import Server
from tests.integrations.helpers import BIG


def test_gunicorn_sends_a_whole_local_file(wsgi_server: Server, client: httpx.Client) -> None:
    """A whole file of several chunks arrives intact, with its length and MD5 ETag."""
    response = client.get(wsgi_server.url("/local-proxy/big.bin"))

    assert response.status_code == 200
    assert response.content == BIG
    assert response.headers["content-length"] == str(len(BIG))
    assert response.headers["etag"] == f'"{hashlib.md5(BIG, usedforsecurity=False).hexdigest()}"'


def test_gunicorn_sends_a_range_of_a_local_file(wsgi_server: Server, client: httpx.Client) -> None:
    """A range across chunk boundaries arrives exactly, and nothing past its end."""
    first, last = 1024 * 1024 - 5, 2 * 1024 * 1024 + 10
    response = client.get(
        wsgi_server.url("/local-proxy/big.bin"), headers={"Range": f"bytes={first}-{last}"}
    )

    assert response.status_code == 206
    assert response.content == BIG[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/{len(BIG)}"


def test_gunicorn_keeps_the_connection_after_a_sent_range(
    wsgi_server: Server, client: httpx.Client
) -> None:
    """Two ranged requests on one kept-alive connection both get exactly their bytes."""
    url = wsgi_server.url("/local-proxy/big.bin")

    first = client.get(url, headers={"Range": "bytes=0-9"})
    second = client.get(url, headers={"Range": "bytes=-10"})

    assert (first.content, second.content) == (BIG[:10], BIG[-10:])
