"""The URL builders: public, proxy and presigned URLs, as functions of a config and a key.

Public and proxy URLs are plain string work -- no network, no boto3 -- because
a page with fifty thumbnails calls them fifty times. Every builder goes
through :func:`~r2store.keys.object_key` and :func:`~r2store.keys.quote_key`,
so a key is checked and spelled the same way in every URL.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .keys import object_key, quote_key

if TYPE_CHECKING:
    from ._presign import QuerySigner
    from .config import R2Config

__all__ = ["presigned_url", "proxy_signature_valid", "proxy_url", "public_url"]

_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})


def public_url(config: R2Config, key: str) -> str:
    """The object's URL under ``config.public_url`` (with ``location`` applied).

    Raises ``ValueError`` when no public URL is configured.
    """
    base = config.public_url
    if base is None:
        raise ValueError("no public URL is configured (set R2_PUBLIC_DOMAIN or R2_PUBLIC_URL)")
    return f"{base}/{quote_key(object_key(key, config.location))}"


def proxy_url(config: R2Config, key: str, *, expires_in: int | None = None) -> str:
    """The object's URL on the app's media proxy: ``<proxy_path><key>``.

    The proxy applies ``location`` itself, so it is not part of the URL; the
    key is still checked against it (its full length must fit R2's limit).
    With ``proxy_signing_key`` set, the URL carries an expiry and an
    HMAC-SHA256 signature (``?expires=...&signature=...``) that the proxy
    checks; *expires_in* defaults to ``url_expires_in``.
    """
    object_key(key, config.location)
    path = config.proxy_path + quote_key(key)
    secret = config.proxy_signing_key
    if secret is None:
        if expires_in is not None:
            raise ValueError("expires_in needs a proxy signing key (set R2_PROXY_SIGNING_KEY)")
        return path
    lifetime = config.url_expires_in if expires_in is None else expires_in
    if type(lifetime) is not int or lifetime < 1:
        raise ValueError(f"expires_in must be whole seconds, at least 1, got {lifetime!r}")
    # The expiry is rounded up to a step of a quarter of the lifetime, so that a
    # page renders the same URL for a while and browsers can cache the image.
    step = max(lifetime // 4, 1)
    expires = (int(time.time()) + lifetime + step - 1) // step * step
    return f"{path}?expires={expires}&signature={_proxy_signature(secret, key, expires)}"


def _proxy_signature(secret: str, key: str, expires: int) -> str:
    # Imported on first use: hashlib's OpenSSL binding is slow to load.
    import base64
    import hashlib
    import hmac

    message = f"{quote_key(key)}\n{expires}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def proxy_signature_valid(
    config: R2Config, key: str, expires: str | None, signature: str | None
) -> bool:
    """Whether a signed proxy URL's ``expires`` and ``signature`` are genuine and unexpired.

    The comparison takes constant time, so timing tells an attacker nothing.
    """
    secret = config.proxy_signing_key
    if secret is None or not expires or not signature:
        return False
    if not (expires.isascii() and expires.isdigit()):
        return False
    if len(expires) > 12 or int(expires) < time.time():
        return False
    import hmac

    expected = _proxy_signature(secret, key, int(expires))
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def presigned_url(
    config: R2Config,
    signer: QuerySigner,
    key: str,
    *,
    expires_in: int | None = None,
    method: str = "GET",
    content_type: str | None = None,
    content_disposition: str | None = None,
) -> str:
    """A time-limited URL on the R2 endpoint that works without credentials.

    For ``GET``, *content_type* and *content_disposition* override the
    response's headers; for ``PUT``, *content_type* is signed, so the uploader
    must send exactly that ``Content-Type``.
    """
    method = method.upper()
    if method not in _METHODS:
        raise ValueError(f"method must be one of GET, HEAD, PUT, DELETE, got {method!r}")
    expires = config.url_expires_in if expires_in is None else expires_in
    if type(expires) is not int or not 1 <= expires <= 604800:
        raise ValueError(f"expires_in must be whole seconds from 1 to 604800, got {expires!r}")
    path = f"/{config.bucket}/{quote_key(object_key(key, config.location))}"
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    if method == "PUT":
        if content_type:
            headers["content-type"] = content_type
        if content_disposition:
            headers["content-disposition"] = content_disposition
    else:
        if content_disposition:
            query["response-content-disposition"] = content_disposition
        if content_type:
            query["response-content-type"] = content_type
    return signer.presign(method, path, expires_in=expires, headers=headers, query=query)
