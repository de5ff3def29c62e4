"""``manage.py r2store_check``: is the R2 configuration valid, and does the bucket work?"""

from __future__ import annotations

import uuid
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError

from ....config import R2Config
from ....errors import ConfigError, R2StoreError
from ....store import R2Store
from ...checks import check_r2store
from .. import default_r2_storage

#: The probe's content: small, and recognisable if a failed run leaves it behind.
_PROBE = b"r2store_check probe: safe to delete\n"


class Command(BaseCommand):
    """Validate the R2 configuration and try the bucket for real."""

    help = (
        "Check the R2 storage: validate the configuration (listing every problem), list "
        "the bucket, then write, read back and delete a small probe object. Prints the "
        "endpoint, bucket and URL mode, never a secret. Exits non-zero unless all is well."
    )
    # r2store's checks run in handle(), reported as part of the result.
    requires_system_checks = ()

    def handle(self, *args: Any, **options: Any) -> None:
        """Run each check in turn; the first failure ends with a CommandError."""
        self._check_configuration()
        storage = default_r2_storage()
        config = storage.store.config
        self.stdout.write("Configuration: valid")
        self.stdout.write(f"  endpoint: {config.endpoint}")
        self.stdout.write(f"  bucket:   {config.bucket}")
        if config.location:
            self.stdout.write(f"  location: {config.location}/")
        self.stdout.write(f"  URL mode: {config.url_mode} ({_url_mode_reason(config)})")
        self._system_checks()
        self._try_bucket(storage.store)
        self.stdout.write(self.style.SUCCESS("All is well."))

    def _check_configuration(self) -> None:
        """Fail, listing every problem, when the default storage cannot be created."""
        try:
            storages["default"]
        except ImproperlyConfigured as exc:
            cause = exc.__cause__
            problems = cause.problems if isinstance(cause, ConfigError) else ()
            if problems:
                self.stderr.write("The R2 configuration is invalid:")
                for problem in problems:
                    self.stderr.write(f"  - {problem}")
                raise CommandError(
                    f"the R2 configuration has {len(problems)} problem(s), listed above"
                ) from exc
            self.stderr.write(str(exc))
            raise CommandError("STORAGES['default'] cannot be created (see above)") from exc

    def _system_checks(self) -> None:
        """Report r2store's system checks; errors among them fail the command."""
        messages = check_r2store()
        for message in messages:
            level = "Error" if message.is_serious() else "Warning"
            hint = f"\n    hint: {message.hint}" if message.hint else ""
            self.stderr.write(f"{level} {message.id}: {message.msg}{hint}")
        errors = [m for m in messages if m.level >= checks.ERROR]
        if errors:
            raise CommandError(f"{len(errors)} system check error(s), listed above")

    def _try_bucket(self, store: R2Store) -> None:
        """List one key, then write, read back and delete a probe under a fresh key."""
        try:
            next(iter(store.list(page_size=1)), None)
        except R2StoreError as exc:
            raise CommandError(f"could not list the bucket: {exc}") from exc
        self.stdout.write("Bucket: listed")
        key = f"r2store-check-{uuid.uuid4().hex}.txt"
        try:
            store.save(key, _PROBE, content_type="text/plain")
        except R2StoreError as exc:
            raise CommandError(f"could not write the probe object {key!r}: {exc}") from exc
        failure: CommandError | None = None
        try:
            if store.read(key) != _PROBE:
                failure = CommandError(f"the probe {key!r} read back is not what was written")
        except R2StoreError as exc:
            failure = CommandError(f"could not read back the probe {key!r}: {exc}")
        try:
            store.delete(key)
        except R2StoreError as exc:
            # An earlier failure is the one to fix first; this one may follow from it.
            failure = failure or CommandError(f"could not delete the probe {key!r}: {exc}")
        if failure is not None:
            raise failure
        self.stdout.write(f"Probe object: written, read back and deleted ({key})")


def _url_mode_reason(config: R2Config) -> str:
    """Why :attr:`R2Config.url_mode` is what it is, in the settings' own words."""
    if config.url_mode == "proxy":
        signed = ", signed" if config.proxy_signing_key else ""
        return (
            f"USE_R2_MEDIA_PROXY is on: media URLs point at this app's {config.proxy_path}{signed}"
        )
    if config.url_mode == "public":
        return f"the proxy is off and a public URL is set: {config.public_url}"
    return (
        "the proxy is off and no public URL is set: URLs are presigned by R2 and "
        f"expire after {config.url_expires_in} s"
    )
