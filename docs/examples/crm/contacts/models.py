"""A contact and its profile photo, stored wherever STORAGES["default"] says."""

from __future__ import annotations

from django.db import models


class Contact(models.Model):
    """A person, with an optional profile photo."""

    name: models.CharField[str, str] = models.CharField(max_length=100)
    email: models.EmailField[str, str] = models.EmailField(blank=True)
    # Only the key ("profile_images/ada.png") is in the database; the bytes are in R2
    # (or, in local mode, in the folder MEDIA_ROOT).
    photo = models.ImageField(upload_to="profile_images/", blank=True)
    # A large file the browser uploads straight to the bucket (in local mode, into the
    # folder through the media proxy): see forms.py. Room for the key it gets.
    attachment = models.FileField(upload_to="attachments/", blank=True, max_length=200)

    class Meta:
        ordering = ("name", "pk")

    def __str__(self) -> str:
        return self.name
