"""The framework-free side of static files: UploadQueue against moto, through the fault
relay where an upload has to fail or lag."""

from __future__ import annotations

import threading
import time

import pytest

from r2store import R2Store
from r2store.errors import AccessDeniedError
from r2store.static import UploadQueue

from . import faults
from .faults import Relay

relay = faults.relay
relay_bucket = faults.relay_bucket
relay_store = faults.relay_store


@pytest.fixture(autouse=True)
def _fresh_relay(relay: Relay) -> None:
    relay.forget()


def test_saves_go_up_from_worker_threads(relay_store: R2Store) -> None:
    """Every save submitted is in the bucket after drain(), sent from the queue's threads."""
    threads: set[str] = set()
    relay_store.request_hooks.append(
        lambda method, url: (
            threads.add(threading.current_thread().name) if method == "PUT" else None
        )
    )
    queue = UploadQueue(relay_store, threads=4)
    try:
        for number in range(20):
            queue.submit(f"queue/{number}.txt", f"file {number}".encode(), overwrite=True)
        queue.drain()
    finally:
        queue.close()
    assert all(relay_store.read(f"queue/{n}.txt") == f"file {n}".encode() for n in range(20))
    assert threads
    assert all(name.startswith("r2store-static") for name in threads)


def test_two_saves_of_one_key_land_in_order(relay: Relay, relay_store: R2Store) -> None:
    """The second save of a key waits for the first: a first save that lags (here its
    connection stalls, then resets, and it is retried) cannot land last."""
    relay.stall(0.3, method="PUT", path="order.txt", times=1)
    queue = UploadQueue(relay_store)
    try:
        queue.submit("order.txt", b"first", overwrite=True)
        deadline = time.monotonic() + 5
        while relay.count("PUT") == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # until the first save is stalled in the relay
        queue.submit("order.txt", b"second", overwrite=True)
        queue.drain()
    finally:
        queue.close()
    assert relay_store.read("order.txt") == b"second"


def test_a_failed_save_is_raised_by_drain_and_the_next_submit(
    relay: Relay, relay_store: R2Store
) -> None:
    """A save the server refuses is raised by drain(), and again by any later submit:
    a batch does not carry on past its first failure."""
    relay.fail(403, "AccessDenied", method="PUT", path="refused.txt", times=faults.ALWAYS)
    queue = UploadQueue(relay_store)
    try:
        queue.submit("refused.txt", b"x", overwrite=True)
        with pytest.raises(AccessDeniedError):
            queue.drain()
        with pytest.raises(AccessDeniedError):
            queue.submit("other.txt", b"y", overwrite=True)
    finally:
        queue.close()
    assert not relay_store.exists("other.txt")


def test_the_window_bounds_saves_in_flight(relay: Relay, relay_store: R2Store) -> None:
    """No more than *window* saves are queued or running at once."""
    running = 0
    peak = 0
    lock = threading.Lock()
    original = relay_store.save

    def counting_save(*args: object, **kwargs: object) -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            return original(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            with lock:
                running -= 1

    relay_store.save = counting_save  # type: ignore[method-assign]
    queue = UploadQueue(relay_store, threads=8, window=3)
    try:
        for number in range(12):
            queue.submit(f"window/{number}.txt", b"x", overwrite=True)
        queue.drain()
    finally:
        queue.close()
    assert 1 <= peak <= 3
