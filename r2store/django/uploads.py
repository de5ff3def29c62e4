"""Direct uploads in Django: a form field whose file goes from the browser straight to the
bucket, and the view that issues its tickets (translation only: see :mod:`r2store.uploads`).

urlpatterns += [path("r2store/upload-ticket/", upload_ticket, name="r2store-upload-ticket")]

class ContactForm(forms.ModelForm):
    photo = DirectUploadField(max_size=5 * 1024 * 1024, content_types=["image/*"])

The field's widget renders a file input (with no name: the file is never posted), a
``<progress>`` and a hidden input; ``r2store/direct-upload.js`` (in this app's static
files, an ES module) asks the view for a ticket, PUTs the file to the bucket and puts
the ticket's token in the hidden input. ``clean()`` verifies the token and gives the key,
which a model's FileField takes as the file's name.

The field's policy (size, types, prefix) travels to the view signed with ``SECRET_KEY``, so
the view needs no registry of fields and a browser cannot loosen it.

Each ticket is issued to a *subject*, by default :func:`request_subject`: the logged-in
user, else a random name kept in the session. The field's subject function travels in its
signed policy too (by its dotted path), so the view asks the same function the field
verifies with; the form is given the request to ask it about with :func:`bind_uploads`
(in the admin, :class:`DirectUploadAdminMixin` does it).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, TypeVar

from django import forms
from django.core import signing
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.files.storage import storages
from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.html import format_html
from django.utils.module_loading import import_string
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from ..errors import InvalidTicketError
from ..uploads import DirectUploads, UploadPolicy, _ticket_body_length
from .storage import R2Storage

__all__ = [
    "DirectUploadAdminMixin",
    "DirectUploadField",
    "DirectUploadWidget",
    "bind_uploads",
    "direct_uploads",
    "request_subject",
    "upload_ticket",
]

#: The URL name the widget asks for tickets at, unless given ``ticket_url``.
TICKET_URL_NAME = "r2store-upload-ticket"
#: The request header that carries the field's signed policy to the ticket view.
POLICY_HEADER = "X-R2store-Policy"
_POLICY_SALT = "r2store.django.uploads.policy"
# How long a page's signed policy issues tickets: a limit tightened since, or a form left
# open for days, then asks for a reload instead of issuing under the old terms forever.
_POLICY_MAX_AGE = 24 * 3600
_SCRIPT = "r2store/direct-upload.js"
# Where request_subject() keeps an anonymous visitor's name in the session.
_SESSION_SUBJECT = "_r2store_upload_subject"

#: Who asks for a ticket, or submits its token: a function of the request.
SubjectFunction = Callable[[HttpRequest], str | None]
_Form = TypeVar("_Form", bound=forms.BaseForm)


def request_subject(request: HttpRequest) -> str:
    """Who *request* comes from: ``user:<pk>`` for a logged-in user, else ``session:`` and
    a random name kept in the session (which it creates if there is none yet).

    A random name, not the session key: the key changes when the session is cycled, and
    with signed-cookie sessions whenever the session does, while the name stays put.
    """
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    session = getattr(request, "session", None)
    if session is None:
        raise ImproperlyConfigured(
            "direct uploads bind each ticket to the user or the session, and this request "
            "has neither: add SessionMiddleware, or give DirectUploadField a subject= of "
            "your own (subject=None: tickets for whoever holds them)"
        )
    name = session.get(_SESSION_SUBJECT)
    if not isinstance(name, str):
        # Setting it marks the session modified: SessionMiddleware saves it and sends
        # the cookie with the ticket, and the form's POST brings it back.
        name = session[_SESSION_SUBJECT] = secrets.token_urlsafe(16)
    return f"session:{name}"


def _subject_path(subject: SubjectFunction | None) -> str:
    """The dotted path the view imports *subject* by ("" for None)."""
    if subject is None:
        return ""
    path = f"{getattr(subject, '__module__', '')}.{getattr(subject, '__qualname__', '')}"
    try:
        found = import_string(path)
    except ImportError:
        found = None
    if found is not subject:
        raise ValueError(
            "subject= must be a function the ticket view can import by its dotted path "
            "(defined at the top level of a module, not a lambda or a method)"
        )
    return path


def direct_uploads(policy: UploadPolicy) -> DirectUploads:
    """Direct uploads into ``STORAGES["default"]`` (an R2Storage), tickets signed with a
    key derived from ``SECRET_KEY``."""
    storage = storages["default"]
    if not isinstance(storage, R2Storage):
        raise TypeError("direct uploads go to STORAGES['default'], which is not R2Storage")
    # Derived, not SECRET_KEY itself: a ticket's MAC then says nothing about other uses.
    secret = salted_hmac("r2store.django.uploads", "ticket secret").hexdigest()
    return DirectUploads(storage.store, policy=policy, secret=secret)


def _sign_policy(policy: UploadPolicy, subject_path: str) -> str:
    fields = [
        policy.max_size,
        list(policy.content_types),
        policy.prefix,
        policy.expires_in,
        policy.max_key_length,
        subject_path,
    ]
    return signing.dumps(fields, salt=_POLICY_SALT, compress=True)


def _load_policy(value: str) -> tuple[UploadPolicy, SubjectFunction | None] | None:
    try:
        fields = signing.loads(value, salt=_POLICY_SALT, max_age=_POLICY_MAX_AGE)
        # A page rendered before subjects signed five fields; its field had the default.
        max_size, types, prefix, expires_in, room, path = (
            [*fields, _subject_path(request_subject)] if len(fields) == 5 else fields
        )
        policy = UploadPolicy(
            max_size=max_size,
            content_types=types,
            prefix=prefix,
            expires_in=expires_in,
            max_key_length=room,
        )
        # Imported by a path only this server can have signed (with SECRET_KEY).
        subject: SubjectFunction | None = import_string(path) if path else None
    except (signing.BadSignature, ImportError, ValueError, TypeError):
        return None
    return policy, subject


@require_POST
def upload_ticket(request: HttpRequest) -> HttpResponse:
    """Issue a ticket for the upload a :class:`DirectUploadField` describes: a POST (with
    Django's CSRF token) of JSON ``{"filename", "size", "type"}``, and the field's signed
    policy in the ``X-R2store-Policy`` header. Wrap it (``login_required``, say) to say who
    may upload. The ticket is issued to the subject the field's subject function names
    (by default :func:`request_subject`)."""
    loaded = _load_policy(request.headers.get(POLICY_HEADER, ""))
    if loaded is None:
        return HttpResponse(
            b'{"error": "the upload policy is out of date or not valid: reload the page"}',
            status=400,
            content_type="application/json",
        )
    # Refused unread (request.body reads all the header claims): 411 without a length (a
    # chunked body: see _ticket_body_length), 400 for one not ASCII digits, 413 past the limit.
    size = _ticket_body_length(request.headers.get("Content-Length"))
    if isinstance(size, int):
        policy, subject = loaded
        answer = direct_uploads(policy).handle(
            request.method or "POST",
            request.body,
            subject=partial(subject, request) if subject is not None else None,
        )
    else:
        answer = size
    assert isinstance(answer.body, bytes)
    response = HttpResponse(answer.body, status=answer.status)
    for name, value in answer.headers:
        response[name] = value
    return response


class _ModuleScript:
    """``<script type="module">`` for a form's Media (Django renders ``__html__``)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __html__(self) -> str:
        return str(format_html('<script type="module" src="{}"></script>', static(self.path)))

    def __eq__(self, other: object) -> bool:
        # Media merges a form's scripts and drops duplicates by equality.
        return isinstance(other, _ModuleScript) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)


class DirectUploadWidget(forms.Widget):
    """A file input that uploads straight to the bucket, a progress bar, and the hidden
    input the ticket's token goes into."""

    # The file itself is never posted: a form of this widget needs no multipart encoding.
    needs_multipart_form = False

    def __init__(
        self,
        policy: UploadPolicy,
        *,
        ticket_url: str | None = None,
        subject: SubjectFunction | None = request_subject,
        attrs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(attrs)
        self.policy = policy
        self.ticket_url = ticket_url
        self.subject_path = _subject_path(subject)

    @property
    def media(self) -> forms.Media:
        # django-stubs types js as str paths; Django renders any object with __html__.
        return forms.Media(js=[_ModuleScript(_SCRIPT)])  # type: ignore[list-item]

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        token = value if isinstance(value, str) else ""
        current = getattr(value, "name", None) if value and not token else None
        accept = ",".join(self.policy.content_types)
        final = self.build_attrs(self.attrs, attrs)
        return format_html(
            '<div class="r2store-upload" data-r2store-upload data-ticket-url="{}" '
            'data-policy="{}">'
            '<input type="file" id="{}"{}>'
            '<progress max="100" value="0" hidden></progress> '
            '<span data-r2store-status aria-live="polite">{}</span>'
            '<input type="hidden" name="{}" value="{}">'
            "</div>",
            self.ticket_url or reverse(TICKET_URL_NAME),
            _sign_policy(self.policy, self.subject_path),
            final.get("id", f"id_{name}"),
            format_html(' accept="{}"', accept) if accept else "",
            f"Currently: {current}" if current else ("Uploaded" if token else ""),
            name,
            token,
        )

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        return data.get(name)

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return name not in data


class DirectUploadField(forms.FileField):
    """A file field whose file the browser uploads straight to the bucket.

    Its cleaned value is the object's key (a model's FileField takes it as the file's
    name); with no new upload it is the field's initial value, as for a FileField. The
    size and types are checked when the ticket is issued, signed into the upload URL,
    and checked on the stored object when the form is cleaned.

    :param max_size: the largest file accepted, in bytes.
    :param content_types: types accepted (``image/png``, ``image/*``); empty: any.
    :param prefix: the folder the uploads go under.
    :param expires_in: seconds a ticket stays good, to upload and then to submit.
    :param ticket_url: where the widget asks for tickets (default: the URL named
        ``r2store-upload-ticket``).
    :param subject: who a ticket is issued to, a function of the request defined at the
        top level of a module (default :func:`request_subject`: the user, else the
        session); the token then verifies only for the same subject, asked of the
        request the form was given with :func:`bind_uploads`. None: tickets for whoever
        holds them, and no request needed.
    """

    widget = DirectUploadWidget
    default_error_messages = {  # noqa: RUF012 (Django's own pattern)
        "invalid_upload": (
            "The upload could not be verified: %(reason)s. Please upload the file again."
        ),
    }

    def __init__(
        self,
        *,
        max_size: int,
        content_types: Iterable[str] = (),
        prefix: str = "uploads",
        expires_in: int = 3600,
        ticket_url: str | None = None,
        subject: SubjectFunction | None = request_subject,
        **kwargs: Any,
    ) -> None:
        # A model's FileField passes its max_length: the key must fit the column.
        self.policy = UploadPolicy(
            max_size=max_size,
            content_types=tuple(content_types),
            prefix=prefix,
            expires_in=expires_in,
            max_key_length=kwargs.get("max_length"),
        )
        # Any other widget is replaced: the admin passes its AdminFileWidget to every
        # FileField's form field, and only this widget uploads and carries the policy.
        if not isinstance(kwargs.get("widget"), DirectUploadWidget):
            kwargs["widget"] = DirectUploadWidget(
                self.policy, ticket_url=ticket_url, subject=subject
            )
        super().__init__(**kwargs)
        self.subject = subject
        # Set by bind(): who submits the form, asked only when a token is to be verified
        # (a page view creates no session). A form's fields are copies of its class's, so
        # this belongs to one form, bound to one request.
        self._submitter: Callable[[], str | None] | None = None

    def bind(self, request: HttpRequest) -> None:
        """Verify tokens for the subject of *request* (see :func:`bind_uploads`)."""
        if self.subject is not None:
            self._submitter = partial(self.subject, request)

    def to_python(self, data: Any) -> Any:
        if data in self.empty_values:
            return None
        if self.subject is not None and self._submitter is None:
            # Not a form error: every token would fail, for a reason only code can fix.
            raise ImproperlyConfigured(
                "DirectUploadField checks who submits a token, and its form was not given "
                "the request: create the form as bind_uploads(Form(request.POST), request) "
                "(in the admin: DirectUploadAdminMixin), or pass subject=None"
            )
        try:
            submitter = self._submitter() if self._submitter is not None else None
            if self.subject is not None and submitter is None:
                # A subject function that finds nobody: never the bearer tokens of
                # subject=None fields (the view refuses such a ticket too).
                raise InvalidTicketError("the upload ticket is not valid (no one to check it for)")
            stat = direct_uploads(self.policy).verify(str(data), subject=submitter)
        except InvalidTicketError as exc:
            reason = str(exc).removeprefix("the ").rstrip(".")
            raise ValidationError(
                self.error_messages["invalid_upload"],
                code="invalid_upload",
                params={"reason": reason},
            ) from None
        return stat.key

    def bound_data(self, data: Any, initial: Any) -> Any:
        # A token re-displays (after another field's error) without a new upload.
        return data or initial

    def has_changed(self, initial: Any, data: Any) -> bool:
        return not self.disabled and bool(data)


def bind_uploads(form: _Form, request: HttpRequest) -> _Form:
    """*form*, its :class:`DirectUploadField` fields set to verify tokens for the subject
    of *request* (the user, or the session, who submits it)::

        form = bind_uploads(ContactForm(request.POST, instance=contact), request)
    """
    for field in form.fields.values():
        if isinstance(field, DirectUploadField):
            field.bind(request)
    return form


class DirectUploadAdminMixin:
    """For a ``ModelAdmin`` (or an inline) whose forms have :class:`DirectUploadField`
    fields: binds them to each request, as :func:`bind_uploads` does for a form.

    class DocumentAdmin(DirectUploadAdminMixin, admin.ModelAdmin): ...
    """

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # The admin makes its form class anew for each request, from these fields.
        field = super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]
        if isinstance(field, DirectUploadField):
            field.bind(request)
        return field
