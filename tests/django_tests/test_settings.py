"""storages_from_env: R2 when USE_R2 is true, local mode otherwise -- and never a quiet
fallback to the disk when R2 is asked for."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from r2store.django import LocalStorage, R2Storage, storages_from_env


def test_r2_off_uses_local_storage() -> None:
    """Without USE_R2 the default storage is r2store's LocalStorage (local mode)."""
    storages = storages_from_env({})
    assert storages["default"] == {"BACKEND": "r2store.django.LocalStorage"}
    assert "staticfiles" in storages


def test_local_storage_is_an_r2storage() -> None:
    """LocalStorage is R2Storage over a folder: what takes an R2Storage takes it too."""
    assert issubclass(LocalStorage, R2Storage)


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


def test_local_mode_leaves_out_r2_only_options(env: dict[str, str]) -> None:
    """In local mode, options about reaching R2 are left out; the others pass through."""
    local = {k: v for k, v in env.items() if k != "USE_R2"}
    storages = storages_from_env(local, options={"location": "media", "endpoint_url": "x"})
    assert storages["default"]["OPTIONS"] == {"location": "media"}


@pytest.mark.parametrize("use_r2", ["true", ""])
def test_allow_overwrite_passes_through(env: dict[str, str], use_r2: str) -> None:
    """allow_overwrite, the storage's own option, is no configuration field to check."""
    storages = storages_from_env({**env, "USE_R2": use_r2}, options={"allow_overwrite": True})
    assert storages["default"]["OPTIONS"] == {"allow_overwrite": True}


def test_local_mode_checks_its_settings_at_startup() -> None:
    """A bad URL setting in local mode fails in settings.py, naming the variable."""
    with pytest.raises(ImproperlyConfigured, match="R2_MEDIA_PROXY_PATH"):
        storages_from_env({"R2_MEDIA_PROXY_PATH": "/media proxy/"})
