"""What only LocalStore has: files on disk, sidecars, symlinks, local configuration."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from wsgiref.util import FileWrapper

import pytest

from r2store import (
    ConfigError,
    InvalidKeyError,
    LocalConfig,
    LocalStore,
    ObjectExistsError,
    ObjectNotFoundError,
    R2Store,
    R2StoreError,
    store_from_env,
)
from r2store.localconfig import DEFAULT_LOCAL_ROOT
from r2store.proxy import MediaProxy
from r2store.urls import proxy_signature_valid
from r2store.wsgi import R2ProxyApp

SIGNING_KEY = "local-tests-proxy-signing-key-0123456789abcdef"


@pytest.fixture
def local(tmp_path: Path) -> LocalStore:
    """A LocalStore on a new folder, keys at its root."""
    return LocalStore(LocalConfig(root=tmp_path / "root"))


def _files(root: Path) -> list[str]:
    """Every file under *root*, relative, sorted."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_sixteen_creates_of_one_key_have_one_winner(local: LocalStore) -> None:
    """16 threads creating one key: exactly one succeeds, and its bytes are stored intact."""
    barrier = threading.Barrier(16)
    winners: list[bytes] = []
    losers: list[Exception] = []

    def create(n: int) -> None:
        body = bytes([n]) * 200_000
        barrier.wait()
        try:
            local.save("race.bin", body)
        except ObjectExistsError as exc:
            losers.append(exc)
        else:
            winners.append(body)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (len(winners), len(losers)) == (1, 15)
    assert local.read("race.bin") == winners[0]


class _Failing(io.RawIOBase):
    """A stream that gives some bytes, then fails."""

    def __init__(self) -> None:
        super().__init__()
        self._sent = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._sent:
            raise OSError("the source failed mid-read")
        self._sent = True
        buffer[:1000] = b"x" * 1000
        return 1000


def test_a_failed_write_leaves_nothing_behind(local: LocalStore) -> None:
    """A write whose content fails mid-read stores nothing and leaves no temporary file."""
    with pytest.raises(OSError, match="mid-read"):
        local.save("half.bin", _Failing())

    assert not local.exists("half.bin")
    assert [f for f in _files(Path(local.root)) if f != ".r2store/lock"] == []


def test_an_aborted_open_write_leaves_nothing_behind(local: LocalStore) -> None:
    """open_write aborted by an exception leaves no file, sidecar or temporary file."""

    def write_then_fail() -> None:
        with local.open_write("w.bin") as writer:
            writer.write(b"partial")
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        write_then_fail()

    assert [f for f in _files(Path(local.root)) if f != ".r2store/lock"] == []


def test_metadata_survives_a_new_store(local: LocalStore) -> None:
    """A new LocalStore on the same root gives the same headers, metadata and ETag."""
    local.save(
        "keep.txt",
        b"kept",
        content_type="text/x-kept",
        cache_control="max-age=7",
        content_disposition="inline",
        content_encoding="identity",
        metadata={"a": "1"},
    )
    before = local.stat("keep.txt")

    after = LocalStore(LocalConfig(root=local.root)).stat("keep.txt")

    assert after == before
    assert after.metadata == {"a": "1"}


def test_the_etag_is_stable_across_restarts_and_follows_the_content(local: LocalStore) -> None:
    """The ETag is the same from a new store, and another content gets another ETag."""
    local.save("e.txt", b"one")
    first = local.stat("e.txt").etag
    again = LocalStore(LocalConfig(root=local.root))

    assert again.stat("e.txt").etag == first
    again.save("e.txt", b"two", overwrite=True)
    assert local.stat("e.txt").etag not in (None, first)


def test_sidecars_never_show_in_listings(local: LocalStore) -> None:
    """list and listdir show the objects, never the sidecar folder or its files."""
    local.save("a.txt", b"a")
    local.save("d/b.txt", b"b")

    assert [stat.key for stat in local.list()] == ["a.txt", "d/b.txt"]
    assert local.listdir("") == (["d"], ["a.txt"])
    assert (Path(local.root) / ".r2store" / "meta" / "d" / "b.txt").is_file()


def test_the_reserved_folder_is_no_key(local: LocalStore) -> None:
    """A key under .r2store/ is refused for writes and found nowhere for reads."""
    local.save("a.txt", b"a")

    with pytest.raises(InvalidKeyError):
        local.save(".r2store/meta/a.txt", b"forged")
    with pytest.raises(ObjectNotFoundError):
        local.read(".r2store/meta/a.txt")


def test_a_symlinked_file_is_never_followed(local: LocalStore, tmp_path: Path) -> None:
    """A symlink inside the root to a file outside reads as missing and is not listed."""
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"secret")
    local.save("real.txt", b"real")
    (Path(local.root) / "link.txt").symlink_to(outside)

    with pytest.raises(ObjectNotFoundError):
        local.read("link.txt")
    assert not local.exists("link.txt")
    assert [stat.key for stat in local.list()] == ["real.txt"]


def test_a_symlinked_folder_is_never_followed(local: LocalStore, tmp_path: Path) -> None:
    """A symlinked folder is neither read, listed nor written through."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    local.save("real.txt", b"real")
    (Path(local.root) / "dir").symlink_to(outside)

    with pytest.raises(ObjectNotFoundError):
        local.read("dir/secret.txt")
    with pytest.raises(InvalidKeyError):
        local.save("dir/new.txt", b"planted")
    local.delete("dir/secret.txt")
    assert [stat.key for stat in local.list()] == ["real.txt"]
    assert local.listdir("dir") == ([], [])
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_a_file_from_another_tool_is_served_with_a_guessed_type(local: LocalStore) -> None:
    """A file put in the root by hand has a guessed type and an ETag from its mtime and size."""
    Path(local.root).mkdir(parents=True)
    path = Path(local.root) / "hand.png"
    path.write_bytes(b"\x89PNG")
    info = path.stat()

    stat = local.stat("hand.png")

    assert stat.content_type == "image/png"
    assert stat.etag == f'"{info.st_mtime_ns:x}-{info.st_size:x}"'


def test_a_file_changed_by_another_tool_loses_its_sidecar(local: LocalStore) -> None:
    """A file rewritten in place by another tool no longer takes the old sidecar's ETag."""
    local.save("t.txt", b"old", metadata={"m": "1"})
    old = local.stat("t.txt").etag

    (Path(local.root) / "t.txt").write_bytes(b"new content")

    assert local.stat("t.txt").etag != old
    assert local.read("t.txt") == b"new content"


def test_a_key_cannot_be_a_file_and_a_folder(local: LocalStore) -> None:
    """Storing a/b while a is a file, or a while a/ holds files, is an InvalidKeyError."""
    local.save("a", b"file")
    local.save("d/x", b"x")

    with pytest.raises(InvalidKeyError):
        local.save("a/b", b"under a file")
    with pytest.raises(InvalidKeyError):
        local.save("d", b"over a folder", overwrite=True)
    with pytest.raises(InvalidKeyError):
        local.save("d", b"over a folder")


def test_a_ranged_reader_seeks_within_its_range(local: LocalStore) -> None:
    """Seeking a ranged local reader moves within the range."""
    local.save("r.bin", bytes(range(100)))

    with local.open("r.bin", range="bytes=10-19") as reader:
        reader.seek(5)
        assert reader.read() == bytes(range(15, 20))


def test_the_reader_hands_over_its_file_at_the_range_start(local: LocalStore) -> None:
    """ObjectReader.take_file() gives the file at the range's start, reading only the range."""
    local.save("r.bin", bytes(range(100)))

    file = local.open("r.bin", range="bytes=10-19").take_file()

    assert file is not None
    try:
        assert os.lseek(file.fileno(), 0, os.SEEK_CUR) == 10
        assert (file.length, file.read(), file.read()) == (10, bytes(range(10, 20)), b"")
    finally:
        file.close()


def test_a_reader_keeps_its_file_once_read(local: LocalStore) -> None:
    """After a read, take_file() gives None: the file is no longer at the range's start."""
    local.save("r.bin", bytes(range(100)))

    with local.open("r.bin") as reader:
        reader.read(1)
        assert reader.take_file() is None


# -- URLs -------------------------------------------------------------------


def test_presigned_url_without_a_signing_key_says_what_local_mode_cannot_do(
    local: LocalStore,
) -> None:
    """presigned_url without a proxy signing key raises an error naming R2_PROXY_SIGNING_KEY."""
    with pytest.raises(R2StoreError, match="R2_PROXY_SIGNING_KEY"):
        local.presigned_url("a.txt")


def test_url_in_presigned_mode_without_a_signing_key_raises(tmp_path: Path) -> None:
    """url() in presigned mode without a signing key raises rather than give a dead URL."""
    store = LocalStore(LocalConfig(root=tmp_path, media_proxy=False))

    with pytest.raises(R2StoreError, match="local mode"):
        store.url("a.txt")


def test_presigned_url_with_a_signing_key_is_a_valid_signed_proxy_url(tmp_path: Path) -> None:
    """With a signing key, presigned_url gives a signed proxy URL the proxy accepts."""
    config = LocalConfig(root=tmp_path, proxy_signing_key=SIGNING_KEY)
    url = LocalStore(config).presigned_url("a b.txt", expires_in=60)

    path, _, query = url.partition("?")
    params = dict(part.split("=", 1) for part in query.split("&"))
    assert path == "/media-proxy/a%20b.txt"
    assert proxy_signature_valid(config, "a b.txt", params["expires"], params["signature"])


def test_presigned_delete_is_refused(tmp_path: Path) -> None:
    """presigned_url for DELETE raises: the media proxy deletes nothing."""
    store = LocalStore(LocalConfig(root=tmp_path, proxy_signing_key=SIGNING_KEY))

    with pytest.raises(R2StoreError, match="cannot presign DELETE"):
        store.presigned_url("a.txt", method="DELETE")


def test_presigned_put_without_a_signing_key_names_it(local: LocalStore) -> None:
    """presigned_url for PUT without a signing key raises the error naming
    R2_PROXY_SIGNING_KEY."""
    with pytest.raises(R2StoreError, match="R2_PROXY_SIGNING_KEY"):
        local.presigned_url("a.txt", method="PUT", content_length=3, create_only=True)


def test_a_put_url_does_not_get(tmp_path: Path) -> None:
    """A URL signed for PUT is no GET URL: the proxy answers a GET on it 403."""
    store = LocalStore(LocalConfig(root=tmp_path, proxy_signing_key=SIGNING_KEY))
    store.save("a.txt", b"abc")
    url = store.presigned_url("a.txt", method="PUT", content_length=3, create_only=True)

    response = MediaProxy(store=store).handle("GET", "a.txt", {}, url.partition("?")[2])

    assert response.status == 403


def test_the_proxy_never_reads_past_the_signed_length(tmp_path: Path) -> None:
    """A PUT reads no more of the body than its signed Content-Length."""
    store = LocalStore(LocalConfig(root=tmp_path, proxy_signing_key=SIGNING_KEY))
    url = store.presigned_url("a.txt", method="PUT", content_length=3, create_only=True)
    body = io.BytesIO(b"abcdef")

    response = MediaProxy(store=store).handle(
        "PUT", "a.txt", {"content-length": "3"}, url.partition("?")[2], None, body
    )

    assert response.status == 200
    assert (store.read("a.txt"), body.tell()) == (b"abc", 3)


# -- configuration ----------------------------------------------------------


def test_from_env_reads_the_root_and_the_url_settings(tmp_path: Path) -> None:
    """LocalConfig.from_env reads R2_LOCAL_ROOT and the R2_* URL settings."""
    config = LocalConfig.from_env(
        {
            "R2_LOCAL_ROOT": str(tmp_path),
            "R2_LOCATION": "/media/",
            "R2_MEDIA_PROXY_PATH": "files",
            "R2_PUBLIC_DOMAIN": "cdn.example.com",
            "R2_CACHE_CONTROL": "max-age=5",
            "R2_URL_EXPIRES_IN": "60",
            "R2_BUCKET_NAME": "my-bucket",
        }
    )

    assert (config.root, config.location, config.proxy_path) == (str(tmp_path), "media", "/files/")
    assert (config.public_url, config.cache_control) == ("https://cdn.example.com", "max-age=5")
    assert (config.url_expires_in, config.bucket) == (60, "my-bucket")


def test_the_default_root_is_media_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without R2_LOCAL_ROOT the root is ./media, made absolute, and the bucket is "local"."""
    monkeypatch.chdir(tmp_path)

    config = LocalConfig.from_env({})

    assert config.root == str(tmp_path / DEFAULT_LOCAL_ROOT)
    assert config.bucket == "local"


def test_bad_url_settings_are_named_by_variable(tmp_path: Path) -> None:
    """Every bad URL setting is named by its variable, by the checks R2Config uses."""
    with pytest.raises(ConfigError) as caught:
        LocalConfig.from_env(
            {
                "R2_LOCAL_ROOT": str(tmp_path),
                "R2_PROXY_SIGNING_KEY": "short",
                "R2_LOCATION": "a/../b",
                "R2_URL_EXPIRES_IN": "0",
            }
        )

    assert {p.name for p in caught.value.problems} == {
        "R2_PROXY_SIGNING_KEY",
        "R2_LOCATION",
        "R2_URL_EXPIRES_IN",
    }


def test_store_from_env_is_local_without_use_r2(tmp_path: Path) -> None:
    """Without USE_R2, store_from_env gives a LocalStore at R2_LOCAL_ROOT."""
    store = store_from_env({"R2_LOCAL_ROOT": str(tmp_path)})

    assert isinstance(store, LocalStore)
    assert store.root == str(tmp_path)


def test_store_from_env_is_r2_with_use_r2(env: dict[str, str]) -> None:
    """With USE_R2=true and the R2_* variables, store_from_env gives an R2Store."""
    assert isinstance(store_from_env(env), R2Store)


def test_store_from_env_never_falls_back_to_local(tmp_path: Path) -> None:
    """USE_R2=true without credentials is a ConfigError naming each missing variable."""
    with pytest.raises(ConfigError) as caught:
        store_from_env({"USE_R2": "true", "R2_LOCAL_ROOT": str(tmp_path)})

    names = {p.name for p in caught.value.problems}
    assert {"R2_BUCKET_NAME", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY"} <= names


def test_import_r2store_loads_no_s3_client() -> None:
    """Importing r2store and using a LocalStore loads no boto3, botocore or urllib3."""
    import subprocess
    import sys

    code = (
        "import sys, tempfile, r2store\n"
        "s = r2store.LocalStore(r2store.LocalConfig(root=tempfile.mkdtemp()))\n"
        "s.save('a.txt', b'x'); s.read('a.txt'); list(s.list())\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore', 'urllib3'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"


# -- WSGI: a local file goes to wsgi.file_wrapper ---------------------------


class _RecordingWrapper:
    """wsgiref's wsgi.file_wrapper, recording each file it is given and its offset then."""

    def __init__(self) -> None:
        self.given: list[Any] = []
        self.offsets: list[int] = []

    def __call__(self, file: Any, block_size: int = 8192) -> Iterable[bytes]:
        self.given.append(file)
        self.offsets.append(os.lseek(file.fileno(), 0, os.SEEK_CUR))
        return FileWrapper(file, block_size)


def _call(app: R2ProxyApp, path: str, **environ: Any) -> tuple[str, dict[str, str], bytes]:
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> Any:
        answer["status"], answer["headers"] = status, dict(headers)

    body = app(
        {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", **environ},
        start_response,
    )
    try:
        data = b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return answer["status"], answer["headers"], data


def test_a_local_file_goes_to_the_file_wrapper(local: LocalStore) -> None:
    """A whole local file is handed to wsgi.file_wrapper, as a file with a descriptor."""
    local.save("f.bin", bytes(range(256)) * 10)
    wrapper = _RecordingWrapper()

    status, headers, body = _call(R2ProxyApp(local), "/f.bin", **{"wsgi.file_wrapper": wrapper})

    assert status.startswith("200")
    assert body == bytes(range(256)) * 10
    assert headers["Content-Length"] == "2560"
    assert wrapper.offsets == [0]


def test_a_local_range_goes_to_the_file_wrapper_at_its_start(local: LocalStore) -> None:
    """A range of a local file is handed to wsgi.file_wrapper positioned at the range's start."""
    local.save("f.bin", bytes(range(100)))
    wrapper = _RecordingWrapper()

    status, headers, body = _call(
        R2ProxyApp(local), "/f.bin", HTTP_RANGE="bytes=10-19", **{"wsgi.file_wrapper": wrapper}
    )

    assert status.startswith("206")
    assert (body, headers["Content-Length"], wrapper.offsets) == (bytes(range(10, 20)), "10", [10])


def test_an_r2_object_does_not_go_to_the_file_wrapper(store: R2Store) -> None:
    """An object streamed from R2 is never handed to wsgi.file_wrapper."""
    store.save("f.bin", b"from r2")
    wrapper = _RecordingWrapper()

    status, _, body = _call(R2ProxyApp(store), "/f.bin", **{"wsgi.file_wrapper": wrapper})

    assert (status[:3], body, wrapper.given) == ("200", b"from r2", [])


def test_media_proxy_serves_a_local_store(local: LocalStore) -> None:
    """The media proxy answers a LocalStore's object with its stored headers."""
    local.save("p.txt", b"proxied", cache_control="max-age=3")

    response = MediaProxy(store=local).handle("GET", "p.txt", {})

    assert response.status == 200
    assert dict(response.headers)["Cache-Control"] == "max-age=3"
    response.close()
