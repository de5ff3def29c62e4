"""Timed HTTP reads of a large object, shared by the streaming benchmarks.

* :func:`http_read` reads a whole body with urllib3, timing the first byte, the first MiB and
  the whole; :class:`Read` is what it measured, :func:`best_mb_s`, :func:`median_mb_s` and
  :func:`median_ttfb_ms` sum a run's reads up.
* :func:`make_object` writes the random object to read and gives its digest.
* :func:`gunicorn_argv` is the one gunicorn command line the WSGI rows run under, so rows
  of different benchmarks (and their anchors) get the same worker class and settings.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3

__all__ = [
    "CHUNK",
    "MiB",
    "Read",
    "best_mb_s",
    "gunicorn_argv",
    "http_read",
    "make_object",
    "median_mb_s",
    "median_ttfb_ms",
]

MiB = 1024 * 1024
#: What the client asks the socket for per read: the loop boto3's ``iter_chunks(1 MiB)`` runs.
CHUNK = MiB


@dataclass(frozen=True)
class Read:
    """One full read of the object, timed from the request."""

    first_byte_s: float
    first_chunk_s: float
    total_s: float
    size: int

    @property
    def mb_s(self) -> float:
        return self.size / self.total_s / 1e6


def best_mb_s(reads: list[Read]) -> float:
    return max(r.mb_s for r in reads)


def median_mb_s(reads: list[Read]) -> float:
    return statistics.median(r.mb_s for r in reads)


def median_ttfb_ms(reads: list[Read]) -> float:
    return statistics.median(r.first_byte_s for r in reads) * 1e3


def http_read(pool: urllib3.HTTPConnectionPool, path: str, size: int, digest: Any = None) -> Read:
    """A streaming GET with urllib3: the first byte alone, then ``read(1 MiB)`` to the end.

    Stops the benchmark (``SystemExit``) unless the answer is a 200 of exactly *size* bytes;
    *digest*, when given, is updated with the body.
    """
    update: Callable[[bytes], object] = digest.update if digest is not None else len
    start = time.perf_counter()
    response = pool.request("GET", path, preload_content=False, decode_content=False)
    if response.status != 200:
        raise SystemExit(f"GET {path} answered {response.status}")
    chunk = response.read(1)
    first_byte = time.perf_counter() - start
    update(chunk)
    received = len(chunk)
    chunk = response.read(CHUNK - 1)
    first_chunk = time.perf_counter() - start
    update(chunk)
    received += len(chunk)
    while chunk := response.read(CHUNK):
        update(chunk)
        received += len(chunk)
    total = time.perf_counter() - start
    response.release_conn()
    if received != size:
        raise SystemExit(f"GET {path} got {received} bytes of {size}")
    return Read(first_byte, first_chunk, total, received)


def make_object(path: Path, size: int) -> str:
    """Write *size* random bytes to *path* (world-readable); return their BLAKE2b digest."""
    digest = hashlib.blake2b()
    with path.open("wb") as out:
        for _ in range(size // MiB):
            block = os.urandom(MiB)
            digest.update(block)
            out.write(block)
    path.chmod(0o644)
    return digest.hexdigest()


def gunicorn_argv(port: int, app_dir: Path, app: str) -> list[str]:
    """gunicorn serving ``<app>:app`` from *app_dir* on 127.0.0.1:*port*: one gthread worker
    with 4 threads (sendfile on, gunicorn's default)."""
    return [
        *(sys.executable, "-m", "gunicorn", "-w", "1", "-k", "gthread"),
        *("--threads", "4", "--keep-alive", "30", "--no-control-socket"),
        *("--log-level", "warning", "--chdir", str(app_dir)),
        *("-b", f"127.0.0.1:{port}", f"{app}:app"),
    ]
