"""Against a real R2 bucket: run with R2STORE_LIVE_TEST=1 and real R2_* variables."""

from __future__ import annotations

import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from r2store import ObjectExistsError, ObjectNotFoundError, R2Store

from .conftest import LIVE_ENV

pytestmark = pytest.mark.live


@pytest.fixture
def live_store() -> Iterator[R2Store]:
    """A store on the real bucket, under a prefix unique to this test."""
    store = R2Store.from_env(LIVE_ENV, location=f"r2store-live-tests/{uuid.uuid4().hex}")
    yield store
    store.delete_many(o.key for o in store.list())
    store.client.close()


def test_round_trip_on_r2(live_store: R2Store) -> None:
    """Save, stat, read, refuse overwrite, delete: the whole cycle on real R2."""
    live_store.save("a.txt", b"live")
    assert live_store.stat("a.txt").size == 4
    assert live_store.read("a.txt") == b"live"
    with pytest.raises(ObjectExistsError):
        live_store.save("a.txt", b"again")
    live_store.delete("a.txt")
    with pytest.raises(ObjectNotFoundError):
        live_store.stat("a.txt")


def test_presigned_get_on_r2(live_store: R2Store) -> None:
    """R2 accepts the presigned URLs the lean signer makes."""
    live_store.save("p.txt", b"signed")
    with urllib.request.urlopen(live_store.presigned_url("p.txt", expires_in=60)) as response:
        assert response.read() == b"signed"
