"""Many writers, one name: the atomic create lets exactly one win, and nothing is lost.

moto checks ``If-None-Match: *`` and then writes, in two steps, so under many
concurrent writers two of them can both pass the check. Real R2 and S3 make
the conditional write atomic. The ``atomic_moto_writes`` fixture emulates that
by serialising moto's write handlers (the server runs in this process, see
``tests/conftest.py``); without it these tests would measure moto, not r2store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import pytest
from django.core.files.base import ContentFile

from r2store import ObjectExistsError, R2Config, R2Store
from r2store.django import R2Storage
from tests.django_tests.conftest import r2_options, r2_store

# Every test here serialises moto's write handlers, in this process.
pytestmark = pytest.mark.moto_only

T = TypeVar("T")

WRITERS = 32
MiB = 1024 * 1024


@attrs.define
class WriteLock:
    """Counts the S3 write requests that went through the serialised handlers."""

    calls: int = 0


@pytest.fixture
def atomic_moto_writes(monkeypatch: pytest.MonkeyPatch) -> WriteLock:
    """moto's PutObject and POST-on-key (multipart create/complete) handlers, one at a time.

    ``S3Response.put_object`` holds moto's If-None-Match check and the write;
    ``_key_response_post`` holds CompleteMultipartUpload's check and write. A
    lock around each makes check-and-write atomic, as it is on R2.
    """
    from moto.s3.responses import S3Response

    lock = threading.Lock()
    counter = WriteLock()

    def serialised(original: Callable[..., Any]) -> Callable[..., Any]:
        def handler(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                counter.calls += 1
                return original(self, *args, **kwargs)

        return handler

    monkeypatch.setattr(S3Response, "put_object", serialised(S3Response.put_object))
    monkeypatch.setattr(S3Response, "_key_response_post", serialised(S3Response._key_response_post))
    return counter


def run_together(
    count: int, warm_up: Callable[[int], object], act: Callable[[int], T]
) -> list[T | BaseException]:
    """Run *act(i)* in *count* threads released at once, each after its own *warm_up(i)*.

    Returns each thread's result or exception, by index.
    """
    barrier = threading.Barrier(count)
    results: list[T | BaseException] = [RuntimeError("did not run")] * count

    def work(i: int) -> None:
        try:
            warm_up(i)
            barrier.wait(timeout=60)
            results[i] = act(i)
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


def content(i: int) -> bytes:
    """What writer *i* saves: different for every writer."""
    return f"written by writer {i:02d}\n".encode() * 16


@pytest.fixture
def warm_store(store: R2Store) -> R2Store:
    """The test store, its clients (for reads and for writes) made before any writer starts."""
    store.exists("warm-up")
    assert store.client is not None
    return store


def test_one_of_32_writers_creates_the_object(
    warm_store: R2Store, atomic_moto_writes: WriteLock
) -> None:
    """32 concurrent creates of one key give one success and 31 ObjectExistsError."""
    results = run_together(
        WRITERS,
        lambda i: warm_store.exists(f"warm-up/{i}"),
        lambda i: warm_store.save("race/avatar.txt", content(i)),
    )

    winners = [i for i, result in enumerate(results) if result == "race/avatar.txt"]
    refused = [r for r in results if isinstance(r, ObjectExistsError)]
    assert len(winners) == 1, results
    assert len(refused) == WRITERS - 1, results
    assert atomic_moto_writes.calls == WRITERS


def test_the_winners_content_survives_32_writers(
    warm_store: R2Store, atomic_moto_writes: WriteLock
) -> None:
    """After 32 concurrent creates of one key the object holds the winner's bytes, whole."""
    results = run_together(
        WRITERS,
        lambda i: warm_store.exists(f"warm-up/{i}"),
        lambda i: warm_store.save("race/cv.txt", content(i)),
    )

    (winner,) = [i for i, result in enumerate(results) if result == "race/cv.txt"]
    assert warm_store.read("race/cv.txt") == content(winner)


def test_one_of_several_multipart_writers_creates_the_object(
    config: R2Config, atomic_moto_writes: WriteLock
) -> None:
    """Concurrent multipart creates of one key give one success, and the winner's bytes."""
    store = R2Store(attrs.evolve(config, multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB))
    assert store.client is not None
    writers = 4
    bodies = [bytes([i]) * (5 * MiB + 1) for i in range(writers)]
    try:
        results = run_together(
            writers,
            lambda i: store.exists(f"warm-up/{i}"),
            lambda i: store.save("race/big.bin", bodies[i]),
        )
        (winner,) = [i for i, result in enumerate(results) if result == "race/big.bin"]
        assert all(isinstance(r, ObjectExistsError) for i, r in enumerate(results) if i != winner)
        assert store.read("race/big.bin") == bodies[winner]
    finally:
        store.close()


def test_32_django_saves_of_one_name_keep_every_file(
    config: R2Config, atomic_moto_writes: WriteLock
) -> None:
    """32 concurrent R2Storage.save() of one name give 32 names, each holding its own content."""
    storage = R2Storage(**r2_options(config))
    storage.exists("warm-up")
    assert r2_store(storage).client is not None
    try:
        results = run_together(
            WRITERS,
            lambda i: storage.exists(f"warm-up/{i}"),
            lambda i: storage.save("uploads/avatar.txt", ContentFile(content(i))),
        )
        names = [r for r in results if isinstance(r, str)]
        assert len(names) == WRITERS, results
        assert len(set(names)) == WRITERS
        assert all(name.startswith("uploads/avatar") for name in names)
        assert [storage.store.read(name) for name in names] == [content(i) for i in range(WRITERS)]
    finally:
        storage.store.close()
