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
from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from .keys import MAX_KEY_BYTES, is_plain_key, object_key, quote_key
from .objects import header_value

if TYPE_CHECKING:
    from ._presign import QuerySigner
    from .config import R2Config
    from .protocol import URLSettings

__all__ = ["SignedPut", "URLBuilder", "proxy_signature_valid", "signed_put"]

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

    def proxy_put(
        self,
        key: str,
        *,
        expires_in: int,
        content_type: str | None = None,
        content_length: int | None = None,
        create_only: bool = False,
    ) -> str:
        """A signed media proxy URL that uploads *key* with a PUT (local mode's presigned PUT).

        The signature covers what a PUT signature on R2 does: the method, the type, the
        exact length and create-only, each also in the query so the proxy can say which
        one a request broke. Needs ``proxy_signing_key``.
        """
        from urllib.parse import quote

        secret = self.config.proxy_signing_key
        if secret is None:
            raise ValueError("a signed PUT needs a proxy signing key (set R2_PROXY_SIGNING_KEY)")
        if type(expires_in) is not int or expires_in < 1:
            raise ValueError(f"expires_in must be whole seconds, at least 1, got {expires_in!r}")
        if content_length is not None and (type(content_length) is not int or content_length < 0):
            raise ValueError(f"content_length must be a whole number, got {content_length!r}")
        if content_type:
            header_value("content_type", content_type)
        quoted = self._quoted(key)
        # Not rounded as GET expiries are: an upload URL is made for one upload, never cached.
        expires = int(time.time()) + expires_in
        put = SignedPut(content_type or "", content_length, create_only)
        signature = _proxy_signature(secret, self._signed + quoted, expires, put)
        query = [f"expires={expires}", "method=PUT"]
        if put.content_type:
            query.append(f"content-type={quote(put.content_type, safe='')}")
        if put.content_length is not None:
            query.append(f"content-length={put.content_length}")
        if create_only:
            query.append("create-only=1")
        return f"{self._proxy}{quoted}?{'&'.join(query)}&signature={signature}"

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


@attrs.frozen
class SignedPut:
    """What a signed proxy PUT URL allows: the ``Content-Type`` to send (empty: any), the
    exact ``Content-Length`` (None: any) and whether it may only create the object."""

    content_type: str
    content_length: int | None
    create_only: bool


def _proxy_signature(
    secret: str, object_name: str, expires: int, put: SignedPut | None = None
) -> str:
    """The signature of *object_name* (``_signed_prefix`` + the quoted relative key)
    until *expires*: for a GET or HEAD, or with *put*, for a PUT of that shape."""
    # Imported on first use: hashlib's OpenSSL binding is slow to load.
    import base64
    import hashlib
    import hmac

    message = f"{object_name}\n{expires}".encode()
    if put is not None:
        # More lines than a GET's message (a key is quoted, so holds no newline): no GET
        # signature is ever a PUT signature, nor the other way round.
        length = "" if put.content_length is None else str(put.content_length)
        fields = f"\nPUT\n{put.content_type}\n{length}\n{int(put.create_only)}"
        message += fields.encode()
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


def signed_put(config: URLSettings, key: str, params: Mapping[str, list[str]]) -> SignedPut | None:
    """What a signed proxy PUT URL allows, from its parsed query *params*, if its
    signature is genuine, unexpired and made for a PUT of *key* (relative to *config*'s
    ``location``); otherwise None. A GET's signature never passes."""
    secret = config.proxy_signing_key

    def last(name: str) -> str | None:
        values = params.get(name)
        return values[-1] if values else None

    expires, signature = last("expires"), last("signature")
    if secret is None or not expires or not signature or last("method") != "PUT":
        return None
    if not (expires.isascii() and expires.isdigit()):
        return None
    if len(expires) > 12 or int(expires) < time.time():
        return None
    length = last("content-length")
    if length is not None and not (length.isascii() and length.isdigit() and len(length) < 16):
        return None
    put = SignedPut(
        last("content-type") or "",
        int(length) if length is not None else None,
        last("create-only") == "1",
    )
    import hmac

    expected = _proxy_signature(secret, _signed_prefix(config) + quote_key(key), int(expires), put)
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return None
    return put
