"""Uploads through Django's admin, as a logged-in superuser, into the moto bucket.

The admin's forms save through the model's FileField, which uses STORAGES['default']:
R2Storage here. Every check reads back from the bucket, not from Django's objects.
"""

from __future__ import annotations

import html
import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models.fields.files import FieldFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from r2store.django import R2Storage
from tests.django_project.contacts.models import Contact, Document

pytestmark = pytest.mark.django_db


def png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    """A real PNG image of *width* x *height* in one *colour*."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


RED = png(40, 30, (200, 30, 30))
BLUE = png(40, 30, (30, 30, 200))
WIDE = png(60, 20, (30, 160, 30))


def name_of(file: FieldFile) -> str:
    """The name a file field holds; it must hold one."""
    assert file.name is not None
    return file.name


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    """A file as the browser sends it in a multipart form."""
    return SimpleUploadedFile(name, data, content_type="image/png")


def post_form(client: Client, url: str, data: dict[str, Any]) -> str:
    """POST an admin form (multipart); assert it was accepted and return the redirect."""
    response: Any = client.post(url, data)
    errors = response.context["adminform"].form.errors if response.status_code == 200 else None
    assert response.status_code == 302, f"the admin refused the form: {errors}"
    location: str = response["Location"]
    return location


def add_contact(client: Client, name: str, photo: bytes) -> Contact:
    """Add a contact with *photo* (as face.png) through the admin's add view; the contact."""
    before = set(Contact.objects.values_list("pk", flat=True))
    location = post_form(
        client,
        reverse("admin:contacts_contact_add"),
        {"name": name, "photo": upload("face.png", photo)},
    )
    assert location == reverse("admin:contacts_contact_changelist")
    (contact,) = Contact.objects.exclude(pk__in=before)
    return contact


@pytest.fixture
def client_r2(r2_storage: R2Storage, admin_client: Client) -> Client:
    """The test client logged in as a superuser, with R2Storage as the default storage."""
    return admin_client


def test_add_view_uploads_the_photo_to_the_bucket(client_r2: Client, r2_storage: R2Storage) -> None:
    """A photo posted to the add view is in the bucket under upload_to, byte for byte."""
    contact = add_contact(client_r2, "Ada", RED)
    assert name_of(contact.photo) == "profile_images/face.png"
    assert r2_storage.store.read("profile_images/face.png") == RED
    stat = r2_storage.store.stat("profile_images/face.png")
    assert stat.size == len(RED)
    assert stat.content_type == "image/png"
    with r2_storage.open(name_of(contact.photo)) as stored:
        assert stored.read() == RED


def test_add_view_fills_width_and_height(client_r2: Client) -> None:
    """The ImageField's width and height fields hold the uploaded image's size."""
    contact = add_contact(client_r2, "Ada", WIDE)
    contact.refresh_from_db()
    assert (contact.width, contact.height) == (60, 20)


def test_change_page_links_to_the_proxy_url(client_r2: Client) -> None:
    """The change page links the photo at its media proxy URL, which serves its bytes."""
    contact = add_contact(client_r2, "Ada", RED)
    url = contact.photo.url
    assert url == "/media-proxy/profile_images/face.png"

    page = client_r2.get(reverse("admin:contacts_contact_change", args=[contact.pk]))
    assert page.status_code == 200
    assert f'href="{html.escape(url)}"' in page.content.decode()

    response: Any = client_r2.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == RED


def test_same_filename_twice_keeps_both(client_r2: Client, r2_storage: R2Storage) -> None:
    """A second upload named like the first gets a new name; neither object is overwritten."""
    first = name_of(add_contact(client_r2, "Ada", RED).photo)
    second = name_of(add_contact(client_r2, "Grace", BLUE).photo)
    assert first == "profile_images/face.png"
    assert second != first
    assert second.startswith("profile_images/face")
    assert second.endswith(".png")
    assert r2_storage.store.read(first) == RED
    assert r2_storage.store.read(second) == BLUE
    _, files = r2_storage.listdir("profile_images")
    assert sorted(files) == sorted(name.removeprefix("profile_images/") for name in (first, second))


def test_change_form_replaces_the_photo(client_r2: Client, r2_storage: R2Storage) -> None:
    """A new photo posted to the change view is stored and linked, with its own size."""
    contact = add_contact(client_r2, "Ada", RED)
    change = reverse("admin:contacts_contact_change", args=[contact.pk])
    location = post_form(client_r2, change, {"name": "Ada", "photo": upload("wide.png", WIDE)})
    assert location == reverse("admin:contacts_contact_changelist")

    contact.refresh_from_db()
    assert name_of(contact.photo) == "profile_images/wide.png"
    assert (contact.width, contact.height) == (60, 20)
    assert r2_storage.store.read("profile_images/wide.png") == WIDE
    # Django never deletes the file a field no longer points to: the old one is intact.
    assert r2_storage.store.read("profile_images/face.png") == RED
    page = client_r2.get(change)
    assert 'href="/media-proxy/profile_images/wide.png"' in page.content.decode()
    response: Any = client_r2.get(contact.photo.url)
    assert b"".join(response.streaming_content) == WIDE


def test_change_form_replacing_with_the_same_filename_keeps_the_old_object(
    client_r2: Client, r2_storage: R2Storage
) -> None:
    """Replacing a photo with a file of the same name stores it under a new name."""
    contact = add_contact(client_r2, "Ada", RED)
    change = reverse("admin:contacts_contact_change", args=[contact.pk])
    post_form(client_r2, change, {"name": "Ada", "photo": upload("face.png", BLUE)})

    contact.refresh_from_db()
    assert name_of(contact.photo) != "profile_images/face.png"
    assert r2_storage.store.read(name_of(contact.photo)) == BLUE
    assert r2_storage.store.read("profile_images/face.png") == RED


def test_document_name_is_shortened_to_fit_max_length(
    client_r2: Client, r2_storage: R2Storage
) -> None:
    """A document whose key would pass the field's max_length (40) is stored under one that fits."""
    # 36 characters: the form accepts it (at most 40), but documents/<name> is 46.
    filename = "quarterly-report-final-version-2.pdf"
    data = b"%PDF-1.4\n" + bytes(range(256)) * 16
    contact = Contact.objects.create(name="Ada")
    location = post_form(
        client_r2,
        reverse("admin:contacts_document_add"),
        {
            "contact": contact.pk,
            "file": SimpleUploadedFile(filename, data, content_type="application/pdf"),
        },
    )
    assert location == reverse("admin:contacts_document_changelist")
    (document,) = Document.objects.all()
    assert len(name_of(document.file)) <= 40
    assert name_of(document.file).startswith("documents/quarterly")
    assert name_of(document.file).endswith(".pdf")
    assert r2_storage.store.read(name_of(document.file)) == data
