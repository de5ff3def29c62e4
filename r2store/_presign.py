"""SigV4 signing for S3 path-style endpoints, without botocore: presigned URLs and headers.

botocore's ``generate_presigned_url`` builds, serialises and signs a whole request model and
costs ~150 µs a call; a page that renders fifty image URLs pays that fifty times. The
:class:`QuerySigner` here does only the string work and produces the *same bytes* as botocore
for the same inputs and clock (``tests/test_presign.py`` checks this against botocore itself),
so either can be used and the URLs stay stable when switching.

The same signer also signs requests the ordinary way, in an ``Authorization`` header
(:meth:`QuerySigner.sign_headers`), for :mod:`r2store._transport` (reads, PutObject and
UploadPart): botocore spends over a millisecond of CPU on every request, most of it outside
the signature.

Only the standard library is imported: importing this module must stay cheap.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

__all__ = ["EMPTY_SHA256", "MAX_EXPIRES_IN", "QuerySigner", "encode_query"]

#: The longest lifetime S3 and R2 accept for a SigV4 presigned URL: seven days, in seconds.
MAX_EXPIRES_IN = 604800

_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 unreserved characters: what botocore's ``percent_encode`` leaves unquoted.
_SAFE = "-._~"
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
#: The SHA-256 of an empty payload: the ``x-amz-content-sha256`` of a GET or HEAD.
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
# Headers botocore never signs (``SIGNED_HEADERS_BLACKLIST`` in botocore.auth): hop-by-hop
# headers a proxy may rewrite, and the user agent. Passed through, unsigned, as botocore does.
_UNSIGNED_HEADERS = frozenset(
    {
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
# Set by sign_headers itself; a caller's value would be signed and then contradicted.
_SIGNER_HEADERS = frozenset({"host", "authorization", "x-amz-date", "x-amz-content-sha256"})


def _param_name(pair: str) -> str:
    return pair.partition("=")[0]


def encode_query(query: Mapping[str, str]) -> str:
    """The canonical SigV4 query string of *query*: names and values percent-encoded as
    botocore does (only RFC 3986 unreserved characters stay), sorted by encoded name.

    Also a valid query string to send: :meth:`QuerySigner.sign_headers` signs this very text,
    so a request built with it matches its signature whatever the parameters hold.
    """
    pairs = [
        f"{quote(name, safe=_SAFE)}={quote(value, safe=_SAFE)}" for name, value in query.items()
    ]
    # Names in a mapping are unique, so sorting by name alone never has to compare values.
    pairs.sort(key=_param_name)
    return "&".join(pairs)


def _signature(mac: hmac.HMAC, amz_date: str, scope: str, canonical_request: str) -> str:
    """The SigV4 signature of *canonical_request*: the string to sign, HMAC'd with a copy
    of *mac* (keyed with the day's signing key)."""
    string_to_sign = (
        f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n"
        f"{hashlib.sha256(canonical_request.encode()).hexdigest()}"
    )
    mac = mac.copy()
    mac.update(string_to_sign.encode())
    return mac.hexdigest()


class QuerySigner:
    """Signs S3 SigV4 requests without botocore, for path-style endpoints: presigned URLs
    (:meth:`presign`, query auth) and ``Authorization`` headers (:meth:`sign_headers`).

    The URLs are byte-identical to botocore's ``generate_presigned_url`` for an ``s3v4``,
    path-style client with the same credentials, region and endpoint, and the headers to
    what botocore's ``S3SigV4Auth`` adds to the same request. Both share one cached signing
    key per day. Instances are immutable apart from two caches, and safe to share between
    threads.
    """

    __slots__ = (
        "_access_key_id",
        "_authorization",
        "_base_url",
        "_clock",
        "_day",
        "_host",
        "_key_seed",
        "_region",
    )

    def __init__(
        self, *, access_key_id: str, secret_access_key: str, region: str, endpoint_url: str
    ) -> None:
        # Messages name the argument, never echo the secret.
        for name, value in (
            ("access_key_id", access_key_id),
            ("secret_access_key", secret_access_key),
            ("region", region),
        ):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty str")
        # Checked here so that encoding the secret can never fail later and carry it in an error.
        if not secret_access_key.isascii():
            raise ValueError("secret_access_key must be ASCII")
        parts = urlsplit(endpoint_url)
        if (
            parts.scheme not in _DEFAULT_PORTS
            or not parts.hostname
            or parts.username is not None
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise ValueError(
                f"endpoint_url must look like https://host[:port], got {endpoint_url!r}"
            )
        # Mirror botocore's Host header: lower-case, IPv6 in brackets, default port left out.
        host = parts.hostname
        if ":" in host:
            host = f"[{host}]"
        if parts.port is not None and parts.port != _DEFAULT_PORTS[parts.scheme]:
            host = f"{host}:{parts.port}"
        self._host = host
        # botocore keeps the endpoint as written (case, explicit :443) in the URL itself.
        self._base_url = endpoint_url.rstrip("/")
        self._access_key_id = access_key_id
        # "AWS4-HMAC-SHA256 Credential=<key id>/": the start of every Authorization header.
        self._authorization = f"AWS4-HMAC-SHA256 Credential={access_key_id}/"
        self._region = region
        self._key_seed = f"AWS4{secret_access_key}".encode()
        # Caches, each replaced as a whole tuple so concurrent readers never see half an update:
        # (unix second, X-Amz-Date) and the per-day signing material (see _signing_day),
        # primed with a past day so the hot path needs no "is it set yet" check.
        self._clock: tuple[int, str] = (-1, "")
        self._day: tuple[str, str, str, hmac.HMAC] = self._signing_day("19700101")

    def __repr__(self) -> str:
        # getattr: a repr must work in a traceback from a half-built signer, too.
        endpoint = getattr(self, "_base_url", "?")
        region = getattr(self, "_region", "?")
        return f"QuerySigner(endpoint_url={endpoint!r}, region={region!r})"

    def _signing_day(self, datestamp: str) -> tuple[str, str, str, hmac.HMAC]:
        """Derive what stays the same all day: the scope, the quoted credential, the key."""
        key = hmac.digest(self._key_seed, datestamp.encode(), "sha256")
        for part in (self._region, "s3", "aws4_request"):
            key = hmac.digest(key, part.encode(), "sha256")
        scope = f"{datestamp}/{self._region}/s3/aws4_request"
        credential = quote(f"{self._access_key_id}/{scope}", safe=_SAFE)
        # Keyed once; each signature copies it instead of re-keying (about 1 µs cheaper).
        return datestamp, scope, credential, hmac.new(key, digestmod=hashlib.sha256)

    def _start(
        self, path: str, now: datetime.datetime | None
    ) -> tuple[str, tuple[str, str, str, hmac.HMAC]]:
        """Check *path*; return the request's ``X-Amz-Date`` and its day's signing state."""
        # A raw '?' or '#' would move the rest of the path into the query or fragment.
        if not path.startswith("/") or "?" in path or "#" in path:
            raise ValueError(f"path must start with '/' and be percent-encoded, got {path!r}")
        amz_date = self._amz_date(now)
        day = self._day
        if day[0] != amz_date[:8]:
            day = self._day = self._signing_day(amz_date[:8])
        return amz_date, day

    def _amz_date(self, now: datetime.datetime | None) -> str:
        """The X-Amz-Date for *now* (naive means UTC), or for the current second."""
        if now is None:
            second = int(time.time())
            clock = self._clock
            if clock[0] != second:
                clock = (second, time.strftime(_TIMESTAMP, time.gmtime(second)))
                self._clock = clock
            return clock[1]
        if now.tzinfo is not None:
            now = now.astimezone(datetime.timezone.utc)
        return now.strftime(_TIMESTAMP)

    def presign(
        self,
        method: str,
        path: str,
        *,
        expires_in: int,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        now: datetime.datetime | None = None,
    ) -> str:
        """Return a presigned URL for *method* on *path*, valid for *expires_in* seconds.

        *path* is the percent-encoded path after the endpoint, e.g. ``/bucket/a%20b.jpg``.
        *headers* are extra headers the request must send with these exact values (such as
        ``content-type`` for a PUT); *query* holds extra query parameters (such as
        ``response-content-disposition``), which appear in the URL in the given order.
        *now* is the signing time; naive values are taken as UTC. The default is the
        current time. Raises :class:`ValueError` for invalid arguments.
        """
        if method not in _METHODS:
            raise ValueError(f"method must be one of GET, HEAD, PUT, DELETE, got {method!r}")
        # type() rather than isinstance(): True is an int, but not an expiry.
        if type(expires_in) is not int or not 1 <= expires_in <= MAX_EXPIRES_IN:
            raise ValueError(
                f"expires_in must be an int from 1 to {MAX_EXPIRES_IN} seconds (7 days), "
                f"got {expires_in!r}"
            )
        amz_date, (_, scope, credential, mac) = self._start(path, now)

        if headers:
            values = {"host": self._host}
            for name, value in headers.items():
                lname = name.lower()
                if lname == "host":
                    raise ValueError("headers must not include 'host': it comes from endpoint_url")
                # SigV4 "trimall": strip, and squeeze inner runs of whitespace to one space.
                values[lname] = " ".join(value.split())
            names = sorted(values)
            canonical_headers = "".join([f"{name}:{values[name]}\n" for name in names])
            signed_headers = ";".join(names)
            quoted_signed_headers = quote(signed_headers, safe=_SAFE)
        else:
            canonical_headers = f"host:{self._host}\n"
            signed_headers = quoted_signed_headers = "host"

        # botocore's URL order: the operation's parameters, the auth ones, then the signature.
        auth_query = (
            f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={credential}"
            f"&X-Amz-Date={amz_date}&X-Amz-Expires={expires_in}"
            f"&X-Amz-SignedHeaders={quoted_signed_headers}"
        )
        if query:
            params = []
            for name, value in query.items():
                if name.lower().startswith("x-amz-"):
                    raise ValueError(f"query must not set {name!r}: the signer sets X-Amz-*")
                params.append(f"{quote(name, safe=_SAFE)}={quote(value, safe=_SAFE)}")
            url_query = f"{'&'.join(params)}&{auth_query}"
            # The canonical form sorts by encoded name (names are unique, so values never tie).
            params.extend(auth_query.split("&"))
            canonical_query = "&".join(sorted(params, key=_param_name))
        else:
            # The auth parameters are already in sorted order.
            url_query = canonical_query = auth_query

        signature = _signature(
            mac,
            amz_date,
            scope,
            f"{method}\n{path}\n{canonical_query}\n{canonical_headers}\n"
            f"{signed_headers}\nUNSIGNED-PAYLOAD",
        )
        return f"{self._base_url}{path}?{url_query}&X-Amz-Signature={signature}"

    def sign_headers(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        payload_hash: str | None = None,
        now: datetime.datetime | None = None,
    ) -> dict[str, str]:
        """Sign a GET, HEAD or PUT of *path* in an ``Authorization`` header; return every
        header to send.

        *path* is the percent-encoded path, as for :meth:`presign`; *query* holds the query
        parameters, which the request must carry exactly as :func:`encode_query` spells
        them. *payload_hash* is the hex SHA-256 of a PUT's body (required for a PUT; a GET
        or HEAD has none, and signs the empty payload's). The result holds ``host``, the
        caller's *headers*, ``x-amz-date``, ``x-amz-content-sha256`` (the payload hash) and
        ``authorization``, all names in lower case. ``Content-Length`` is not signed (give
        it after signing), as botocore does not sign it.

        Every header given is signed, as botocore signs every header a request carries
        (bar hop-by-hop ones and the user agent, which pass through unsigned): the result is
        byte-identical to what botocore's ``S3SigV4Auth`` adds to the same request, range
        and conditional headers included. Signing them costs nothing measurable and means a
        Range or If-None-Match cannot be altered on the way without R2 refusing the request.
        """
        if method == "PUT":
            if payload_hash is None:
                raise ValueError("a PUT needs the payload_hash of its body")
        elif method not in ("GET", "HEAD"):
            raise ValueError(f"method must be GET, HEAD or PUT, got {method!r}")
        elif payload_hash is not None:
            raise ValueError(f"a {method} has no payload to hash")
        else:
            payload_hash = EMPTY_SHA256
        amz_date, (_, scope, _, mac) = self._start(path, now)

        signed = {
            "host": self._host,
            "x-amz-content-sha256": payload_hash,
            "x-amz-date": amz_date,
        }
        sent = dict(signed)
        if headers:
            for name, value in headers.items():
                lname = name.lower()
                if lname in _SIGNER_HEADERS or lname in sent:
                    raise ValueError(f"headers must not set {lname!r} (twice or at all)")
                sent[lname] = value
                if lname not in _UNSIGNED_HEADERS:
                    # SigV4 "trimall": strip, and squeeze inner runs of whitespace to one space.
                    signed[lname] = " ".join(value.split())
            names = sorted(signed)
        else:
            # The three headers above, already in sorted order.
            names = ["host", "x-amz-content-sha256", "x-amz-date"]
        canonical_headers = "".join([f"{name}:{signed[name]}\n" for name in names])
        signed_headers = ";".join(names)
        canonical_query = encode_query(query) if query else ""

        signature = _signature(
            mac,
            amz_date,
            scope,
            f"{method}\n{path}\n{canonical_query}\n{canonical_headers}\n"
            f"{signed_headers}\n{payload_hash}",
        )
        sent["authorization"] = (
            f"{self._authorization}{scope}, SignedHeaders={signed_headers}, Signature={signature}"
        )
        return sent
