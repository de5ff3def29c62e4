"""What every command shares: exit statuses, the error a command reports, and the
configuration and store, made on first use."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..config import R2Config

if TYPE_CHECKING:
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
    """What a command needs: the configuration and store, made on first use."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.verbose: int = args.verbose
        self._config: R2Config | None = None
        self._store: R2Store | None = None

    @property
    def config(self) -> R2Config:
        """The configuration from the environment; raises :class:`ConfigError`."""
        if self._config is None:
            self._config = R2Config.from_env(env_file=self.env_file)
        return self._config

    @property
    def env_file(self) -> str:
        """The ``.env`` file to read; raises :class:`CommandError` if ``--env-file`` named none."""
        env_file: str = self.args.env_file
        if self.args.env_file_given and not Path(env_file).is_file():
            raise CommandError(f"--env-file: no such file: {env_file!r}", EXIT_USAGE)
        return env_file

    @property
    def store(self) -> R2Store:
        """A store for the configuration (no network until a request is made)."""
        if self._store is None:
            # Imported here: `r2store url` and `--help` need no store module.
            from ..store import R2Store

            self._store = R2Store(self.config)
        return self._store

    def secrets(self) -> list[str]:
        """The secret values that output must never show."""
        if self._config is None:
            return []
        found = [self._config.secret_access_key, self._config.proxy_signing_key]
        return [value for value in found if value]

    def redact(self, text: str) -> str:
        """*text* with every secret masked."""
        for secret in self.secrets():
            text = text.replace(secret, "***")
        return text

    def close(self) -> None:
        """Close the S3 client's connections, if one was made."""
        if self._store is not None:
            self._store.close()


Handler = Callable[[Context, argparse.Namespace], int]


class AddCommand(Protocol):
    """Adds a command (to the top level, or to *group*) and returns its parser."""

    def __call__(
        self, name: str, handler: Handler | None, summary: str, group: Any = ...
    ) -> argparse.ArgumentParser: ...
