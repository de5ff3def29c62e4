"""Clients and servers shared by the peer benchmarks (``bench_peers_*.py``).

* :func:`seaweedfs` runs SeaweedFS (tests/seaweedfs.py), an S3 server that checks SigV4
  signatures and keeps up with the clients' writes (moto does not: its write path is the
  bottleneck), in its own process group, killed on the way out.
* :func:`r2store_store`, :func:`boto3_client` and :func:`obstore_store` are the three
  clients as their users set them up for an R2-like endpoint over plain HTTP, path style.
* :func:`timed` measures wall and client CPU of a call: ``time.process_time`` in this
  process counts every thread's CPU (obstore's Rust runtime and s3transfer's pool are
  threads here too), and no server's (each runs in a process of its own).
* :func:`row` builds one result object in ``run.py``'s shape.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Run from a checkout without installing: the repository root first on the path, for
# r2store and for tests/seaweedfs.py.
sys.path.insert(0, str(ROOT))

# Imported after the path is set. tests.conftest also clears AWS_* and R2_* from this
# process's environment, so no setting of the machine leaks into a client.
from tests.conftest import ACCESS_KEY_ID, SECRET_ACCESS_KEY  # noqa: E402
from tests.seaweedfs import seaweedfs_server  # noqa: E402

__all__ = [
    "ACCESS_KEY_ID",
    "REGION",
    "SECRET_ACCESS_KEY",
    "KiB",
    "MiB",
    "Timing",
    "boto3_client",
    "make_bucket",
    "median",
    "obstore_store",
    "r2store_store",
    "row",
    "seaweedfs",
    "timed",
]

KiB = 1024
MiB = 1024 * KiB
REGION = "auto"


@contextmanager
def seaweedfs(directory: Path) -> Iterator[str]:
    """SeaweedFS on loopback with its data in *directory*; yields its S3 endpoint."""
    with seaweedfs_server(directory) as endpoint:
        yield endpoint


def boto3_client(endpoint: str, **options: Any) -> Any:
    """A boto3 S3 client as an R2 user sets it up: path style, and checksums only when
    required (boto3 >= 1.36's default checksums break some R2 operations; see FACTS)."""
    import boto3
    import botocore.config

    config = botocore.config.Config(
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        **options,
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=config,
    )


def make_bucket(endpoint: str, name: str) -> None:
    """Create an empty bucket."""
    client = boto3_client(endpoint)
    try:
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    finally:
        client.close()


def obstore_store(endpoint: str, bucket: str) -> Any:
    """obstore's S3 store on *endpoint* (path style is its default with an endpoint).

    Its defaults sign the payload: a PUT carries the body's SHA-256 in
    ``x-amz-content-sha256``, as r2store's and botocore's do (checked by
    ``bench_peers_writes.py``'s header probe).
    """
    from obstore.store import S3Store

    return S3Store(
        bucket,
        endpoint=endpoint,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        region=REGION,
        client_options={"allow_http": True},
    )


def r2store_store(endpoint: str, bucket: str, **settings: Any) -> Any:
    """An :class:`r2store.R2Store` on *endpoint*; *settings* override :class:`R2Config`'s."""
    from r2store import R2Config, R2Store

    return R2Store(
        R2Config(
            bucket=bucket,
            endpoint_url=endpoint,
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=SECRET_ACCESS_KEY,
            region=REGION,
            **settings,
        )
    )


class Timing:
    """Wall and client CPU seconds of one timed call."""

    __slots__ = ("cpu", "wall")

    def __init__(self, wall: float, cpu: float) -> None:
        self.wall = wall
        self.cpu = cpu


def timed(call: Callable[[], object]) -> Timing:
    """Run *call* once; its wall time and the CPU time this process (all threads) used."""
    cpu = time.process_time()
    start = time.perf_counter()
    call()
    wall = time.perf_counter() - start
    return Timing(wall, time.process_time() - cpu)


def median(values: list[float]) -> float:
    return statistics.median(values)


def row(
    name: str,
    label: str,
    value: float,
    unit: str,
    *,
    anchor: float | None = None,
    anchor_label: str | None = None,
    ratio: float | None = None,
    target: str | None = None,
    passed: bool | None = None,
) -> dict[str, Any]:
    """One result object (see ``run.py``); a context row when *passed* is None."""
    return {
        "name": name,
        "label": label,
        "value": round(value, 3),
        "unit": unit,
        "anchor": None if anchor is None else round(anchor, 3),
        "anchor_label": anchor_label,
        "ratio": None if ratio is None else round(ratio, 2),
        "target": target,
        "passed": passed,
    }
