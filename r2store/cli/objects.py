"""The object commands: ``ls``, ``put``, ``get``, ``rm``, ``url``, ``presign``, ``stat``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from ..diagnostics import format_size
from ..errors import InvalidKeyError, ObjectExistsError, R2StoreError
from ._args import expires
from ._context import EXIT_OK, EXIT_USAGE, AddCommand, CommandError, Context
from ._output import Progress, counted, out, progress_of, show


def register(command: AddCommand) -> None:
    """Add the object commands."""
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
        type=expires,
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


def _cmd_ls(context: Context, args: argparse.Namespace) -> int:
    """List keys under a prefix, in key order."""
    for stat in context.store.list(args.prefix):
        if args.long:
            modified = f"{stat.last_modified:%Y-%m-%d %H:%M:%S}" if stat.last_modified else "-"
            out(f"{modified}  {stat.size:>12}  {show(stat.key)}")
        else:
            out(show(stat.key))
    return EXIT_OK


def _cmd_stat(context: Context, args: argparse.Namespace) -> int:
    """Show an object's metadata (one HeadObject)."""
    stat = context.store.stat(args.key)
    rows: list[tuple[str, object]] = [
        ("key", show(stat.key)),
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
            out(f"{show(name) + ':':<{width}} {show(str(value))}")
    return EXIT_OK


def _cmd_put(context: Context, args: argparse.Namespace) -> int:
    """Upload a file (or stdin), streamed; refuse to replace an object unless asked."""
    store = context.store
    source: str = args.file
    try:
        if source == "-":
            with progress_of(sys.stdin.buffer, None) as body:
                store.save(args.key, body, content_type=args.content_type, overwrite=args.overwrite)
            out(f"uploaded stdin to {show(args.key)}")
            return EXIT_OK
        with Path(source).open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            with progress_of(file, size) as body:
                store.save(args.key, body, content_type=args.content_type, overwrite=args.overwrite)
    except ObjectExistsError as exc:
        raise CommandError(f"{exc}; pass --overwrite to replace it") from exc
    except OSError as exc:
        if isinstance(exc, R2StoreError):
            raise
        raise CommandError(f"cannot read {source!r}: {exc.strerror or exc}") from exc
    out(f"uploaded {source} to {show(args.key)} ({format_size(size)})")
    return EXIT_OK


def _cmd_get(context: Context, args: argparse.Namespace) -> int:
    """Download an object to a file (atomically) or to stdout, streamed."""
    # The object is opened first: a missing key leaves the local side untouched.
    with context.store.open(args.key) as reader:
        if args.file == "-":
            stdout = sys.stdout.buffer
            progress = Progress.on_terminal(reader.size)
            try:
                for chunk in counted(reader.iter_chunks(), progress):
                    stdout.write(chunk)
                stdout.flush()
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
        progress = Progress.on_terminal(reader.size)
        try:
            chunks = counted(reader.iter_chunks(), progress)
            size = _write_atomically(target, chunks, overwrite=args.overwrite)
        finally:
            if progress is not None:
                progress.finish()
    out(f"downloaded {show(args.key)} to {target} ({format_size(size)})")
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


def _cmd_rm(context: Context, args: argparse.Namespace) -> int:
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
        out(f"deleted {show(key)}")
    if missing and not args.force:
        named = ", ".join(repr(key) for key in missing)
        raise CommandError(
            f"no object for key {named}, so nothing to delete (pass --force to ignore missing keys)"
            if len(missing) == 1
            else f"no object for keys {named}, so nothing to delete (pass --force to "
            "ignore missing keys)"
        )
    return EXIT_OK


def _cmd_url(context: Context, args: argparse.Namespace) -> int:
    """Print the URL pages would use for the key (no network)."""
    out(context.store.url(args.key))
    return EXIT_OK


def _cmd_presign(context: Context, args: argparse.Namespace) -> int:
    """Print a presigned URL on the R2 endpoint (no network); in local mode, a signed media
    proxy URL, which needs R2_PROXY_SIGNING_KEY."""
    store = context.store
    try:
        url = store.presigned_url(
            args.key,
            expires_in=args.expires,
            method=args.method,
            content_type=args.content_type,
        )
    except InvalidKeyError:
        raise
    except R2StoreError as exc:
        if context.use_r2:
            raise
        # What local mode cannot presign is a setting away: a usage error, as for bucket create.
        raise CommandError(f"{exc} (with USE_R2=true, it presigns on R2)", EXIT_USAGE) from exc
    out(url)
    return EXIT_OK
