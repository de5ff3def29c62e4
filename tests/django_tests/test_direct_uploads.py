"""Direct uploads in Django (r2store.django.uploads): the ticket view, the field's clean()
and the admin, on real Django, with the file PUT to the S3 server as a browser does."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from django.test import Client

from r2store.django import R2Storage
from r2store.django.uploads import DirectUploadField, DirectUploadWidget
from tests.django_project.contacts.models import Contact, Document
from tests.django_project.uploads import UploadForm

from .conftest import r2_store

TICKET_URL = "/r2store/upload-ticket/"
POLICY = re.compile(r'data-policy="([^"]+)"')


def _policy(form_field: DirectUploadField) -> str:
    """The signed policy the field's widget renders."""
    widget = form_field.widget
    assert isinstance(widget, DirectUploadWidget)
    found = POLICY.search(widget.render("file", None))
    assert found is not None
    return found[1]


def _ticket(client: Client, policy: str, **request: Any) -> Any:
    """POST a ticket request as direct-upload.js does; the response."""
    body = {"filename": "notes.txt", "size": 5, "type": "text/plain", **request}
    return client.post(
        TICKET_URL,
        json.dumps(body),
        content_type="application/json",
        headers={"X-R2store-Policy": policy},
    )


def _upload(client: Client, policy: str, data: bytes, name: str, media_type: str) -> Any:
    """Get a ticket and PUT *data* on it; the ticket (JSON)."""
    response = _ticket(client, policy, filename=name, size=len(data), type=media_type)
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


def test_the_form_gives_the_key_of_a_verified_upload(
    client: Client, page_policy: str, r2_storage: R2Storage
) -> None:
    """The form's clean() verifies the token and gives the uploaded object's key."""
    ticket = _upload(client, page_policy, b"hello", "notes.txt", "text/plain")
    form = UploadForm({"file": ticket["token"]})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["file"] == ticket["key"]
    assert r2_store(r2_storage).read(ticket["key"]) == b"hello"


@pytest.mark.usefixtures("r2_storage")
def test_the_form_refuses_a_tampered_token(client: Client, page_policy: str) -> None:
    """A token altered in the browser fails the form, asking for the upload again."""
    ticket = _upload(client, page_policy, b"hello", "notes.txt", "text/plain")
    form = UploadForm({"file": "x" + ticket["token"]})

    assert not form.is_valid()
    assert "upload the file again" in form.errors["file"][0]


@pytest.mark.usefixtures("r2_storage")
def test_the_form_refuses_a_ticket_never_used(client: Client, page_policy: str) -> None:
    """A genuine token whose file never arrived fails the form."""
    ticket = _ticket(client, page_policy).json()
    form = UploadForm({"file": ticket["token"]})

    assert not form.is_valid()
    assert "nothing was uploaded" in form.errors["file"][0]


@pytest.mark.usefixtures("r2_storage")
def test_the_field_is_required_without_an_upload() -> None:
    """A required field with no token is an ordinary "required" error."""
    form = UploadForm({"file": ""})

    assert not form.is_valid()
    assert form.errors["file"][0] == "This field is required."


@pytest.mark.django_db
@pytest.mark.usefixtures("r2_storage")
def test_the_admin_renders_the_widget_and_its_script(admin_client: Client) -> None:
    """The admin's add form has the upload widget and loads direct-upload.js as a module."""
    page = admin_client.get("/direct-admin/contacts/document/add/").content.decode()

    assert "data-r2store-upload" in page
    assert '<script type="module" src="/static/r2store/direct-upload.js"></script>' in page


@pytest.mark.django_db
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
