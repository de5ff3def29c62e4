"""The URL builder: public, proxy, signed proxy and presigned URLs for one configuration.

Public and proxy URLs are plain string work -- no network, no boto3 -- because
a page with fifty thumbnails asks for fifty of them. Every URL goes through
:func:`~r2store.keys.object_key` and :func:`~r2store.keys.quote_key` (or, for
the common key that is plainly valid and needs no quoting, the equivalent
:func:`~r2store.keys.is_plain_key`), so a key is checked and spelled the same
way in every URL.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .keys import MAX_KEY_BYTES, is_plain_key, object_key, quote_key
from .objects import header_value

if TYPE_CHECKING:
    from ._presign import QuerySigner
    from .config import R2Config
    from .protocol import URLSettings

__all__ = ["URLBuilder", "proxy_signature_valid"]

_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})


class URLBuilder:
    """Builds every kind of URL for one configuration (:class:`~r2store.R2Config`, or for
    all but presigned URLs any :class:`~r2store.protocol.URLSettings`).

    What does not change per key -- prefixes, the room left for a key under
    ``location`` -- is worked out once, here.
    """

    __slots__ = ("_location", "_proxy", "_public", "_room", "_signed", "_signer", "config")

    def __init__(self, config: URLSettings) -> None:
        self.config = config
        location = config.location
        self._location = location
        # A plain key is ASCII, so its length in characters is its length in bytes.
        self._room = MAX_KEY_BYTES - (len(location.encode()) + 1 if location else 0)
        self._proxy = config.proxy_path
        self._public: str | None = None
        if config.public_url is not None:
            under = f"{quote_key(location)}/" if location else ""
            self._public = f"{config.public_url}/{under}"
        self._signer: QuerySigner | None = None
        self._signed = _signed_prefix(config)

    def _quoted(self, key: str) -> str:
        """The checked, quoted key (relative to ``location``): the slow path."""
        object_key(key, self._location)
        return quote_key(key)

    def public(self, key: str) -> str:
        """The object's URL under ``public_url`` (``location`` included).

        Raises ``ValueError`` when no public URL is configured.
        """
        base = self._public
        if base is None:
            raise ValueError("no public URL is configured (set R2_PUBLIC_DOMAIN or R2_PUBLIC_URL)")
        if type(key) is str and len(key) <= self._room and is_plain_key(key) is not None:
            return base + key
        return base + self._quoted(key)

    def proxy(self, key: str, *, expires_in: int | None = None) -> str:
        """The object's URL on the app's media proxy: ``<proxy_path><key>``.

        The proxy applies ``location`` itself, so it is not in the URL (but the
        key's full length must still fit R2's limit). With
        ``proxy_signing_key`` set, the URL carries an expiry and an HMAC-SHA256
        signature (``?expires=...&signature=...``) that the proxy checks;
        *expires_in* defaults to ``url_expires_in``. The signature covers the bucket
        and the full object key (``location`` included), so the URL works only on a
        proxy serving that same object.
        """
        if type(key) is str and len(key) <= self._room and is_plain_key(key) is not None:
            quoted = key
        else:
            quoted = self._quoted(key)
        secret = self.config.proxy_signing_key
        if secret is None:
            if expires_in is not None:
                raise ValueError("expires_in needs a proxy signing key (set R2_PROXY_SIGNING_KEY)")
            return self._proxy + quoted
        lifetime = self.config.url_expires_in if expires_in is None else expires_in
        if type(lifetime) is not int or lifetime < 1:
            raise ValueError(f"expires_in must be whole seconds, at least 1, got {lifetime!r}")
        # The expiry is rounded up to a step of a quarter of the lifetime, so that a
        # page renders the same URL for a while and browsers can cache the image.
        step = max(lifetime // 4, 1)
        expires = (int(time.time()) + lifetime + step - 1) // step * step
        signature = _proxy_signature(secret, self._signed + quoted, expires)
        return f"{self._proxy}{quoted}?expires={expires}&signature={signature}"

    def presigned(
        self,
        key: str,
        *,
        expires_in: int | None = None,
        method: str = "GET",
        content_type: str | None = None,
        content_disposition: str | None = None,
        content_length: int | None = None,
        create_only: bool = False,
    ) -> str:
        """A time-limited URL on the R2 endpoint that works without credentials.

        For ``GET``, *content_type* and *content_disposition* override the
        response's headers; for ``PUT``, *content_type* is signed, so the
        uploader must send exactly that ``Content-Type``. Either must be printable
        ASCII, as for ``save()`` (:class:`~r2store.InvalidMetadataError` otherwise).

        For ``PUT`` only: *content_length* signs ``Content-Length``, so the URL
        uploads exactly that many bytes; *create_only* signs ``If-None-Match: *``,
        so the URL creates the object and can never overwrite one -- not even the
        one it created, so it is good for one upload.
        """
        config = self._r2_config()
        method = method.upper()
        if method not in _METHODS:
            raise ValueError(f"method must be one of GET, HEAD, PUT, DELETE, got {method!r}")
        expires = config.url_expires_in if expires_in is None else expires_in
        if type(expires) is not int or not 1 <= expires <= 604800:
            raise ValueError(f"expires_in must be whole seconds from 1 to 604800, got {expires!r}")
        path = f"/{config.bucket}/{quote_key(object_key(key, self._location))}"
        # A CR or LF would reach R2 inside a signed header or the response it makes.
        if content_type:
            header_value("content_type", content_type)
        if content_disposition:
            header_value("content_disposition", content_disposition)
        if method != "PUT" and (content_length is not None or create_only):
            raise ValueError("content_length and create_only are for PUT only")
        if content_length is not None and (type(content_length) is not int or content_length < 0):
            raise ValueError(f"content_length must be a whole number, got {content_length!r}")
        headers: dict[str, str] = {}
        query: dict[str, str] = {}
        if method == "PUT":
            if content_type:
                headers["content-type"] = content_type
            if content_disposition:
                headers["content-disposition"] = content_disposition
            # Signed headers: S3 and R2 refuse the PUT unless it sends these exact values.
            if content_length is not None:
                headers["content-length"] = str(content_length)
            if create_only:
                headers["if-none-match"] = "*"
        else:
            if content_disposition:
                query["response-content-disposition"] = content_disposition
            if content_type:
                query["response-content-type"] = content_type
        return self._query_signer().presign(
            method, path, expires_in=expires, headers=headers, query=query
        )

    def _r2_config(self) -> R2Config:
        """The R2 configuration presigned URLs need: credentials and an endpoint."""
        from .config import R2Config

        config = self.config
        if not isinstance(config, R2Config):
            raise TypeError("presigned URLs need an R2Config (an endpoint and credentials)")
        return config

    def _query_signer(self) -> QuerySigner:
        signer = self._signer
        if signer is None:
            # Imported on first use: most apps never presign.
            from ._presign import QuerySigner

            config = self._r2_config()
            signer = self._signer = QuerySigner(
                access_key_id=config.access_key_id,
                secret_access_key=config.secret_access_key,
                region=config.region,
                endpoint_url=config.endpoint,
            )
        return signer


def _signed_prefix(config: URLSettings) -> str:
    """What a signed proxy URL's message starts with: the bucket, then the quoted
    ``location/`` its keys are under (nothing when there is no location).

    With the relative key after it, the message names one object, so a URL signed by
    one store does not open another bucket's or location's object sharing the key.
    A bucket name holds no newline, so the fields cannot run into each other.
    """
    location = config.location
    return f"{config.bucket}\n{quote_key(location)}/" if location else f"{config.bucket}\n"


def _proxy_signature(secret: str, object_name: str, expires: int) -> str:
    """The signature of *object_name* (``_signed_prefix`` + the quoted relative key)
    until *expires*."""
    # Imported on first use: hashlib's OpenSSL binding is slow to load.
    import base64
    import hashlib
    import hmac

    message = f"{object_name}\n{expires}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def proxy_signature_valid(
    config: URLSettings, key: str, expires: str | None, signature: str | None
) -> bool:
    """Whether a signed proxy URL's ``expires`` and ``signature`` are genuine and unexpired.

    *key* is the decoded key from the request path, relative to *config*'s
    ``location``; the signature must have been made for *config*'s bucket and
    location. The comparison takes constant time, so timing tells an attacker nothing.
    """
    secret = config.proxy_signing_key
    if secret is None or not expires or not signature:
        return False
    if not (expires.isascii() and expires.isdigit()):
        return False
    if len(expires) > 12 or int(expires) < time.time():
        return False
    import hmac

    expected = _proxy_signature(secret, _signed_prefix(config) + quote_key(key), int(expires))
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
