"""The contact list and the add-contact form."""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import storages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from r2store import LocalConfig, R2Config
from r2store.django import R2Storage
from r2store.django.uploads import bind_uploads

from .forms import ContactForm
from .models import Contact


def where_photos_are() -> str:
    """Where the photos are kept, in a sentence: for the page and the terminal."""
    storage = storages["default"]
    config = storage.store.config if isinstance(storage, R2Storage) else None
    if isinstance(config, LocalConfig):
        return (
            f"Photos are stored in the local folder {config.root} (local mode: USE_R2 is "
            "not set); they stay there across restarts."
        )
    if isinstance(config, R2Config) and settings.CRM_STORAGE == "memory-s3":
        return (
            f"Photos are stored in a local S3 endpoint in memory ({config.endpoint}, bucket "
            f"{config.bucket}); they are gone when run.py stops."
        )
    if isinstance(config, R2Config):
        return f"Photos are stored in the R2 bucket {config.bucket} ({config.endpoint})."
    return f"Photos are stored by {type(storage).__name__}."


def contact_list(request: HttpRequest) -> HttpResponse:
    """Every contact, with its photo."""
    context = {"contacts": Contact.objects.all(), "storage_note": where_photos_are()}
    return render(request, "contacts/list.html", context)


def contact_add(request: HttpRequest) -> HttpResponse:
    """The form; a valid submission saves the contact (and uploads its photo)."""
    # bind_uploads: the attachment's ticket verifies only for whoever asked for it.
    form = bind_uploads(ContactForm(request.POST or None, request.FILES or None), request)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("contacts:list")
    return render(request, "contacts/add.html", {"form": form})
