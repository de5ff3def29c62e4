"""Direct uploads in Django (r2store.django.uploads): the ticket view, the field's clean()
and the admin, on real Django, with the file PUT to the S3 server as a browser does.

Tickets are bound to the user or the session (database sessions here), so the forms are
submitted through the test project's upload page, by a client that keeps its cookies."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest
from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.test import Client, RequestFactory

from r2store.django import R2Storage
from r2store.django.uploads import DirectUploadField, DirectUploadWidget, bind_uploads
from tests.django_project.contacts.models import Contact, Document
from tests.django_project.uploads import UploadForm, team_subject

from .conftest import r2_store

# Tickets are bound to sessions, and sessions are kept in the database.
pytestmark = pytest.mark.django_db

TICKET_URL = "/r2store/upload-ticket/"
PAGE_URL = "/upload-page/"
POLICY = re.compile(r'data-policy="([^"]+)"')


def _policy(form_field: DirectUploadField) -> str:
    """The signed policy the field's widget renders."""
    widget = form_field.widget
    assert isinstance(widget, DirectUploadWidget)
    found = POLICY.search(widget.render("file", None))
    assert found is not None
    return found[1]


def _ticket(
    client: Client,
    policy: str,
    headers: dict[str, str] | None = None,
    *,
    CONTENT_LENGTH: str | None = None,  # noqa: N803 (the environ's name)
    **request: Any,
) -> Any:
    """POST a ticket request as direct-upload.js does (with CONTENT_LENGTH in the environ
    instead of the body's, if given); the response."""
    body = {"filename": "notes.txt", "size": 5, "type": "text/plain", **request}
    environ: dict[str, Any] = {} if CONTENT_LENGTH is None else {"CONTENT_LENGTH": CONTENT_LENGTH}
    return client.post(
        TICKET_URL,
        json.dumps(body),
        content_type="application/json",
        headers={"X-R2store-Policy": policy, **(headers or {})},
        **environ,
    )


def _upload(
    client: Client,
    policy: str,
    data: bytes = b"hello",
    name: str = "notes.txt",
    media_type: str = "text/plain",
    headers: dict[str, str] | None = None,
) -> Any:
    """Get a ticket and PUT *data* on it; the ticket (JSON)."""
    response = _ticket(client, policy, headers, filename=name, size=len(data), type=media_type)
    assert response.status_code == 200, response.content
    ticket = response.json()
    put = httpx.put(ticket["url"], content=data, headers=ticket["headers"], timeout=30)
    assert put.status_code == 200
    return ticket


@pytest.fixture
def page_policy() -> str:
    """The upload page's field's signed policy."""
    return _policy(UploadForm.base_fields["file"])  # type: ignore[arg-type]


@pytest.mark.usefixtures("r2_storage")
def test_the_view_issues_a_ticket(client: Client, page_policy: str) -> None:
    """A POST with the field's policy gets a ticket for a key under the field's prefix."""
    response = _ticket(client, page_policy)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response.json()["key"].startswith("page/")


@pytest.mark.usefixtures("r2_storage")
def test_the_view_needs_the_csrf_token(page_policy: str) -> None:
    """A ticket request without Django's CSRF token is refused (403)."""
    response = _ticket(Client(enforce_csrf_checks=True), page_policy)

    assert response.status_code == 403


@pytest.mark.usefixtures("r2_storage")
def test_the_view_refuses_a_forged_policy(client: Client, page_policy: str) -> None:
    """A policy whose signature does not match (a browser raising its limit) is refused."""
    response = _ticket(client, page_policy.replace(":", "x:", 1))

    assert response.status_code == 400
    assert "policy" in response.json()["error"]


@pytest.mark.usefixtures("r2_storage")
def test_the_view_refuses_a_length_not_in_ascii_digits(client: Client, page_policy: str) -> None:
    """A Content-Length of a digit outside ASCII ("\u00b2", which str.isdigit() takes) is 400."""
    response = _ticket(client, page_policy, CONTENT_LENGTH="\u00b2")

    assert response.status_code == 400
    assert "Content-Length" in response.json()["error"]


@pytest.mark.usefixtures("r2_storage")
def test_the_view_asks_for_a_length(client: Client, page_policy: str) -> None:
    """A request without a Content-Length (a chunked body) gets 411 Length Required.

    Django's test client always sets CONTENT_LENGTH, so an empty one stands for none; a
    WSGI server gives a chunked body none at all, and Django reads no body then."""
    response = _ticket(client, page_policy, CONTENT_LENGTH="")

    assert response.status_code == 411


@pytest.mark.usefixtures("r2_storage")
def test_the_view_refuses_a_body_too_long(client: Client, page_policy: str) -> None:
    """A body declared longer than MAX_TICKET_REQUEST gets 413, not a ticket."""
    response = _ticket(client, page_policy, filename="a" * 5000)

    assert response.status_code == 413


@pytest.mark.usefixtures("r2_storage")
def test_the_view_refuses_a_file_over_the_fields_limit(client: Client) -> None:
    """A file larger than the field's max_size gets no ticket (400, saying why)."""
    policy = _policy(DirectUploadField(max_size=10))
    response = _ticket(client, policy, size=11)

    assert response.status_code == 400
    assert "at most 10 bytes" in response.json()["error"]


@pytest.mark.usefixtures("r2_storage")
def test_the_view_refuses_a_type_the_field_does_not_take(client: Client) -> None:
    """A type outside the field's content_types gets no ticket (400)."""
    policy = _policy(DirectUploadField(max_size=10, content_types=["image/*"]))
    response = _ticket(client, policy, type="text/html")

    assert response.status_code == 400


def _submit(client: Client, token: str) -> str:
    """POST *token* to the upload page as its form does; the page."""
    response = client.post(PAGE_URL, {"file": token})
    assert response.status_code == 200
    page: str = response.content.decode()
    return page


def test_the_form_gives_the_key_of_a_verified_upload(
    client: Client, page_policy: str, r2_storage: R2Storage
) -> None:
    """The form's clean() verifies the token and gives the uploaded object's key."""
    ticket = _upload(client, page_policy)

    assert _submit(client, ticket["token"]) == f"saved {ticket['key']}"
    assert r2_store(r2_storage).read(ticket["key"]) == b"hello"


@pytest.mark.usefixtures("r2_storage")
def test_the_form_refuses_a_tampered_token(client: Client, page_policy: str) -> None:
    """A token altered in the browser fails the form, asking for the upload again."""
    ticket = _upload(client, page_policy)

    assert "upload the file again" in _submit(client, "x" + ticket["token"])


@pytest.mark.usefixtures("r2_storage")
def test_the_form_refuses_a_ticket_never_used(client: Client, page_policy: str) -> None:
    """A genuine token whose file never arrived fails the form."""
    ticket = _ticket(client, page_policy).json()

    assert "nothing was uploaded" in _submit(client, ticket["token"])


@pytest.mark.usefixtures("r2_storage")
def test_the_view_gives_an_anonymous_visitor_a_session(client: Client, page_policy: str) -> None:
    """A visitor with no session gets one with the ticket: the form's POST brings it back."""
    response = _ticket(client, page_policy)

    assert response.status_code == 200
    assert response.cookies["sessionid"].value


@pytest.mark.usefixtures("r2_storage")
def test_the_form_refuses_a_ticket_of_another_session(client: Client, page_policy: str) -> None:
    """A token uploaded in one anonymous session fails the form submitted in another."""
    ticket = _upload(client, page_policy)

    page = _submit(Client(), ticket["token"])

    assert "issued to someone else" in page
    assert ticket["key"] not in page


@pytest.mark.usefixtures("r2_storage")
def test_the_form_refuses_a_ticket_of_another_user(
    page_policy: str, django_user_model: Any
) -> None:
    """A token uploaded by one user fails the form submitted by another."""
    ada, bob = Client(), Client()
    ada.force_login(django_user_model.objects.create_user("ada"))
    bob.force_login(django_user_model.objects.create_user("bob"))
    ticket = _upload(ada, page_policy)

    assert "issued to someone else" in _submit(bob, ticket["token"])


@pytest.mark.usefixtures("r2_storage")
def test_a_users_ticket_verifies_in_another_session_of_that_user(
    page_policy: str, django_user_model: Any
) -> None:
    """A logged-in user's token is theirs, not their session's: another login submits it."""
    ada = django_user_model.objects.create_user("ada")
    laptop, phone = Client(), Client()
    laptop.force_login(ada)
    phone.force_login(ada)
    ticket = _upload(laptop, page_policy)

    assert _submit(phone, ticket["token"]) == f"saved {ticket['key']}"


@pytest.mark.usefixtures("r2_storage")
def test_a_field_not_given_the_request_says_how(client: Client, page_policy: str) -> None:
    """A form whose request was not given (bind_uploads) raises, naming the fix, rather
    than refusing every token."""
    ticket = _upload(client, page_policy)

    with pytest.raises(ImproperlyConfigured, match="bind_uploads"):
        UploadForm({"file": ticket["token"]}).is_valid()


class _TeamForm(forms.Form):
    file = DirectUploadField(max_size=10, subject=team_subject)


class _OpenForm(forms.Form):
    file = DirectUploadField(max_size=10, subject=None)


@pytest.mark.usefixtures("r2_storage")
def test_a_fields_own_subject_function_issues_and_verifies(client: Client) -> None:
    """A field's subject= is what the view binds its tickets to and what the form checks."""
    policy = _policy(_TeamForm.base_fields["file"])  # type: ignore[arg-type]
    ticket = _upload(client, policy, headers={"X-Team": "red"})
    red = RequestFactory().post(PAGE_URL, headers={"X-Team": "red"})

    form = bind_uploads(_TeamForm({"file": ticket["token"]}), red)

    assert form.is_valid(), form.errors
    assert form.cleaned_data["file"] == ticket["key"]


@pytest.mark.usefixtures("r2_storage")
def test_a_fields_own_subject_function_refuses_another_subject(client: Client) -> None:
    """A token the view bound to team red fails the form submitted for team blue."""
    policy = _policy(_TeamForm.base_fields["file"])  # type: ignore[arg-type]
    ticket = _upload(client, policy, headers={"X-Team": "red"})
    blue = RequestFactory().post(PAGE_URL, headers={"X-Team": "blue"})

    form = bind_uploads(_TeamForm({"file": ticket["token"]}), blue)

    assert not form.is_valid()
    assert "issued to someone else" in form.errors["file"][0]


@pytest.mark.usefixtures("r2_storage")
def test_a_field_with_no_subject_takes_any_holders_token(client: Client) -> None:
    """With subject=None the view issues tickets to no subject, and the form, given no
    request, verifies them."""
    policy = _policy(_OpenForm.base_fields["file"])  # type: ignore[arg-type]
    ticket = _upload(client, policy)

    form = _OpenForm({"file": ticket["token"]})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["file"] == ticket["key"]


@pytest.mark.usefixtures("r2_storage")
def test_a_field_with_no_subject_refuses_a_bound_token(client: Client, page_policy: str) -> None:
    """A token bound to a session fails a field that takes tokens of no subject."""
    ticket = _upload(client, page_policy)

    form = _OpenForm({"file": ticket["token"]})

    assert not form.is_valid()
    assert "issued to someone else" in form.errors["file"][0]


def test_a_subject_function_must_be_importable() -> None:
    """A subject= the view could not import by its dotted path (a lambda) is refused."""
    with pytest.raises(ValueError, match="dotted path"):
        DirectUploadField(max_size=10, subject=lambda request: "x")


@pytest.mark.usefixtures("r2_storage")
def test_the_field_is_required_without_an_upload() -> None:
    """A required field with no token is an ordinary "required" error."""
    form = UploadForm({"file": ""})

    assert not form.is_valid()
    assert form.errors["file"][0] == "This field is required."


@pytest.mark.usefixtures("r2_storage")
def test_the_admin_renders_the_widget_and_its_script(admin_client: Client) -> None:
    """The admin's add form has the upload widget and loads direct-upload.js as a module."""
    page = admin_client.get("/direct-admin/contacts/document/add/").content.decode()

    assert "data-r2store-upload" in page
    assert '<script type="module" src="/static/r2store/direct-upload.js"></script>' in page


def test_the_admin_saves_a_direct_upload(admin_client: Client, r2_storage: R2Storage) -> None:
    """A Document added in the admin with a token holds the uploaded object, its key cut to
    the model field's max_length (40)."""
    page = admin_client.get("/direct-admin/contacts/document/add/").content.decode()
    policy = POLICY.search(page)
    assert policy is not None
    ticket = _upload(
        admin_client, policy[1], b"%PDF-1.4 x", "A rather long report name.pdf", "application/pdf"
    )

    contact = Contact.objects.create(name="Ada")
    response = admin_client.post(
        "/direct-admin/contacts/document/add/", {"file": ticket["token"], "contact": contact.pk}
    )

    errors = response.context["adminform"].form.errors if response.status_code == 200 else None
    assert response.status_code == 302, errors
    document = Document.objects.get()
    assert document.file.name == ticket["key"]
    assert len(ticket["key"]) <= 40
    assert ticket["key"].endswith(".pdf")
    assert document.file.read() == b"%PDF-1.4 x"


def test_the_admin_refuses_another_admins_upload(
    admin_client: Client, r2_storage: R2Storage, django_user_model: Any
) -> None:
    """A token uploaded by one admin fails the admin's form submitted by another."""
    page = admin_client.get("/direct-admin/contacts/document/add/").content.decode()
    policy = POLICY.search(page)
    assert policy is not None
    ticket = _upload(admin_client, policy[1], b"%PDF-1.4 x", "report.pdf", "application/pdf")
    other = Client()
    other.force_login(django_user_model.objects.create_superuser("other", "o@example.com", "x"))
    contact = Contact.objects.create(name="Ada")

    response = other.post(
        "/direct-admin/contacts/document/add/", {"file": ticket["token"], "contact": contact.pk}
    )

    assert response.status_code == 200
    assert "issued to someone else" in str(response.context["adminform"].form.errors)
    assert not Document.objects.exists()


class _StrictForm(forms.Form):
    file = DirectUploadField(
        max_size=10, content_types=["image/png"], prefix="avatars", subject=None
    )


@pytest.mark.usefixtures("r2_storage")
def test_a_looser_fields_ticket_fails_a_stricter_field(client: Client) -> None:
    """A ticket the view issued for one field (any type, under uploads/) does not verify
    in a field that takes PNGs under avatars/: each field checks its own limits."""
    ticket = _upload(client, _policy(_OpenForm.base_fields["file"]))  # type: ignore[arg-type]

    form = _StrictForm({"file": ticket["token"]})

    assert not form.is_valid()
    assert "not for this field" in form.errors["file"][0]


def nobody(request: HttpRequest) -> str | None:
    """A subject function that finds no one (as one that returns None for visitors)."""
    return None


class _NobodyForm(forms.Form):
    file = DirectUploadField(max_size=10, subject=nobody)


@pytest.mark.usefixtures("r2_storage")
def test_a_subject_function_that_finds_nobody_refuses(client: Client) -> None:
    """When the field's subject function answers None, the view refuses a ticket (403),
    and the form refuses a token that anyone may hold."""
    response = _ticket(client, _policy(_NobodyForm.base_fields["file"]))  # type: ignore[arg-type]
    assert response.status_code == 403
    open_ticket = _upload(client, _policy(_OpenForm.base_fields["file"]))  # type: ignore[arg-type]

    form = bind_uploads(_NobodyForm({"file": open_ticket["token"]}), RequestFactory().post("/"))

    assert not form.is_valid()
    assert "no one to check it for" in form.errors["file"][0]


@pytest.mark.usefixtures("r2_storage")
def test_the_view_refuses_a_policy_rendered_over_a_day_ago(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page's signed policy is good for a day: an older one (say, a limit since
    tightened) gets 400, and the message says to reload."""
    two_days_ago = time.time() - 2 * 24 * 3600
    with monkeypatch.context() as clock:
        # Django's signer stamps the policy with time.time(): the page was rendered then.
        clock.setattr("django.core.signing.time.time", lambda: two_days_ago)
        old = _policy(_OpenForm.base_fields["file"])  # type: ignore[arg-type]
    response = _ticket(client, old)
    assert response.status_code == 400
    assert "reload" in response.json()["error"]
