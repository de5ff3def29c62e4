"""find_missing against the moto S3 server: answers, and how many requests they cost."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import attrs
import pytest

from r2store import R2Store
from r2store.audit import find_missing
from tests.conftest import RequestLog


def put(store: R2Store, *keys: str) -> None:
    """Create a small object under each key."""
    for key in keys:
        store.save(key, b"x")


def test_reports_only_missing_keys_in_given_order(store: R2Store) -> None:
    """The missing keys come back in the order given; present ones are left out."""
    put(store, "top.txt", "photos/a.jpg", "photos/2024/b.jpg", "docs/c.pdf")
    keys = ["photos/z.jpg", "top.txt", "photos/a.jpg", "gone.txt", "docs/c.pdf", "docs/d.pdf"]
    assert find_missing(store, keys) == ["photos/z.jpg", "gone.txt", "docs/d.pdf"]


def test_nested_keys_are_found(store: R2Store) -> None:
    """Keys in subdirectories of a group are matched exactly, not by prefix."""
    put(store, "photos/2024/01/a.jpg", "photos/2024/01/a.jpg.bak")
    keys = ["photos/2024/01/a.jpg", "photos/2024/01/a", "photos/2024/02/a.jpg"]
    assert find_missing(store, keys) == ["photos/2024/01/a", "photos/2024/02/a.jpg"]


def test_duplicates_are_answered_once(store: R2Store) -> None:
    """A key given twice is reported once."""
    assert find_missing(store, ["a/x", "a/x"]) == ["a/x"]


def test_refused_keys_are_missing(store: R2Store) -> None:
    """Keys the key rules refuse are reported missing, without a request."""
    log = RequestLog(store)
    assert find_missing(store, ["../etc/passwd", "a//b", "/abs"]) == [
        "../etc/passwd",
        "a//b",
        "/abs",
    ]
    assert log.operations == []


def test_no_keys_cost_no_requests(store: R2Store) -> None:
    """An empty question is answered without asking R2."""
    log = RequestLog(store)
    assert find_missing(store, []) == []
    assert log.operations == []


def test_requests_are_one_listing_per_top_level_directory(store: R2Store) -> None:
    """Thousands of keys in hundreds of directories cost one listing per top level and page."""
    present = [f"users/{n}/avatar.png" for n in range(300)] + [f"docs/{n}.pdf" for n in range(50)]
    absent = [f"users/{n}/cv.pdf" for n in range(300)] + ["docs/none.pdf", "top.txt"]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda key: store.save(key, b"x"), present))
    log = RequestLog(store)
    missing = find_missing(store, [*absent, *present])
    assert missing == absent
    # users/ (300 objects, one page), docs/ (one page), the top level (one page).
    assert log.operations == ["ListObjectsV2"] * 3


def test_listing_stops_after_the_last_key(store: R2Store) -> None:
    """Pages after the one holding the group's last key are not fetched."""
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda n: store.save(f"logs/{n:04}.txt", b"x"), range(1001)))
    log = RequestLog(store)
    assert find_missing(store, ["logs/0003.txt", "logs/0012.txt"]) == []
    assert log.operations == ["ListObjectsV2"]  # of two pages


@pytest.mark.parametrize("location", ["", "site"])
def test_store_location_is_respected(store: R2Store, location: str) -> None:
    """Keys are relative to the store's location."""
    located = R2Store(attrs.evolve(store.config, location=location))
    put(located, "a/b.txt", "c.txt")
    assert find_missing(located, ["a/b.txt", "c.txt", "a/x.txt", "x.txt"]) == ["a/x.txt", "x.txt"]
    located.client.close()
