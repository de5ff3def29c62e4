"""A local S3-compatible endpoint for trying r2store without an R2 account.

Starts moto's S3 server (``pip install 'r2store[local]'``) on loopback and
gives back the ``R2_*`` variables that point r2store at it. For examples and
demos: everything it stores lives in memory and is gone when it stops.

Like R2, and unlike moto's server by default, it answers a browser's CORS preflight only
as the bucket's CORS rules allow (see :mod:`r2store.buckets`).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress

__all__ = ["local_s3"]


@contextmanager
def local_s3(bucket: str = "media", *, port: int = 0) -> Iterator[dict[str, str]]:
    """Run a local S3 server with *bucket* in it; yield the ``R2_*`` variables for it.

    It behaves as R2 does for CORS: a page on another origin can upload to the bucket (a
    presigned PUT) only once the bucket has a CORS rule for that origin, as set by
    :func:`r2store.buckets.set_cors` or ``r2store cors set --origin``. Without one the
    browser's preflight gets no ``Access-Control-*`` headers and the upload fails.

    moto decides that when it is first imported, from ``MOTO_DISABLE_GLOBAL_CORS``: this
    sets that variable in ``os.environ`` (so processes started later inherit it), and
    raises :class:`RuntimeError` if moto was already imported without it.
    """
    # Without it moto answers every origin's preflight, whatever the bucket's rules.
    os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "true"
    try:
        from moto import settings as moto_settings
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise ImportError(
            "the local S3 endpoint needs moto: pip install 'r2store[local]'"
        ) from None
    import boto3

    if not moto_settings.DISABLE_GLOBAL_CORS:
        raise RuntimeError(
            "moto was imported before local_s3() could make it check CORS rules as R2 "
            "does: set MOTO_DISABLE_GLOBAL_CORS=true before anything imports moto"
        )

    if not port:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    # The server logs every request through werkzeug: noise in a demo's console.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    environ = {
        "USE_R2": "true",
        "R2_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "R2_BUCKET_NAME": bucket,
        "R2_ACCESS_KEY_ID": "local-access-key",
        "R2_SECRET_ACCESS_KEY": os.urandom(16).hex(),
    }
    try:
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=environ["R2_ENDPOINT_URL"],
            region_name="auto",
            aws_access_key_id=environ["R2_ACCESS_KEY_ID"],
            aws_secret_access_key=environ["R2_SECRET_ACCESS_KEY"],
        )
        # moto's servers in one process share their data: a second endpoint
        # started here already has the bucket.
        with suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "auto"}
            )
        client.close()
        yield environ
    finally:
        server.stop()
