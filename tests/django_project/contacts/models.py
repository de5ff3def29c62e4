"""Models with file fields, as the apps r2store is for have them."""

from __future__ import annotations

from django.db import models


class Contact(models.Model):
    """A CRM contact with a profile photo."""

    name: models.CharField[str, str] = models.CharField(max_length=100)
    photo = models.ImageField(
        upload_to="profile_images/", width_field="width", height_field="height", blank=True
    )
    width: models.IntegerField[int | None, int | None] = models.IntegerField(null=True)
    height: models.IntegerField[int | None, int | None] = models.IntegerField(null=True)


class Document(models.Model):
    """A file attached to a contact, with a short name limit."""

    contact: models.ForeignKey[Contact | None, Contact | None] = models.ForeignKey(
        Contact, on_delete=models.CASCADE, null=True
    )
    file = models.FileField(upload_to="documents/", max_length=40)
