"""Local mode in Django: the README's settings with USE_R2 unset keep uploads in a folder,
served by the same media proxy view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.test import Client

from r2store import LocalStore, R2Config
from r2store._serving import MEDIA_SECURITY_HEADERS
from r2store.django import LocalStorage, R2Storage, storages_from_env
from tests.django_project.contacts.models import Contact, Document

from .conftest import use_r2
from .test_admin import BLUE, RED, add_contact, name_of
from .test_commands import run, run_failing

DEPLOY_WARNING = "r2store.W005"


def _default_storage(settings: Any) -> R2Storage:
    """STORAGES['default'] as storages_from_env() makes it now; it must be r2store's."""
    settings.STORAGES = storages_from_env()
    storage = storages["default"]
    assert isinstance(storage, R2Storage)
    return storage


def _root(storage: R2Storage) -> Path:
    """The folder a local-mode storage keeps its files in."""
    assert isinstance(storage.store, LocalStore)
    return Path(storage.store.root)


def test_upload_lands_under_media_root(local_storage: R2Storage, settings: Any) -> None:
    """A saved file is a plain file under MEDIA_ROOT, at its name."""
    name = local_storage.save("profile_images/ada.png", ContentFile(RED))
    assert name == "profile_images/ada.png"
    assert (Path(settings.MEDIA_ROOT) / "profile_images" / "ada.png").read_bytes() == RED


def test_url_is_the_media_proxy(local_storage: R2Storage) -> None:
    """A file's URL is on the media proxy, as in R2 mode."""
    name = local_storage.save("profile_images/ada.png", ContentFile(RED))
    assert local_storage.url(name) == "/media-proxy/profile_images/ada.png"


@pytest.mark.django_db
def test_admin_upload_is_served_by_the_proxy(
    local_storage: R2Storage, admin_client: Client
) -> None:
    """A photo uploaded in the admin is served at its URL, byte for byte, with its type and
    the safety headers."""
    contact = add_contact(admin_client, "Ada", RED)
    url = contact.photo.url
    assert url == "/media-proxy/profile_images/face.png"
    response: Any = admin_client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == RED
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    # An image gets the policy without ``sandbox``, as from R2 (r2store._serving).
    assert (
        response["Content-Security-Policy"]
        == dict(MEDIA_SECURITY_HEADERS)["Content-Security-Policy"]
    )


@pytest.mark.django_db
def test_same_name_uploads_keep_both(local_storage: R2Storage, admin_client: Client) -> None:
    """A second upload named like the first gets a new name; neither file is overwritten."""
    first = name_of(add_contact(admin_client, "Ada", RED).photo)
    second = name_of(add_contact(admin_client, "Grace", BLUE).photo)
    assert first == "profile_images/face.png"
    assert second != first
    assert (_root(local_storage) / first).read_bytes() == RED
    assert (_root(local_storage) / second).read_bytes() == BLUE
    assert list(Contact.objects.order_by("pk").values_list("photo", flat=True)) == [first, second]


# -- where the folder is -----------------------------------------------------------


def test_media_root_wins_over_r2_local_root(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With both set, MEDIA_ROOT (Django's own setting) is the folder."""
    monkeypatch.setenv("R2_LOCAL_ROOT", str(tmp_path / "from-env"))
    settings.MEDIA_ROOT = str(tmp_path / "from-settings")
    assert _root(_default_storage(settings)) == tmp_path / "from-settings"


def test_r2_local_root_without_media_root(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With MEDIA_ROOT unset, R2_LOCAL_ROOT is the folder."""
    monkeypatch.setenv("R2_LOCAL_ROOT", str(tmp_path / "from-env"))
    settings.MEDIA_ROOT = ""
    assert _root(_default_storage(settings)) == tmp_path / "from-env"


def test_neither_set_is_media_in_the_working_directory(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With neither set, the folder is ``media`` in the working directory, never the
    working directory itself."""
    monkeypatch.delenv("R2_LOCAL_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    settings.MEDIA_ROOT = ""
    storage = _default_storage(settings)
    assert _root(storage) == tmp_path / "media"
    storage.save("ada.png", ContentFile(RED))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["media"]


def test_options_root_wins(settings: Any, tmp_path: Path) -> None:
    """A ``root`` in OPTIONS is the folder, whatever MEDIA_ROOT says."""
    settings.MEDIA_ROOT = str(tmp_path / "from-settings")
    storage = LocalStorage(root=str(tmp_path / "from-options"))
    assert _root(storage) == tmp_path / "from-options"


def test_unknown_option_is_improperly_configured() -> None:
    """An option LocalConfig does not know is ImproperlyConfigured naming it."""
    with pytest.raises(ImproperlyConfigured, match="access_key_id"):
        LocalStorage(access_key_id="x")


def test_migrations_record_local_storage_by_its_public_path(tmp_path: Path) -> None:
    """A LocalStorage deconstructs to r2store.django.LocalStorage."""
    path, _, kwargs = LocalStorage(root=str(tmp_path)).deconstruct()
    assert path == "r2store.django.LocalStorage"
    assert kwargs == {"root": str(tmp_path)}


# -- system checks ------------------------------------------------------------------


def _r2store_ids(*, deploy: bool) -> list[str]:
    """The ids of r2store's messages among all system checks (deploy checks too)."""
    messages = checks.run_checks(include_deployment_checks=deploy)
    return [m.id or "" for m in messages if (m.id or "").startswith("r2store.")]


def test_readme_settings_pass_the_checks(local_storage: R2Storage, settings: Any) -> None:
    """In development (DEBUG on) the README's settings give no message, also with --deploy."""
    settings.DEBUG = True
    assert _r2store_ids(deploy=True) == []


def test_deploy_check_warns_about_local_mode_without_debug(
    local_storage: R2Storage, settings: Any
) -> None:
    """``check --deploy`` with DEBUG off in local mode warns that the uploads are on the
    server's disk."""
    settings.DEBUG = False
    assert _r2store_ids(deploy=True) == [DEPLOY_WARNING]
    (message,) = [
        m for m in checks.run_checks(include_deployment_checks=True) if m.id == DEPLOY_WARNING
    ]
    assert str(_root(local_storage)) in message.msg


def test_plain_check_does_not_warn_about_local_mode(
    local_storage: R2Storage, settings: Any
) -> None:
    """Without --deploy, local mode with DEBUG off is no message (a test run, say)."""
    settings.DEBUG = False
    assert _r2store_ids(deploy=False) == []


def test_deploy_check_is_quiet_in_r2_mode(settings: Any, config: R2Config) -> None:
    """In R2 mode with DEBUG off, the local-mode warning does not fire."""
    use_r2(settings, config)
    settings.DEBUG = False
    assert DEPLOY_WARNING not in _r2store_ids(deploy=True)


def test_unrouted_proxy_is_an_error_in_local_mode(local_storage: R2Storage, settings: Any) -> None:
    """Local mode's URLs are on the media proxy too: without its route, r2store.E002."""
    settings.ROOT_URLCONF = "tests.django_tests.urls_without_proxy"
    assert _r2store_ids(deploy=False) == ["r2store.E002"]


def test_media_url_mismatch_is_a_warning_in_local_mode(
    local_storage: R2Storage, settings: Any
) -> None:
    """A MEDIA_URL that is not the proxy's path is r2store.W002 in local mode too."""
    settings.MEDIA_URL = "/media/"
    assert _r2store_ids(deploy=False) == ["r2store.W002"]


# -- management commands ------------------------------------------------------------


def test_check_command_reports_local_mode_and_the_folder(local_storage: R2Storage) -> None:
    """r2store_check says local mode, names the folder, and probes it."""
    out, err = run("r2store_check")
    assert "local mode" in out
    assert str(_root(local_storage)) in out
    assert "All is well." in out
    assert err == ""
    assert list(local_storage.store.list()) == []


def test_sync_command_says_it_is_for_r2(local_storage: R2Storage) -> None:
    """r2store_sync refuses local mode, saying it uploads to R2 and how to turn R2 on."""
    _, _, message = run_failing("r2store_sync")
    assert "local mode" in message
    assert "USE_R2" in message


@pytest.mark.django_db
def test_audit_command_works_in_local_mode(local_storage: R2Storage) -> None:
    """r2store_audit finds a reference whose file is gone from the folder."""
    kept = Document.objects.create(file=local_storage.save("documents/a.txt", ContentFile(b"a")))
    gone = Document.objects.create(file="documents/gone.txt")
    out, _, _ = run_failing("r2store_audit", "--model", "contacts.Document")
    assert f"contacts.Document pk={gone.pk} file: documents/gone.txt" in out
    assert f"pk={kept.pk}" not in out
