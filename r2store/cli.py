"""The ``r2store`` command: set up the bucket, check the settings, move and sync files, serve.

Configured like the library, by the ``R2_*`` environment variables and a
``.env`` file in the current directory (see :meth:`R2Config.from_env`).
Stdlib ``argparse`` only; every command is a thin layer over the core.

Exit status:

* ``0``: done, all is well.
* ``1``: the operation failed: R2 refused or could not be reached, the key
  is missing (or exists, for ``put`` without ``--overwrite``), a local file
  could not be read or written, a ``sync`` left files failed, ``check``
  found the bucket unusable.
* ``2``: the command could not start: bad usage, an invalid key, or an
  invalid configuration.
* ``130``: interrupted (Ctrl-C); ``serve`` stopped by Ctrl-C or SIGTERM exits ``0``.

An expected failure prints one line, ``r2store: error: ...``, on stderr and
no traceback; ``-v`` adds the traceback and r2store's debug logging
(``-vv`` also botocore's). Secrets are never printed: error messages never
contain them, and verbose output has them masked as a second line of defence.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ._progress import CountingReader
from ._version import __version__
from .buckets import CORS_METHODS, CORSRule, check_origin
from .config import R2Config, r2_enabled
from .diagnostics import (
    ProbeError,
    endpoint_warnings,
    format_size,
    probe_bucket,
    url_mode_reason,
)
from .errors import (
    AccessDeniedError,
    BucketNotFoundError,
    ConfigError,
    ConfigProblem,
    InvalidKeyError,
    ObjectExistsError,
    ObjectNotFoundError,
    R2StoreError,
    UpstreamError,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .store import R2Store
    from .sync import SyncReport

__all__ = ["main"]

PROG = "r2store"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: The probe ``check`` writes: small, and recognisable if a failed run leaves it behind.
_MAX_EXPIRES = 604800  # 7 days: R2's (and SigV4's) limit for presigned URLs
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class CommandError(Exception):
    """A failure to report as one ``r2store: error:`` line, with its exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


class _Context:
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
            from .store import R2Store

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


# -- output helpers -----------------------------------------------------------


def _out(text: str = "") -> None:
    print(text, file=sys.stdout)


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _show(key: str) -> str:
    """A key as printed: as-is, unless it holds characters that would garble a terminal."""
    return key if key.isprintable() else repr(key)


def _config_error_line(exc: ConfigError) -> str:
    """A :class:`ConfigError` as one line: every problem, by variable, and any hint."""
    problems = "; ".join(str(problem) for problem in exc.problems)
    lines = str(exc).splitlines()
    # ConfigError's message is a heading, one "  - " line per problem, then an optional hint.
    hint = lines[-1] if len(lines) > len(exc.problems) + 1 else ""
    text = f"invalid configuration ({len(exc.problems)} problem(s)): {problems}"
    return f"{text} ({hint})" if hint else text


class _RedactingFormatter(logging.Formatter):
    """Formats log records, then masks secrets (debug logs of other libraries included)."""

    def __init__(self, context: _Context) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self._context = context

    def format(self, record: logging.LogRecord) -> str:
        return self._context.redact(super().format(record))


def _configure_logging(context: _Context) -> None:
    """With ``-v``, r2store's debug logging on stderr; with ``-vv``, botocore's too."""
    if not context.verbose:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter(context))
    names = ["r2store"] + (["botocore", "urllib3"] if context.verbose >= 2 else [])
    for name in names:
        named = logging.getLogger(name)
        named.setLevel(logging.DEBUG)
        named.addHandler(handler)


def _unconfigure_logging() -> None:
    """Remove the handlers ``-v`` added, so that in-process callers see no leftovers."""
    for name in ("r2store", "botocore", "urllib3"):
        named = logging.getLogger(name)
        for handler in list(named.handlers):
            if isinstance(handler.formatter, _RedactingFormatter):
                named.removeHandler(handler)
                named.setLevel(logging.NOTSET)


# -- check --------------------------------------------------------------------


def _host(url: str | None) -> str:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "") if url else ""


def _config_warnings(config: R2Config) -> list[str]:
    """Settings that work, but not as anyone would want in production."""
    found = []
    host = _host(config.public_url)
    if host == "r2.dev" or host.endswith(".r2.dev"):
        used = (
            "pages link to it"
            if config.url_mode == "public"
            else "page URLs go through the proxy now, but public_url() builds links to it"
        )
        found.append(
            f"the public URL uses {host}, an r2.dev domain ({used}): Cloudflare rate-limits "
            "r2.dev and says it is not for production; connect a custom domain to the bucket "
            "and set R2_PUBLIC_DOMAIN to it"
        )
    found += [str(warning) for warning in endpoint_warnings(config)]
    return found


def _cmd_check(context: _Context, args: argparse.Namespace) -> int:
    """Validate the configuration, then reach the bucket with a probe object."""
    problems: list[ConfigProblem] = []
    # USE_R2 is read as the library reads it (Django's storages_from_env): a typo is an error.
    try:
        enabled = r2_enabled(env_file=context.env_file)
    except ConfigError as exc:
        problems += exc.problems
    try:
        config = context.config
    except ConfigError as exc:
        problems[:0] = exc.problems
        hint = str(exc).splitlines()[len(exc.problems) + 1 :]
    else:
        hint = []
    if problems:
        _err("Configuration: invalid")
        for line in str(ConfigError(problems)).splitlines()[1:] + hint:
            _err(line)
        raise CommandError(
            f"the configuration has {len(problems)} problem(s), listed above", EXIT_USAGE
        )
    _out("Configuration: valid")
    _out(f"  endpoint:      {config.endpoint}")
    _out(f"  bucket:        {config.bucket}")
    if config.location:
        _out(f"  location:      {config.location}/")
    # The masked form R2Config's repr uses: enough to tell two tokens apart.
    _out(f"  access key id: {config.access_key_id[:4]}…")
    _out(f"  URL mode:      {config.url_mode}: {url_mode_reason(config)}")
    _out(
        "  USE_R2:        on: storages_from_env() stores in R2"
        if enabled
        else "  USE_R2:        off: storages_from_env() keeps files on the local disk"
    )
    warnings = _config_warnings(config)
    for warning in warnings:
        _err(f"warning: {warning}")
    _check_bucket(context.store)
    if warnings and args.strict:
        raise CommandError(f"{len(warnings)} warning(s), listed above, and --strict was given")
    _out(f"All is well{f', with {len(warnings)} warning(s)' if warnings else ''}.")
    return EXIT_OK


def _check_bucket(store: R2Store) -> None:
    """Probe the bucket: list, then write, read back and delete a probe object."""
    try:
        key = probe_bucket(store)
    except ProbeError as exc:
        if isinstance(exc.__cause__, BucketNotFoundError):
            raise exc.__cause__ from exc  # said with its way out, by main()
        raise CommandError(str(exc)) from exc
    _out("Bucket:        listed")
    _out(f"Probe object:  written, read back and deleted ({key})")


# -- object commands ------------------------------------------------------------


def _cmd_ls(context: _Context, args: argparse.Namespace) -> int:
    """List keys under a prefix, in key order."""
    for stat in context.store.list(args.prefix):
        if args.long:
            modified = f"{stat.last_modified:%Y-%m-%d %H:%M:%S}" if stat.last_modified else "-"
            _out(f"{modified}  {stat.size:>12}  {_show(stat.key)}")
        else:
            _out(_show(stat.key))
    return EXIT_OK


def _cmd_stat(context: _Context, args: argparse.Namespace) -> int:
    """Show an object's metadata (one HeadObject)."""
    stat = context.store.stat(args.key)
    rows: list[tuple[str, object]] = [
        ("key", _show(stat.key)),
        ("size", f"{stat.size} ({format_size(stat.size)})"),
        ("content type", stat.content_type),
        ("etag", stat.etag),
        ("last modified", stat.last_modified.isoformat() if stat.last_modified else None),
        ("cache control", stat.cache_control),
        ("content disposition", stat.content_disposition),
        ("content encoding", stat.content_encoding),
    ]
    rows += [(f"metadata {name}", value) for name, value in sorted(stat.metadata.items())]
    width = max(len(name) for name, _ in rows) + 1
    for name, value in rows:
        if value is not None:
            # Stored values are anyone's bytes (a presigned PUT sends any but CR and
            # LF): an escape sequence must not reach the terminal as it is.
            _out(f"{_show(name) + ':':<{width}} {_show(str(value))}")
    return EXIT_OK


def _cmd_put(context: _Context, args: argparse.Namespace) -> int:
    """Upload a file (or stdin), streamed; refuse to replace an object unless asked."""
    store = context.store
    source: str = args.file
    try:
        if source == "-":
            with _progress_of(sys.stdin.buffer, None) as body:
                store.save(args.key, body, content_type=args.content_type, overwrite=args.overwrite)
            _out(f"uploaded stdin to {_show(args.key)}")
            return EXIT_OK
        with Path(source).open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            with _progress_of(file, size) as body:
                store.save(args.key, body, content_type=args.content_type, overwrite=args.overwrite)
    except ObjectExistsError as exc:
        raise CommandError(f"{exc}; pass --overwrite to replace it") from exc
    except OSError as exc:
        if isinstance(exc, R2StoreError):
            raise
        raise CommandError(f"cannot read {source!r}: {exc.strerror or exc}") from exc
    _out(f"uploaded {source} to {_show(args.key)} ({format_size(size)})")
    return EXIT_OK


@contextlib.contextmanager
def _progress_of(file: IO[bytes], size: int | None) -> Iterator[IO[bytes] | CountingReader]:
    """*file*, counted by a progress line as it is read when stderr is a terminal."""
    progress = _Progress.on_terminal(size)
    if progress is None:
        yield file
        return
    try:
        yield CountingReader(file, progress.add)
    finally:
        progress.finish()


def _counted(chunks: Iterable[bytes], progress: _Progress | None) -> Iterator[bytes]:
    """*chunks*, counted by *progress* as they pass."""
    for chunk in chunks:
        if progress is not None:
            progress.add(len(chunk))
        yield chunk


def _cmd_get(context: _Context, args: argparse.Namespace) -> int:
    """Download an object to a file (atomically) or to stdout, streamed."""
    # The object is opened first: a missing key leaves the local side untouched.
    with context.store.open(args.key) as reader:
        if args.file == "-":
            out = sys.stdout.buffer
            progress = _Progress.on_terminal(reader.size)
            try:
                for chunk in _counted(reader.iter_chunks(), progress):
                    out.write(chunk)
                out.flush()
            finally:
                if progress is not None:
                    progress.finish()
            return EXIT_OK
        target = Path(args.file) if args.file else Path(args.key.rsplit("/", 1)[-1])
        if target.is_dir():
            target = target / args.key.rsplit("/", 1)[-1]
        if not args.overwrite and target.exists():
            # Checked before downloading, and again, atomically, when the file goes in.
            raise CommandError(f"{str(target)!r} already exists; pass --overwrite to replace it")
        progress = _Progress.on_terminal(reader.size)
        try:
            chunks = _counted(reader.iter_chunks(), progress)
            size = _write_atomically(target, chunks, overwrite=args.overwrite)
        finally:
            if progress is not None:
                progress.finish()
    _out(f"downloaded {_show(args.key)} to {target} ({format_size(size)})")
    return EXIT_OK


def _write_atomically(target: Path, chunks: Iterable[bytes], *, overwrite: bool) -> int:
    """Write *chunks* to a temporary file beside *target*, then move it into place.

    A failed or interrupted download leaves *target* as it was (absent, or
    the old file), never a truncated file under its name. Without *overwrite*
    an existing *target* is never replaced, even one that appeared meanwhile.
    Returns the size.
    """
    import tempfile

    directory = target.parent
    try:
        fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise CommandError(f"cannot write to {str(directory)!r}: {exc.strerror or exc}") from exc
    size = 0
    try:
        with os.fdopen(fd, "wb") as file:
            for chunk in chunks:
                file.write(chunk)
                size += len(chunk)
            # On disk before the rename: else a crash could leave an empty file by that name.
            file.flush()
            os.fsync(file.fileno())
        # mkstemp makes the file 0600; a download should get the usual mode, as cp's would.
        # (Reading the umask means setting it; the CLI runs no other threads at this point.)
        umask = os.umask(0)
        os.umask(umask)
        Path(temp).chmod(0o666 & ~umask)
        if overwrite:
            Path(temp).replace(target)
        else:
            _place_new(Path(temp), target)
    except BaseException as exc:
        Path(temp).unlink(missing_ok=True)
        if isinstance(exc, FileExistsError):
            raise CommandError(
                f"{str(target)!r} already exists; pass --overwrite to replace it"
            ) from exc
        if isinstance(exc, OSError) and not isinstance(exc, R2StoreError):
            raise CommandError(f"cannot write {str(target)!r}: {exc.strerror or exc}") from exc
        raise
    return size


def _place_new(temp: Path, target: Path) -> None:
    """Move *temp* to *target*, which must not exist: a hard link is an atomic create."""
    try:
        os.link(temp, target)
    except FileExistsError:
        raise
    except OSError:
        # A file system without hard links: check, then rename (a small race, no worse).
        if target.exists():
            raise FileExistsError(str(target)) from None
        temp.replace(target)
    else:
        temp.unlink()


def _cmd_rm(context: _Context, args: argparse.Namespace) -> int:
    """Delete objects; like rm(1), a key with no object is an error unless ``--force``.

    S3's DeleteObject succeeds for a missing key, so it cannot tell "deleted" from "was not
    there": each key is looked up first (one HEAD), so that what is printed is true and a
    mistyped key does not pass for a deletion.
    """
    store = context.store
    keys = list(dict.fromkeys(args.keys))
    found = [key for key in keys if store.exists(key)]
    missing = [key for key in keys if key not in found]
    if len(found) == 1:
        store.delete(found[0])
    elif found:
        store.delete_many(found)
    for key in found:
        _out(f"deleted {_show(key)}")
    if missing and not args.force:
        named = ", ".join(repr(key) for key in missing)
        raise CommandError(
            f"no object for key {named}, so nothing to delete (pass --force to ignore missing keys)"
            if len(missing) == 1
            else f"no object for keys {named}, so nothing to delete (pass --force to "
            "ignore missing keys)"
        )
    return EXIT_OK


def _cmd_url(context: _Context, args: argparse.Namespace) -> int:
    """Print the URL pages would use for the key (no network)."""
    _out(context.store.url(args.key))
    return EXIT_OK


def _cmd_presign(context: _Context, args: argparse.Namespace) -> int:
    """Print a presigned URL on the R2 endpoint (no network)."""
    url = context.store.presigned_url(
        args.key,
        expires_in=args.expires,
        method=args.method,
        content_type=args.content_type,
    )
    _out(url)
    return EXIT_OK


# -- bucket, cors ----------------------------------------------------------------


def _cmd_bucket_create(context: _Context, args: argparse.Namespace) -> int:
    """Create the configured bucket; one that exists and is usable is not an error."""
    from .buckets import BucketTakenError, create_bucket

    store = context.store
    name = store.config.bucket
    try:
        created = create_bucket(store)
    except BucketTakenError as exc:
        raise CommandError(f"{exc}: choose another name and set R2_BUCKET_NAME to it") from exc
    except AccessDeniedError as exc:
        raise CommandError(
            f"{exc}: creating a bucket needs an R2 API token with Admin Read & Write "
            "permission (an Object Read & Write token cannot); or create the bucket in the "
            "Cloudflare dashboard: R2 > Create bucket"
        ) from exc
    if created:
        _out(f"Created bucket {name} at {store.config.endpoint}.")
    else:
        _out(f"Bucket {name} already exists, and these credentials can use it: nothing to do.")
    _out("Next: `r2store check`; for uploads from browsers, `r2store cors set --origin URL`.")
    return EXIT_OK


def _show_cors(rules: Sequence[CORSRule]) -> None:
    for number, rule in enumerate(rules, 1):
        _out(f"rule {number}:" if len(rules) > 1 else "rule:")
        rows = [
            ("origins", ", ".join(rule.origins)),
            ("methods", ", ".join(rule.methods)),
            ("headers", ", ".join(rule.headers) or "(none)"),
            ("expose headers", ", ".join(rule.expose_headers) or "(none)"),
            ("max age", f"{rule.max_age} s" if rule.max_age is not None else "(browser default)"),
        ]
        for label, value in rows:
            _out(f"  {label + ':':<16} {value}")


def _cmd_cors_show(context: _Context, args: argparse.Namespace) -> int:
    """Print the bucket's CORS rules."""
    from .buckets import get_cors

    store = context.store
    rules = get_cors(store)
    if not rules:
        _out(
            f"Bucket {store.config.bucket} has no CORS rules: browsers cannot upload to it "
            "with presigned URLs. Allow your site with: r2store cors set --origin URL"
        )
        return EXIT_OK
    _out(f"CORS rules of bucket {store.config.bucket}:")
    _show_cors(rules)
    return EXIT_OK


def _cmd_cors_set(context: _Context, args: argparse.Namespace) -> int:
    """Replace the bucket's CORS rules with one rule for browser uploads."""
    from .buckets import get_cors, set_cors

    store = context.store
    defaults = CORSRule(origins=())
    methods: list[str] = args.methods or list(defaults.methods)
    headers: list[str] = args.headers or list(defaults.headers)
    # Repeats dropped, order kept.
    rule = CORSRule(
        origins=dict.fromkeys(args.origins),
        methods=dict.fromkeys(methods),
        headers=dict.fromkeys(headers),
        max_age=args.max_age,
    )
    replaced = [old for old in get_cors(store) if old != rule]
    set_cors(store, [rule])
    earlier = f" (replacing {len(replaced)} earlier rule(s))" if replaced else ""
    _out(f"Set the CORS rules of bucket {store.config.bucket}{earlier}:")
    _show_cors([rule])
    if "*" in rule.origins:
        _err("warning: origin '*' lets any site's pages send these requests to the bucket")
    return EXIT_OK


def _cmd_cors_clear(context: _Context, args: argparse.Namespace) -> int:
    """Remove the bucket's CORS rules."""
    from .buckets import clear_cors

    store = context.store
    clear_cors(store)
    _out(f"Removed the CORS rules of bucket {store.config.bucket}.")
    return EXIT_OK


# -- sync ----------------------------------------------------------------------


class _Progress:
    """One progress line on a terminal, rewritten with ``\\r`` at most ten times a second:
    files (for sync), bytes, rate and time left.

    File names are left out: they vary in length and may hold control characters.
    Thread-safe: sync's upload threads report bytes.
    """

    def __init__(self, stream: IO[str], total: int | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._last = 0.0
        self._width = 0
        self._files: tuple[int, int] | None = None
        self._done = 0
        self._total = total

    @classmethod
    def on_terminal(cls, total: int | None = None) -> _Progress | None:
        """A progress line on stderr if it is a terminal; in a log or a pipe it is noise."""
        return cls(sys.stderr, total) if sys.stderr.isatty() else None

    def files(self, done: int, total: int, path: str) -> None:
        """Sync's ``progress`` callback: *done* of *total* files settled."""
        with self._lock:
            self._files = (done, total)
            self._show(final=done == total)

    def bytes(self, done: int, total: int) -> None:
        """Sync's ``byte_progress`` callback: *done* of *total* bytes settled."""
        with self._lock:
            self._done, self._total = done, total
            self._show()

    def add(self, count: int) -> None:
        """*count* more bytes moved (negative: an upload rewound to retry)."""
        with self._lock:
            self._done += count
            self._show()

    def _show(self, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < 0.1:
            return
        self._last = now
        parts = []
        if self._files is not None:
            done, total = self._files
            parts.append(f"{done}/{total} files ({done * 100 // total}%)")
        moved = format_size(self._done)
        if self._total:
            percent = "" if self._files else f" ({self._done * 100 // self._total}%)"
            parts.append(f"{moved} of {format_size(self._total)}{percent}")
        elif self._files is None:
            parts.append(moved)
        elapsed = now - self._start
        if elapsed >= 0.5 and self._done > 0:
            rate = self._done / elapsed
            parts.append(f"{format_size(int(rate))}/s")
            if self._total and self._done < self._total:
                left = int((self._total - self._done) / rate)
                parts.append(f"{left // 60}:{left % 60:02d} left")
        line = ", ".join(parts)
        # Spaces over what a longer line before left behind.
        self._stream.write(f"\r{line:<{self._width}}")
        self._stream.flush()
        self._width = len(line)

    def finish(self) -> None:
        """Show the last state and end the line, so that what follows starts a line."""
        with self._lock:
            if self._width or self._done:
                self._show(final=True)
                self._width = 0
                self._stream.write("\n")
                self._stream.flush()


def _cmd_sync(context: _Context, args: argparse.Namespace) -> int:
    """Upload a folder, skipping files whose object already matches; optionally delete extras."""
    from .sync import sync_directory

    store = context.store
    local_dir: str = args.local_dir
    if not Path(local_dir).is_dir():
        raise CommandError(f"not a directory: {local_dir!r}")
    config = store.config
    prefix = args.prefix.strip("/")
    target = "/".join(part for part in (config.bucket, config.location, prefix) if part) + "/"
    verb = "Dry run: comparing" if args.dry_run else "Syncing"
    _out(f"{verb} {local_dir} with {target}")
    progress = _Progress.on_terminal()
    try:
        report = sync_directory(
            store,
            local_dir,
            prefix,
            dry_run=args.dry_run,
            delete=args.delete,
            workers=args.workers,
            progress=progress.files if progress else None,
            byte_progress=progress.bytes if progress else None,
        )
    except KeyboardInterrupt:
        if progress is not None:
            progress.finish()  # the message goes on a line of its own
        _err(
            f"{PROG}: interrupted; files uploaded so far are complete, and are skipped when "
            "the same command runs again"
        )
        return EXIT_INTERRUPTED
    finally:
        if progress is not None:
            progress.finish()
    _summarise(report, context.verbose)
    if report.failed:
        raise CommandError(
            f"{len(report.failed)} file(s) failed (listed above); run the same command again "
            "to retry them (files already uploaded are skipped)"
        )
    return EXIT_OK


def _summarise(report: SyncReport, verbose: int) -> None:
    """List what was (or would be) done, the failures, and one summary line."""
    would = "would " if report.dry_run else ""
    # A dry run's point is the list; otherwise it is shown on request (-v).
    if report.dry_run or verbose:
        for key in report.uploaded:
            _out(f"{would}upload: {_show(key)}")
        for key in report.deleted:
            _out(f"{would}delete: {_show(key)}")
    for path, message in report.failed:
        # repr: a file name may hold control characters or undecodable bytes.
        _err(f"failed: {path!r}: {message}")
    uploaded, deleted = ("Would upload", "would delete") if would else ("Uploaded", "deleted")
    summary = (
        f"{uploaded} {len(report.uploaded)} file(s) ({format_size(report.bytes_uploaded)}), "
        f"skipped {len(report.skipped)} unchanged, {deleted} {len(report.deleted)}"
    )
    if report.failed:
        summary += f", {len(report.failed)} failed"
    _out(summary + ".")


# -- serve ---------------------------------------------------------------------


def _not_found(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    """The app under the proxy: everything outside the proxy path is a 404."""
    body = b"Not Found: media is served under the proxy path\n"
    start_response(
        "404 Not Found",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _cmd_serve(context: _Context, args: argparse.Namespace) -> int:
    """Run the media proxy on its own, with the stdlib's WSGI server, until Ctrl-C or SIGTERM."""
    import socket
    import socketserver
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

    from .wsgi import R2ProxyMiddleware

    store = context.store
    config = store.config
    host: str = args.host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Server(socketserver.ThreadingMixIn, WSGIServer):
        # One thread per request: a slow download must not hold up the next page.
        daemon_threads = True
        block_on_close = False
        address_family = family

    try:
        server = Server((host, args.port), WSGIRequestHandler)
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{args.port}: {exc.strerror or exc}") from exc
    server.set_app(R2ProxyMiddleware(_not_found, store))
    port = server.server_address[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    # The handlers go in before the first line: whoever waits for it may signal at once.
    with server, _stopped_by_signals():
        _out(f"Serving bucket {config.bucket} at http://{shown}:{port}{config.proxy_path}<key>")
        if host not in _LOOPBACK:
            _err(f"warning: listening on {host}: anyone who can reach it can read the bucket")
        if config.proxy_signing_key:
            _err("note: R2_PROXY_SIGNING_KEY is set, so URLs must be signed: see `r2store url`")
        _out("Press Ctrl-C to stop.")
        sys.stdout.flush()
        server.serve_forever()
    return EXIT_OK


class _Stop(BaseException):
    """SIGTERM or SIGINT arrived: stop serving.

    A BaseException, as KeyboardInterrupt is: the server's ``except Exception`` around each
    request would otherwise take it for a failed request and keep serving.
    """


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """End the block, saying "Stopped.", on SIGTERM or SIGINT (raised as :class:`_Stop`).

    Installed explicitly: a container's stop is SIGTERM, and a process started with
    SIGINT ignored (nohup, a background job, some CI) gets no KeyboardInterrupt at all.
    """
    import signal

    def stop(signum: int, frame: object) -> None:
        raise _Stop(signal.Signals(signum).name)

    saved = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except _Stop:
        _out("Stopped.")
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


# -- the parser ------------------------------------------------------------------


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _expires(value: str) -> int:
    number = _positive(value)
    if number > _MAX_EXPIRES:
        raise argparse.ArgumentTypeError(f"must be at most {_MAX_EXPIRES} (7 days), got {number}")
    return number


def _seconds(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {number}")
    return number


def _origin(value: str) -> str:
    try:
        return check_origin(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, got {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 0 to 65535, got {number}")
    return number


class _EnvFile(argparse.Action):
    """Stores ``--env-file`` and remembers that it was given (a missing file is then an error)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        namespace.env_file = values
        namespace.env_file_given = True


_EPILOG = """\
configuration: the R2_* environment variables and a .env file, as for the library.
exit status: 0 ok; 1 the operation failed (R2 error, missing key, network, local
file, failed files in sync); 2 bad usage, invalid key or invalid configuration;
130 interrupted.
"""

Handler = Callable[[_Context, argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Work with the Cloudflare R2 bucket r2store is configured for.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # Also accepted after the command (`r2store ls -v`); SUPPRESS keeps it from
    # resetting a count given before the command.
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="on errors show the traceback; log r2store's requests (-vv: botocore's too)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="on errors show the traceback; log r2store's requests (-vv: botocore's too)",
    )
    parser.add_argument(
        "--env-file",
        action=_EnvFile,
        default=".env",
        metavar="PATH",
        help="read variables from this file (default: .env, if present); the environment wins",
    )
    parser.set_defaults(env_file_given=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        name: str, handler: Handler | None, summary: str, group: Any = commands
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(
            name, help=summary, description=summary, parents=[verbose]
        )
        if handler is not None:
            sub.set_defaults(handler=handler)
        return sub

    check = command(
        "check",
        _cmd_check,
        "Validate the configuration (every problem at once), then list the bucket and "
        "write, read back and delete a probe object.",
    )
    check.add_argument("--strict", action="store_true", help="fail on warnings too")

    ls = command("ls", _cmd_ls, "List object keys under PREFIX, in key order.")
    ls.add_argument("prefix", nargs="?", default="", metavar="PREFIX", help="a key prefix")
    ls.add_argument(
        "-l", "--long", action="store_true", help="also show last-modified time (UTC) and size"
    )

    put = command("put", _cmd_put, "Upload FILE (or - for stdin) as KEY, streamed.")
    put.add_argument("file", metavar="FILE")
    put.add_argument("key", metavar="KEY")
    put.add_argument("--content-type", metavar="TYPE", help="default: guessed from KEY")
    put.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing object (by default an existing KEY is refused)",
    )

    get = command(
        "get",
        _cmd_get,
        "Download KEY to FILE (default: its name, in the current directory) or to - (stdout). "
        "The file appears whole or not at all.",
    )
    get.add_argument("key", metavar="KEY")
    get.add_argument("file", nargs="?", metavar="FILE|-")
    get.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing FILE (by default an existing file is refused)",
    )

    rm = command(
        "rm",
        _cmd_rm,
        "Delete objects. A key with no object is an error (exit 1), unless --force.",
    )
    rm.add_argument("keys", nargs="+", metavar="KEY")
    rm.add_argument(
        "-f", "--force", action="store_true", help="pass over keys with no object, quietly"
    )

    url = command("url", _cmd_url, "Print the URL pages use for KEY, by the URL mode.")
    url.add_argument("key", metavar="KEY")

    presign = command("presign", _cmd_presign, "Print a presigned URL for KEY on the R2 endpoint.")
    presign.add_argument("key", metavar="KEY")
    presign.add_argument(
        "--expires",
        type=_expires,
        metavar="SECONDS",
        help="lifetime, 1 to 604800 (default: R2_URL_EXPIRES_IN, else 3600)",
    )
    presign.add_argument(
        "--method",
        type=str.upper,
        choices=("GET", "HEAD", "PUT", "DELETE"),
        default="GET",
        help="the request the URL allows (default GET)",
    )
    presign.add_argument(
        "--content-type",
        metavar="TYPE",
        help="PUT: the Content-Type the uploader must send; GET: the type to answer with",
    )

    stat = command("stat", _cmd_stat, "Show the metadata of KEY.")
    stat.add_argument("key", metavar="KEY")

    sync = command(
        "sync",
        _cmd_sync,
        "Upload every file under LOCAL_DIR to PREFIX, skipping those whose object already "
        "matches (size and MD5): safe to run again after an interruption.",
    )
    sync.add_argument("local_dir", metavar="LOCAL_DIR")
    sync.add_argument("prefix", nargs="?", default="", metavar="PREFIX")
    sync.add_argument(
        "--dry-run", action="store_true", help="say what would change; change nothing"
    )
    sync.add_argument(
        "--delete",
        action="store_true",
        help="also delete objects under PREFIX that no local file names",
    )
    sync.add_argument(
        "--workers", type=_positive, default=8, metavar="N", help="uploads at once (default 8)"
    )

    bucket = command("bucket", None, "Create the bucket R2_BUCKET_NAME names.")
    bucket_commands = bucket.add_subparsers(dest="bucket_command", metavar="COMMAND", required=True)
    command(
        "create",
        _cmd_bucket_create,
        "Create the bucket R2_BUCKET_NAME names (one that exists and is yours is left as is). "
        "On R2 this needs an API token with Admin Read & Write permission.",
        bucket_commands,
    )

    cors = command(
        "cors",
        None,
        "Show or set the bucket's CORS rules, which browsers need before they can upload "
        "with presigned URLs.",
    )
    cors_commands = cors.add_subparsers(dest="cors_command", metavar="COMMAND", required=True)
    command("show", _cmd_cors_show, "Print the bucket's CORS rules.", cors_commands)
    cors_set = command(
        "set",
        _cmd_cors_set,
        "Replace the bucket's CORS rules with one rule that lets pages from ORIGIN upload "
        "(PUT) and read (GET, HEAD) objects, sending a Content-Type.",
        cors_commands,
    )
    cors_set.add_argument(
        "--origin",
        dest="origins",
        action="append",
        required=True,
        type=_origin,
        metavar="ORIGIN",
        help="a site allowed, like https://app.example.com (no path, no trailing /); repeat "
        "for more; * allows any site",
    )
    cors_set.add_argument(
        "--method",
        dest="methods",
        action="append",
        type=str.upper,
        choices=CORS_METHODS,
        metavar="METHOD",
        help=f"a method allowed, one of {', '.join(CORS_METHODS)}; repeat for more "
        "(default: PUT, GET and HEAD)",
    )
    cors_set.add_argument(
        "--header",
        dest="headers",
        action="append",
        metavar="HEADER",
        help="a request header pages may send; repeat for more (default: Content-Type)",
    )
    cors_set.add_argument(
        "--max-age",
        type=_seconds,
        default=3600,
        metavar="SECONDS",
        help="how long browsers may cache the rules (default 3600)",
    )
    command("clear", _cmd_cors_clear, "Remove the bucket's CORS rules.", cors_commands)

    serve = command(
        "serve",
        _cmd_serve,
        "Serve the bucket through the media proxy, for a quick look (stdlib server; Ctrl-C "
        "or SIGTERM stops it).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    serve.add_argument("--port", type=_port, default=8000, help="default 8000; 0 picks a free port")
    return parser


# -- main ------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command *argv* (default ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    context = _Context(args)
    _configure_logging(context)
    handler: Handler = args.handler
    try:
        return handler(context, args)
    except KeyboardInterrupt:
        _err(f"{PROG}: interrupted")
        return EXIT_INTERRUPTED
    except CommandError as exc:
        return _fail(context, exc, str(exc), exc.code)
    except ConfigError as exc:
        return _fail(context, exc, _config_error_line(exc), EXIT_USAGE)
    except InvalidKeyError as exc:
        return _fail(context, exc, str(exc), EXIT_USAGE)
    except R2StoreError as exc:
        return _fail(context, exc, _with_next_step(context, exc), EXIT_FAILED)
    except BrokenPipeError:
        return _broken_pipe()
    except OSError as exc:
        return _fail(context, exc, str(exc), EXIT_FAILED)
    except Exception as exc:
        # A bug, or an error no one mapped: still one line, but say how to see more.
        message = f"unexpected {type(exc).__name__}: {exc}"
        if not context.verbose:
            message += " (run with -v for the traceback)"
        return _fail(context, exc, message, EXIT_FAILED)
    finally:
        context.close()
        _unconfigure_logging()


def _error_code(exc: BaseException) -> str:
    """The S3 error code behind *exc* (from the botocore or transport error it was mapped
    from), or ""."""
    cause: BaseException | None = exc
    while cause is not None:
        response: Any = getattr(cause, "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code", ""))
        cause = cause.__cause__
    return ""


def _with_next_step(context: _Context, exc: R2StoreError) -> str:
    """*exc*'s message and what to do about it, naming the settings involved."""
    config = context._config
    bucket = repr(config.bucket) if config else "R2_BUCKET_NAME"
    if isinstance(exc, BucketNotFoundError):
        where = f" at {config.endpoint}" if config else ""
        return (
            f"bucket {bucket} does not exist{where}: create it with `r2store bucket create` "
            "(or in the Cloudflare dashboard), or set R2_BUCKET_NAME to an existing bucket"
        )
    if isinstance(exc, AccessDeniedError):
        code = _error_code(exc)
        if code == "InvalidAccessKeyId":
            fix = "R2 does not know R2_ACCESS_KEY_ID: copy it again from the R2 API token"
        elif code == "SignatureDoesNotMatch":
            fix = (
                "R2_SECRET_ACCESS_KEY is not the secret of R2_ACCESS_KEY_ID: copy both from "
                "the same R2 API token"
            )
        else:
            fix = (
                "check that R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY come from an R2 API "
                f"token with Object Read & Write permission on bucket {bucket}"
            )
        return f"{exc}: {fix}"
    if isinstance(exc, UpstreamError):
        where = f"; endpoint: {config.endpoint}" if config else ""
        if str(exc).startswith(("could not talk to R2", "R2 did not answer")):
            fix = "check R2_ENDPOINT_URL (or R2_ACCOUNT_ID) and the network, then try again"
        else:
            fix = "R2 failed: try again later"
        return f"{exc}{where} ({fix})"
    if isinstance(exc, ObjectNotFoundError) and context.args.command in ("get", "stat"):
        return f"{exc} (`r2store ls PREFIX` lists the keys there are)"
    return str(exc)


def _fail(context: _Context, exc: BaseException, message: str, code: int) -> int:
    """Print the error line (after the traceback, with ``-v``); return *code*."""
    if context.verbose:
        _err(context.redact("".join(traceback.format_exception(exc)).rstrip()))
    _err(f"{PROG}: error: {context.redact(message)}")
    return code


def _broken_pipe() -> int:
    """The reader of stdout went away (``r2store ls | head``): stop quietly."""
    # Python would complain again when flushing stdout at exit; point it at devnull.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file descriptor (in-process callers): nothing to flush
    return EXIT_FAILED
