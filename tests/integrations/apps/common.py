"""The stores and hooks both test apps serve, configured from environment variables.

The integration fixtures set ``R2_*`` for the test bucket (``R2_LOCATION=media``)
and the ``R2STORE_TEST_*`` variables read here.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import attrs
from botocore.config import Config

from r2store import LocalConfig, LocalStore, R2Config, R2Store
from tests.integrations.helpers import CACHE_CONTROL, FAKE_CHUNK_SIZE

__all__ = [
    "CACHE_CONTROL",
    "FAKE_CHUNK_SIZE",
    "allowed_by_header",
    "closed",
    "delivery_by_key",
    "fake",
    "local",
    "local_uploads",
    "main",
    "signed",
    "stalled",
]

# One attempt: the failure tests want the proxy's answer, not botocore's retries.
_ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})

_config = R2Config.from_env(dict(os.environ))

#: The test bucket, keys under ``media/``.
main = R2Store(_config)
#: The same bucket behind signed proxy URLs at ``/signed-proxy/``.
signed = R2Store(
    attrs.evolve(
        _config,
        proxy_signing_key=os.environ["R2STORE_TEST_SIGNING_KEY"],
        proxy_path="/signed-proxy/",
    )
)
#: An endpoint nothing listens on.
closed = R2Store(
    attrs.evolve(
        _config,
        endpoint_url=os.environ["R2STORE_TEST_CLOSED_ENDPOINT"],
        connect_timeout=2.0,
        client_config=_ONE_ATTEMPT,
    )
)
#: An endpoint that accepts connections and never answers.
stalled = R2Store(
    attrs.evolve(
        _config,
        endpoint_url=os.environ["R2STORE_TEST_STALLED_ENDPOINT"],
        read_timeout=0.5,
        client_config=_ONE_ATTEMPT,
    )
)
#: The same objects in a folder, keys under ``media/``.
local = LocalStore(
    LocalConfig(root=os.environ["R2STORE_TEST_LOCAL_ROOT"], location=_config.location)
)
#: The same folder behind signed URLs at ``/local-upload-proxy/``, whose PUTs upload.
local_uploads = LocalStore(
    attrs.evolve(
        local.config,
        proxy_signing_key=os.environ["R2STORE_TEST_SIGNING_KEY"],
        proxy_path="/local-upload-proxy/",
    )
)
#: The misbehaving fake S3 (see ``tests/integrations/upstreams.py``).
fake = R2Store(
    attrs.evolve(
        _config,
        endpoint_url=os.environ["R2STORE_TEST_FAKE_ENDPOINT"],
        read_timeout=10.0,
        client_config=_ONE_ATTEMPT,
    )
)


def _log_operations(store: R2Store, path: str) -> None:
    """Append ``METHOD /bucket/key`` to *path* for every HTTP request the store sends.

    Reads and PutObject/UploadPart go through the store's own transport, the other
    writes through botocore: both report each attempt just before it goes on the
    wire, so the file counts what the S3 server receives.
    """
    lock = threading.Lock()
    log_path = Path(path)

    def write(method: str, url: str) -> None:
        with lock, log_path.open("a", encoding="utf-8") as log:
            log.write(f"{method} {urlsplit(url).path}\n")

    store.request_hooks.append(write)
    store.client.meta.events.register(
        "before-send.s3", lambda request, **_: write(request.method, request.url)
    )


_log_operations(main, os.environ["R2STORE_TEST_OPERATION_LOG"])


def allowed_by_header(headers: dict[str, str], key: str) -> bool:
    """The authorize hooks' rule: ``X-Test-Allow: yes`` and a key outside ``private/``."""
    return headers.get("x-test-allow") == "yes" and not key.startswith("private/")


def delivery_by_key(request: object, key: str) -> str:
    """The per-key proxies' rule: redirect ``.bin`` objects (the big ones), proxy the rest."""
    return "redirect" if key.endswith(".bin") else "proxy"
