"""The system checks in r2store.django.checks, each firing when it should and only then."""

from __future__ import annotations

import types
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.urls import include, path

from r2store import R2Config
from r2store.django.checks import check_r2store

from .conftest import use_r2


def ids(settings: Any) -> list[str]:
    """The ids of the messages check_r2store() gives for the current settings."""
    return [message.id or "" for message in check_r2store()]


def test_nothing_is_checked_without_r2(settings: Any) -> None:
    """With no R2 storage configured, there is nothing to say."""
    assert ids(settings) == []


def test_valid_configuration_passes(settings: Any, config: R2Config) -> None:
    """A valid configuration with the proxy routed and MEDIA_URL matching passes."""
    use_r2(settings, config)
    assert ids(settings) == []


def test_invalid_configuration_is_e001(settings: Any, config: R2Config) -> None:
    """Options R2Config refuses are r2store.E001, naming the problem."""
    use_r2(settings, config, bucket="Bad_Name")
    messages = check_r2store()
    assert [m.id for m in messages] == ["r2store.E001"]
    assert "Bad_Name" in messages[0].msg


def test_unrouted_proxy_is_e002(settings: Any, config: R2Config) -> None:
    """With the proxy on but not in the URLconf, it is r2store.E002."""
    use_r2(settings, config)
    settings.ROOT_URLCONF = "tests.django_tests.urls_without_proxy"
    assert ids(settings) == ["r2store.E002"]


def test_unrouted_proxy_is_fine_when_the_proxy_is_off(settings: Any, config: R2Config) -> None:
    """With the proxy off, its route is not needed."""
    use_r2(settings, config, media_proxy=False)
    settings.ROOT_URLCONF = "tests.django_tests.urls_without_proxy"
    assert ids(settings) == []


def test_proxy_under_other_namespaces_is_routed(settings: Any, config: R2Config) -> None:
    """The proxy included under an instance namespace or inside another app counts as routed."""
    use_r2(settings, config)
    urls = types.ModuleType("nested_urls")
    inner = ([path("media-proxy/", include("r2store.django.urls", namespace="media"))], "site")
    urls.urlpatterns = [path("", include(inner))]  # type: ignore[attr-defined]
    settings.ROOT_URLCONF = urls
    assert ids(settings) == []


def test_r2_dev_public_url_is_w001(settings: Any, config: R2Config) -> None:
    """Pages linking to an r2.dev URL are r2store.W001."""
    use_r2(settings, config, media_proxy=False, public_url="https://pub-0123abcd.r2.dev")
    assert ids(settings) == ["r2store.W001"]


def test_r2_dev_public_url_unused_behind_the_proxy(settings: Any, config: R2Config) -> None:
    """An r2.dev public URL that pages do not use (the proxy is on) is not a warning."""
    use_r2(settings, config, public_url="https://pub-0123abcd.r2.dev")
    assert ids(settings) == []


def test_custom_public_domain_is_fine(settings: Any, config: R2Config) -> None:
    """A custom domain is what Cloudflare recommends: no warning."""
    use_r2(settings, config, media_proxy=False, public_url="https://media.example.com")
    assert ids(settings) == []


def test_media_url_mismatch_is_w002(settings: Any, config: R2Config) -> None:
    """MEDIA_URL elsewhere than the proxy's path is r2store.W002."""
    use_r2(settings, config)
    settings.MEDIA_URL = "/media/"
    assert ids(settings) == ["r2store.W002"]


@pytest.mark.parametrize(
    "media_url", ["/media-proxy/", "media-proxy/", "https://app.example.com/media-proxy/", ""]
)
def test_media_url_matching_the_proxy_is_fine(
    settings: Any, config: R2Config, media_url: str
) -> None:
    """MEDIA_URL at the proxy's path -- absolute, relative or a full URL -- or unset passes."""
    use_r2(settings, config)
    settings.MEDIA_URL = media_url
    assert ids(settings) == []


def test_media_url_is_not_checked_without_the_proxy(settings: Any, config: R2Config) -> None:
    """With the proxy off, MEDIA_URL is not where media is served, so it is not compared."""
    use_r2(settings, config, media_proxy=False)
    settings.MEDIA_URL = "/media/"
    assert ids(settings) == []


def test_manage_py_check_reports_r2store_errors(settings: Any, config: R2Config) -> None:
    """`manage.py check` runs the checks: an unrouted proxy stops it with r2store.E002."""
    use_r2(settings, config)
    settings.ROOT_URLCONF = "tests.django_tests.urls_without_proxy"
    with pytest.raises(SystemCheckError, match=r"r2store\.E002"):
        call_command("check")


R2_ENDPOINT = "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com"


def test_the_r2_endpoint_built_from_the_account_is_fine(settings: Any, config: R2Config) -> None:
    """The endpoint built from R2_ACCOUNT_ID and a jurisdiction gives no warning."""
    use_r2(
        settings,
        config,
        endpoint_url=None,
        account_id="0123456789abcdef0123456789abcdef",
        jurisdiction="eu",
    )
    assert ids(settings) == []


def test_the_r2_endpoint_given_as_a_url_is_fine(settings: Any, config: R2Config) -> None:
    """R2's endpoint given in R2_ENDPOINT_URL gives no warning."""
    use_r2(settings, config, endpoint_url=R2_ENDPOINT)
    assert ids(settings) == []


def test_plain_http_endpoint_is_w003(settings: Any, config: R2Config) -> None:
    """An endpoint over plain http, off loopback, is r2store.W003."""
    use_r2(settings, config, endpoint_url=R2_ENDPOINT.replace("https:", "http:"))
    messages = check_r2store()
    assert [m.id for m in messages] == ["r2store.W003"]
    assert "unencrypted" in messages[0].msg


def test_endpoint_other_than_r2_is_w004(settings: Any, config: R2Config) -> None:
    """An endpoint that is not Cloudflare R2's, off loopback, is r2store.W004."""
    use_r2(settings, config, endpoint_url="https://s3.eu-west-1.amazonaws.com")
    messages = check_r2store()
    assert [m.id for m in messages] == ["r2store.W004"]
    assert "s3.eu-west-1.amazonaws.com" in messages[0].msg
