"""``r2store serve``: the media proxy on its own, with the stdlib's WSGI server."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from . import _args
from ._context import EXIT_OK, AddCommand, CommandError, Context
from ._output import err, out

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def register(command: AddCommand) -> None:
    """Add ``serve``."""
    serve = command(
        "serve",
        _cmd_serve,
        "Serve the bucket (with USE_R2 off, the local folder) through the media proxy, for a "
        "quick look (stdlib server; Ctrl-C or SIGTERM stops it).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    serve.add_argument(
        "--port", type=_args.port, default=8000, help="default 8000; 0 picks a free port"
    )


def _not_found(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    """The app under the proxy: everything outside the proxy path is a 404."""
    body = b"Not Found: media is served under the proxy path\n"
    start_response(
        "404 Not Found",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _cmd_serve(context: Context, args: argparse.Namespace) -> int:
    """Run the media proxy on its own, with the stdlib's WSGI server, until Ctrl-C or SIGTERM."""
    import socket
    import socketserver
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

    from ..wsgi import R2ProxyMiddleware

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
        out(f"Serving {context.place} at http://{shown}:{port}{config.proxy_path}<key>")
        if host not in LOOPBACK:
            what = "the bucket" if context.use_r2 else "the folder"
            err(f"warning: listening on {host}: anyone who can reach it can read {what}")
        if config.proxy_signing_key:
            err("note: R2_PROXY_SIGNING_KEY is set, so URLs must be signed: see `r2store url`")
        out("Press Ctrl-C to stop.")
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
        out("Stopped.")
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
