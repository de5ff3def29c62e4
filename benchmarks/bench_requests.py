"""How many HTTP requests does each r2store operation make?

Requests are counted against a real local S3 server (moto's server mode on 127.0.0.1): those
botocore sends by a ``before-send.s3`` handler on the client's event system, those of
r2store's own transport (reads, PutObject, UploadPart) by a hook in ``R2Store.request_hooks``.
Both fire once per HTTP attempt, retries included. The targets are exact counts:

* ``save(key, data)`` (``overwrite=False``, an atomic create): 1 request
* the same ``save`` onto an existing key: 1 request, refused with ``ObjectExistsError``
* ``open(key).read()``: 1 request
* ``url(key)`` in proxy, public and presigned mode: 0 requests

When django-storages and Django are installed, the same operations on
``S3Storage(file_overwrite=False)`` are counted against the same server for context (no
target); the anchor column of those rows is r2store's count for the same operation.

Run: ``python benchmarks/bench_requests.py [--json PATH]``
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

# Run from a checkout without installing: put the repository root first on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import attrs

from r2store import ObjectExistsError, R2Config, R2Store

ROOT = Path(__file__).resolve().parents[1]
ACCESS_KEY_ID = "bench-access-key-id"
SECRET_ACCESS_KEY = "bench-secret-0123456789abcdef0123456789abcdef"
BUCKET = "bench-requests"
KEY = "profile_images/abc123.jpg"
DATA = b"\xff\xd8\xff\xe0 not really a JPEG " * 64


#: What the django-storages rows did, by row name.
PEER_LABELS = {
    "save[create]": "save(name, ContentFile(data)), new name",
    "save[exists]": "save(name, ContentFile(data)), existing name (saved under another name)",
    "open_read": "open(name).read()",
    "url[public]": "url(name), custom domain",
    "url[presigned]": "url(name), presigned",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Counter:
    """Counts the HTTP requests sent, by operation: a botocore client's, and with
    *store* those of that store's own transport too."""

    def __init__(self, events: Any, store: R2Store | None = None) -> None:
        self.sent: list[str] = []
        events.register("before-send.s3", self._before_send)
        if store is not None:
            store.request_hooks.append(self._transported)

    def _before_send(self, event_name: str, **kwargs: Any) -> None:
        # Returning None lets botocore send the request as usual.
        self.sent.append(event_name.rsplit(".", 1)[-1])

    def _transported(self, method: str, url: str) -> None:
        if method == "HEAD":
            self.sent.append("HeadObject")
        elif method == "PUT":
            self.sent.append("UploadPart" if "partNumber=" in url else "PutObject")
        else:
            self.sent.append("ListObjectsV2" if "list-type=2" in url else "GetObject")

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        """Yield a list that ends up holding the operations sent inside the block."""
        sent: list[str] = []
        start = len(self.sent)
        try:
            yield sent
        finally:
            sent.extend(self.sent[start:])


def _count(counter: Counter, operation: Callable[[], object]) -> list[str]:
    with counter.counting() as sent:
        operation()
    return sent


def _expect_exists_error(operation: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            operation()
        except ObjectExistsError:
            return
        raise SystemExit("requests: save(overwrite=False) onto an existing key was not refused")

    return run


def _read_all(store: R2Store, key: str) -> None:
    with store.open(key) as reader:
        if reader.read() != DATA:
            raise SystemExit("requests: open().read() returned other bytes than were saved")


def _r2store_counts(endpoint: str) -> dict[str, list[str]]:
    """The operations each r2store call sent, by row name."""
    config = R2Config(
        endpoint_url=endpoint,
        bucket=BUCKET,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        media_proxy=True,
    )
    store = R2Store(config)
    store.client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": config.region}
    )
    stores = {
        "proxy": store,
        "public": R2Store(
            attrs.evolve(config, media_proxy=False, public_url="https://media.example.com")
        ),
        "presigned": R2Store(attrs.evolve(config, media_proxy=False)),
    }
    # Each store has its own client; count on each, so that a request any of them made
    # would show up.
    counters = {mode: Counter(s.client.meta.events, s) for mode, s in stores.items()}
    counter = counters["proxy"]
    sent = {
        "save[create]": _count(counter, lambda: store.save(KEY, DATA, overwrite=False)),
        "save[exists]": _count(
            counter, _expect_exists_error(lambda: store.save(KEY, DATA, overwrite=False))
        ),
        "open_read": _count(counter, lambda: _read_all(store, KEY)),
    }
    for mode, s in stores.items():
        if s.config.url_mode != mode:
            raise SystemExit(f"requests: the {mode} store's url_mode is {s.config.url_mode}")
        sent[f"url[{mode}]"] = _count(counters[mode], partial(s.url, KEY))
    for s in stores.values():
        s.close()
    return sent


def _django_storages_counts(endpoint: str) -> dict[str, list[str]] | None:
    """The operations each django-storages call sent, by row name, or None if not installed."""
    if not all(importlib.util.find_spec(name) for name in ("storages", "django")):
        return None
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    settings = importlib.import_module("django.conf").settings
    if not settings.configured:
        settings.configure(USE_TZ=True)
    content_file = importlib.import_module("django.core.files.base").ContentFile
    s3 = importlib.import_module("storages.backends.s3")
    common = {
        "bucket_name": BUCKET,
        "access_key": ACCESS_KEY_ID,
        "secret_key": SECRET_ACCESS_KEY,
        "endpoint_url": endpoint,
        "region_name": "auto",
        "signature_version": "s3v4",
        "addressing_style": "path",
        "file_overwrite": False,
    }
    signed = s3.S3Storage(**common)
    custom = s3.S3Storage(custom_domain="media.example.com", **common)
    name = f"django/{KEY}"
    counter = Counter(signed.connection.meta.client.meta.events)
    custom_counter = Counter(custom.connection.meta.client.meta.events)
    saved: list[str] = []

    def save() -> None:
        saved.append(signed.save(name, content_file(DATA)))

    def read() -> None:
        with signed.open(name, "rb") as file:
            if file.read() != DATA:
                raise SystemExit("requests: django-storages read other bytes than were saved")

    sent = {
        "save[create]": _count(counter, save),
        # file_overwrite=False does not refuse: it looks for a free name and saves there.
        "save[exists]": _count(counter, save),
        "open_read": _count(counter, read),
        "url[public]": _count(custom_counter, lambda: custom.url(name)),
        "url[presigned]": _count(counter, lambda: signed.url(name)),
    }
    if saved[0] == saved[1]:
        raise SystemExit("requests: django-storages saved twice under one name")
    for storage in (signed, custom):
        storage.connection.meta.client.close()
    return sent


def main(argv: list[str] | None = None) -> int:
    """Count requests per operation, print the table and the verdict; optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)

    # The machine's AWS settings must not reach the clients; set before any client exists.
    os.environ["AWS_CONFIG_FILE"] = str(ROOT / "benchmarks" / "no-such-aws-config")
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(ROOT / "benchmarks" / "no-such-aws-credentials")
    from moto.server import ThreadedMotoServer

    # The server's access log would bury the table.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        ours = _r2store_counts(endpoint)
        theirs = _django_storages_counts(endpoint)
    finally:
        server.stop()

    expected = {
        "save[create]": 1,
        "save[exists]": 1,
        "open_read": 1,
        "url[proxy]": 0,
        "url[public]": 0,
        "url[presigned]": 0,
    }
    labels = {
        "save[create]": "save(key, data), overwrite=False, new key",
        "save[exists]": "save(key, data), overwrite=False, existing key",
        "open_read": "open(key).read()",
        "url[proxy]": "url(key), proxy mode",
        "url[public]": "url(key), public mode",
        "url[presigned]": "url(key), presigned mode",
    }
    results: list[dict[str, Any]] = []
    for row, want in expected.items():
        got = len(ours[row])
        results.append(
            {
                "name": f"requests.{row}",
                "label": f"R2Store.{labels[row]}",
                "value": got,
                "unit": "requests",
                "anchor": want,
                "anchor_label": "expected",
                "ratio": got,
                "target": f"== {want}",
                "passed": got == want,
                "operations": ours[row],
            }
        )
    for row, sent in (theirs or {}).items():
        results.append(
            {
                "name": f"requests.django-storages.{row}",
                "label": f"django-storages S3Storage(file_overwrite=False).{PEER_LABELS[row]}",
                "value": len(sent),
                "unit": "requests",
                "anchor": len(ours[row]),
                "anchor_label": "r2store, same operation",
                "ratio": len(sent),
                "target": None,
                "passed": None,
                "operations": sent,
            }
        )

    passed = all(r["passed"] for r in results if r["passed"] is not None)
    print("requests: HTTP requests per operation, counted against moto's S3 server")
    print(f"  {'row':42} {'count':>5}  {'target':10} {'':6} requests sent")
    for r in results:
        status = "" if r["passed"] is None else ("ok" if r["passed"] else "MISSED")
        target = r["target"] or "(context)"
        operations = ", ".join(r["operations"]) or "-"
        print(
            f"  {r['name'].removeprefix('requests.'):42} {r['value']:5d}  {target:10} "
            f"{status:6} {operations}"
        )
    print(f"requests: {'PASS' if passed else 'FAIL'}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
