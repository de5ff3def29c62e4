"""Awkward keys through every operation that names a key, and a wrong secret refused.

Run on moto in the normal run and on SeaweedFS with ``R2STORE_TEST_S3=seaweedfs``: moto
checks no signature, so only there does a key signed one way and sent another fail.

The tests share one bucket, each under its own ``location`` (a new bucket per test
costs SeaweedFS ~0.3 s on its first write); the full keys are what the server sees.
"""

from __future__ import annotations

import hashlib
import unicodedata
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import attrs
import pytest

from r2store import AccessDeniedError, R2Config, R2Store
from r2store.keys import MAX_KEY_BYTES
from tests.conftest import new_bucket, put_raw

MiB = 1024 * 1024
#: Each test's location: "t" and 7 hex digits.
LOCATION_BYTES = 8
#: The longest key under such a location: the full key is then R2's longest.
LONGEST = MAX_KEY_BYTES - LOCATION_BYTES - 1


def _long_key(segment: str) -> str:
    """A key of exactly LONGEST bytes of UTF-8, made of 250-byte folders of *segment*
    repeated (SeaweedFS refuses path segments over 255 bytes; R2 has no such limit, so
    the corpus keeps to what both take)."""
    unit = len(segment.encode())
    parts: list[str] = []
    size = 0
    while size < LONGEST:
        room = min(250, LONGEST - size - (1 if parts else 0))
        parts.append(segment * (room // unit) + "x" * (room % unit))
        size = len("/".join(parts).encode())
    return "/".join(parts)


#: Keys that URL quoting, SigV4's canonical path, XML bodies and file systems get wrong.
AWKWARD_KEYS = {
    "space": "with space/a b.txt",
    "spaces-at-the-ends": " lead/trail .txt ",
    "plus": "a+b/c+d.txt",
    "equals": "a=b.txt",
    "ampersand": "a&b/&amp;.txt",
    "question-mark": "what?/a?b=c.txt",
    "hash": "#top/a#b.txt",
    "percent": "100%/a%b.txt",
    "percent-20": "a%20b.txt",
    "percent-2F": "a%2Fb.txt",
    "tilde": "~user/a~b.txt",
    "apostrophe": "it's/o'clock.txt",
    "parentheses": "(1)/copy (2).txt",
    "colon": "a:b/c:d.txt",
    "at": "@home/a@b.txt",
    "dollar": "$HOME/$x.txt",
    "other-sub-delims": '!*,;[]{}|^`<>".txt',
    "nfc": unicodedata.normalize("NFC", "café/naïve.txt"),
    "nfd": unicodedata.normalize("NFD", "café/naïve.txt"),
    "cjk": "日本語/ファイル.txt",
    "emoji": "😀/🇺🇦 flag.png",
    "long-ascii": _long_key("a"),
    "long-unicode": _long_key("日"),
}
IDS = list(AWKWARD_KEYS)
KEYS = list(AWKWARD_KEYS.values())


def _md5(data: bytes) -> str:
    return f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'


def _elsewhere(key: str) -> str:
    """Another key as awkward as *key*, and no longer than R2 allows."""
    other = f"copy of/{key}"
    return other if len(other.encode()) <= LONGEST else "c" + key[1:]


@pytest.fixture(scope="module")
def bucket(s3_endpoint: str) -> str:
    """One bucket for the module's tests."""
    return new_bucket(s3_endpoint, prefix="awkward")


@pytest.fixture
def config(env: dict[str, str]) -> R2Config:
    """The module's bucket, under a location of the test's own, empty."""
    location = f"t{uuid.uuid4().hex[:7]}"
    assert len(location) == LOCATION_BYTES
    return attrs.evolve(R2Config.from_env(env), location=location)


def _fetch(url: str) -> bytes:
    """The body of a GET of *url*, with no credentials but the URL's own."""
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body


def test_the_corpus_is_what_it_says(store: R2Store) -> None:
    """The NFC and NFD keys differ, and the long keys make full keys of R2's longest."""
    assert AWKWARD_KEYS["nfc"] != AWKWARD_KEYS["nfd"]
    for name in ("long-ascii", "long-unicode"):
        full = f"{store.config.location}/{AWKWARD_KEYS[name]}"
        assert len(full.encode()) == MAX_KEY_BYTES
        assert max(len(segment.encode()) for segment in full.split("/")) <= 255


@pytest.mark.parametrize("key", KEYS, ids=IDS)
def test_save_then_read(store: R2Store, key: str) -> None:
    """What is saved under an awkward key reads back, byte for byte."""
    store.save(key, key.encode())

    assert store.read(key) == key.encode()


@pytest.mark.parametrize("key", KEYS, ids=IDS)
def test_stat(store: R2Store, key: str) -> None:
    """stat of an awkward key gives the key, the size and the content's MD5."""
    store.save(key, b"stat me")

    stat = store.stat(key)

    assert (stat.key, stat.size, stat.etag) == (key, 7, _md5(b"stat me"))


@pytest.mark.parametrize("key", KEYS, ids=IDS)
def test_a_ranged_open(store: R2Store, key: str) -> None:
    """A ranged read of an awkward key (the Range header is signed too) gives those bytes."""
    store.save(key, bytes(range(100)))

    with store.open(key, range="bytes=10-19") as reader:
        assert reader.read() == bytes(range(10, 20))


@pytest.mark.parametrize("key", KEYS, ids=IDS)
def test_list_with_the_key_as_prefix(store: R2Store, key: str) -> None:
    """Listing with an awkward key as the prefix finds that key and no other."""
    store.save(key, b"x")
    store.save("plain.txt", b"x")

    assert [stat.key for stat in store.list(key)] == [key]


def test_list_gives_every_key_back_as_stored(store: R2Store) -> None:
    """A listing of the whole corpus names every key exactly as saved (NFC and NFD apart)."""
    for key in KEYS:
        store.save(key, b"x")

    assert sorted(stat.key for stat in store.list()) == sorted(KEYS)


@pytest.mark.parametrize("key", KEYS, ids=IDS)
def test_listdir_of_the_folder(store: R2Store, key: str) -> None:
    """listdir of an awkward key's folder gives its file name."""
    folder, _, name = key.rpartition("/")
    store.save(key, b"x")

    assert store.listdir(folder) == ([], [name])


@pytest.mark.parametrize("key", KEYS, ids=IDS)
def test_exists_and_delete(store: R2Store, key: str) -> None:
    """An awkward key exists once saved and not once deleted."""
    store.save(key, b"x")
    assert store.exists(key)

    store.delete(key)

    assert not store.exists(key)


def test_delete_many_deletes_the_corpus(store: R2Store) -> None:
    """delete_many with every awkward key at once (one XML body) leaves nothing behind."""
    for key in KEYS:
        store.save(key, b"x")

    store.delete_many(KEYS)

    assert list(store.list()) == []


@pytest.mark.parametrize("key", KEYS, ids=IDS)
def test_copy(store: R2Store, key: str) -> None:
    """copy from an awkward key to another gives the destination the same bytes."""
    store.save(key, b"copy me", metadata={"m": "1"})
    destination = _elsewhere(key)

    store.copy(key, destination)

    assert store.read(destination) == b"copy me"
    assert store.stat(destination).metadata == {"m": "1"}


@pytest.mark.parametrize("key", KEYS, ids=IDS)
def test_a_multipart_save(config: R2Config, key: str) -> None:
    """A save in two parts under an awkward key (create, parts, complete) reads back whole."""
    body = bytes(range(256)) * (5 * MiB // 256) + b"the last part"
    with R2Store(
        attrs.evolve(config, multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    ) as store:
        store.save(key, body)

        assert (store.stat(key).etag or "").endswith('-2"')
        assert store.read(key) == body


def test_nfc_and_nfd_are_two_objects(store: R2Store) -> None:
    """The NFC and NFD spellings of one name are two keys, each with its own bytes."""
    store.save(AWKWARD_KEYS["nfc"], b"composed")
    store.save(AWKWARD_KEYS["nfd"], b"decomposed")

    assert store.read(AWKWARD_KEYS["nfc"]) == b"composed"
    assert store.read(AWKWARD_KEYS["nfd"]) == b"decomposed"


@pytest.mark.parametrize("key", KEYS, ids=IDS)
def test_presigned_get(store: R2Store, key: str) -> None:
    """A presigned GET URL of an awkward key fetches the object."""
    store.save(key, b"presigned")

    assert _fetch(store.presigned_url(key, expires_in=60)) == b"presigned"


@pytest.mark.parametrize("key", KEYS, ids=IDS)
def test_presigned_put(store: R2Store, key: str) -> None:
    """A presigned PUT URL of an awkward key, with its signed type, uploads the object."""
    url = store.presigned_url(key, method="PUT", content_type="image/png", expires_in=60)
    request = urllib.request.Request(
        url, data=b"uploaded", method="PUT", headers={"Content-Type": "image/png"}
    )

    with urllib.request.urlopen(request, timeout=10):
        pass

    assert store.read(key) == b"uploaded"
    assert store.stat(key).content_type == "image/png"


def test_an_untyped_presigned_put_gets_the_servers_default_type(
    store: R2Store, s3_kind: str
) -> None:
    """A presigned PUT sent with no Content-Type is stored with the server's default type."""
    key = AWKWARD_KEYS["space"]

    put_raw(store, key, b"plain words", {})

    if s3_kind == "seaweedfs":
        # SeaweedFS sniffs a type from the first bytes; R2 and S3 store none.
        assert store.stat(key).content_type == "text/plain; charset=utf-8"
    else:
        assert store.stat(key).content_type == "binary/octet-stream"


# -- a server that checks signatures refuses a wrong secret ---------------------------


@pytest.fixture
def wrong_secret(config: R2Config) -> Iterator[R2Store]:
    """A store on the test bucket whose secret is not the server's."""
    store = R2Store(attrs.evolve(config, secret_access_key="not-the-" + config.secret_access_key))
    yield store
    store.close()


@pytest.mark.checks_signatures
def test_a_wrong_secret_cannot_read(store: R2Store, wrong_secret: R2Store) -> None:
    """A read signed with a wrong secret (r2store's own signer) raises AccessDeniedError."""
    store.save("a.txt", b"x")

    with pytest.raises(AccessDeniedError):
        wrong_secret.read("a.txt")


@pytest.mark.checks_signatures
def test_a_wrong_secret_cannot_write(store: R2Store, wrong_secret: R2Store) -> None:
    """A save signed with a wrong secret (botocore's signer) raises AccessDeniedError."""
    with pytest.raises(AccessDeniedError):
        wrong_secret.save("a.txt", b"x")

    assert not store.exists("a.txt")


@pytest.mark.checks_signatures
def test_a_wrong_secret_cannot_list(wrong_secret: R2Store) -> None:
    """A listing signed with a wrong secret raises AccessDeniedError."""
    with pytest.raises(AccessDeniedError):
        list(wrong_secret.list())


@pytest.mark.checks_signatures
def test_a_presigned_url_with_a_wrong_secret_is_refused(
    store: R2Store, wrong_secret: R2Store
) -> None:
    """A presigned GET URL signed with a wrong secret gets 403."""
    store.save("a.txt", b"x")

    with pytest.raises(urllib.error.HTTPError) as caught:
        _fetch(wrong_secret.presigned_url("a.txt", expires_in=60))

    assert caught.value.code == 403
    caught.value.close()


@pytest.mark.checks_signatures
def test_a_presigned_put_with_another_type_is_refused(store: R2Store) -> None:
    """A presigned PUT sent with another Content-Type than the signed one gets 403."""
    url = store.presigned_url("a.png", method="PUT", content_type="image/png", expires_in=60)
    request = urllib.request.Request(
        url, data=b"<svg/>", method="PUT", headers={"Content-Type": "image/svg+xml"}
    )

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)

    assert caught.value.code == 403
    caught.value.close()
    assert not store.exists("a.png")
