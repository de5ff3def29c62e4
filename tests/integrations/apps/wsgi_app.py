"""Every WSGI variant of the proxy in one app, for gunicorn.

- ``/media-proxy/``: :class:`~r2store.wsgi.R2ProxyMiddleware` around a tiny app
- ``/app-proxy/``: :class:`~r2store.wsgi.R2ProxyApp`, mounted by the tiny app
- ``/local-proxy/``, ``/local-app-proxy/``: the same two over a LocalStore
- ``/local-upload-proxy/``: a signed LocalStore, whose signed PUTs upload
- ``/svg-proxy/``, ``/signed-proxy/``, ``/authz-proxy/``, ``/closed-proxy/``,
  ``/stalled-proxy/``, ``/fake-proxy/``: more middlewares, one per variant
- ``/bare-proxy/``: a middleware given its prefix without the final slash
- ``/redirect-proxy/``, ``/redirect-authz-proxy/``, ``/redirect-signed-proxy/``,
  ``/per-key-proxy/``: redirect delivery, alone, with authorize, with signed URLs, by key
- anything else: the tiny app, which says what it saw
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from r2store.wsgi import R2ProxyApp, R2ProxyMiddleware
from tests.integrations.apps import common

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# Mount point -> the proxy app mounted there.
_APPS = {
    "/app-proxy": R2ProxyApp(common.main, cache_control=common.CACHE_CONTROL),
    "/local-app-proxy": R2ProxyApp(common.local, cache_control=common.CACHE_CONTROL),
}


def tiny_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Mount the proxy apps at ``/app-proxy`` and ``/local-app-proxy``; answer anything else
    with what it saw."""
    path: str = environ.get("PATH_INFO", "")
    for mount, proxy_app in _APPS.items():
        if path.startswith(mount + "/"):
            mounted = dict(environ)
            mounted["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + mount
            mounted["PATH_INFO"] = path[len(mount) :]
            return proxy_app(mounted, start_response)
    text = f"app saw {environ['REQUEST_METHOD']} {path} ?{environ.get('QUERY_STRING', '')}"
    body = text.encode("latin-1")
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/plain; charset=latin-1"),
            ("Content-Length", str(len(body))),
            ("X-Served-By", "tiny-app"),
        ],
    )
    return [body]


def authorize(request: Any, key: str) -> bool:
    """Allow by the request's headers, read from the WSGI environ it must be."""
    if not (isinstance(request, dict) and "wsgi.version" in request):
        return False
    headers = {"x-test-allow": request.get("HTTP_X_TEST_ALLOW", "")}
    return common.allowed_by_header(headers, key)


def _build() -> WSGIApplication:
    app: WSGIApplication = tiny_app
    variants: list[tuple[Any, str, dict[str, Any]]] = [
        (common.main, "/svg-proxy/", {"allow_types": {"image/svg+xml"}}),
        (common.signed, "/signed-proxy/", {}),
        (common.main, "/authz-proxy/", {"authorize": authorize}),
        (common.closed, "/closed-proxy/", {}),
        (common.stalled, "/stalled-proxy/", {}),
        (common.fake, "/fake-proxy/", {"chunk_size": common.FAKE_CHUNK_SIZE}),
        (common.local, "/local-proxy/", {}),
        (common.local_uploads, "/local-upload-proxy/", {}),
        (common.main, "/redirect-proxy/", {"delivery": "redirect"}),
        (common.main, "/redirect-authz-proxy/", {"delivery": "redirect", "authorize": authorize}),
        (common.signed, "/redirect-signed-proxy/", {"delivery": "redirect"}),
        (common.main, "/per-key-proxy/", {"delivery": common.delivery_by_key}),
        (common.main, "/media-proxy/", {}),
        (common.main, "/bare-proxy", {}),  # no final slash: it means "/bare-proxy/"
    ]
    for store, prefix, options in variants:
        options.setdefault("cache_control", common.CACHE_CONTROL)
        app = R2ProxyMiddleware(app, store, prefix=prefix, **options)
    return app


app = _build()
