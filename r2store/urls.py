"""The URL builders: public, proxy and presigned URLs, as functions of a config and a key.

Public and proxy URLs are plain string work -- no network, no boto3 -- because
a page with fifty thumbnails calls them fifty times. Every builder goes
through :func:`~r2store.keys.object_key` and :func:`~r2store.keys.quote_key`,
so a key is checked and spelled the same way in every URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .keys import object_key, quote_key

if TYPE_CHECKING:
    from ._presign import QuerySigner
    from .config import R2Config

__all__ = ["presigned_url", "proxy_url", "public_url"]

_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})


def public_url(config: R2Config, key: str) -> str:
    """The object's URL under ``config.public_url`` (with ``location`` applied).

    Raises ``ValueError`` when no public URL is configured.
    """
    base = config.public_url
    if base is None:
        raise ValueError("no public URL is configured (set R2_PUBLIC_DOMAIN or R2_PUBLIC_URL)")
    return f"{base}/{quote_key(object_key(key, config.location))}"


def proxy_url(config: R2Config, key: str) -> str:
    """The object's URL on the app's media proxy: ``<proxy_path><key>``.

    The proxy applies ``location`` itself, so it is not part of the URL; the
    key is still checked against it (its full length must fit R2's limit).
    """
    object_key(key, config.location)
    return config.proxy_path + quote_key(key)


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
