"""storages_from_env: R2 when USE_R2 is true -- and never a quiet fallback to the disk."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from r2store.django import storages_from_env


def test_r2_off_uses_the_local_disk() -> None:
    """Without USE_R2 the default storage is Django's FileSystemStorage."""
    storages = storages_from_env({})
    assert storages["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert "staticfiles" in storages


def test_r2_on_uses_r2storage(env: dict[str, str]) -> None:
    """With USE_R2=true and valid settings the default storage is R2Storage."""
    storages = storages_from_env(env)
    assert storages["default"] == {"BACKEND": "r2store.django.R2Storage"}


def test_r2_on_with_bad_settings_fails_at_startup() -> None:
    """USE_R2=true with missing settings is ImproperlyConfigured naming every variable."""
    with pytest.raises(ImproperlyConfigured) as info:
        storages_from_env({"USE_R2": "true", "R2_BUCKET_NAME": "Not_Valid"})
    message = str(info.value)
    for name in ("R2_ACCOUNT_ID", "R2_BUCKET_NAME", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY"):
        assert name in message


def test_a_typo_in_use_r2_is_an_error() -> None:
    """USE_R2=ture does not silently mean 'off' (uploads would land on the ephemeral disk)."""
    with pytest.raises(ImproperlyConfigured, match="USE_R2"):
        storages_from_env({"USE_R2": "ture"})


def test_options_pass_through(env: dict[str, str]) -> None:
    """Options are checked with the environment and given to the storage."""
    storages = storages_from_env(env, options={"location": "media"})
    assert storages["default"]["OPTIONS"] == {"location": "media"}
