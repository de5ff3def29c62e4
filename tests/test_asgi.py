"""The ASGI adapter's streaming, driven in-process where a real server cannot show it.

The servers' own behaviour is tested under real uvicorn in tests/integrations/; these
tests call the app as a server would, because what they check -- the size of each read
from the store -- never shows on the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest

from r2store import LocalConfig
from r2store.asgi import ASGI_CHUNK_SIZE, R2ProxyApp
from r2store.localstore import LocalStore
from r2store.proxy import ProxyResponse

STREAMS = 16
SIZE = 4 * 1024 * 1024


def test_many_streams_share_a_read_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With 16 streams in flight, each reads a share of the budget (1 MiB), not a 2 MiB chunk."""
    store = LocalStore(LocalConfig(root=tmp_path / "root"))
    store.save("big.bin", bytes(SIZE))
    asked: list[int] = []
    next_chunk = ProxyResponse.next_chunk

    def recorded(self: ProxyResponse, size: int) -> bytes:
        # A spy, not a stand-in: the real read runs, its size is noted.
        asked.append(size)
        return next_chunk(self, size)

    monkeypatch.setattr(ProxyResponse, "next_chunk", recorded)
    app = R2ProxyApp(store, max_streams=STREAMS)
    received = [0] * STREAMS

    async def main() -> None:
        reading = asyncio.Event()  # the clients read once every stream has begun
        finished = asyncio.Event()

        async def stream(i: int) -> None:
            async def receive() -> dict[str, Any]:
                await finished.wait()
                return {"type": "http.disconnect"}

            async def send(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "http.response.body":
                    received[i] += len(message["body"])
                    await reading.wait()

            scope = {"type": "http", "method": "GET", "path": "/big.bin", "headers": []}
            await app(scope, receive, send)

        tasks = [asyncio.ensure_future(stream(i)) for i in range(STREAMS)]
        while len(asked) < STREAMS:
            await asyncio.sleep(0.01)
        asked.clear()
        reading.set()
        await asyncio.gather(*tasks)
        finished.set()

    asyncio.run(main())

    assert received == [SIZE] * STREAMS
    budget_share = 1024 * 1024
    assert budget_share < ASGI_CHUNK_SIZE
    # The second read of every stream is made while all sixteen are in flight.
    assert asked[:STREAMS] == [budget_share] * STREAMS


def test_a_stalled_upload_ends_after_send_timeout(tmp_path: Path) -> None:
    """A signed PUT whose client sends half its body and then nothing is answered 400
    once send_timeout passes, and stores nothing."""
    store = LocalStore(LocalConfig(root=tmp_path, proxy_signing_key="k" * 32))
    url = store.presigned_url("a.bin", method="PUT", content_length=10, create_only=True)
    path, _, query = url.partition("?")
    app = R2ProxyApp(store, send_timeout=0.2)
    scope = {
        "type": "http",
        "method": "PUT",
        "path": path.removeprefix("/media-proxy"),
        "query_string": query.encode(),
        "headers": [(b"content-length", b"10")],
    }
    sent: list[MutableMapping[str, Any]] = []

    async def main() -> None:
        messages = [{"type": "http.request", "body": b"12345", "more_body": True}]

        async def receive() -> MutableMapping[str, Any]:
            if messages:
                return messages.pop()
            await asyncio.Event().wait()  # the client sends nothing more
            raise AssertionError("unreachable")

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        await asyncio.wait_for(app(scope, receive, send), 5)

    asyncio.run(main())

    assert sent[0]["status"] == 400
    assert not store.exists("a.bin")
