"""R2Storage: Django's Storage API on a real S3 server."""

from __future__ import annotations

import io
import pickle
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile, File
from django.core.files.uploadedfile import (
    InMemoryUploadedFile,
    SimpleUploadedFile,
    TemporaryUploadedFile,
)
from django.db.migrations.writer import MigrationWriter
from django.utils.safestring import mark_safe

from r2store import R2Config
from r2store.django import R2Storage
from tests.conftest import RequestLog
from tests.django_project.contacts.models import Contact, Document

from .conftest import r2_options, r2_store

# A 3x2 PNG, the smallest real image Pillow reads dimensions from.
PNG_3x2 = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000030000000208020000001216f14d"
    "0000001049444154789c63f8cfc0f09f8181e13f0300150602fd8a2a16840000000049454e44ae426082"
)


def test_save_content_file(r2_storage: R2Storage) -> None:
    """A ContentFile of bytes is stored under its name."""
    assert r2_storage.save("a/b.txt", ContentFile(b"bytes")) == "a/b.txt"
    assert r2_storage.store.read("a/b.txt") == b"bytes"


def test_save_text_content_file(r2_storage: R2Storage) -> None:
    """A ContentFile of str is stored as UTF-8."""
    r2_storage.save("t.txt", ContentFile("héllo"))
    assert r2_storage.store.read("t.txt") == "héllo".encode()


@pytest.mark.parametrize("kind", ["memory", "temporary", "simple", "file"])
def test_save_uploads(r2_storage: R2Storage, tmp_path: Path, kind: str) -> None:
    """Every kind of Django upload is streamed to R2 from its start."""
    data = b"upload-" * 1000
    upload: Any
    if kind == "memory":
        upload = InMemoryUploadedFile(
            io.BytesIO(data), "file", "u.bin", "application/octet-stream", len(data), None
        )
    elif kind == "temporary":
        upload = TemporaryUploadedFile("u.bin", "application/octet-stream", len(data), None)
        upload.write(data)
    elif kind == "simple":
        upload = SimpleUploadedFile("u.bin", data)
    else:
        path = tmp_path / "u.bin"
        path.write_bytes(data)
        upload = File(path.open("rb"), "u.bin")
    upload.seek(len(data) // 2)  # save() must not depend on where the file stands
    name = r2_storage.save(f"uploads/{kind}.bin", upload)
    upload.close()
    assert r2_storage.store.read(name) == data


def test_no_overwrite_picks_another_name(r2_storage: R2Storage) -> None:
    """Saving over an existing name stores under an alternative name; both survive."""
    first = r2_storage.save("dup.txt", ContentFile(b"one"))
    second = r2_storage.save("dup.txt", ContentFile(b"two"))
    assert first == "dup.txt"
    assert second != first
    assert second.startswith("dup_")
    assert second.endswith(".txt")
    assert r2_storage.store.read(first) == b"one"
    assert r2_storage.store.read(second) == b"two"


def test_no_overwrite_claims_names_without_exists(r2_storage: R2Storage) -> None:
    """A save is one conditional PutObject: no HEAD before it."""
    log = RequestLog(r2_store(r2_storage))
    r2_storage.save("once.txt", ContentFile(b"x"))
    assert log.operations == ["PutObject"]


def test_allow_overwrite_replaces(settings: Any, config: R2Config) -> None:
    """With allow_overwrite the name is kept and the content replaced."""
    storage = R2Storage(allow_overwrite=True, **r2_options(config))
    storage.save("o.txt", ContentFile(b"one"))
    assert storage.save("o.txt", ContentFile(b"two")) == "o.txt"
    assert storage.store.read("o.txt") == b"two"


def test_alternative_names_respect_max_length(r2_storage: R2Storage) -> None:
    """Alternative names are shortened to fit the field's max_length."""
    name = "documents/" + "n" * 20 + ".pdf"
    r2_storage.save(name, ContentFile(b"1"), max_length=40)
    other = r2_storage.save(name, ContentFile(b"2"), max_length=40)
    assert other != name
    assert len(other) <= 40
    assert other.startswith("documents/n")
    assert other.endswith(".pdf")


def test_concurrent_saves_of_one_name_all_survive(r2_storage: R2Storage) -> None:
    """Eight threads saving one name get eight names and eight intact contents."""
    barrier = threading.Barrier(8)

    def save(i: int) -> str:
        barrier.wait()
        return r2_storage.save("race.txt", ContentFile(f"content {i}".encode()))

    with ThreadPoolExecutor(8) as pool:
        names = list(pool.map(save, range(8)))
    assert len(set(names)) == 8
    assert sorted(r2_storage.store.read(n) for n in names) == sorted(
        f"content {i}".encode() for i in range(8)
    )


@pytest.mark.parametrize("name", ["../escape.txt", "/abs.txt", "a//b.txt", "a\x00b.txt"])
def test_bad_names_are_suspicious(r2_storage: R2Storage, name: str) -> None:
    """Traversal, absolute and control-character names raise SuspiciousFileOperation."""
    with pytest.raises(SuspiciousFileOperation):
        r2_storage.save(name, ContentFile(b"x"))
    with pytest.raises(SuspiciousFileOperation):
        r2_storage.exists(name)


def test_open_reads_with_one_request(r2_storage: R2Storage) -> None:
    """open('rb') streams the object with a single GetObject."""
    r2_storage.save("r.txt", ContentFile(b"read me"))
    log = RequestLog(r2_store(r2_storage))
    with r2_storage.open("r.txt") as f:
        assert f.read() == b"read me"
        assert f.size == 7
    assert log.operations == ["GetObject"]


def test_open_for_writing(r2_storage: R2Storage) -> None:
    """open('wb') stores what was written when the file is closed."""
    with r2_storage.open("w.txt", "wb") as f:
        f.write(b"written")
    assert r2_storage.store.read("w.txt") == b"written"


def test_open_for_writing_keeps_a_taken_name(r2_storage: R2Storage) -> None:
    """Without allow_overwrite, closing an open('wb') file on a taken name raises and
    leaves the object as it was."""
    r2_storage.save("w.txt", ContentFile(b"first"))
    with pytest.raises(FileExistsError), r2_storage.open("w.txt", "wb") as f:
        f.write(b"second")
    assert r2_storage.store.read("w.txt") == b"first"


def test_open_for_writing_overwrites_when_allowed(config: R2Config) -> None:
    """With allow_overwrite, open('wb') on a taken name replaces the content."""
    storage = R2Storage(allow_overwrite=True, **r2_options(config))
    storage.save("w.txt", ContentFile(b"first"))
    with storage.open("w.txt", "wb") as f:
        f.write(b"second")
    assert storage.store.read("w.txt") == b"second"


def test_open_for_writing_stores_nothing_after_an_exception(r2_storage: R2Storage) -> None:
    """Leaving a ``with storage.open(name, "wb")`` block on an exception stores nothing."""

    def write_half() -> None:
        with r2_storage.open("w.txt", "wb") as f:
            f.write(b"the first half")
            raise RuntimeError("the second half never came")

    with pytest.raises(RuntimeError):
        write_half()
    assert not r2_storage.exists("w.txt")


def test_exists_delete_size_listdir(r2_storage: R2Storage) -> None:
    """exists, size, listdir and delete speak Django's API."""
    for name in ("d/a.txt", "d/b.txt", "d/sub/c.txt"):
        r2_storage.save(name, ContentFile(b"12345"))
    assert r2_storage.exists("d/a.txt")
    assert r2_storage.size("d/a.txt") == 5
    assert r2_storage.listdir("d") == (["sub"], ["a.txt", "b.txt"])
    r2_storage.delete("d/a.txt")
    assert not r2_storage.exists("d/a.txt")
    r2_storage.delete("d/a.txt")


def test_url_uses_the_proxy(r2_storage: R2Storage) -> None:
    """url() gives the media proxy URL, with no request."""
    assert r2_storage.url("profile_images/a b.png") == "/media-proxy/profile_images/a%20b.png"
    assert r2_store(r2_storage)._client is None


def test_url_takes_a_templates_safe_string(media_storage: R2Storage) -> None:
    """url() of a SafeString (a template's literal) is the URL of the same text."""
    assert media_storage.url(mark_safe("a b.png")) == media_storage.url("a b.png")


@pytest.mark.parametrize("use_tz", [True, False])
def test_modified_time(r2_storage: R2Storage, settings: Any, use_tz: bool) -> None:
    """get_modified_time is aware UTC with USE_TZ, naive local time without."""
    settings.USE_TZ = use_tz
    r2_storage.save("m.txt", ContentFile(b"x"))
    modified = r2_storage.get_modified_time("m.txt")
    assert (modified.tzinfo is not None) is use_tz
    if use_tz:
        assert modified.utcoffset() == timezone.utc.utcoffset(None)


@pytest.mark.django_db
def test_image_field_dimensions(r2_storage: R2Storage) -> None:
    """An ImageField upload stores the image and records its width and height."""
    contact = Contact(name="Ada")
    contact.photo.save("ada.png", ContentFile(PNG_3x2), save=True)
    contact.refresh_from_db()
    assert contact.photo.name is not None
    assert (contact.width, contact.height) == (3, 2)
    assert contact.photo.name.startswith("profile_images/ada")
    assert r2_storage.store.read(contact.photo.name) == PNG_3x2
    assert contact.photo.url == f"/media-proxy/{contact.photo.name}"


@pytest.mark.django_db
def test_file_field_max_length(r2_storage: R2Storage) -> None:
    """A FileField's max_length holds for names made unique by the storage."""
    for _ in range(2):
        document = Document(file=None)
        document.file.save("a-rather-long-file-name.pdf", ContentFile(b"%PDF"), save=True)
        assert document.file.name is not None
        assert len(document.file.name) <= 40


def test_unknown_options_are_refused(config: R2Config) -> None:
    """An OPTIONS key that is not an R2Config field is ImproperlyConfigured."""
    with pytest.raises(ImproperlyConfigured, match="bukcet"):
        R2Storage(bukcet="x", **r2_options(config))


def test_bad_settings_name_every_problem(config: R2Config) -> None:
    """Bad OPTIONS are ImproperlyConfigured naming each problem, without the secret."""
    options = r2_options(config, bucket="Bad_Bucket", region="Not A Region")
    with pytest.raises(ImproperlyConfigured) as info:
        R2Storage(**options)
    message = str(info.value)
    assert "R2_BUCKET_NAME" in message
    assert "R2_REGION_NAME" in message
    assert config.secret_access_key not in message


def test_deconstruct_leaves_secrets_out(config: R2Config) -> None:
    """Migrations record the public path and no credentials."""
    storage = R2Storage(**r2_options(config, location="media"))
    path, _args, kwargs = storage.deconstruct()
    assert path == "r2store.django.R2Storage"
    assert kwargs["location"] == "media"
    assert "secret_access_key" not in kwargs
    assert "access_key_id" not in kwargs
    written, _ = MigrationWriter.serialize(storage)
    assert config.secret_access_key not in written


def test_storage_pickles(r2_storage: R2Storage) -> None:
    """The storage pickles (for caches) and works after unpickling."""
    r2_storage.save("p.txt", ContentFile(b"x"))
    copy = pickle.loads(pickle.dumps(r2_storage))
    assert copy.exists("p.txt")
    copy.store.client.close()
