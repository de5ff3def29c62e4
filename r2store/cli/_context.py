"""What every command shares: exit statuses, the error a command reports, and the
configuration and store, made on first use."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..config import R2Config, r2_enabled
from ..localconfig import LocalConfig
from ._output import err

if TYPE_CHECKING:
    from ..localstore import LocalStore
    from ..protocol import Store
    from ..store import R2Store

PROG = "r2store"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A failure to report as one ``r2store: error:`` line, with its exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


class Context:
    """What a command needs: the configuration and store, made on first use.

    The store is the one the library's :func:`~r2store.store_from_env` would
    choose (``USE_R2`` true: R2, else a folder), read with ``--env-file``.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.verbose: int = args.verbose
        self._use_r2: bool | None = None
        self._config: R2Config | None = None
        self._local_config: LocalConfig | None = None
        self._r2_store: R2Store | None = None
        self._local_store: LocalStore | None = None

    @property
    def env_file(self) -> str:
        """The ``.env`` file to read; raises :class:`CommandError` if ``--env-file`` named none."""
        env_file: str = self.args.env_file
        if self.args.env_file_given and not Path(env_file).is_file():
            raise CommandError(f"--env-file: no such file: {env_file!r}", EXIT_USAGE)
        return env_file

    @property
    def use_r2(self) -> bool:
        """Whether ``USE_R2`` is on, read as the library reads it; raises :class:`ConfigError`
        for a value that is not a boolean."""
        if self._use_r2 is None:
            self._use_r2 = r2_enabled(env_file=self.env_file)
        return self._use_r2

    @property
    def config(self) -> R2Config:
        """The R2 configuration from the environment; raises :class:`ConfigError`."""
        if self._config is None:
            self._config = R2Config.from_env(env_file=self.env_file)
        return self._config

    @property
    def local_config(self) -> LocalConfig:
        """Local mode's configuration from the environment; raises :class:`ConfigError`."""
        if self._local_config is None:
            self._local_config = LocalConfig.from_env(env_file=self.env_file)
        return self._local_config

    @property
    def local_folder(self) -> Path:
        """The folder local mode keeps objects in: ``R2_LOCAL_ROOT``, and ``R2_LOCATION`` in it."""
        config = self.local_config
        return Path(config.root, config.location)

    @property
    def place(self) -> str:
        """Where the objects are, for people: ``bucket NAME``, or ``the local folder PATH``."""
        if self.use_r2:
            return f"bucket {self.config.bucket}"
        return f"the local folder {self.local_folder}"

    @property
    def store(self) -> Store:
        """The store ``USE_R2`` chooses (no network until a request is made).

        In local mode it first says so on stderr, naming the folder: nobody should put
        files in a folder believing they went to R2.
        """
        if self.use_r2:
            return self.r2_store()
        if self._local_store is None:
            err(
                f"note: USE_R2 is off, so this works on the local folder {self.local_folder}, "
                "not on R2"
            )
        return self.local_store()

    def r2_store(self) -> R2Store:
        """An R2Store for the R2 configuration, whatever ``USE_R2`` says."""
        if self._r2_store is None:
            # Imported here: `r2store url` and `--help` need no store module.
            from ..store import R2Store

            self._r2_store = R2Store(self.config)
        return self._r2_store

    def local_store(self) -> LocalStore:
        """A LocalStore for local mode's configuration, whatever ``USE_R2`` says."""
        if self._local_store is None:
            from ..localstore import LocalStore

            self._local_store = LocalStore(self.local_config)
        return self._local_store

    def require_r2(self, command: str) -> R2Store:
        """The R2 store, for *command*, which works on a bucket itself: in local mode there is
        none, which is a :class:`CommandError` (exit status 2)."""
        if not self.use_r2:
            raise CommandError(
                f"`{PROG} {command}` works on R2 only, and USE_R2 is off (local mode): set "
                "USE_R2=true and the R2_* variables to use it",
                EXIT_USAGE,
            )
        return self.r2_store()

    def secrets(self) -> list[str]:
        """The secret values that output must never show."""
        found: list[str | None] = []
        if self._config is not None:
            found += [self._config.secret_access_key, self._config.proxy_signing_key]
        if self._local_config is not None:
            found.append(self._local_config.proxy_signing_key)
        return [value for value in found if value]

    def redact(self, text: str) -> str:
        """*text* with every secret masked."""
        for secret in self.secrets():
            text = text.replace(secret, "***")
        return text

    def close(self) -> None:
        """Close the S3 client's connections, if one was made."""
        if self._r2_store is not None:
            self._r2_store.close()
        if self._local_store is not None:
            self._local_store.close()


Handler = Callable[[Context, argparse.Namespace], int]


class AddCommand(Protocol):
    """Adds a command (to the top level, or to *group*) and returns its parser."""

    def __call__(
        self, name: str, handler: Handler | None, summary: str, group: Any = ...
    ) -> argparse.ArgumentParser: ...
