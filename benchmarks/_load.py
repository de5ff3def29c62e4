"""What the load benchmarks share: small objects behind an upstream, the proxy under
gunicorn or uvicorn, and clients that fetch the small objects.

* :data:`OBJECTS` are thumbnail-sized objects (2 to 60 KB) in :data:`BUCKET`;
  :func:`upstream` serves them, and any larger ones a benchmark adds, from nginx (over
  files) or moto.
* :func:`proxy_server` runs ``R2ProxyApp`` under gunicorn (gthread, one thread per pooled
  connection) or uvicorn, configured by ``R2_*`` variables.
* :func:`fetch_small` runs concurrent clients fetching random small objects for a time.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from _upstream import Upstream, free_port, moto_upstream, nginx_upstream, only_child, running

__all__ = ["BUCKET", "OBJECTS", "POOL", "fetch_small", "proxy_server", "upstream"]

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "load"
# Thumbnail-sized objects, 2 to 60 KB.
OBJECTS = {f"thumbs/{i:03d}.jpg": os.urandom(2_000 + i * 1_450) for i in range(40)}
#: The proxy's connection pool to the upstream (``R2_MAX_POOL_CONNECTIONS``), and
#: gunicorn's threads.
POOL = 32

_APP = """\
from r2store import R2Store
from r2store.{kind} import R2ProxyApp
app = R2ProxyApp(R2Store.from_env())
"""


@contextmanager
def upstream(kind: str, workdir: Path, extra: Mapping[str, bytes]) -> Iterator[Upstream]:
    """The S3 endpoint holding OBJECTS and *extra*: nginx over files, or moto."""
    objects = {**OBJECTS, **extra}
    if kind == "moto":
        with moto_upstream(workdir) as endpoint:
            _seed_moto(endpoint.url, objects)
            yield endpoint
        return
    root = workdir / "root"
    for key, body in objects.items():
        path = root / BUCKET / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    # nginx's workers run unprivileged: everything on the way must be world-readable.
    for path in [workdir, *root.rglob("*"), root]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    with nginx_upstream(root, workdir) as endpoint:
        yield endpoint


def _seed_moto(endpoint: str, objects: Mapping[str, bytes]) -> None:
    import boto3

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="auto",
        aws_access_key_id="load",
        aws_secret_access_key="load-secret-value",
    )
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "auto"})
    for key, body in objects.items():
        content_type = "image/jpeg" if key in OBJECTS else "application/octet-stream"
        client.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType=content_type)
    client.close()


@contextmanager
def proxy_server(
    kind: str, endpoint: str, workdir: Path, *, pool: int = POOL, app: str = _APP
) -> Iterator[tuple[str, int, Path]]:
    """gunicorn (``kind`` "wsgi") or uvicorn ("asgi") serving R2ProxyApp (or the module
    *app*, formatted with ``kind``, that defines ``app``) with a pool of *pool* connections
    (and as many gunicorn threads); yields base URL, serving pid and log path."""
    (workdir / f"{kind}_app.py").write_text(app.format(kind=kind), encoding="utf-8")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{workdir}",
        "R2_ENDPOINT_URL": endpoint,
        "R2_BUCKET_NAME": BUCKET,
        "R2_ACCESS_KEY_ID": "load",
        "R2_SECRET_ACCESS_KEY": "load-secret-value",
        "R2_MAX_POOL_CONNECTIONS": str(pool),
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }
    if kind == "wsgi":
        argv = [
            sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1",
            "-k", "gthread", "--threads", str(pool), "--backlog", "256", "wsgi_app:app",
        ]  # fmt: skip
    else:
        argv = [
            sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port),
            "--no-access-log", "--loop", "asyncio", "--backlog", "256", "asgi_app:app",
        ]  # fmt: skip
    log = workdir / f"{kind}.log"
    with running(argv, port=port, log=log, env=env, cwd=workdir) as proc:
        pid = only_child(proc.pid) if kind == "wsgi" else proc.pid
        yield f"http://127.0.0.1:{port}", pid, log


async def fetch_small(base: str, clients: int, seconds: float) -> dict[str, Any]:
    """*clients* loops fetching random objects of OBJECTS under *base* until the time is up:
    their latencies (seconds) and errors (any answer but a 200 with the object's bytes)."""
    keys = list(OBJECTS)
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker(seed: int) -> None:
            rng = random.Random(seed)  # noqa: S311 -- picks keys, guards nothing
            while time.monotonic() < deadline:
                key = rng.choice(keys)
                started = time.perf_counter()
                try:
                    response = await client.get(f"/{key}")
                except httpx.HTTPError as exc:
                    errors.append(f"{key}: {type(exc).__name__}")
                    continue
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200 or response.content != OBJECTS[key]:
                    errors.append(f"{key}: {response.status_code}, {len(response.content)} bytes")

        await asyncio.gather(*(worker(i) for i in range(clients)))
    return {"latencies": latencies, "errors": errors}
