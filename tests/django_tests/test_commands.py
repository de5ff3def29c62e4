"""The management commands, run with call_command against the moto bucket."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from r2store import R2Config
from r2store.django import R2Storage
from tests.conftest import SECRET_ACCESS_KEY
from tests.django_project.contacts.models import Contact, Document

from .conftest import r2_store, use_r2


class Terminal(io.StringIO):
    """Captured output that says it is a terminal, as a shell's stdout would."""

    def isatty(self) -> bool:
        return True


def run(name: str, *args: str) -> tuple[str, str]:
    """Run a command; return what it wrote to stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_failing(name: str, *args: str) -> tuple[str, str, str]:
    """Run a command that must fail; return its stdout, stderr and the error's message."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue(), str(failure.value)


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    """MEDIA_ROOT: a folder with two files in it."""
    root = tmp_path / "media"
    (root / "profile_images").mkdir(parents=True)
    (root / "profile_images" / "me.jpg").write_bytes(b"jpeg")
    (root / "notes.txt").write_bytes(b"notes")
    settings.MEDIA_ROOT = str(root)
    return root


# -- r2store_check ------------------------------------------------------------


def test_check_passes_and_says_what_it_checked(r2_storage: R2Storage) -> None:
    """On a working bucket it prints endpoint, bucket and URL mode, and cleans up its probe."""
    out, err = run("r2store_check")
    config = r2_store(r2_storage).config
    assert f"endpoint: {config.endpoint}" in out
    assert f"bucket:   {config.bucket}" in out
    assert "URL mode: proxy (USE_R2_MEDIA_PROXY is on" in out
    assert "All is well." in out
    assert err == ""
    assert list(r2_storage.store.list()) == []


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"media_proxy": False}, "presigned (USE_R2_MEDIA_PROXY is off and no public URL is set"),
        (
            {"media_proxy": False, "public_url": "https://media.example.com"},
            "public (USE_R2_MEDIA_PROXY is off and a public URL is set: https://media.example.com)",
        ),
    ],
)
def test_check_explains_the_url_mode(
    settings: Any, config: R2Config, options: dict[str, Any], reason: str
) -> None:
    """The URL mode is printed with the settings that chose it."""
    use_r2(settings, config, **options)
    out, _ = run("r2store_check")
    assert f"URL mode: {reason}" in out


def test_check_lists_every_configuration_problem(settings: Any, config: R2Config) -> None:
    """An invalid configuration fails, listing each problem, never the secret."""
    use_r2(settings, config, bucket="Bad_Name", endpoint_url="ftp://example.com")
    out, err, message = run_failing("r2store_check")
    assert message == "the R2 configuration has 2 problem(s), listed above"
    assert "'Bad_Name' is not a valid R2 bucket name" in err
    assert "must be an http(s) URL" in err
    assert SECRET_ACCESS_KEY not in out + err + message


def test_check_fails_on_a_missing_bucket(settings: Any, config: R2Config) -> None:
    """A bucket that does not exist fails at the listing, in one line."""
    use_r2(settings, config, bucket="no-such-bucket-here")
    out, err, message = run_failing("r2store_check")
    assert message == "could not list the bucket: the configured bucket does not exist"
    assert SECRET_ACCESS_KEY not in out + err + message


def test_check_fails_on_system_check_errors(settings: Any, r2_storage: R2Storage) -> None:
    """A proxy that is on but not routed fails the check, with the system check's message."""
    settings.ROOT_URLCONF = "tests.django_tests.urls_without_proxy"
    _, err, message = run_failing("r2store_check")
    assert message == "1 system check error(s), listed above"
    assert "Error r2store.E002" in err


def test_check_refuses_a_default_storage_that_is_not_r2() -> None:
    """With another default storage there is nothing to check: it says so."""
    _, _, message = run_failing("r2store_check")
    assert message == (
        "STORAGES['default'] is django.core.files.storage.memory.InMemoryStorage, "
        "not r2store.django.R2Storage"
    )


# -- r2store_sync -------------------------------------------------------------


def test_sync_uploads_media_root(r2_storage: R2Storage, media_root: Path) -> None:
    """Every file under MEDIA_ROOT is uploaded under its relative path, with a summary."""
    out, _ = run("r2store_sync")
    assert r2_storage.store.read("profile_images/me.jpg") == b"jpeg"
    assert r2_storage.store.read("notes.txt") == b"notes"
    assert "Uploaded 2 file(s) (9 B), skipped 0 unchanged, deleted 0." in out


def test_sync_rerun_skips_everything(r2_storage: R2Storage, media_root: Path) -> None:
    """A second run uploads nothing."""
    run("r2store_sync")
    out, _ = run("r2store_sync")
    assert "Uploaded 0 file(s) (0 B), skipped 2 unchanged, deleted 0." in out


def test_sync_dry_run_lists_and_changes_nothing(r2_storage: R2Storage, media_root: Path) -> None:
    """--dry-run lists what it would do and writes nothing."""
    r2_storage.store.save("stale.txt", b"old")
    out, _ = run("r2store_sync", "--dry-run", "--delete")
    assert "would upload: notes.txt" in out
    assert "would upload: profile_images/me.jpg" in out
    assert "would delete: stale.txt" in out
    assert "Would upload 2 file(s) (9 B), skipped 0 unchanged, would delete 1." in out
    assert [stat.key for stat in r2_storage.store.list()] == ["stale.txt"]


def test_sync_delete_removes_extra_objects(r2_storage: R2Storage, media_root: Path) -> None:
    """--delete removes objects no local file names."""
    r2_storage.store.save("stale.txt", b"old")
    out, _ = run("r2store_sync", "--delete")
    assert "deleted 1." in out
    assert not r2_storage.store.exists("stale.txt")


def test_sync_prefix_and_workers(r2_storage: R2Storage, media_root: Path) -> None:
    """--prefix puts the keys under a prefix; --workers sets the upload threads."""
    run("r2store_sync", "--prefix", "imported", "--workers", "1")
    keys = [stat.key for stat in r2_storage.store.list()]
    assert keys == ["imported/notes.txt", "imported/profile_images/me.jpg"]


def test_sync_fails_when_a_file_fails(r2_storage: R2Storage, media_root: Path) -> None:
    """A file that cannot be uploaded is listed, the rest go up, and the command fails."""
    (media_root / "back\\slash.txt").write_bytes(b"x")
    out, err, message = run_failing("r2store_sync")
    assert "failed: 'back\\\\slash.txt': a key with a backslash is not allowed" in err
    assert "Uploaded 2 file(s) (9 B), skipped 0 unchanged, deleted 0, 1 failed." in out
    assert message.startswith("1 file(s) failed (listed above)")


def test_sync_shows_progress_only_on_a_terminal(r2_storage: R2Storage, media_root: Path) -> None:
    """On a terminal a counter is rewritten in place; captured output has none."""
    terminal = Terminal()
    call_command("r2store_sync", stdout=terminal)
    assert "\r2/2 files (100%)" in terminal.getvalue()
    out, _ = run("r2store_sync")
    assert "\r" not in out


def test_sync_refuses_a_default_storage_that_is_not_r2(media_root: Path) -> None:
    """Syncing needs R2Storage as the default storage."""
    _, _, message = run_failing("r2store_sync")
    assert "not r2store.django.R2Storage" in message


def test_sync_refuses_an_unset_media_root(settings: Any, r2_storage: R2Storage) -> None:
    """Without MEDIA_ROOT there is no folder to sync (and never the current directory)."""
    settings.MEDIA_ROOT = ""
    _, _, message = run_failing("r2store_sync")
    assert message == "MEDIA_ROOT is not set: there is no local media folder to upload"


def test_sync_refuses_zero_workers(r2_storage: R2Storage, media_root: Path) -> None:
    """--workers must be at least 1."""
    _, _, message = run_failing("r2store_sync", "--workers", "0")
    assert "must be at least 1" in message


# -- r2store_audit ------------------------------------------------------------


def contact(photo: str) -> Contact:
    """A saved Contact whose photo names *photo* (sizes set: no image is read)."""
    return Contact.objects.create(name="c", photo=photo, width=1, height=1)


@pytest.mark.django_db
def test_audit_passes_when_every_object_exists(r2_storage: R2Storage) -> None:
    """References to existing objects (and empty fields) pass."""
    r2_storage.store.save("profile_images/a.jpg", b"a")
    r2_storage.store.save("documents/a.pdf", b"a")
    contact("profile_images/a.jpg")
    contact("")
    Document.objects.create(file="documents/a.pdf")
    out, _ = run("r2store_audit")
    assert "Checked 2 reference(s) in 2 r2store file field(s): 0 missing." in out


@pytest.mark.django_db
def test_audit_reports_missing_objects(r2_storage: R2Storage) -> None:
    """Each reference to a missing object is printed as model, pk, field and name."""
    store = r2_storage.store
    store.save("profile_images/here.jpg", b"a")
    contact("profile_images/here.jpg")
    gone = contact("profile_images/gone.jpg")
    document = Document.objects.create(file="documents/gone.pdf")
    out, _, message = run_failing("r2store_audit")
    assert f"contacts.Contact pk={gone.pk} photo: profile_images/gone.jpg" in out
    assert f"contacts.Document pk={document.pk} file: documents/gone.pdf" in out
    assert "here.jpg" not in out.replace("Checked", "")
    assert message == "2 file reference(s) point at missing objects"


@pytest.mark.django_db
def test_audit_limits_itself_to_model(r2_storage: R2Storage) -> None:
    """--model audits only the models named."""
    contact("profile_images/gone.jpg")
    document = Document.objects.create(file="documents/gone.pdf")
    out, _, _ = run_failing("r2store_audit", "--model", "contacts.Document")
    assert f"contacts.Document pk={document.pk} file: documents/gone.pdf" in out
    assert "Contact" not in out


@pytest.mark.django_db
def test_audit_refuses_an_unknown_model(r2_storage: R2Storage) -> None:
    """An unknown --model is an error, not an empty audit."""
    _, _, message = run_failing("r2store_audit", "--model", "contacts.Nope")
    assert message.startswith("--model 'contacts.Nope':")


@pytest.mark.django_db
def test_audit_skips_fields_on_other_storages() -> None:
    """Fields whose storage is not R2Storage are named as skipped, and pass."""
    contact("profile_images/anything.jpg")
    out, _ = run("r2store_audit")
    assert (
        "skipped contacts.Contact.photo: its storage is "
        "django.core.files.storage.memory.InMemoryStorage" in out
    )
    assert "Checked 0 reference(s) in 0 r2store file field(s): 0 missing." in out
