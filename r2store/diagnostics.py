"""What the check commands (``r2store check``, ``manage.py r2store_check``) report.

Framework-free, so the command line and the Django command say the same things the
same way.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import attrs

from .errors import R2StoreError

if TYPE_CHECKING:
    from .config import R2Config
    from .protocol import Store, URLSettings

__all__ = [
    "EndpointWarning",
    "ProbeError",
    "endpoint_warnings",
    "format_size",
    "probe_bucket",
    "url_mode_reason",
]

_PROBE = b"r2store check probe: safe to delete\n"


class ProbeError(R2StoreError):
    """A step of :func:`probe_bucket` failed; the message says which, and why."""


def probe_bucket(store: Store) -> str:
    """List one key, then create, read back and delete a probe object under a fresh key.

    Returns the probe's key. The create is conditional (``If-None-Match: *``), so a
    pass also shows that atomic creates work. Raises :class:`ProbeError`.
    """
    try:
        next(iter(store.list(page_size=1)), None)
    except R2StoreError as exc:
        raise ProbeError(f"could not list the bucket: {exc}") from exc
    key = f"r2store-check-{uuid.uuid4().hex}.txt"
    try:
        store.save(key, _PROBE, content_type="text/plain")
    except R2StoreError as exc:
        raise ProbeError(f"could not write the probe object {key!r}: {exc}") from exc
    failure: ProbeError | None = None
    try:
        if store.read(key) != _PROBE:
            failure = ProbeError(f"the probe {key!r} read back is not what was written")
    except R2StoreError as exc:
        failure = ProbeError(f"could not read back the probe {key!r}: {exc}")
    try:
        store.delete(key)
    except R2StoreError as exc:
        # An earlier failure is the one to fix first; this one may follow from it.
        failure = failure or ProbeError(f"could not delete the probe {key!r}: {exc}")
    if failure is not None:
        raise failure
    return key


@attrs.frozen
class EndpointWarning:
    """An endpoint that works, but not as anyone would want in production."""

    #: ``plain-http`` or ``not-r2``: what Django's system check ids are keyed on.
    kind: str
    #: What is wrong, as a clause (no final full stop).
    message: str
    #: What to do about it, as a clause.
    hint: str

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}"


_R2_HOST = ".r2.cloudflarestorage.com"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_warnings(config: R2Config) -> list[EndpointWarning]:
    """What is worth a warning about the endpoint in use: plain http, or a host that is
    not Cloudflare R2's. None for a loopback endpoint: that is a local test server."""
    endpoint = config.endpoint
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").removesuffix(".")
    if _is_loopback(host):
        return []
    found = []
    if parts.scheme == "http":
        found.append(
            EndpointWarning(
                "plain-http",
                f"R2_ENDPOINT_URL uses plain http ({endpoint}): objects cross the network "
                "unencrypted",
                "use https",
            )
        )
    if not host.endswith(_R2_HOST):
        found.append(
            EndpointWarning(
                "not-r2",
                f"R2_ENDPOINT_URL points at {host}, not Cloudflare R2 "
                f"(<account id>{_R2_HOST}): r2store is made for R2's behaviour and limits",
                "leave R2_ENDPOINT_URL unset to use R2_ACCOUNT_ID's endpoint, or make sure "
                "this server does conditional writes (If-None-Match: *) as R2 does",
            )
        )
    return found


def url_mode_reason(config: URLSettings) -> str:
    """Why :attr:`R2Config.url_mode` is what it is, in the settings' own words."""
    if config.url_mode == "proxy":
        signed = ", signed with R2_PROXY_SIGNING_KEY" if config.proxy_signing_key else ""
        return (
            f"USE_R2_MEDIA_PROXY is on, so media URLs point at the app's "
            f"{config.proxy_path}{signed}"
        )
    if config.url_mode == "public":
        return f"USE_R2_MEDIA_PROXY is off and a public URL is set: {config.public_url}"
    return (
        "USE_R2_MEDIA_PROXY is off and no public URL is set (R2_PUBLIC_DOMAIN or "
        f"R2_PUBLIC_URL), so URLs are presigned and expire after {config.url_expires_in} s"
    )


def format_size(size: int) -> str:
    """*size* bytes for people: ``512 B``, ``1.5 KiB``, ``3.2 GiB``."""
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024:
            return f"{size} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TiB"
