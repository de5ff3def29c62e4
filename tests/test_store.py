"""R2Store against a real S3-compatible server (moto's server mode on loopback)."""

from __future__ import annotations

import io
import pickle
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import pytest

from r2store import (
    InvalidMetadataError,
    ObjectExistsError,
    ObjectNotFoundError,
    R2Config,
    R2Store,
    R2StoreError,
    UpstreamError,
)
from r2store import upload as upload_module
from r2store.store import part_size_for

from .conftest import RequestLog

MiB = 1024 * 1024


class SentHeaders:
    """The headers of every GetObject the store's transport sends, recorded by a spy."""

    def __init__(self, store: R2Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.headers: list[dict[str, str]] = []
        transport = store.transport
        real = transport.get_object

        def spy(full_key: str, headers: Mapping[str, str]) -> Any:
            self.headers.append(dict(headers))
            return real(full_key, headers)

        monkeypatch.setattr(transport, "get_object", spy)


@pytest.fixture
def requests(store: R2Store) -> RequestLog:
    """A log of the requests the store sends from now on."""
    return RequestLog(store)


@pytest.fixture
def small_parts(store: R2Store) -> Iterator[R2Store]:
    """A store that goes multipart above 5 MiB, in 5 MiB parts (R2's smallest)."""
    config = attrs.evolve(store.config, multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    small = R2Store(config)
    yield small
    small.close()


def in_progress_uploads(store: R2Store) -> list[Any]:
    """Multipart uploads started and neither completed nor aborted."""
    response = store.client.list_multipart_uploads(Bucket=store.config.bucket)
    uploads: list[Any] = response.get("Uploads", [])
    return uploads


class Unseekable(io.RawIOBase):
    """A binary stream that cannot seek or tell its length, like a pipe or a socket."""

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self._data = io.BytesIO(data)
        self._fail_after = fail_after

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._fail_after is not None and self._data.tell() >= self._fail_after:
            raise OSError("the client went away")
        return self._data.readinto(buffer)


def test_save_and_read_bytes(store: R2Store) -> None:
    """Bytes saved under a key read back identically."""
    assert store.save("docs/a.txt", b"hello") == "docs/a.txt"
    assert store.read("docs/a.txt") == b"hello"


@pytest.mark.parametrize("wrap", [bytearray, memoryview, io.BytesIO, Unseekable])
def test_save_accepts_bytes_likes_and_streams(store: R2Store, wrap: Any) -> None:
    """bytearray, memoryview, seekable and unseekable binary streams all store their bytes."""
    store.save("k.bin", wrap(b"\x00\x01payload"))
    assert store.read("k.bin") == b"\x00\x01payload"


def test_save_reads_a_file_from_its_current_position(store: R2Store, tmp_path: Path) -> None:
    """A file object is stored from where it stands, as files are read."""
    path = tmp_path / "f.bin"
    path.write_bytes(b"skip|keep")
    with path.open("rb") as f:
        f.seek(5)
        store.save("f.bin", f)
    assert store.read("f.bin") == b"keep"


def test_save_refuses_text_files(store: R2Store) -> None:
    """A text-mode stream is a TypeError, not a half-written object."""
    with pytest.raises(TypeError, match="binary"):
        store.save("t.txt", io.StringIO("text"))  # type: ignore[arg-type]
    assert not store.exists("t.txt")


def test_save_without_overwrite_is_one_conditional_put(
    store: R2Store, requests: RequestLog
) -> None:
    """A no-overwrite save is a single PutObject with If-None-Match: *."""
    store.save("one.txt", b"1")
    assert requests.operations == ["PutObject"]
    assert requests.params[0]["Headers"]["if-none-match"] == "*"


def test_save_refuses_to_overwrite_by_default(store: R2Store) -> None:
    """Saving over an existing key raises ObjectExistsError and keeps the old content."""
    store.save("x.txt", b"first")
    with pytest.raises(ObjectExistsError) as info:
        store.save("x.txt", b"second")
    assert isinstance(info.value, FileExistsError)
    assert store.read("x.txt") == b"first"


def test_save_with_overwrite_replaces(store: R2Store, requests: RequestLog) -> None:
    """overwrite=True replaces the object, with no If-None-Match."""
    store.save("x.txt", b"first")
    store.save("x.txt", b"second", overwrite=True)
    assert store.read("x.txt") == b"second"
    assert "if-none-match" not in requests.params[-1]["Headers"]


def test_save_guesses_the_content_type(store: R2Store) -> None:
    """Without a content type, one is guessed from the key's extension."""
    store.save("p/photo.png", b"\x89PNG")
    store.save("p/blob", b"?")
    assert store.stat("p/photo.png").content_type == "image/png"
    assert store.stat("p/blob").content_type == "application/octet-stream"


def test_save_stores_headers_and_metadata(store: R2Store) -> None:
    """Content type, cache control, disposition, encoding and metadata are stored."""
    store.save(
        "h.txt",
        b"x",
        content_type="text/plain; charset=utf-8",
        cache_control="max-age=60",
        content_disposition='attachment; filename="h.txt"',
        content_encoding="identity",
        metadata={"owner": "42"},
    )
    stat = store.stat("h.txt")
    assert stat.content_type == "text/plain; charset=utf-8"
    assert stat.cache_control == "max-age=60"
    assert stat.content_disposition == 'attachment; filename="h.txt"'
    assert stat.content_encoding == "identity"
    assert stat.metadata == {"owner": "42"}


def test_metadata_up_to_r2s_limit_is_stored(store: R2Store) -> None:
    """8,192 bytes of names and values is R2's limit, and it is allowed."""
    metadata = {"a": "x" * 4095, "b": "y" * 4095}
    store.save("meta-limit.txt", b"x", metadata=metadata)
    assert store.stat("meta-limit.txt").metadata == metadata


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metadata": {"a": "x" * 4096, "b": "y" * 4095}}, "metadata is 8193 bytes"),
        ({"metadata": {"bad name": "v"}}, "metadata name 'bad name'"),
        ({"metadata": {"": "v"}}, "metadata name ''"),
        ({"metadata": {"k": "line\r\nX-Injected: 1"}}, "metadata value of 'k'"),
        ({"metadata": {"k": "caf\u00e9"}}, "metadata value of 'k'"),
        ({"content_type": "text/plain\r\nX-Injected: 1"}, "content_type"),
        ({"cache_control": "max-age=1\n"}, "cache_control"),
        ({"content_disposition": 'attachment; filename="caf\u00e9"'}, "content_disposition"),
    ],
)
def test_refused_headers_send_nothing(
    store: R2Store, requests: RequestLog, kwargs: dict[str, Any], message: str
) -> None:
    """Metadata and headers R2 would refuse (or that could split a header) raise
    InvalidMetadataError before any request, from save and from open_write alike."""
    with pytest.raises(InvalidMetadataError, match=re.escape(message)):
        store.save("refused.txt", b"x", **kwargs)
    with pytest.raises(InvalidMetadataError, match=re.escape(message)):
        store.open_write("refused.txt", **kwargs)
    assert requests.operations == []
    assert not store.exists("refused.txt")


def test_config_cache_control_is_the_default(store: R2Store) -> None:
    """R2_CACHE_CONTROL applies to uploads that do not set their own."""
    cached = R2Store(attrs.evolve(store.config, cache_control="public, max-age=3600"))
    cached.save("c.txt", b"x")
    cached.save("d.txt", b"x", cache_control="no-store")
    assert cached.stat("c.txt").cache_control == "public, max-age=3600"
    assert cached.stat("d.txt").cache_control == "no-store"


def test_open_streams_with_one_request(store: R2Store, requests: RequestLog) -> None:
    """open() sends one GetObject and reads as the caller reads."""
    store.save("s.bin", bytes(range(256)) * 4096)
    requests.operations.clear()
    with store.open("s.bin") as f:
        assert f.read(10) == bytes(range(10))
        assert f.size == 256 * 4096
        assert f.stat.content_type == "application/octet-stream"
        rest = f.read()
    assert len(rest) == 256 * 4096 - 10
    assert requests.operations == ["GetObject"]
    assert f.closed


def test_open_is_a_binary_file(store: R2Store) -> None:
    """The reader works with io's helpers: readinto, buffering and line iteration."""
    store.save("lines.txt", b"one\ntwo\nthree\n")
    with store.open("lines.txt") as raw:
        assert raw.readable()
        assert raw.name == "lines.txt"
        assert list(io.BufferedReader(raw)) == [b"one\n", b"two\n", b"three\n"]


def test_iter_chunks(store: R2Store) -> None:
    """iter_chunks yields the whole body in pieces no larger than asked."""
    data = b"z" * (3 * 1000 + 7)
    store.save("c.bin", data)
    with store.open("c.bin") as f:
        chunks = list(f.iter_chunks(1000))
    assert [len(c) for c in chunks] == [1000, 1000, 1000, 7]
    assert b"".join(chunks) == data


def test_open_a_range(store: R2Store) -> None:
    """A Range is sent with the GetObject and only those bytes come back."""
    store.save("r.bin", b"0123456789")
    with store.open("r.bin", range="bytes=2-4") as f:
        assert f.read() == b"234"
        assert f.content_range == "bytes 2-4/10"


def test_missing_objects_raise_not_found(store: R2Store) -> None:
    """Reading or stat-ing a missing key raises ObjectNotFoundError, a FileNotFoundError."""
    with pytest.raises(ObjectNotFoundError, match=r"nope\.txt"):
        store.open("nope.txt")
    with pytest.raises(FileNotFoundError):
        store.stat("nope.txt")
    assert not store.exists("nope.txt")


def test_stat(store: R2Store) -> None:
    """stat reports size, quoted ETag (the MD5 for a single PUT) and modification time."""
    store.save("st.txt", b"hello")
    stat = store.stat("st.txt")
    assert (stat.key, stat.size) == ("st.txt", 5)
    assert stat.etag == '"5d41402abc4b2a76b9719d911017c592"'
    assert stat.last_modified is not None
    assert stat.last_modified.tzinfo is not None


def test_delete(store: R2Store) -> None:
    """delete removes the object, and deleting a missing key is not an error."""
    store.save("d.txt", b"x")
    store.delete("d.txt")
    assert not store.exists("d.txt")
    store.delete("d.txt")


def test_delete_many(store: R2Store) -> None:
    """delete_many removes every named object and ignores missing ones."""
    for name in ("a", "b", "c"):
        store.save(name, b"x")
    store.delete_many(["a", "c", "missing"])
    assert [o.key for o in store.list()] == ["b"]


def test_copy(store: R2Store) -> None:
    """copy duplicates content and metadata."""
    store.save("src.txt", b"data", metadata={"k": "v"})
    store.copy("src.txt", "dst/copy.txt")
    assert store.read("dst/copy.txt") == b"data"
    assert store.stat("dst/copy.txt").metadata == {"k": "v"}


def test_list_walks_every_page(store: R2Store, requests: RequestLog) -> None:
    """list yields every object under the prefix, fetching page after page."""
    for i in range(7):
        store.save(f"p/{i}.txt", b"x" * i)
    store.save("q/other.txt", b"x")
    requests.operations.clear()
    listed = list(store.list("p/", page_size=3))
    assert [(o.key, o.size) for o in listed] == [(f"p/{i}.txt", i) for i in range(7)]
    assert requests.operations == ["ListObjectsV2"] * 3


_ODD_KEYS = ["a b.txt", "a+b.txt", "x&<y>.txt", "ü 日本/😀 1.png", "pct%41.txt", "q?#.txt"]


def test_odd_keys_list_and_read_back(store: R2Store) -> None:
    """Keys with spaces, '+', '&', '<', '%', '?' and non-ASCII list, stat and read back as saved."""
    for key in _ODD_KEYS:
        store.save(key, key.encode())
    assert [o.key for o in store.list()] == sorted(_ODD_KEYS)
    assert store.listdir("") == (["ü 日本"], sorted(k for k in _ODD_KEYS if "/" not in k))
    for key in _ODD_KEYS:
        assert store.read(key) == key.encode()
        assert store.stat(key).size == len(key.encode())


def test_listdir(store: R2Store) -> None:
    """listdir splits the level below a prefix into directories and files."""
    for key in ("top.txt", "a/1.txt", "a/2.txt", "a/b/3.txt", "c/4.txt"):
        store.save(key, b"x")
    assert store.listdir("") == (["a", "c"], ["top.txt"])
    assert store.listdir("a") == (["b"], ["1.txt", "2.txt"])
    assert store.listdir("a/") == (["b"], ["1.txt", "2.txt"])


def test_location_prefixes_keys_but_not_names(config: R2Config) -> None:
    """With a location, objects live under it while the API speaks relative keys."""
    store = R2Store(attrs.evolve(config, location="media"))
    plain = R2Store(config)
    store.save("img/a.png", b"x")
    assert plain.exists("media/img/a.png")
    assert [o.key for o in store.list()] == ["img/a.png"]
    assert store.stat("img/a.png").key == "img/a.png"
    assert store.listdir("img") == ([], ["a.png"])


def test_multipart_uses_equal_parts(small_parts: R2Store) -> None:
    """Content above the threshold goes up in equal-size parts, the last no larger."""
    log = RequestLog(small_parts)
    data = bytes(range(256)) * (12 * MiB // 256 + 3)
    small_parts.save("big.bin", io.BytesIO(data))
    sizes = [len(p["Body"]) for p in log.params if "PartNumber" in p]
    assert sizes == [5 * MiB, 5 * MiB, len(data) - 10 * MiB]
    assert log.operations[-1] == "CompleteMultipartUpload"
    assert small_parts.read("big.bin") == data


def test_multipart_from_an_unseekable_stream(small_parts: R2Store) -> None:
    """A stream of unknown length above the threshold is uploaded in parts, intact."""
    data = b"u" * (11 * MiB)
    small_parts.save("pipe.bin", Unseekable(data))
    assert small_parts.read("pipe.bin") == data
    assert in_progress_uploads(small_parts) == []


def test_multipart_is_an_atomic_create(small_parts: R2Store) -> None:
    """CompleteMultipartUpload carries If-None-Match: * when overwriting is off."""
    log = RequestLog(small_parts)
    small_parts.save("big.bin", io.BytesIO(b"b" * (6 * MiB)))
    complete = next(p for p in log.params if "MultipartUpload" in p)
    assert complete["IfNoneMatch"] == "*"


def test_multipart_refuses_an_existing_key_before_uploading(small_parts: R2Store) -> None:
    """A large no-overwrite save to an existing key fails before any part is sent."""
    small_parts.save("big.bin", b"old")
    log = RequestLog(small_parts)
    with pytest.raises(ObjectExistsError):
        small_parts.save("big.bin", io.BytesIO(b"b" * (6 * MiB)))
    assert "UploadPart" not in log.operations
    assert small_parts.read("big.bin") == b"old"


def test_multipart_loses_a_race_cleanly(small_parts: R2Store) -> None:
    """If another writer creates the key mid-upload, ours fails, is aborted and theirs stays."""
    other = R2Store(small_parts.config)

    class RacingStream(io.BytesIO):
        """Creates the key through another store once the upload is under way."""

        def read(self, size: int | None = -1) -> bytes:
            if self.tell() >= 5 * MiB and not other.exists("race.bin"):
                other.save("race.bin", b"theirs")
            return super().read(size)

    with pytest.raises(ObjectExistsError):
        small_parts.save("race.bin", RacingStream(b"m" * (11 * MiB)))
    assert small_parts.read("race.bin") == b"theirs"
    assert in_progress_uploads(small_parts) == []
    other.close()


def test_failed_multipart_upload_is_aborted(small_parts: R2Store) -> None:
    """A stream that fails mid-upload leaves no object and no incomplete upload behind."""
    with pytest.raises(OSError, match="went away"):
        small_parts.save("broken.bin", Unseekable(b"x" * (20 * MiB), fail_after=11 * MiB))
    assert not small_parts.exists("broken.bin")
    assert in_progress_uploads(small_parts) == []


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (None, 8 * MiB),  # unknown: the configured size, checked as parts are read
        (1, 8 * MiB),
        (10_000 * 8 * MiB, 8 * MiB),  # exactly 10,000 parts
        (10_000 * 8 * MiB + 1, 16 * MiB),
        (5 * 1024**4, 1024 * MiB),  # R2's largest object, 5 TiB: 5,120 parts of 1 GiB
    ],
)
def test_part_size_grows_to_fit_r2s_part_limit(size: int | None, expected: int) -> None:
    """The part size doubles from the configured one until the upload fits 10,000 parts."""
    assert part_size_for(size, 8 * MiB) == expected
    if size is not None:
        assert -(-size // expected) <= 10_000


def test_unknown_size_over_the_part_limit_is_refused_and_aborted(
    small_parts: R2Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream of unknown length that would need more parts than R2 allows raises a clear
    error, and the upload is aborted: nothing is left. (The limit is lowered from 10,000
    to 2 parts here, or the test would have to send 50 GB.)"""
    monkeypatch.setattr(upload_module, "_MAX_PARTS", 2)
    with pytest.raises(R2StoreError, match="needs more than 2 parts of 5242880 bytes"):
        small_parts.save("too-many-parts.bin", Unseekable(b"p" * (11 * MiB)))
    assert not small_parts.exists("too-many-parts.bin")
    assert in_progress_uploads(small_parts) == []


def test_presigned_get_can_be_fetched(store: R2Store) -> None:
    """A presigned GET URL fetches the object with no credentials."""
    store.save("pre/x y.txt", b"presigned")
    with urllib.request.urlopen(store.presigned_url("pre/x y.txt", expires_in=60)) as response:
        assert response.read() == b"presigned"


def test_presigned_put_uploads(store: R2Store) -> None:
    """A presigned PUT URL lets a client without credentials upload the object."""
    url = store.presigned_url("up/photo.png", method="PUT", content_type="image/png")
    request = urllib.request.Request(
        url, data=b"\x89PNG...", method="PUT", headers={"Content-Type": "image/png"}
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
    assert store.read("up/photo.png") == b"\x89PNG..."
    assert store.stat("up/photo.png").content_type == "image/png"


@pytest.mark.parametrize("expires_in", [0, -1, 604801, 1.5])
def test_presigned_url_refuses_bad_expiry(store: R2Store, expires_in: Any) -> None:
    """Expiry must be whole seconds from 1 s to 7 days."""
    with pytest.raises(ValueError, match="expires_in"):
        store.presigned_url("a.txt", expires_in=expires_in)


def test_url_modes(config: R2Config) -> None:
    """url() uses the proxy, else the public URL, else a presigned URL."""
    key = "img/a b.png"
    proxied = R2Store(config)
    assert proxied.url(key) == "/media-proxy/img/a%20b.png"
    public = R2Store(attrs.evolve(config, media_proxy=False, public_url="https://cdn.example.com"))
    assert public.url(key) == "https://cdn.example.com/img/a%20b.png"
    presigned = R2Store(attrs.evolve(config, media_proxy=False))
    assert presigned.url(key).startswith(f"{config.endpoint}/{config.bucket}/img/a%20b.png?X-Amz-")


def test_public_url_includes_location_and_proxy_url_does_not(config: R2Config) -> None:
    """The public URL names the full object key; the proxy applies the location itself."""
    store = R2Store(
        attrs.evolve(config, location="media", public_url="https://cdn.example.com/base")
    )
    assert store.public_url("a.png") == "https://cdn.example.com/base/media/a.png"
    assert store.proxy_url("a.png") == "/media-proxy/a.png"


def test_urls_make_no_requests(store: R2Store) -> None:
    """Public and proxy URLs are pure string work: no client is even created."""
    public = R2Store(attrs.evolve(store.config, public_url="https://cdn.example.com"))
    public.url("a.png")
    public.public_url("a.png")
    public.proxy_url("a.png")
    public.presigned_url("a.png")
    assert public._client is None
    assert public._transport is None


@pytest.mark.parametrize("attribute", ["client", "transport"])
def test_one_client_is_shared_by_all_threads(store: R2Store, attribute: str) -> None:
    """Concurrent first uses create exactly one client for writes and one for reads."""
    barrier = threading.Barrier(8)

    def get() -> Any:
        barrier.wait()
        return getattr(store, attribute)

    with ThreadPoolExecutor(8) as pool:
        clients = list(pool.map(lambda _: get(), range(8)))
    assert all(c is clients[0] for c in clients)


def test_reads_make_no_botocore_client(store: R2Store) -> None:
    """open, read, stat, exists, list and listdir go through the transport alone."""
    writer = R2Store(store.config)
    writer.save("only/read.txt", b"r")
    writer.close()
    with store.open("only/read.txt") as reader:
        assert reader.read() == b"r"
    assert store.read("only/read.txt") == b"r"
    assert store.stat("only/read.txt").size == 1
    assert store.exists("only/read.txt")
    assert not store.exists("only/missing.txt")
    assert [o.key for o in store.list("only/")] == ["only/read.txt"]
    assert store.listdir("only") == ([], ["read.txt"])
    assert store._client is None
    assert store._transport is not None


_READ_ONLY_SCRIPT = """
import sys
from r2store import R2Store

store = R2Store.from_env()
with store.open("ro/a.txt") as reader:
    assert reader.read() == b"read only"
assert store.read("ro/a.txt") == b"read only"
assert store.stat("ro/a.txt").size == 9
assert [stat.key for stat in store.list("ro/")] == ["ro/a.txt"]
assert store.listdir("ro") == ([], ["a.txt"])
store.close()
print(sorted({m.split(".")[0] for m in sys.modules} & {"boto3", "botocore", "s3transfer"}))
"""


def test_a_read_only_process_never_imports_botocore(
    store: R2Store, env: dict[str, str], tmp_path: Path
) -> None:
    """A process that only opens, reads, stats and lists does not import boto3 or botocore."""
    store.save("ro/a.txt", b"read only")
    out = subprocess.run(
        [sys.executable, "-c", _READ_ONLY_SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        timeout=60,
    ).stdout
    assert out.strip() == "[]"


def test_client_uses_r2_safe_defaults(store: R2Store) -> None:
    """The client signs with SigV4, sends checksums only when required, and pools connections."""
    config = store.client.meta.config
    assert config.signature_version == "s3v4"
    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"
    assert config.retries["mode"] == "standard"
    assert config.max_pool_connections == store.config.max_pool_connections
    assert store.client.meta.region_name == "auto"


def test_user_client_config_is_merged(config: R2Config) -> None:
    """A user botocore Config overrides only what it sets."""
    from botocore.config import Config

    store = R2Store(attrs.evolve(config, client_config=Config(read_timeout=7)))
    assert store.client.meta.config.read_timeout == 7
    assert store.client.meta.config.request_checksum_calculation == "when_required"
    store.client.close()


def test_store_pickles_without_its_client(store: R2Store) -> None:
    """A pickled store carries its config only and works after unpickling."""
    store.save("pk.txt", b"x")
    store.read("pk.txt")
    copy = pickle.loads(pickle.dumps(store))
    assert copy.config == store.config
    assert copy._client is None
    assert copy._transport is None
    assert copy.read("pk.txt") == b"x"
    copy.close()


def test_repr_hides_secrets(store: R2Store) -> None:
    """The store's repr names bucket and endpoint, never credentials."""
    text = repr(store)
    assert store.config.bucket in text
    assert store.config.secret_access_key not in text


def test_unreachable_endpoint_is_an_upstream_error(config: R2Config) -> None:
    """A closed port gives UpstreamError (an OSError), not a botocore exception."""
    from botocore.config import Config

    from .conftest import free_port

    store = R2Store(
        attrs.evolve(
            config,
            endpoint_url=f"http://127.0.0.1:{free_port()}",
            client_config=Config(retries={"mode": "standard", "max_attempts": 1}),
        )
    )
    with pytest.raises(UpstreamError) as info:
        store.read("a.txt")
    assert isinstance(info.value, OSError)
    assert isinstance(info.value, R2StoreError)
    store.close()


@pytest.mark.parametrize(
    ("method", "operation", "extra", "params"),
    [
        ("GET", "get_object", {}, {}),
        ("HEAD", "head_object", {}, {}),
        ("DELETE", "delete_object", {}, {}),
        ("PUT", "put_object", {"content_type": "image/png"}, {"ContentType": "image/png"}),
        (
            "GET",
            "get_object",
            {"content_disposition": "attachment"},
            {"ResponseContentDisposition": "attachment"},
        ),
    ],
)
def test_presigned_url_is_byte_identical_to_botocore(
    config: R2Config,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    operation: str,
    extra: dict[str, Any],
    params: dict[str, str],
) -> None:
    """For one clock, the store's presigned URLs equal botocore's own, location included."""
    import datetime
    import time

    import botocore.auth

    moment = datetime.datetime(2026, 11, 25, 12, 34, 56)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: moment)
    epoch = moment.replace(tzinfo=datetime.timezone.utc).timestamp()
    # The signer reads time.time(); the patch is process-wide but undone after the test.
    monkeypatch.setattr(time, "time", lambda: epoch)
    store = R2Store(attrs.evolve(config, location="media"))
    key = "img/a b+c~ü.png"
    ours = store.presigned_url(key, expires_in=900, method=method, **extra)
    theirs = store.client.generate_presigned_url(
        operation,
        Params={"Bucket": config.bucket, "Key": f"media/{key}", **params},
        ExpiresIn=900,
        HttpMethod=method,
    )
    store.client.close()
    assert ours == theirs


def test_open_write_stores_on_close(store: R2Store, requests: RequestLog) -> None:
    """A small object written through open_write is one conditional PutObject at close."""
    with store.open_write("w/small.txt", content_type="text/plain") as f:
        assert f.writable()
        f.write(b"hello ")
        f.write(memoryview(b"world"))
    assert store.read("w/small.txt") == b"hello world"
    assert store.stat("w/small.txt").content_type == "text/plain"
    assert requests.operations[0] == "PutObject"
    assert requests.params[0]["Headers"]["if-none-match"] == "*"


def test_open_write_goes_multipart_in_equal_parts(small_parts: R2Store) -> None:
    """Writing more than the threshold uploads equal-size parts as the bytes arrive."""
    log = RequestLog(small_parts)
    block = bytes(range(256)) * 4096  # 1 MiB
    with small_parts.open_write("w/big.bin") as f:
        for _ in range(12):
            f.write(block)
    sizes = [len(p["Body"]) for p in log.params if "PartNumber" in p]
    assert sizes == [5 * MiB, 5 * MiB, 2 * MiB]
    assert small_parts.read("w/big.bin") == block * 12


def test_open_write_aborts_on_an_exception(small_parts: R2Store) -> None:
    """An exception inside the with block stores nothing and leaves no upload behind."""

    def write_then_fail() -> None:
        with small_parts.open_write("w/x") as f:
            f.write(b"x" * (11 * MiB))
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError, match="changed my mind"):
        write_then_fail()
    assert not small_parts.exists("w/x")
    assert in_progress_uploads(small_parts) == []


def test_open_write_refuses_to_overwrite(store: R2Store) -> None:
    """Closing a writer for an existing key raises ObjectExistsError; the old object stays."""
    store.save("w/taken.txt", b"old")
    writer = store.open_write("w/taken.txt")
    writer.write(b"new")
    with pytest.raises(ObjectExistsError):
        writer.close()
    assert store.read("w/taken.txt") == b"old"


def test_open_write_refuses_bad_keys_at_once(store: R2Store) -> None:
    """A bad key fails when the writer is made, not after the bytes are written."""
    from r2store import InvalidKeyError

    with pytest.raises(InvalidKeyError):
        store.open_write("../escape")


def test_reader_tells_and_seeks(
    store: R2Store, requests: RequestLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole-object reader tells its position and seeks, reopening only when it must."""
    data = bytes(range(256)) * 4096  # 1 MiB
    store.save("seek.bin", data)
    requests.operations.clear()
    sent = SentHeaders(store, monkeypatch)
    with store.open("seek.bin") as f:
        assert f.seekable()
        assert f.read(10) == data[:10]
        assert f.tell() == 10
        f.seek(100)  # a short skip forward reads ahead
        assert f.read(5) == data[100:105]
        assert requests.operations == ["GetObject"]
        f.seek(0)  # backwards: one ranged request from there
        assert f.read(3) == data[:3]
        f.seek(-2, io.SEEK_END)
        assert f.read() == data[-2:]
        assert f.tell() == len(data)
        f.seek(0, io.SEEK_END)
        assert f.read() == b""
    assert requests.operations == ["GetObject"] * 3
    assert sent.headers[0] == {}
    assert sent.headers[1] == {"range": "bytes=0-", "if-match": store.stat("seek.bin").etag}
    assert sent.headers[2]["range"] == f"bytes={len(data) - 2}-"


def test_ranged_reader_cannot_seek(store: R2Store) -> None:
    """A ranged read tells its position but refuses to seek elsewhere."""
    store.save("r.bin", b"0123456789")
    with store.open("r.bin", range="bytes=2-5") as f:
        assert not f.seekable()
        f.read(2)
        assert f.tell() == 2
        with pytest.raises(io.UnsupportedOperation):
            f.seek(0)


def test_close_releases_the_client_and_the_store_stays_usable(store: R2Store) -> None:
    """close() drops both clients; the next request makes new ones."""
    store.save("c.txt", b"x")
    store.read("c.txt")
    first, first_transport = store.client, store.transport
    with store:
        pass
    assert store._client is None
    assert store._transport is None
    assert store.read("c.txt") == b"x"
    assert store.transport is not first_transport
    assert store.client is not first


def test_request_hooks_survive_close(store: R2Store) -> None:
    """Hooks belong to the store: a transport made after close() still calls them."""
    store.save("h.txt", b"x")
    seen: list[tuple[str, str]] = []
    store.request_hooks.append(lambda method, url: seen.append((method, url)))
    store.read("h.txt")
    store.close()
    store.stat("h.txt")
    bucket = store.config.bucket
    assert [(m, urlsplit(u).path) for m, u in seen] == [
        ("GET", f"/{bucket}/h.txt"),
        ("HEAD", f"/{bucket}/h.txt"),
    ]
