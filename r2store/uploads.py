"""Direct uploads: the browser sends a file straight to the bucket on a ticket the app
issues, and the app then verifies what landed. No byte of the file passes through the app.

One upload, three steps:

1. :meth:`DirectUploads.issue` -- the browser says what it will send (file name, size,
   type); the app checks that against an :class:`UploadPolicy`, chooses the key and
   answers with an :class:`UploadTicket`: a presigned PUT with the type, the exact length
   and ``If-None-Match: *`` in its signature, and a *token* naming key, size, type and
   expiry under an HMAC.
2. The browser PUTs the file to the ticket's URL with the ticket's headers.
3. :meth:`DirectUploads.verify` -- the form hands the token back; the app checks the
   HMAC and the expiry, then a HEAD shows whether the object has the declared size and type.

A ticket may be issued to a *subject* (a user id, a session: any string that names who
asked): the subject then goes into the token's HMAC, and the token verifies for that
subject only. A token is otherwise a bearer token: whoever holds it can attach its object.

The key is ``<prefix>/<random>/<file name>``: 128 random bits per ticket, so two users
uploading ``photo.jpg`` at once get two keys, and a key cannot be guessed from a name.
The signed ``If-None-Match: *`` then makes the PUT a create, as :meth:`~r2store.R2Store.save`
is: it can never overwrite an object, not even the one it made (a ticket uploads once,
so the bytes behind a verified token cannot be swapped afterwards by replaying the
URL). Claiming the name first with a placeholder object was the alternative; it costs
a write per ticket, leaves placeholders behind for every abandoned form, and the PUT
would then have to be allowed to overwrite it, so it is not done.

The framework-free core is here; the Django field and view are in
:mod:`r2store.django.uploads`, the ticket endpoint for WSGI and ASGI in
:mod:`r2store.wsgi` and :mod:`r2store.asgi`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ._mediatypes import parse_media_type
from .errors import InvalidTicketError, ObjectNotFoundError, R2StoreError, UploadRefusedError
from .keys import check_location, object_key
from .proxy import ProxyResponse

if TYPE_CHECKING:
    from .objects import ObjectStat
    from .protocol import Store

__all__ = [
    "MAX_TICKET_REQUEST",
    "DirectUploads",
    "UploadPolicy",
    "UploadTicket",
    "safe_filename",
]

#: The largest single PUT R2 accepts (about 5 GiB): a direct upload is one PUT.
MAX_PUT_SIZE = 5 * 1024**3 - 5 * 1024**2
#: The largest ticket request body the endpoint reads, in bytes (it is a few fields of JSON).
MAX_TICKET_REQUEST = 4096
#: What a file of unknown type is uploaded as (browsers give such a File an empty type).
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Room for the file name in a key: enough to read it, far from R2's 1,024 bytes.
_NAME_ROOM = 100
_EXTENSION_ROOM = 16
_MIN_NAME_ROOM = 8
# secrets.token_urlsafe(16): 128 random bits, as 22 characters of A-Z a-z 0-9 _ -.
_RANDOM_BYTES = 16
_RANDOM_LENGTH = 22
# File names keep letters, digits, '.', '_' and '-': a key that needs no quoting in any
# URL and holds nothing a shell, a header or a path could misread.
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Binds a token to its purpose, so no other HMAC made with the same secret can pass for one.
_TOKEN_PURPOSE = b"r2store direct upload ticket v1\n"
# The purpose of a token issued to a subject: another line, so that no token issued to a
# subject passes for one issued to nobody in particular, nor the other way round.
_BOUND_TOKEN_PURPOSE = b"r2store direct upload ticket v1 for a subject\n"


def _positive_size(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 1 <= value <= MAX_PUT_SIZE:
        raise ValueError(f"{attribute.name} must be whole bytes from 1 to {MAX_PUT_SIZE}")


def _lifetime(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 1 <= value <= 604800:
        raise ValueError(f"{attribute.name} must be whole seconds from 1 to 604800 (7 days)")


def _type_patterns(values: Iterable[str]) -> tuple[str, ...]:
    """The allowed types, each ``type/subtype`` or ``type/*``, in lower case."""
    if isinstance(values, str):
        raise TypeError("content_types must be a list of types, not one str")
    patterns = []
    for value in values:
        pattern = value.strip().lower()
        kind, _, subtype = pattern.partition("/")
        if pattern.endswith("/*") and parse_media_type(f"{kind}/x") is not None:
            patterns.append(pattern)
            continue
        media_type = parse_media_type(pattern)
        if media_type is None or media_type.essence != pattern or not subtype:
            raise ValueError(f"{value!r} is not a media type like image/png or image/*")
        patterns.append(pattern)
    return tuple(patterns)


@attrs.frozen(kw_only=True)
class UploadPolicy:
    """What one upload field accepts; enforced when a ticket is issued, signed into its
    URL, and checked again by :meth:`DirectUploads.verify`."""

    #: The largest file accepted, in bytes.
    max_size: int = attrs.field(validator=_positive_size)
    #: Types accepted: ``image/png``, or a whole top-level type as ``image/*``. Empty: any.
    content_types: tuple[str, ...] = attrs.field(default=(), converter=_type_patterns)
    #: Folder (key prefix) the uploads go under.
    prefix: str = attrs.field(default="uploads", converter=check_location)
    #: Seconds a ticket stays good: to upload, and then to submit the form that verifies it.
    expires_in: int = attrs.field(default=3600, validator=_lifetime)
    #: The longest key to make (a database column's length, say): the file name is cut
    #: to fit. None: only R2's limit.
    max_key_length: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.max_key_length is not None and self.name_room() < _MIN_NAME_ROOM:
            raise ValueError(
                f"max_key_length {self.max_key_length} leaves no room for a file name after "
                f"the prefix {self.prefix!r} and the random folder; allow at least "
                f"{self.max_key_length - self.name_room() + _MIN_NAME_ROOM}"
            )

    def name_room(self) -> int:
        """How long the file name in a key may be."""
        if self.max_key_length is None:
            return _NAME_ROOM
        used = len(f"{self.prefix}/") if self.prefix else 0
        return min(_NAME_ROOM, self.max_key_length - used - _RANDOM_LENGTH - 1)

    def refusal(self, key: str, size: int, content_type: str) -> str | None:
        """Why this policy would not have issued a ticket for *key*, *size* bytes of
        *content_type* (an essence); None when it would have."""
        if size > self.max_size:
            return f"the file is {size} bytes; at most {self.max_size} bytes are accepted"
        if not self.allows(content_type):
            return f"files of type {content_type} are not accepted"
        if self.prefix and not key.startswith(f"{self.prefix}/"):
            return "the file was uploaded for another field"
        if self.max_key_length is not None and len(key) > self.max_key_length:
            return f"the file's key is longer than {self.max_key_length} characters"
        return None

    def allows(self, content_type: str) -> bool:
        """Whether *content_type* (an essence, ``type/subtype`` in lower case) is accepted."""
        if not self.content_types:
            return True
        kind = content_type.partition("/")[0]
        return content_type in self.content_types or f"{kind}/*" in self.content_types


@attrs.frozen(kw_only=True)
class UploadTicket:
    """What the browser needs for one upload, and the token it hands back to the form."""

    #: The object's key (relative to the store's ``location``).
    key: str
    #: The exact size the PUT must have, in bytes.
    size: int
    #: The exact ``Content-Type`` the PUT must send.
    content_type: str
    #: Unix time after which neither the URL nor the token is accepted.
    expires: int
    #: Where to PUT the file.
    url: str = attrs.field(repr=False)
    #: Headers the PUT must send as given (``Content-Length`` is the browser's own).
    headers: Mapping[str, str]
    #: Tamper-proof: key, size, type and expiry under an HMAC. The form sends it back.
    token: str = attrs.field(repr=False)

    def as_json(self) -> dict[str, Any]:
        """The ticket as the ticket endpoint answers it (JSON-ready)."""
        return {
            "key": self.key,
            "size": self.size,
            "content_type": self.content_type,
            "expires": self.expires,
            "url": self.url,
            "headers": dict(self.headers),
            "token": self.token,
        }


def safe_filename(filename: str, room: int = _NAME_ROOM) -> str:
    """The last part of a browser's *filename*, reduced to ``A-Z a-z 0-9 . _ -``.

    Runs of anything else become one ``_``; leading dots go (no hidden files, no ``..``);
    a name longer than *room* is cut, keeping its extension. An empty result is ``file``.
    """
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = _NAME_UNSAFE.sub("_", name).lstrip(".")
    if len(name) > room:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) < min(_EXTENSION_ROOM, room // 2):
            name = f"{stem[: room - len(extension) - 1]}.{extension}"
        else:
            name = name[:room]
    return name or "file"


class _NoSubjectError(UploadRefusedError):
    """The subject function found nobody to issue the ticket to (403, not 400)."""


def _check_subject(subject: str | None) -> str | None:
    # An empty subject is most likely a missing user id turned into a string: every
    # caller would share it, so it is a mistake, not a subject.
    if subject is not None and (not isinstance(subject, str) or not subject):
        raise ValueError("a subject must be a non-empty str (or None for no subject)")
    return subject


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class DirectUploads:
    """Issues and verifies upload tickets for one store.

    :param store: where the files go: an :class:`~r2store.R2Store`, whose presigned PUTs
        the browser uses, or a :class:`~r2store.LocalStore` with a ``proxy_signing_key``,
        whose PUTs go to the media proxy (local mode: the bytes then pass through the app).
    :param policy: what uploads are accepted (another may be given per call).
    :param secret: the key of the tokens' HMAC; by default the store's
        ``proxy_signing_key`` (``R2_PROXY_SIGNING_KEY``). Django uses one made from
        ``SECRET_KEY``.
    """

    def __init__(self, store: Store, *, policy: UploadPolicy, secret: str | None = None) -> None:
        secret = secret if secret is not None else store.config.proxy_signing_key
        if not secret:
            raise ValueError(
                "direct uploads need a secret to sign tickets with: pass secret= or set "
                "R2_PROXY_SIGNING_KEY"
            )
        self.store = store
        self.policy = policy
        self._secret = secret.encode()
        config = store.config
        # The token names one object of one bucket: a token of another store never verifies.
        self._scope = f"{config.bucket}\n{config.location}\n".encode()

    def __repr__(self) -> str:
        return f"DirectUploads(store={self.store!r}, policy={self.policy!r})"

    # -- issuing ----------------------------------------------------------------

    def issue(
        self,
        filename: str,
        size: int,
        content_type: str | None,
        *,
        policy: UploadPolicy | None = None,
        subject: str | None = None,
    ) -> UploadTicket:
        """A ticket to upload *filename* of *size* bytes and *content_type* (empty or None
        means ``application/octet-stream``), under *policy* (default: this one's), for
        *subject* (who asks: a user id, say; its token then verifies for that subject
        only; None: for whoever holds the token).

        Raises :class:`~r2store.errors.UploadRefusedError` naming what the policy refuses.
        """
        return self._issue(filename, size, content_type, policy, subject)

    def _issue(
        self,
        filename: str,
        size: int,
        content_type: str | None,
        policy: UploadPolicy | None,
        subject: str | Callable[[], str | None] | None,
    ) -> UploadTicket:
        policy = policy or self.policy
        if type(size) is not int or size < 0:
            raise UploadRefusedError("the size must be a whole number of bytes")
        if size == 0:
            raise UploadRefusedError("the file is empty")
        if size > policy.max_size:
            raise UploadRefusedError(
                f"the file is {size} bytes; at most {policy.max_size} bytes are accepted"
            )
        essence = self._content_type(content_type)
        if not policy.allows(essence):
            raise UploadRefusedError(
                f"files of type {essence} are not accepted "
                f"(accepted: {', '.join(policy.content_types)})"
            )
        if not isinstance(filename, str):
            raise UploadRefusedError("the file name must be a string")
        name = safe_filename(filename, policy.name_room())
        under = f"{policy.prefix}/" if policy.prefix else ""
        key = f"{under}{secrets.token_urlsafe(_RANDOM_BYTES)}/{name}"
        # Refused here, not by R2 later: a location plus a long prefix can leave no room.
        object_key(key, self.store.config.location)
        if callable(subject):
            # Asked only now, for a ticket that is issued (see handle()). A function that
            # finds nobody refuses: bearer tickets only where subject=None says so.
            subject = subject()
            if subject is None:
                raise _NoSubjectError(
                    "sign in to upload: tickets are issued to a user or a session, and "
                    "this request comes from neither"
                )
        subject = _check_subject(subject)
        expires = int(time.time()) + policy.expires_in
        url = self.store.presigned_url(
            key,
            method="PUT",
            expires_in=policy.expires_in,
            content_type=essence,
            content_length=size,
            create_only=True,
        )
        return UploadTicket(
            key=key,
            size=size,
            content_type=essence,
            expires=expires,
            url=url,
            headers={"Content-Type": essence, "If-None-Match": "*"},
            token=self._token(key, size, essence, expires, subject),
        )

    @staticmethod
    def _content_type(content_type: str | None) -> str:
        """The one spelling of the declared type that is signed, stored and compared."""
        if content_type is None or not content_type.strip():
            return DEFAULT_CONTENT_TYPE
        media_type = parse_media_type(content_type)
        if media_type is None:
            raise UploadRefusedError("the file's type is not a valid media type")
        return media_type.essence

    def _mac(self, payload: str, subject: str | None) -> str:
        if subject is None:
            # The message of the first release's tokens, which stay valid.
            message = _TOKEN_PURPOSE + self._scope + payload.encode()
        else:
            # The subject's digest has a fixed length, so no subject and payload can run
            # into each other; it is in the MAC only, so a token does not show whose it is.
            digest = hashlib.sha256(subject.encode()).digest()
            message = _BOUND_TOKEN_PURPOSE + self._scope + digest + payload.encode()
        return _b64(hmac.digest(self._secret, message, hashlib.sha256))

    def _token(
        self, key: str, size: int, content_type: str, expires: int, subject: str | None
    ) -> str:
        fields = [key, size, content_type, expires]
        payload = _b64(json.dumps(fields, separators=(",", ":")).encode())
        return f"{payload}.{self._mac(payload, subject)}"

    # -- verifying --------------------------------------------------------------

    def verify(
        self, token: str, *, subject: str | None = None, policy: UploadPolicy | None = None
    ) -> ObjectStat:
        """The uploaded object's metadata, once *token* proves genuine, unexpired and
        issued to *subject* (None: to no subject); what it declares passes *policy*
        (default: this one's) again, so a ticket issued for a looser field is no good
        for a stricter one; and the object under its key has the size and type declared.

        Raises :class:`~r2store.errors.InvalidTicketError` otherwise; an object of another
        size or type (a server that checks no signatures let it through) is deleted.
        """
        key, size, content_type = self.read_token(token, subject=subject)
        refusal = (policy or self.policy).refusal(key, size, content_type)
        if refusal is not None:
            # Issued, honestly, under another policy: the object is not this field's to delete.
            raise InvalidTicketError(f"the upload ticket is not for this field: {refusal}")
        try:
            stat = self.store.stat(key)
        except ObjectNotFoundError:
            raise InvalidTicketError("nothing was uploaded under this ticket") from None
        stored = parse_media_type(stat.content_type)
        if stat.size != size or stored is None or stored.essence != content_type:
            self.store.delete(key)
            raise InvalidTicketError(
                "the uploaded file is not what the ticket declared (size or type differ)"
            )
        return stat

    def read_token(self, token: str, *, subject: str | None = None) -> tuple[str, int, str]:
        """The key, size and type a genuine, unexpired *token* issued to *subject* (None:
        to no subject) names (no network).

        Raises :class:`~r2store.errors.InvalidTicketError` for a tampered or expired one,
        or one issued to another subject.
        """
        subject = _check_subject(subject)
        if not isinstance(token, str) or token.count(".") != 1 or len(token) > 4096:
            raise InvalidTicketError("the upload ticket is not valid")
        payload, mac = token.split(".")
        # Constant time: how much of a forged MAC matched must not show in the timing.
        expected = self._mac(payload, subject).encode()
        if not hmac.compare_digest(expected, mac.encode("utf-8", "replace")):
            # The subject is in the MAC only, so a token issued to someone else and a
            # tampered one look alike; the message names both, and neither subject.
            raise InvalidTicketError(
                "the upload ticket is not valid (altered, or issued to someone else)"
            )
        try:
            key, size, content_type, expires = json.loads(_unb64(payload))
        except ValueError:
            # Only a holder of the secret could make this; it is a bug, not an attack.
            raise InvalidTicketError("the upload ticket is not valid") from None
        if expires < time.time():
            raise InvalidTicketError("the upload ticket has expired")
        return str(key), int(size), str(content_type)

    # -- the ticket endpoint ----------------------------------------------------

    def handle(
        self,
        method: str,
        body: bytes,
        *,
        policy: UploadPolicy | None = None,
        subject: str | Callable[[], str | None] | None = None,
    ) -> ProxyResponse:
        """Answer one request to the ticket endpoint: a POST of JSON
        ``{"filename", "size", "type"}`` gets the ticket as JSON (200); a request that
        is not one, or that the policy refuses, gets ``{"error": message}`` (400; 405
        for another method; 413 for a body over :data:`MAX_TICKET_REQUEST` bytes).
        Adapters read at most one byte more than that.

        The ticket is issued to *subject*, or to what a function given as *subject*
        answers: it is called only for a ticket about to be issued (so it may, say,
        create a session without one being made for every refused request), and when
        it answers None the request gets 403.
        """
        if method != "POST":
            return _json(405, {"error": "use POST"}, [("Allow", "POST")])
        if len(body) > MAX_TICKET_REQUEST:
            return _too_large()
        try:
            request = json.loads(body)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            return _json(400, {"error": "send JSON: {filename, size, type}"})
        filename, content_type = request.get("filename"), request.get("type")
        size: Any = request.get("size")
        if not isinstance(filename, str) or not isinstance(content_type, (str, type(None))):
            return _json(400, {"error": "send JSON: {filename, size, type}"})
        try:
            ticket = self._issue(filename, size, content_type, policy, subject)
        except _NoSubjectError as exc:
            return _json(403, {"error": str(exc)})
        except UploadRefusedError as exc:
            return _json(400, {"error": str(exc)})
        except R2StoreError:
            # A store that cannot presign a PUT (say, local mode without a signing key).
            return _json(503, {"error": "direct uploads are not available"})
        return _json(200, ticket.as_json())


def _ticket_body_length(content_length: str | None) -> int | ProxyResponse:
    """The bytes of body a ticket request declares in its Content-Length header (None or
    "": none), or the answer for one to be refused unread: 411 with no length, 400 with one
    that is not ASCII digits, 413 with one over :data:`MAX_TICKET_REQUEST`.

    For the adapters that are told the length (WSGI, Django). With none, a WSGI server
    gives the app no way to know where a chunked body ends (gunicorn says so with
    ``wsgi.input_terminated``, wsgiref does not dechunk at all), and Django then reads no
    body: so 411, which every client can meet (a browser's fetch of a string always sends
    a length). ASGI servers frame and dechunk the body themselves, so the ASGI app reads
    whatever comes, no further than the limit, and needs no length.
    """
    if not content_length:
        return _json(411, {"error": "send a Content-Length"})
    # Not str.isdigit(): it takes "\u00b2" and other digits int() refuses.
    if re.fullmatch(r"[0-9]+", content_length) is None:
        return _json(400, {"error": "the Content-Length is not a number"})
    length = int(content_length)
    return _too_large() if length > MAX_TICKET_REQUEST else length


def _json(
    status: int, data: Mapping[str, Any], extra: Iterable[tuple[str, str]] = ()
) -> ProxyResponse:
    body = json.dumps(data).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        # A ticket is for one upload by one user: no cache may keep or share it.
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        *extra,
    ]
    return ProxyResponse(status, headers, body)


def _too_large() -> ProxyResponse:
    # Made anew each time: a ProxyResponse and its headers are mutable.
    return _json(413, {"error": "request too large"})
