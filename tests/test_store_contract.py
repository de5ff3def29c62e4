"""The Store contract: every test runs on R2Store (over the tests' S3 server: moto, or
SeaweedFS with R2STORE_TEST_S3=seaweedfs) and on LocalStore (on a folder).

A behaviour that differs between the two backends fails here. Where SeaweedFS differs
from R2 itself, a test branches on the server, and says how it differs.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest

from r2store import (
    InvalidKeyError,
    InvalidMetadataError,
    LocalConfig,
    LocalStore,
    NotModifiedError,
    ObjectExistsError,
    ObjectNotFoundError,
    PreconditionFailedError,
    R2Config,
    R2Store,
    RangeNotSatisfiableError,
    Store,
)

SIGNING_KEY = "contract-tests-proxy-signing-key-0123456789"


@pytest.fixture(params=["r2", "local"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each backend in turn: an R2Store on a new moto bucket, a LocalStore on a new folder."""
    if request.param == "r2":
        store: R2Store = request.getfixturevalue("store")
        yield store
    else:
        with LocalStore(LocalConfig(root=tmp_path / "root")) as local:
            yield local


def _on_seaweedfs(backend: Store, s3_kind: str) -> bool:
    """Whether *backend* is an R2Store talking to SeaweedFS."""
    return isinstance(backend, R2Store) and s3_kind == "seaweedfs"


def _md5(data: bytes) -> str:
    return f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'


def test_save_then_read_gives_the_bytes(backend: Store) -> None:
    """What save stores, read returns, byte for byte."""
    backend.save("docs/a.bin", bytes(range(256)))

    assert backend.read("docs/a.bin") == bytes(range(256))


def test_save_returns_the_key(backend: Store) -> None:
    """save returns the key it stored under."""
    assert backend.save("k.txt", b"x") == "k.txt"


def test_save_reads_a_file_object_from_its_position(backend: Store) -> None:
    """A file object is stored from its current position to its end."""
    stream = io.BytesIO(b"skip:keep")
    stream.seek(5)

    backend.save("f.txt", stream)

    assert backend.read("f.txt") == b"keep"


def test_an_empty_object_round_trips(backend: Store) -> None:
    """An empty object is stored and read back empty, with size 0."""
    backend.save("empty.txt", b"")

    assert backend.read("empty.txt") == b""
    assert backend.stat("empty.txt").size == 0


def test_save_refuses_text(backend: Store) -> None:
    """A text stream is a TypeError, and nothing is stored."""
    with pytest.raises(TypeError):
        backend.save("t.txt", io.StringIO("text"))  # type: ignore[arg-type]

    assert not backend.exists("t.txt")


def test_save_without_overwrite_refuses_an_existing_key(backend: Store) -> None:
    """overwrite=False on an existing key raises ObjectExistsError and keeps the first bytes."""
    backend.save("once.txt", b"first")

    with pytest.raises(ObjectExistsError):
        backend.save("once.txt", b"second")

    assert backend.read("once.txt") == b"first"


def test_save_with_overwrite_replaces(backend: Store) -> None:
    """overwrite=True replaces the content and the metadata."""
    backend.save("o.txt", b"first", metadata={"v": "1"})

    backend.save("o.txt", b"second", overwrite=True, metadata={"v": "2"})

    assert backend.read("o.txt") == b"second"
    assert backend.stat("o.txt").metadata == {"v": "2"}


def test_the_etag_is_the_md5_of_the_content(backend: Store) -> None:
    """A saved object's ETag is the quoted MD5 hex of its content, as S3 gives for one PUT."""
    backend.save("e.txt", b"etag me")

    assert backend.stat("e.txt").etag == _md5(b"etag me")


def test_the_etag_changes_with_the_content(backend: Store) -> None:
    """Replacing the content changes the ETag."""
    backend.save("e.txt", b"one")
    before = backend.stat("e.txt").etag

    backend.save("e.txt", b"two", overwrite=True)

    assert backend.stat("e.txt").etag != before


def test_headers_and_metadata_round_trip_through_stat(backend: Store) -> None:
    """Content type, cache control, disposition, encoding and user metadata come back in stat."""
    backend.save(
        "m.bin",
        b"data",
        content_type="application/x-test",
        cache_control="max-age=60",
        content_disposition='attachment; filename="m.bin"',
        content_encoding="identity",
        metadata={"owner": "ada", "n": "1"},
    )

    stat = backend.stat("m.bin")

    assert (stat.key, stat.size) == ("m.bin", 4)
    assert stat.content_type == "application/x-test"
    assert stat.cache_control == "max-age=60"
    assert stat.content_disposition == 'attachment; filename="m.bin"'
    assert stat.content_encoding == "identity"
    assert stat.metadata == {"owner": "ada", "n": "1"}
    assert isinstance(stat.last_modified, datetime)


def test_headers_and_metadata_come_with_open(backend: Store) -> None:
    """open().stat carries the same headers, metadata and ETag as stat."""
    backend.save("m.txt", b"data", cache_control="no-cache", metadata={"a": "b"})

    with backend.open("m.txt") as reader:
        opened = reader.stat
    stat = backend.stat("m.txt")

    assert opened.etag == stat.etag
    assert opened.content_type == stat.content_type == "text/plain; charset=utf-8"
    assert opened.cache_control == "no-cache"
    assert opened.metadata == {"a": "b"}


def test_the_content_type_is_guessed_from_the_key(backend: Store) -> None:
    """Without a content type, the key's extension decides it."""
    backend.save("pic.png", b"\x89PNG")

    assert backend.stat("pic.png").content_type == "image/png"


def test_bad_metadata_is_refused_before_anything_is_stored(backend: Store) -> None:
    """A metadata value R2 would refuse raises InvalidMetadataError and stores nothing."""
    with pytest.raises(InvalidMetadataError):
        backend.save("bad.txt", b"x", metadata={"name": "line\nbreak"})

    assert not backend.exists("bad.txt")


def test_a_bad_header_is_refused_before_anything_is_stored(backend: Store) -> None:
    """A content type with a control character raises InvalidMetadataError and stores nothing."""
    with pytest.raises(InvalidMetadataError):
        backend.save("bad.txt", b"x", content_type="text/plain\r\nX: y")

    assert not backend.exists("bad.txt")


def test_exists_tells_present_from_missing(backend: Store) -> None:
    """exists is True for a saved key and False for another."""
    backend.save("here.txt", b"x")

    assert backend.exists("here.txt")
    assert not backend.exists("there.txt")


def test_a_missing_key_is_object_not_found(backend: Store) -> None:
    """stat, open and read of a missing key raise ObjectNotFoundError."""
    for call in (backend.stat, backend.open, backend.read):
        with pytest.raises(ObjectNotFoundError):
            call("nope.txt")


def test_delete_removes_the_object(backend: Store) -> None:
    """A deleted key no longer exists."""
    backend.save("d.txt", b"x")

    backend.delete("d.txt")

    assert not backend.exists("d.txt")


def test_deleting_a_missing_key_is_not_an_error(backend: Store) -> None:
    """delete of a key that was never stored returns quietly."""
    backend.delete("never.txt")


def test_delete_many_skips_missing_keys(backend: Store) -> None:
    """delete_many deletes what exists and ignores what does not."""
    backend.save("a.txt", b"a")
    backend.save("b/c.txt", b"c")
    backend.save("keep.txt", b"k")

    backend.delete_many(["a.txt", "missing.txt", "b/c.txt"])

    assert [stat.key for stat in backend.list()] == ["keep.txt"]


def test_copy_copies_content_and_metadata(backend: Store) -> None:
    """copy gives the destination the source's bytes, headers and metadata."""
    backend.save("src.txt", b"copy me", cache_control="max-age=9", metadata={"m": "1"})

    backend.copy("src.txt", "dst/copy.txt")

    stat = backend.stat("dst/copy.txt")
    assert backend.read("dst/copy.txt") == b"copy me"
    assert (stat.cache_control, stat.metadata) == ("max-age=9", {"m": "1"})
    assert stat.etag == backend.stat("src.txt").etag


def test_copy_of_a_missing_source_is_object_not_found(backend: Store) -> None:
    """copy from a missing key raises ObjectNotFoundError."""
    with pytest.raises(ObjectNotFoundError):
        backend.copy("missing.txt", "dst.txt")


def test_list_gives_keys_under_a_prefix_in_key_order(backend: Store, s3_kind: str) -> None:
    """list(prefix) yields every key starting with prefix, in UTF-8 byte order."""
    for key in ["b.txt", "a/c.txt", "a-b.txt", "a/b/d.txt", "ab.txt", "é.txt"]:
        backend.save(key, key.encode())

    if _on_seaweedfs(backend, s3_kind):
        # SeaweedFS keeps keys as a tree of folders and lists it depth first, each
        # folder's names in byte order: "a/..." comes before "a-b.txt" ("/" > "-").
        assert [s.key for s in backend.list("a")] == ["a/b/d.txt", "a/c.txt", "a-b.txt", "ab.txt"]
    else:
        assert [s.key for s in backend.list("a")] == ["a-b.txt", "a/b/d.txt", "a/c.txt", "ab.txt"]
    assert [s.key for s in backend.list("a/")] == ["a/b/d.txt", "a/c.txt"]
    assert [s.key for s in backend.list()][-2:] == ["b.txt", "é.txt"]


def test_list_gives_size_and_etag(backend: Store) -> None:
    """Listed objects carry their size and ETag."""
    backend.save("s.txt", b"12345")

    (stat,) = backend.list()

    assert (stat.key, stat.size, stat.etag) == ("s.txt", 5, _md5(b"12345"))


def test_listdir_splits_folders_from_files(backend: Store) -> None:
    """listdir gives the "directories" and the file names directly under a prefix."""
    for key in ["top.txt", "a/one.txt", "a/b/two.txt", "c/three.txt"]:
        backend.save(key, b"x")

    assert backend.listdir("") == (["a", "c"], ["top.txt"])
    assert backend.listdir("a") == (["b"], ["one.txt"])
    assert backend.listdir("a/") == (["b"], ["one.txt"])
    assert backend.listdir("nothing") == ([], [])


def test_a_folder_goes_with_its_last_object(backend: Store, s3_kind: str) -> None:
    """Once its last object is deleted, a "directory" is no longer listed."""
    backend.save("gone/deep/x.txt", b"x")
    backend.save("stay.txt", b"s")

    backend.delete("gone/deep/x.txt")

    if _on_seaweedfs(backend, s3_kind):
        # SeaweedFS removes empty folders later, in the background (still listed after
        # 10 s here); until then a delimiter listing names them as common prefixes.
        assert [s.key for s in backend.list()] == ["stay.txt"]
        assert backend.listdir("") == (["gone"], ["stay.txt"])
    else:
        assert backend.listdir("") == ([], ["stay.txt"])


def test_open_reads_a_range(backend: Store) -> None:
    """A ranged open reads just those bytes, with a Content-Range and the range's size."""
    backend.save("r.bin", bytes(range(100)))

    with backend.open("r.bin", range="bytes=10-19") as reader:
        assert reader.read() == bytes(range(10, 20))
        assert reader.content_range == "bytes 10-19/100"
        assert reader.stat.size == 10


def test_open_reads_a_suffix_range(backend: Store) -> None:
    """bytes=-5 reads the last five bytes."""
    backend.save("r.bin", bytes(range(100)))

    with backend.open("r.bin", range="bytes=-5") as reader:
        assert reader.read() == bytes(range(95, 100))
        assert reader.content_range == "bytes 95-99/100"


def test_a_whole_open_has_no_content_range(backend: Store) -> None:
    """An open without a range has no Content-Range and the whole size."""
    backend.save("w.bin", b"whole")

    with backend.open("w.bin") as reader:
        assert (reader.content_range, reader.stat.size) == (None, 5)


def test_an_unsatisfiable_range_is_refused(backend: Store) -> None:
    """A range past the end raises RangeNotSatisfiableError."""
    backend.save("r.bin", bytes(range(100)))

    with pytest.raises(RangeNotSatisfiableError):
        backend.open("r.bin", range="bytes=100-")


def test_an_unsatisfiable_range_says_the_size(backend: Store, s3_kind: str) -> None:
    """The RangeNotSatisfiableError carries the object's size, where the server says it."""
    backend.save("r.bin", bytes(range(100)))

    with pytest.raises(RangeNotSatisfiableError) as caught:
        backend.open("r.bin", range="bytes=100-")

    if _on_seaweedfs(backend, s3_kind):
        # SeaweedFS's 416 body has no ActualObjectSize (R2's and S3's have).
        assert caught.value.size is None
    else:
        assert caught.value.size == 100


def test_a_matching_if_none_match_is_not_modified(backend: Store) -> None:
    """If-None-Match with the current ETag raises NotModifiedError carrying that ETag."""
    backend.save("c.txt", b"cond")
    etag = backend.stat("c.txt").etag

    with pytest.raises(NotModifiedError) as caught:
        backend.open("c.txt", if_none_match=etag)

    assert caught.value.etag == etag


def test_a_failing_if_match_is_precondition_failed(backend: Store) -> None:
    """If-Match with another ETag raises PreconditionFailedError."""
    backend.save("c.txt", b"cond")

    with pytest.raises(PreconditionFailedError):
        backend.open("c.txt", if_match='"not-the-etag"')


def test_a_holding_if_match_reads(backend: Store) -> None:
    """If-Match with the current ETag reads the object."""
    backend.save("c.txt", b"cond")

    with backend.open("c.txt", if_match=backend.stat("c.txt").etag) as reader:
        assert reader.read() == b"cond"


def test_if_modified_since_after_the_change_is_not_modified(backend: Store) -> None:
    """If-Modified-Since later than the object's date raises NotModifiedError."""
    backend.save("c.txt", b"cond")

    with pytest.raises(NotModifiedError):
        backend.open("c.txt", if_modified_since=datetime.now(timezone.utc) + timedelta(hours=1))


def test_if_unmodified_since_before_the_change_is_precondition_failed(backend: Store) -> None:
    """If-Unmodified-Since earlier than the object's date raises PreconditionFailedError."""
    backend.save("c.txt", b"cond")

    with pytest.raises(PreconditionFailedError):
        backend.open("c.txt", if_unmodified_since=datetime(2000, 1, 1, tzinfo=timezone.utc))


def test_a_whole_reader_seeks(backend: Store) -> None:
    """A whole-object reader seeks forward, backward and from the end."""
    backend.save("s.bin", bytes(range(100)))

    with backend.open("s.bin") as reader:
        assert reader.seekable()
        reader.seek(90)
        assert reader.read(3) == bytes([90, 91, 92])
        reader.seek(5)
        assert reader.read(2) == bytes([5, 6])
        reader.seek(-1, io.SEEK_END)
        assert reader.read() == bytes([99])
        assert reader.tell() == 100


def test_open_write_stores_on_close(backend: Store) -> None:
    """Bytes written to open_write are stored, with its headers, when it closes."""
    with backend.open_write("w.txt", metadata={"w": "1"}) as writer:
        writer.write(b"written ")
        writer.write(b"in parts")

    assert backend.read("w.txt") == b"written in parts"
    assert backend.stat("w.txt").metadata == {"w": "1"}


def test_open_write_stores_nothing_when_the_block_fails(backend: Store) -> None:
    """Leaving open_write's with block on an exception stores nothing."""

    def write_then_fail() -> None:
        with backend.open_write("w.txt") as writer:
            writer.write(b"half")
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        write_then_fail()

    assert not backend.exists("w.txt")


def test_open_write_without_overwrite_refuses_an_existing_key(backend: Store) -> None:
    """open_write with overwrite=False raises ObjectExistsError on close for an existing key."""
    backend.save("w.txt", b"first")

    writer = backend.open_write("w.txt")
    writer.write(b"second")
    with pytest.raises(ObjectExistsError):
        writer.close()

    assert backend.read("w.txt") == b"first"


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "../x", "a/./b", "a/../b", "back\\slash"])
def test_invalid_keys_are_refused(backend: Store, key: str) -> None:
    """Keys the normaliser refuses raise InvalidKeyError in writes, reads and URLs."""
    for call in (
        lambda: backend.save(key, b"x"),
        lambda: backend.open(key),
        lambda: backend.stat(key),
        lambda: backend.url(key),
    ):
        with pytest.raises(InvalidKeyError):
            call()


def test_public_url_needs_a_public_url(backend: Store) -> None:
    """public_url without a configured public URL raises ValueError."""
    with pytest.raises(ValueError, match="no public URL"):
        backend.public_url("a.txt")


# -- URLs: the same key and settings give the same URLs -------------------------


def _pair(config: R2Config, tmp_path: Path, **settings: object) -> tuple[R2Store, LocalStore]:
    """An R2Store and a LocalStore with the same URL settings."""
    r2 = R2Store(attrs.evolve(config, **settings))  # type: ignore[arg-type]
    local = LocalStore(LocalConfig(root=tmp_path, bucket=config.bucket, **settings))  # type: ignore[arg-type]
    return r2, local


KEYS = ["a.txt", "dir/ünï cødé+&.png", "odd name%20.txt"]


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"location": "media", "proxy_path": "/files/"},
        {"media_proxy": False, "public_url": "https://cdn.example.com/base"},
    ],
)
def test_url_is_the_same_for_both_backends(
    config: R2Config, tmp_path: Path, settings: dict[str, object]
) -> None:
    """url() is byte-identical for both backends, for every URL mode they share."""
    r2, local = _pair(config, tmp_path, **settings)

    assert [local.url(key) for key in KEYS] == [r2.url(key) for key in KEYS]


def test_proxy_url_is_the_same_for_both_backends(config: R2Config, tmp_path: Path) -> None:
    """proxy_url() is byte-identical for both backends, signed or not."""
    for settings in ({}, {"proxy_signing_key": SIGNING_KEY, "location": "media"}):
        r2, local = _pair(config, tmp_path, **settings)

        assert [local.proxy_url(key) for key in KEYS] == [r2.proxy_url(key) for key in KEYS]


def test_public_url_is_the_same_for_both_backends(config: R2Config, tmp_path: Path) -> None:
    """public_url() is byte-identical for both backends."""
    r2, local = _pair(config, tmp_path, public_url="https://pub.example.com", location="m")

    assert [local.public_url(key) for key in KEYS] == [r2.public_url(key) for key in KEYS]
