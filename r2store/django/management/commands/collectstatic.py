"""``collectstatic`` for r2store's static storages: parallel uploads, decided by content.

Installed when ``"r2store.django"`` comes before ``"django.contrib.staticfiles"`` in
``INSTALLED_APPS`` (Django takes a command from the first app that has it). For any
other storage it is Django's command, unchanged.
"""

from __future__ import annotations

from typing import Any

from django.contrib.staticfiles.management.commands import collectstatic

from ...static import R2StaticStorage


class Command(collectstatic.Command):
    """Django's ``collectstatic``, with two changes for an r2store static storage.

    - The whole collection runs inside the storage's ``uploading()`` block: files go up
      in the background, and the command ends only once all of them are in the bucket,
      failing if one did not get there. With ``--clear``, every file is sent again, so
      changed headers (``cache_control``, ``compress``) reach every object.
    - A file is copied when its content differs from the bucket's, not when its
      modification time is newer: a fresh checkout (every file newer) uploads nothing
      new, and a change that keeps the size and time (a build with pinned times) is
      not missed. The summary counts what was sent as copied and the rest as
      unmodified.
    """

    def collect(self) -> dict[str, Any]:
        if not self._ours():
            return super().collect()
        with self.storage.uploading(rewrite=self.clear):
            return super().collect()

    def _ours(self) -> bool:
        return isinstance(self.storage, R2StaticStorage)

    def copy_file(self, path: str, prefixed_path: str, source_storage: Any) -> None:
        if not self._ours() or self.symlink:
            return super().copy_file(path, prefixed_path, source_storage)
        if prefixed_path in self.copied_files or prefixed_path in self.unmodified_files:
            return self.log(f"Skipping '{path}' (already copied earlier)")
        with source_storage.open(path) as source_file:
            changed = self.storage.save_changed(prefixed_path, source_file, dry_run=self.dry_run)
        if not changed:
            self.log(f"Skipping '{path}' (not modified)")
            self.unmodified_files.append(prefixed_path)
            return None
        verb = "Pretending to copy" if self.dry_run else "Copying"
        self.log(f"{verb} '{source_storage.path(path)}'", level=1 if self.dry_run else 2)
        self.copied_files.append(prefixed_path)
        return None
