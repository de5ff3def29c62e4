"""The ``r2store`` command: set up the bucket, check the settings, move and sync files, serve.

Configured like the library, by the ``R2_*`` environment variables and a
``.env`` file in the current directory (see :meth:`R2Config.from_env`). As
:func:`~r2store.store_from_env` does, it works on R2 when ``USE_R2`` is true,
else on a :class:`~r2store.LocalStore` folder, saying so on stderr; commands
on the bucket itself (``bucket create``, ``cors``) then exit 2.
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

One module per command group (:mod:`.check`, :mod:`.objects`, :mod:`.bucket`
for ``bucket create`` and ``cors``, :mod:`.sync`, :mod:`.serve`), each adding
its commands to the parser built here; what they share is in ``_context``
(the configuration and store, made on first use), ``_output`` (what is
printed, and the progress line), ``_logging`` (``-v``) and ``_args``
(argument types).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from .._version import __version__
from ..errors import (
    AccessDeniedError,
    BucketNotFoundError,
    ConfigError,
    InvalidKeyError,
    ObjectNotFoundError,
    R2StoreError,
    UpstreamError,
)
from . import bucket, check, objects, serve, sync
from ._context import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PROG,
    CommandError,
    Context,
    Handler,
)
from ._logging import configure_logging, unconfigure_logging
from ._output import config_error_line, err

__all__ = ["main"]


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
configuration: the R2_* environment variables and a .env file, as for the library;
with USE_R2 off (the default), commands work on the folder R2_LOCAL_ROOT (./media).
exit status: 0 ok; 1 the operation failed (R2 error, missing key, network, local
file, failed files in sync); 2 bad usage, invalid key or invalid configuration;
130 interrupted.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Work with the Cloudflare R2 bucket r2store is configured for (with "
        "USE_R2 off, the local folder).",
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

    check.register(command)
    objects.register(command)
    sync.register(command)
    bucket.register(command)
    serve.register(command)
    return parser


# -- main ------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command *argv* (default ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    context = Context(args)
    configure_logging(context)
    handler: Handler = args.handler
    try:
        return handler(context, args)
    except KeyboardInterrupt:
        err(f"{PROG}: interrupted")
        return EXIT_INTERRUPTED
    except CommandError as exc:
        return _fail(context, exc, str(exc), exc.code)
    except ConfigError as exc:
        return _fail(context, exc, config_error_line(exc), EXIT_USAGE)
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
        unconfigure_logging()


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


def _with_next_step(context: Context, exc: R2StoreError) -> str:
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


def _fail(context: Context, exc: BaseException, message: str, code: int) -> int:
    """Print the error line (after the traceback, with ``-v``); return *code*."""
    if context.verbose:
        err(context.redact("".join(traceback.format_exception(exc)).rstrip()))
    err(f"{PROG}: error: {context.redact(message)}")
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
