"""The contact list and the add-contact form."""

from __future__ import annotations

from django.core.files.storage import storages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from r2store.django import R2Storage

from .forms import ContactForm
from .models import Contact


def contact_list(request: HttpRequest) -> HttpResponse:
    """Every contact, with its photo."""
    storage = storages["default"]
    bucket = storage.store.config.bucket if isinstance(storage, R2Storage) else None
    context = {"contacts": Contact.objects.all(), "bucket": bucket}
    return render(request, "contacts/list.html", context)


def contact_add(request: HttpRequest) -> HttpResponse:
    """The form; a valid submission saves the contact (and uploads its photo)."""
    form = ContactForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("contacts:list")
    return render(request, "contacts/add.html", {"form": form})
