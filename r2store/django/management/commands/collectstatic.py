"""``collectstatic`` that uploads to an r2store static storage from 8 threads.

Installed when ``"r2store.django"`` comes before ``"django.contrib.staticfiles"`` in
``INSTALLED_APPS`` (Django takes a command from the first app that has it). For any
other storage it is Django's command, unchanged.
"""

from __future__ import annotations

from typing import Any

from django.contrib.staticfiles.management.commands import collectstatic


class Command(collectstatic.Command):
    """Django's ``collectstatic``, its whole collection inside the storage's
    ``uploading()`` block: files go up in the background, and the command ends only
    once all of them are in the bucket, failing if one did not get there."""

    def collect(self) -> dict[str, Any]:
        uploading = getattr(self.storage, "uploading", None)
        if uploading is None:
            return super().collect()
        with uploading():
            return super().collect()
