"""``manage.py r2store_check``: is the configuration valid, and does the bucket (or, in
local mode, the folder) work?"""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError

from ....config import R2Config
from ....diagnostics import ProbeError, probe_bucket, url_mode_reason
from ....errors import ConfigError
from ....localconfig import LocalConfig
from ....protocol import Store
from ...checks import check_r2store
from .. import default_r2_storage


class Command(BaseCommand):
    """Validate the configuration and try the bucket (or the local folder) for real."""

    help = (
        "Check the R2 storage: validate the configuration (listing every problem), list "
        "the bucket, then write, read back and delete a small probe object. Prints the "
        "endpoint, bucket and URL mode, never a secret. In local mode (USE_R2 off) the "
        "same checks run on the local folder, and it is named instead. Exits non-zero "
        "unless all is well."
    )
    # r2store's checks run in handle(), reported as part of the result.
    requires_system_checks = ()

    def handle(self, *args: Any, **options: Any) -> None:
        """Run each check in turn; the first failure ends with a CommandError."""
        self._check_configuration()
        storage = default_r2_storage()
        config = storage.store.config
        place = "Bucket"
        if isinstance(config, LocalConfig):
            place = "Folder"
            self.stdout.write("Configuration: valid (local mode: USE_R2 is off)")
            self.stdout.write(f"  folder:   {config.root}")
        else:
            self.stdout.write("Configuration: valid")
        if isinstance(config, R2Config):
            self.stdout.write(f"  endpoint: {config.endpoint}")
            self.stdout.write(f"  bucket:   {config.bucket}")
        if config.location:
            self.stdout.write(f"  location: {config.location}/")
        self.stdout.write(f"  URL mode: {config.url_mode} ({url_mode_reason(config)})")
        self._system_checks()
        self._try_bucket(storage.store, place)
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

    def _try_bucket(self, store: Store, place: str) -> None:
        """Probe the bucket (or folder): list, then write, read back and delete a probe
        object."""
        try:
            key = probe_bucket(store)
        except ProbeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{place}: listed")
        self.stdout.write(f"Probe object: written, read back and deleted ({key})")
